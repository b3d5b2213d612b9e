/**
 * The mutual-information objective of ACAV-style curation (docs/algorithms.md §2–4), kept
 * incrementally.
 *
 * For a subset S of n clips and a pair p = (i, j) of clusterings, with N_uv the contingency table,
 * a_u and b_v its row and column sums and f(t) = t ln t:
 *
 *     MI_p(S) = ln n + (Σ f(N_uv) − Σ f(a_u) − Σ f(b_v)) / n,     F(S) = mean over pairs of MI_p
 *
 * Row sums of clustering i are the cluster counts of clustering i, so they are kept once per
 * clustering and shared by every pair that contains it (with multiplicity m_i = number of pairs
 * holding i). Adding a clip changes one cell per pair and one count per clustering, so
 *
 *     ΔT(x) = Σ_p df(N_p[c_i(x), c_j(x)]) − Σ_i m_i df(count_i[c_i(x)]),   df(t) = f(t+1) − f(t)
 *
 * is O(|P| + D) table look-ups with df tabulated for t = 0..pool size.
 *
 * Miller–Madow: MI_MM = MI − (K_uv − K_u − K_v + 1) / (2n) with K the numbers of non-empty cells,
 * rows and columns. Written per term this is the same sum with f replaced by
 * h(t) = t ln t − [t > 0] / 2, minus a constant 1/(2n): the correction costs nothing extra, only
 * the tabulated increments differ (dh(0) = df(0) − 1/2, dh(t) = df(t) for t > 0).
 */

import { buildKernels, type ObjectiveKernels } from './kernels.js';
import { CONFIG_DEFAULTS } from '../../config/defaults.js';

export type Estimator = 'plugin' | 'miller-madow';

/** Error for inputs the objective refuses (empty pools, labels out of range, bad pairs). */
export class SelectionInputError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SelectionInputError';
  }
}

/** Cluster labels of a pool: `labels[x * d + c]` is clip x's cluster in clustering c (0..ks[c]-1). */
export interface LabelMatrix {
  labels: Int32Array;
  /** Number of clips. */
  n: number;
  /** Number of clusterings. */
  d: number;
  /** Number of clusters of each clustering. */
  ks: ArrayLike<number>;
}

/** f(t) = t ln t with f(0) = 0. */
export function xlogx(t: number): number {
  return t > 0 ? t * Math.log(t) : 0;
}

/**
 * Tabulated increments g(t + 1) − g(t) for t = 0..maxCount − 1 of the estimator's term g
 * (f for plug-in, h for Miller–Madow). Written as ln(t+1) + t·log1p(1/t) to avoid the
 * cancellation of (t+1)ln(t+1) − t ln t at large t.
 */
export function incrementTable(maxCount: number, estimator: Estimator): Float64Array {
  const table = new Float64Array(maxCount + 1);
  table[0] = estimator === 'miller-madow' ? -0.5 : 0; // f(1) − f(0) = 0
  for (let t = 1; t <= maxCount; t++) table[t] = Math.log(t + 1) + t * Math.log1p(1 / t);
  return table;
}

/**
 * The increment table of every objective of this process: entry t does not depend on the
 * table's length, so one table (grown when a larger pool needs it) serves every objective, as a
 * read-only view of its first maxCount + 1 entries. Tabulating 1.1M entries costs ~15 ms (two
 * logarithms each), paid once instead of once per objective (a search, its replay, explain).
 */
const SHARED_TABLES: Partial<Record<Estimator, Float64Array>> = {};

function sharedIncrementTable(maxCount: number, estimator: Estimator): Float64Array {
  let table = SHARED_TABLES[estimator];
  if (!table || table.length < maxCount + 1) {
    table = incrementTable(Math.max(maxCount, Math.min(2 * (table?.length ?? 0), 1 << 26)), estimator);
    SHARED_TABLES[estimator] = table;
  }
  return table.subarray(0, maxCount + 1);
}

/** Check the label matrix: shape, integer k >= 1, every label in 0..k-1. Throws naming the clip and clustering. */
export function validateLabels(m: LabelMatrix, names?: readonly string[]): void {
  const { labels, n, d, ks } = m;
  if (!Number.isInteger(n) || n < 0) throw new SelectionInputError(`the number of clips must be a non-negative integer, got ${n}`);
  if (!Number.isInteger(d) || d < 1) throw new SelectionInputError(`need at least one clustering, got ${d}`);
  if (ks.length !== d) throw new SelectionInputError(`got ${ks.length} cluster counts for ${d} clusterings`);
  if (labels.length !== n * d) {
    throw new SelectionInputError(`the label matrix has ${labels.length} entries, expected ${n} clips x ${d} clusterings = ${n * d}`);
  }
  for (let c = 0; c < d; c++) {
    if (!Number.isInteger(ks[c]) || ks[c] < 1) {
      throw new SelectionInputError(`clustering ${names?.[c] ?? c} has k = ${ks[c]}; k must be a positive integer`);
    }
  }
  for (let x = 0; x < n; x++) {
    const base = x * d;
    for (let c = 0; c < d; c++) {
      const l = labels[base + c];
      if (l < 0 || l >= ks[c]) {
        throw new SelectionInputError(
          `label ${l} of clip ${x} in clustering ${names?.[c] ?? c} is out of range 0..${ks[c] - 1}`,
        );
      }
    }
  }
}

