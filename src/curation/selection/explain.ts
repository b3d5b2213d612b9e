/**
 * Why the selection is what it is (`avcurate explain`, explain.json; docs/selection.md "Explain"):
 *
 * - per clustering pair: MI on the pool and on the selection against a permutation null
 *   (evidence.ts: z-score, p-value), for every candidate pair and whether the selection used it;
 * - the strongest audio-cluster ↔ visual-cluster cells of the pairs in use: the cells that carry
 *   the selection's MI, (n_uv / n)·ln(n·n_uv / (a_u·b_v)), with their counts in the selection and
 *   in the pool, the lift n·n_uv / (a_u·b_v), and member clips in rank order;
 * - per clip: its leave-one-out contribution F(S) − F(S − x) split by pair (or, for a clip left
 *   out, its gain F(S + x) − F(S)), and the cell it sits in for every pair.
 */
import type { Config } from '../../config/schema.js';
import { writeJsonAtomic } from '../../runtime/atomic.js';
import { exists } from '../../runtime/jsonl.js';
import { ManifestIndex, type ClipRecord } from '../../run/manifest.js';
import { readSelectionCsv } from '../../run/selection.js';
import { runLayout } from '../../run/layout.js';
import { readClusters } from '../clustering/store.js';
import { DEFAULT_AUTO, pairEvidence, type NullTest, type PairEvidence } from './evidence.js';
import { SelectionInputError, xlogx, type Estimator } from './objective.js';
import { clusteringName, resolvePairs } from './pairs.js';
import { poolFromClusters, selectionPaths, type SelectionPool } from './stage.js';
import { CONFIG_DEFAULTS } from '../../config/defaults.js';

export const EXPLAIN_FORMAT = 'avcurate.explain';

export interface ExplainPair {
  a: string;
  b: string;
  /** Used by the selection's objective. */
  inUse: boolean;
  pool: NullTest;
  selection: NullTest;
}

export interface ExplainClipRef {
  id: string;
  rank?: number;
  source?: string;
  start?: number;
  duration?: number;
  corresponds?: boolean;
  visualClass?: string | number;
  audioClass?: string | number;
}

export interface ExplainCell {
  /** Index into `pairs`. */
  pair: number;
  a: string;
  b: string;
  /** Cluster of the first (audio) and of the second (visual) clustering. */
  u: number;
  v: number;
  /** n_uv, a_u, b_v in the selection. */
  count: number;
  rowTotal: number;
  colTotal: number;
  /** n_uv in the whole pool. */
  poolCount: number;
  /** n·n_uv / (a_u·b_v) in the selection (1 = independence). */
  lift: number;
  /** (n_uv / n)·ln(lift): the cell's share of the pair's plug-in MI on the selection, in nats. */
  contribution: number;
  /** The cell's clips in rank order (the first `membersPerCell`). */
  members: ExplainClipRef[];
}

export interface ExplainClip extends ExplainClipRef {
  selected: boolean;
  /** F(S) − F(S − x) for a selected clip; F(S + x) − F(S) for one left out. */
  contribution: number;
  /**
   * One row per pair in use (aligned with `pairsInUse`): [u, v, n_uv in S, ΔMI of the pair], where
   * ΔMI = MI_p(S) − MI_p(S − x) (selected) or MI_p(S + x) − MI_p(S) (left out). The contribution is
   * the mean of ΔMI over the pairs.
   */
  cells: Array<[number, number, number, number]>;
}

export interface ExplainFile {
  format: typeof EXPLAIN_FORMAT;
  version: 1;
  createdAt: string;
  selection: string;
  estimator: Estimator;
  permutations: number;
  seed: number;
  pool: number;
  selected: number;
  /** F(S) over the pairs in use. */
  objective: number;
  clusterings: string[];
  /** Every candidate pair (bipartite, plus any other pair in use), highest selection z first. */
  pairs: ExplainPair[];
  /** Indices into `pairs` of the pairs the objective uses, in the objective's order. */
  pairsInUse: number[];
  /** The strongest cells of the pairs in use, by contribution. */
  cells: ExplainCell[];
  /** Selected clips in rank order (all of them, or the first `clipLimit`). */
  clips: ExplainClip[];
  clipsTruncated: boolean;
}

