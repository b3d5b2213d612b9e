/**
 * Shards (not samples) shared by ranks and workers, WebDataset-style: every epoch all ranks agree
 * on one shard order (the seeded per-epoch shuffle of the shard list, or the list's order), rank r
 * of `world` takes the shards at positions r, r + world, ... of it, and worker w of `workers` takes
 * every workers-th shard of its rank's share. A rank (worker) opens only its own shards.
 *
 * Shares differ in samples when shards do; `policy` makes every rank and worker yield the same
 * number of samples per epoch (so the same number of batches), from the shard counts of
 * shards.json:
 *   'pad'  the largest share's count: a smaller share starts over from its first shard;
 *   'drop' the smallest share's count: a larger share stops early;
 *   'none' each share as it is.
 * State: the pass over the share (padding starts pass 1), the samples delivered, and the shard
 * reader's own state, so a restore continues exactly and reopens only the current shard.
 */
import { Dataset } from '../core/dataset.js';
import { DONE, StateError, expectKind, type Node, type NodeContext, type NodeState, type StageReport } from '../core/node.js';
import { resolveShards, ShardNode, type Sample, type ShardInfo, type ShardsOptions } from '../sources/shards.js';
import { Rng } from '../../runtime/random.js';
import { CONFIG_DEFAULTS } from '../../config/defaults.js';

export type ShardSplitPolicy = 'pad' | 'drop' | 'none';

export interface ShardSplit {
  rank: number;
  world: number;
  /** Data-loading worker within the rank (default 0 of 1). */
  worker?: number;
  workers?: number;
  /** Default 'pad'. */
  policy?: ShardSplitPolicy;
}

export interface ShardSplitOptions extends Omit<ShardsOptions, 'shuffleShards'> {
  split: ShardSplit;
  /** Shuffle the shard order with this seed, differently each epoch, the same on every rank. */
  shuffleShards?: number;
}

function checkSplit(s: ShardSplit): Required<ShardSplit> {
  const workers = s.workers ?? 1;
  const worker = s.worker ?? 0;
  const policy = s.policy ?? CONFIG_DEFAULTS.loader.splitPolicy;
  const int = (v: number, lo: number, hi: number) => Number.isInteger(v) && v >= lo && v <= hi;
  if (!int(s.world, 1, Infinity)) throw new RangeError(`shard split: world must be a positive integer, got ${s.world}`);
  if (!int(s.rank, 0, s.world - 1)) throw new RangeError(`shard split: rank must be an integer in [0, ${s.world - 1}], got ${s.rank}`);
  if (!int(workers, 1, Infinity)) throw new RangeError(`shard split: workers must be a positive integer, got ${workers}`);
  if (!int(worker, 0, workers - 1)) throw new RangeError(`shard split: worker must be an integer in [0, ${workers - 1}], got ${worker}`);
  if (!['pad', 'drop', 'none'].includes(policy)) throw new RangeError(`shard split: policy must be 'pad', 'drop' or 'none', got ${String(policy)}`);
  return { rank: s.rank, world: s.world, worker, workers, policy };
}

/** The positions in `order` (a shard order of length n) that rank/worker takes. */
export function shardShare(n: number, rank: number, world: number, worker = 0, workers = 1): number[] {
  const mine: number[] = [];
  for (let i = rank, j = 0; i < n; i += world, j++) if (j % workers === worker) mine.push(i);
  return mine;
}

/** The shard order of an epoch (the same on every rank). */
export function epochShardOrder(n: number, seed: number | undefined, epoch: number): number[] {
  const order = Array.from({ length: n }, (_, i) => i);
  if (seed !== undefined) Rng.derive(seed, 'shards', epoch).shuffle(order);
  return order;
}

class ShardSplitNode implements Node<Sample> {
  private pass = 0;
  private delivered = 0;
  private inner: Node<Sample>;

  constructor(private readonly share: ShardInfo[], private readonly ctx: NodeContext, private readonly opts: ShardsOptions, private readonly target: number | null, private readonly policy: ShardSplitPolicy) {
    this.inner = this.make();
  }

  private make(): Node<Sample> {
    return new ShardNode(this.share, this.ctx, { ...this.opts, shuffleShards: undefined });
  }

