import { describe, it, expect } from 'vitest';
import { Rng } from '../../../src/runtime/random.js';
import { kmeans, kmeansPlusPlus, distinctRows, KMeansInputError } from '../../../src/curation/clustering/kmeans.js';
import { plantedClusters, adjustedRandIndex } from '../../../src/curation/clustering/synthetic.js';

describe('k-means', () => {
  it('recovers planted well-separated clusters (ARI >= 0.99) with both kernels', async () => {
    const n = 4000;
    const dim = 16;
    const k = 10;
    const p = plantedClusters(n, dim, k, new Rng(1), { separation: 4, spread: 1 });
    for (const backend of ['onnx', 'js'] as const) {
      const r = await kmeans(p.X, n, dim, { k, rng: new Rng(2), kernel: { backend } });
      expect(adjustedRandIndex(r.labels, p.truth)).toBeGreaterThanOrEqual(0.99);
      expect(r.centroids.length).toBe(k * dim);
      expect(r.iterations).toBeGreaterThanOrEqual(1);
      expect(r.iterations).toBeLessThanOrEqual(25);
    }
  });

  it('inertia never increases across iterations', async () => {
    // Overlapping clusters: many iterations with real movement.
    const n = 3000;
    const dim = 8;
    const p = plantedClusters(n, dim, 12, new Rng(3), { separation: 0.8, spread: 1 });
    for (const backend of ['onnx', 'js'] as const) {
      const seen: number[] = [];
      const r = await kmeans(p.X, n, dim, { k: 12, iterations: 40, tolerance: -1, rng: new Rng(4), kernel: { backend }, onIteration: (i) => seen.push(i.inertia) });
      expect(r.iterations).toBe(40);
      expect(seen.length).toBe(40);
      expect(r.history.length).toBe(41);
      expect(r.history[0]).toBeGreaterThan(r.history[40] * 1.01); // it really moved
      const slack = backend === 'js' ? 1e-12 : 1e-6; // float32 GEMM rounding
      for (let t = 1; t < r.history.length; t++) expect(r.history[t]).toBeLessThanOrEqual(r.history[t - 1] * (1 + slack));
      expect(r.inertia).toBe(r.history[r.history.length - 1]);
    }
  });

  it('same seed, same labels and centroids; restarts keep the lowest inertia', async () => {
    const n = 2000;
    const dim = 12;
    const p = plantedClusters(n, dim, 6, new Rng(5), { separation: 1 });
    const a = await kmeans(p.X, n, dim, { k: 6, rng: new Rng(9), restarts: 3 });
    const b = await kmeans(p.X, n, dim, { k: 6, rng: new Rng(9), restarts: 3 });
    expect(Array.from(a.labels)).toEqual(Array.from(b.labels));
    expect(Array.from(a.centroids)).toEqual(Array.from(b.centroids));
    expect(a.inertia).toBe(b.inertia);
    // Each restart alone: the kept one is the best of them.
    const singles: number[] = [];
    for (let r = 0; r < 3; r++) {
      const seeds = new Rng(9);
      const s = Array.from({ length: 3 }, () => seeds.nextUint32());
      const single = await kmeans(p.X, n, dim, { k: 6, rng: { nextUint32: () => s[r] } as unknown as Rng, restarts: 1 });
      singles.push(single.inertia);
    }
    expect(a.inertia).toBe(Math.min(...singles));
  });

  it('k larger than the number of distinct points is refused with a clear message', async () => {
    const dim = 3;
    const X = new Float32Array(50 * dim);
    for (let i = 0; i < 50; i++) X.set([i % 4, 0, 1], i * dim); // 4 distinct points, 50 rows
    expect(distinctRows(X, 50, dim).distinct).toBe(4);
    await expect(kmeans(X, 50, dim, { k: 5, rng: new Rng(1) })).rejects.toThrow(/k = 5 but the 50 points hold only 4 distinct points/);
    await expect(kmeans(X, 50, dim, { k: 5, rng: new Rng(1) })).rejects.toBeInstanceOf(KMeansInputError);
    await expect(kmeans(X, 3, dim, { k: 5, rng: new Rng(1) })).rejects.toThrow(/only 3 points/);
    // k equal to the distinct count works and puts each distinct point in its own cluster.
    const r = await kmeans(X, 50, dim, { k: 4, rng: new Rng(1) });
    expect(r.inertia).toBe(0);
    expect(new Set(r.labels).size).toBe(4);
  });

  it('k-means++ never picks the same point twice and spreads over planted clusters', async () => {
    const p = plantedClusters(800, 4, 8, new Rng(7), { separation: 20, spread: 0.5 });
    const C = await kmeansPlusPlus(p.X, 800, 4, 8, new Rng(8));
    const nearest = new Set<number>();
    for (let c = 0; c < 8; c++) {
      let best = 0;
      let bd = Infinity;
      for (let t = 0; t < 8; t++) {
        let d = 0;
        for (let j = 0; j < 4; j++) d += (C[c * 4 + j] - p.centers[t * 4 + j]) ** 2;
        if (d < bd) {
          bd = d;
          best = t;
        }
      }
      nearest.add(best);
    }
    expect(nearest.size).toBe(8);
  });

  it('repairs an empty cluster by splitting the largest one', async () => {
    const n = 600;
    const dim = 2;
    const p = plantedClusters(n, dim, 3, new Rng(12), { separation: 10, spread: 1 });
    // Two centroids on the data, the third far away: it is empty after the first assignment.
    const init = new Float32Array([p.X[0], p.X[1], p.X[2], p.X[3], 1e4, 1e4]);
    const r = await kmeans(p.X, n, dim, { k: 3, init, rng: new Rng(1), kernel: { backend: 'js' } });
    expect(r.emptyRepairs).toBeGreaterThanOrEqual(1);
    expect(new Set(r.labels).size).toBe(3);
    for (let t = 1; t < r.history.length; t++) expect(r.history[t]).toBeLessThanOrEqual(r.history[t - 1]);
    expect(adjustedRandIndex(r.labels, p.truth)).toBeGreaterThan(0.99);
  });
});
