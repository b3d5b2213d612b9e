/**
 * An arm trains on a set of clips: two arms holding the same clips in different orders (the
 * curated ranking, the clean arm's shuffle) train and probe identically.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { Config } from '../../src/config/schema.js';
import { runIngest } from '../../src/curation/manifest/stage.js';
import { readManifest, manifestPath } from '../../src/curation/manifest/read.js';
import { writeSelectionCsv } from '../../src/run/selection.js';
import { runExperiment } from '../../src/experiments/runner.js';
import { canonicalOrder } from '../../src/experiments/stages/train.js';
import { tinyConfig } from './tiny-experiment.js';

const tmp = mkdtempSync(path.join(os.tmpdir(), 'avcurate-arm-order-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** Stand-in curation that selects every corresponding clip, ranked in reverse id order. */
async function allPositives(config: Config, opts: { silent?: boolean }): Promise<void> {
  await runIngest(config, opts);
  const manifest = await readManifest(manifestPath(config.runDir!));
  const ranked = manifest.filter((r) => r.corresponds).sort((a, b) => (a.id < b.id ? 1 : -1));
  await writeSelectionCsv(
    path.join(config.runDir!, 'selection.csv'),
    ranked.map((r, i) => ({ rank: i + 1, id: r.id, video_id: r.video_id, start: r.start, end: r.start + r.duration, gain: 0.01, objective: 0.01 * (i + 1) })),
  );
}

describe('arm training order', () => {
  it('canonicalOrder sorts by code unit and leaves its input alone', () => {
    const ids = ['clip-10', 'clip-2', 'Clip-3', 'clip-1'];
    expect(canonicalOrder(ids)).toEqual(['Clip-3', 'clip-1', 'clip-10', 'clip-2']);
    expect(ids).toEqual(['clip-10', 'clip-2', 'Clip-3', 'clip-1']);
  });

  it('the curated and clean arms holding the same clips give the same training and probes', async () => {
    const runDir = path.join(tmp, 'run');
    const cfg = tinyConfig(runDir);
    cfg.experiment.arms = ['curated', 'clean'];
    const out = await runExperiment(cfg, { silent: true, curate: allPositives, inProcess: true });
    const arms = Object.fromEntries(out.results.arms.map((a) => [a.arm, a]));
    expect(arms.curated.size).toBe(arms.clean.size);
    expect(arms.curated.precision).toBe(1);
    // Every training figure but the timings (samples_per_s, elapsed_s).
    const metrics = (arm: string) =>
      readFileSync(path.join(runDir, 'ssl', `${arm}-s0`, 'metrics.jsonl'), 'utf8')
        .trim()
        .split('\n')
        .map((l) => {
          const { samples_per_s: _s, elapsed_s: _e, ...m } = JSON.parse(l) as Record<string, number>;
          return m;
        });
    expect(metrics('curated')).toHaveLength(cfg.ssl.steps);
    expect(metrics('curated')).toEqual(metrics('clean'));
    const probes = (arm: string) => out.results.probes.filter((p) => p.arm === arm).map(({ arm: _a, ...p }) => p);
    expect(probes('curated').length).toBeGreaterThan(0);
    expect(probes('curated')).toEqual(probes('clean'));
  }, 120_000);
});
