/** Planted Gaussian clusters, for tests and the benchmark. */
import type { Rng } from '../../runtime/random.js';

export interface PlantedClusters {
  /** float32 [n, dim]. */
  X: Float32Array;
  /** The cluster each point was drawn from. */
  truth: Int32Array;
  /** float32 [k, dim] true centres. */
  centers: Float32Array;
}

/**
 * n points in k Gaussian clusters: centres ~ N(0, separation²) per coordinate, points = centre +
 * N(0, spread²) per coordinate, cluster of point i uniform at random (every cluster non-empty
 * when n ≥ k: the first k points take clusters 0..k-1).
 */
export function plantedClusters(n: number, dim: number, k: number, rng: Rng, opts: { separation?: number; spread?: number } = {}): PlantedClusters {
  const sep = opts.separation ?? 1;
  const spread = opts.spread ?? 1;
  const centers = new Float32Array(k * dim);
  for (let i = 0; i < centers.length; i++) centers[i] = rng.normal(0, sep);
  const X = new Float32Array(n * dim);
  const truth = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const c = i < k ? i : rng.int(k);
    truth[i] = c;
    const o = i * dim;
    const co = c * dim;
    for (let j = 0; j < dim; j++) X[o + j] = centers[co + j] + rng.normal(0, spread);
  }
  return { X, truth, centers };
}

/** Adjusted Rand index between two labelings (Hubert & Arabie). */
export function adjustedRandIndex(a: ArrayLike<number>, b: ArrayLike<number>): number {
  const n = a.length;
  if (b.length !== n) throw new RangeError('adjustedRandIndex: labelings differ in length');
  if (n < 2) return 1;
  const cells = new Map<string, number>();
  const ra = new Map<number, number>();
  const rb = new Map<number, number>();
  for (let i = 0; i < n; i++) {
    const key = `${a[i]},${b[i]}`;
    cells.set(key, (cells.get(key) ?? 0) + 1);
    ra.set(a[i], (ra.get(a[i]) ?? 0) + 1);
    rb.set(b[i], (rb.get(b[i]) ?? 0) + 1);
  }
  const c2 = (x: number) => (x * (x - 1)) / 2;
  let index = 0;
  for (const v of cells.values()) index += c2(v);
  let sa = 0;
  for (const v of ra.values()) sa += c2(v);
  let sb = 0;
  for (const v of rb.values()) sb += c2(v);
  const expected = (sa * sb) / c2(n);
  const max = (sa + sb) / 2;
  if (max === expected) return 1;
  return (index - expected) / (max - expected);
}
