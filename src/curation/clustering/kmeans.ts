/**
 * k-means: greedy k-means++ seeding on a sample, Lloyd iterations with a tolerance, repair of
 * empty clusters by splitting the largest, several restarts keeping the lowest inertia. Every
 * random choice comes from the Rng passed in, so the same seed gives the same centroids.
 *
 * Inertia never increases across iterations: each Lloyd step moves centroids to the means of
 * their clusters, and an empty cluster's centroid is moved onto a point of the largest cluster
 * (which then costs 0), so the next assignment can only lower every point's distance.
 */
import { Rng } from '../../runtime/random.js';
import { NearestCentroid, pairwiseSqDist, rowSqNorms, type KernelOptions } from './kernel.js';
import { CONFIG_DEFAULTS } from '../../config/defaults.js';

export interface KMeansOptions {
  k: number;
  /** Lloyd iterations at most (default: the schema's clustering.iterations). */
  iterations?: number;
  /**
   * Stop when an iteration lowers the inertia by less than this fraction (default: clustering.tolerance), or when
   * no label changes. A negative value runs every iteration.
   */
  tolerance?: number;
  /** Independent runs (different seeds); the one with the lowest inertia is kept (default: clustering.restarts). */
  restarts?: number;
  /** k-means++ seeds from a sample of this many points per centroid (default: clustering.initPointsPerCentroid; 0 = all). */
  initPointsPerCentroid?: number;
  /** Greedy k-means++ candidates per centroid (default 2 + floor(ln k)). */
  initTrials?: number;
  rng: Rng;
  /** Start from these centroids (float32 [k, dim]) instead of k-means++ (then restarts = 1). */
  init?: Float32Array;
  kernel?: KernelOptions;
  /** Called after each Lloyd iteration. */
  onIteration?: (info: { restart: number; iteration: number; inertia: number; changed: number }) => void;
}

export interface KMeansResult {
  k: number;
  dim: number;
  /** float32 [k, dim]. */
  centroids: Float32Array;
  /** Nearest final centroid of every input point. */
  labels: Int32Array;
  /** Σ squared distance of every point to its final centroid. */
  inertia: number;
  /** Lloyd iterations run by the kept restart. */
  iterations: number;
  /** Inertia at each assignment of the kept restart, ending with the final assignment. */
  history: number[];
  /** Which restart was kept. */
  restart: number;
  /** Empty clusters repaired in the kept restart. */
  emptyRepairs: number;
}

/** Thrown when the input cannot give k clusters (fewer distinct points than k, no points). */
export class KMeansInputError extends Error {
  readonly distinct: number;
  constructor(message: string, distinct: number) {
    super(message);
    this.name = 'KMeansInputError';
    this.distinct = distinct;
  }
}

/** Group ids for identical rows (exact float equality), and how many distinct rows there are. */
export function distinctRows(X: Float32Array, n: number, dim: number): { group: Int32Array; distinct: number; firstOf: Int32Array } {
  const u32 = new Uint32Array(X.buffer, X.byteOffset, n * dim);
  const buckets = new Map<number, number[]>();
  const group = new Int32Array(n);
  const first: number[] = [];
  for (let i = 0; i < n; i++) {
    let h = 0x811c9dc5;
    const o = i * dim;
    for (let j = 0; j < dim; j++) {
      // +0 and -0 are the same point.
      const v = X[o + j] === 0 ? 0 : u32[o + j];
      h = Math.imul(h ^ v, 0x01000193);
    }
    h >>>= 0;
    let list = buckets.get(h);
    if (!list) buckets.set(h, (list = []));
    let g = -1;
    for (const cand of list) {
      const fo = first[cand] * dim;
      let same = true;
      for (let j = 0; j < dim; j++) {
        if (X[fo + j] !== X[o + j]) {
          same = false;
          break;
        }
      }
      if (same) {
        g = cand;
        break;
      }
    }
    if (g < 0) {
      g = first.length;
      first.push(i);
      list.push(g);
    }
    group[i] = g;
  }
  return { group, distinct: first.length, firstOf: Int32Array.from(first) };
}

function copyRows(X: Float32Array, dim: number, idx: ArrayLike<number>): Float32Array {
  const out = new Float32Array(idx.length * dim);
  for (let r = 0; r < idx.length; r++) out.set(X.subarray(idx[r] * dim, idx[r] * dim + dim), r * dim);
  return out;
}

function sampleD2(cum: Float64Array, m: number, rng: Rng): number {
  const total = cum[m - 1];
  const t = rng.next() * total;
  let lo = 0;
  let hi = m - 1;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (cum[mid] > t) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}

/**
 * Greedy k-means++ (Arthur & Vassilvitskii; the greedy variant tries several D²-sampled
 * candidates per step and keeps the one that lowers the potential most). Points identical to a
 * chosen centroid get distance exactly 0, so a duplicate is never chosen twice.
 */
