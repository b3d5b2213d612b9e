/**
 * Incremental curation as stage functions (docs/selection.md "Adding clips"):
 *
 * - `addClips`: ingest a folder or CSV of new clips into additions/<batch>/ and append them to
 *   manifest.jsonl (clips already in the run are skipped; an id taken by another clip gets the
 *   batch name as prefix); recorded in additions.json. Resumable at every step.
 * - `extractAll`: the extract stage for the base clips (its usual shards, untouched by additions)
 *   and for every batch into features/<batch>/.
 * - `clusterWithDrift`: the cluster stage assigns the new clips to the existing centroids; then
 *   the drift measure (below) decides, with `incremental.refit: auto` or `drift`, whether to refit
 *   on every clip; `auto` also refits when the fitting sample holds every clip of the enlarged
 *   pool (a full run would fit on every clip; the refit is cheap and gives its clusterings).
 *   `refit: always` or `--refit` refits.
 * - `continueSelect`: the previous selection.csv is the start, continued over the enlarged pool
 *   (continue.ts); writes selection.csv and selection.meta.json as the select stage does (so a
 *   plain rerun of `select` for the same config and clusters skips), and
 *   selection.incremental.json with what changed, including how many previously selected clips
 *   left the selection.
 *
 * Drift: for each clustering d, r_d = (mean squared distance of the added clips to their
 * assigned centroid) / (mean squared distance of the clips of the fitted shards to theirs), both
 * in the space the centroids live in (after L2/PCA); drift = the mean of r_d over the
 * clusterings (the maximum is reported too: with few added clips and many clusterings it is
 * noisy). Clips from the same distribution give r near 1 (somewhat above: the fitted clips
 * include the k-means sample the centroids were fitted to); clips the centroids do not describe
 * give r well above 1.
 */
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import type { Config } from '../../config/schema.js';
import { writeJsonAtomic } from '../../runtime/atomic.js';
import { exists } from '../../runtime/jsonl.js';
import { FailureLog, readFailures } from '../../run/failures.js';
import { ManifestIndex, writeManifest } from '../../run/manifest.js';
import { FAILURES_NAME, runLayout } from '../../run/layout.js';
import { log } from '../../runtime/progress.js';
import { Rng } from '../../runtime/random.js';
import type { ShardSpec } from '../../runtime/shard.js';
import { ingest } from '../manifest/ingest.js';
import { readManifest } from '../../run/manifest.js';
import { toId } from '../../run/ids.js';
import type { ClipRecord } from '../../run/manifest.js';
import { runExtract, type ExtractOptions, type ExtractResult } from '../features/stage.js';
import { listFeatureShards } from '../features/store.js';
import { clusterPaths, runCluster, type ClusterStageOptions, type ClusterStageResult } from '../clustering/stage.js';
import { readClusters } from '../clustering/store.js';
import { readSelectionCsv, writeSelectionCsv, type SelectionRow } from '../../run/selection.js';
import { clusteringName } from '../selection/pairs.js';
import { SELECT_STAGE, poolFromClusters, markSelectionDone, selectionFingerprint, selectionLedgerEntry, selectionParams, selectionPaths, type SelectionMeta } from '../selection/stage.js';
import { stageDone } from '../../run/ledger.js';
import { SelectionInputError } from '../selection/objective.js';
import { continueSelection } from './continue.js';
import { additionsPaths, fitShards, idsHash, partNameOf, readLedger, writeLedger, type AdditionBatch, type AdditionsLedger } from './ledger.js';

export class IncrementalError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'IncrementalError';
  }
}

function emptyLedger(): AdditionsLedger {
  return { format: 'avcurate.additions', version: 1, batches: [], fit: 0 };
}

export interface AddResult {
  batch: AdditionBatch;
  /** True when this input had been added already (nothing appended now). */
  already: boolean;
  /** Clips in the manifest after the addition. */
  total: number;
}

function sameClip(a: ClipRecord, b: ClipRecord): boolean {
  return path.resolve(a.source) === path.resolve(b.source) && a.start === b.start && a.duration === b.duration;
}

/**
 * Add the clips of a folder or CSV to a run whose manifest exists. A second call with the same
 * input after it finished does nothing (and says so); a call that was killed resumes.
 */
