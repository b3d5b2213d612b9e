/**
 * Multinomial logistic regression with an L2 penalty, fitted by full-batch L-BFGS in Float64Array.
 *
 *   loss(W, b) = (1/N) sum_i -log softmax(x_i W + b)[y_i] + (lambda/2) ||W||^2     (bias unpenalised)
 *
 * The problem is smooth and strictly convex for lambda > 0, so L-BFGS with a backtracking (Armijo)
 * line search converges to the unique optimum; everything is deterministic (no sampling).
 * Features are expected standardised (see `Standardizer`), rows of a row-major matrix [n, dim].
 */
import { CONFIG_DEFAULTS } from '../../config/defaults.js';

/** A row-major matrix of `rows` x `cols` doubles. */
export interface Matrix {
  data: Float64Array;
  rows: number;
  cols: number;
}

export interface LogRegOptions {
  /** L2 strength (>= 0). */
  lambda: number;
  /** Maximum L-BFGS iterations (default: probe.maxIter). */
  maxIter?: number;
  /** Stop when the gradient's infinity norm falls below this (default 1e-6). */
  gradTol?: number;
  /** L-BFGS history length (default 10). */
  history?: number;
  /** Warm start: parameters of a previous fit with the same shape. */
  init?: Float64Array;
}

export interface LogRegModel {
  dim: number;
  classes: number;
  /** Parameters: (dim + 1) x classes, row-major; the last row is the bias. */
  params: Float64Array;
  lambda: number;
  iterations: number;
  loss: number;
  converged: boolean;
}

/** Per-feature standardisation fitted on a training set (constant features keep scale 1). */
export class Standardizer {
  readonly mean: Float64Array;
  readonly scale: Float64Array;

  private constructor(mean: Float64Array, scale: Float64Array) {
    this.mean = mean;
    this.scale = scale;
  }

  /** Fit on the given rows of `x` (all rows when `rows` is omitted). */
  static fit(x: Matrix, rows?: ArrayLike<number>): Standardizer {
    const d = x.cols;
    const idx = rows ?? rangeArray(x.rows);
    const n = idx.length;
    if (n === 0) throw new Error('Standardizer.fit: no training rows');
    const mean = new Float64Array(d);
    const m2 = new Float64Array(d);
    for (let r = 0; r < n; r++) {
      const off = idx[r] * d;
      for (let j = 0; j < d; j++) mean[j] += x.data[off + j];
    }
    for (let j = 0; j < d; j++) mean[j] /= n;
    for (let r = 0; r < n; r++) {
      const off = idx[r] * d;
      for (let j = 0; j < d; j++) {
        const t = x.data[off + j] - mean[j];
        m2[j] += t * t;
      }
    }
    const scale = new Float64Array(d);
    for (let j = 0; j < d; j++) {
      const sd = Math.sqrt(m2[j] / n);
      scale[j] = sd > 1e-12 * (1 + Math.abs(mean[j])) ? 1 / sd : 1;
    }
    return new Standardizer(mean, scale);
  }

  /** A new matrix of the chosen rows (all when omitted), standardised. */
  transform(x: Matrix, rows?: ArrayLike<number>): Matrix {
    const d = x.cols;
    if (d !== this.mean.length) throw new Error(`Standardizer: expected ${this.mean.length} columns, got ${d}`);
    const idx = rows ?? rangeArray(x.rows);
    const out = new Float64Array(idx.length * d);
    for (let r = 0; r < idx.length; r++) {
      const src = idx[r] * d;
      const dst = r * d;
      for (let j = 0; j < d; j++) out[dst + j] = (x.data[src + j] - this.mean[j]) * this.scale[j];
    }
    return { data: out, rows: idx.length, cols: d };
  }
}

export function rangeArray(n: number): Int32Array {
  const a = new Int32Array(n);
  for (let i = 0; i < n; i++) a[i] = i;
  return a;
}

/** Build a Matrix from a flat float array (Float32Array or Float64Array) of n x dim. */
export function toMatrix(data: ArrayLike<number>, rows: number, cols: number): Matrix {
  if (data.length !== rows * cols) throw new Error(`toMatrix: ${data.length} values is not ${rows} x ${cols}`);
  const out = new Float64Array(rows * cols);
  for (let i = 0; i < out.length; i++) {
    const v = data[i];
    if (!Number.isFinite(v)) throw new Error(`toMatrix: value ${v} at row ${Math.floor(i / cols)}, column ${i % cols} is not finite`);
    out[i] = v;
  }
  return { data: out, rows, cols };
}

