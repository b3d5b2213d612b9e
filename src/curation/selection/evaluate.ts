/**
 * Evaluation of a ranking against ground truth (docs/algorithms.md §9): precision and recall of every
 * prefix, and the summary figures of the reference's correspondence-retrieval protocol: precision
 * at the number of true positives (= recall there), at the top evaluation.topRatio of the pool, and the random
 * baseline (expected base rate, and one seeded random ranking).
 */
import { Rng } from '../../runtime/random.js';
import { CONFIG_DEFAULTS } from '../../config/defaults.js';

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
  /** The top `ratio` of the pool (evaluation.topRatio; the reference uses 0.2). */
  atRatio: CutoffMetrics & { ratio: number };
  atSelected: CutoffMetrics;
  /**
   * The head of the ranking: precision of the top 5 %, 10 % and 20 % of the pool (and of the
   * `ratio` cut-off when it is another), with the number of concepts among their true positives
   * when concepts are known.
   */
  atTop: Array<CutoffMetrics & { ratio: number; concepts?: number }>;
  /** Number of concepts among the pool's true positives (when concepts are known). */
  concepts?: number;
  averagePrecision: number;
  random: { atPositives: CutoffMetrics; atRatio: CutoffMetrics; seed: number };
  /** Which limits precision at the number of positives: the objective or the search (objectiveCheck). */
  objective?: ObjectiveCheck;
}

/**
 * The selection's objective F (its own pairs and estimator) of the first `size` ranked clips and
 * of `size` true positives, `size` = the number of positives. When the true positives score
 * higher, the search fell short of a subset the objective prefers (`limit: 'search'`: more
 * refinement or restarts could raise precision); when the ranked clips score at least as high,
 * the objective itself prefers them (`limit: 'objective'`: only better features or clusterings
 * would raise precision). When the first `size` ranked clips are the true positives, precision
 * there is 1 and `limit` is 'none'.
 */
export interface ObjectiveCheck {
  pairs: number;
  estimator: string;
  size: number;
  ranked: number;
  truth: number;
  limit: 'objective' | 'search' | 'none';
}

/** The objectiveCheck line of the printed summaries. */
export function formatObjectiveCheck(o: ObjectiveCheck): string {
  const why =
    o.limit === 'none'
      ? 'the ranked clips are the true positives'
      : o.limit === 'search'
        ? 'the true positives score higher: the search fell short of them, so more refinement could raise precision'
        : 'the objective prefers the ranked clips: better features or clusterings, not a longer search, would raise precision';
  return `objective F over the selection's ${o.pairs} pair(s): the top ${o.size} ranked ${o.ranked.toFixed(4)}, the ${o.size} true positives ${o.truth.toFixed(4)} (${why})`;
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
/** The head cut-offs reported by every evaluation (fractions of the pool). */
export const TOP_RATIOS: readonly number[] = [0.05, 0.1, 0.2];

export interface SummarizeOptions {
  /** The "top of the pool" cut-off reported besides |S| and #positives (config: evaluation.topRatio). */
  ratio: number;
  seed?: number;
  /**
   * Concept (class) of each ranked clip, aligned with `hits`, and of each pool clip, aligned with
   * `poolTruth` (e.g. the visual class): the summary then counts the concepts the head covers.
   */
  rankedConcepts?: ArrayLike<number | string | undefined>;
  poolConcepts?: ArrayLike<number | string | undefined>;
}

export function summarizeRanking(hits: ArrayLike<number>, poolTruth: ArrayLike<number>, opts: SummarizeOptions): EvalSummary {
  const pool = poolTruth.length;
  let positives = 0;
  for (let i = 0; i < pool; i++) positives += poolTruth[i] ? 1 : 0;
  const ratio = opts.ratio;
  const ratioSize = Math.max(1, Math.round(ratio * pool));
  const seed = opts.seed ?? CONFIG_DEFAULTS.seed;
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
  const ratios = [...TOP_RATIOS];
  if (!ratios.some((r) => Math.abs(r - ratio) < 1e-12)) ratios.push(ratio);
  ratios.sort((a, b) => a - b);
  const conceptsIn = (count: number): number | undefined => {
    const rc = opts.rankedConcepts;
    if (!rc) return undefined;
    const seen = new Set<number | string>();
    for (let r = 0; r < Math.min(count, hits.length); r++) if (hits[r] && rc[r] !== undefined) seen.add(rc[r]!);
    return seen.size;
  };
  let concepts: number | undefined;
  if (opts.poolConcepts) {
    const seen = new Set<number | string>();
    for (let i = 0; i < pool; i++) if (poolTruth[i] && opts.poolConcepts[i] !== undefined) seen.add(opts.poolConcepts[i]!);
    concepts = seen.size;
  }
  const atTop = ratios.map((r) => {
    const size = Math.max(1, Math.round(r * pool));
    const c = conceptsIn(size);
    return { ...cutoff(hits, positives, size), ratio: r, ...(c !== undefined ? { concepts: c } : {}) };
  });
  return {
    pool,
    positives,
    selected: hits.length,
    baseRate: pool > 0 ? positives / pool : 0,
    atPositives: cutoff(hits, positives, positives),
    atRatio: { ...cutoff(hits, positives, ratioSize), ratio },
    atSelected: cutoff(hits, positives, hits.length),
    atTop,
    ...(concepts !== undefined ? { concepts } : {}),
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
    `  head of the ranking: ${s.atTop
      .map((t) => `top ${+(t.ratio * 100).toFixed(1)}% (${t.size}${t.evaluated < t.size ? `, only ${t.evaluated} ranked` : ''}) ${f3(t.precision)}${t.concepts !== undefined ? ` [${t.concepts}${s.concepts !== undefined ? `/${s.concepts}` : ''} concepts]` : ''}`)
      .join(', ')}`,
    `  whole selection: precision ${f3(s.atSelected.precision)}, recall ${f3(s.atSelected.recall)}; average precision ${f3(s.averagePrecision)}`,
    ...(s.objective ? [`  ${formatObjectiveCheck(s.objective)}`] : []),
  ];
  return lines.join('\n');
}
