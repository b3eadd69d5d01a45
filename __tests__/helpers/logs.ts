/**
 * The action's log captured per test (in-process runs): `logs.text` holds what the tests of the
 * enclosing `describe` logged since their own start; the runner's logger comes back after each.
 */
import { Writable } from 'node:stream';
import { afterEach, beforeEach } from 'node:test';
import { actionsLogger, consoleLogger, setLogger } from '../../src/log.ts';

export function logsPerTest(): { readonly text: string } {
  const logs = { text: '' };
  beforeEach(() => {
    logs.text = '';
    setLogger(consoleLogger({ stream: new Writable({ write: (chunk, _enc, cb) => ((logs.text += chunk), cb()) }) }));
  });
  afterEach(() => setLogger(actionsLogger));
  return logs;
}
