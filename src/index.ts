// Start the connections the first requests need, let them go out, and only then load and compile
// the rest of the action: the handshakes run while the bundle loads. A connection to a host name
// goes out only once its address is looked up (a callback on this thread), so the entry waits for
// the lookups first, at most 20 ms (a slower DNS answer lets the load go first).
import { dialed } from './preconnect.ts';
import './preconnect-start.ts';

await dialed(20);
await new Promise((resolve) => setImmediate(resolve));
await import('./registry/undici.ts');
await new Promise((resolve) => setImmediate(resolve));
const { run } = await import('./main.ts');
await run();