export async function addClips(config: Config, input: string, opts: { silent?: boolean } = {}): Promise<AddResult> {
  const runDir = config.runDir!;
  const paths = additionsPaths(runDir);
  const manifestFile = runLayout(runDir).manifest;
  if (!(await exists(manifestFile))) throw new IncrementalError(`${manifestFile}: no manifest to add to; curate the run first (avcurate curate --config ...), then add clips`);
  const abs = path.resolve(input);
  if (!(await exists(abs))) throw new IncrementalError(`${abs}: the input to add does not exist`);
  const ledger = (await readLedger(runDir)) ?? emptyLedger();
  let manifest = await readManifest(manifestFile);

  // A batch of this input that was being appended when the process stopped: finish it.
  let batch = ledger.batches.find((b) => b.input === abs && b.state === 'pending') ?? null;
  if (!batch) {
    const done = ledger.batches.filter((b) => b.input === abs && b.state === 'appended');
    if (done.length > 0) {
      // Re-ingest (cached: only new or changed files are probed) to see whether the input grew.
      const last = done[done.length - 1];
      const probeOut = await ingestBatch(config, abs, paths.batchManifest(last.name), opts.silent);
      const fresh = probeOut.filter((r) => !manifest.some((m) => sameClip(m, r)));
      if (fresh.length === 0) return { batch: last, already: true, total: manifest.length };
    }
    const name = `add-${String(ledger.batches.length + 1).padStart(4, '0')}`;
    const last = ledger.batches[ledger.batches.length - 1];
    batch = {
      name,
      input: abs,
      firstRow: last ? last.firstRow + last.clips : manifest.length,
      clips: 0,
      idsHash: '',
      refused: 0,
      duplicates: 0,
      renamed: 0,
      state: 'pending',
    };
    if (batch.firstRow !== manifest.length) {
      throw new IncrementalError(`${manifestFile}: holds ${manifest.length} clips but ${paths.ledger} ends at row ${batch.firstRow}; the manifest was changed outside of "curate --add"`);
    }
  }
  if (!opts.silent) log(`add: ingesting ${abs} as ${batch.name}`);
  const rows = await ingestBatch(config, abs, paths.batchManifest(batch.name), opts.silent);
  const failuresFile = path.join(paths.batchDir(batch.name), FAILURES_NAME);
  const failures = (await exists(failuresFile)) ? await readFailures(failuresFile) : [];
  // Clips already in the run (the same source window) are not added twice; a clip whose id is
  // taken by another clip gets the batch name as prefix.
  const base = manifest.slice(0, batch.firstRow);
  const taken = new Map(base.map((r) => [r.id, r]));
  const appended: ClipRecord[] = [];
  let duplicates = 0;
  let renamed = 0;
  for (const r of rows) {
    const prev = taken.get(r.id);
    if (prev && sameClip(prev, r)) {
      duplicates++;
      continue;
    }
    if (base.some((m) => sameClip(m, r))) {
      duplicates++;
      continue;
    }
    let rec = r;
    if (prev) {
      rec = { ...r, id: batchId(batch.name, r.id) };
      renamed++;
    }
    taken.set(rec.id, rec);
    appended.push(rec);
  }
  batch.clips = appended.length;
  batch.idsHash = idsHash(appended.map((r) => r.id));
  batch.refused = failures.length;
  batch.duplicates = duplicates;
  batch.renamed = renamed;
  const i = ledger.batches.findIndex((b) => b.name === batch!.name);
  if (i >= 0) ledger.batches[i] = batch;
  else ledger.batches.push(batch);
  await writeLedger(runDir, ledger);

  // Append: manifest = base rows + this batch's rows (rewritten atomically, so a kill leaves
  // either the old or the new manifest).
  manifest = [...base, ...appended];
  await writeManifest(manifestFile, manifest);
  const runFailures = new FailureLog(runLayout(runDir).failures);
  const known = new Set((await runFailures.read('ingest')).map((f) => f.id));
  for (const f of failures) {
    if (known.has(f.id)) continue;
    runFailures.record({ ...f, batch: batch.name });
  }
  batch.state = 'appended';
  await writeLedger(runDir, ledger);
  if (!opts.silent) {
    log(`add: ${batch.name}: ${appended.length} clips appended to manifest.jsonl (${manifest.length} in all)` +
      `${duplicates ? `, ${duplicates} already in the run` : ''}${renamed ? `, ${renamed} renamed to ${batch.name}-<id> (id taken)` : ''}${failures.length ? `, ${failures.length} refused (see failures.jsonl)` : ''}`);
  }
  return { batch, already: false, total: manifest.length };
}

/**
 * The id of an added clip whose own id is taken: the batch name, "-", its id (src/run/ids.ts: an
 * id has no dots, since it is also a shard member's key), hashed to length when too long.
 */
