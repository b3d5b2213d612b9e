/**
 * Dataset<T>: an immutable, re-iterable description of a pipeline (after tfjs-data). Every
 * transform returns a new Dataset and carries the size forward where it is known. Iterating makes
 * a fresh chain of stateful nodes; `iterator(state)` makes one that continues from a saved state.
 *
 * Each transform lives in its own module as a Stage (a node maker and a size rule, below this
 * class: no stage module imports it, as tfjs-data keeps its iterators below its Dataset); the
 * fluent methods here apply them (`ds.shuffle(1000, seed)`), and ../functions.ts offers the same
 * as plain functions (`shuffle(ds, 1000, seed)`), as in WebDataset.
 */
import type { Node, NodeContext, NodeFactory, NodeState, Stage, StageReport } from './node.js';
import { mapStage, filterStage, mapParallelStage, type MapFn, type ParallelMapOptions } from '../stages/map.js';
import { shuffleStage } from '../shuffle/buffer.js';
import { batchStage, type BatchOptions, type Collated } from '../batching/batch.js';
import { prefetchStage } from '../stages/prefetch.js';
import { repeatStage, takeStage } from '../stages/repeat.js';
import { decodeStage, type DecodeSpec, type DecodedItem } from '../decode/decode.js';
import { augmentStage, type Augmentable, type AugmentSpec } from '../augment/augment.js';
import { splitByRankStage, splitByWorkerStage, type SplitOptions } from '../partition/split.js';

/** Pipeline state: a small JSON object. Save it with JSON.stringify; pass it to `iterator(state)`. */
export interface PipelineState {
  format: 'avcurate-loader-state';
  version: 1;
  /** Items delivered so far by this iterator (including those before a restore). */
  delivered: number;
  root: NodeState;
}

export class Dataset<T> implements AsyncIterable<T> {
  /** Number of items, null when unknown (after filter, for example), Infinity when endless. */
  readonly size: number | null;
  private readonly factory: NodeFactory<T>;

  constructor(factory: NodeFactory<T>, size: number | null = null) {
    this.factory = factory;
    this.size = size;
  }

  /** A new dataset whose nodes wrap this dataset's nodes (used by every transform). */
  derive<U>(make: (upstream: NodeFactory<T>, ctx: NodeContext) => Node<U>, size: number | null): Dataset<U> {
    const upstream = this.factory;
    return new Dataset<U>((ctx) => make(upstream, ctx), size);
  }

  /** A new dataset with `stage` applied to this one's items. */
  apply<U>(stage: Stage<T, U>): Dataset<U> {
    return this.derive((up, ctx) => stage.make(up, ctx), stage.size(this.size));
  }

  /** The node factory (for stages that need to make fresh upstream nodes, such as repeat). */
  get makeNode(): NodeFactory<T> {
    return this.factory;
  }

  /** A stateful iterator; with `state`, it continues exactly where that state was saved. */
  iterator(state?: PipelineState, ctx: NodeContext = { epoch: 0 }): DatasetIterator<T> {
    const node = this.factory(ctx);
    let delivered = 0;
    if (state !== undefined) {
      if (state?.format !== 'avcurate-loader-state' || state.version !== 1) {
        throw new Error('not a loader state (expected format "avcurate-loader-state", version 1)');
      }
      node.restore(state.root);
      delivered = state.delivered;
    }
    return new DatasetIterator(node, delivered);
  }

  [Symbol.asyncIterator](): AsyncIterator<T> {
    return this.iterator();
  }

  async toArray(limit = Infinity): Promise<T[]> {
    const out: T[] = [];
    if (limit <= 0) return out;
    const it = this.iterator();
    try {
      for (;;) {
        const r = await it.next();
        if (r.done) break;
        out.push(r.value);
        if (out.length >= limit) break;
      }
    } finally {
      await it.close();
    }
    return out;
  }

  map<U>(fn: MapFn<T, U>): Dataset<U> {
    return this.apply(mapStage(fn));
  }

  /** Map with up to `concurrency` calls in flight; output order is input order. */
  mapParallel<U>(fn: MapFn<T, U>, opts: ParallelMapOptions): Dataset<U> {
    return this.apply(mapParallelStage(fn, opts));
  }

  filter(pred: (item: T, index: number) => boolean | Promise<boolean>): Dataset<T> {
    return this.apply(filterStage(pred));
  }

  shuffle(bufferSize: number, seed: number): Dataset<T> {
    return this.apply(shuffleStage<T>(bufferSize, seed));
  }

  batch(size: number, opts: BatchOptions = {}): Dataset<Collated<T>> {
    return this.apply(batchStage<T>(size, opts));
  }

  prefetch(n: number): Dataset<T> {
    return this.apply(prefetchStage<T>(n));
  }

  /** Repeat for `epochs` passes (default: forever). Stages made per pass see ctx.epoch. */
  repeat(epochs = Infinity): Dataset<T> {
    return this.apply(repeatStage<T>(epochs));
  }

  take(n: number): Dataset<T> {
    return this.apply(takeStage<T>(n));
  }

  /** Decode clips (shard samples with a video member, or clip records) to frames and audio. */
  decode(spec: DecodeSpec): Dataset<DecodedItem> {
    return this.apply(decodeStage<T>(spec));
  }

  /** Random crop/flip, audio gain/shift, spectrogram masking (seeded per item and epoch). */
  augment(spec: AugmentSpec): Dataset<T> {
    return (this as unknown as Dataset<Augmentable>).apply(augmentStage(spec)) as unknown as Dataset<T>;
  }

  splitByRank(rank: number, world: number, opts: SplitOptions = {}): Dataset<T> {
    return this.apply(splitByRankStage<T>(rank, world, opts));
  }

  splitByWorker(worker: number, workers: number, opts: SplitOptions = {}): Dataset<T> {
    return this.apply(splitByWorkerStage<T>(worker, workers, opts));
  }
}

/** A running pipeline: an async iterator with getState() and skip reports. */
export class DatasetIterator<T> implements AsyncIterableIterator<T> {
  private readonly node: Node<T>;
  private delivered: number;
  private closed = false;

  constructor(node: Node<T>, delivered = 0) {
    this.node = node;
    this.delivered = delivered;
  }

  async next(): Promise<IteratorResult<T, undefined>> {
    if (this.closed) return { done: true, value: undefined };
    const r = await this.node.next();
    if (!r.done) this.delivered++;
    return r;
  }

  /** The state after the last item returned: JSON, small, enough to continue exactly. */
  getState(): PipelineState {
    return { format: 'avcurate-loader-state', version: 1, delivered: this.delivered, root: this.node.getState() };
  }

  /** Items dropped under onError: 'skip', per stage (only stages that can skip are listed). */
  reports(): StageReport[] {
    return this.node.reports();
  }

  /** Total items skipped by all stages. */
  skipped(): number {
    return this.reports().reduce((a, r) => a + r.skipped, 0);
  }

  get count(): number {
    return this.delivered;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.node.close?.();
  }

  async return(): Promise<IteratorResult<T, undefined>> {
    await this.close();
    return { done: true, value: undefined };
  }

  [Symbol.asyncIterator](): AsyncIterableIterator<T> {
    return this;
  }
}
