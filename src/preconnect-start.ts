/** Side-effect module: starts the start-up connections (see preconnect.ts). Imported first. */
import { preconnectFromEnv } from './preconnect.ts';

preconnectFromEnv();
