/** Bounded concurrency: a counting semaphore, and maps that keep at most `limit` calls in flight. */

/**
 * A counting semaphore (requests per registry in registry/transport.ts, blob copies in
 * publish/place.ts). A slot goes straight from the holder that releases it to the next waiter, in
 * order.
 */
export class Semaphore {
  private active = 0;
  private readonly waiting: Array<() => void> = [];
  private readonly limit: number;
  constructor(limit: number) {
    this.limit = Math.max(1, limit);
  }
  acquire(): Promise<() => void> {
    if (this.active < this.limit) {
      this.active++;
      return Promise.resolve(this.releaser());
    }
    return new Promise((resolve) => this.waiting.push(() => resolve(this.releaser())));
  }
  private releaser(): () => void {
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const next = this.waiting.shift();
      if (next) next();
      else this.active--;
    };
  }
}

/**
 * A budget of bytes: `acquire` waits until the bytes (at most the whole budget) fit and reserves
 * them, in order; `tryReserve` reserves them only when they fit now. Each returns its release.
 */
export class ByteBudget {
  private used = 0;
  private readonly waiting: Array<{ bytes: number; grant: () => void }> = [];
  readonly limit: number;
  constructor(limit: number) {
    this.limit = Math.max(1, limit);
  }
  acquire(bytes: number): Promise<() => void> {
    const n = Math.min(Math.max(0, bytes), this.limit);
    if (!this.waiting.length && this.used + n <= this.limit) return Promise.resolve(this.reserve(n));
    return new Promise((resolve) => {
      this.waiting.push({ bytes: n, grant: () => resolve(this.reserve(n)) });
    });
  }
  tryReserve(bytes: number): (() => void) | undefined {
    if (bytes > this.limit || this.used + bytes > this.limit) return undefined;
    return this.reserve(bytes);
  }
  private reserve(n: number): () => void {
    this.used += n;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.used -= n;
      while (this.waiting.length && this.used + (this.waiting[0] as { bytes: number }).bytes <= this.limit) (this.waiting.shift() as { grant: () => void }).grant();
    };
  }
}

/**
 * Runs `fn` over items with at most `limit` (at least 1) in flight; settles all, like
 * Promise.allSettled, with the results in the items' order.
 */
export async function mapSettled<T, R>(items: readonly T[], limit: number, fn: (item: T, i: number) => Promise<R>): Promise<PromiseSettledResult<R>[]> {
  const results: PromiseSettledResult<R>[] = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      try {
        results[i] = { status: 'fulfilled', value: await fn(items[i] as T, i) };
      } catch (reason) {
        results[i] = { status: 'rejected', reason };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(Math.max(1, limit), items.length) }, worker));
  return results;
}

/** Like mapSettled, but throws the first failure (in the items' order) once all have settled. */
export async function mapAll<T, R>(items: readonly T[], limit: number, fn: (item: T, i: number) => Promise<R>): Promise<R[]> {
  const settled = await mapSettled(items, limit, fn);
  const failed = settled.find((s) => s.status === 'rejected');
  if (failed) throw failed.reason;
  return settled.map((s) => (s as PromiseFulfilledResult<R>).value);
}
