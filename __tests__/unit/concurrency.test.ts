import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Semaphore, mapAll, mapSettled } from '../../src/concurrency.ts';

const tick = () => new Promise((r) => setImmediate(r));

/** Starts an acquire; `admitted()` tells, after a tick, whether it got a slot. */
async function attempt(s: Semaphore): Promise<{ admitted: () => boolean }> {
  let got = false;
  void s.acquire().then(() => (got = true));
  await tick();
  return { admitted: () => got };
}

describe('Semaphore', () => {
  it('admits up to its limit, then hands each released slot to the longest waiter', async () => {
    const s = new Semaphore(2);
    const order: string[] = [];
    const a = await s.acquire();
    const b = await s.acquire();
    const waiters = ['c', 'd', 'e'].map((name) => s.acquire().then((release) => (order.push(name), release)));
    await tick();
    assert.deepEqual(order, [], 'nobody past the limit');
    a();
    await tick();
    assert.deepEqual(order, ['c']);
    b();
    await tick();
    assert.deepEqual(order, ['c', 'd']);
    const [c, d, e] = waiters as [Promise<() => void>, Promise<() => void>, Promise<() => void>];
    (await c)();
    await tick();
    assert.deepEqual(order, ['c', 'd', 'e']);
    (await d)();
    (await e)();
    // All released: the limit is whole again.
    const x = await s.acquire();
    const y = await s.acquire();
    assert.equal((await attempt(s)).admitted(), false);
    x();
    y();
  });

  it('a slot handed to a waiter cannot be taken by a newcomer in between', async () => {
    const s = new Semaphore(1);
    const first = await s.acquire();
    const got: string[] = [];
    void s.acquire().then(() => got.push('waiter'));
    first();
    // Synchronously after the release: the slot already belongs to the waiter.
    void s.acquire().then(() => got.push('newcomer'));
    await tick();
    assert.deepEqual(got, ['waiter']);
  });

  it('releasing twice frees one slot', async () => {
    const s = new Semaphore(1);
    const release = await s.acquire();
    release();
    release();
    const one = await s.acquire();
    assert.equal((await attempt(s)).admitted(), false);
    one();
  });

  it('treats a limit below 1 as 1', async () => {
    const s = new Semaphore(0);
    const release = await s.acquire();
    const second = await attempt(s);
    assert.equal(second.admitted(), false);
    release();
    await tick();
    assert.equal(second.admitted(), true);
  });
});
