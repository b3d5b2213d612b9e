/**
 * Optional input transforms for k-means: L2 normalisation of every vector, and PCA whitening
 * fitted on the clustering sample (y = Λ^(-1/2) Vᵀ (x − μ), keeping the leading components).
 * The transform is part of the fitted model, so assignment applies exactly what fitting did.
 */
import { affine, gram, type KernelOptions } from './kernel.js';
import { CONFIG_DEFAULTS } from '../../config/defaults.js';

export interface PcaWhitening {
  dimIn: number;
  dimOut: number;
  /** float32 [dimIn] mean of the fitting sample (after L2 normalisation when enabled). */
  mean: Float32Array;
  /** float32 [dimIn, dimOut]: column c = eigenvector c / sqrt(eigenvalue c + eps). */
  W: Float32Array;
  /** float32 [dimOut] = −mean · W, so y = x·W + bias. */
  bias: Float32Array;
  /** float64 [dimOut] eigenvalues kept, descending. */
  eigenvalues: Float64Array;
}

/**
 * Per-column standardisation with a weight per block of columns, for joint clusterings:
 * y_j = (x_j − mean_j) · scale_j, where scale_j = 1 / (sd_j · sqrt(width of j's layer)), so every
 * layer contributes the same expected squared distance whatever its width (0 for a column with no
 * variance in the fitting sample).
 */
export interface Standardisation {
  /** float32 [dim]. */
  mean: Float32Array;
  /** float32 [dim]. */
  scale: Float32Array;
}

export interface FeatureTransform {
  l2: boolean;
  pca: PcaWhitening | null;
  /** Applied first, before L2 normalisation and whitening (joint clusterings only). */
  standardise?: Standardisation | null;
}

export interface TransformOptions {
  l2Normalize?: boolean;
  whiten?: boolean;
  /** Components kept (0 or undefined: every component with variance above 1e-9 × the largest). */
  whitenDim?: number;
  kernel?: KernelOptions;
}

/** Scale each row to unit L2 norm in place (all-zero rows stay zero). */
export function l2NormalizeRows(X: Float32Array, n: number, dim: number): Float32Array {
  for (let i = 0; i < n; i++) {
    const o = i * dim;
    let s = 0;
    for (let j = 0; j < dim; j++) s += X[o + j] * X[o + j];
    if (s > 0) {
      const inv = 1 / Math.sqrt(s);
      for (let j = 0; j < dim; j++) X[o + j] *= inv;
    }
  }
  return X;
}

/**
 * Eigen-decomposition of a symmetric matrix A [n, n] (float64, row-major; not modified):
 * Householder tridiagonalisation then the implicit QL algorithm. Returns eigenvalues ascending
 * and the eigenvectors as the columns of V.
 */