export interface ExplainOptions {
  estimator?: Estimator;
  seed: number;
  permutations?: number;
  maxRows?: number;
  /** Cells kept per pair in use (default 6) and at most this many in all (default 24). */
  cellsPerPair?: number;
  maxCells?: number;
  membersPerCell?: number;
  /** Per-clip rows for at most this many (clip × pair) entries (default 200,000), the top of the ranking first. */
  clipEntries?: number;
  clipRef?: (poolIndex: number) => ExplainClipRef;
}

/** Contingency tables of the pairs in use over a subset, with the per-pair MI. */
class PairTables {
  readonly cells: Int32Array[];
  readonly rows: Int32Array[];
  readonly cols: Int32Array[];
  readonly t: Float64Array;
  readonly n: number;
  constructor(
    private readonly pool: SelectionPool,
    readonly pairs: Int32Array,
    members: ArrayLike<number>,
    private readonly estimator: Estimator,
  ) {
    const { labels, d, ks } = pool.matrix;
    const P = pairs.length / 2;
    this.cells = [];
    this.rows = [];
    this.cols = [];
    this.t = new Float64Array(P);
    this.n = members.length;
    for (let p = 0; p < P; p++) {
      const i = pairs[2 * p];
      const j = pairs[2 * p + 1];
      const c = new Int32Array(ks[i] * ks[j]);
      const a = new Int32Array(ks[i]);
      const b = new Int32Array(ks[j]);
      for (let s = 0; s < members.length; s++) {
        const x = members[s];
        const u = labels[x * d + i];
        const v = labels[x * d + j];
        c[u * ks[j] + v]++;
        a[u]++;
        b[v]++;
      }
      let t = 0;
      for (const m of c) t += this.g(m);
      for (const m of a) t -= this.g(m);
      for (const m of b) t -= this.g(m);
      this.cells.push(c);
      this.rows.push(a);
      this.cols.push(b);
      this.t[p] = t;
    }
  }
  g(m: number): number {
    return m > 0 ? xlogx(m) - (this.estimator === 'miller-madow' ? 0.5 : 0) : 0;
  }
  mi(n: number, t: number): number {
    if (n <= 1) return 0;
    return Math.log(n) + t / n - (this.estimator === 'miller-madow' ? 0.5 / n : 0);
  }
  /** Per pair: MI with the clip x added (sign +1) or removed (−1). */
  miWith(x: number, sign: 1 | -1, p: number): number {
    const { labels, d, ks } = this.pool.matrix;
    const i = this.pairs[2 * p];
    const j = this.pairs[2 * p + 1];
    const u = labels[x * d + i];
    const v = labels[x * d + j];
    const N = this.cells[p][u * ks[j] + v];
    const A = this.rows[p][u];
    const B = this.cols[p][v];
    const dt = this.g(N + sign) - this.g(N) - (this.g(A + sign) - this.g(A)) - (this.g(B + sign) - this.g(B));
    return this.mi(this.n + sign, this.t[p] + dt);
  }
  cellOf(x: number, p: number): [number, number, number] {
    const { labels, d, ks } = this.pool.matrix;
    const i = this.pairs[2 * p];
    const j = this.pairs[2 * p + 1];
    const u = labels[x * d + i];
    const v = labels[x * d + j];
    return [u, v, this.cells[p][u * ks[j] + v]];
  }
}

export interface Explanation {
  file: ExplainFile;
  /** Explain any pool clip (selected or not) by pool index. */
  clip(poolIndex: number): ExplainClip;
}

