// Start the connections the first requests need, let them go out (net.connect issues its syscall
// on the next tick), and only then load and compile the rest of the action: the handshakes run
// while the bundle loads.
import './preconnect-start.ts';

await new Promise((resolve) => setImmediate(resolve));
const { run } = await import('./main.ts');
await run();