export function symmetricEigen(A: Float64Array, n: number): { values: Float64Array; vectors: Float64Array } {
  const V = Float64Array.from(A.subarray(0, n * n));
  const d = new Float64Array(n);
  const e = new Float64Array(n);
  const at = (i: number, j: number) => i * n + j;
  // Householder reduction to tridiagonal form.
  for (let j = 0; j < n; j++) d[j] = V[at(n - 1, j)];
  for (let i = n - 1; i > 0; i--) {
    let scale = 0;
    let h = 0;
    for (let k = 0; k < i; k++) scale += Math.abs(d[k]);
    if (scale === 0) {
      e[i] = d[i - 1];
      for (let j = 0; j < i; j++) {
        d[j] = V[at(i - 1, j)];
        V[at(i, j)] = 0;
        V[at(j, i)] = 0;
      }
    } else {
      for (let k = 0; k < i; k++) {
        d[k] /= scale;
        h += d[k] * d[k];
      }
      let f = d[i - 1];
      let g = Math.sqrt(h);
      if (f > 0) g = -g;
      e[i] = scale * g;
      h -= f * g;
      d[i - 1] = f - g;
      for (let j = 0; j < i; j++) e[j] = 0;
      for (let j = 0; j < i; j++) {
        f = d[j];
        V[at(j, i)] = f;
        g = e[j] + V[at(j, j)] * f;
        for (let k = j + 1; k <= i - 1; k++) {
          g += V[at(k, j)] * d[k];
          e[k] += V[at(k, j)] * f;
        }
        e[j] = g;
      }
      f = 0;
      for (let j = 0; j < i; j++) {
        e[j] /= h;
        f += e[j] * d[j];
      }
      const hh = f / (h + h);
      for (let j = 0; j < i; j++) e[j] -= hh * d[j];
      for (let j = 0; j < i; j++) {
        f = d[j];
        g = e[j];
        for (let k = j; k <= i - 1; k++) V[at(k, j)] -= f * e[k] + g * d[k];
        d[j] = V[at(i - 1, j)];
        V[at(i, j)] = 0;
      }
    }
    d[i] = h;
  }
  for (let i = 0; i < n - 1; i++) {
    V[at(n - 1, i)] = V[at(i, i)];
    V[at(i, i)] = 1;
    const h = d[i + 1];
    if (h !== 0) {
      for (let k = 0; k <= i; k++) d[k] = V[at(k, i + 1)] / h;
      for (let j = 0; j <= i; j++) {
        let g = 0;
        for (let k = 0; k <= i; k++) g += V[at(k, i + 1)] * V[at(k, j)];
        for (let k = 0; k <= i; k++) V[at(k, j)] -= g * d[k];
      }
    }
    for (let k = 0; k <= i; k++) V[at(k, i + 1)] = 0;
  }
  for (let j = 0; j < n; j++) {
    d[j] = V[at(n - 1, j)];
    V[at(n - 1, j)] = 0;
  }
  V[at(n - 1, n - 1)] = 1;
  e[0] = 0;
  // Implicit QL on the tridiagonal matrix.
  for (let i = 1; i < n; i++) e[i - 1] = e[i];
  e[n - 1] = 0;
  let f = 0;
  let tst1 = 0;
  const eps = 2 ** -52;
  for (let l = 0; l < n; l++) {
    tst1 = Math.max(tst1, Math.abs(d[l]) + Math.abs(e[l]));
    let m = l;
    while (m < n) {
      if (Math.abs(e[m]) <= eps * tst1) break;
      m++;
    }
    if (m > l) {
      let iter = 0;
      do {
        if (++iter > 60) throw new Error('symmetricEigen: QL iteration did not converge');
        let g = d[l];
        let p = (d[l + 1] - g) / (2 * e[l]);
        let r = Math.hypot(p, 1);
        if (p < 0) r = -r;
        d[l] = e[l] / (p + r);
        d[l + 1] = e[l] * (p + r);
        const dl1 = d[l + 1];
        let h = g - d[l];
        for (let i = l + 2; i < n; i++) d[i] -= h;
        f += h;
        p = d[m];
        let c = 1;
        let c2 = c;
        let c3 = c;
        const el1 = e[l + 1];
        let s = 0;
        let s2 = 0;
        for (let i = m - 1; i >= l; i--) {
          c3 = c2;
          c2 = c;
          s2 = s;
          g = c * e[i];
          h = c * p;
          r = Math.hypot(p, e[i]);
          e[i + 1] = s * r;
          s = e[i] / r;
          c = p / r;
          p = c * d[i] - s * g;
          d[i + 1] = h + s * (c * g + s * d[i]);
          for (let k = 0; k < n; k++) {
            const vk1 = V[at(k, i + 1)];
            const vk = V[at(k, i)];
            V[at(k, i + 1)] = s * vk + c * vk1;
            V[at(k, i)] = c * vk - s * vk1;
          }
        }
        p = (-s * s2 * c3 * el1 * e[l]) / dl1;
        e[l] = s * p;
        d[l] = c * p;
      } while (Math.abs(e[l]) > eps * tst1);
    }
    d[l] += f;
    e[l] = 0;
  }
  // Sort ascending.
  const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => d[a] - d[b]);
  const values = new Float64Array(n);
  const vectors = new Float64Array(n * n);
  order.forEach((src, dst) => {
    values[dst] = d[src];
    for (let k = 0; k < n; k++) vectors[at(k, dst)] = V[at(k, src)];
  });
  return { values, vectors };
}

/** Fit PCA whitening on n rows X [n, dim]. */
export async function fitPcaWhitening(X: Float32Array, n: number, dim: number, dimOut = 0, kernel?: KernelOptions): Promise<PcaWhitening> {
  if (n < 2) throw new Error(`PCA whitening needs at least 2 points, got ${n}`);
  const { G, S } = await gram(X, n, dim, kernel);
  const mean = new Float64Array(dim);
  for (let j = 0; j < dim; j++) mean[j] = S[j] / n;
  const cov = new Float64Array(dim * dim);
  for (let a = 0; a < dim; a++) for (let b = 0; b < dim; b++) cov[a * dim + b] = (G[a * dim + b] - n * mean[a] * mean[b]) / (n - 1);
  const { values, vectors } = symmetricEigen(cov, dim);
  const top = values[dim - 1];
  let keep = 0;
  for (let c = dim - 1; c >= 0; c--) if (values[c] > 1e-9 * top && values[c] > 0) keep++;
  if (keep === 0) throw new Error('PCA whitening: the fitting sample has no variance');
  if (dimOut > 0) keep = Math.min(keep, dimOut);
  const W = new Float32Array(dim * keep);
  const eig = new Float64Array(keep);
  const eps = 1e-9 * top;
  for (let c = 0; c < keep; c++) {
    const src = dim - 1 - c;
    eig[c] = values[src];
    const s = 1 / Math.sqrt(values[src] + eps);
    for (let a = 0; a < dim; a++) W[a * keep + c] = vectors[a * dim + src] * s;
  }
  const bias = new Float32Array(keep);
  for (let c = 0; c < keep; c++) {
    let b = 0;
    for (let a = 0; a < dim; a++) b -= mean[a] * W[a * keep + c];
    bias[c] = b;
  }
  return { dimIn: dim, dimOut: keep, mean: Float32Array.from(mean), W, bias, eigenvalues: eig };
}

