/**
 * Evidence for audio–visual correspondence per clustering pair (docs/selection.md, "Explain" and
 * "Pairing by evidence"): the pair's mutual information on a set of clips against a permutation
 * null — the same clips with the second clustering's labels shuffled, which keeps both marginals
 * and breaks any dependence. z = (MI − mean of the null) / its standard deviation; the p-value is
 * (1 + #{null MI ≥ MI}) / (1 + permutations). The shuffles of a clustering come from a generator
 * seeded by the run's seed and that clustering alone, and are shared by every pair that has it
 * second, so a pair's figures do not depend on which other pairs are tested.
 */
import { Rng } from '../../runtime/random.js';
import { xlogx as xlogxFn, type Estimator, type LabelMatrix } from './objective.js';
import { clusteringName, resolvePairs, type ClusteringMeta, type PairingMode } from './pairs.js';
import { CONFIG_DEFAULTS } from '../../config/defaults.js';

/** MI of two label vectors (0..ku-1, 0..kv-1) of the same clips, in nats, with the estimator's bias correction. */
export function labelMI(
  u: ArrayLike<number>,
  v: ArrayLike<number>,
  ku: number,
  kv: number,
  estimator: Estimator = CONFIG_DEFAULTS.selection.estimator,
  scratch?: Int32Array,
  tlnt?: Float64Array,
): number {
  const n = u.length;
  if (n <= 1) return 0;
  const xlogx = tlnt && tlnt.length > n ? (t: number) => tlnt[t] : xlogxFn;
  const table = scratch && scratch.length >= ku * kv + ku + kv ? scratch : new Int32Array(ku * kv + ku + kv);
  table.fill(0, 0, ku * kv + ku + kv);
  const rowOff = ku * kv;
  const colOff = rowOff + ku;
  for (let x = 0; x < n; x++) {
    table[u[x] * kv + v[x]]++;
    table[rowOff + u[x]]++;
    table[colOff + v[x]]++;
  }
  let t = 0;
  let cells = 0;
  for (let c = 0; c < ku * kv; c++) {
    const m = table[c];
    if (m > 0) {
      t += xlogx(m);
      cells++;
    }
  }
  let rows = 0;
  for (let a = 0; a < ku; a++) {
    const m = table[rowOff + a];
    if (m > 0) {
      t -= xlogx(m);
      rows++;
    }
  }
  let cols = 0;
  for (let b = 0; b < kv; b++) {
    const m = table[colOff + b];
    if (m > 0) {
      t -= xlogx(m);
      cols++;
    }
  }
  const mi = Math.log(n) + t / n;
  return estimator === 'miller-madow' ? mi - (cells - rows - cols + 1) / (2 * n) : mi;
}

export interface NullTest {
  /** MI of the clips as they are. */
  mi: number;
  /** Mean and standard deviation of the MI over the permutations. */
  nullMean: number;
  nullSd: number;
  /** (mi − nullMean) / nullSd (0 when the null has no spread and mi equals its mean). */
  z: number;
  /** (1 + #{null ≥ mi}) / (1 + permutations). */
  p: number;
  /** Clips the test ran on. */
  clips: number;
}

/**
 * MI of each label vector of `us` with `v`, against `permutations` shuffles of v — the same
 * shuffles for every u (a pair's figures depend only on its own labels, v's and the generator).
 */
export function permutationTests(
  us: ReadonlyArray<{ u: Int32Array; ku: number }>,
  v: Int32Array,
  kv: number,
  opts: { permutations: number; rng: Rng; estimator?: Estimator },
): NullTest[] {
  const est = opts.estimator ?? CONFIG_DEFAULTS.selection.estimator;
  const n = v.length;
  const tlnt = new Float64Array(n + 1);
  for (let t = 1; t <= n; t++) tlnt[t] = t * Math.log(t);
  const mm = est === 'miller-madow';
  // Under a shuffle of v the row and column sums stay as they are: only the cells change.
  const state = us.map(({ u, ku }) => {
    const scratch = new Int32Array(ku * kv + ku + kv);
    const mi = labelMI(u, v, ku, kv, est, scratch, tlnt);
    let margins = 0;
    let occupied = 0;
    for (let c = ku * kv; c < scratch.length; c++) {
      margins += tlnt[scratch[c]];
      if (scratch[c] > 0) occupied++;
    }
    return { mi, margins, occupied, cells: new Int32Array(ku * kv), uk: Int32Array.from(u, (a) => a * kv), sum: 0, sum2: 0, above: 0 };
  });
  const R = opts.permutations;
  const w = Int32Array.from(v);
  const rng = opts.rng;
  const logn = n > 1 ? Math.log(n) : 0;
  for (let r = 0; r < R; r++) {
    // Fisher–Yates; the index by multiply-shift of a 32-bit draw (bias below (x + 1) / 2^32, far
    // under the Monte Carlo error of the test, and twice as fast as rejection sampling).
    for (let x = n - 1; x > 0; x--) {
      const y = Math.floor((rng.nextUint32() * (x + 1)) / 4294967296);
      const tmp = w[x];
      w[x] = w[y];
      w[y] = tmp;
    }
    for (const st of state) {
      const cells = st.cells;
      const uk = st.uk;
      // The cells are all zero here: the scan below empties each one it reads (no separate fill).
      for (let x = 0; x < n; x++) cells[uk[x] + w[x]]++;
      let t = -st.margins;
      let k = 0;
      for (let c = 0; c < cells.length; c++) {
        const m = cells[c];
        if (m > 0) {
          t += tlnt[m];
          k++;
          cells[c] = 0;
        }
      }
      let m = n > 1 ? logn + t / n : 0;
      if (mm && n > 1) m -= (k - st.occupied + 1) / (2 * n);
      st.sum += m;
      st.sum2 += m * m;
      if (m >= st.mi - 1e-12) st.above++;
    }
  }
  // No permutations (explain with `null: none`): the MI alone, no null.
  if (R === 0) return state.map((st) => ({ mi: st.mi, nullMean: NaN, nullSd: NaN, z: NaN, p: NaN, clips: n }));
  return state.map((st) => {
    const nullMean = R > 0 ? st.sum / R : NaN;
    const nullSd = R > 1 ? Math.sqrt(Math.max(0, (st.sum2 - R * nullMean * nullMean) / (R - 1))) : NaN;
    const diff = st.mi - nullMean;
    const z = nullSd > 0 ? diff / nullSd : Math.abs(diff) < 1e-12 ? 0 : diff > 0 ? Infinity : -Infinity;
    return { mi: st.mi, nullMean, nullSd, z, p: (1 + st.above) / (1 + R), clips: n };
  });
}

