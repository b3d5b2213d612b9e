import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadConfig, parseConfig } from '../../src/config/load.js';
import { ffmpegPath } from '../../src/media/ffmpeg.js';
import { probe } from '../../src/media/probe.js';
import { runTool } from '../../src/media/process.js';
import { buildRealPairs, findRealPairs, planRealPairs } from '../../src/media/real-pairs.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

describe('experiment configs', () => {
  it('acav-defaults.yaml holds the reference hyperparameters and validates', () => {
    const c = loadConfig(path.join(root, 'configs', 'acav-defaults.yaml'));
    expect(c.ingest.clipSeconds).toBe(10);
    expect(c.clustering.k).toEqual([32]);
    expect(c.selection).toMatchObject({ algorithm: 'batch-greedy', pairing: 'combination', estimator: 'plugin', ratio: 0.2, batchSize: 20, batchPick: 4 });
    expect(c.ssl).toMatchObject({ temperature: 0.1, lr: 0.001, warmupSteps: 2000, maskFraction: 0.05 });
    expect(c.ssl.model.head.dim).toBe(128);
    expect(c.experiment.tasks.map((t) => t.dataset.kind)).toEqual(['esc50', 'ucf101', 'kinetics']);
  });

  it('real-pairs.yaml builds its corpus from qabcs-data with pretrained presets', () => {
    const c = loadConfig(path.join(root, 'configs', 'real-pairs.yaml'));
    expect(c.corpus.realPairs?.mismatch).toBe(0.5);
    expect(c.corpus.synth).toBeUndefined();
    expect(c.features.audio.map((v) => v.type)).toContain('openwakeword');
    expect(c.features.visual.map((v) => v.type)).toEqual(['builtin']);
  });

  it('demo.yaml validates with the experiment sections', () => {
    const c = loadConfig(path.join(root, 'configs', 'demo.yaml'));
    expect(c.corpus.synth?.mismatch).toBe(0.5);
    expect(c.corpus.synth?.family).toBe('scenes');
    expect(c.selection.pairing).toBe('auto');
    expect(c.experiment.arms).toEqual(['curated', 'random', 'contrastive', 'clean', 'pool', 'untrained']);
    expect(c.experiment.fewShot).toEqual({ shots: [1], episodes: 20 });
    expect(c.experiment.expect.modalities).toEqual(['audio', 'visual', 'both', 'cross']);
    expect(c.experiment.seeds).toHaveLength(3);
    expect(c.ssl.steps).toBe(100);
    expect(c.probe.modalities).toContain('cross');
  });

  it('refuses an unknown arm and a bad dataset kind, naming the key', () => {
    expect(() => parseConfig({ experiment: { arms: ['curated', 'best'] } })).toThrow(/experiment\.arms/);
    expect(() => parseConfig({ probe: { dataset: { kind: 'imagenet', path: 'x' } } })).toThrow(/probe\.dataset/);
  });
});

describe('real-pairs corpus', () => {
  let tmp: string;
  beforeAll(async () => {
    tmp = mkdtempSync(path.join(os.tmpdir(), 'avcurate-realpairs-'));
    // A tiny qabcs-like tree: pics/<category>/<name>.png with noises/<name>.ogg.
    const make = async (args: string[]) => {
      const r = await runTool(ffmpegPath(), ['-v', 'error', '-y', ...args]);
      if (r.code !== 0) throw new Error(r.stderrTail);
    };
    const items = [['animals', 'cat', 440], ['animals', 'dog', 550], ['toys', 'ball', 660], ['toys', 'drum', 770]] as const;
    mkdirSync(path.join(tmp, 'qabcs', 'noises'), { recursive: true });
    for (const [cat, name, hz] of items) {
      mkdirSync(path.join(tmp, 'qabcs', 'pics', cat), { recursive: true });
      await make(['-f', 'lavfi', '-i', `testsrc2=s=64x48:d=1`, '-frames:v', '1', path.join(tmp, 'qabcs', 'pics', cat, `${name}.png`)]);
      await make(['-f', 'lavfi', '-i', `sine=f=${hz}:d=0.5`, '-c:a', 'libvorbis', path.join(tmp, 'qabcs', 'noises', `${name}.ogg`)]);
    }
    mkdirSync(path.join(tmp, 'qabcs', 'pics', 'food'), { recursive: true }); // no sounds: ignored
  });
  afterAll(() => rmSync(tmp, { recursive: true, force: true }));

  it('pairs pictures with their sounds, swaps a fraction across categories, renders moving clips', async () => {
    const pairs = findRealPairs(path.join(tmp, 'qabcs'));
    expect(pairs.map((p) => `${p.category}/${p.name}`)).toEqual(['animals/cat', 'animals/dog', 'toys/ball', 'toys/drum']);
    const plan = planRealPairs(pairs, 0.5, 3);
    expect(plan.filter((l) => !l.corresponds)).toHaveLength(2);
    for (const l of plan) expect(l.corresponds).toBe(l.visual_class === l.audio_class);
    expect(planRealPairs(pairs, 0.5, 3)).toEqual(plan);

    const out = path.join(tmp, 'corpus');
    const r = await buildRealPairs({ root: path.join(tmp, 'qabcs'), out, mismatch: 0.5, seconds: 1, width: 64, height: 48, fps: 8, seed: 3, silent: true });
    expect(r.generated).toBe(4);
    const info = await probe(path.join(out, 'clip-00000.mp4'));
    expect(info.hasVideo && info.hasAudio).toBe(true);
    expect(info.duration).toBeCloseTo(1, 1);
    const labels = readFileSync(r.labelsFile, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    expect(labels.map((l: { id: string }) => l.id)).toEqual(['clip-00000', 'clip-00001', 'clip-00002', 'clip-00003']);
    expect((await buildRealPairs({ root: path.join(tmp, 'qabcs'), out, mismatch: 0.5, seconds: 1, width: 64, height: 48, fps: 8, seed: 3, silent: true })).generated).toBe(0);
  });
});
