import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { budgetExceeded } from '../../../src/budgets.ts';
import { ActionError, AggregateActionError, TITLES, describeError, errorTitle } from '../../../src/errors.ts';
import { RedirectTargetError } from '../../../src/registry/http.ts';

describe('errors (src/errors.ts)', () => {
  it('each kind has its own title, and the factories build the kind they are named after', () => {
    const kinds = Object.keys(TITLES) as Array<keyof typeof TITLES>;
    assert.equal(new Set(Object.values(TITLES)).size, kinds.length, 'no two kinds share a title');
    for (const kind of kinds) {
      const e = ActionError[kind]('m', { code: 'C', hint: 'h' });
      assert.equal(e.kind, kind);
      assert.equal(errorTitle(e), TITLES[kind]);
      assert.equal(e.line, 'm. h');
    }
  });

  it('titles say what happened', () => {
    const table: Array<[string, unknown, string]> = [
      ['a budget exceeded', budgetExceeded('source r/a:1 is an index of too many entries', 300, 128, 'Name fewer'), 'Over a size or count limit'],
      ['a tag conflict', ActionError.conflict('overwrite is false and a tag exists', { code: 'TAG_EXISTS' }), 'Tag conflict'],
      ['outputs after the tags moved', ActionError.outputs('published sha256:…, but the step outputs could not be written'), 'Published, but the step outputs failed'],
      ['a Docker config that is not JSON', ActionError.credentials('Docker config file x is not valid JSON'), 'Docker credentials unusable'],
      ['plain HTTP refused', ActionError.policy('refusing plain HTTP', { code: 'PLAIN_HTTP_REFUSED' }), 'Request refused for safety'],
      ['an aggregate takes its first error’s kind', new AggregateActionError('2 of 2 source(s) could not be read', [{ subject: 'r/a:1', error: ActionError.missing('x', { code: 'MANIFEST_UNKNOWN' }) }]), 'Source images not found'],
      ['anything else is the action’s own failure', new TypeError('x is undefined'), 'Publishing failed'],
    ];
    for (const [name, e, title] of table) assert.equal(errorTitle(e), title, name);
  });

  it('describeError: the one function from an error to text, as a line or in brief', () => {
    const refused = ActionError.registry('push failed: HTTP 403 DENIED: no', { code: 'DENIED', status: 403, detail: 'no', hint: 'Check the token' });
    const table: Array<[string, unknown, 'line' | 'brief', string]> = [
      ['an ActionError: message and hint', refused, 'line', 'push failed: HTTP 403 DENIED: no. Check the token'],
      ['in brief: status, code, message', refused, 'brief', 'HTTP 403 DENIED no'],
      ['in brief: an HTTP_n code is not repeated', ActionError.registry('m', { code: 'HTTP_418', status: 418, detail: 'HTTP 418' }), 'brief', 'HTTP 418'],
      ['in brief: nothing but the message', ActionError.input('bad input'), 'brief', 'bad input'],
      ['another error: its first line only', new Error('first\nsecond'), 'line', 'first'],
      ['another error in brief: the same', new Error('first\nsecond'), 'brief', 'first'],
      ['not an error', 42, 'line', '42'],
      ['a redirect target’s failure names its cause in one line', new RedirectTargetError('http://x/y?sig=1', new Error('connect ECONNREFUSED\nmore')), 'line', 'at http://x/y?…, where the request was redirected: connect ECONNREFUSED'],
    ];
    for (const [name, e, form, text] of table) assert.equal(describeError(e, form), text, name);
  });
});
