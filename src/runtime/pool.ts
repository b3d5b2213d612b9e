/**
 * A bounded concurrency pool for async work (ffmpeg processes, I/O). At most `limit` tasks run at
 * once; `map` keeps input order in its output regardless of completion order.
 */
import os from 'node:os';

export function defaultConcurrency(): number {
  const env = Number(process.env.AVCURATE_JOBS);
  if (Number.isInteger(env) && env > 0) return env;
  return Math.max(1, os.availableParallelism?.() ?? os.cpus().length);
}

export class Pool {
  readonly limit: number;
  private active = 0;
  private readonly waiting: Array<() => void> = [];

  constructor(limit = defaultConcurrency()) {
    if (!Number.isInteger(limit) || limit < 1) throw new RangeError(`Pool limit must be a positive integer, got ${limit}`);
    this.limit = limit;
  }

  get running(): number {
    return this.active;
  }

  get queued(): number {
    return this.waiting.length;
  }

  async run<T>(task: () => Promise<T>): Promise<T> {
    if (this.active >= this.limit) await new Promise<void>((resolve) => this.waiting.push(resolve));
    this.active++;
    try {
      return await task();
    } finally {
      this.active--;
      const next = this.waiting.shift();
      if (next) next();
    }
  }

  /** Apply `fn` to every item with bounded concurrency; results in input order. */
  async map<T, R>(items: readonly T[], fn: (item: T, index: number) => Promise<R>): Promise<R[]> {
    const out = new Array<R>(items.length);
    await Promise.all(items.map((item, i) => this.run(async () => {
      out[i] = await fn(item, i);
    })));
    return out;
  }
}

/**
 * Ordered streaming map: pulls from `source`, runs up to `limit` calls of `fn` at once, and yields
 * results in source order. Memory holds at most `limit` pending results plus those waiting for an
 * earlier one to finish (bounded by `limit * 2`).
 */
export async function* mapOrdered<T, R>(source: AsyncIterable<T> | Iterable<T>, fn: (item: T, index: number) => Promise<R>, limit = defaultConcurrency()): AsyncGenerator<R> {
  const pending: Array<Promise<R>> = [];
  let index = 0;
  for await (const item of source as AsyncIterable<T>) {
    const p = fn(item, index++);
    p.catch(() => undefined); // rejection is rethrown when this result's turn comes
    pending.push(p);
    if (pending.length >= limit) yield await pending.shift()!;
  }
  while (pending.length > 0) yield await pending.shift()!;
}
