import { describe, it, expect } from 'vitest';
import { Rng } from '../../../src/runtime/random.js';
import { symmetricEigen, fitTransform, applyTransform, l2NormalizeRows } from '../../../src/curation/clustering/preprocess.js';

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
});
