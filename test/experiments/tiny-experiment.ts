/**
 * A tiny but real experiment for the runner tests: a synthetic corpus, real ingest, a stand-in
 * curation step (ranks truly corresponding clips first, so the test does not depend on the
 * feature/cluster/select stages), real tensor decoding, real pretraining of a very small model in
 * worker processes, real probes, results.json and report.html.
 *
 * Run as a script (`node --import tsx tiny-experiment.ts <runDir>`) for the kill-and-resume test.
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseConfig } from '../../src/config/load.js';
import type { Config } from '../../src/config/schema.js';
import { runIngest } from '../../src/curation/manifest/stage.js';
import { readManifest, manifestPath } from '../../src/curation/manifest/read.js';
import { writeSelectionCsv } from '../../src/run/selection.js';
import { runExperiment, type ExperimentOutcome } from '../../src/experiments/runner.js';

export function tinyConfig(runDir: string, overrides: Record<string, unknown> = {}): Config {
  return parseConfig({
    name: 'tiny',
    runDir,
    seed: 1,
    corpus: { synth: { clips: 30, classes: 3, mismatch: 0.5, seconds: 1, width: 48, height: 48, fps: 6 } },
    ingest: { clipSeconds: 1, prefilter: { content: false } },
    ssl: {
      backend: 'wasm',
      steps: 6,
      batchSize: 6,
      warmupSteps: 1,
      checkpointEvery: 2,
      model: {
        audio: { frames: 96, mels: 64, stages: [{ channels: 8, stride: 8, blocks: 0 }] },
        visual: { frames: 2, height: 32, width: 32, temporalKernel: 1, stages: [{ channels: 8, stride: 8, blocks: 0 }] },
        head: { hidden: 16, dim: 8 },
      },
    },
    probe: { lambdas: [1, 0.01], maxIter: 100 },
    experiment: { arms: ['curated', 'random', 'clean', 'pool'], seeds: [0], heldOut: 0.3, taskProtocol: { kind: 'folds', k: 3 }, parallel: 2, report: { images: true, clips: 2 } },
    ...overrides,
  });
}

/** Stand-in curation: ingest, then rank corresponding clips first (a perfect selector), 40 % of the pool. */
export async function oracleCurate(config: Config, opts: { silent?: boolean }): Promise<void> {
  await runIngest(config, opts);
  const manifest = await readManifest(manifestPath(config.runDir!));
  const ranked = [...manifest].sort((a, b) => Number(b.corresponds) - Number(a.corresponds) || (a.id < b.id ? -1 : 1));
  const size = Math.round(0.4 * manifest.length);
  await writeSelectionCsv(
    path.join(config.runDir!, 'selection.csv'),
    ranked.slice(0, size).map((r, i) => ({ rank: i + 1, id: r.id, video_id: r.video_id, start: r.start, end: r.start + r.duration, gain: 0.01, objective: 0.01 * (i + 1) })),
  );
}

export function runTiny(runDir: string, opts: { inProcess?: boolean } = {}): Promise<ExperimentOutcome> {
  return runExperiment(tinyConfig(runDir), { silent: true, curate: oracleCurate, inProcess: opts.inProcess });
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  await runTiny(process.argv[2]);
}
