/**
 * The selection stage and its evaluation as functions of the config (used by `avcurate select`,
 * `avcurate eval-selection`, `avcurate curate` and experiments).
 *
 * Files (in the run folder):
 *   clusters.h5                          input: labels [N, D] and the clusterings
 *   manifest.jsonl                       input: id → video_id, start, duration (and ground truth)
 *   selection/part-IIIII-of-NNNNN.json   one per partition: its ranked pool indices and statistics
 *   selection.csv                        output: rank,id,video_id,start,end,gain,objective
 *   selection.meta.json                  output: parameters, fingerprint, per-partition statistics
 *   selection.eval.json                  evaluation: precision/recall of every prefix, summary
 *
 *   stages/select/selection.json         the stage ledger's record of selection.csv (src/run/ledger.ts)
 *
 * A process with `--shard i/n` selects the partitions i, i+n, ...; whichever process finds every
 * partition file present merges them (so do N shard processes, or run once more without --shard).
 * A ranking is finished when the ledger says so (same parameters, same pool fingerprint, files
 * present); partition files carry the fingerprint and are reused while it matches.
 */
import { createHash } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { withRunLock } from '../../run/lock.js';
import type { Config } from '../../config/schema.js';
import type { SelectionConfig } from '../../config/sections/selection.js';
import { produceFileAtomic, writeFully, writeJsonAtomic } from '../../runtime/atomic.js';
import { exists } from '../../runtime/jsonl.js';
import { Progress, log } from '../../runtime/progress.js';
import { shardName, unitsOfShard, type ShardSpec } from '../../runtime/shard.js';
import { readClusters, type ClusterFile } from '../clustering/store.js';
import { scanPool, type PoolScan } from './pool-scan.js';
import { ManifestIndex, iterManifest, type ClipRecord } from '../../run/manifest.js';
import { runLayout } from '../../run/layout.js';
import { markDone, redoNote, stageDone } from '../../run/ledger.js';
import type { Algorithm, RefineStats } from './algorithms.js';
import { SELECTION_COLUMNS, formatSelectionCsv, writeSelectionCsv, type SelectionRow } from '../../run/selection.js';
import { SelectionInputError, validateLabels, type Estimator, type LabelMatrix } from './objective.js';
import { clusteringName, type ClusteringMeta } from './pairs.js';
import { DEFAULT_AUTO, poolPairs, strideSample, takeRows, type AutoPairing, type AutoPairingOptions, type PairingConfig } from './evidence.js';
import {
  mergePartitions,
  mergePartitionsSelected,
  planPartitions,
  selectPartition,
  type PartitionResult,
  type SelectionParams,
} from './partitions.js';
import { rankToSelection, scoreColumns } from './rank.js';

export const SELECTION_PART_FORMAT = 'avcurate.selection-part';

/**
 * The files of a selection method in the run folder (src/run/layout.ts): the configured method's
 * ranking is selection.csv, another method's is selection.<method>.csv, each with its own
 * .meta.json, partition folder and .eval.json. `csv` overrides the ranking's path (`--out`); its
 * meta and evaluation then sit beside it.
 */
export function selectionPaths(runDir: string, method?: string, configured?: string, csv?: string) {
  const L = runLayout(runDir);
  const own = csv ? path.resolve(csv) : undefined;
  const stem = own?.replace(/\.csv$/i, '');
  return {
    clusters: L.clusters,
    manifest: L.manifest,
    partsDir: stem ? `${stem}.parts` : L.selectionPartsDir(method, configured),
    csv: own ?? L.selection(method, configured),
    meta: stem ? `${stem}.meta.json` : L.selectionMeta(method, configured),
    eval: stem ? `${stem}.eval.json` : L.selectionEval(method, configured),
  };
}

/** The pool the selection sees: clips and the label columns of the clusterings in use. */
export interface SelectionPool {
  ids: string[];
  matrix: LabelMatrix;
  clusterings: ClusteringMeta[];
  /** Flat [i0, j0, ...] into `clusterings`. */
  pairs: Int32Array;
  /** Clips left out because a clustering in use has no label for them (label −1). */
  excluded: string[];
  /** `pairing: auto`: the evidence of the kept and dropped pairs. */
  autoPairing?: AutoPairing;
}

