import { describe, expect, it } from 'vitest';
import { Rng } from '../../../src/runtime/random.js';
import { Standardizer, fitLogReg, predictScores, topKAccuracy, toMatrix, type Matrix } from '../../../src/ssl/probe/logreg.js';
import { crossModalProbe, linearProbe } from '../../../src/ssl/probe/linear-probe.js';
import { fewShotSplits, foldsToSplits, resolveSplits, stratifiedFolds, stratifiedHoldout } from '../../../src/ssl/probe/splits.js';
import { modalityMatrix, probeModalities } from '../../../src/ssl/probe/embeddings.js';

/** n points in d dims, labelled by argmax of a random linear map (a linearly separable labelling). */
function separable(n: number, d: number, classes: number, seed: number): { x: Matrix; y: Int32Array } {
  const rng = new Rng(seed);
  const w = Array.from({ length: d * classes }, () => rng.normal());
  const data = new Float64Array(n * d);
  const y = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < d; j++) data[i * d + j] = rng.normal() * (j % 3 === 0 ? 10 : 0.1) + 5; // uneven scales, offset
    let best = -Infinity;
    for (let c = 0; c < classes; c++) {
      let s = 0;
      for (let j = 0; j < d; j++) s += (data[i * d + j] - 5) / (j % 3 === 0 ? 10 : 0.1) * w[j * classes + c];
      if (s > best) {
        best = s;
        y[i] = c;
      }
    }
  }
  return { x: { data, rows: n, cols: d }, y };
}

/** Well-separated Gaussian blobs: class means far apart relative to the noise. */
function blobs(n: number, d: number, classes: number, seed: number): { x: Matrix; y: Int32Array } {
  const rng = new Rng(seed);
  const means = Array.from({ length: classes }, () => Array.from({ length: d }, () => rng.normal() * 6));
  const data = new Float64Array(n * d);
  const y = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    y[i] = i % classes;
    for (let j = 0; j < d; j++) data[i * d + j] = means[y[i]][j] + rng.normal();
  }
  return { x: { data, rows: n, cols: d }, y };
}

describe('logistic regression', () => {
  it('converges to a stationary point (gradient near zero) and fits a separable training set', () => {
    const { x, y } = separable(300, 8, 4, 1);
    const std = Standardizer.fit(x);
    const xs = std.transform(x);
    const model = fitLogReg(xs, y, 4, { lambda: 1e-3, maxIter: 500 });
    expect(model.converged).toBe(true);
    expect(topKAccuracy(predictScores(model, xs), y, 4, 1)).toBeGreaterThan(0.97);
    // Stronger penalty: smaller weights, higher loss.
    const strong = fitLogReg(xs, y, 4, { lambda: 1 });
    const norm = (p: Float64Array) => p.slice(0, 8 * 4).reduce((a, b) => a + b * b, 0);
    expect(norm(strong.params)).toBeLessThan(norm(model.params));
  });

  it('matches the closed form of a two-point problem', () => {
    // One feature, points x=+1 (class 1) and x=-1 (class 0), lambda fixed: the optimum is symmetric.
    const x = toMatrix([1, -1], 2, 1);
    const m = fitLogReg(x, [1, 0], 2, { lambda: 0.1, gradTol: 1e-10, maxIter: 1000 });
    const w = m.params[1] - m.params[0]; // margin weight
    const b = m.params[3] - m.params[2];
    expect(Math.abs(b)).toBeLessThan(1e-6);
    // Stationarity for the binary form: (1 - sigmoid(w)) = lambda * w / 2 * 2 ... check numerically.
    const s = 1 / (1 + Math.exp(-w));
    // d/dw of [log(1+e^{-w})] + (lambda/2) * (w0^2 + w1^2) with w0 = -w1 = -w/2: -(1-s) + lambda*w/2 = 0
    expect(-(1 - s) + (0.1 * w) / 2).toBeCloseTo(0, 6);
  });

  it('is deterministic', () => {
    const { x, y } = blobs(120, 5, 3, 2);
    const a = fitLogReg(x, y, 3, { lambda: 0.01 });
    const b = fitLogReg(x, y, 3, { lambda: 0.01 });
    expect(Array.from(a.params)).toEqual(Array.from(b.params));
  });

  it('refuses bad labels and non-finite values with a clear message', () => {
    expect(() => fitLogReg(toMatrix([1, 2], 2, 1), [0, 3], 2, { lambda: 1 })).toThrow(/label 3 at row 1/);
    expect(() => toMatrix([1, NaN], 2, 1)).toThrow(/row 1/);
  });

  it('top-k accuracy counts the true class among the k best', () => {
    const scores = Float64Array.from([0.1, 0.5, 0.4, 0.9, 0.05, 0.05]); // 2 rows x 3 classes
    expect(topKAccuracy(scores, [2, 2], 3, 1)).toBe(0);
    // Row 1's true class ties class 1, which ranks first (lower index): a miss at k = 2.
    expect(topKAccuracy(scores, [2, 2], 3, 2)).toBe(0.5);
    expect(topKAccuracy(scores, [2, 2], 3, 3)).toBe(1);
    expect(topKAccuracy(scores, [1, 0], 3, 1)).toBe(1);
  });
});