/** Explain a selection (pool indices in rank order) over a pool whose `pairs` are the pairs in use. */
export function explainSelection(pool: SelectionPool, ranked: ArrayLike<number>, opts: ExplainOptions): Explanation {
  const estimator = opts.estimator ?? CONFIG_DEFAULTS.selection.estimator;
  const n = pool.matrix.n;
  const S = ranked.length;
  if (S < 2) throw new SelectionInputError(`the selection holds ${S} clip(s): nothing to explain`);
  const names = pool.clusterings.map(clusteringName);
  const inUse = pool.pairs;
  // Candidates: every audio × visual pair, plus the pairs in use that are not among them.
  const key = (i: number, j: number) => `${i},${j}`;
  const cand: number[] = [];
  const seen = new Set<string>();
  let bip: Int32Array;
  try {
    bip = resolvePairs(pool.clusterings, 'bipartite');
  } catch {
    bip = new Int32Array(0);
  }
  for (const list of [bip, inUse]) {
    for (let p = 0; p < list.length; p += 2) {
      const k = key(list[p], list[p + 1]);
      if (!seen.has(k)) (seen.add(k), cand.push(list[p], list[p + 1]));
    }
  }
  const evOpts = { seed: opts.seed, estimator, permutations: opts.permutations ?? DEFAULT_AUTO.permutations, maxRows: opts.maxRows ?? DEFAULT_AUTO.maxRows };
  const poolEv = pairEvidence(pool.matrix, cand, pool.clusterings, { ...evOpts, stream: 'pool' });
  const selEv = pairEvidence(pool.matrix, cand, pool.clusterings, { ...evOpts, rows: ranked, stream: 'selection' });
  const useKeys = new Map<string, number>();
  for (let p = 0; p < inUse.length; p += 2) useKeys.set(key(inUse[p], inUse[p + 1]), p / 2);
  const strip = (e: PairEvidence): NullTest => ({ mi: e.mi, nullMean: e.nullMean, nullSd: e.nullSd, z: e.z, p: e.p, clips: e.clips });
  const all = poolEv.map((e, t) => ({ i: e.i, j: e.j, pair: { a: e.a, b: e.b, inUse: useKeys.has(key(e.i, e.j)), pool: strip(e), selection: strip(selEv[t]) } }));
  // Highest selection z first; without a null (permutations 0) highest selection MI first.
  if (evOpts.permutations > 0) all.sort((x, y) => y.pair.selection.z - x.pair.selection.z || y.pair.pool.z - x.pair.pool.z);
  else all.sort((x, y) => y.pair.selection.mi - x.pair.selection.mi || y.pair.pool.mi - x.pair.pool.mi);
  const pairs = all.map((x) => x.pair);
  const indexOfPair = new Map(all.map((x, t) => [key(x.i, x.j), t]));
  const pairsInUse: number[] = [];
  for (let p = 0; p < inUse.length; p += 2) pairsInUse.push(indexOfPair.get(key(inUse[p], inUse[p + 1]))!);

  const tables = new PairTables(pool, inUse, ranked, estimator);
  const P = inUse.length / 2;
  let objective = 0;
  for (let p = 0; p < P; p++) objective += tables.mi(S, tables.t[p]) / P;
  const rankOf = new Map<number, number>();
  for (let r = 0; r < S; r++) rankOf.set(ranked[r], r + 1);
  const ref = (x: number): ExplainClipRef => ({ ...(opts.clipRef ? opts.clipRef(x) : { id: pool.ids[x] }), ...(rankOf.has(x) ? { rank: rankOf.get(x) } : {}) });

  // Cells: the strongest of each pair in use, then the strongest overall.
  const { labels, d, ks } = pool.matrix;
  const perPair = opts.cellsPerPair ?? 6;
  const membersPer = opts.membersPerCell ?? 6;
  const cells: ExplainCell[] = [];
  const memberSets: number[][] = [];
  for (let p = 0; p < P; p++) {
    const i = inUse[2 * p];
    const j = inUse[2 * p + 1];
    const c = tables.cells[p];
    const scored: Array<{ u: number; v: number; contribution: number; lift: number }> = [];
    for (let u = 0; u < ks[i]; u++) {
      for (let v = 0; v < ks[j]; v++) {
        const m = c[u * ks[j] + v];
        if (m === 0) continue;
        const lift = (S * m) / (tables.rows[p][u] * tables.cols[p][v]);
        scored.push({ u, v, lift, contribution: (m / S) * Math.log(lift) });
      }
    }
    scored.sort((x, y) => y.contribution - x.contribution || x.u - y.u || x.v - y.v);
    for (const sc of scored.slice(0, perPair)) {
      const all: number[] = [];
      for (let r = 0; r < S; r++) {
        const x = ranked[r];
        if (labels[x * d + i] === sc.u && labels[x * d + j] === sc.v) all.push(x);
      }
      memberSets.push(all);
      const members = all.slice(0, membersPer).map(ref);
      let poolCount = 0;
      for (let x = 0; x < n; x++) if (labels[x * d + i] === sc.u && labels[x * d + j] === sc.v) poolCount++;
      cells.push({
        pair: pairsInUse[p],
        a: names[i],
        b: names[j],
        u: sc.u,
        v: sc.v,
        count: c[sc.u * ks[j] + sc.v],
        rowTotal: tables.rows[p][sc.u],
        colTotal: tables.cols[p][sc.v],
        poolCount,
        lift: sc.lift,
        contribution: sc.contribution,
        members,
      });
    }
  }
  // Strongest first; a cell whose clips mostly (Jaccard > 1/2) repeat a cell already listed (the
  // same concept seen through another pair) goes after every distinct one.
  const orderCells = cells.map((_, t) => t).sort((x, y) => cells[y].contribution - cells[x].contribution || cells[x].pair - cells[y].pair);
  const distinct: number[] = [];
  const repeats: number[] = [];
  const chosenSets: Array<Set<number>> = [];
  for (const t of orderCells) {
    const m = memberSets[t];
    const dup = chosenSets.some((set) => {
      let both = 0;
      for (const x of m) if (set.has(x)) both++;
      return both / (m.length + set.size - both) > 0.5;
    });
    if (dup) repeats.push(t);
    else (distinct.push(t), chosenSets.push(new Set(m)));
  }
  const topCells = [...distinct, ...repeats].slice(0, opts.maxCells ?? 24).map((t) => cells[t]);

  const clip = (x: number): ExplainClip => {
    const selected = rankOf.has(x);
    const rows: Array<[number, number, number, number]> = [];
    let total = 0;
    for (let p = 0; p < P; p++) {
      const base = tables.mi(S, tables.t[p]);
      const delta = selected ? base - tables.miWith(x, -1, p) : tables.miWith(x, 1, p) - base;
      total += delta / P;
      const [u, v, count] = tables.cellOf(x, p);
      rows.push([u, v, count, Number(delta.toPrecision(6))]);
    }
    return { ...ref(x), selected, contribution: total, cells: rows };
  };
  const limit = Math.max(1, Math.floor((opts.clipEntries ?? 200_000) / Math.max(1, P)));
  const clips: ExplainClip[] = [];
  for (let r = 0; r < Math.min(S, limit); r++) clips.push(clip(ranked[r]));

  const file: ExplainFile = {
    format: EXPLAIN_FORMAT,
    version: 1,
    createdAt: new Date().toISOString(),
    selection: '',
    estimator,
    permutations: evOpts.permutations,
    seed: opts.seed,
    pool: n,
    selected: S,
    objective,
    clusterings: names,
    pairs,
    pairsInUse,
    cells: topCells,
    clips,
    clipsTruncated: clips.length < S,
  };
  return { file, clip };
}

