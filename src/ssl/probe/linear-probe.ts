/**
 * Linear probing of frozen embeddings: for every split, standardise with statistics of the
 * training rows, choose the L2 strength on a stratified validation part of the training rows,
 * refit on all training rows with that strength, and score the test rows (top-1 and top-k).
 */
import { Rng } from '../../runtime/random.js';
import { Standardizer, fitLogReg, predictScores, topKAccuracy, type Matrix, type LogRegModel } from './logreg.js';
import { stratifiedHoldout, type ProbeSplit } from './splits.js';
import { CONFIG_DEFAULTS } from '../../config/defaults.js';

export interface LinearProbeOptions {
  /** Candidate L2 strengths (default: probe.lambdas). */
  lambdas?: number[];
  /** Fraction of each training set held out to choose lambda (default: probe.valFraction). */
  valFraction?: number;
  /** L-BFGS iteration cap per fit (default: probe.maxIter). */
  maxIter?: number;
  /** Seed for the validation hold-outs (default: the config's seed). */
  seed?: number;
  /** The k of top-k accuracy besides top-1 (default: probe.topK). */
  topK?: number;
}

export const DEFAULT_LAMBDAS: readonly number[] = CONFIG_DEFAULTS.probe.lambdas;

export interface SplitResult {
  split: string;
  trainSize: number;
  testSize: number;
  /** The chosen L2 strength. */
  lambda: number;
  /** Validation top-1 for each candidate lambda, in the order tried. */
  validation: Array<{ lambda: number; top1: number }>;
  top1: number;
  topK: number;
  /** Whether the final L-BFGS fit met its tolerance. */
  converged: boolean;
}

export interface ProbeResult {
  /** Mean over splits. */
  top1: number;
  topK: number;
  /** Standard deviation over splits (population), 0 for one split. */
  top1Std: number;
  k: number;
  classes: number;
  dim: number;
  chance: number;
  splits: SplitResult[];
}

function subsetLabels(y: ArrayLike<number>, rows: ArrayLike<number>): Int32Array {
  const out = new Int32Array(rows.length);
  for (let i = 0; i < rows.length; i++) out[i] = y[rows[i]];
  return out;
}

/**
 * Choose lambda on a validation hold-out of `trainRows`: fit the grid from strongest to weakest
 * (each fit warm-started from the previous), keep the best validation top-1; ties go to the
 * stronger penalty.
 */
export function chooseLambda(
  x: Matrix,
  y: ArrayLike<number>,
  classes: number,
  trainRows: ArrayLike<number>,
  opts: { lambdas: readonly number[]; valFraction: number; maxIter: number; rng: Rng },
): { lambda: number; validation: Array<{ lambda: number; top1: number }> } {
  const grid = [...opts.lambdas].sort((a, b) => b - a);
  if (grid.length === 0) throw new Error('chooseLambda: empty lambda grid');
  if (grid.length === 1) return { lambda: grid[0], validation: [] };
  const { train, held } = stratifiedHoldout(y, trainRows, opts.valFraction, opts.rng);
  if (held.length === 0 || train.length === 0) return { lambda: grid[0], validation: [] };
  const std = Standardizer.fit(x, train);
  const xt = std.transform(x, train);
  const xv = std.transform(x, held);
  const yt = subsetLabels(y, train);
  const yv = subsetLabels(y, held);
  const validation: Array<{ lambda: number; top1: number }> = [];
  let best = grid[0];
  let bestAcc = -1;
  let prev: LogRegModel | undefined;
  for (const lambda of grid) {
    const model = fitLogReg(xt, yt, classes, { lambda, maxIter: opts.maxIter, init: prev?.params });
    prev = model;
    const acc = topKAccuracy(predictScores(model, xv), yv, classes, 1);
    validation.push({ lambda, top1: acc });
    if (acc > bestAcc) {
      bestAcc = acc;
      best = lambda;
    }
  }
  return { lambda: best, validation };
}

/**
 * Probe `x` (n rows of embeddings) against `labels` (class indices in [0, classes)) over the
 * given splits. Returns the mean accuracies and every split's details.
 */
export function linearProbe(x: Matrix, labels: ArrayLike<number>, classes: number, splits: ProbeSplit[], opts: LinearProbeOptions = {}): ProbeResult {
  if (labels.length !== x.rows) throw new Error(`linearProbe: ${x.rows} embeddings but ${labels.length} labels`);
  if (splits.length === 0) throw new Error('linearProbe: no splits');
  const k = opts.topK ?? CONFIG_DEFAULTS.probe.topK;
  const lambdas = opts.lambdas ?? DEFAULT_LAMBDAS;
  const valFraction = opts.valFraction ?? CONFIG_DEFAULTS.probe.valFraction;
  const maxIter = opts.maxIter ?? CONFIG_DEFAULTS.probe.maxIter;
  const results: SplitResult[] = [];
  for (const split of splits) {
    if (split.train.length === 0 || split.test.length === 0) {
      throw new Error(`linearProbe: split "${split.name}" has ${split.train.length} training and ${split.test.length} test items`);
    }
    const rng = Rng.derive(opts.seed ?? CONFIG_DEFAULTS.seed, 'probe-validation', split.name);
    const { lambda, validation } = chooseLambda(x, labels, classes, split.train, { lambdas, valFraction, maxIter, rng });
    const std = Standardizer.fit(x, split.train);
    const xt = std.transform(x, split.train);
    const xs = std.transform(x, split.test);
    const yt = subsetLabels(labels, split.train);
    const ys = subsetLabels(labels, split.test);
    const model = fitLogReg(xt, yt, classes, { lambda, maxIter });
    const scores = predictScores(model, xs);
    results.push({
      split: split.name,
      trainSize: split.train.length,
      testSize: split.test.length,
      lambda,
      validation,
      top1: topKAccuracy(scores, ys, classes, 1),
      topK: topKAccuracy(scores, ys, classes, k),
      converged: model.converged,
    });
  }
  const top1s = results.map((r) => r.top1);
  const mean = top1s.reduce((a, b) => a + b, 0) / top1s.length;
  const variance = top1s.reduce((a, b) => a + (b - mean) ** 2, 0) / top1s.length;
  return {
    top1: mean,
    topK: results.reduce((a, r) => a + r.topK, 0) / results.length,
    top1Std: Math.sqrt(variance),
    k,
    classes,
    dim: x.cols,
    chance: 1 / classes,
    splits: results,
  };
}