export function batchId(batch: string, id: string): string {
  return toId(`${batch}-${id}`);
}

async function ingestBatch(config: Config, input: string, out: string, silent?: boolean): Promise<ClipRecord[]> {
  await fsp.mkdir(path.dirname(out), { recursive: true });
  await ingest({ ...config.ingest, input, out, silent });
  return readManifest(out);
}

/**
 * After the base manifest was rebuilt by ingest (the corpus changed), append every batch again
 * so that the run keeps its additions. Does nothing when nothing was added.
 */
export async function reapplyAdditions(config: Config): Promise<number> {
  const runDir = config.runDir!;
  const ledger = await readLedger(runDir);
  if (!ledger || ledger.batches.length === 0) return 0;
  const paths = additionsPaths(runDir);
  const manifest = await readManifest(runLayout(runDir).manifest);
  const out = [...manifest];
  const ids = new Set(out.map((r) => r.id));
  let row = out.length;
  for (const b of ledger.batches) {
    if (b.state !== 'appended') continue;
    const rows = await readManifest(paths.batchManifest(b.name));
    const appended: ClipRecord[] = [];
    for (const r of rows) {
      if (out.some((m) => sameClip(m, r))) continue;
      const rec = ids.has(r.id) ? { ...r, id: batchId(b.name, r.id) } : r;
      ids.add(rec.id);
      appended.push(rec);
    }
    b.firstRow = row;
    b.clips = appended.length;
    b.idsHash = idsHash(appended.map((r) => r.id));
    out.push(...appended);
    row += appended.length;
  }
  await writeManifest(runLayout(runDir).manifest, out);
  await writeLedger(runDir, ledger);
  return out.length - manifest.length;
}

export interface ExtractAllResult {
  base: ExtractResult;
  batches: Array<{ name: string; result: ExtractResult }>;
}

/** The extract stage for the base clips and for every added batch (each into its own folder). */
export async function extractAll(config: Config, shard: Pick<ShardSpec, 'index' | 'count'> = { index: 0, count: 1 }, opts: ExtractOptions = {}): Promise<ExtractAllResult> {
  const runDir = config.runDir!;
  const base = await runExtract(config, shard, opts);
  const ledger = await readLedger(runDir);
  const batches: ExtractAllResult['batches'] = [];
  if (!ledger) return { base, batches };
  const manifest = await readManifest(runLayout(runDir).manifest);
  for (const b of ledger.batches) {
    if (b.state !== 'appended' || b.clips === 0) continue;
    const records = manifest.slice(b.firstRow, b.firstRow + b.clips);
    if (idsHash(records.map((r) => r.id)) !== b.idsHash) {
      throw new IncrementalError(`${runLayout(runDir).manifest}: rows ${b.firstRow}..${b.firstRow + b.clips - 1} are not the clips of ${b.name} recorded in ${additionsPaths(runDir).ledger}; the manifest was changed outside of "curate --add"`);
    }
    const result = await runExtract(config, shard, { ...opts, segment: { records, dir: additionsPaths(runDir).featuresDir(b.name) } });
    batches.push({ name: b.name, result });
  }
  return { base, batches };
}

export interface DriftReport {
  /** Mean ratio over the clusterings. */
  drift: number;
  /** Largest ratio over the clusterings (one layer can drift alone; reported, not used). */
  maxRatio: number;
  threshold: number;
  perClustering: Array<{ clustering: string; added: number; fitted: number; ratio: number }>;
  /** Clips whose assignment was measured: added (not in the fit) and fitted. */
  addedClips: number;
  fittedClips: number;
}

/** The drift measure of the added clips against the clips the model was fitted on. */
export async function measureDrift(config: Config): Promise<DriftReport | null> {
  const runDir = config.runDir!;
  const files = await listFeatureShards(runDir);
  const fit = new Set(await fitShards(runDir, files));
  const added = files.filter((f) => !fit.has(f));
  if (added.length === 0) return null;
  const { partsDir } = clusterPaths(runDir);
  const sums = async (list: string[]) => {
    let n = 0;
    let inertia: number[] = [];
    let names: string[] = [];
    for (const f of list) {
      const part = path.join(partsDir, partNameOf(f));
      if (!(await exists(part))) continue;
      const c = await readClusters(part);
      if (inertia.length === 0) {
        inertia = c.clusterings.map(() => 0);
        names = c.clusterings.map((x) => clusteringName(x));
      }
      c.clusterings.forEach((x, d) => (inertia[d] += x.inertia));
      n += c.n;
    }
    return { n, inertia, names };
  };
  const a = await sums(added);
  const b = await sums([...fit]);
  if (a.n === 0 || b.n === 0) return null;
  const perClustering = a.names.map((name, d) => {
    const am = a.inertia[d] / a.n;
    const bm = b.inertia[d] / b.n;
    return { clustering: name, added: am, fitted: bm, ratio: bm > 0 ? am / bm : am > 0 ? Infinity : 1 };
  });
  return {
    drift: perClustering.reduce((t, p) => t + p.ratio, 0) / perClustering.length,
    maxRatio: Math.max(...perClustering.map((p) => p.ratio)),
    threshold: config.incremental.driftThreshold,
    perClustering,
    addedClips: a.n,
    fittedClips: b.n,
  };
}

