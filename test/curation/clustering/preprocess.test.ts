import { describe, it, expect } from 'vitest';
import { Rng } from '../../../src/runtime/random.js';
import { symmetricEigen, fitTransform, applyTransform, l2NormalizeRows, fitStandardisation, applyStandardisation } from '../../../src/curation/clustering/preprocess.js';

describe('preprocessing', () => {
  it('symmetricEigen: A v = λ v, orthonormal vectors, ascending values', () => {
    const rng = new Rng(1);
    for (const n of [1, 2, 7, 40]) {
      const B = Float64Array.from({ length: n * n }, () => rng.normal());
      const A = new Float64Array(n * n);
      for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) A[i * n + j] = B[i * n + j] + B[j * n + i];
      const { values, vectors } = symmetricEigen(A, n);
      for (let c = 1; c < n; c++) expect(values[c]).toBeGreaterThanOrEqual(values[c - 1]);
      for (let c = 0; c < n; c++) {
        for (let i = 0; i < n; i++) {
          let s = 0;
          for (let j = 0; j < n; j++) s += A[i * n + j] * vectors[j * n + c];
          expect(s).toBeCloseTo(values[c] * vectors[i * n + c], 9);
        }
        for (let c2 = 0; c2 < n; c2++) {
          let dot = 0;
          for (let i = 0; i < n; i++) dot += vectors[i * n + c] * vectors[i * n + c2];
          expect(dot).toBeCloseTo(c === c2 ? 1 : 0, 9);
        }
      }
    }
  });

  it('PCA whitening gives zero mean and identity covariance on the fitting data', async () => {
    const rng = new Rng(2);
    const n = 4000;
    const d = 6;
    const X = new Float32Array(n * d);
    for (let i = 0; i < n; i++) {
      const z = Array.from({ length: d }, () => rng.normal());
      for (let j = 0; j < d; j++) X[i * d + j] = 5 + z[j] * (j + 1) + (j > 0 ? 2 * z[j - 1] : 0);
    }
    const t = await fitTransform(X, n, d, { whiten: true });
    expect(t.pca!.dimOut).toBe(d);
    const Y = await applyTransform(t, X, n, d);
    const mean = new Float64Array(d);
    for (let i = 0; i < n; i++) for (let a = 0; a < d; a++) mean[a] += Y[i * d + a] / n;
    for (let a = 0; a < d; a++) expect(Math.abs(mean[a])).toBeLessThan(1e-4);
    for (let a = 0; a < d; a++) {
      for (let b = 0; b < d; b++) {
        let s = 0;
        for (let i = 0; i < n; i++) s += (Y[i * d + a] - mean[a]) * (Y[i * d + b] - mean[b]);
        expect(s / (n - 1)).toBeCloseTo(a === b ? 1 : 0, 3);
      }
    }
    // Leading components come first, and whitenDim keeps only them.
    const t2 = await fitTransform(X, n, d, { whiten: true, whitenDim: 2 });
    expect(t2.pca!.dimOut).toBe(2);
    expect(Array.from(t2.pca!.eigenvalues)).toEqual(Array.from(t.pca!.eigenvalues.slice(0, 2)));
    expect(t.pca!.eigenvalues[0]).toBeGreaterThan(t.pca!.eigenvalues[d - 1]);
  });

  it('L2 normalisation: unit rows, zero rows untouched, input kept unless in place', async () => {
    const X = new Float32Array([3, 4, 0, 0, 1, 0]);
    const t = await fitTransform(X, 3, 2, { l2Normalize: true });
    const Y = await applyTransform(t, X, 3, 2);
    expect(Array.from(Y)).toEqual([0.6000000238418579, 0.800000011920929, 0, 0, 1, 0]);
    expect(Array.from(X)).toEqual([3, 4, 0, 0, 1, 0]);
    l2NormalizeRows(X, 3, 2);
    expect(X[0]).toBeCloseTo(0.6, 6);
  });

  it('standardisation: zero mean per column, and every block the same total variance whatever its width and scale', async () => {
    const rng = new Rng(5);
    const n = 500;
    const widths = [2, 7, 1];
    const scales = [1000, 0.01, 3];
    const dim = 10;
    const X = new Float32Array(n * dim);
    for (let i = 0; i < n; i++) {
      let j = 0;
      widths.forEach((w, b) => {
        for (let c = 0; c < w; c++, j++) X[i * dim + j] = scales[b] * (c + 1) * rng.normal() + 5 * b;
      });
    }
    // A constant column carries nothing: its scale is 0, not a division by zero.
    for (let i = 0; i < n; i++) X[i * dim + 9] = 42;
    const s = fitStandardisation(X, n, widths);
    expect(s.scale[9]).toBe(0);
    const Y = applyStandardisation(s, X, n, dim);
    const colMean = (j: number) => Array.from({ length: n }, (_, i) => Y[i * dim + j]).reduce((a, b) => a + b, 0) / n;
    const colVar = (j: number) => Array.from({ length: n }, (_, i) => Y[i * dim + j] ** 2).reduce((a, b) => a + b, 0) / (n - 1);
    for (let j = 0; j < dim; j++) expect(Math.abs(colMean(j))).toBeLessThan(1e-4);
    // Block variance (sum over its columns) is 1 for the two varying blocks.
    expect(colVar(0) + colVar(1)).toBeCloseTo(1, 4);
    expect([2, 3, 4, 5, 6, 7, 8].reduce((t, j) => t + colVar(j), 0)).toBeCloseTo(1, 4);
    // Applied through a transform, it comes first; X itself is not modified.
    const before = Float32Array.from(X);
    const t = await fitTransform(Y, n, dim, { l2Normalize: true });
    const Z = await applyTransform({ ...t, standardise: s }, X, n, dim);
    expect(Array.from(X)).toEqual(Array.from(before));
    const norm0 = Math.hypot(...Array.from(Z.subarray(0, dim)));
    expect(norm0).toBeCloseTo(1, 5);
    expect(Z[0] / norm0 === 0 ? 0 : Z[0]).toBeCloseTo(Y[0] / Math.hypot(...Array.from(Y.subarray(0, dim))), 5);
    expect(() => fitStandardisation(X, 1, widths)).toThrow(/at least 2 points/);
    expect(() => applyStandardisation(s, X, n, 9)).toThrow(/fitted on 10-d vectors, got 9-d/);
  });
});