function stackRows(a: Matrix, b: Matrix, rows: ArrayLike<number>): Matrix {
  const d = a.cols;
  const out = new Float64Array(2 * rows.length * d);
  for (let i = 0; i < rows.length; i++) {
    out.set(a.data.subarray(rows[i] * d, (rows[i] + 1) * d), i * d);
    out.set(b.data.subarray(rows[i] * d, (rows[i] + 1) * d), (rows.length + i) * d);
  }
  return { data: out, rows: 2 * rows.length, cols: d };
}

/**
 * Cross-modal transfer probe on embeddings in one shared space (the projection heads): a linear
 * classifier trained on one modality's embeddings of the training clips is tested on the other
 * modality's embeddings of the test clips, both ways (audio→visual and visual→audio); a split's
 * score is the mean of the two directions. It is high only when the two encoders map a clip's
 * sound and picture to the same place, which is what audio-visual correspondence in the
 * pretraining data teaches. Standardisation is fitted on both modalities' training rows together;
 * lambda is chosen on a validation part of the training modality.
 */
export function crossModalProbe(audio: Matrix, visual: Matrix, labels: ArrayLike<number>, classes: number, splits: ProbeSplit[], opts: LinearProbeOptions = {}): ProbeResult & { directions: { a2v: number; v2a: number } } {
  if (audio.cols !== visual.cols) throw new Error(`crossModalProbe: audio (${audio.cols}) and visual (${visual.cols}) embeddings must share one space (probe.layer: head)`);
  if (audio.rows !== visual.rows || audio.rows !== labels.length) throw new Error(`crossModalProbe: ${audio.rows} audio rows, ${visual.rows} visual rows, ${labels.length} labels`);
  const k = opts.topK ?? CONFIG_DEFAULTS.probe.topK;
  const lambdas = opts.lambdas ?? DEFAULT_LAMBDAS;
  const valFraction = opts.valFraction ?? CONFIG_DEFAULTS.probe.valFraction;
  const maxIter = opts.maxIter ?? CONFIG_DEFAULTS.probe.maxIter;
  const results: SplitResult[] = [];
  let a2vSum = 0;
  let v2aSum = 0;
  for (const split of splits) {
    if (split.train.length === 0 || split.test.length === 0) throw new Error(`crossModalProbe: split "${split.name}" is empty`);
    const both = stackRows(audio, visual, split.train);
    const std = Standardizer.fit(both);
    const yt = subsetLabels(labels, split.train);
    const ys = subsetLabels(labels, split.test);
    const dirs: Array<{ top1: number; topK: number; lambda: number; validation: SplitResult['validation']; converged: boolean }> = [];
    for (const [from, to] of [[audio, visual], [visual, audio]] as const) {
      const rng = Rng.derive(opts.seed ?? CONFIG_DEFAULTS.seed, 'probe-validation', split.name, from === audio ? 'a2v' : 'v2a');
      const fromStd = std.transform(from);
      const { lambda, validation } = chooseLambda(fromStd, labels, classes, split.train, { lambdas, valFraction, maxIter, rng });
      const model = fitLogReg(std.transform(from, split.train), yt, classes, { lambda, maxIter });
      const scores = predictScores(model, std.transform(to, split.test));
      dirs.push({ top1: topKAccuracy(scores, ys, classes, 1), topK: topKAccuracy(scores, ys, classes, k), lambda, validation, converged: model.converged });
    }
    a2vSum += dirs[0].top1;
    v2aSum += dirs[1].top1;
    results.push({
      split: split.name,
      trainSize: split.train.length,
      testSize: split.test.length,
      lambda: dirs[0].lambda,
      validation: dirs[0].validation,
      top1: (dirs[0].top1 + dirs[1].top1) / 2,
      topK: (dirs[0].topK + dirs[1].topK) / 2,
      converged: dirs[0].converged && dirs[1].converged,
    });
  }
  const top1s = results.map((r) => r.top1);
  const mean = top1s.reduce((a, b) => a + b, 0) / top1s.length;
  return {
    top1: mean,
    topK: results.reduce((a, r) => a + r.topK, 0) / results.length,
    top1Std: Math.sqrt(top1s.reduce((a, b) => a + (b - mean) ** 2, 0) / top1s.length),
    k,
    classes,
    dim: audio.cols,
    chance: 1 / classes,
    splits: results,
    directions: { a2v: a2vSum / splits.length, v2a: v2aSum / splits.length },
  };
}
