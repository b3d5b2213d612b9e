import { Rng } from '../../../src/runtime/random.js';
import type { LabelMatrix } from '../../../src/curation/selection/index.js';

/** Uniformly random labels: n clips, one clustering per entry of ks (k clusters each). */
export function randomMatrix(n: number, ks: number[], seed: number): LabelMatrix {
  const rng = new Rng(seed);
  const d = ks.length;
  const labels = new Int32Array(n * d);
  for (let x = 0; x < n; x++) for (let c = 0; c < d; c++) labels[x * d + c] = rng.int(ks[c]);
  return { labels, n, d, ks: Int32Array.from(ks) };
}
