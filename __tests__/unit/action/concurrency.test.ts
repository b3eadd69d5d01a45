import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ByteBudget, Semaphore, mapAll, mapSettled } from '../../../src/concurrency.ts';

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

describe('mapSettled and mapAll', () => {
  /** Runs `map` over `n` items whose calls wait until released; reports the most in flight at once. */
  async function peakInFlight(n: number, limit: number): Promise<number> {
    let inFlight = 0;
    let peak = 0;
    await mapSettled(Array.from({ length: n }, (_, i) => i), limit, async () => {
      inFlight++;
      peak = Math.max(peak, inFlight);
      await tick();
      inFlight--;
    });
    return peak;
  }
  const limits: Array<[number, number, number]> = [
    // items, limit, most in flight
    [10, 3, 3],
    [10, 1, 1],
    [2, 8, 2],
    [5, 0, 1],
    [0, 4, 0],
  ];
  for (const [n, limit, want] of limits) {
    it(`${n} items with limit ${limit}: at most ${want} in flight`, async () => assert.equal(await peakInFlight(n, limit), want));
  }

  it('mapSettled keeps the items order and settles every item', async () => {
    const settled = await mapSettled([3, 1, 2], 2, async (x, i) => {
      await new Promise((r) => setTimeout(r, x));
      if (x === 1) throw new Error(`no ${i}`);
      return x * 10;
    });
    assert.deepEqual(settled.map((s) => (s.status === 'fulfilled' ? s.value : (s.reason as Error).message)), [30, 'no 1', 20]);
  });

  it('mapAll returns the values in order, or throws the first failure once all settled', async () => {
    assert.deepEqual(await mapAll([1, 2, 3], 2, async (x) => x + 1), [2, 3, 4]);
    const ran: number[] = [];
    await assert.rejects(
      mapAll([1, 2, 3, 4], 2, async (x) => {
        ran.push(x);
        if (x % 2 === 0) throw new Error(`fail ${x}`);
      }),
      /fail 2/,
    );
    assert.deepEqual(ran.sort(), [1, 2, 3, 4], 'a failure does not stop the others');
  });
});

describe('ByteBudget', () => {
  it('admits reservations while they fit, then in order as bytes are released', async () => {
    const budget = new ByteBudget(10);
    const order: string[] = [];
    const a = await budget.acquire(6);
    const b = budget.acquire(6).then((r) => (order.push('b'), r));
    const c = budget.acquire(2).then((r) => (order.push('c'), r));
    await new Promise((r) => setImmediate(r));
    assert.deepEqual(order, [], 'b waits for room, and c waits behind b');
    a();
    const rb = await b;
    const rc = await c;
    assert.deepEqual(order, ['b', 'c']);
    assert.equal(budget.tryReserve(3), undefined, '6 + 2 held: 3 more do not fit');
    rb();
    rc();
  });
  it('caps one reservation at the whole budget, so it cannot wait forever', async () => {
    const budget = new ByteBudget(10);
    const r = await budget.acquire(50);
    assert.equal(budget.tryReserve(1), undefined);
    r();
    assert.ok(budget.tryReserve(10));
  });
  it('tryReserve keeps only what fits, and a release twice frees once', () => {
    const budget = new ByteBudget(10);
    const r = budget.tryReserve(8);
    assert.ok(r);
    assert.equal(budget.tryReserve(3), undefined);
    r?.();
    r?.();
    assert.ok(budget.tryReserve(10));
    assert.equal(budget.tryReserve(1), undefined);
  });
});
