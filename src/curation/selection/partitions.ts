/**
 * Partitioned selection (docs/algorithms.md §7): the pool is cut into contiguous
 * partitions (a count, or a size), each selects the same ratio independently with its own seeded
 * generator, and the ranked lists are interleaved by relative rank into one ranking. A partition's
 * result depends only on its rows, the parameters and the seed, so running partitions in one
 * process or in separate `--shard i/n` processes gives the same ranking.
 */
import { Rng } from '../../runtime/random.js';
import { shardRange } from '../../runtime/shard.js';
import { searchSubset, replayObjective, type Algorithm, type RankOrder, type RefineOptions, type RefineStats } from './algorithms.js';
import { MIObjective, SelectionInputError, validateLabels, type Estimator, type LabelMatrix } from './objective.js';

/** Everything that decides a selection besides the labels. */
export interface SelectionParams {
  algorithm: Algorithm;
  /** Flat [i0, j0, i1, j1, ...] clustering indices. */
  pairs: ArrayLike<number>;
  estimator: Estimator;
  ratio: number;
  /** Absolute total size (overrides ratio; split over partitions in proportion to their sizes). */
  size?: number;
  batchSize: number;
  batchPick: number;
  epsilon: number;
  refine: RefineOptions;
  order: RankOrder;
  seed: number;
  /** Small budgets: select this fraction of a partition when its target is smaller, then keep the head of the ranking (0 = off). */
  overselect?: number;
}

export interface Partition {
  index: number;
  /** Rows [start, end) of the pool. */
  start: number;
  end: number;
  /** Clips to select from it. */
  target: number;
}

/** Cut a pool into partitions: `partitionSize` clips each, else `count` near-equal ones. */
export function planPartitions(
  pool: number,
  opts: { count?: number; partitionSize?: number; ratio?: number; size?: number },
): Partition[] {
  if (pool === 0) throw new SelectionInputError('the pool is empty: nothing to select from');
  if (pool === 1) throw new SelectionInputError('the pool holds a single clip: selection needs at least 2 clips');
  let count = opts.count ?? 1;
  if (opts.partitionSize !== undefined) count = Math.ceil(pool / opts.partitionSize);
  if (!Number.isInteger(count) || count < 1) throw new SelectionInputError(`the number of partitions must be a positive integer, got ${count}`);
  const parts: Partition[] = [];
  for (let p = 0; p < count; p++) {
    let start: number;
    let end: number;
    if (opts.partitionSize !== undefined) {
      start = p * opts.partitionSize;
      end = Math.min(pool, start + opts.partitionSize);
    } else {
      [start, end] = shardRange(pool, p, count);
    }
    parts.push({ index: p, start, end, target: 0 });
  }
  // A trailing partition too small to select from joins its neighbour.
  if (parts.length > 1 && parts[parts.length - 1].end - parts[parts.length - 1].start < 2 && opts.partitionSize !== undefined) {
    const last = parts.pop()!;
    parts[parts.length - 1].end = last.end;
  }
  for (const part of parts) {
    if (part.end - part.start < 2) {
      throw new SelectionInputError(
        `partition ${part.index} of ${parts.length} holds ${part.end - part.start} clip(s) of a pool of ${pool}; a partition needs at least 2 (use fewer partitions)`,
      );
    }
  }
  if (opts.size !== undefined) {
    if (!Number.isInteger(opts.size) || opts.size < 1) throw new SelectionInputError(`selection size must be a positive integer, got ${opts.size}`);
    const total = Math.min(opts.size, pool);
    // Largest remainder, so the targets add up to the requested size.
    const exact = parts.map((p) => (total * (p.end - p.start)) / pool);
    const base = exact.map(Math.floor);
    let left = total - base.reduce((a, b) => a + b, 0);
    const byRemainder = parts.map((_, i) => i).sort((a, b) => exact[b] - base[b] - (exact[a] - base[a]) || a - b);
    for (const i of byRemainder) {
      if (left <= 0) break;
      base[i]++;
      left--;
    }
    parts.forEach((p, i) => (p.target = Math.max(1, Math.min(p.end - p.start, base[i]))));
  } else {
    const ratio = opts.ratio;
    if (ratio === undefined) throw new SelectionInputError('give the number of clips to select (size) or a fraction of each partition (ratio)');
    if (!(ratio > 0 && ratio <= 1)) throw new SelectionInputError(`selection ratio must be in (0, 1], got ${ratio}`);
    for (const p of parts) p.target = Math.max(1, Math.min(p.end - p.start, Math.round(ratio * (p.end - p.start))));
  }
  return parts;
}

