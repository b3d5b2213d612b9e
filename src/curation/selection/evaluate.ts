/**
 * Evaluation of a ranking against ground truth (docs/algorithms.md §9): precision and recall of every
 * prefix, and the summary figures of the reference's correspondence-retrieval protocol: precision
 * at the number of true positives (= recall there), at the top 20 % of the pool, and the random
 * baseline (expected base rate, and one seeded random ranking).
 */
import { Rng } from '../../runtime/random.js';

export interface CutoffMetrics {
  /** Prefix length asked for. */
  size: number;
  /** Prefix length available (min of size and the ranking's length). */
  evaluated: number;
  precision: number;
  recall: number;
}

export interface EvalSummary {
  pool: number;
  positives: number;
  selected: number;
  /** positives / pool: the expected precision of a random subset of any size. */
  baseRate: number;
  atPositives: CutoffMetrics;
  /** The reference ratio: the top 20 % of the pool. */
  atRatio: CutoffMetrics & { ratio: number };
  atSelected: CutoffMetrics;
  averagePrecision: number;
  random: { atPositives: CutoffMetrics; atRatio: CutoffMetrics; seed: number };
}

export interface PrefixCurves {
  precision: Float64Array;
  recall: Float64Array;
}

/** precision[r-1], recall[r-1] of the first r ranked clips, for r = 1..length. `hits[r]` is 1 for a positive. */
export function prefixCurves(hits: ArrayLike<number>, positives: number): PrefixCurves {
  const m = hits.length;
  const precision = new Float64Array(m);
  const recall = new Float64Array(m);
  let tp = 0;
  for (let r = 0; r < m; r++) {
    tp += hits[r] ? 1 : 0;
    precision[r] = tp / (r + 1);
    recall[r] = positives > 0 ? tp / positives : 0;
  }
  return { precision, recall };
}

function cutoff(hits: ArrayLike<number>, positives: number, size: number): CutoffMetrics {
  const evaluated = Math.min(size, hits.length);
  let tp = 0;
  for (let r = 0; r < evaluated; r++) tp += hits[r] ? 1 : 0;
  return { size, evaluated, precision: evaluated > 0 ? tp / evaluated : 0, recall: positives > 0 ? tp / positives : 0 };
}

/**
 * Summarise a ranking. `hits` = truth of each ranked clip in rank order; `poolTruth` = truth of
 * every pool clip (for the counts and the random baseline).
 */
export function summarizeRanking(hits: ArrayLike<number>, poolTruth: ArrayLike<number>, opts: { ratio?: number; seed?: number } = {}): EvalSummary {
  const pool = poolTruth.length;
  let positives = 0;
  for (let i = 0; i < pool; i++) positives += poolTruth[i] ? 1 : 0;
  const ratio = opts.ratio ?? 0.2;
  const ratioSize = Math.max(1, Math.round(ratio * pool));
  const seed = opts.seed ?? 0;
  const shuffled = Uint8Array.from(poolTruth as ArrayLike<number>, (v) => (v ? 1 : 0));
  Rng.derive(seed, 'eval-random-baseline').shuffle(shuffled);
  let ap = 0;
  let tp = 0;
  for (let r = 0; r < hits.length; r++) {
    if (hits[r]) {
      tp++;
      ap += tp / (r + 1);
    }
  }
  return {
    pool,
    positives,
    selected: hits.length,
    baseRate: pool > 0 ? positives / pool : 0,
    atPositives: cutoff(hits, positives, positives),
    atRatio: { ...cutoff(hits, positives, ratioSize), ratio },
    atSelected: cutoff(hits, positives, hits.length),
    averagePrecision: positives > 0 ? ap / positives : 0,
    random: { atPositives: cutoff(shuffled, positives, positives), atRatio: cutoff(shuffled, positives, ratioSize), seed },
  };
}

function f3(x: number): string {
  return x.toFixed(3);
}

/** The printed summary (a few lines). */
export function formatSummary(s: EvalSummary, label = 'selection'): string {
  const lines = [
    `${label}: ${s.selected} selected from a pool of ${s.pool} clips, ${s.positives} of them corresponding (base rate ${f3(s.baseRate)})`,
    `  precision at the true-positive count (${s.positives}${s.atPositives.evaluated < s.positives ? `, only ${s.atPositives.evaluated} ranked` : ''}): ${f3(s.atPositives.precision)}   random: ${f3(s.baseRate)} expected, ${f3(s.random.atPositives.precision)} in one seeded draw`,
    `  precision of the top ${Math.round(s.atRatio.ratio * 100)}% of the pool (${s.atRatio.size}${s.atRatio.evaluated < s.atRatio.size ? `, only ${s.atRatio.evaluated} ranked` : ''}): ${f3(s.atRatio.precision)}   random: ${f3(s.baseRate)} expected, ${f3(s.random.atRatio.precision)} in one seeded draw`,
    `  whole selection: precision ${f3(s.atSelected.precision)}, recall ${f3(s.atSelected.recall)}; average precision ${f3(s.averagePrecision)}`,
  ];
  return lines.join('\n');
}