  /** One step: an item, or null at the end of the share's pass (then the caller decides). */
  private async step(skip: boolean): Promise<Sample | null | 'end'> {
    if (this.target !== null && this.delivered >= this.target) return 'end';
    for (let empty = 0; ; ) {
      if (skip) {
        if ((await this.inner.skip!(1)) === 1) {
          this.delivered++;
          return null;
        }
      } else {
        const r = await this.inner.next();
        if (!r.done) {
          this.delivered++;
          return r.value;
        }
      }
      // The share is exhausted for this pass: pad starts it over (up to the target).
      if (this.policy !== 'pad' || this.target === null || this.delivered >= this.target || ++empty > 1) return 'end';
      await this.inner.close?.();
      this.pass++;
      this.inner = this.make();
    }
  }

  async next(): Promise<IteratorResult<Sample, undefined>> {
    const s = await this.step(false);
    return s === 'end' || s === null ? DONE : { done: false, value: s };
  }

  async skip(n: number): Promise<number> {
    let k = 0;
    while (k < n && (await this.step(true)) !== 'end') k++;
    return k;
  }

  getState(): NodeState {
    return { kind: 'shard-split', shards: this.share.length, pass: this.pass, delivered: this.delivered, upstream: this.inner.getState() };
  }

  restore(state: NodeState): void {
    expectKind(state, 'shard-split');
    if (state.shards !== this.share.length) throw new StateError('shard-split', `the state is for a share of ${String(state.shards)} shards, this rank has ${this.share.length}`);
    this.pass = Number(state.pass);
    this.delivered = Number(state.delivered);
    this.inner = this.make();
    this.inner.restore(state.upstream as NodeState);
  }

  reports(): StageReport[] {
    return this.inner.reports();
  }

  async close(): Promise<void> {
    await this.inner.close?.();
  }
}

/**
 * The samples of this rank's (and worker's) shards. Equalising counts ('pad', 'drop') needs every
 * shard's sample count (shards.json, or ShardInfo.count); each share needs at least one shard.
 */
export async function fromShardSplit(spec: string | readonly string[] | readonly ShardInfo[], opts: ShardSplitOptions): Promise<Dataset<Sample>> {
  const s = checkSplit(opts.split);
  const shards: ShardInfo[] = typeof spec !== 'string' && spec.length > 0 && typeof spec[0] === 'object' ? [...(spec as readonly ShardInfo[])] : await resolveShards(spec as string | string[]);
  const groups = s.world * s.workers;
  if (shards.length < groups) {
    throw new Error(`shard split: ${shards.length} shard(s) for ${s.world} rank(s) x ${s.workers} worker(s): every rank and worker needs at least one shard (export smaller shards, e.g. --max-count)`);
  }
  const known = shards.every((x) => x.count !== undefined);
  if (s.policy !== 'none' && !known) throw new Error(`shard split: policy "${s.policy}" needs every shard's sample count (read the shards through their shards.json)`);
  const { shuffleShards, split: _split, ...shardOpts } = opts;
  // Shard counts are fixed, so the share totals (and the target) are the same in every epoch
  // only when the order is; compute them per epoch.
  const targetOf = (order: number[]): number | null => {
    if (s.policy === 'none') return null;
    const totals: number[] = [];
    for (let r = 0; r < s.world; r++) for (let w = 0; w < s.workers; w++) totals.push(shardShare(order.length, r, s.world, w, s.workers).reduce((a, i) => a + shards[order[i]].count!, 0));
    return s.policy === 'pad' ? Math.max(...totals) : Math.min(...totals);
  };
  const shareOf = (order: number[]) => shardShare(order.length, s.rank, s.world, s.worker, s.workers).map((i) => shards[order[i]]);
  const first = epochShardOrder(shards.length, shuffleShards, 0);
  const size = known ? (s.policy === 'none' ? shareOf(first).reduce((a, x) => a + x.count!, 0) : targetOf(first)) : null;
  return new Dataset<Sample>((ctx) => {
    const order = epochShardOrder(shards.length, shuffleShards, ctx.epoch);
    return new ShardSplitNode(shareOf(order), ctx, { ...shardOpts, shuffleShards: undefined }, targetOf(order), s.policy);
  }, size);
}