/** logits[n, C] = x W + b for the parameters `p` ((dim+1) x C). */
export function logits(x: Matrix, p: Float64Array, classes: number): Float64Array {
  const { rows: n, cols: d } = x;
  const out = new Float64Array(n * classes);
  const biasOff = d * classes;
  for (let i = 0; i < n; i++) {
    const xo = i * d;
    const zo = i * classes;
    for (let c = 0; c < classes; c++) out[zo + c] = p[biasOff + c];
    for (let j = 0; j < d; j++) {
      const v = x.data[xo + j];
      if (v === 0) continue;
      const wo = j * classes;
      for (let c = 0; c < classes; c++) out[zo + c] += v * p[wo + c];
    }
  }
  return out;
}

/** Loss and gradient (into `grad`) at parameters `p`. */
function lossAndGrad(x: Matrix, y: Int32Array, classes: number, lambda: number, p: Float64Array, grad: Float64Array): number {
  const { rows: n, cols: d } = x;
  const z = logits(x, p, classes);
  let loss = 0;
  // z becomes (softmax - onehot) / n in place.
  for (let i = 0; i < n; i++) {
    const zo = i * classes;
    let max = -Infinity;
    for (let c = 0; c < classes; c++) if (z[zo + c] > max) max = z[zo + c];
    let sum = 0;
    for (let c = 0; c < classes; c++) {
      const e = Math.exp(z[zo + c] - max);
      z[zo + c] = e;
      sum += e;
    }
    const yi = y[i];
    loss += Math.log(sum) - Math.log(z[zo + yi]);
    const inv = 1 / (sum * n);
    for (let c = 0; c < classes; c++) z[zo + c] *= inv;
    z[zo + yi] -= 1 / n;
  }
  loss /= n;
  grad.fill(0);
  const biasOff = d * classes;
  for (let i = 0; i < n; i++) {
    const xo = i * d;
    const zo = i * classes;
    for (let c = 0; c < classes; c++) grad[biasOff + c] += z[zo + c];
    for (let j = 0; j < d; j++) {
      const v = x.data[xo + j];
      if (v === 0) continue;
      const go = j * classes;
      for (let c = 0; c < classes; c++) grad[go + c] += v * z[zo + c];
    }
  }
  let reg = 0;
  for (let k = 0; k < biasOff; k++) {
    reg += p[k] * p[k];
    grad[k] += lambda * p[k];
  }
  return loss + 0.5 * lambda * reg;
}

function dot(a: Float64Array, b: Float64Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * b[i];
  return s;
}

function infNorm(a: Float64Array): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) {
    const v = Math.abs(a[i]);
    if (v > m) m = v;
  }
  return m;
}

/**
 * Fit the model. `y` holds class indices in [0, classes). Classes absent from the training set
 * simply get pushed down by their bias (they are never predicted unless lambda dominates).
 */
