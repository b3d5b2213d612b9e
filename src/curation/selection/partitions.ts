/**
 * Partitioned selection (docs/algorithms.md §7): the pool is cut into contiguous
 * partitions (a count, or a size), each selects the same ratio independently with its own seeded
 * generator, and the ranked lists are interleaved by relative rank into one ranking. A partition's
 * result depends only on its rows, the parameters and the seed, so running partitions in one
 * process or in separate `--shard i/n` processes gives the same ranking.
 */
import { Rng } from '../../runtime/random.js';
import { CONFIG_DEFAULTS } from '../../config/defaults.js';
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
  /** Independent searches per partition, the best kept (`auto` or absent: partitionRestarts). */
  restarts?: number | 'auto';
}

/** Partitions of at most this many clips get AUTO_RESTARTS searches under `restarts: auto`. */
export const AUTO_RESTART_MAX_CLIPS = 100_000;
export const AUTO_RESTARTS = 3;

/** The number of searches for a partition of `n` clips. */
export function partitionRestarts(params: Pick<SelectionParams, 'restarts' | 'algorithm'>, n: number): number {
  if (params.algorithm === 'random') return 1;
  const r = params.restarts ?? CONFIG_DEFAULTS.selection.restarts;
  if (r === 'auto') return n <= AUTO_RESTART_MAX_CLIPS ? AUTO_RESTARTS : 1;
  return r;
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
  /** With more than one search: each one's objective, and which was kept (the first of the highest). */
  restarts?: { objectives: number[]; kept: number };
}

/** Rows [start, end) of a label matrix as their own matrix. */
export function sliceRows(m: LabelMatrix, start: number, end: number): LabelMatrix {
  return { labels: m.labels.subarray(start * m.d, end * m.d), n: end - start, d: m.d, ks: m.ks };
}

/**
 * The generator of one partition's search: depends on the seed, the partition index and the
 * restart only (restart 0 is the stream a single search has always used).
 */
export function partitionRng(seed: number, partition: number, restart?: number): Rng {
  return !restart ? Rng.derive(seed, 'selection', partition) : Rng.derive(seed, 'selection', partition, 'restart', restart);
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
  const runs = partitionRestarts(params, sub.n);
  let result: ReturnType<typeof searchSubset> | undefined;
  const objectives: number[] = [];
  const seconds = { search: 0, refine: 0, order: 0 };
  let kept = 0;
  for (let r = 0; r < runs; r++) {
    const obj = new MIObjective(sub, params.pairs, { estimator: params.estimator, trusted: true });
    // Progress over all the searches: the r-th counts after the r before it.
    const progress = onProgress && ((selected: number, target: number) => onProgress(r * target + selected, runs * target));
    const run = searchSubset(obj, {
      algorithm: params.algorithm,
      target: part.target,
      batchSize: params.batchSize,
      batchPick: params.batchPick,
      epsilon: params.epsilon,
      refine: params.refine,
      order: params.order,
      overselect: params.overselect,
      rng: partitionRng(params.seed, part.index, r),
      onProgress: progress,
      onRefineProgress,
    });
    objectives.push(run.objective);
    seconds.search += run.seconds.search;
    seconds.refine += run.seconds.refine;
    seconds.order += run.seconds.order;
    if (!result || run.objective > result.objective) {
      result = run;
      kept = r;
    }
  }
  result = result!;
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
    seconds,
    ...(runs > 1 ? { restarts: { objectives, kept } } : {}),
  };
}

/**
 * Interleave ranked lists by relative rank: a clip at rank r (0-based) of a list of m clips has
 * key (r + 0.5) / m; keys ascending, ties by list index. A k-way merge through a binary heap of
 * the lists' heads: O(total · log lists) time and no memory beyond the output (keys within a list
 * strictly increase, so this is the order of sorting every (key, list) entry).
 */
export function mergeByRelativeRank(lists: ReadonlyArray<ArrayLike<number>>): Int32Array {
  let total = 0;
  for (const l of lists) total += l.length;
  const out = new Int32Array(total);
  const head = new Int32Array(lists.length);
  const key = (li: number) => (head[li] + 0.5) / lists[li].length;
  const before = (a: number, b: number) => {
    const ka = key(a);
    const kb = key(b);
    return ka < kb || (ka === kb && a < b);
  };
  const heap: number[] = [];
  const down = (i: number) => {
    for (;;) {
      const l = 2 * i + 1;
      if (l >= heap.length) return;
      const c = l + 1 < heap.length && before(heap[l + 1], heap[l]) ? l + 1 : l;
      if (!before(heap[c], heap[i])) return;
      [heap[c], heap[i]] = [heap[i], heap[c]];
      i = c;
    }
  };
  lists.forEach((l, li) => {
    if (l.length > 0) heap.push(li);
  });
  for (let i = (heap.length >> 1) - 1; i >= 0; i--) down(i);
  for (let w = 0; w < total; w++) {
    const li = heap[0];
    out[w] = lists[li][head[li]++];
    if (head[li] === lists[li].length) {
      heap[0] = heap[heap.length - 1];
      heap.pop();
    }
    if (heap.length > 0) down(0);
  }
  return out;
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

/**
 * The merge of `mergePartitions` without the whole pool's labels: F of a ranking's prefixes
 * depends only on the labels of the ranked clips, so the replay runs on those rows alone
 * (`labelsOf(rows)`: the label rows of the given pool rows, strictly ascending, as a matrix) and
 * gives the same gains and objectives, bit for bit (the estimator's increment table does not
 * depend on the pool size). Memory follows the selection, not the pool.
 * Returns, besides the merged selection, `rows` (the selected pool rows, ascending) and `at`
 * (rank → position in `rows`).
 */
export async function mergePartitionsSelected(
  params: Pick<SelectionParams, 'pairs' | 'estimator'>,
  parts: PartitionResult[],
  labelsOf: (rows: Int32Array) => Promise<LabelMatrix>,
): Promise<MergedSelection & { rows: Int32Array; at: Int32Array }> {
  const sorted = [...parts].sort((a, b) => a.index - b.index);
  const order = mergeByRelativeRank(sorted.map((p) => p.order));
  const rows = Int32Array.from(order).sort();
  for (let i = 1; i < rows.length; i++) {
    if (rows[i] === rows[i - 1]) throw new SelectionInputError(`the partition results select pool row ${rows[i]} twice (overlapping partition files: delete the selection folder and rerun)`);
  }
  const at = new Int32Array(order.length);
  for (let r = 0; r < order.length; r++) {
    let lo = 0;
    let hi = rows.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (rows[mid] < order[r]) lo = mid + 1;
      else hi = mid;
    }
    at[r] = lo;
  }
  const sub = await labelsOf(rows);
  if (sub.n !== rows.length) throw new Error(`labelsOf returned ${sub.n} rows for ${rows.length}`);
  const obj = new MIObjective(sub, params.pairs, { estimator: params.estimator, trusted: true });
  const { gains, objectives } = replayObjective(obj, at);
  return { order, gains, objectives, objective: objectives.length ? objectives[objectives.length - 1] : 0, rows, at };
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
