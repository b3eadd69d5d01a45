import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ListingBudget, budgetExceeded } from '../../../src/budgets.ts';
import { ActionError } from '../../../src/errors.ts';

describe('ListingBudget', () => {
  const refused = (message: RegExp) => (e: unknown) => e instanceof ActionError && e.kind === 'limit' && message.test(e.message);
  it('counts items as listed and fails past the count, naming what, the count and the limit', () => {
    const b = new ListingBudget('the referrers of r.io/app@sha256:x', 64, 1000);
    b.add(64, 10, 'hint');
    assert.throws(() => b.add(1, 0, 'hint'), refused(/^the referrers of r\.io\/app@sha256:x: too many listed: 65, more than the 64 this action reads; nothing was written$/));
  });
  it('fails past the bytes', () => {
    const b = new ListingBudget('image', 64, 1000);
    b.add(1, 600, 'hint');
    assert.throws(() => b.add(1, 401, 'hint'), refused(/^image: too many bytes listed: 1001 bytes, more than the 1000 bytes this action reads/));
  });
  it('adds to the run’s budget too, which fails across images', () => {
    const run = new ListingBudget('this run', 100, 1000);
    const a = new ListingBudget('image a', 64, 1000, run);
    const b = new ListingBudget('image b', 64, 1000, run);
    a.add(60, 0, 'hint');
    assert.throws(() => b.add(41, 0, 'hint'), refused(/^this run: too many listed: 101, more than the 100/));
  });
  it('budgetExceeded is a limit error saying nothing was written', () => {
    const e = budgetExceeded('x', 2, 1, 'h');
    assert.equal(e.kind, 'limit');
    assert.equal(e.line, 'x: 2, more than the 1 this action reads; nothing was written. h');
  });
});