export async function kmeansPlusPlus(
  S: Float32Array,
  m: number,
  dim: number,
  k: number,
  rng: Rng,
  opts: { trials?: number; kernel?: KernelOptions } = {},
): Promise<Float32Array> {
  const { group, distinct } = distinctRows(S, m, dim);
  if (distinct < k) throw new KMeansInputError(`k = ${k} but the ${m} points hold only ${distinct} distinct point${distinct === 1 ? '' : 's'}`, distinct);
  const trials = Math.max(1, opts.trials ?? 2 + Math.floor(Math.log(k)));
  const xn = rowSqNorms(S, m, dim);
  const C = new Float32Array(k * dim);
  const chosenGroup = new Uint8Array(distinct);
  const D = new Float64Array(m);
  const cum = new Float64Array(m);
  const kern = opts.kernel ?? {};

  const take = (c: number, idx: number, dist: Float32Array, L: number, col: number) => {
    C.set(S.subarray(idx * dim, idx * dim + dim), c * dim);
    chosenGroup[group[idx]] = 1;
    for (let i = 0; i < m; i++) {
      const v = chosenGroup[group[i]] ? 0 : dist[i * L + col];
      if (c === 0 || v < D[i]) D[i] = v;
    }
  };
  const first = rng.int(m);
  take(0, first, await pairwiseSqDist(S, m, dim, S.subarray(first * dim, first * dim + dim), 1, { ...kern, xnorm: xn }), 1, 0);
  for (let c = 1; c < k; c++) {
    let acc = 0;
    for (let i = 0; i < m; i++) cum[i] = acc += D[i];
    if (!(acc > 0)) throw new KMeansInputError(`k = ${k} but the ${m} points hold only ${c} distinct points`, c);
    const cands: number[] = [];
    for (let t = 0; t < trials; t++) {
      let idx = sampleD2(cum, m, rng);
      // Never a point whose potential is 0 (a chosen duplicate): walk to the next positive one.
      while (D[idx] === 0) idx = (idx + 1) % m;
      cands.push(idx);
    }
    const L = cands.length;
    const dist = await pairwiseSqDist(S, m, dim, copyRows(S, dim, cands), L, { ...kern, xnorm: xn });
    let best = 0;
    let bestPot = Infinity;
    for (let t = 0; t < L; t++) {
      let pot = 0;
      const g = group[cands[t]];
      for (let i = 0; i < m; i++) {
        const v = group[i] === g ? 0 : dist[i * L + t];
        pot += v < D[i] ? v : D[i];
      }
      if (pot < bestPot) {
        bestPot = pot;
        best = t;
      }
    }
    take(c, cands[best], dist, L, best);
  }
  return C;
}

