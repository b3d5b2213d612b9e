/**
 * Synthetic cluster labels with a planted audio–visual correspondence, for tests and benchmarks.
 * Every clip has a visual concept; a fraction of clips (the positives) have the same audio
 * concept, the rest an audio concept drawn from the other concepts. Each clustering maps concepts
 * to clusters (a concept owns k / concepts clusters when k exceeds the number of concepts, so
 * clusters split concepts like an over-clustering does; concepts share clusters when k is
 * smaller), and with probability `noise` a clip's label is uniform instead.
 */
import { Rng } from '../../runtime/random.js';
import type { LabelMatrix } from './objective.js';
import type { ClusteringMeta } from './pairs.js';
import { CONFIG_DEFAULTS } from '../../config/defaults.js';

export interface PlantedOptions {
  n: number;
  /** Audio clusterings (default 5). */
  audio?: number;
  /** Visual clusterings (default 5). */
  visual?: number;
  /** Clusters per clustering (default 32). */
  k?: number;
  /** Number of concepts (default k). */
  concepts?: number;
  /** Fraction of clips whose audio belongs with the picture (default 0.5). */
  positiveFraction?: number;
  /** Probability that a label is uniform noise (default 0.1). */
  noise?: number;
  /**
   * Extra audio / visual clusterings that carry no concept at all (every label uniform), named
   * `modality/null1`, ...: pairs with them are null pairs (default 0).
   */
  nullAudio?: number;
  nullVisual?: number;
  seed?: number;
}

export interface PlantedLabels extends LabelMatrix {
  ks: Int32Array;
  clusterings: ClusteringMeta[];
  /** 1 where the clip's audio corresponds to its picture. */
  truth: Uint8Array;
  visualConcept: Int32Array;
  audioConcept: Int32Array;
}

export function plantedLabels(opts: PlantedOptions): PlantedLabels {
  const n = opts.n;
  const A = opts.audio ?? 5;
  const V = opts.visual ?? 5;
  const k = opts.k ?? 32;
  const C = opts.concepts ?? k;
  const pos = opts.positiveFraction ?? 0.5;
  const noise = opts.noise ?? 0.1;
  const rng = new Rng(opts.seed ?? CONFIG_DEFAULTS.seed);
  const NA = opts.nullAudio ?? 0;
  const NV = opts.nullVisual ?? 0;
  const d = A + V;
  const clusterings: ClusteringMeta[] = [];
  for (let a = 0; a < A; a++) clusterings.push({ modality: 'audio', layer: `layer${a + 1}`, k });
  for (let v = 0; v < V; v++) clusterings.push({ modality: 'visual', layer: `layer${v + 1}`, k });
  // For each clustering, the clusters owned by each concept.
  const owned: Int32Array[][] = [];
  for (let c = 0; c < d; c++) {
    const perm = rng.permutation(k);
    const lists: number[][] = Array.from({ length: C }, () => []);
    if (k >= C) for (let j = 0; j < k; j++) lists[j % C].push(perm[j]);
    else for (let concept = 0; concept < C; concept++) lists[concept].push(perm[concept % k]);
    owned.push(lists.map((l) => Int32Array.from(l)));
  }
  const labels = new Int32Array(n * d);
  const truth = new Uint8Array(n);
  const visualConcept = new Int32Array(n);
  const audioConcept = new Int32Array(n);
  // Exactly round(pos * n) positives, at random places.
  const positives = Math.round(pos * n);
  const perm = rng.permutation(n);
  for (let t = 0; t < positives; t++) truth[perm[t]] = 1;
  for (let x = 0; x < n; x++) {
    const vc = rng.int(C);
    let ac = vc;
    if (!truth[x] && C > 1) {
      ac = rng.int(C - 1);
      if (ac >= vc) ac++;
    }
    visualConcept[x] = vc;
    audioConcept[x] = ac;
    for (let c = 0; c < d; c++) {
      const concept = c < A ? ac : vc;
      let label: number;
      if (rng.next() < noise) label = rng.int(k);
      else {
        const list = owned[c][concept];
        label = list[list.length === 1 ? 0 : rng.int(list.length)];
      }
      labels[x * d + c] = label;
    }
  }
  if (NA + NV > 0) {
    // Null clusterings, drawn from their own stream so the signal labels stay as without them;
    // columns ordered audio (signal, null), visual (signal, null).
    const nullRng = Rng.derive(opts.seed ?? CONFIG_DEFAULTS.seed, 'planted-null');
    const dd = d + NA + NV;
    const cols: Array<number | 'null'> = [];
    const metas: ClusteringMeta[] = [];
    for (let a = 0; a < A; a++) (cols.push(a), metas.push(clusterings[a]));
    for (let t = 0; t < NA; t++) (cols.push('null'), metas.push({ modality: 'audio', layer: `null${t + 1}`, k }));
    for (let v = 0; v < V; v++) (cols.push(A + v), metas.push(clusterings[A + v]));
    for (let t = 0; t < NV; t++) (cols.push('null'), metas.push({ modality: 'visual', layer: `null${t + 1}`, k }));
    const wide = new Int32Array(n * dd);
    for (let x = 0; x < n; x++) {
      for (let c = 0; c < dd; c++) {
        const src = cols[c];
        wide[x * dd + c] = src === 'null' ? nullRng.int(k) : labels[x * d + src];
      }
    }
    return { labels: wide, n, d: dd, ks: new Int32Array(dd).fill(k), clusterings: metas, truth, visualConcept, audioConcept };
  }
  const ks = new Int32Array(d).fill(k);
  return { labels, n, d, ks, clusterings, truth, visualConcept, audioConcept };
}

/** Fraction of `chosen` (pool indices) that are positives. */
export function precisionOf(chosen: ArrayLike<number>, truth: ArrayLike<number>, count = chosen.length): number {
  const m = Math.min(count, chosen.length);
  if (m === 0) return 0;
  let hits = 0;
  for (let r = 0; r < m; r++) hits += truth[chosen[r]] ? 1 : 0;
  return hits / m;
}