export interface ClusterWithDriftResult {
  cluster: ClusterStageResult;
  drift: DriftReport | null;
  /** True when this call refitted the clusterings on every clip. */
  refitted: boolean;
  reason: string;
}

/**
 * The cluster stage with additions: assign, measure drift, and refit on every clip when asked
 * (`refit`, or incremental.refit always) or when auto and the drift exceeds the threshold.
 */
export async function clusterWithDrift(
  config: Config,
  shard: Pick<ShardSpec, 'index' | 'count'> = { index: 0, count: 1 },
  opts: ClusterStageOptions & { refit?: boolean } = {},
): Promise<ClusterWithDriftResult> {
  const runDir = config.runDir!;
  let cluster = await runCluster(config, shard, opts);
  const ledger = await readLedger(runDir);
  if (!ledger || ledger.fit === ledger.batches.length || opts.fitOnly) {
    return { cluster, drift: null, refitted: false, reason: ledger ? 'the model is fitted on every clip' : 'no clips added' };
  }
  if (!cluster.clustersPath) return { cluster, drift: null, refitted: false, reason: 'assignment pending in other shards' };
  const drift = await measureDrift(config);
  const mode = opts.refit ? 'always' : config.incremental.refit;
  const covered = await sampleCoversPool(config, cluster);
  let reason: string;
  let refit = false;
  if (mode === 'always') {
    refit = true;
    reason = opts.refit ? 'refit requested' : 'incremental.refit: always';
  } else if ((mode === 'auto' || mode === 'drift') && drift && drift.drift > drift.threshold) {
    refit = true;
    reason = `drift ${drift.drift.toFixed(3)} > ${drift.threshold} (largest clustering ratio ${drift.maxRatio.toFixed(3)})`;
  } else if (mode === 'auto' && covered) {
    refit = true;
    reason = `${drift ? `drift ${drift.drift.toFixed(3)} ≤ ${drift.threshold}, but ` : ''}the fitting sample holds every clip (${covered}): refit as a full run fits (incremental.refit: auto)`;
  } else {
    reason = drift ? `drift ${drift.drift.toFixed(3)} ≤ ${drift.threshold} (largest clustering ratio ${drift.maxRatio.toFixed(3)})${mode === 'never' ? ' (refit: never)' : ''}: new clips assigned to the existing centroids` : 'nothing to measure';
    if (mode === 'never' && drift && drift.drift > drift.threshold) reason = `drift ${drift.drift.toFixed(3)} > ${drift.threshold} but incremental.refit is never`;
  }
  if (!config.runDir || !refit) return { cluster, drift, refitted: false, reason };
  if (shard.count > 1) {
    log(`cluster: ${reason}; refit needs every shard: run "avcurate cluster --refit" without --shard`);
    return { cluster, drift, refitted: false, reason: `${reason} (refit skipped: sharded run)` };
  }
  ledger.fit = ledger.batches.length;
  await writeLedger(runDir, ledger);
  if (!opts.silent) log(`cluster: ${reason}; refitting on every clip`);
  cluster = await runCluster(config, shard, opts);
  return { cluster, drift, refitted: true, reason };
}

/**
 * Whether a full run on the enlarged pool would fit on every clip: the fitting sample
 * (clustering.fitPointsPerCentroid × the largest k) holds every clip of clusters.h5 and is drawn
 * from every feature shard. Returns a short account ("880 clips ≤ 20480") or null. A refit then
 * reads the feature shards about as often as the assignment and gives the clusterings of a full
 * rerun with the same seed (measured on the demo: identical clusters, +0.5 % of a full run's CPU
 * time; docs/selection.md "Adding clips"). With fitPointsPerCentroid 0 (every clip, at any
 * pool size) it is never assumed cheap.
 */