/** Build the pool from clusters.h5 contents: keep the clusterings with the configured k, drop unlabelled clips, resolve pairs. */
export function poolFromClusters(
  c: ClusterFile,
  cfg: Pick<SelectionConfig, 'k' | 'pairing'> & { auto?: AutoPairingOptions; estimator?: Estimator },
  file = 'clusters.h5',
  /** For `pairing: auto`: the seed of the permutation tests (without it, auto resolves to its candidate pairs, enough for callers that need only the pool's clips). */
  seed?: number,
): SelectionPool {
  const keep: number[] = [];
  c.clusterings.forEach((cl, j) => {
    if (!cfg.k || cfg.k.includes(cl.k)) keep.push(j);
  });
  if (keep.length === 0) {
    throw new SelectionInputError(
      `${file}: no clustering has k in [${cfg.k?.join(', ')}] (found ${c.clusterings.map((cl) => clusteringName(cl)).join(', ') || 'none'})`,
    );
  }
  const d = keep.length;
  const clusterings = keep.map((j) => ({ modality: c.clusterings[j].modality, layer: c.clusterings[j].layer, k: c.clusterings[j].k }));
  const rows: number[] = [];
  const excluded: string[] = [];
  for (let x = 0; x < c.n; x++) {
    let ok = true;
    for (const j of keep) if (c.labels[x * c.d + j] === -1) ok = false;
    if (ok) rows.push(x);
    else excluded.push(c.ids[x]);
  }
  const labels = new Int32Array(rows.length * d);
  rows.forEach((x, r) => {
    for (let t = 0; t < d; t++) labels[r * d + t] = c.labels[x * c.d + keep[t]];
  });
  const matrix: LabelMatrix = { labels, n: rows.length, d, ks: Int32Array.from(clusterings, (cl) => cl.k) };
  try {
    validateLabels(matrix, clusterings.map(clusteringName));
  } catch (err) {
    // Name the clip by id rather than by row.
    const m = /of clip (\d+) /.exec((err as Error).message);
    const msg = m ? (err as Error).message.replace(`of clip ${m[1]} `, `of clip ${c.ids[rows[Number(m[1])]]} `) : (err as Error).message;
    throw new SelectionInputError(`${file}: ${msg}`);
  }
  const { pairs, auto } = poolPairs(
    clusterings,
    cfg as PairingConfig,
    seed === undefined ? undefined : { seed, estimator: cfg.estimator, sample: () => takeRows(matrix, strideSample(matrix.n, cfg.auto?.maxRows ?? DEFAULT_AUTO.maxRows)) },
  );
  return { ids: rows.map((x) => c.ids[x]), matrix, clusterings, pairs, excluded, ...(auto ? { autoPairing: auto } : {}) };
}

/**
 * Say which pairs `pairing: auto` kept and dropped (through `say`: nothing for a silent caller;
 * the selection's meta.json holds them all), and warn when it fell back (always).
 */
function reportAutoPairing(auto: AutoPairing | undefined, say: (line: string) => void): void {
  if (!auto) return;
  if (auto.fallback) {
    log(`select: WARNING pairing auto: no pair is significantly above the permutation null; using all ${auto.kept.length} candidate pairs`);
    return;
  }
  const z = (e: { z: number }) => e.z.toFixed(1);
  say(`select: pairing auto kept ${auto.kept.length} pair(s): ${auto.kept.map((e) => `${e.a}×${e.b} (z ${z(e)})`).join(', ')}`);
  const shown = auto.dropped.slice(0, 8).map((e) => `${e.a}×${e.b} (${e.why})`);
  if (auto.dropped.length > shown.length) shown.push(`and ${auto.dropped.length - shown.length} more (all in the selection's meta.json)`);
  if (auto.dropped.length) say(`select: pairing auto dropped ${auto.dropped.length} pair(s): ${shown.join('; ')}`);
}

/** The selection parameters of a config (method random → algorithm random). */
export function selectionParams(cfg: SelectionConfig, seed: number, pairs: Int32Array): SelectionParams {
  const algorithm: Algorithm = cfg.method === 'random' ? 'random' : cfg.algorithm;
  return {
    algorithm,
    pairs,
    estimator: cfg.estimator,
    ratio: cfg.ratio,
    size: cfg.size,
    batchSize: cfg.batchSize,
    batchPick: cfg.batchPick,
    epsilon: cfg.epsilon,
    refine: {
      enabled: cfg.refine.enabled,
      patience: cfg.refine.patience,
      maxEvaluations: cfg.refine.maxEvaluations,
      seconds: cfg.refine.seconds,
    },
    // A random baseline keeps its random order (a greedy or leave-one-out order would no longer be random).
    order: algorithm === 'random' ? 'pick' : cfg.order,
    overselect: algorithm === 'random' ? 0 : cfg.overselect,
    restarts: algorithm === 'random' ? 1 : cfg.restarts,
    seed,
  };
}