export interface ExplainStageOptions {
  /** Explain this clip too (selected or not). */
  id?: string;
  /** The ranking to explain (default: the configured method's selection.csv). */
  selection?: string;
  /** Output (default <runDir>/explain.json). */
  out?: string;
}

export interface ExplainStageResult {
  file: string;
  explain: ExplainFile;
  /** The explanation of `opts.id`. */
  clip?: ExplainClip;
}

function clipRefOf(rec: ClipRecord | undefined, id: string): ExplainClipRef {
  if (!rec) return { id };
  return {
    id,
    source: rec.source,
    start: rec.start,
    duration: rec.duration,
    ...(rec.corresponds !== undefined ? { corresponds: rec.corresponds } : {}),
    ...(rec.visual_class !== undefined ? { visualClass: rec.visual_class } : {}),
    ...(rec.audio_class !== undefined ? { audioClass: rec.audio_class } : {}),
  };
}

/** Explain the run's selection; writes explain.json. */
export async function runExplain(config: Config, opts: ExplainStageOptions = {}): Promise<ExplainStageResult> {
  const runDir = config.runDir!;
  const files = selectionPaths(runDir, config.selection.method, config.selection.method, opts.selection);
  if (!(await exists(files.clusters))) throw new SelectionInputError(`${files.clusters}: not found (run "avcurate cluster" first)`);
  if (!(await exists(files.csv))) throw new SelectionInputError(`${files.csv}: not found (run "avcurate select" first)`);
  const pool = poolFromClusters(await readClusters(files.clusters), config.selection, files.clusters, config.seed);
  const rows = readSelectionCsv(files.csv);
  const index = new Map(pool.ids.map((id, i) => [id, i]));
  const ranked: number[] = [];
  for (const r of rows) {
    const x = index.get(r.id);
    if (x === undefined) throw new SelectionInputError(`${files.csv}: rank ${r.rank}: clip "${r.id}" is not in the pool of ${files.clusters}`);
    ranked.push(x);
  }
  const manifest = (await exists(files.manifest)) ? await ManifestIndex.read(files.manifest) : null;
  const auto = config.selection.auto;
  const ex = explainSelection(pool, ranked, {
    seed: config.seed,
    estimator: config.selection.estimator,
    permutations: config.selection.explain.null === 'none' ? 0 : auto.permutations,
    maxRows: auto.maxRows,
    clipRef: (x) => clipRefOf(manifest?.find(pool.ids[x]), pool.ids[x]),
  });
  ex.file.selection = files.csv;
  const out = opts.out ?? (opts.selection ? files.csv.replace(/(\.csv)?$/i, '.explain.json') : runLayout(runDir).explain);
  await writeJsonAtomic(out, ex.file);
  let clip: ExplainClip | undefined;
  if (opts.id !== undefined) {
    const x = index.get(opts.id);
    if (x === undefined) throw new SelectionInputError(`clip "${opts.id}" is not in the pool of ${files.clusters}`);
    clip = ex.clip(x);
  }
  return { file: out, explain: ex.file, clip };
}

