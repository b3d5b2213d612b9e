/**
 * The curation path as one call: synth → ingest → extract → cluster → select → eval-selection.
 * Every stage function skips the work it finds finished (same config, same inputs), so a rerun
 * after a kill resumes where it stopped and a rerun of a finished run only re-evaluates.
 */
import path from 'node:path';
import type { Config } from '../config/schema.js';
import { log } from '../runtime/progress.js';
import { INGEST_STAGE, corpusDir, ingestFingerprint, ingestStage, runCorpus } from './manifest/stage.js';
import { markDone, redoNote, restampStage, stageDone, stageFingerprint } from '../run/ledger.js';
import { runLayout } from '../run/layout.js';
import { fileDigest } from '../run/hash.js';
import { addClips, clusterWithDrift, continueSelect, extractAll, reapplyAdditions, type IncrementalSelectReport } from './incremental/stage.js';
import { runSelect, type SelectStageResult } from './selection/stage.js';
import { runEvalSelection, type EvalStageResult } from './selection/eval-stage.js';
import { exists } from '../runtime/jsonl.js';
import { selectionPaths } from './selection/stage.js';

export type CurationStage = 'synth' | 'ingest' | 'extract' | 'cluster' | 'select' | 'explain' | 'eval';

export const CURATION_STAGES: CurationStage[] = ['synth', 'ingest', 'extract', 'cluster', 'select', 'explain', 'eval'];

export interface CurationOptions {
  silent?: boolean;
  /** Stop after this stage (default: eval). */
  until?: CurationStage;
  /** Recompute the selection even when a finished one exists (earlier stages still resume). */
  forceSelect?: boolean;
  /**
   * Add the clips of this folder or CSV to the curated run (curation/incremental): ingest
   * appends, extract writes new shards only, cluster assigns to the existing centroids (refit on
   * drift or request), select continues from the current selection.
   */
  add?: string;
  /** Refit the clusterings on every clip (with `add`, or after earlier additions). */
  refit?: boolean;
}

export interface StageTiming {
  stage: CurationStage;
  seconds: number;
  /** What the stage did, in a few words. */
  note: string;
}

export interface CurationResult {
  runDir: string;
  stages: StageTiming[];
  selection: SelectStageResult | null;
  evaluation: EvalStageResult | null;
  /** What continuing the selection changed (with `add`). */
  incremental: IncrementalSelectReport | null;
  seconds: number;
}

/** Run the curation stages of a config in order. */
export async function runCuration(config: Config, opts: CurationOptions = {}): Promise<CurationResult> {
  const t0 = performance.now();
  const runDir = config.runDir!;
  const silent = opts.silent ?? process.env.AVCURATE_QUIET === '1';
  const stages: StageTiming[] = [];
  const last = CURATION_STAGES.indexOf(opts.until ?? 'eval');
  const result: CurationResult = { runDir, stages, selection: null, evaluation: null, incremental: null, seconds: 0 };
  const step = async (stage: CurationStage, fn: () => Promise<string>): Promise<boolean> => {
    if (CURATION_STAGES.indexOf(stage) > last) return false;
    if (!silent) log(`== ${stage}`);
    const s0 = performance.now();
    const note = await fn();
    const seconds = (performance.now() - s0) / 1000;
    stages.push({ stage, seconds, note });
    if (!silent) log(`   ${stage}: ${note} (${seconds.toFixed(1)} s)`);
    return true;
  };

  await step('synth', async () => (await runCorpus(config, { silent })).note);
  await step('ingest', async () => {
    // The one ingest code path on the stage ledger (manifest/stage.ts ingestStage, also what
    // `avcurate ingest` runs): skipped when the manifest was made from the same corpus files and
    // ingest config and is untouched since (stamped). Clips added to this run (curate --add) stay
    // in it when the base is re-ingested.
    const r = await ingestStage({ input: corpusDir(config), out: runLayout(runDir).manifest, ingest: config.ingest, silent, after: () => reapplyAdditions(config) });
    let note = r.skipped ? `manifest.jsonl is up to date (${r.summary.note})` : r.summary.note;
    if (opts.add) {
      const a = await addClips(config, opts.add, { silent });
      note += a.already ? `; ${opts.add} was added already (${a.batch.name})` : `; added ${a.batch.clips} clips as ${a.batch.name} (${a.total} in all)`;
      // The manifest now holds the added clips: that is this pipeline's own change, not an edit.
      await restampStage(runDir, INGEST_STAGE);
    }
    return note;
  });
  await step('extract', async () => {
    const all = await extractAll(config, { index: 0, count: 1 }, { silent });
    const rs = [all.base, ...all.batches.map((b) => b.result)];
    const sum = (f: (r: (typeof rs)[number]) => number) => rs.reduce((a, r) => a + f(r), 0);
    return `${sum((r) => r.written.length)} shard(s) written, ${sum((r) => r.skipped.length)} already complete; ${sum((r) => r.clips)} clips extracted, ${sum((r) => r.failed)} failed` +
      (all.batches.length ? ` (${all.batches.length} added batch(es))` : '');
  });
  await step('cluster', async () => {
    const { cluster: r, drift, refitted, reason } = await clusterWithDrift(config, { index: 0, count: 1 }, { silent, refit: opts.refit });
    const ks = [...new Set(r.clusterings.map((c) => c.k))].join('/');
    return `${r.clusterings.length} clusterings (k ${ks}) of ${r.n ?? '?'} clips${r.fitted ? '' : ', model reused'}` +
      (drift || refitted ? `; ${reason}` : '');
  });
  await step('select', async () => {
    if (opts.add && !opts.forceSelect) {
      const inc = await continueSelect(config, { silent });
      if (inc) {
        result.incremental = inc;
        result.selection = { csv: selectionPaths(runDir).csv, computed: [0], missing: [], skipped: false, pool: inc.pool, selected: inc.selected, objective: inc.objective, seconds: inc.seconds };
        return `${inc.selected} of ${inc.pool} clips (continued from ${inc.previous}; ${inc.left} previously selected clips left), objective ${inc.objective.toFixed(4)}`;
      }
    }
    const r = await runSelect(config, { silent, force: opts.forceSelect });
    result.selection = r;
    if (r.skipped) return `${r.selected} of ${r.pool} clips, already selected`;
    return `${r.selected} of ${r.pool} clips, objective ${r.objective.toFixed(4)}`;
  });
  await step('explain', () => explainStep(config, { silent }));
  await step('eval', async () => {
    if (!(await exists(selectionPaths(runDir).csv))) return 'no selection.csv to evaluate';
    try {
      const r = await runEvalSelection(config, { silent });
      result.evaluation = r;
      return `precision ${r.summary.atPositives.precision.toFixed(3)} at the true-positive count, ${r.summary.atRatio.precision.toFixed(3)} for the top ${Math.round(r.summary.atRatio.ratio * 100)} % (random ${r.summary.baseRate.toFixed(3)})`;
    } catch (err) {
      if (/no ground truth/.test((err as Error).message)) return 'no ground truth in this corpus: nothing to evaluate';
      throw err;
    }
  });
  result.seconds = (performance.now() - t0) / 1000;
  return result;
}

