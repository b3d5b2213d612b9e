/**
 * The curation path as one call: synth → ingest → extract → cluster → select → eval-selection.
 * Every stage function skips the work it finds finished (same config, same inputs), so a rerun
 * after a kill resumes where it stopped and a rerun of a finished run only re-evaluates.
 */
import { createHash } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import type { Config } from '../config/schema.js';
import { writeJsonAtomic } from '../runtime/atomic.js';
import { log } from '../runtime/progress.js';
import { corpusDir, runSynth, runIngest } from './manifest/stage.js';
import { manifestPath } from './manifest/read.js';
import { runExtract } from './features/stage.js';
import { runCluster } from './clustering/stage.js';
import { runSelect, runEvalSelection, type EvalStageResult, type SelectStageResult } from './selection/stage.js';
import { exists } from '../runtime/jsonl.js';
import { selectionPaths } from './selection/stage.js';

export type CurationStage = 'synth' | 'ingest' | 'extract' | 'cluster' | 'select' | 'eval';

export const CURATION_STAGES: CurationStage[] = ['synth', 'ingest', 'extract', 'cluster', 'select', 'eval'];

export interface CurationOptions {
  silent?: boolean;
  /** Stop after this stage (default: eval). */
  until?: CurationStage;
  /** Recompute the selection even when a finished one exists (earlier stages still resume). */
  forceSelect?: boolean;
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
  seconds: number;
}

/** Run the curation stages of a config in order. */
export async function runCuration(config: Config, opts: CurationOptions = {}): Promise<CurationResult> {
  const t0 = performance.now();
  const runDir = config.runDir!;
  const silent = opts.silent ?? process.env.AVCURATE_QUIET === '1';
  const stages: StageTiming[] = [];
  const last = CURATION_STAGES.indexOf(opts.until ?? 'eval');
  const result: CurationResult = { runDir, stages, selection: null, evaluation: null, seconds: 0 };
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

  await step('synth', async () => {
    const r = await runSynth(config, { silent });
    if (!r) return 'no synthetic corpus configured (corpus.source is used)';
    return `${r.labels.length} clips (${r.generated} generated, ${r.skipped} already there)`;
  });
  await step('ingest', async () => {
    // ingest rebuilds a finished manifest from scratch; skip it when the manifest was made by this
    // pipeline from the same corpus files and ingest config, and is untouched since.
    const marker = path.join(runDir, '.curate', 'ingest.json');
    const key = await ingestKey(config);
    const done = await readMarker(marker);
    const manifest = manifestPath(runDir);
    if (done && done.key === key && (await fileStamp(manifest)) === done.output) {
      return `manifest.jsonl is up to date (${done.note})`;
    }
    const r = await runIngest(config, { silent });
    const note = `${r.clips} clips in the manifest, ${r.failures.length} refused`;
    await writeJsonAtomic(marker, { key, output: await fileStamp(manifest), note });
    return note + (r.resumed ? `, ${r.resumed} inputs resumed` : '');
  });
  await step('extract', async () => {
    const r = await runExtract(config, { index: 0, count: 1 }, { silent });
    return `${r.written.length} shard(s) written, ${r.skipped.length} already complete; ${r.clips} clips extracted, ${r.failed} failed`;
  });
  await step('cluster', async () => {
    const r = await runCluster(config, { index: 0, count: 1 }, { silent });
    const ks = [...new Set(r.clusterings.map((c) => c.k))].join('/');
    return `${r.clusterings.length} clusterings (k ${ks}) of ${r.n ?? '?'} clips${r.fitted ? '' : ', model reused'}`;
  });
  await step('select', async () => {
    const r = await runSelect(config, { silent, force: opts.forceSelect });
    result.selection = r;
    if (r.skipped) return `${r.selected} of ${r.pool} clips, already selected`;
    return `${r.selected} of ${r.pool} clips, objective ${r.objective.toFixed(4)}`;
  });
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

/** Size and modification time of a file ('' when missing). */
async function fileStamp(file: string): Promise<string> {
  try {
    const st = await fsp.stat(file);
    return `${st.size}:${st.mtimeMs}`;
  } catch {
    return '';
  }
}

async function readMarker(file: string): Promise<{ key: string; output: string; note: string } | null> {
  try {
    return JSON.parse(await fsp.readFile(file, 'utf8')) as { key: string; output: string; note: string };
  } catch {
    return null;
  }
}

/** What the manifest depends on: the ingest config and every file of the corpus (name, size, and time or contents). */
async function ingestKey(config: Config): Promise<string> {
  const h = createHash('sha256');
  h.update(JSON.stringify({ ingest: config.ingest, corpus: config.corpus }));
  const root = corpusDir(config);
  const walk = async (p: string): Promise<void> => {
    let st;
    try {
      st = await fsp.stat(p);
    } catch {
      h.update(`missing ${p}\n`);
      return;
    }
    if (st.isDirectory()) {
      const names = (await fsp.readdir(p)).filter((n) => !n.startsWith('.')).sort();
      for (const n of names) await walk(path.join(p, n));
    } else if (st.size <= 1 << 20) {
      // Small files (labels.jsonl, CSV lists, synth.json) are rewritten with the same bytes by
      // their producers: compare contents, not times.
      h.update(`${path.relative(root, p)} ${st.size} `);
      h.update(await fsp.readFile(p));
      h.update('\n');
    } else {
      h.update(`${path.relative(root, p)} ${st.size} ${st.mtimeMs}\n`);
    }
  };
  await walk(root);
  return h.digest('hex');
}
