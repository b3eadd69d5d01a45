/**
 * A name for this machine that resolves to a loopback address but is not one the action treats as
 * loopback (those are tried over plain HTTP first): with it, a registry on 127.0.0.1 is reached
 * the way a remote one is, over HTTPS only. The machine's host name, when /etc/hosts maps it to
 * loopback (as Debian and most containers do); undefined otherwise.
 */
import { lookup } from 'node:dns/promises';
import { hostname } from 'node:os';

export interface LocalName {
  name: string;
  /** The loopback address it resolves to (listen there). */
  address: string;
}

export async function localName(): Promise<LocalName | undefined> {
  const name = hostname().toLowerCase();
  if (!/^[a-z0-9][a-z0-9.-]*$/.test(name) || name === 'localhost' || /^[\d.]+$/.test(name)) return undefined;
  try {
    const { address } = await lookup(name, { family: 4 });
    return /^127\./.test(address) ? { name, address } : undefined;
  } catch {
    return undefined;
  }
}