/**
 * Curate's explain step on the run folder of `config` (also run for each bootstrap round): writes
 * explain.json for the selection there, redone when the selection or its config changed (stage
 * ledger record stages/explain.json). Returns what it did, in a few words.
 */
export async function explainStep(config: Config, opts: { silent?: boolean } = {}): Promise<string> {
  const runDir = config.runDir!;
  const silent = opts.silent ?? false;
  // explain.json (docs/selection.md "Explain"): what `avcurate explain` writes, redone when the
  // selection or its config changed (stage ledger), off with selection.explain.enabled: false.
  if (!config.selection.explain.enabled) return 'off (selection.explain.enabled: false)';
  const files = selectionPaths(runDir);
  if (!(await exists(files.csv))) return 'no selection.csv to explain';
  const fp = {
    config: { selection: config.selection, seed: config.seed },
    inputs: { selection: await fileDigest(files.csv), meta: (await exists(files.meta)) ? await fileDigest(files.meta) : null },
  };
  const check = await stageDone<{ note: string }>(runDir, EXPLAIN_STAGE, fp);
  if (check.done) return `explain.json is up to date (${check.record!.summary.note})`;
  const why = redoNote(check, runDir);
  if (why && !silent) log(`   ${why}`);
  const t = performance.now();
  const { runExplain } = await import('./selection/explain.js');
  const r = await runExplain(config);
  const e = r.explain;
  const best = e.pairs[0];
  const note =
    `${e.pairs.length} pair(s), ${e.cells.length} cells, ${e.clips.length} clips → ${path.basename(r.file)}` +
    (best ? `; strongest pair ${best.a} × ${best.b}` + (e.permutations > 0 ? ` (selection z ${best.selection.z.toFixed(1)})` : ` (selection MI ${best.selection.mi.toFixed(3)}, no null)`) : '');
  await markDone(runDir, EXPLAIN_STAGE, fp, { outputs: [r.file], stamp: true, summary: { note }, seconds: (performance.now() - t) / 1000 });
  return note;
}

/** The ledger record of curate's explain step (stages/explain.json). */
export const EXPLAIN_STAGE = 'explain';


/** What the manifest depends on (the ledger's key of the run's ingest): the ingest config and every file of the corpus. */
export async function ingestKey(config: Config): Promise<string> {
  return stageFingerprint(await ingestFingerprint(corpusDir(config), runLayout(config.runDir!).manifest, config.ingest)).key;
}
