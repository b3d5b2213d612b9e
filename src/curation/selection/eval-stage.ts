/**
 * The eval-selection stage (`avcurate eval-selection`, curate's eval step): a ranking scored
 * against ground truth (precision, recall and concept coverage at the number of positives and at
 * evaluation.topRatio, with a random draw for scale), written to selection[.<method>].eval.json.
 */
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import type { Config } from '../../config/schema.js';
import type { SelectionConfig } from '../../config/sections/selection.js';
import { writeJsonAtomic } from '../../runtime/atomic.js';
import { exists, readJsonl } from '../../runtime/jsonl.js';
import { readClusters } from '../clustering/store.js';
import { ManifestIndex } from '../../run/manifest.js';
import { runLayout } from '../../run/layout.js';
import { fileDigest } from '../../run/hash.js';
import { markDone, redoNote, stableKey, stageDone } from '../../run/ledger.js';
import { log } from '../../runtime/progress.js';
import { CONFIG_DEFAULTS } from '../../config/defaults.js';
import { readSelectionCsv } from '../../run/selection.js';
import { formatSummary, prefixCurves, summarizeRanking, type EvalSummary, type ObjectiveCheck } from './evaluate.js';
import { MIObjective, SelectionInputError, type Estimator } from './objective.js';
import { clusteringName } from './pairs.js';
import { poolFromClusters, selectionPaths, type SelectionMeta, type SelectionPool } from './stage.js';

export interface EvalStageOptions {
  /** Ground truth: a labels.jsonl (from synth) or manifest.jsonl; default: the run's manifest, else the corpus labels.jsonl. */
  truth?: string;
  /** The method whose ranking is evaluated (default: selection.method → selection.csv; another → selection.<method>.csv). */
  method?: SelectionConfig['method'];
  /** The ranking to evaluate (overrides `method`). */
  selection?: string;
  /** Output (default: beside the ranking, selection[.<method>].eval.json). */
  out?: string;
  /** Cut-off ratio for "top of the pool" (default: evaluation.topRatio). */
  ratio?: number;
  silent?: boolean;
}

export interface EvalStageResult {
  summary: EvalSummary;
  file: string;
  text: string;
  /** True when the ledger found this evaluation finished and nothing was recomputed. */
  skipped: boolean;
}

interface TruthRow {
  id?: string;
  file?: string;
  source?: string;
  video_id?: string;
  corresponds?: boolean;
  visual_class?: string | number;
  label?: string;
}

/** Ground truth by clip id, from manifest rows or labels.jsonl rows (matched by id, video id or file name). */
export function truthLookup(rows: TruthRow[]): (clip: { id: string; video_id?: string; source?: string }) => boolean | undefined {
  const byId = new Map<string, boolean>();
  const byFile = new Map<string, boolean>();
  for (const r of rows) {
    if (typeof r.corresponds !== 'boolean') continue;
    if (r.id) byId.set(r.id, r.corresponds);
    const f = r.file ?? r.source;
    if (f) byFile.set(path.basename(f), r.corresponds);
  }
  return (clip) =>
    byId.get(clip.id) ?? (clip.video_id !== undefined ? byId.get(clip.video_id) : undefined) ?? (clip.source ? byFile.get(path.basename(clip.source)) : undefined);
}

/** The ledger's stage of an evaluation (one record per evaluation file: stages/eval-selection/<selection[.method].eval>.json). */
export const EVAL_STAGE = 'eval-selection';

/**
 * Evaluate a ranking against ground truth. Finished or not is the stage ledger's call (one record
 * per evaluation file): the ranking's bytes, the manifest's, clusters.h5's (the pool), every
 * ground-truth file it could read, the cut-off ratio, the seed and the selection section (which
 * clusterings define the pool). An unchanged rerun reads the summary back from the record.
 */
