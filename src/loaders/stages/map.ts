/**
 * map, filter and mapParallel. `map` and `filter` call their function in line; `mapParallel` keeps
 * up to `concurrency` calls in flight ahead of the consumer (ffmpeg decodes, file reads) and still
 * yields in input order. Its state is the upstream state captured when the last delivered item was
 * pulled, so read-ahead work is simply redone after a restore.
 */
import { DONE, SkipCounter, UpstreamNode, errorMessage, expectKind, item, skipItems, type Node, type NodeContext, type NodeFactory, type NodeState, type OnError, type Stage, type StageReport } from '../core/node.js';

/** Called with the item, its position in this stage's input, and the node context (epoch). */
export type MapFn<T, U> = (item: T, index: number, ctx: NodeContext) => U | Promise<U>;

export interface MapOptions<T> {
  /** What to do when the function throws for an item (default 'raise'). */
  onError?: OnError;
  /** Stage name in reports and errors (default 'map'). */
  name?: string;
  /** Names an item in error messages (default: its __key__ or id field, else its index). */
  describe?: (item: T, index: number) => string;
}

export interface ParallelMapOptions<T = unknown> extends MapOptions<T> {
  /** Calls in flight at once (default 4). */
  concurrency: number;
  /**
   * Results held at most, running or finished and waiting for an earlier one (default
   * 2 × concurrency): finished results beyond the running ones let the pool stay busy while the
   * head of the line is still running.
   */
  hold?: number;
}

export function describeItem(value: unknown, index: number): string {
  if (value && typeof value === 'object') {
    const o = value as Record<string, unknown>;
    if (typeof o.__key__ === 'string') return `${o.__key__}${typeof o.__url__ === 'string' ? ` (${o.__url__})` : ''}`;
    if (typeof o.key === 'string') return o.key;
    if (typeof o.id === 'string') return o.id;
  }
  return `item ${index}`;
}

/** Wraps a failure with the item's name, keeping the original as `cause`. */
export class ItemError extends Error {
  constructor(stage: string, what: string, cause: unknown) {
    super(`${stage}: ${what}: ${errorMessage(cause)}`, { cause });
    this.name = 'ItemError';
  }
}

class MapNode<T, U> extends UpstreamNode<T, U> {
  private index = 0;
  private readonly counter: SkipCounter;

  constructor(factory: NodeFactory<T>, ctx: NodeContext, private readonly fn: MapFn<T, U>, private readonly opts: MapOptions<T>) {
    super(factory, ctx, 'map');
    this.counter = new SkipCounter(opts.name ?? 'map');
  }

  async next(): Promise<IteratorResult<U, undefined>> {
    for (;;) {
      const r = await this.upstream.next();
      if (r.done) return DONE;
      const i = this.index++;
      try {
        return item(await this.fn(r.value, i, this.ctx));
      } catch (err) {
        const what = (this.opts.describe ?? describeItem)(r.value, i);
        if (this.opts.onError === 'skip') {
          this.counter.record(`${what}: ${errorMessage(err)}`);
          continue;
        }
        throw new ItemError(this.counter.stage, what, err);
      }
    }
  }

  async skip(n: number): Promise<number> {
    const k = await skipItems(this.upstream, n);
    this.index += k;
    return k;
  }

  protected ownState(): Record<string, unknown> {
    return { index: this.index, skips: this.counter.getState() };
  }

  protected restoreOwn(state: NodeState): void {
    this.index = Number(state.index);
    this.counter.restore(state.skips as never);
  }

  override reports(): StageReport[] {
    const own = this.opts.onError === 'skip' ? [this.counter.report()] : [];
    return [...this.upstream.reports(), ...own];
  }
}

class FilterNode<T> extends UpstreamNode<T, T> {
  private index = 0;
  constructor(factory: NodeFactory<T>, ctx: NodeContext, private readonly pred: (item: T, index: number) => boolean | Promise<boolean>) {
    super(factory, ctx, 'filter');
  }

  async next(): Promise<IteratorResult<T, undefined>> {
    for (;;) {
      const r = await this.upstream.next();
      if (r.done) return DONE;
      if (await this.pred(r.value, this.index++)) return r;
    }
  }

  protected ownState(): Record<string, unknown> {
    return { index: this.index };
  }

  protected restoreOwn(state: NodeState): void {
    this.index = Number(state.index);
  }
}

type Settled<U> = { ok: true; value: U } | { ok: false; error: unknown };

interface Pending<T, U> {
  settled: Promise<Settled<U>>;
  /** Upstream state right after this item was pulled. */
  snap: NodeState;
  index: number;
  input: T;
}

/**
 * Read-ahead node: pulls upstream items one at a time (nodes are not re-entrant), starts `fn` on
 * each with at most `limit` calls running and at most `hold` results held (running or finished),
 * and hands them out in order.
 */
