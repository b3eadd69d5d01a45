/** Certificates for the test registries, made with the openssl CLI: a CA and leaf certificates. */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

function openssl(args: string[], cwd: string) {
  execFileSync('openssl', args, { cwd, stdio: ['ignore', 'ignore', 'pipe'] });
}

export interface CertSet {
  dir: string;
  caCert: string;
  cert: string;
  key: string;
}

/**
 * A CA and a server certificate for 127.0.0.1 / localhost (and `dnsNames`, e.g. this machine's
 * host name) signed by it (EC P-256, one day).
 */
export function makeServerCerts(dnsNames: string[] = []): CertSet {
  const dir = mkdtempSync(join(tmpdir(), 'certs-'));
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'];
  openssl(['req', '-x509', ...ec, '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '2', '-subj', '/CN=multiarch test CA'], dir);
  openssl(['req', ...ec, '-keyout', 'server.key', '-out', 'server.csr', '-subj', '/CN=127.0.0.1'], dir);
  writeFileSync(join(dir, 'ext.cnf'), `subjectAltName=IP:127.0.0.1,DNS:localhost${dnsNames.map((n) => `,DNS:${n}`).join('')}\nextendedKeyUsage=serverAuth\n`);
  openssl(['x509', '-req', '-in', 'server.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'server.pem', '-days', '2', '-extfile', 'ext.cnf'], dir);
  return { dir, caCert: join(dir, 'ca.pem'), cert: join(dir, 'server.pem'), key: join(dir, 'server.key') };
}

/** A self-signed signing certificate and key (the token issuer's). */
export function makeSigningCert(): { dir: string; cert: string; key: string; certDerBase64: string } {
  const dir = mkdtempSync(join(tmpdir(), 'signing-'));
  openssl(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', 'key.pem', '-out', 'cert.pem', '-days', '2', '-subj', '/CN=test token issuer'], dir);
  const pem = readFileSync(join(dir, 'cert.pem'), 'utf8');
  const certDerBase64 = pem.replace(/-----(BEGIN|END) CERTIFICATE-----|\s/g, '');
  return { dir, cert: join(dir, 'cert.pem'), key: join(dir, 'key.pem'), certDerBase64 };
}
