/**
 * `avcurate experiment`: curate a pool of clips, pretrain on the curated subset and on baselines
 * of equal size and budget, probe every arm on downstream tasks over several seeds, and write
 * results.json and report.html. Each stage is a file in stages/; every stage is recorded in the
 * stage ledger (src/run/ledger.ts), so a rerun skips finished stages and a run killed mid-way
 * resumes (pretraining from its checkpoint).
 *
 * Run folder additions (besides the curation files of DESIGN.md):
 *   experiment/pool.jsonl, heldout.jsonl   the curation pool and the held-out downstream clips
 *   experiment/arms/<arm>.json             the training set of each arm (ids)
 *   experiment/jobs/<arm>-s<seed>.json     the job each arm worker ran
 *   tensors/, tensors-<task>/              decoded model inputs: loaders tensor caches (frames.npy,
 *                                          spec.npy, index.json), decoded once, read by every arm
 *   ssl/<arm>-s<seed>/                     checkpoints and metrics.jsonl
 *   probe/<arm>-s<seed>.json               probe results of the arm and seed
 *   stages/<stage>.json                    the ledger
 *   results.json, report.html
 */
import path from 'node:path';
import type { Config } from '../config/schema.js';
import { StageLedger } from '../run/ledger.js';
import type { ExperimentContext } from './context.js';
import { corpusStage, splitStage } from './stages/corpus.js';
import { curateStage, type CurateFn } from './stages/curate.js';
import { armsStage } from './stages/arms.js';
import { planTasks } from './stages/tasks.js';
import { tensorsStage } from './stages/tensors.js';
import { trainStage } from './stages/train.js';
import { resultsStage, type ExperimentOutcome } from './stages/results.js';

export { formatResultsTable, type ExperimentOutcome } from './stages/results.js';

export interface ExperimentOptions {
  silent?: boolean;
  /** Arm processes at once (default experiment.parallel, else the number of cores). */
  parallel?: number;
  /** Run arms in this process instead of worker processes (tests, debugging). */
  inProcess?: boolean;
  /** Curation (synth → ingest → extract → cluster → select → eval) on a config; default: the curation pipeline. */
  curate?: CurateFn;
}

/** Run the whole experiment described by `config`. */
export async function runExperiment(config: Config, opts: ExperimentOptions = {}): Promise<ExperimentOutcome> {
  const t0 = performance.now();
  const runDir = path.resolve(config.runDir!);
  const silent = opts.silent ?? false;
  const ctx: ExperimentContext = { config, runDir, expDir: path.join(runDir, 'experiment'), ledger: new StageLedger(runDir, { silent }), silent, notes: [] };
  const corpus = await corpusStage(ctx);
  const split = await splitStage(ctx, corpus);
  const curation = await curateStage(ctx, split, opts.curate);
  const arms = await armsStage(ctx, curation);
  const tasks = planTasks(ctx, split);
  const tensorsKey = await tensorsStage(ctx, curation.manifest, tasks, arms.ids);
  const armResults = await trainStage(ctx, arms.ids, tasks, tensorsKey, { parallel: opts.parallel, inProcess: opts.inProcess });
  return resultsStage(ctx, { split, curation, arms, tasks, armResults, t0 });
}
