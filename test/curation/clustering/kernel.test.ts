import { describe, it, expect } from 'vitest';
import { Rng } from '../../../src/runtime/random.js';
import { NearestCentroid, assignJs, pairwiseSqDist, gram, affine, loadOrt } from '../../../src/curation/clustering/kernel.js';

function randn(n: number, rng: Rng, scale = 1): Float32Array {
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = rng.normal(0, scale);
  return a;
}

describe('nearest-centroid kernel', () => {
  it('onnxruntime is available here (the fast path is really tested)', async () => {
    expect(await loadOrt()).not.toBeNull();
  });

  it('GEMM kernel and JS fallback agree on labels, distances, sums and counts', async () => {
    const rng = new Rng(11);
    const n = 3001; // not a multiple of the block size
    const dim = 24;
    const k = 7;
    const X = randn(n * dim, rng);
    const C = randn(k * dim, rng);
    const onnx = await new NearestCentroid(dim, k, { backend: 'onnx', blockRows: 512 }).assign(X, n, C, { sums: true });
    const js = await new NearestCentroid(dim, k, { backend: 'js' }).assign(X, n, C, { sums: true });
    expect(onnx.backend).toBe('onnx');
    expect(js.backend).toBe('js');
    // Labels agree wherever the nearest centroid is not a near-tie.
    let disagree = 0;
    for (let i = 0; i < n; i++) {
      if (onnx.labels[i] === js.labels[i]) continue;
      const o = i * dim;
      const d = (c: number) => {
        let s = 0;
        for (let j = 0; j < dim; j++) s += (X[o + j] - C[c * dim + j]) ** 2;
        return s;
      };
      expect(Math.abs(d(onnx.labels[i]) - d(js.labels[i]))).toBeLessThan(1e-3 * d(js.labels[i]));
      disagree++;
    }
    expect(disagree).toBeLessThan(3);
    for (let i = 0; i < n; i++) expect(onnx.minDist[i]).toBeCloseTo(js.minDist[i], 2);
    expect(Math.abs(onnx.inertia - js.inertia) / js.inertia).toBeLessThan(1e-5);
    if (disagree === 0) {
      expect(Array.from(onnx.counts!)).toEqual(Array.from(js.counts!));
      for (let j = 0; j < k * dim; j++) expect(onnx.sums![j]).toBeCloseTo(js.sums![j], 2);
    }
  });

  it('auto uses JS for tiny inputs and picks the first centroid on exact ties', async () => {
    const X = new Float32Array([0, 0, 2, 0]);
    const C = new Float32Array([1, 0, 1, 0, 5, 5]); // centroids 0 and 1 are identical
    const kern = new NearestCentroid(2, 3);
    expect(await kern.backendFor(2)).toBe('js');
    const r = await kern.assign(X, 2, C, { sums: true });
    expect(Array.from(r.labels)).toEqual([0, 0]);
    expect(Array.from(r.minDist)).toEqual([1, 1]);
    expect(Array.from(r.counts!)).toEqual([2, 0, 0]);
    const o = await new NearestCentroid(2, 3, { backend: 'onnx' }).assign(X, 2, C);
    expect(Array.from(o.labels)).toEqual([0, 0]);
    expect(assignJs(X, 2, 2, C, 3, false).inertia).toBe(2);
  });

  it('pairwise distances, Gram matrix and affine map match plain loops', async () => {
    const rng = new Rng(5);
    const n = 700;
    const dim = 9;
    const L = 4;
    const X = randn(n * dim, rng);
    const Cd = randn(L * dim, rng);
    const a = await pairwiseSqDist(X, n, dim, Cd, L, { backend: 'onnx' });
    const b = await pairwiseSqDist(X, n, dim, Cd, L, { backend: 'js' });
    for (let i = 0; i < n * L; i++) expect(a[i]).toBeCloseTo(b[i], 3);
    const g1 = await gram(X, n, dim, { backend: 'onnx' });
    const g2 = await gram(X, n, dim, { backend: 'js' });
    for (let i = 0; i < dim * dim; i++) expect(g1.G[i]).toBeCloseTo(g2.G[i], 2);
    for (let i = 0; i < dim; i++) expect(g1.S[i]).toBeCloseTo(g2.S[i], 2);
    const W = randn(dim * 3, rng);
    const bias = new Float32Array([1, -2, 0.5]);
    const y1 = await affine(X, n, dim, W, bias, 3, { backend: 'onnx' });
    const y2 = await affine(X, n, dim, W, bias, 3, { backend: 'js' });
    for (let i = 0; i < n * 3; i++) expect(y1[i]).toBeCloseTo(y2[i], 4);
  });
});