export function fitLogReg(x: Matrix, y: ArrayLike<number>, classes: number, opts: LogRegOptions): LogRegModel {
  const { rows: n, cols: d } = x;
  if (y.length !== n) throw new Error(`fitLogReg: ${n} rows but ${y.length} labels`);
  if (n === 0) throw new Error('fitLogReg: no training rows');
  if (!(opts.lambda >= 0)) throw new Error(`fitLogReg: lambda must be >= 0, got ${opts.lambda}`);
  const labels = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const v = y[i];
    if (!Number.isInteger(v) || v < 0 || v >= classes) throw new Error(`fitLogReg: label ${v} at row ${i} is not in [0, ${classes})`);
    labels[i] = v;
  }
  const size = (d + 1) * classes;
  const maxIter = opts.maxIter ?? CONFIG_DEFAULTS.probe.maxIter;
  const gradTol = opts.gradTol ?? 1e-6;
  const m = opts.history ?? 10;
  const p = opts.init && opts.init.length === size ? Float64Array.from(opts.init) : new Float64Array(size);
  const g = new Float64Array(size);
  let f = lossAndGrad(x, labels, classes, opts.lambda, p, g);
  const sHist: Float64Array[] = [];
  const yHist: Float64Array[] = [];
  const rhoHist: number[] = [];
  const dir = new Float64Array(size);
  const pNew = new Float64Array(size);
  const gNew = new Float64Array(size);
  const alpha = new Float64Array(m);
  let iter = 0;
  let converged = infNorm(g) < gradTol;
  while (!converged && iter < maxIter) {
    iter++;
    // Two-loop recursion: dir = -H g.
    for (let k = 0; k < size; k++) dir[k] = -g[k];
    for (let h = sHist.length - 1; h >= 0; h--) {
      alpha[h] = rhoHist[h] * dot(sHist[h], dir);
      const yh = yHist[h];
      for (let k = 0; k < size; k++) dir[k] -= alpha[h] * yh[k];
    }
    if (sHist.length > 0) {
      const last = sHist.length - 1;
      const gamma = dot(sHist[last], yHist[last]) / dot(yHist[last], yHist[last]);
      for (let k = 0; k < size; k++) dir[k] *= gamma;
    } else {
      const gn = Math.sqrt(dot(g, g));
      for (let k = 0; k < size; k++) dir[k] /= Math.max(1, gn);
    }
    for (let h = 0; h < sHist.length; h++) {
      const beta = rhoHist[h] * dot(yHist[h], dir);
      const sh = sHist[h];
      for (let k = 0; k < size; k++) dir[k] += (alpha[h] - beta) * sh[k];
    }
    let slope = dot(g, dir);
    if (!(slope < 0)) {
      // Not a descent direction (numerical trouble): restart from steepest descent.
      sHist.length = 0;
      yHist.length = 0;
      rhoHist.length = 0;
      for (let k = 0; k < size; k++) dir[k] = -g[k];
      slope = dot(g, dir);
    }
    // Backtracking Armijo line search.
    let step = 1;
    let fNew = Infinity;
    let accepted = false;
    for (let ls = 0; ls < 40; ls++) {
      for (let k = 0; k < size; k++) pNew[k] = p[k] + step * dir[k];
      fNew = lossAndGrad(x, labels, classes, opts.lambda, pNew, gNew);
      if (fNew <= f + 1e-4 * step * slope) {
        accepted = true;
        break;
      }
      step *= 0.5;
    }
    if (!accepted) break; // no further decrease possible at double precision
    const s = new Float64Array(size);
    const yv = new Float64Array(size);
    for (let k = 0; k < size; k++) {
      s[k] = pNew[k] - p[k];
      yv[k] = gNew[k] - g[k];
    }
    const sy = dot(s, yv);
    if (sy > 1e-12 * Math.sqrt(dot(s, s) * dot(yv, yv))) {
      if (sHist.length === m) {
        sHist.shift();
        yHist.shift();
        rhoHist.shift();
      }
      sHist.push(s);
      yHist.push(yv);
      rhoHist.push(1 / sy);
    }
    const fOld = f;
    p.set(pNew);
    g.set(gNew);
    f = fNew;
    if (infNorm(g) < gradTol) converged = true;
    else if (Math.abs(fOld - f) <= 1e-12 * Math.max(1, Math.abs(f))) converged = true;
  }
  return { dim: d, classes, params: p, lambda: opts.lambda, iterations: iter, loss: f, converged };
}

/** Class scores (logits) for every row of `x`, [n, classes]. */
export function predictScores(model: LogRegModel, x: Matrix): Float64Array {
  if (x.cols !== model.dim) throw new Error(`predict: model has ${model.dim} inputs, data has ${x.cols}`);
  return logits(x, model.params, model.classes);
}

/**
 * Fraction of rows whose true class is among the k highest scores. Equal scores rank by class
 * index (lower first), as an argmax that takes the first maximum would.
 */
export function topKAccuracy(scores: Float64Array, y: ArrayLike<number>, classes: number, k: number): number {
  const n = y.length;
  if (n === 0) return NaN;
  if (k >= classes) return 1;
  let hits = 0;
  for (let i = 0; i < n; i++) {
    const o = i * classes;
    const t = scores[o + y[i]];
    let better = 0;
    for (let c = 0; c < classes; c++) {
      if (c === y[i]) continue;
      const s = scores[o + c];
      if (s > t || (s === t && c < y[i])) better++;
    }
    if (better < k) hits++;
  }
  return hits / n;
}