describe('linear probe', () => {
  it('recovers a linearly separable labelling with accuracy 1.0 (5 folds)', () => {
    const { x, y } = blobs(250, 16, 5, 3);
    const splits = foldsToSplits(stratifiedFolds(y, 5, new Rng(0)));
    const r = linearProbe(x, y, 5, splits, { seed: 1 });
    expect(r.top1).toBe(1);
    expect(r.topK).toBe(1);
    expect(r.splits).toHaveLength(5);
    expect(r.top1Std).toBe(0);
  });

  it('recovers an argmax-of-linear-map labelling nearly perfectly on unseen points', () => {
    const { x, y } = separable(600, 6, 3, 4);
    const splits = resolveSplits({ labels: y }, { kind: 'holdout', testFraction: 0.25 }, new Rng(5));
    const r = linearProbe(x, y, 3, splits, { seed: 2, lambdas: [1e-6, 1e-5, 1e-4] });
    expect(r.top1).toBeGreaterThan(0.95);
  });

  it('sits at chance on shuffled labels', () => {
    const { x, y } = blobs(600, 16, 4, 6);
    const shuffled = new Rng(7).shuffle(Int32Array.from(y));
    const splits = foldsToSplits(stratifiedFolds(shuffled, 5, new Rng(0)));
    const r = linearProbe(x, shuffled, 4, splits, { seed: 3 });
    expect(r.chance).toBe(0.25);
    expect(Math.abs(r.top1 - 0.25)).toBeLessThan(0.07);
    // The true labels on the same features are recovered: the probe is not just broken.
    expect(linearProbe(x, y, 4, splits, { seed: 3 }).top1).toBe(1);
  });

  it('tries the lambda grid from strongest to weakest and keeps the best validation score', () => {
    const rng = new Rng(8);
    const n = 200;
    const d = 40;
    const noise = new Float64Array(n * d).map(() => rng.normal());
    const labels = Int32Array.from({ length: n }, (_, i) => i % 2);
    const split = [{ name: 'all', train: Array.from({ length: 150 }, (_, i) => i), test: Array.from({ length: 50 }, (_, i) => 150 + i) }];
    const r = linearProbe({ data: noise, rows: n, cols: d }, labels, 2, split, { seed: 4 });
    expect(r.splits[0].validation).toHaveLength(6);
    const v = r.splits[0].validation;
    expect(v.map((e) => e.lambda)).toEqual([1, 1e-1, 1e-2, 1e-3, 1e-4, 1e-5]);
    const best = Math.max(...v.map((e) => e.top1));
    expect(r.splits[0].lambda).toBe(v.find((e) => e.top1 === best)!.lambda); // first (strongest) of the best
  });

  it('probes audio, visual and both concatenated', () => {
    const n = 120;
    const rng = new Rng(9);
    const y = Int32Array.from({ length: n }, (_, i) => i % 3);
    // audio carries the label, visual is noise.
    const audio = new Float32Array(n * 4).map((_, k) => (k % 4 === 0 ? y[Math.floor(k / 4)] * 5 : 0) + rng.normal());
    const visual = new Float32Array(n * 3).map(() => rng.normal());
    const emb = { count: n, audio, audioDim: 4, visual, visualDim: 3 };
    expect(modalityMatrix(emb, 'both').cols).toBe(7);
    expect(modalityMatrix(emb, 'both').data[4]).toBeCloseTo(visual[0], 6);
    const splits = foldsToSplits(stratifiedFolds(y, 3, new Rng(1)));
    const r = probeModalities(emb, y, 3, splits, ['audio', 'visual', 'both'], { seed: 1 });
    expect(r.audio!.top1).toBeGreaterThan(0.95);
    expect(r.visual!.top1).toBeLessThan(0.6);
    expect(r.both!.top1).toBeGreaterThan(0.9);
    expect(() => probeModalities({ count: n, audio, audioDim: 4 }, y, 3, splits, ['visual'])).toThrow(/none of the modalities/);
  });
});