export interface PartitionResult {
  index: number;
  start: number;
  end: number;
  target: number;
  /** Pool (global) indices of the selected clips, in the partition's rank order. */
  order: Int32Array;
  /** F of the partition's subset, measured within the partition. */
  objective: number;
  /** F after the search, before refinement. */
  searchObjective: number;
  refine: RefineStats | null;
  seconds: { search: number; refine: number; order: number };
}

/** Rows [start, end) of a label matrix as their own matrix. */
export function sliceRows(m: LabelMatrix, start: number, end: number): LabelMatrix {
  return { labels: m.labels.subarray(start * m.d, end * m.d), n: end - start, d: m.d, ks: m.ks };
}

/** The generator of one partition: depends on the seed and the partition index only. */
export function partitionRng(seed: number, partition: number): Rng {
  return Rng.derive(seed, 'selection', partition);
}

/** Select within one partition. The labels must be validated already (see validateLabels). */
export function selectPartition(
  matrix: LabelMatrix,
  params: SelectionParams,
  part: Partition,
  onProgress?: (selected: number, target: number) => void,
  onRefineProgress?: (evaluations: number, accepted: number) => void,
): PartitionResult {
  const sub = sliceRows(matrix, part.start, part.end);
  const obj = new MIObjective(sub, params.pairs, { estimator: params.estimator, trusted: true });
  const result = searchSubset(obj, {
    algorithm: params.algorithm,
    target: part.target,
    batchSize: params.batchSize,
    batchPick: params.batchPick,
    epsilon: params.epsilon,
    refine: params.refine,
    order: params.order,
    overselect: params.overselect,
    rng: partitionRng(params.seed, part.index),
    onProgress,
    onRefineProgress,
  });
  const order = new Int32Array(result.order.length);
  for (let r = 0; r < order.length; r++) order[r] = result.order[r] + part.start;
  const pickObjectives = result.pick.objectives;
  return {
    index: part.index,
    start: part.start,
    end: part.end,
    target: part.target,
    order,
    objective: result.objective,
    searchObjective: pickObjectives[pickObjectives.length - 1],
    refine: result.refine,
    seconds: result.seconds,
  };
}

/**
 * Interleave ranked lists by relative rank: a clip at rank r (0-based) of a list of m clips has
 * key (r + 0.5) / m; keys ascending, ties by partition index.
 */
export function mergeByRelativeRank(lists: ReadonlyArray<ArrayLike<number>>): Int32Array {
  const entries: Array<{ key: number; list: number; value: number }> = [];
  lists.forEach((list, li) => {
    const m = list.length;
    for (let r = 0; r < m; r++) entries.push({ key: (r + 0.5) / m, list: li, value: list[r] });
  });
  entries.sort((a, b) => a.key - b.key || a.list - b.list);
  return Int32Array.from(entries, (e) => e.value);
}

export interface MergedSelection {
  /** Pool indices in final rank order. */
  order: Int32Array;
  /** Marginal gain and running F of the ranking, measured on the whole pool. */
  gains: Float64Array;
  objectives: Float64Array;
  objective: number;
}

/** Merge partition results (any order) into the final ranking and measure it on the whole pool. */
export function mergePartitions(matrix: LabelMatrix, params: Pick<SelectionParams, 'pairs' | 'estimator'>, parts: PartitionResult[]): MergedSelection {
  const sorted = [...parts].sort((a, b) => a.index - b.index);
  const order = mergeByRelativeRank(sorted.map((p) => p.order));
  const obj = new MIObjective(matrix, params.pairs, { estimator: params.estimator, trusted: true });
  const { gains, objectives } = replayObjective(obj, order);
  return { order, gains, objectives, objective: objectives.length ? objectives[objectives.length - 1] : 0 };
}

/** The whole selection in one process: validate, plan, select every partition, merge. */
export function selectPartitioned(
  matrix: LabelMatrix,
  params: SelectionParams,
  plan: { count?: number; partitionSize?: number } = {},
): MergedSelection & { partitions: PartitionResult[] } {
  validateLabels(matrix);
  const parts = planPartitions(matrix.n, { ...plan, ratio: params.ratio, size: params.size });
  const results = parts.map((p) => selectPartition(matrix, params, p));
  return { ...mergePartitions(matrix, params, results), partitions: results };
}