/** A hash of everything that decides the selection except the partition count. */
export function selectionFingerprint(pool: SelectionPool, params: SelectionParams, extra: Record<string, unknown> = {}): string {
  const h = createHash('sha256');
  const { pairs, refine, ...rest } = params;
  // The time bound does not decide the result unless it is hit (then the run reports it).
  const { seconds: _seconds, ...refineRest } = refine;
  h.update(JSON.stringify({ v: 1, ...rest, refine: refineRest, pairs: Array.from(pairs), clusterings: pool.clusterings, n: pool.matrix.n, extra }));
  h.update(pool.ids.join('\n'));
  h.update(new Uint8Array(pool.matrix.labels.buffer, pool.matrix.labels.byteOffset, pool.matrix.labels.byteLength));
  return h.digest('hex').slice(0, 32);
}

interface PartFile {
  format: typeof SELECTION_PART_FORMAT;
  version: 1;
  fingerprint: string;
  index: number;
  count: number;
  start: number;
  end: number;
  target: number;
  order: number[];
  objective: number;
  searchObjective: number;
  refine: RefineStats | null;
  seconds: { search: number; refine: number; order: number };
}

/** The largest partition count of part files on disk that belong to this fingerprint, or null. */
async function partitionCountOnDisk(partsDir: string, fingerprint: string): Promise<number | null> {
  let names: string[];
  try {
    names = await fsp.readdir(partsDir);
  } catch {
    return null;
  }
  const counts = [...new Set(names.map((f) => /^part-\d{5}-of-(\d{5})\.json$/.exec(f)?.[1]).filter((c): c is string => c !== undefined).map(Number))];
  counts.sort((a, b) => b - a);
  for (const count of counts) {
    for (const f of names.filter((x) => x.endsWith(`-of-${String(count).padStart(5, '0')}.json`))) {
      try {
        const part = JSON.parse(await fsp.readFile(path.join(partsDir, f), 'utf8')) as PartFile;
        if (part.fingerprint === fingerprint && part.count === count) return count;
      } catch {
        /* unreadable: ignore */
      }
    }
  }
  return null;
}

function partPath(partsDir: string, index: number, count: number): string {
  return path.join(partsDir, `${shardName(index, count, 'part')}.json`);
}

async function readPart(file: string, fingerprint: string, count: number, pool: number): Promise<PartitionResult | null> {
  if (!(await exists(file))) return null;
  let part: PartFile;
  try {
    part = JSON.parse(await fsp.readFile(file, 'utf8')) as PartFile;
  } catch {
    return null; // unreadable: recompute
  }
  if (part.format !== SELECTION_PART_FORMAT || part.fingerprint !== fingerprint || part.count !== count) return null;
  if (!Array.isArray(part.order) || part.order.some((x) => !Number.isInteger(x) || x < 0 || x >= pool)) {
    throw new Error(`${file}: corrupt partition result (indices outside the pool); delete it and rerun`);
  }
  return { ...part, order: Int32Array.from(part.order) };
}

export interface SelectStageOptions {
  /** This process's shard; partitions are assigned round-robin. Default: the whole (0/1). */
  shard?: ShardSpec | { index: number; count: number };
  silent?: boolean;
  /** Recompute even when finished results with the same fingerprint exist. */
  force?: boolean;
  /**
   * Per-clip scores for score-ranked methods (method: contrastive): the clips are ranked by score
   * instead of by the MI search. Ids must be a subset of the pool's.
   */
  scores?: { ids: string[]; scores: ArrayLike<number> };
  /**
   * The method to run (default: selection.method). The configured method writes selection.csv;
   * another writes selection.<method>.csv (src/run/layout.ts), so baselines never overwrite it.
   */
  method?: SelectionConfig['method'];
  /** Write the ranking here instead (its .meta.json and partition folder go beside it). */
  out?: string;
  /** Merge when every partition is done (default true); false leaves it to a run without --shard. */
  merge?: boolean;
}

export interface SelectStageResult {
  /** selection.csv when written (or already complete); null while other shards are missing. */
  csv: string | null;
  /** Partitions computed by this call. */
  computed: number[];
  /** Partitions still missing (other shards). */
  missing: number[];
  skipped: boolean;
  pool: number;
  selected: number;
  objective: number;
  seconds: number;
}