async function sampleCoversPool(config: Config, cluster: ClusterStageResult): Promise<string | null> {
  const cfg = config.clustering;
  if (cfg.fitPointsPerCentroid <= 0 || cluster.n === null || cluster.clusterings.length === 0) return null;
  const sample = cfg.fitPointsPerCentroid * Math.max(...cluster.clusterings.map((c) => c.k));
  if (cluster.n > sample) return null;
  if (cfg.fitMaxShards > 0 && (await listFeatureShards(config.runDir!)).length > cfg.fitMaxShards) return null;
  return `${cluster.n} clips ≤ ${sample}`;
}

export interface IncrementalSelectReport {
  format: 'avcurate.selection-incremental';
  version: 1;
  /** The batches the pool holds beyond the previous selection's. */
  batches: string[];
  pool: number;
  added: number;
  previous: number;
  /** Previous selection's clips still in the pool / missing from it (failed or dropped). */
  previousInPool: number;
  selected: number;
  /** Previously selected clips no longer selected. */
  left: number;
  /** Newly selected clips: added ones, and old ones not selected before. */
  enteredNew: number;
  enteredOld: number;
  objective: number;
  objectiveStart: number;
  objectiveGrown: number;
  refine: unknown;
  seconds: number;
}

/**
 * Continue the selection over the enlarged pool from the current selection.csv. Falls back to
 * `null` (the caller runs the full select) when there is no previous selection.
 */
