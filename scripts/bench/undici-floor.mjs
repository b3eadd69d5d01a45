/* global process, performance, console */
// The cold-start floor of the stack (scripts/bench/start.ts): a bundle holding only undici, loaded
// through its public index as src/registry/base.ts loads it, sending one GET. Built with ncc by
// the benchmark, never shipped.
import { Pool } from 'undici';

const pool = new Pool(process.env.FLOOR_URL);
const issued = performance.now();
const res = await pool.request({ method: 'GET', path: '/v2/' });
await res.body.dump();
console.log(`first request ${Math.round(issued)} ms after start`);
await pool.close();