/**
 * Fit the standardisation of n rows X [n, dim] made of blocks of the given widths (one block per
 * layer, in column order): mean and standard deviation per column over the rows.
 */
export function fitStandardisation(X: Float32Array, n: number, blocks: number[]): Standardisation {
  const dim = blocks.reduce((a, b) => a + b, 0);
  if (n < 2) throw new Error(`standardisation needs at least 2 points, got ${n}`);
  if (X.length < n * dim) throw new Error(`standardisation: ${X.length} values for ${n} rows of ${dim}`);
  const mean = new Float64Array(dim);
  for (let i = 0; i < n; i++) for (let j = 0; j < dim; j++) mean[j] += X[i * dim + j];
  for (let j = 0; j < dim; j++) mean[j] /= n;
  const m2 = new Float64Array(dim);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < dim; j++) {
      const d = X[i * dim + j] - mean[j];
      m2[j] += d * d;
    }
  }
  const scale = new Float32Array(dim);
  let j0 = 0;
  for (const w of blocks) {
    const blockWeight = 1 / Math.sqrt(w);
    for (let j = j0; j < j0 + w; j++) {
      const sd = Math.sqrt(m2[j] / (n - 1));
      // A column that does not vary in the sample (or only by rounding) carries nothing.
      scale[j] = sd > 1e-12 * (1 + Math.abs(mean[j])) ? blockWeight / sd : 0;
    }
    j0 += w;
  }
  return { mean: Float32Array.from(mean), scale };
}

/** y = (x − mean) · scale, row by row, into a new array. */
export function applyStandardisation(s: Standardisation, X: Float32Array, n: number, dim: number): Float32Array {
  if (s.mean.length !== dim) throw new Error(`standardisation was fitted on ${s.mean.length}-d vectors, got ${dim}-d`);
  const Y = new Float32Array(n * dim);
  for (let i = 0; i < n; i++) {
    const o = i * dim;
    for (let j = 0; j < dim; j++) Y[o + j] = (X[o + j] - s.mean[j]) * s.scale[j];
  }
  return Y;
}

/** Fit the transform on a sample (the sample is not modified). */
export async function fitTransform(X: Float32Array, n: number, dim: number, opts: TransformOptions = {}): Promise<FeatureTransform> {
  const l2 = !!opts.l2Normalize;
  if (!opts.whiten) return { l2, pca: null };
  const src = l2 ? l2NormalizeRows(Float32Array.from(X.subarray(0, n * dim)), n, dim) : X;
  return { l2, pca: await fitPcaWhitening(src, n, dim, opts.whitenDim ?? CONFIG_DEFAULTS.clustering.whitenDim, opts.kernel) };
}

/** Output width of a transform applied to `dim`-wide vectors. */
export function transformedDim(t: FeatureTransform, dim: number): number {
  return t.pca ? t.pca.dimOut : dim;
}

/**
 * Apply a fitted transform to n rows. With `inPlace`, L2 normalisation overwrites X (callers
 * that own their buffer avoid a copy); otherwise X is left untouched. Returns X itself when the
 * transform is the identity.
 */
export async function applyTransform(
  t: FeatureTransform,
  X: Float32Array,
  n: number,
  dim: number,
  opts: { inPlace?: boolean; kernel?: KernelOptions } = {},
): Promise<Float32Array> {
  let Y = X;
  let owned = !!opts.inPlace;
  if (t.standardise) {
    Y = applyStandardisation(t.standardise, X, n, dim);
    owned = true;
  }
  if (t.l2) Y = l2NormalizeRows(owned ? Y : Float32Array.from(Y.subarray(0, n * dim)), n, dim);
  if (t.pca) {
    if (t.pca.dimIn !== dim) throw new Error(`PCA whitening was fitted on ${t.pca.dimIn}-d vectors, got ${dim}-d`);
    Y = await affine(Y, n, dim, t.pca.W, t.pca.bias, t.pca.dimOut, opts.kernel);
  }
  return Y;
}
