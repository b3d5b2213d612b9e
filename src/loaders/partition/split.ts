/**
 * splitByRank / splitByWorker: give each of `world` consumers a disjoint, round-robin share of the
 * stream: rank r takes positions r, r + world, r + 2·world, ... Items are read in groups of
 * `world`; a rank hands out its item only once the group is known to be complete, so all ranks
 * see the same groups without knowing the total in advance.
 *
 * Policies for a final incomplete group (N not a multiple of world):
 *   'pad'  (default for ranks) every rank gets ceil(N/world) items: ranks without an item in the
 *          last group take items from the start of the stream again (as DistributedSampler does),
 *          so the union covers everything and counts are equal.
 *   'drop' every rank gets floor(N/world) items: the incomplete group is dropped (disjoint, equal).
 *   'none' (default for workers) ranks keep what they have: disjoint and covering, counts differ
 *          by at most one.
 * Skipping the other ranks' items uses upstream `skip`, so put the split before decode.
 */
import { DONE, UpstreamNode, item, skipItems, type NodeContext, type NodeFactory, type NodeState, type Stage } from '../core/node.js';
import { CONFIG_DEFAULTS } from '../../config/defaults.js';

export type SplitPolicy = 'pad' | 'drop' | 'none';

export interface SplitOptions {
  policy?: SplitPolicy;
}

class SplitNode<T> extends UpstreamNode<T, T> {
  private group = 0;
  private finished = false;

  constructor(
    private readonly factory: NodeFactory<T>,
    ctx: NodeContext,
    private readonly rank: number,
    private readonly world: number,
    private readonly policy: SplitPolicy,
    kind: string,
  ) {
    super(factory, ctx, kind);
  }

  /** The stream ended with `m` items in the last group, none of them ours. */
  private async atEnd(m: number): Promise<IteratorResult<T, undefined>> {
    this.finished = true;
    if (m === 0 || this.policy !== 'pad') return DONE;
    const total = this.group * this.world + m;
    const pos = (this.rank - m) % total;
    const fresh = this.factory(this.ctx);
    try {
      await skipItems(fresh, pos);
      const r = await fresh.next();
      return r.done ? DONE : item(r.value);
    } finally {
      await fresh.close?.();
    }
  }

  async next(): Promise<IteratorResult<T, undefined>> {
    if (this.finished) return DONE;
    const before = await skipItems(this.upstream, this.rank);
    if (before < this.rank) return this.atEnd(before);
    const r = await this.upstream.next();
    if (r.done) return this.atEnd(this.rank);
    const rest = this.world - this.rank - 1;
    const after = await skipItems(this.upstream, rest);
    if (after < rest) {
      this.finished = true;
      return this.policy === 'drop' ? DONE : r;
    }
    this.group++;
    return r;
  }

  protected ownState(): Record<string, unknown> {
    return { rank: this.rank, world: this.world, group: this.group, finished: this.finished };
  }

  protected restoreOwn(state: NodeState): void {
    if (state.rank !== this.rank || state.world !== this.world) {
      throw new Error(`cannot restore ${this.kind}: the state is for ${String(state.rank)}/${String(state.world)}, this stage is ${this.rank}/${this.world}`);
    }
    this.group = Number(state.group);
    this.finished = Boolean(state.finished);
  }
}

/** Items rank `rank` of `world` receives from `n` items under `policy`. */
export function splitCount(n: number, rank: number, world: number, policy: SplitPolicy): number {
  if (policy === 'pad') return Math.ceil(n / world);
  if (policy === 'drop') return Math.floor(n / world);
  return Math.floor(n / world) + (rank < n % world ? 1 : 0);
}

function split<T>(rank: number, world: number, policy: SplitPolicy, kind: string): Stage<T, T> {
  if (!Number.isInteger(world) || world < 1) throw new RangeError(`${kind}: world must be a positive integer, got ${world}`);
  if (!Number.isInteger(rank) || rank < 0 || rank >= world) throw new RangeError(`${kind}: rank must be an integer in [0, ${world - 1}], got ${rank}`);
  if (!['pad', 'drop', 'none'].includes(policy)) throw new RangeError(`${kind}: policy must be 'pad', 'drop' or 'none', got ${policy}`);
  return { make: (up, ctx) => new SplitNode(up, ctx, rank, world, policy, kind), size: (n) => (n === null || n === Infinity ? n : splitCount(n, rank, world, policy)) };
}

export function splitByRankStage<T>(rank: number, world: number, opts: SplitOptions = {}): Stage<T, T> {
  return split(rank, world, opts.policy ?? CONFIG_DEFAULTS.loader.splitPolicy, 'split-rank');
}

export function splitByWorkerStage<T>(worker: number, workers: number, opts: SplitOptions = {}): Stage<T, T> {
  return split(worker, workers, opts.policy ?? 'none', 'split-worker');
}