// NaN (no null) is written to JSON as null; both print as –.
const f3 = (x: number | null) => (typeof x !== 'number' || Number.isNaN(x) ? '–' : Number.isFinite(x) ? x.toFixed(3) : String(x));
const f1 = (x: number | null) => (typeof x !== 'number' || Number.isNaN(x) ? '–' : Number.isFinite(x) ? x.toFixed(1) : String(x));

/** The printed summary of an explanation. */
export function formatExplain(e: ExplainFile, maxPairs = 12): string {
  const lines: string[] = [];
  lines.push(`explain: ${e.selected} of ${e.pool} clips selected, F = ${f3(e.objective)} over ${e.pairsInUse.length} pair(s); ${e.permutations > 0 ? `MI against ${e.permutations} permutations (seed ${e.seed})` : 'no null computed (selection.explain.null: none)'}`);
  lines.push(`  pair                                          in use   pool MI (null)   z       p       selection MI (null)  z`);
  for (const p of e.pairs.slice(0, maxPairs)) {
    lines.push(
      `  ${`${p.a} × ${p.b}`.padEnd(46)}${(p.inUse ? 'yes' : 'no').padEnd(7)}${`${f3(p.pool.mi)} (${f3(p.pool.nullMean)})`.padEnd(17)}${f1(p.pool.z).padEnd(8)}${f3(p.pool.p).padEnd(8)}${`${f3(p.selection.mi)} (${f3(p.selection.nullMean)})`.padEnd(21)}${f1(p.selection.z)}`,
    );
  }
  if (e.pairs.length > maxPairs) lines.push(`  ... ${e.pairs.length - maxPairs} more pair(s) in the JSON`);
  lines.push(`  strongest cells (audio cluster ↔ visual cluster; n in selection / pool, lift, share of MI):`);
  for (const c of e.cells.slice(0, 8)) {
    lines.push(`    ${c.a}#${c.u} ↔ ${c.b}#${c.v}: ${c.count}/${c.poolCount} clips, lift ${c.lift.toFixed(1)}, ${f3(c.contribution)} nats; e.g. ${c.members.slice(0, 3).map((m) => m.id).join(', ')}`);
  }
  return lines.join('\n');
}

/** The printed explanation of one clip. */
export function formatClip(e: ExplainFile, c: ExplainClip, maxPairs = 10): string {
  const lines: string[] = [];
  const truth = c.corresponds === undefined ? '' : c.corresponds ? ' (ground truth: corresponds)' : ' (ground truth: mismatched)';
  lines.push(
    c.selected
      ? `${c.id}: selected at rank ${c.rank}; leave-one-out contribution F(S) − F(S − x) = ${c.contribution.toExponential(3)}${truth}`
      : `${c.id}: not selected; adding it would change F by ${c.contribution.toExponential(3)}${truth}`,
  );
  const rows = c.cells.map((cell, t) => ({ cell, pair: e.pairs[e.pairsInUse[t]] }));
  rows.sort((x, y) => y.cell[3] - x.cell[3]);
  lines.push(`  per pair (${c.selected ? 'MI_p(S) − MI_p(S − x)' : 'MI_p(S + x) − MI_p(S)'}; its cell and how many selected clips share it):`);
  const show = rows.length > maxPairs ? [...rows.slice(0, maxPairs / 2), ...rows.slice(-maxPairs / 2)] : rows;
  for (const { cell, pair } of show) lines.push(`    ${`${pair.a} × ${pair.b}`.padEnd(46)} ${cell[3] >= 0 ? '+' : ''}${cell[3].toExponential(2)}   cell ${cell[0]}↔${cell[1]} (${cell[2]} selected)`);
  if (rows.length > show.length) lines.push(`    (${rows.length - show.length} pairs in between; --json prints all)`);
  return lines.join('\n');
}
