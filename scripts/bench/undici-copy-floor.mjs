/* global process, console, URL, Buffer */
// The memory and time floor of the stack for a cross-registry copy (scripts/bench/copy.ts): Node 24
// and undici's public API with no action code. Every blob of every image at once, its GET's body
// piped straight into a monolithic PUT with its Content-Length (no verification, no retries), then
// the manifests; prints its own peak RSS (VmHWM). Never shipped.
// Input (FLOOR_JOB, JSON): { source, target, authorization, repository, images: [{ digest, mediaType,
// manifest (base64), blobs: [{ digest, size }] }] }.
import { readFileSync } from 'node:fs';
import { Agent, request } from 'undici';

const job = JSON.parse(process.env.FLOOR_JOB);
const dispatcher = new Agent({ connections: 64 });
const auth = { authorization: job.authorization };

async function copyBlob({ digest, size }) {
  const start = await request(`${job.target}/v2/${job.repository}/blobs/uploads/`, { method: 'POST', headers: auth, dispatcher });
  await start.body.dump();
  const location = new URL(start.headers.location, job.target);
  location.searchParams.set('digest', digest);
  const get = await request(`${job.source}/v2/${job.repository}/blobs/${digest}`, { dispatcher });
  const put = await request(location, {
    method: 'PUT',
    headers: { ...auth, 'content-length': String(size), 'content-type': 'application/octet-stream' },
    body: get.body,
    dispatcher,
  });
  await put.body.dump();
  if (put.statusCode !== 201) throw new Error(`blob ${digest}: PUT ${put.statusCode}`);
}

await Promise.all(job.images.flatMap((image) => image.blobs.map(copyBlob)));
for (const image of job.images) {
  const put = await request(`${job.target}/v2/${job.repository}/manifests/${image.digest}`, {
    method: 'PUT',
    headers: { ...auth, 'content-type': image.mediaType },
    body: Buffer.from(image.manifest, 'base64'),
    dispatcher,
  });
  await put.body.dump();
  if (put.statusCode !== 201) throw new Error(`manifest ${image.digest}: PUT ${put.statusCode}`);
}
await dispatcher.close();
console.log(`peak RSS ${(Number(/VmHWM:\s+(\d+)/.exec(readFileSync('/proc/self/status', 'utf8'))[1]) / 1024).toFixed(1)} MiB`);
