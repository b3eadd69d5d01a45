/**
 * Stands in for a registry with the OCI 1.1 referrers API, which distribution 2.8 lacks: a proxy
 * in front of the real registry that passes every request through, notes the subject of each
 * manifest PUT through it (answering OCI-Subject, as such a registry does), and serves
 * `GET /v2/<repo>/referrers/<digest>` as an index built from the registry's own copies of those
 * manifests (each fetched from it when asked). Storage and everything else is the real registry's.
 */
import { type IncomingMessage, type ServerResponse, request } from 'node:http';
import { fetch } from 'undici';
import { serveOnLoopback } from './loopback-http.ts';
import { sha256 } from './images.ts';

export interface ReferrersProxy {
  host: string;
  url: string;
  /** Referrers API requests served (GETs of /v2/<repo>/referrers/<digest>). */
  served: string[];
  stop(): Promise<void>;
}

export async function startReferrersProxy(upstream: string): Promise<ReferrersProxy> {
  const target = new URL(upstream);
  /** `<repo>@<subject>` → digests of manifests naming it. */
  const subjects = new Map<string, Set<string>>();
  const served: string[] = [];

  const referrers = async (repo: string, subject: string, res: ServerResponse) => {
    served.push(`${repo}@${subject}`);
    const manifests = [];
    for (const digest of subjects.get(`${repo}@${subject}`) ?? []) {
      const got = await fetch(`${upstream}/v2/${repo}/manifests/${digest}`, { headers: { accept: 'application/vnd.oci.image.manifest.v1+json' } });
      const bytes = Buffer.from(await got.arrayBuffer());
      if (got.status !== 200 || sha256(bytes) !== digest) continue;
      const m = JSON.parse(bytes.toString()) as { mediaType: string; artifactType?: string; config: { mediaType: string }; annotations?: Record<string, string> };
      manifests.push({ mediaType: m.mediaType, digest, size: bytes.length, artifactType: m.artifactType ?? m.config.mediaType, ...(m.annotations ? { annotations: m.annotations } : {}) });
    }
    res.writeHead(200, { 'content-type': 'application/vnd.oci.image.index.v1+json' });
    res.end(JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.index.v1+json', manifests }));
  };

  const forward = (req: IncomingMessage, res: ServerResponse, body: Buffer | undefined, subject: string | undefined) => {
    const up = request({ host: target.hostname, port: target.port, method: req.method, path: req.url, headers: req.headers }, (answer) => {
      const headers = { ...answer.headers };
      if (subject && answer.statusCode === 201) headers['oci-subject'] = subject;
      res.writeHead(answer.statusCode ?? 502, headers);
      answer.pipe(res);
    });
    up.on('error', () => res.destroy());
    if (body) up.end(body);
    else req.pipe(up);
  };

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const url = req.url ?? '/';
    const api = /^\/v2\/(.+)\/referrers\/(sha256:[a-f0-9]{64})(\?.*)?$/.exec(url);
    if (req.method === 'GET' && api) return referrers(api[1] as string, api[2] as string, res);
    const put = /^\/v2\/(.+)\/manifests\/([^/?]+)$/.exec(url);
    if (req.method !== 'PUT' || !put) return forward(req, res, undefined, undefined);
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const body = Buffer.concat(chunks);
    let subject: string | undefined;
    try {
      subject = (JSON.parse(body.toString()) as { subject?: { digest?: string } }).subject?.digest;
    } catch {
      subject = undefined;
    }
    if (subject) {
      const key = `${put[1]}@${subject}`;
      subjects.set(key, (subjects.get(key) ?? new Set()).add(sha256(body)));
    }
    forward(req, res, body, subject);
  };

  const server = await serveOnLoopback(handle);
  return {
    ...server,
    served,
  };
}