export interface SelectionMeta {
  format: 'avcurate.selection';
  version: 1;
  fingerprint: string;
  method: SelectionConfig['method'];
  params: Omit<SelectionParams, 'pairs'>;
  clusterings: string[];
  pairs: Array<[string, string]>;
  pool: number;
  excluded: number;
  selected: number;
  objective: number;
  columns: 'mi' | 'score';
  partitions: Array<Omit<PartitionResult, 'order'>>;
  /** `pairing: auto`: which pairs were kept and dropped, and why. */
  autoPairing?: ReturnType<typeof summarizeAutoPairing>;
}

/** The ledger's stage of a ranking (one record per ranking file: stages/select/<selection[.method]>.json). */
export const SELECT_STAGE = 'select';

/** What a ranking's ledger record keeps to answer a skipped rerun. */
export interface SelectionDone {
  pool: number;
  selected: number;
  objective: number;
}

type SelectionExtra = { method: string; scoreKey: string | null; partitionSize: number | null; partitions: unknown };

/** A ranking's ledger entry: its record name (the ranking file, relative to the run folder) and what it depends on (the parameters; the pool fingerprint). */
export function selectionLedgerEntry(runDir: string, files: ReturnType<typeof selectionPaths>, params: SelectionParams, extra: SelectionExtra, fingerprint: string) {
  const { pairs: _pairs, refine, ...paramParts } = params;
  // The time bound does not decide the result unless it is hit (as in selectionFingerprint).
  const { seconds: _seconds, ...refineParts } = refine;
  return {
    shard: path.relative(runLayout(runDir).root, files.csv).replace(/\.csv$/i, ''),
    inputs: {
      config: { selection: { ...paramParts, refine: refineParts, method: extra.method, partitionSize: extra.partitionSize, partitions: extra.partitions } },
      inputs: { pool: fingerprint, ...(extra.scoreKey ? { scores: extra.scoreKey } : {}) },
    },
  };
}

/** Record a written ranking (csv + meta) as finished in the stage ledger. */
export async function markSelectionDone(runDir: string, files: ReturnType<typeof selectionPaths>, params: SelectionParams, extra: SelectionExtra, fingerprint: string, done: SelectionDone, seconds = 0): Promise<void> {
  const e = selectionLedgerEntry(runDir, files, params, extra, fingerprint);
  await markDone(runDir, SELECT_STAGE, e.inputs, { shard: e.shard, outputs: [files.csv, files.meta], summary: done, seconds });
}

/** Run the selection stage (holding its run-folder lock: src/run/lock.ts). */
export async function runSelect(config: Config, opts: SelectStageOptions = {}): Promise<SelectStageResult> {
  const shard = opts.shard ?? { index: 0, count: 1 };
  return withRunLock(config.runDir!, `select-${shard.index}-of-${shard.count}`, () => runSelectLocked(config, opts));
}