/** MI of labels u, v against `permutations` shuffles of v. */
export function permutationTest(u: Int32Array, v: Int32Array, ku: number, kv: number, opts: { permutations: number; rng: Rng; estimator?: Estimator }): NullTest {
  return permutationTests([{ u, ku }], v, kv, opts)[0];
}

const DEFAULT_PERMUTATIONS = CONFIG_DEFAULTS.selection.auto.permutations;
const DEFAULT_MAX_ROWS = CONFIG_DEFAULTS.selection.auto.maxRows;

export interface PairEvidence extends NullTest {
  /** Clustering indices (into the clusterings given). */
  i: number;
  j: number;
  /** `modality/layer/k` of each. */
  a: string;
  b: string;
}

export interface EvidenceOptions {
  /** Shuffles per pair (default 100). */
  permutations?: number;
  seed: number;
  estimator?: Estimator;
  /** Rows (clips) to test on; default every row of the matrix. */
  rows?: ArrayLike<number>;
  /** At most this many clips (default 20,000): larger sets are thinned to an even stride. */
  maxRows?: number;
  /** A name for the seed stream, so tests of different sets of clips use different shuffles. */
  stream?: string;
}

/** Evenly spaced positions 0..n-1, at most m of them (all when n ≤ m). */
export function strideSample(n: number, m: number): Int32Array {
  if (n <= m) return Int32Array.from({ length: n }, (_, i) => i);
  const out = new Int32Array(m);
  for (let t = 0; t < m; t++) out[t] = Math.floor((t * n) / m);
  return out;
}

/** The permutation test of every pair (flat [i0, j0, ...]) on the chosen rows of a label matrix. */
export function pairEvidence(matrix: LabelMatrix, pairs: ArrayLike<number>, clusterings: readonly ClusteringMeta[], opts: EvidenceOptions): PairEvidence[] {
  const all = opts.rows ?? Int32Array.from({ length: matrix.n }, (_, i) => i);
  const pick = strideSample(all.length, opts.maxRows ?? DEFAULT_MAX_ROWS);
  const rows = Int32Array.from(pick, (t) => all[t]);
  const { labels, d } = matrix;
  const column = (c: number) => Int32Array.from(rows, (x) => labels[x * d + c]);
  const cache = new Map<number, Int32Array>();
  const col = (c: number) => {
    let v = cache.get(c);
    if (!v) cache.set(c, (v = column(c)));
    return v;
  };
  // Pairs grouped by their second clustering: its labels are shuffled once per permutation for the
  // whole group, from a generator seeded by that clustering alone.
  const out: PairEvidence[] = new Array(pairs.length / 2);
  const groups = new Map<number, number[]>();
  for (let p = 0; p < pairs.length; p += 2) {
    const list = groups.get(pairs[p + 1]) ?? [];
    list.push(p / 2);
    groups.set(pairs[p + 1], list);
  }
  for (const [j, list] of groups) {
    const rng = Rng.derive(opts.seed, 'pair-evidence', opts.stream ?? '', j);
    const tests = permutationTests(
      list.map((q) => ({ u: col(pairs[2 * q]), ku: matrix.ks[pairs[2 * q]] })),
      col(j),
      matrix.ks[j],
      { permutations: opts.permutations ?? DEFAULT_PERMUTATIONS, rng, estimator: opts.estimator },
    );
    list.forEach((q, t) => {
      const i = pairs[2 * q];
      out[q] = { i, j, a: clusteringName(clusterings[i]), b: clusteringName(clusterings[j]), ...tests[t] };
    });
  }
  return out;
}

