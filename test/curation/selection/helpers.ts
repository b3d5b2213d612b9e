import { Rng } from '../../../src/runtime/random.js';
import type { Estimator, LabelMatrix } from '../../../src/curation/selection/index.js';

/** Uniformly random labels: n clips, one clustering per entry of ks (k clusters each). */
export function randomMatrix(n: number, ks: number[], seed: number): LabelMatrix {
  const rng = new Rng(seed);
  const d = ks.length;
  const labels = new Int32Array(n * d);
  for (let x = 0; x < n; x++) for (let c = 0; c < d; c++) labels[x * d + c] = rng.int(ks[c]);
  return { labels, n, d, ks: Int32Array.from(ks) };
}

/**
 * The test oracle: F of a subset computed from scratch with the textbook formula (fresh tables,
 * logs of ratios), independent of the incremental code in src/curation/selection/objective.ts.
 */
export function objectiveFromScratch(
  matrix: LabelMatrix,
  pairs: ArrayLike<number>,
  subset: ArrayLike<number>,
  estimator: Estimator = 'miller-madow',
): number {
  const n = subset.length;
  if (n <= 1) return 0;
  const { labels, d, ks } = matrix;
  const P = pairs.length / 2;
  let total = 0;
  for (let p = 0; p < P; p++) {
    const i = pairs[2 * p];
    const j = pairs[2 * p + 1];
    const ki = ks[i];
    const kj = ks[j];
    const table = new Float64Array(ki * kj);
    const a = new Float64Array(ki);
    const b = new Float64Array(kj);
    for (let s = 0; s < n; s++) {
      const x = subset[s];
      const u = labels[x * d + i];
      const v = labels[x * d + j];
      table[u * kj + v]++;
      a[u]++;
      b[v]++;
    }
    let mi = 0;
    let kuv = 0;
    for (let u = 0; u < ki; u++) {
      for (let v = 0; v < kj; v++) {
        const c = table[u * kj + v];
        if (c === 0) continue;
        kuv++;
        mi += (c / n) * Math.log((n * c) / (a[u] * b[v]));
      }
    }
    if (estimator === 'miller-madow') {
      let ku = 0;
      let kv = 0;
      for (let u = 0; u < ki; u++) if (a[u] > 0) ku++;
      for (let v = 0; v < kj; v++) if (b[v] > 0) kv++;
      mi -= (kuv - ku - kv + 1) / (2 * n);
    }
    total += mi;
  }
  return total / P;
}