async function runSelectLocked(config: Config, opts: SelectStageOptions): Promise<SelectStageResult> {
  // `silent` (a library caller's choice) keeps the progress lines off stderr.
  const say = opts.silent ? (_: string) => undefined : log;
  const t0 = performance.now();
  const runDir = config.runDir!;
  const method = opts.method ?? config.selection.method;
  const files = selectionPaths(runDir, method, config.selection.method, opts.out);
  const cfg = { ...config.selection, method };
  const shard = opts.shard ?? { index: 0, count: 1 };
  if (cfg.method === 'contrastive' && !opts.scores) {
    throw new SelectionInputError('selection.method is "contrastive": its scores come from the SSL engine (run "avcurate select --method contrastive")');
  }
  if (!(await exists(files.clusters))) {
    throw new SelectionInputError(`${files.clusters}: not found (run "avcurate cluster" first)`);
  }
  // clusters.h5 is read in row blocks (pool-scan.ts): a process holds its partitions' rows while
  // selecting, and to merge the label columns in use plus the ids and manifest records of the
  // selected clips only; never the ids or manifest of the whole pool. Score-ranked methods load
  // the pool.
  const streaming = !opts.scores;
  let pool: SelectionPool | null = null;
  let scan: PoolScan | null = null;
  if (streaming) scan = await scanPool(files.clusters, cfg, config.seed);
  else pool = poolFromClusters(await readClusters(files.clusters), cfg, files.clusters, config.seed);
  reportAutoPairing(pool?.autoPairing ?? scan?.autoPairing, say);
  const excludedCount = pool ? pool.excluded.length : scan!.excludedRows.length;
  if (excludedCount > 0) say(`select: ${excludedCount} clip(s) without a label in a clustering in use are left out (first: ${pool ? pool.excluded[0] : scan!.excludedFirst})`);
  const params = selectionParams(cfg, config.seed, pool ? pool.pairs : scan!.pairs);
  const scoreKey = opts.scores ? createHash('sha256').update(JSON.stringify(Array.from(opts.scores.scores))).update(opts.scores.ids.join('\n')).digest('hex') : null;
  const extra = { method: cfg.method, scoreKey, partitionSize: cfg.partitionSize ?? null, partitions: cfg.partitions };
  const fingerprint = pool ? selectionFingerprint(pool, params, extra) : await scan!.fingerprint(params, extra);
  const poolN = pool ? pool.matrix.n : scan!.n;

  // Finished or not is the stage ledger's call (stages/select/<ranking>.json, src/run/ledger.ts):
  // the selection parameters, and the pool's fingerprint (its label columns, ids and the parameters).
  const { shard: ledgerShard, inputs: stageInputs } = selectionLedgerEntry(runDir, files, params, extra, fingerprint);
  const recordDone = (s: SelectionDone) => markSelectionDone(runDir, files, params, extra, fingerprint, s, (performance.now() - t0) / 1000);
  if (!opts.force) {
    const check = await stageDone<SelectionDone>(runDir, SELECT_STAGE, stageInputs, { shard: ledgerShard });
    if (check.done) {
      const s = check.record!.summary;
      say(`select: ${files.csv} is complete for this config and clusters; skipping`);
      return { csv: files.csv, computed: [], missing: [], skipped: true, pool: s.pool, selected: s.selected, objective: s.objective, seconds: 0 };
    }
    const note = redoNote(check, runDir);
    if (note) say(`select: ${note}`);
  }

  if (opts.scores) {
    const r = await scoreRankedStage(files, method, pool!, params, fingerprint, await ManifestIndex.read(files.manifest), opts.scores, t0);
    await recordDone({ pool: r.pool, selected: r.selected, objective: r.objective });
    return r;
  }

  let count = cfg.partitionSize !== undefined ? Math.ceil(poolN / cfg.partitionSize) : cfg.partitions === 'auto' ? shard.count : cfg.partitions;
  if (cfg.partitionSize === undefined && cfg.partitions === 'auto' && shard.count === 1 && !opts.force) {
    // A run without --shard after shard processes: finish (merge) their partitioning.
    const adopted = await partitionCountOnDisk(files.partsDir, fingerprint);
    if (adopted !== null && adopted > 1) {
      say(`select: found partition files of a ${adopted}-shard run for this config; completing and merging those ${adopted} partitions`);
      count = adopted;
    }
  }
  const plan = planPartitions(poolN, { count, partitionSize: cfg.partitionSize, ratio: params.ratio, size: params.size });
  const mine = new Set(unitsOfShard(plan.length, shard));
  const results = new Map<number, PartitionResult>();
  const computed: number[] = [];
  const totalTarget = plan.filter((p) => mine.has(p.index)).reduce((a, p) => a + p.target, 0);
  const progress = new Progress(`select (${params.algorithm}${params.refine.enabled && params.algorithm !== 'random' ? ' + refine' : ''})`, {
    total: totalTarget,
    unit: 'clips',
    silent: opts.silent,
  });
  let doneBefore = 0;
  // This process's partitions first (finished ones are reused)...
  for (const part of plan) {
    if (!mine.has(part.index)) continue;
    const file = partPath(files.partsDir, part.index, plan.length);
    const existing = opts.force ? null : await readPart(file, fingerprint, plan.length, poolN);
    if (existing) {
      results.set(part.index, existing);
      doneBefore += part.target;
      progress.set(doneBefore);
      continue;
    }
    const onProgress = (selected: number) => progress.set(doneBefore + selected);
    const onRefine = (evaluations: number, accepted: number) =>
      progress.set(doneBefore + part.target, `partition ${part.index + 1}/${plan.length}: refining, ${evaluations.toLocaleString('en')} swaps tried, ${accepted} kept`);
    let result: PartitionResult;
    if (pool) result = selectPartition(pool.matrix, params, part, onProgress, onRefine);
    else {
      // Only this partition's rows: the same sub-matrix and generator as in the whole pool.
      const rows = await scan!.rows(part.start, part.end);
      const local = selectPartition(rows, params, { ...part, start: 0, end: part.end - part.start }, onProgress, onRefine);
      result = { ...local, start: part.start, end: part.end, order: local.order.map((x) => x + part.start) };
    }
    doneBefore += part.target;
    progress.set(doneBefore, `partition ${part.index + 1}/${plan.length}: F = ${result.objective.toFixed(4)}`);
    await writePart(file, fingerprint, plan.length, result);
    results.set(part.index, result);
    computed.push(part.index);
  }
  progress.finish();
  // ...then the others' (looked up only now, so the shard that finishes last sees every file).
  for (const part of plan) {
    if (results.has(part.index)) continue;
    const existing = await readPart(partPath(files.partsDir, part.index, plan.length), fingerprint, plan.length, poolN);
    if (existing) results.set(part.index, existing);
  }
  const missing = plan.filter((p) => !results.has(p.index)).map((p) => p.index);
  if (missing.length > 0) {
    say(`select: ${plan.length - missing.length}/${plan.length} partitions done; ${missing.length} left for other shards (the last one to finish merges, or rerun without --shard)`);
    return { csv: null, computed, missing, skipped: false, pool: poolN, selected: 0, objective: NaN, seconds: (performance.now() - t0) / 1000 };
  }
  if (opts.merge === false) {
    say(`select: all ${plan.length} partitions done; the merge is left to a run without --shard`);
    return { csv: null, computed, missing: [], skipped: false, pool: poolN, selected: 0, objective: NaN, seconds: (performance.now() - t0) / 1000 };
  }
  // The merge measures the ranking on the whole pool (a shard process that finishes last merges too).
  const parts = plan.map((p) => results.get(p.index)!);
  let merged: ReturnType<typeof mergePartitions>;
  let summary: PoolSummary;
  if (pool) {
    merged = mergePartitions(pool.matrix, params, parts);
    await writeSelectionFiles(files, pool, await ManifestIndex.read(files.manifest), merged.order, merged.gains, merged.objectives);
    summary = summaryOf(pool);
  } else {
    // Only the selected clips: their label rows for the replay, their ids, their manifest fields.
    merged = await mergeSelectedStreaming(files, scan!, params, parts);
    summary = { n: poolN, excluded: scan!.excludedRows.length, clusterings: scan!.clusterings, autoPairing: scan!.autoPairing };
  }
  const meta = buildMeta(cfg.method, fingerprint, params, summary, merged.order.length, merged.objective, 'mi', parts);
  await writeJsonAtomic(files.meta, meta);
  await recordDone({ pool: summary.n, selected: merged.order.length, objective: merged.objective });
  const refined = parts.filter((p) => p.refine);
  const note = refined.length
    ? `; refinement: F ${mean(refined.map((p) => p.searchObjective)).toFixed(4)} → ${mean(refined.map((p) => p.objective)).toFixed(4)} (${sum(refined.map((p) => p.refine!.accepted))} swaps kept of ${sum(refined.map((p) => p.refine!.evaluations))} tried${refined.some((p) => p.refine!.stoppedBy === 'time') ? ', stopped by the time bound' : ''})`
    : '';
  say(`select: ${merged.order.length} of ${summary.n} clips → ${files.csv} (F = ${merged.objective.toFixed(4)}, ${plan.length} partition(s)${note})`);
  return { csv: files.csv, computed, missing: [], skipped: false, pool: summary.n, selected: merged.order.length, objective: merged.objective, seconds: (performance.now() - t0) / 1000 };
}