export class ReadAheadNode<T, U> implements Node<U> {
  private readonly upstream: Node<T>;
  private readonly queue: Array<Pending<T, U>> = [];
  private pump: Promise<void> | null = null;
  private upstreamDone = false;
  private upstreamError: { error: unknown } | null = null;
  /** Index given to the next pulled item. */
  private pulled = 0;
  /** Input items consumed (delivered or skipped) by our consumer. */
  private consumed = 0;
  private lastSnap: NodeState;
  private readonly counter: SkipCounter;
  private running = 0;
  private closed = false;
  private readonly hold: number;

  constructor(
    factory: NodeFactory<T>,
    private readonly ctx: NodeContext,
    private readonly fn: MapFn<T, U>,
    private readonly limit: number,
    private readonly opts: MapOptions<T> & { kind: string; hold?: number },
  ) {
    if (!Number.isInteger(limit) || limit < 1) throw new RangeError(`${opts.kind}: the limit must be a positive integer, got ${limit}`);
    this.hold = Math.max(limit, opts.hold ?? limit);
    this.upstream = factory(ctx);
    this.lastSnap = this.upstream.getState();
    this.counter = new SkipCounter(opts.name ?? opts.kind);
  }

  private fill(): Promise<void> {
    if (this.pump) return this.pump;
    if (this.closed || this.upstreamDone || this.queue.length >= this.hold || this.running >= this.limit) return Promise.resolve();
    this.pump = (async () => {
      try {
        while (!this.closed && !this.upstreamDone && this.queue.length < this.hold && this.running < this.limit) {
          const r = await this.upstream.next();
          if (r.done) {
            this.upstreamDone = true;
            break;
          }
          const snap = this.upstream.getState();
          const index = this.pulled++;
          const input = r.value;
          this.running++;
          const settled: Promise<Settled<U>> = Promise.resolve()
            .then(() => this.fn(input, index, this.ctx))
            .then((value) => ({ ok: true as const, value }), (error: unknown) => ({ ok: false as const, error }))
            .then((res) => {
              this.running--;
              void this.fill();
              return res;
            });
          this.queue.push({ settled, snap, index, input });
        }
      } catch (error) {
        this.upstreamDone = true;
        this.upstreamError = { error };
      } finally {
        this.pump = null;
      }
    })();
    return this.pump;
  }

  async next(): Promise<IteratorResult<U, undefined>> {
    for (;;) {
      if (this.queue.length === 0) {
        if (this.upstreamDone) {
          if (this.upstreamError) {
            const e = this.upstreamError.error;
            this.upstreamError = null;
            throw e;
          }
          return DONE;
        }
        await this.fill();
        continue;
      }
      const head = this.queue[0];
      const res = await head.settled;
      this.queue.shift();
      void this.fill();
      this.lastSnap = head.snap;
      this.consumed = head.index + 1;
      if (res.ok) return item(res.value);
      const what = (this.opts.describe ?? describeItem)(head.input, head.index);
      if (this.opts.onError === 'skip') {
        this.counter.record(`${what}: ${errorMessage(res.error)}`);
        continue;
      }
      throw new ItemError(this.counter.stage, what, res.error);
    }
  }

  async skip(n: number): Promise<number> {
    if (this.queue.length > 0 || this.pump) {
      let k = 0;
      while (k < n && !(await this.next()).done) k++;
      return k;
    }
    const k = await skipItems(this.upstream, n);
    this.pulled += k;
    this.consumed = this.pulled;
    this.lastSnap = this.upstream.getState();
    return k;
  }

  getState(): NodeState {
    return { kind: this.opts.kind, index: this.consumed, skips: this.counter.getState(), upstream: this.lastSnap };
  }

  restore(state: NodeState): void {
    expectKind(state, this.opts.kind);
    this.upstream.restore(state.upstream as NodeState);
    this.lastSnap = state.upstream as NodeState;
    this.pulled = this.consumed = Number(state.index);
    this.counter.restore(state.skips as never);
  }

  reports(): StageReport[] {
    const own = this.opts.onError === 'skip' ? [this.counter.report()] : [];
    return [...this.upstream.reports(), ...own];
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.pump) await this.pump;
    await Promise.all(this.queue.map((p) => p.settled));
    this.queue.length = 0;
    await this.upstream.close?.();
  }
}

export function mapStage<T, U>(fn: MapFn<T, U>, opts: MapOptions<T> = {}): Stage<T, U> {
  return { make: (up, ctx) => new MapNode(up, ctx, fn, opts), size: (n) => (opts.onError === 'skip' ? null : n) };
}

export function filterStage<T>(pred: (item: T, index: number) => boolean | Promise<boolean>): Stage<T, T> {
  return { make: (up, ctx) => new FilterNode(up, ctx, pred), size: (n) => (n === Infinity ? Infinity : null) };
}

export function mapParallelStage<T, U>(fn: MapFn<T, U>, opts: ParallelMapOptions<T>): Stage<T, U> {
  const limit = opts.concurrency ?? 4;
  return {
    make: (up, ctx) => new ReadAheadNode(up, ctx, fn, limit, { ...opts, hold: opts.hold ?? 2 * limit, kind: 'map-parallel' }),
    size: (n) => (opts.onError === 'skip' ? null : n),
  };
}
