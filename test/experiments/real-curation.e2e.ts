/**
 * The experiment through the real curation path (no stand-in): a synthetic corpus with half of
 * the clips' audio swapped, ingest, built-in audio and visual descriptors, k-means, MI selection,
 * the arms (curated, random, contrastive, pool) pretrained from the tensor cache and probed.
 * runner.test.ts checks the runner's mechanics with a perfect stand-in selector; this checks that
 * the curation it chains finds the corresponding clips and that the report says so.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseConfig } from '../../src/config/load.js';
import { runExperiment } from '../../src/experiments/runner.js';
import { validateResults } from '../../src/experiments/results.js';

const tmp = mkdtempSync(path.join(os.tmpdir(), 'avcurate-real-curation-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('experiment with the real curation', () => {
  it('selects the corresponding clips far above random and trains every arm on them', async () => {
    const runDir = path.join(tmp, 'run');
    const config = parseConfig({
      name: 'real-curation',
      runDir,
      seed: 1,
      corpus: { synth: { clips: 160, classes: 4, mismatch: 0.5, seconds: 2, width: 64, height: 48, fps: 8, family: 'concepts' } },
      ingest: { clipSeconds: 2, minSeconds: 1 },
      features: { shardSize: 100, decode: { fps: 8, width: 64, height: 64 }, audio: [{ type: 'builtin' }], visual: [{ type: 'builtin', frames: 8, maxSize: 64 }] },
      clustering: { k: [4, 8], restarts: 2 },
      selection: { method: 'mi', algorithm: 'batch-greedy', pairing: 'bipartite', estimator: 'miller-madow', ratio: 0.5, batchSize: 20, batchPick: 4, refine: { enabled: true } },
      loader: { decode: { seconds: 1, sampling: 'uniform' } },
      ssl: {
        backend: 'wasm',
        steps: 20,
        batchSize: 16,
        warmupSteps: 2,
        checkpointEvery: 20,
        model: {
          audio: { frames: 96, mels: 64, stages: [{ channels: 8, stride: 8, blocks: 0 }] },
          visual: { frames: 2, height: 32, width: 32, temporalKernel: 1, stages: [{ channels: 8, stride: 8, blocks: 0 }] },
          head: { hidden: 16, dim: 8 },
        },
      },
      probe: { lambdas: [1, 0.01], maxIter: 100, modalities: ['audio', 'visual', 'both'] },
      experiment: { arms: ['curated', 'random', 'contrastive', 'pool'], seeds: [0], heldOut: 0.3, taskProtocol: { kind: 'folds', k: 3 }, parallel: 2, report: { images: false, clips: 2 } },
    });
    const out = await runExperiment(config, { silent: true });
    const results = validateResults(JSON.parse(readFileSync(out.resultsFile, 'utf8')));
    // The curation stages really ran.
    const stages = results.timings.map((t) => t.stage);
    for (const s of ['curate: ingest', 'curate: extract', 'curate: cluster', 'curate: select']) expect(stages).toContain(s);
    const bySel = Object.fromEntries(results.selection.map((s) => [s.method, s]));
    console.log(out.table);
    expect(bySel.mi.precision!).toBeGreaterThanOrEqual(MI_PRECISION);
    expect(bySel.mi.precision! - bySel.random.precision!).toBeGreaterThanOrEqual(0.3);
    expect(bySel.contrastive).toBeTruthy();
    const curated = results.arms.find((a) => a.arm === 'curated')!;
    expect(curated.precision).toBeCloseTo(bySel.mi.precision!, 10);
    expect(results.arms.find((a) => a.arm === 'random')!.size).toBe(curated.size);
    expect(results.arms.every((a) => a.steps === 20)).toBe(true);
    expect(results.probes.length).toBe(4 * 3);
    expect(results.expectations?.find((e) => e.name === 'curated selection precision')?.value).toBe(bySel.mi.precision);
  });
});

/** What MI selection reaches on this corpus (160 clips, 4 classes, half mismatched). */
const MI_PRECISION = 0.9;
