/* global process, performance, console */
// The cold-start floor of the settled stack (scripts/bench/start.ts): a bundle holding only what
// the action's first request needs from undici (its pool and request API, imported file by file
// as src/registry/undici.ts does), sending one GET. Built with ncc by the benchmark, never shipped.
import api from 'undici/lib/api/index.js';
import Dispatcher from 'undici/lib/dispatcher/dispatcher.js';
import Pool from 'undici/lib/dispatcher/pool.js';

Object.assign(Dispatcher.prototype, api);
const pool = new Pool(process.env.FLOOR_URL);
const issued = performance.now();
const res = await pool.request({ method: 'GET', path: '/v2/' });
await res.body.dump();
console.log(`first request ${Math.round(issued)} ms after start`);
await pool.close();
