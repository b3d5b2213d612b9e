import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseConfig } from '../../../src/config/load.js';
import { synthesize } from '../../../src/media/synth.js';
import { pretrain } from '../../../src/ssl/trainer.js';
import { SslSchema } from '../../../src/config/sections/ssl.js';
import { ArrayBatches } from '../../../src/ssl/data.js';
import { Rng } from '../../../src/runtime/random.js';
import { main } from '../../../src/cli/main.js';
import { formatProbe, runProbe, type ProbeFile } from '../../../src/ssl/probe/stage.js';
import { buildClipTensors, loadClipTensors, selectRows } from '../../../src/ssl/probe/clip-tensors.js';

const ssl = {
  backend: 'wasm' as const,
  steps: 2,
  batchSize: 4,
  warmupSteps: 1,
  model: {
    audio: { frames: 96, mels: 64, stages: [{ channels: 8, stride: 8, blocks: 0 }] },
    visual: { frames: 2, height: 32, width: 32, temporalKernel: 1, stages: [{ channels: 8, stride: 8, blocks: 0 }] },
    head: { hidden: 16, dim: 8 },
  },
};

let tmp: string;
let labelsFile: string;
let checkpoint: string;
beforeAll(async () => {
  tmp = mkdtempSync(path.join(os.tmpdir(), 'avcurate-probe-stage-'));
  const corpus = await synthesize({ out: path.join(tmp, 'corpus'), clips: 12, classes: 2, mismatch: 0, seconds: 1, width: 48, height: 48, fps: 6, seed: 2, silent: true });
  labelsFile = corpus.labelsFile;
  checkpoint = path.join(tmp, 'ssl', 'tiny');
  const rng = new Rng(1);
  const n = 8;
  const audio = new Float32Array(n * 96 * 64).map(() => rng.normal());
  const frames = new Float32Array(n * 2 * 32 * 32 * 3).map(() => rng.normal());
  await pretrain({ outDir: checkpoint, config: SslSchema.parse(ssl), seed: 0, data: new ArrayBatches(audio, frames, n, 4, 0), silent: true });
}, 60_000);
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('clip tensors', () => {
  it('decodes clips into the model shapes once, lists failures, and selects rows by id', async () => {
    const dims = { audioFrames: 96, mels: 64, frames: 2, height: 32, width: 32 };
    const clips = [0, 1, 2].map((i) => ({ id: `c${i}`, file: path.join(tmp, 'corpus', `clip-0000${i}.mp4`), start: 0, duration: 1 }));
    const dir = path.join(tmp, 'tensors');
    const r = await buildClipTensors([...clips, { id: 'bad', file: path.join(tmp, 'nope.mp4') }], dims, dir, { silent: true });
    expect(r).toMatchObject({ count: 3, skipped: false });
    expect(r.failed.map((f) => f.id)).toEqual(['bad']);
    expect((await buildClipTensors([...clips, { id: 'bad', file: path.join(tmp, 'nope.mp4') }], dims, dir, { silent: true })).skipped).toBe(true);
    const t = await loadClipTensors(dir);
    expect(t.audio.length).toBe(3 * 96 * 64);
    expect(t.frames.length).toBe(3 * 2 * 32 * 32 * 3);
    expect(t.frames.every((v) => v >= -2.01 && v <= 2.45)).toBe(true); // (x/255 - 0.45) / 0.225
    const rows = selectRows(t, ['c2', 'c0']);
    expect(Array.from(rows.audio.subarray(0, 5))).toEqual(Array.from(t.audio.subarray(2 * 96 * 64, 2 * 96 * 64 + 5)));
    expect(() => selectRows(t, ['bad'])).toThrow(/no tensors for 1 clip/);
  });
});

describe('probe stage', () => {
  it('embeds a dataset with a checkpoint and writes probe/<arm>.json', async () => {
    const config = parseConfig({ runDir: path.join(tmp, 'run'), ssl, probe: { dataset: { kind: 'synth', path: labelsFile }, protocol: { kind: 'folds', k: 3 }, lambdas: [1, 0.01], clipSeconds: 1 } });
    const { file, probe } = await runProbe(config, { checkpoint, silent: true });
    expect(file).toBe(path.join(tmp, 'run', 'probe', 'tiny.json'));
    expect(probe).toMatchObject({ arm: 'tiny', step: 2, items: 12, classes: ['0', '1'], missing: 0, undecodable: 0 });
    expect(Object.keys(probe.results).sort()).toEqual(['audio', 'both', 'cross', 'visual']);
    for (const r of Object.values(probe.results)) {
      expect(r!.splits).toHaveLength(3);
      expect(r!.top1).toBeGreaterThanOrEqual(0);
      expect(r!.top1).toBeLessThanOrEqual(1);
    }
    expect(JSON.parse(readFileSync(file, 'utf8')).results.audio.top1).toBe(probe.results.audio!.top1);
    expect(formatProbe(probe)).toMatch(/audio\s+top-1 \d+\.\d %/);
  }, 60_000);

  it('the CLI refuses a config without probe.dataset (exit 2)', async () => {
    const cfg = path.join(tmp, 'noprobe.yaml');
    (await import('node:fs')).writeFileSync(cfg, `runDir: ${path.join(tmp, 'run2')}\n`);
    const errs: string[] = [];
    const orig = process.stderr.write.bind(process.stderr);
    process.stderr.write = ((c: string) => (errs.push(String(c)), true)) as typeof process.stderr.write;
    try {
      expect(await main(['probe', '--config', cfg, '--checkpoint', checkpoint, '--quiet'])).toBe(2);
    } finally {
      process.stderr.write = orig;
    }
    expect(errs.join('')).toMatch(/set probe.dataset/);
    expect(existsSync(path.join(tmp, 'run2', 'probe'))).toBe(false);
  });
});
