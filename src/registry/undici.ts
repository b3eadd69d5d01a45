/**
 * The parts of undici the transport uses, each imported from its own file: undici's index also
 * loads fetch, WebSocket, EventSource, the HTTP cache, the mocks and the interceptors, which the
 * action never runs and whose loading was most of its cold start (BENCHMARKS.md). The types are
 * the package's own (undici-parts.d.ts maps the files to them).
 */
import type { Dispatcher } from 'undici';
import api from 'undici/lib/api/index.js';
import AgentClass from 'undici/lib/dispatcher/agent.js';
import DispatcherClass from 'undici/lib/dispatcher/dispatcher.js';
import EnvHttpProxyAgentClass from 'undici/lib/dispatcher/env-http-proxy-agent.js';
import PoolClass from 'undici/lib/dispatcher/pool.js';
import connector from 'undici/lib/core/connect.js';
import requestOn from 'undici/lib/api/api-request.js';

// What undici's index does first: every dispatcher gets request(), connect() and the rest (the
// proxy agent tunnels through connect()).
Object.assign(DispatcherClass.prototype, api);

export const Agent = AgentClass;
export const EnvHttpProxyAgent = EnvHttpProxyAgentClass;
export const Pool = PoolClass;
export const buildConnector = connector;

/** undici's `request(url, { dispatcher, … })`, without the index that binds it. */
export function request(
  url: string,
  options: { dispatcher: Dispatcher } & Omit<Dispatcher.RequestOptions, 'origin' | 'path'>,
): Promise<Dispatcher.ResponseData> {
  const u = new URL(url);
  const { dispatcher, ...rest } = options;
  return requestOn.call(dispatcher, { ...rest, origin: u.origin, path: `${u.pathname}${u.search}` });
}
