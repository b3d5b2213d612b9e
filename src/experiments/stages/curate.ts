/**
 * Experiment stage 3: curation on the pool (ingest → extract → cluster → select → eval-selection),
 * then what the later stages need from it: the manifest, the ground truth and the MI ranking.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import type { Config } from '../../config/schema.js';
import { runCuration } from '../../curation/pipeline.js';
import { inputFilesKey } from '../../curation/manifest/stage.js';
import { extractorCodeKey } from '../../curation/features/versions.js';
import { finalSelection } from '../../curation/bootstrap.js';
import { registerSslEncoders, runSslBootstrap, usesEncoders } from '../encoders.js';
import { readManifest } from '../../run/manifest.js';
import type { ClipRecord } from '../../run/manifest.js';
import { readSelectionCsv } from '../../run/selection.js';
import { stableKey } from '../../run/ledger.js';
import { runLayout } from '../../run/layout.js';
import type { ExperimentContext } from '../context.js';
import type { SplitSummary } from './corpus.js';

export type CurateFn = (config: Config, opts: { silent?: boolean }) => Promise<Array<{ stage: string; seconds: number }> | void>;

export interface Curation {
  /** Seconds per curation stage (empty when the stand-in curation reports none). */
  timings: Array<{ stage: string; seconds: number }>;
  manifest: ClipRecord[];
  /** Ground truth (corresponds) by clip id, where the manifest has it. */
  truth: Map<string, boolean>;
  /**
   * The selection the curated arm trains on: the run folder's selection.csv, or with
   * curate.bootstrap.rounds the last round's (bootstrap/round-<R>/selection.csv).
   */
  selectionFile: string;
  /** The ids of `selectionFile` in rank order. */
  curatedRanking: string[];
}

/** The default curation: synth → ingest → extract → cluster → select → eval-selection. */
async function defaultCurate(config: Config, opts: { silent?: boolean }): Promise<Array<{ stage: string; seconds: number }>> {
  if (usesEncoders(config)) registerSslEncoders();
  const r = await runCuration(config, { silent: opts.silent });
  const stages = r.stages.map((s) => ({ stage: s.stage as string, seconds: s.seconds }));
  // Bootstrapped features (curate.bootstrap): their rounds live in bootstrap/ of the run folder and
  // appear in the report; the curated arm trains on the last round's selection.
  if (config.curate.bootstrap.rounds > 0) {
    const t0 = performance.now();
    await runSslBootstrap(config, { silent: opts.silent });
    stages.push({ stage: 'bootstrap', seconds: (performance.now() - t0) / 1000 });
  }
  return stages;
}

/** Stage "curate". */
export async function curateStage(ctx: ExperimentContext, split: SplitSummary, curate?: CurateFn): Promise<Curation> {
  const { config, runDir, ledger, silent } = ctx;
  const curationConfig: Config = { ...config, corpus: { source: split.poolFile } };
  const curateStage = await ledger.run<{ stages?: Array<{ stage: string; seconds: number }> }>(
    'curate',
    {
      config: { ingest: config.ingest, features: config.features, clustering: config.clustering, selection: config.selection, seed: config.seed, ...(config.curate.bootstrap.rounds > 0 ? { curate: config.curate, ssl: config.ssl } : {}) },
      // The pool list and every clip it names (size, time): clips rendered again under the same
      // list are a new input, not a finished curation.
      inputs: {
        pool: statSync(split.poolFile).isFile() ? stableKey(readFileSync(split.poolFile, 'utf8')) : path.resolve(split.poolFile),
        files: await inputFilesKey(split.poolFile),
        // The extractors' code versions and model files: a new version of an extractor re-extracts
        // in `curate` (the features stage keys on it), so the experiment's curation is redone too.
        extractors: await extractorCodeKey(config.features),
      },
    },
    async () => {
      const stages = (await (curate ?? defaultCurate)(curationConfig, { silent })) ?? [];
      const csv = finalSelection({ ...config, runDir });
      if (!existsSync(csv)) throw new Error(`curation finished without ${csv}`);
      return { summary: { stages }, outputs: [csv, runLayout(runDir).manifest] };
    },
  );
  const curateTimings = curateStage.stages ?? [];
  const manifest = await readManifest(runLayout(runDir).manifest);
  const truth = new Map<string, boolean>();
  for (const r of manifest) if (typeof r.corresponds === 'boolean') truth.set(r.id, r.corresponds);
  const selectionFile = finalSelection({ ...config, runDir });
  const curatedRanking = readSelectionCsv(selectionFile).map((r) => r.id);

  return { timings: curateTimings, manifest, truth, selectionFile, curatedRanking };
}