function sum(xs: number[]): number {
  return xs.reduce((a, b) => a + b, 0);
}
function mean(xs: number[]): number {
  return xs.length ? sum(xs) / xs.length : NaN;
}

async function writePart(file: string, fingerprint: string, count: number, r: PartitionResult): Promise<void> {
  const part: PartFile = {
    format: SELECTION_PART_FORMAT,
    version: 1,
    fingerprint,
    index: r.index,
    count,
    start: r.start,
    end: r.end,
    target: r.target,
    order: Array.from(r.order),
    objective: r.objective,
    searchObjective: r.searchObjective,
    refine: r.refine,
    seconds: r.seconds,
  };
  await writeJsonAtomic(file, part);
}

/** What selection.meta.json says of the pool. */
interface PoolSummary {
  n: number;
  excluded: number;
  clusterings: ClusteringMeta[];
  autoPairing?: AutoPairing;
}
function summaryOf(pool: SelectionPool): PoolSummary {
  return { n: pool.matrix.n, excluded: pool.excluded.length, clusterings: pool.clusterings, autoPairing: pool.autoPairing };
}

function buildMeta(
  method: SelectionConfig['method'],
  fingerprint: string,
  params: SelectionParams,
  pool: PoolSummary,
  selected: number,
  objective: number,
  columns: 'mi' | 'score',
  parts: PartitionResult[],
): SelectionMeta {
  const { pairs, ...rest } = params;
  const names = pool.clusterings.map(clusteringName);
  const pairNames: Array<[string, string]> = [];
  for (let p = 0; p < pairs.length; p += 2) pairNames.push([names[pairs[p]], names[pairs[p + 1]]]);
  return {
    format: 'avcurate.selection',
    version: 1,
    fingerprint,
    method,
    params: rest,
    clusterings: names,
    pairs: pairNames,
    pool: pool.n,
    excluded: pool.excluded,
    selected,
    objective,
    columns,
    partitions: parts.map(({ order: _order, ...p }) => p),
    ...(pool.autoPairing ? { autoPairing: summarizeAutoPairing(pool.autoPairing) } : {}),
  };
}