/** Pairs as a flat Int32Array [i0, j0, i1, j1, ...]; validated against d. */
function checkPairs(pairs: ArrayLike<number>, d: number): Int32Array {
  if (pairs.length === 0 || pairs.length % 2 !== 0) {
    throw new SelectionInputError(`need at least one clustering pair (got ${pairs.length / 2})`);
  }
  const out = Int32Array.from(pairs as ArrayLike<number>);
  for (let p = 0; p < out.length; p += 2) {
    const i = out[p];
    const j = out[p + 1];
    if (!Number.isInteger(i) || !Number.isInteger(j) || i < 0 || j < 0 || i >= d || j >= d) {
      throw new SelectionInputError(`pair (${i}, ${j}) names a clustering outside 0..${d - 1}`);
    }
    if (i === j) throw new SelectionInputError(`pair (${i}, ${j}) pairs a clustering with itself`);
  }
  return out;
}

export interface ObjectiveOptions {
  estimator?: Estimator;
  /** Skip the O(n·d) label range check (the caller validated already). */
  trusted?: boolean;
  /** Specialise the inner loops to the pair structure (default true; false = generic loops). */
  compile?: boolean;
}

/**
 * The incremental objective over a pool. Holds integer contingency tables for every pair and
 * integer cluster counts for every clustering in use. Scores are in "T units": comparable
 * between candidates at the same state; `valueAfterAdd`/`value` convert to F.
 */
export class MIObjective {
  readonly labels: Int32Array;
  readonly pool: number;
  readonly d: number;
  readonly ks: Int32Array;
  readonly estimator: Estimator;
  /** Number of pairs. */
  readonly pairCount: number;
  readonly pairs: Int32Array;
  /** |S|. */
  size = 0;
  /** Σ_p T_p of the current subset (estimator's term). */
  private t = 0;
  private readonly pairI: Int32Array;
  private readonly pairJ: Int32Array;
  private readonly pairKj: Int32Array;
  private readonly pairOff: Int32Array;
  private readonly cells: Int32Array;
  /** Clusterings that occur in some pair, their multiplicity and count offsets. */
  private readonly used: Int32Array;
  private readonly mult: Float64Array;
  private readonly countOff: Int32Array;
  private readonly counts: Int32Array;
  private readonly dg: Float64Array;
  /** 1 when the clip is in S. */
  readonly inSet: Uint8Array;
  /** The inner loops (compiled for this pair structure, or generic). */
  readonly kernels: ObjectiveKernels;

  constructor(matrix: LabelMatrix, pairs: ArrayLike<number>, opts: ObjectiveOptions = {}) {
    if (!opts.trusted) validateLabels(matrix);
    this.labels = matrix.labels;
    this.pool = matrix.n;
    this.d = matrix.d;
    this.ks = Int32Array.from(matrix.ks as ArrayLike<number>);
    this.estimator = opts.estimator ?? CONFIG_DEFAULTS.selection.estimator;
    this.pairs = checkPairs(pairs, this.d);
    const P = this.pairs.length / 2;
    this.pairCount = P;
    this.pairI = new Int32Array(P);
    this.pairJ = new Int32Array(P);
    this.pairKj = new Int32Array(P);
    this.pairOff = new Int32Array(P);
    let cellTotal = 0;
    const multiplicity = new Int32Array(this.d);
    for (let p = 0; p < P; p++) {
      const i = this.pairs[2 * p];
      const j = this.pairs[2 * p + 1];
      this.pairI[p] = i;
      this.pairJ[p] = j;
      this.pairKj[p] = this.ks[j];
      this.pairOff[p] = cellTotal;
      cellTotal += this.ks[i] * this.ks[j];
      multiplicity[i]++;
      multiplicity[j]++;
    }
    this.cells = new Int32Array(cellTotal);
    const used: number[] = [];
    for (let c = 0; c < this.d; c++) if (multiplicity[c] > 0) used.push(c);
    this.used = Int32Array.from(used);
    this.mult = new Float64Array(used.length);
    this.countOff = new Int32Array(used.length);
    let countTotal = 0;
    for (let q = 0; q < used.length; q++) {
      this.mult[q] = multiplicity[used[q]];
      this.countOff[q] = countTotal;
      countTotal += this.ks[used[q]];
    }
    this.counts = new Int32Array(countTotal);
    this.dg = sharedIncrementTable(Math.max(1, this.pool), this.estimator);
    this.inSet = new Uint8Array(this.pool);
    this.kernels = buildKernels(
      {
        labels: this.labels,
        d: this.d,
        cells: this.cells,
        counts: this.counts,
        dg: this.dg,
        pairI: this.pairI,
        pairJ: this.pairJ,
        pairKj: this.pairKj,
        pairOff: this.pairOff,
        used: this.used,
        mult: this.mult,
        countOff: this.countOff,
      },
      { compile: opts.compile },
    );
  }