export async function continueSelect(config: Config, opts: { silent?: boolean } = {}): Promise<IncrementalSelectReport | null> {
  const t0 = performance.now();
  const runDir = config.runDir!;
  const files = selectionPaths(runDir);
  const cfg = config.selection;
  if (cfg.method !== 'mi') throw new SelectionInputError(`selection.method is ${cfg.method}: only the MI selection continues incrementally (run "avcurate select --force")`);
  if (!(await exists(files.csv)) || !(await exists(files.meta))) return null;
  const meta = JSON.parse(await fsp.readFile(files.meta, 'utf8')) as SelectionMeta;
  const previous = readSelectionCsv(files.csv);
  const clusters = await readClusters(files.clusters);
  // With pairing: auto, the seed decides the permutation tests, as in the select stage (without it
  // auto would resolve to every candidate pair).
  const pool = poolFromClusters(clusters, cfg, files.clusters, config.seed);
  const params = selectionParams(cfg, config.seed, pool.pairs);
  const extra = { method: cfg.method, scoreKey: null, partitionSize: cfg.partitionSize ?? null, partitions: cfg.partitions };
  const fingerprint = selectionFingerprint(pool, params, extra);
  // Finished or not is the stage ledger's call: the ranking's select record (same parameters and pool).
  const entry = selectionLedgerEntry(runDir, files, params, extra, fingerprint);
  if ((await stageDone(runDir, SELECT_STAGE, entry.inputs, { shard: entry.shard })).done) {
    log(`select: ${files.csv} is complete for this config and clusters; skipping`);
    return null;
  }
  const index = new Map(pool.ids.map((id, i) => [id, i]));
  const start: number[] = [];
  for (const r of previous) {
    const x = index.get(r.id);
    if (x !== undefined) start.push(x);
  }
  // New clips: those of the batches the previous selection did not know (by the ids it saw:
  // a clip is new when it is in no earlier pool; the ledger's batches added after the previous
  // selection was written are exactly those not in its pool count).
  const ledger = (await readLedger(runDir)) ?? emptyLedger();
  const manifest = await readManifest(files.manifest);
  const prevPoolIds = await previousPoolIds(runDir, meta, manifest, ledger);
  const isNew = new Uint8Array(pool.ids.length);
  let added = 0;
  pool.ids.forEach((id, i) => {
    if (!prevPoolIds.has(id)) {
      isNew[i] = 1;
      added++;
    }
  });
  const inc = config.incremental;
  const result = continueSelection(pool.matrix, start, isNew, {
    pairs: pool.pairs,
    estimator: params.estimator,
    ratio: params.ratio,
    size: params.size,
    batchSize: params.batchSize,
    batchPick: params.batchPick,
    refine: params.refine.enabled !== false && inc.refine.enabled,
    maxEvaluations: inc.refine.maxEvaluations,
    patience: inc.refine.patience,
    seconds: inc.refine.seconds,
    weakShare: inc.refine.weakShare,
    order: params.order,
    reorder: inc.reorder,
    rng: Rng.derive(config.seed, 'selection-continue', pool.ids.length),
  });
  const byId = new ManifestIndex(manifest, files.manifest);
  const rows: SelectionRow[] = [];
  for (let r = 0; r < result.order.length; r++) {
    const id = pool.ids[result.order[r]];
    let rec: ClipRecord;
    try {
      rec = byId.get(id, files.clusters);
    } catch (err) {
      throw new SelectionInputError((err as Error).message);
    }
    rows.push({ rank: r + 1, id, video_id: rec.video_id ?? id, start: rec.start, end: rec.start + rec.duration, gain: result.gains[r], objective: result.objectives[r] });
  }
  await writeSelectionCsv(files.csv, rows);
  const { pairs: _pairs, ...rest } = params;
  const names = pool.clusterings.map(clusteringName);
  const pairNames: Array<[string, string]> = [];
  for (let p = 0; p < pool.pairs.length; p += 2) pairNames.push([names[pool.pairs[p]], names[pool.pairs[p + 1]]]);
  const newMeta: SelectionMeta & { continuedFrom: string; poolIds: string } = {
    format: 'avcurate.selection',
    version: 1,
    fingerprint,
    method: cfg.method,
    params: rest,
    clusterings: names,
    pairs: pairNames,
    pool: pool.matrix.n,
    excluded: pool.excluded.length,
    selected: result.order.length,
    objective: result.objective,
    columns: 'mi',
    partitions: [],
    continuedFrom: meta.fingerprint,
    poolIds: idsHash(pool.ids),
  };
  await writeJsonAtomic(files.meta, newMeta);
  // The continued ranking stands for this config and clusters: the stage ledger's record says so.
  await markSelectionDone(runDir, files, params, extra, fingerprint, { pool: pool.matrix.n, selected: result.order.length, objective: result.objective });
  const selectedSet = new Set(rows.map((r) => r.id));
  const prevSet = new Set(previous.map((r) => r.id));
  let enteredNew = 0;
  let enteredOld = 0;
  for (const id of selectedSet) {
    if (prevSet.has(id)) continue;
    if (isNew[index.get(id)!]) enteredNew++;
    else enteredOld++;
  }
  const report: IncrementalSelectReport = {
    format: 'avcurate.selection-incremental',
    version: 1,
    batches: ledger.batches.map((b) => b.name),
    pool: pool.matrix.n,
    added,
    previous: previous.length,
    previousInPool: start.length,
    selected: rows.length,
    left: previous.filter((r) => !selectedSet.has(r.id)).length,
    enteredNew,
    enteredOld,
    objective: result.objective,
    objectiveStart: result.objectiveStart,
    objectiveGrown: result.objectiveGrown,
    refine: result.refine,
    seconds: (performance.now() - t0) / 1000,
  };
  await writeJsonAtomic(additionsPaths(runDir).report, report);
  if (!opts.silent) {
    log(`select: continued from the previous ${previous.length} clips over ${pool.matrix.n} (${added} new): ${rows.length} selected, F ${result.objectiveStart.toFixed(4)} → ${result.objective.toFixed(4)}; ` +
      `${report.left} previously selected clips left, ${enteredNew} new and ${enteredOld} old clips entered`);
  }
  return report;
}

/**
 * The ids of the pool the previous selection was made on: the pool before the batches it did
 * not see. A selection made before any addition saw the base clips; a continued one records
 * the hash of its pool ids, matched against the base plus the first t batches.
 */
async function previousPoolIds(runDir: string, meta: SelectionMeta & { poolIds?: string }, manifest: ClipRecord[], ledger: AdditionsLedger): Promise<Set<string>> {
  const cuts = [ledger.batches[0]?.firstRow ?? manifest.length, ...ledger.batches.map((b) => b.firstRow + b.clips)];
  const clustersIds = new Set((await readClusters(selectionPaths(runDir).clusters)).ids);
  const poolAt = (rows: number) => manifest.slice(0, rows).map((r) => r.id).filter((id) => clustersIds.has(id));
  if (meta.poolIds) {
    for (const cut of cuts) {
      const ids = poolAt(cut);
      if (idsHash(ids) === meta.poolIds) return new Set(ids);
    }
  }
  // Otherwise: the pool of the previous selection held meta.pool clips; the earliest cut whose
  // pool is that large.
  for (const cut of cuts) {
    const ids = poolAt(cut);
    if (ids.length >= meta.pool) return new Set(ids);
  }
  return new Set(poolAt(cuts[0]));
}