/** Run k-means on n points X [n, dim]. */
export async function kmeans(X: Float32Array, n: number, dim: number, opts: KMeansOptions): Promise<KMeansResult> {
  const k = opts.k;
  if (!Number.isInteger(k) || k < 1) throw new RangeError(`kmeans: k must be a positive integer, got ${k}`);
  if (n < 1) throw new KMeansInputError(`k = ${k} but there are no points to cluster`, 0);
  if (n < k) throw new KMeansInputError(`k = ${k} but there are only ${n} points`, n);
  const iterations = opts.iterations ?? CONFIG_DEFAULTS.clustering.iterations;
  const tol = opts.tolerance ?? CONFIG_DEFAULTS.clustering.tolerance;
  const restarts = opts.init ? 1 : Math.max(1, opts.restarts ?? CONFIG_DEFAULTS.clustering.restarts);
  if (opts.init && opts.init.length !== k * dim) throw new RangeError(`kmeans: init holds ${opts.init.length} values, need k*dim = ${k * dim}`);
  const ppc = opts.initPointsPerCentroid ?? CONFIG_DEFAULTS.clustering.initPointsPerCentroid;
  const kern = new NearestCentroid(dim, k, opts.kernel);
  const xnorm = rowSqNorms(X, n, dim);
  let best: KMeansResult | null = null;
  const seeds = Array.from({ length: restarts }, () => opts.rng.nextUint32());
  for (let r = 0; r < restarts; r++) {
    const rng = new Rng(seeds[r]);
    // k-means++ on a sample; when the sample has too few distinct points, on all points.
    const m = ppc > 0 ? Math.min(n, ppc * k) : n;
    let C: Float32Array;
    if (opts.init) {
      C = Float32Array.from(opts.init);
    } else if (m < n) {
      const perm = rng.permutation(n).subarray(0, m).sort();
      try {
        C = await kmeansPlusPlus(copyRows(X, dim, perm), m, dim, k, rng, { trials: opts.initTrials, kernel: opts.kernel });
      } catch (err) {
        if (!(err instanceof KMeansInputError)) throw err;
        C = await kmeansPlusPlus(X, n, dim, k, rng, { trials: opts.initTrials, kernel: opts.kernel });
      }
    } else {
      C = await kmeansPlusPlus(X, n, dim, k, rng, { trials: opts.initTrials, kernel: opts.kernel });
    }
    const history: number[] = [];
    let prevLabels: Int32Array | null = null;
    let repairs = 0;
    let it = 0;
    // Per-cluster sums and counts of the current labels. The first pass takes them from the
    // kernel (a second GEMM); later passes update them with the points whose label changed,
    // which after a few iterations is a small fraction of the points.
    const sums = new Float64Array(k * dim);
    const counts = new Float64Array(k);
    let lastChanged = n;
    while (it < iterations) {
      const full = prevLabels === null || lastChanged > n * 0.3;
      const a = await kern.assign(X, n, C, { sums: full, xnorm });
      it++;
      history.push(a.inertia);
      let changed = 0;
      if (full) {
        sums.set(a.sums!);
        counts.set(a.counts!);
        if (prevLabels) {
          for (let i = 0; i < n; i++) if (a.labels[i] !== prevLabels[i]) changed++;
        } else {
          changed = n;
        }
      } else {
        const lab = a.labels;
        const prev = prevLabels!;
        for (let i = 0; i < n; i++) {
          const to = lab[i];
          const from = prev[i];
          if (to === from) continue;
          changed++;
          const o = i * dim;
          const fo = from * dim;
          const tt = to * dim;
          for (let j = 0; j < dim; j++) {
            const v = X[o + j];
            sums[fo + j] -= v;
            sums[tt + j] += v;
          }
          counts[from]--;
          counts[to]++;
        }
        // An emptied cluster sums to exactly zero (no rounding residue carried forward).
        for (let c = 0; c < k; c++) if (counts[c] === 0) sums.fill(0, c * dim, c * dim + dim);
      }
      prevLabels = a.labels;
      lastChanged = changed;
      opts.onIteration?.({ restart: r, iteration: it, inertia: a.inertia, changed });
      if (changed === 0 && it > 1 && tol >= 0) break; // a fixed point: the update would not move anything
      const next = new Float32Array(k * dim);
      for (let c = 0; c < k; c++) {
        if (counts[c] > 0) {
          const inv = 1 / counts[c];
          for (let j = 0; j < dim; j++) next[c * dim + j] = sums[c * dim + j] * inv;
        }
      }
      repairs += repairEmpty(next, counts, a.labels, a.minDist, X, n, dim, k, rng);
      C = next;
      const h = history.length;
      if (tol >= 0 && h >= 2 && history[h - 2] - history[h - 1] <= tol * history[h - 1]) break;
    }
    const fin = await kern.assign(X, n, C, { xnorm });
    history.push(fin.inertia);
    const result: KMeansResult = { k, dim, centroids: C, labels: fin.labels, inertia: fin.inertia, iterations: it, history, restart: r, emptyRepairs: repairs };
    if (!best || result.inertia < best.inertia) best = result;
  }
  return best!;
}

/**
 * Give every empty cluster a centroid: a random point of the currently largest cluster whose
 * distance to its centroid is positive (so the split separates something). Returns how many
 * clusters were repaired.
 */
function repairEmpty(
  C: Float32Array,
  counts: Float64Array,
  labels: Int32Array,
  minDist: Float32Array,
  X: Float32Array,
  n: number,
  dim: number,
  k: number,
  rng: Rng,
): number {
  let repaired = 0;
  const cnt = Float64Array.from(counts);
  const used = new Set<number>();
  for (let e = 0; e < k; e++) {
    if (cnt[e] > 0) continue;
    const order = Array.from({ length: k }, (_, c) => c).filter((c) => cnt[c] > 1).sort((a, b) => cnt[b] - cnt[a] || a - b);
    let done = false;
    for (const big of order) {
      const members: number[] = [];
      for (let i = 0; i < n; i++) if (labels[i] === big && minDist[i] > 0 && !used.has(i)) members.push(i);
      if (members.length === 0) continue;
      const pick = members[rng.int(members.length)];
      used.add(pick);
      C.set(X.subarray(pick * dim, pick * dim + dim), e * dim);
      const half = Math.floor(cnt[big] / 2);
      cnt[e] = half;
      cnt[big] -= half;
      done = true;
      repaired++;
      break;
    }
    if (!done) {
      // Every cluster is a single point or a stack of identical points: nothing to split.
      throw new KMeansInputError(`k = ${k} but the points hold fewer than ${k} distinct values (cluster ${e} stayed empty)`, k - 1);
    }
  }
  return repaired;
}