export interface AutoPairingOptions {
  /** The pairs considered (default bipartite: every audio clustering with every visual one). */
  candidates: PairingMode;
  /** Keep a pair when its permutation p-value is at most this (default 0.01)... */
  alpha: number;
  /** ...its z-score at least this (default 4)... */
  minZ: number;
  /** ...and at least this share of the best pair's z-score (default 0: off); */
  relativeZ: number;
  /** then at most this many, the highest z first (default 25, the reference's 5 × 5). */
  maxPairs: number;
  permutations: number;
  maxRows: number;
}

export interface AutoPairing {
  /** Flat [i0, j0, ...] of the pairs kept (every candidate when nothing passed). */
  pairs: Int32Array;
  /** Evidence of the kept pairs, highest z first. */
  kept: PairEvidence[];
  dropped: Array<PairEvidence & { why: string }>;
  /** True when no pair passed and every candidate pair is used instead. */
  fallback: boolean;
}

/**
 * `pairing: auto`: test every candidate pair on the pool and keep those significantly above the
 * permutation null (p ≤ alpha, z ≥ minZ) whose z-score is at least `relativeZ` of the best pair's,
 * at most `maxPairs` of them (highest z first). When none pass, every candidate pair is kept and
 * `fallback` says so.
 */
export function autoPairs(matrix: LabelMatrix, clusterings: readonly ClusteringMeta[], opts: AutoPairingOptions, seed: number, estimator: Estimator = CONFIG_DEFAULTS.selection.estimator): AutoPairing {
  const candidates = resolvePairs(clusterings, opts.candidates);
  const ev = pairEvidence(matrix, candidates, clusterings, { seed, estimator, permutations: opts.permutations, maxRows: opts.maxRows, stream: 'pool' });
  // Highest z first; ties by candidate order (stable sort).
  const sorted = [...ev].sort((a, b) => b.z - a.z);
  const significant = sorted.filter((e) => e.p <= opts.alpha && e.z >= opts.minZ);
  const bestZ = significant.length ? significant[0].z : Infinity;
  const kept: PairEvidence[] = [];
  const dropped: Array<PairEvidence & { why: string }> = [];
  for (const e of sorted) {
    if (!(e.p <= opts.alpha)) dropped.push({ ...e, why: `p = ${e.p.toPrecision(2)} > alpha ${opts.alpha}` });
    else if (!(e.z >= opts.minZ)) dropped.push({ ...e, why: `z = ${e.z.toFixed(1)} < minZ ${opts.minZ}` });
    else if (e.z < opts.relativeZ * bestZ) dropped.push({ ...e, why: `z = ${e.z.toFixed(1)} < ${opts.relativeZ} × best z ${bestZ.toFixed(1)}` });
    else if (kept.length >= opts.maxPairs) dropped.push({ ...e, why: `beyond the ${opts.maxPairs} strongest pairs (maxPairs)` });
    else kept.push(e);
  }
  if (kept.length === 0) return { pairs: candidates, kept: sorted, dropped: [], fallback: true };
  const pairs = new Int32Array(kept.length * 2);
  kept.forEach((e, t) => {
    pairs[2 * t] = e.i;
    pairs[2 * t + 1] = e.j;
  });
  return { pairs, kept, dropped, fallback: false };
}

/** Rows of a matrix as their own matrix (copied). */
export function takeRows(m: LabelMatrix, rows: ArrayLike<number>): LabelMatrix {
  const out = new Int32Array(rows.length * m.d);
  for (let t = 0; t < rows.length; t++) out.set(m.labels.subarray(rows[t] * m.d, rows[t] * m.d + m.d), t * m.d);
  return { labels: out, n: rows.length, d: m.d, ks: m.ks };
}


/** Configuration of the pairs: a pairing spec, and the `auto` options when the spec is `auto`. */
export interface PairingConfig {
  pairing: PairingMode | 'auto' | ReadonlyArray<readonly [number | string, number | string]>;
  auto?: AutoPairingOptions;
}

/** `selection.auto` as the schema fills it in. */
export const DEFAULT_AUTO: AutoPairingOptions = CONFIG_DEFAULTS.selection.auto;

/**
 * The pairs of a pool. For `auto`, `sample` gives the clips to test on (an even stride of at most
 * `auto.maxRows` pool rows, the same in every process) and `seed` the permutations.
 */
export function poolPairs(
  clusterings: readonly ClusteringMeta[],
  cfg: PairingConfig,
  auto?: { sample: () => LabelMatrix; seed: number; estimator?: Estimator },
): { pairs: Int32Array; auto?: AutoPairing } {
  if (cfg.pairing !== 'auto') return { pairs: resolvePairs(clusterings, cfg.pairing) };
  const opts = { ...DEFAULT_AUTO, ...(cfg.auto ?? {}) };
  if (!auto) return { pairs: resolvePairs(clusterings, opts.candidates) };
  const result = autoPairs(auto.sample(), clusterings, opts, auto.seed, auto.estimator);
  return { pairs: result.pairs, auto: result };
}