/** The record of `pairing: auto` in selection.meta.json: kept and dropped pairs with their evidence. */
export function summarizeAutoPairing(a: AutoPairing) {
  const r = (x: number) => (Number.isFinite(x) ? Math.round(x * 1e4) / 1e4 : x);
  const ev = (e: AutoPairing['kept'][number]) => ({ a: e.a, b: e.b, mi: r(e.mi), nullMean: r(e.nullMean), z: r(e.z), p: r(e.p) });
  return { fallback: a.fallback, kept: a.kept.map(ev), dropped: a.dropped.map((e) => ({ ...ev(e), why: e.why })) };
}

/** Rows formatted per chunk of selection.csv in the streaming merge. */
const CSV_CHUNK = 8192;

/**
 * The merge of a streaming (clusters.h5 in row blocks) selection: the partitions' rankings
 * interleaved, F replayed on the selected clips' label rows alone, their ids read in one pass over
 * clusters.h5, their manifest fields (video id, start, duration) in one pass over manifest.jsonl,
 * and selection.csv written in chunks. Nothing is held per pool clip beyond a bit; per selected
 * clip, the labels in use, the id, and a few numbers (docs/scale.md, "Memory").
 */
async function mergeSelectedStreaming(
  files: ReturnType<typeof selectionPaths>,
  scan: PoolScan,
  params: SelectionParams,
  parts: PartitionResult[],
): Promise<ReturnType<typeof mergePartitions>> {
  if (!(await exists(files.manifest))) throw new SelectionInputError(`${files.manifest}: manifest not found (run "avcurate ingest" first)`);
  const merged = await mergePartitionsSelected(params, parts, (rows) => scan.rowsAt(rows));
  const { rows, at } = merged;
  // ids.get(i) is the id of pool row rows[i].
  const ids = await scan.idTable(rows);
  const start = new Float64Array(ids.size);
  const duration = new Float64Array(ids.size);
  const found = new Uint8Array(ids.size);
  /** The video id where it is not the clip id (the common case stores nothing). */
  const videoIds = new Map<number, string>();
  for await (const rec of iterManifest(files.manifest, { only: ids })) {
    const i = ids.indexOf(rec.id);
    start[i] = rec.start;
    duration[i] = rec.duration;
    found[i] = 1;
    if (rec.video_id !== undefined && rec.video_id !== rec.id) videoIds.set(i, rec.video_id);
    else videoIds.delete(i);
  }
  for (let i = 0; i < ids.size; i++) {
    if (!found[i]) {
      throw new SelectionInputError(
        `${files.clusters}: clip id "${ids.get(i)}" is not in ${files.manifest} (the run folder mixes files of different runs, or the manifest changed: rerun the stages after ingest)`,
      );
    }
  }
  const header = SELECTION_COLUMNS.join(',').length + 1;
  await produceFileAtomic(files.csv, async (tmp) => {
    const fh = await fsp.open(tmp, 'w');
    try {
      for (let r0 = 0; r0 < at.length || r0 === 0; r0 += CSV_CHUNK) {
        const chunk: SelectionRow[] = [];
        for (let r = r0; r < Math.min(at.length, r0 + CSV_CHUNK); r++) {
          const i = at[r];
          const id = ids.get(i);
          chunk.push({ rank: r + 1, id, video_id: videoIds.get(i) ?? id, start: start[i], end: start[i] + duration[i], gain: merged.gains[r], objective: merged.objectives[r] });
        }
        // formatSelectionCsv's bytes exactly: its header once, then its rows chunk by chunk.
        const text = formatSelectionCsv(chunk);
        await writeFully(fh, Buffer.from(r0 === 0 ? text : text.slice(header)));
      }
    } finally {
      await fh.close();
    }
  });
  return { order: merged.order, gains: merged.gains, objectives: merged.objectives, objective: merged.objective };
}