describe('cross-modal probe', () => {
  function shared(n: number, d: number, classes: number, permuteVisual: boolean, seed: number) {
    const rng = new Rng(seed);
    const means = Array.from({ length: classes }, () => Array.from({ length: d }, () => rng.normal() * 4));
    const y = Int32Array.from({ length: n }, (_, i) => i % classes);
    const audio = new Float32Array(n * d);
    const visual = new Float32Array(n * d);
    for (let i = 0; i < n; i++) {
      const vc = permuteVisual ? (y[i] + 1) % classes : y[i];
      for (let j = 0; j < d; j++) {
        audio[i * d + j] = means[y[i]][j] + rng.normal();
        visual[i * d + j] = means[vc][j] + rng.normal();
      }
    }
    return { y, audio, visual };
  }

  it('transfers across modalities when the two embeddings are aligned, and fails when they are not', () => {
    const splits = (y: Int32Array) => foldsToSplits(stratifiedFolds(y, 3, new Rng(0)));
    const a = shared(90, 8, 3, false, 1);
    const aligned = crossModalProbe(toMatrix(a.audio, 90, 8), toMatrix(a.visual, 90, 8), a.y, 3, splits(a.y), { seed: 1 });
    expect(aligned.top1).toBe(1);
    expect(aligned.directions).toEqual({ a2v: 1, v2a: 1 });
    const m = shared(90, 8, 3, true, 1);
    const misaligned = crossModalProbe(toMatrix(m.audio, 90, 8), toMatrix(m.visual, 90, 8), m.y, 3, splits(m.y), { seed: 1 });
    expect(misaligned.top1).toBeLessThan(0.1); // systematically wrong class: below chance (1/3)
    // within each modality the classes are still perfectly separable
    expect(linearProbe(toMatrix(m.visual, 90, 8), m.y, 3, splits(m.y)).top1).toBe(1);
    // through probeModalities, with the shared space given separately
    const r = probeModalities({ count: 90, audio: m.audio, audioDim: 8, visual: m.visual, visualDim: 8 }, m.y, 3, splits(m.y), ['audio', 'cross'], { seed: 1 }, { count: 90, audio: a.audio, audioDim: 8, visual: a.visual, visualDim: 8 });
    expect(r.audio!.top1).toBe(1);
    expect(r.cross!.top1).toBe(1);
    expect(() => crossModalProbe(toMatrix(a.audio, 90, 8), toMatrix(a.visual.slice(0, 90 * 4), 90, 4), a.y, 3, splits(a.y))).toThrow(/share one space/);
  });
});