  /** ΔT of adding clip x to the current subset (x must not be in it). O(|P| + D). */
  gainScore(x: number): number {
    return this.kernels.gain(x);
  }

  /** ΔT of removing clip x from the current subset (x must be in it). */
  removalDelta(x: number): number {
    return this.kernels.removal(x);
  }

  /** ΔT of swapping: clip `out` (in S) leaves and clip `inn` (not in S) enters. O(|P| + D). */
  swapDelta(out: number, inn: number): number {
    return this.kernels.swap(out, inn);
  }

  /** Add clip x to S. Returns ΔT. */
  add(x: number): number {
    if (this.inSet[x]) throw new Error(`clip ${x} is already selected`);
    const delta = this.kernels.add(x);
    this.inSet[x] = 1;
    this.size++;
    this.t += delta;
    return delta;
  }

  /** Remove clip x from S. Returns ΔT. */
  remove(x: number): number {
    if (!this.inSet[x]) throw new Error(`clip ${x} is not selected`);
    const delta = this.kernels.remove(x);
    this.inSet[x] = 0;
    this.size--;
    this.t += delta;
    return delta;
  }

  /** F for a subset of `size` clips whose summed term is `t`. F = 0 for 0 or 1 clips. */
  valueOf(size: number, t: number): number {
    if (size <= 1) return 0;
    const v = Math.log(size) + t / (this.pairCount * size);
    return this.estimator === 'miller-madow' ? v - 0.5 / size : v;
  }

  /** F(S). */
  value(): number {
    return this.valueOf(this.size, this.t);
  }

  /** F(S + x) for x not in S. */
  valueAfterAdd(x: number): number {
    return this.valueOf(this.size + 1, this.t + this.gainScore(x));
  }

  /** F(S − x) for x in S. */
  valueAfterRemove(x: number): number {
    return this.valueOf(this.size - 1, this.t + this.removalDelta(x));
  }

  /**
   * F(S − x) for every x of `members` (all in S) into out[0..): valueAfterRemove of each, with the
   * logarithm of the smaller size taken once instead of once per clip (the same arithmetic, so
   * the same bits).
   */
  valuesAfterRemove(members: ArrayLike<number>, out: Float64Array): Float64Array {
    const size = this.size - 1;
    if (size <= 1) {
      out.fill(0, 0, members.length);
      return out;
    }
    const log = Math.log(size);
    const per = this.pairCount * size;
    const mm = this.estimator === 'miller-madow';
    const removal = this.kernels.removal;
    const t = this.t;
    for (let s = 0; s < members.length; s++) {
      const v = log + (t + removal(members[s])) / per;
      out[s] = mm ? v - 0.5 / size : v;
    }
    return out;
  }

  /** F after swapping `out` (in S) for `inn` (not in S). */
  valueAfterSwap(out: number, inn: number): number {
    return this.valueOf(this.size, this.t + this.swapDelta(out, inn));
  }

  /** Summed term T recomputed from the integer tables (no accumulated rounding); also stored. */
  resync(): number {
    const g = this.estimator === 'miller-madow' ? (v: number) => (v > 0 ? xlogx(v) - 0.5 : 0) : xlogx;
    let t = 0;
    for (let p = 0; p < this.pairCount; p++) {
      const size = this.ks[this.pairI[p]] * this.ks[this.pairJ[p]];
      const off = this.pairOff[p];
      for (let c = 0; c < size; c++) t += g(this.cells[off + c]);
    }
    for (let q = 0; q < this.used.length; q++) {
      const k = this.ks[this.used[q]];
      const off = this.countOff[q];
      let s = 0;
      for (let c = 0; c < k; c++) s += g(this.counts[off + c]);
      t -= this.mult[q] * s;
    }
    this.t = t;
    return t;
  }

  /** The running summed term (for diagnostics). */
  get term(): number {
    return this.t;
  }

  /** Empty S. */
  clear(): void {
    this.cells.fill(0);
    this.counts.fill(0);
    this.inSet.fill(0);
    this.size = 0;
    this.t = 0;
  }
}