async function writeSelectionFiles(
  files: ReturnType<typeof selectionPaths>,
  pool: SelectionPool,
  manifest: ManifestIndex,
  order: ArrayLike<number>,
  gains: ArrayLike<number>,
  objectives: ArrayLike<number>,
): Promise<void> {
  const rows: SelectionRow[] = [];
  for (let r = 0; r < order.length; r++) {
    const id = pool.ids[order[r]];
    let rec: ClipRecord;
    try {
      rec = manifest.get(id, files.clusters);
    } catch (err) {
      throw new SelectionInputError((err as Error).message);
    }
    rows.push({ rank: r + 1, id, video_id: rec.video_id ?? id, start: rec.start, end: rec.start + rec.duration, gain: gains[r], objective: objectives[r] });
  }
  await writeSelectionCsv(files.csv, rows);
}

async function scoreRankedStage(
  files: ReturnType<typeof selectionPaths>,
  method: SelectionConfig['method'],
  pool: SelectionPool,
  params: SelectionParams,
  fingerprint: string,
  manifest: ManifestIndex,
  scores: { ids: string[]; scores: ArrayLike<number> },
  t0: number,
): Promise<SelectStageResult> {
  if (scores.ids.length !== scores.scores.length) throw new SelectionInputError(`got ${scores.ids.length} ids but ${scores.scores.length} scores`);
  const index = new Map(pool.ids.map((id, i) => [id, i]));
  // Rank the scored clips that are in the pool; the MI columns are measured on the whole pool.
  const scoredPool: number[] = [];
  const scoreVals: number[] = [];
  scores.ids.forEach((id, i) => {
    const x = index.get(id);
    if (x !== undefined) {
      scoredPool.push(x);
      scoreVals.push(scores.scores[i]);
    }
  });
  if (scoredPool.length < 2) throw new SelectionInputError(`only ${scoredPool.length} scored clip(s) are in the pool of ${files.clusters}`);
  const target = params.size !== undefined ? Math.min(params.size, scoredPool.length) : Math.max(1, Math.round(params.ratio * scoredPool.length));
  const ranked = rankToSelection(scoreVals, target);
  const order = Int32Array.from(ranked, (r) => scoredPool[r]);
  const merged = mergePartitions(pool.matrix, params, [
    { index: 0, start: 0, end: pool.matrix.n, target, order, objective: NaN, searchObjective: NaN, refine: null, seconds: { search: 0, refine: 0, order: 0 } },
  ]);
  await writeSelectionFiles(files, pool, manifest, order, merged.gains, merged.objectives);
  const meta = buildMeta(method, fingerprint, params, summaryOf(pool), order.length, merged.objective, 'mi', []);
  await writeJsonAtomic(files.meta, meta);
  log(`select: ${order.length} of ${scoredPool.length} scored clips by ${method} score → ${files.csv} (MI F = ${merged.objective.toFixed(4)})`);
  return { csv: files.csv, computed: [0], missing: [], skipped: false, pool: pool.matrix.n, selected: order.length, objective: merged.objective, seconds: (performance.now() - t0) / 1000 };
}

/** Write a selection.csv ranked by per-clip scores without clusters (gain = score, objective = running mean score). */
export async function writeScoreSelection(
  file: string,
  clips: Array<Pick<ClipRecord, 'id' | 'video_id' | 'start' | 'duration'>>,
  scores: ArrayLike<number>,
  opts: { ratio: number; size?: undefined } | { size: number; ratio?: undefined },
): Promise<SelectionRow[]> {
  if (clips.length !== scores.length) throw new SelectionInputError(`got ${clips.length} clips but ${scores.length} scores`);
  const target = opts.size !== undefined ? Math.min(opts.size, clips.length) : Math.max(1, Math.round(opts.ratio * clips.length));
  const order = rankToSelection(scores, target);
  const { gains, objectives } = scoreColumns(scores, order);
  const rows = Array.from(order, (x, r) => {
    const c = clips[x];
    return { rank: r + 1, id: c.id, video_id: c.video_id ?? c.id, start: c.start, end: c.start + c.duration, gain: gains[r], objective: objectives[r] };
  });
  await writeSelectionCsv(file, rows);
  return rows;
}