describe('splits', () => {
  it('stratified folds balance classes and cover every item once', () => {
    const y = Int32Array.from({ length: 103 }, (_, i) => i % 4);
    const folds = stratifiedFolds(y, 5, new Rng(1));
    const splits = foldsToSplits(folds);
    expect(splits).toHaveLength(5);
    const tested = splits.flatMap((s) => s.test).sort((a, b) => a - b);
    expect(tested).toEqual(Array.from({ length: 103 }, (_, i) => i));
    for (const s of splits) {
      expect(s.train.length + s.test.length).toBe(103);
      const perClass = [0, 1, 2, 3].map((c) => s.test.filter((i) => y[i] === c).length);
      expect(Math.max(...perClass) - Math.min(...perClass)).toBeLessThanOrEqual(1);
    }
  });

  it('holdout keeps every class in train and holds out about the fraction', () => {
    const y = Int32Array.from({ length: 100 }, (_, i) => (i < 90 ? i % 3 : 3));
    const { train, held } = stratifiedHoldout(y, Array.from({ length: 100 }, (_, i) => i), 0.2, new Rng(2));
    expect(train.length + held.length).toBe(100);
    expect(held.length).toBe(20);
    for (let c = 0; c < 4; c++) expect(train.some((i) => y[i] === c)).toBe(true);
  });

  it('uses the dataset folds and refuses a mismatched k', () => {
    const labels = [0, 1, 0, 1, 0, 1];
    const folds = [1, 1, 2, 2, 3, 3];
    const splits = resolveSplits({ labels, folds }, { kind: 'folds', k: 3 }, new Rng(0));
    expect(splits.map((s) => s.test)).toEqual([[0, 1], [2, 3], [4, 5]]);
    expect(() => resolveSplits({ labels, folds }, { kind: 'folds', k: 5 }, new Rng(0))).toThrow(/defines 3 folds/);
    expect(() => resolveSplits({ labels }, { kind: 'predefined' }, new Rng(0))).toThrow(/defines no splits/);
  });

  it('few-shot episodes train on exactly n items per class and test on all the others', () => {
    const y = Int32Array.from({ length: 40 }, (_, i) => i % 4);
    const splits = resolveSplits({ labels: y }, { kind: 'fewshot', shots: 2, episodes: 6 }, new Rng(3));
    expect(splits).toHaveLength(6);
    for (const s of splits) {
      expect([0, 1, 2, 3].map((c) => s.train.filter((i) => y[i] === c).length)).toEqual([2, 2, 2, 2]);
      expect([...s.train, ...s.test].sort((a, b) => a - b)).toEqual(Array.from({ length: 40 }, (_, i) => i));
    }
    // episodes differ, and the same seed gives the same episodes
    expect(new Set(splits.map((s) => s.train.join(','))).size).toBeGreaterThan(1);
    expect(fewShotSplits(y, 2, 6, new Rng(3))).toEqual(splits);
    expect(() => fewShotSplits([0, 0, 1], 1, 2, new Rng(0))).toThrow(/class 1 has 1 item/);
  });

  it('a 1-shot probe recovers well-separated classes and reads chance on shuffled labels', () => {
    const rng = new Rng(11);
    const n = 200;
    const d = 4; // one informative feature per class (the standardisation is fitted on 4 rows)
    const y = Int32Array.from({ length: n }, (_, i) => i % 4);
    const x = new Float64Array(n * d);
    for (let i = 0; i < n; i++) for (let j = 0; j < d; j++) x[i * d + j] = (j === y[i] ? 8 : 0) + rng.normal();
    const m = { data: x, rows: n, cols: d };
    const splits = resolveSplits({ labels: y }, { kind: 'fewshot', shots: 1, episodes: 5 }, new Rng(1));
    expect(linearProbe(m, y, 4, splits, { seed: 0 }).top1).toBeGreaterThan(0.95);
    const shuffled = new Rng(2).shuffle(Int32Array.from(y));
    const chance = linearProbe(m, shuffled, 4, resolveSplits({ labels: shuffled }, { kind: 'fewshot', shots: 1, episodes: 20 }, new Rng(1)), { seed: 0 }).top1;
    expect(Math.abs(chance - 0.25)).toBeLessThan(0.1);
  });
});
