/**
 * The stateful iterator contract every pipeline stage implements (after torchdata.nodes):
 * `next()` yields the following item, `getState()` returns a small JSON value describing the
 * position after the last item returned, and `restore(state)` (called on a freshly made node,
 * before its first `next()`) makes the node continue exactly where that state was taken.
 *
 * Nodes are made by factories; a Dataset holds the factory, so iterating a Dataset twice gives two
 * independent nodes. `skip(n)` advances without producing items where a stage can do that cheaply
 * (sources skip by index or by tar headers, 1:1 maps skip without calling their function); other
 * stages fall back to pulling and discarding.
 */

/** JSON-serialisable state of a node (and, nested inside it, of its upstream). */
export type NodeState = { [key: string]: unknown };

export interface NodeContext {
  /** Epoch number, set by `repeat` for the nodes it remakes each pass (0 otherwise). */
  epoch: number;
}

export interface StageReport {
  /** Stage name, e.g. "decode" or "shards". */
  stage: string;
  /** Items this stage dropped under onError: 'skip'. */
  skipped: number;
  /** The first few reasons (bounded), each naming the item. */
  errors: string[];
}

export interface Node<T> {
  next(): Promise<IteratorResult<T, undefined>>;
  getState(): NodeState;
  restore(state: NodeState): void;
  /** Advance past up to n items; returns how many were skipped (fewer only at the end). */
  skip?(n: number): Promise<number>;
  /** Skip reports of this stage and everything upstream. */
  reports(): StageReport[];
  /** Release resources (open files, sockets, child processes). */
  close?(): Promise<void>;
}

export type NodeFactory<T> = (ctx: NodeContext) => Node<T>;

/**
 * A pipeline stage below the Dataset class (as tfjs-data keeps iterators below its Dataset): how
 * to wrap an upstream node factory, and how the stage changes the number of items (null =
 * unknown, Infinity = endless). Stage modules export these; `Dataset.apply(stage)` and the fluent
 * methods use them, so no stage module imports the Dataset class.
 */
export interface Stage<I, O> {
  make(upstream: NodeFactory<I>, ctx: NodeContext): Node<O>;
  size(upstream: number | null): number | null;
}

/**
 * The upstream forwarding every one-upstream stage repeats: it makes its upstream node from the
 * factory, nests the upstream's state under `upstream` in its own, restores it, passes skip
 * reports through, and closes it. A stage adds its own `next` and its own state fields.
 */
export abstract class UpstreamNode<I, O> implements Node<O> {
  protected upstream: Node<I>;

  constructor(factory: NodeFactory<I>, protected readonly ctx: NodeContext, protected readonly kind: string) {
    this.upstream = factory(ctx);
  }

  abstract next(): Promise<IteratorResult<O, undefined>>;

  /** This stage's own state fields (the kind and the upstream's state are added). */
  protected abstract ownState(): Record<string, unknown>;

  /** Restore this stage's own fields (the kind is checked and the upstream restored first). */
  protected abstract restoreOwn(state: NodeState): void;

  getState(): NodeState {
    return { kind: this.kind, ...this.ownState(), upstream: this.upstream.getState() };
  }

  restore(state: NodeState): void {
    expectKind(state, this.kind);
    this.restoreOwn(state);
    this.upstream.restore(state.upstream as NodeState);
  }

  reports(): StageReport[] {
    return this.upstream.reports();
  }

  async close(): Promise<void> {
    await this.upstream.close?.();
  }
}

export const DONE: IteratorReturnResult<undefined> = Object.freeze({ done: true, value: undefined }) as IteratorReturnResult<undefined>;

export function item<T>(value: T): IteratorYieldResult<T> {
  return { done: false, value };
}

/** Skip n items of `node`: its own skip when it has one, else pull and discard. */
export async function skipItems<T>(node: Node<T>, n: number): Promise<number> {
  if (n <= 0) return 0;
  if (node.skip) return node.skip(n);
  let k = 0;
  while (k < n) {
    const r = await node.next();
    if (r.done) break;
    k++;
  }
  return k;
}

/** What an onError policy does with a failing item. */
export type OnError = 'skip' | 'raise';

/** Counts skipped items and keeps the first few reasons; part of a stage's state. */
export class SkipCounter {
  skipped = 0;
  errors: string[] = [];
  constructor(readonly stage: string, readonly keep = 20) {}

  record(reason: string): void {
    this.skipped++;
    if (this.errors.length < this.keep) this.errors.push(reason);
  }

  report(): StageReport {
    return { stage: this.stage, skipped: this.skipped, errors: [...this.errors] };
  }

  getState(): { skipped: number; errors: string[] } {
    return { skipped: this.skipped, errors: [...this.errors] };
  }

  restore(s: { skipped: number; errors: string[] } | undefined): void {
    this.skipped = s?.skipped ?? 0;
    this.errors = [...(s?.errors ?? [])];
  }
}

/** Thrown by restore when a state does not belong to the stage it is given to. */
export class StateError extends Error {
  constructor(stage: string, message: string) {
    super(`cannot restore ${stage}: ${message}`);
    this.name = 'StateError';
  }
}

export function expectKind(state: NodeState, kind: string): void {
  if (!state || typeof state !== 'object' || state.kind !== kind) {
    throw new StateError(kind, `the state is for "${String((state as NodeState | null)?.kind)}", not "${kind}"`);
  }
}

export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