export async function runEvalSelection(config: Config, opts: EvalStageOptions = {}): Promise<EvalStageResult> {
  const t0 = performance.now();
  const runDir = config.runDir!;
  const files = selectionPaths(runDir, opts.method ?? config.selection.method, config.selection.method, opts.selection);
  const selFile = files.csv;
  const out = path.resolve(opts.out ?? files.eval);
  const ratio = opts.ratio ?? config.evaluation.topRatio;
  // Every file the truth could come from (the first that holds it is used: --truth, the manifest, labels.jsonl).
  const truthCandidates = opts.truth ? [opts.truth] : [runLayout(runDir).corpusLabels, ...(config.corpus.source ? [path.join(config.corpus.source, 'labels.jsonl')] : [])];
  if (!(await exists(selFile))) readSelectionCsv(selFile); // the reader's error names the file
  const scoring = await readScoring(files.meta);
  const fp = {
    config: { evaluation: { topRatio: ratio }, seed: config.seed, selection: config.selection },
    inputs: {
      selection: await fileDigest(selFile),
      manifest: await fileDigest(files.manifest),
      clusters: await fileDigest(files.clusters),
      // What the objective check reads from the ranking's meta.json (its timings change on every run).
      scoring: scoring && stableKey(scoring),
      truth: Object.fromEntries(await Promise.all(truthCandidates.map(async (f) => [path.resolve(f), await fileDigest(f)] as const))),
    },
  };
  const shard = path.relative(runLayout(runDir).root, out).replace(/\.json$/i, '');
  const check = await stageDone<{ summary: EvalSummary; text: string }>(runDir, EVAL_STAGE, fp, { shard });
  if (check.done) {
    const s = check.record!.summary;
    if (!opts.silent) log(`eval-selection: ${path.relative(runLayout(runDir).root, out)} is up to date for this ranking, truth and config; skipping`);
    return { summary: s.summary, file: out, text: s.text, skipped: true };
  }
  const note = redoNote(check, runDir);
  if (note && !opts.silent) log(`eval-selection: ${note}`);
  const r = await evaluateRanking(config, files, selFile, out, ratio, opts.truth, scoring);
  await markDone(runDir, EVAL_STAGE, fp, { shard, outputs: [out], stamp: true, summary: { summary: r.summary, text: r.text }, seconds: (performance.now() - t0) / 1000 });
  return r;
}

async function evaluateRanking(
  config: Config,
  files: ReturnType<typeof selectionPaths>,
  selFile: string,
  out: string,
  ratio: number,
  truth: string | undefined,
  scoring: Scoring | null,
): Promise<EvalStageResult> {
  const runDir = config.runDir!;
  const opts = { truth };
  const ranking = readSelectionCsv(selFile);
  const manifest = (await ManifestIndex.read(files.manifest)).records;
  // The pool: the clips the selection could choose from (clusters.h5 when present).
  let poolIds: string[];
  let pool: SelectionPool | undefined;
  if (await exists(files.clusters)) {
    const clusters = await readClusters(files.clusters);
    pool = poolFromClusters(clusters, config.selection, files.clusters);
    poolIds = pool.ids;
  } else {
    poolIds = manifest.map((r) => r.id);
  }
  let truthRows: TruthRow[] = manifest;
  let truthFile = files.manifest;
  if (opts.truth) {
    truthFile = opts.truth;
    if (!(await exists(truthFile))) throw new SelectionInputError(`${truthFile}: ground-truth file not found`);
    truthRows = await readJsonl<TruthRow>(truthFile);
  } else if (!manifest.some((r) => typeof r.corresponds === 'boolean')) {
    const candidates = [runLayout(runDir).corpusLabels];
    if (config.corpus.source) candidates.unshift(path.join(config.corpus.source, 'labels.jsonl'));
    const found = (await Promise.all(candidates.map(exists))).findIndex(Boolean);
    if (found < 0) throw new SelectionInputError(`no ground truth: ${files.manifest} has no "corresponds" field and no labels.jsonl was found (pass --truth)`);
    truthFile = candidates[found];
    truthRows = await readJsonl<TruthRow>(truthFile);
  }
  const lookup = truthLookup(truthRows);
  const recById = new Map(manifest.map((r) => [r.id, r]));
  const truthOf = (id: string): boolean | undefined => {
    const rec = recById.get(id);
    return lookup({ id, video_id: rec?.video_id, source: rec?.source });
  };
  // The concept of a clip (its visual class, else its label), to count the concepts a head covers.
  const conceptById = new Map<string, string | number>();
  for (const r of truthRows) {
    const c = r.visual_class ?? r.label;
    if (r.id && c !== undefined) conceptById.set(r.id, c);
  }
  for (const r of manifest) {
    const c = r.visual_class ?? r.label;
    if (c !== undefined) conceptById.set(r.id, c);
  }
  const conceptOf = (id: string): string | number | undefined => conceptById.get(id) ?? conceptById.get(recById.get(id)?.video_id ?? '');
  const poolTruth: number[] = [];
  const poolConcepts: Array<string | number | undefined> = [];
  const poolSet = new Set<string>();
  let unknown = 0;
  for (const id of poolIds) {
    const t = truthOf(id);
    if (t === undefined) {
      unknown++;
      continue;
    }
    poolSet.add(id);
    poolTruth.push(t ? 1 : 0);
    poolConcepts.push(conceptOf(id));
  }
  if (poolTruth.length === 0) throw new SelectionInputError(`${truthFile}: no ground truth ("corresponds") for any clip of the pool`);
  const hits: number[] = [];
  const rankedIds: string[] = [];
  for (const row of ranking) {
    if (!poolSet.has(row.id)) continue; // clips without truth are left out of both sides
    hits.push(truthOf(row.id) ? 1 : 0);
    rankedIds.push(row.id);
  }
  const haveConcepts = poolConcepts.some((c) => c !== undefined);
  const summary = summarizeRanking(hits, poolTruth, {
    ratio,
    seed: config.seed,
    ...(haveConcepts ? { poolConcepts, rankedConcepts: rankedIds.map(conceptOf) } : {}),
  });
  if (pool) {
    const check = objectiveCheck(files.meta, scoring, pool, rankedIds, (id) => truthOf(id) === true, summary.positives);
    if (check) summary.objective = check;
  }
  const curves = prefixCurves(hits, summary.positives);
  const round = (x: number): number => Math.round(x * 1e6) / 1e6;
  await writeJsonAtomic(out, {
    format: 'avcurate.selection-eval',
    version: 1,
    selection: selFile,
    truth: truthFile,
    withoutTruth: unknown,
    summary,
    precision: Array.from(curves.precision, round),
    recall: Array.from(curves.recall, round),
  });
  const text = formatSummary(summary, path.basename(selFile)) + (unknown ? `\n  (${unknown} pool clip(s) without ground truth left out)` : '');
  return { summary, file: out, text, skipped: false };
}

/** What the objective check takes from a ranking's meta.json: its pairs and estimator. */
type Scoring = { pairs: SelectionMeta['pairs'] | null; estimator: Estimator | null } | { unreadable: string };

/**
 * The pairs and estimator of a ranking's meta.json (null when there is none), read once for both
 * the fingerprint and the check; the rest of the file (timings) changes on every run.
 */
async function readScoring(metaFile: string): Promise<Scoring | null> {
  if (!(await exists(metaFile))) return null;
  try {
    const m = JSON.parse(await fsp.readFile(metaFile, 'utf8')) as Partial<SelectionMeta>;
    return { pairs: m.pairs ?? null, estimator: m.params?.estimator ?? null };
  } catch (err) {
    return { unreadable: (err as Error).message };
  }
}

/**
 * The selection's objective of its first `positives` ranked clips against that of the true
 * positives (ObjectiveCheck), with the pairs and estimator its meta.json records. Undefined when
 * there is no meta.json with pairs (a random or contrastive ranking, an old run), when a pair
 * names a clustering the pool lacks, or when the ranking is shorter than the number of positives.
 */
function objectiveCheck(
  metaFile: string,
  scoring: Scoring | null,
  pool: SelectionPool,
  rankedIds: string[],
  isPositive: (id: string) => boolean,
  positives: number,
): ObjectiveCheck | undefined {
  if (positives < 2 || rankedIds.length < positives || !scoring) return undefined;
  if ('unreadable' in scoring) throw new SelectionInputError(`${metaFile}: not a selection meta.json (${scoring.unreadable})`);
  if (!Array.isArray(scoring.pairs) || scoring.pairs.length === 0) return undefined;
  const column = new Map(pool.clusterings.map((c, j) => [clusteringName(c), j]));
  const pairs: number[] = [];
  for (const [a, b] of scoring.pairs) {
    const i = column.get(a);
    const j = column.get(b);
    if (i === undefined || j === undefined) return undefined;
    pairs.push(i, j);
  }
  const estimator: Estimator = scoring.estimator ?? CONFIG_DEFAULTS.selection.estimator;
  const row = new Map(pool.ids.map((id, r) => [id, r]));
  const score = (ids: Iterable<string>): number => {
    const f = new MIObjective(pool.matrix, pairs, { estimator, trusted: true });
    for (const id of ids) f.add(row.get(id)!);
    return f.value();
  };
  const head = rankedIds.slice(0, positives);
  const ranked = score(head);
  const truth = score(pool.ids.filter((id) => isPositive(id)));
  // The head is the true positives themselves: nothing limits precision.
  const limit = head.every(isPositive) ? 'none' : truth > ranked + 1e-9 ? 'search' : 'objective';
  return { pairs: pairs.length / 2, estimator, size: positives, ranked, truth, limit };
}
