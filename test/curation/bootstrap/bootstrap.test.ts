/**
 * Bootstrapped features (curate.bootstrap) and the `type: encoder` extractor: a pretrain
 * checkpoint embeds clips deterministically, its digest is part of the features fingerprint, and a
 * one-round bootstrap on a tiny corpus runs end to end and is skipped when run again.
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { promisify } from 'node:util';
import YAML from 'yaml';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../../../src/config/load.js';
import { runCuration } from '../../../src/curation/pipeline.js';
import { readSelectionCsv } from '../../../src/curation/selection/index.js';
import { buildExtractors, featuresConfigHash, readAllFeatures } from '../../../src/curation/features/index.js';
import { windowFrameIndices } from '../../../src/curation/features/encoder.js';
import { runSslBootstrap, registerSslEncoders } from '../../../src/experiments/encoders.js';
import { bootstrapSection } from '../../../src/experiments/bootstrap-section.js';
import { finalSelection } from '../../../src/curation/bootstrap.js';
import { decodeClip } from '../../../src/media/decode.js';
import { readManifest } from '../../../src/run/manifest.js';
import { AvModel, pretrain, syntheticPairs, syntheticSource, sslTrainingBatches } from '../../../src/ssl/index.js';
import { SslSchema } from '../../../src/config/sections/ssl.js';
import { initTfjs } from '../../../src/runtime/tfjs.js';
import * as tf from '@tensorflow/tfjs';
import { tinyCurateConfig } from '../../helpers/tiny-config.js';

const root = mkdtempSync(path.join(os.tmpdir(), 'avc-bootstrap-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

const ssl = {
  backend: 'wasm',
  steps: 4,
  batchSize: 8,
  warmupSteps: 1,
  checkpointEvery: 2,
  model: {
    audio: { frames: 96, mels: 64, stages: [{ channels: 8, stride: 8, blocks: 0 }, { channels: 12, stride: 2, blocks: 0 }] },
    visual: { frames: 2, height: 32, width: 32, temporalKernel: 1, stages: [{ channels: 8, stride: 8, blocks: 0 }, { channels: 12, stride: 2, blocks: 0 }] },
    head: { hidden: 16, dim: 8 },
  },
};

const raw = tinyCurateConfig(
  { name: 'tiny-bootstrap', runDir: path.join(root, 'run'), seed: 5, clips: 32, shardSize: 16 },
  { loader: { shuffleBuffer: 64, decode: { seconds: 1 } }, ssl, curate: { bootstrap: { rounds: 1, steps: 4 } } },
);

describe('encoder extractor', () => {
  it('picks the frames of the centre window at the model frame rate', () => {
    // 2 s at 8 fps (16 frames), a 1 s window of 4 frames: times 0.5, 0.75, 1.0, 1.25 s.
    expect(windowFrameIndices(16, 8, 2, 1, 4, 'center')).toEqual([4, 6, 8, 10]);
    // A window longer than the clip takes the whole clip.
    expect(windowFrameIndices(6, 6, 1, 2, 2, 'center')).toEqual([0, 3]);
    // uniform: spread over the whole clip (times 0, 0.5, 1.0, 1.5 s).
    expect(windowFrameIndices(16, 8, 2, 1, 4, 'uniform')).toEqual([0, 4, 8, 12]);
  });

  it("AvModel.towerLayers gives forward's features and projection, and one pooled vector per earlier stage", async () => {
    await initTfjs('cpu');
    for (const temporalKernel of [1, 2]) {
      const spec = SslSchema.parse({ ...ssl, model: { ...ssl.model, visual: { ...ssl.model.visual, temporalKernel } } }).model;
      const model = new AvModel(spec, { seed: 3 });
      const pairs = syntheticPairs(3, { audioFrames: 96, mels: 64, frames: 2, height: 32, width: 32 }, { seed: 1 });
      const a = tf.tensor3d(pairs.audio, [3, 96, 64]);
      const f = tf.tensor5d(pairs.frames, [3, 2, 32, 32, 3]);
      const out = model.forward(a, f, false);
      for (const [tower, input, ref] of [['audio', a, out.audio], ['visual', f, out.visual]] as const) {
        const l = model.towerLayers(input, tower);
        expect(l.stages.map((t) => t.shape)).toEqual([[3, 8]]);
        expect(Array.from(await l.features.data())).toEqual(Array.from(await ref.features.data()));
        expect(Array.from(await l.projection.data())).toEqual(Array.from(await ref.projection.data()));
      }
      model.dispose();
    }
  });

  it('refuses type: encoder with a clear message when the ssl provider is not registered, and a missing checkpoint by path', async () => {
    const cfg = parseConfig({ ...raw, features: { ...raw.features, audio: [{ type: 'encoder', checkpoint: path.join(root, 'nowhere') }], visual: [] } });
    registerSslEncoders();
    await expect(buildExtractors(cfg.features)).rejects.toThrow(/features\.audio\[0\]: cannot load the encoder checkpoint .*nowhere: no checkpoint/);
  });

  it('embeds clips deterministically, and the features fingerprint follows the checkpoint', async () => {
    registerSslEncoders();
    const cfg = parseConfig(raw);
    const dims = { audioFrames: 96, mels: 64, frames: 2, height: 32, width: 32 };
    const train = async (seed: number, dir: string) => {
      const pairs = syntheticPairs(24, dims, { seed });
      const data = await sslTrainingBatches(syntheticSource(pairs, dims), { ssl: cfg.ssl, loader: cfg.loader }, { seed });
      await pretrain({ outDir: dir, config: cfg.ssl, seed, data, silent: true });
    };
    const a = path.join(root, 'ckpt-a');
    const b = path.join(root, 'ckpt-b');
    await train(1, a);
    await train(2, b);
    // Three clips of a synthetic corpus decoded as the extract stage does.
    await runCuration(parseConfig({ ...raw, runDir: path.join(root, 'clips'), curate: { bootstrap: { rounds: 0 } } }), { silent: true, until: 'ingest' });
    const recs = (await readManifest(path.join(root, 'clips', 'manifest.jsonl'))).slice(0, 3);
    const clips = await Promise.all(recs.map((r) => decodeClip(path.resolve(path.join(root, 'clips'), r.source), r.start, r.duration, { fps: 6, width: 32, height: 32, sampleRate: 16000 })));
    const encCfg = (checkpoint: string) => parseConfig({ ...raw, features: { ...raw.features, audio: [{ type: 'encoder', checkpoint }], visual: [{ type: 'encoder', checkpoint }] } }).features;
    const embedAll = async (checkpoint: string) => {
      const set = await buildExtractors(encCfg(checkpoint));
      try {
        const out = [];
        for (const ex of [...set.audio, ...set.visual]) out.push(await ex.run(clips.map((c) => ex.prepare(c))));
        return { out, hash: featuresConfigHash(encCfg(checkpoint), set), layers: [...set.audio, ...set.visual].map((e) => `${e.modality}:${e.layers.map((l) => `${l.name}/${l.dim}`).join(',')}`) };
      } finally {
        await set.dispose();
      }
    };
    const first = await embedAll(a);
    const again = await embedAll(a);
    const other = await embedAll(b);
    expect(first.layers).toEqual(['audio:enc_s0/8,enc_features/12,enc_projection/8', 'visual:enc_s0/8,enc_features/12,enc_projection/8']);
    expect(again.out).toEqual(first.out);
    expect(again.hash).toBe(first.hash);
    expect(other.hash).not.toBe(first.hash);
    expect(other.out).not.toEqual(first.out);
    // Distinct clips give distinct vectors (the model reads its inputs).
    expect(first.out[0][0][1]).not.toEqual(first.out[0][1][1]);
    // The same checkpoint given as its step folder is the same features config.
    const step = JSON.parse(readFileSync(path.join(a, 'checkpoints', 'latest.json'), 'utf8')).path as string;
    expect((await embedAll(path.join(a, 'checkpoints', step))).hash).toBe(first.hash);
  }, 120_000);
});

describe('curate.bootstrap', () => {
  it('runs one round end to end (pretrain on the selection, encoder features, cluster, select, eval) and skips it when run again', async () => {
    const config = parseConfig(raw);
    await runCuration(config, { silent: true });
    const r = await runSslBootstrap(config, { silent: true });
    expect(r.rounds.map((x) => x.round)).toEqual([0, 1]);
    expect(r.skipped).toEqual([]);
    const round1 = r.rounds[1];
    expect(round1.pretrainSteps).toBe(4);
    expect(round1.layers.every((l) => /^(audio|visual)\/enc_/.test(l))).toBe(true);
    expect(round1.layers).toHaveLength(6);
    expect(round1.selected).toBe(16);
    expect(round1.precision).not.toBeNull();
    expect(round1.precision!.random).toBeCloseTo(0.5, 5);
    const dir = path.join(raw.runDir, 'bootstrap', 'round-1');
    expect(readSelectionCsv(path.join(dir, 'selection.csv'))).toHaveLength(16);
    expect(existsSync(path.join(dir, 'ssl', 'bootstrap', 'checkpoints', 'latest.json'))).toBe(true);
    const feats = await readAllFeatures(dir);
    expect(feats.layers.map((l) => `${l.modality}/${l.layer}`).sort()).toEqual(round1.layers.slice().sort());
    const rounds = JSON.parse(readFileSync(r.file, 'utf8'));
    expect(rounds.rounds[1].precision.atPositives).toBe(round1.precision!.atPositives);
    // The round explains its own selection (its encoder layers), and it is the final selection.
    const explained = JSON.parse(readFileSync(path.join(dir, 'explain.json'), 'utf8')) as { pairs: Array<{ a: string; b: string }>; clips: Array<{ id: string }> };
    expect(explained.pairs.length).toBeGreaterThan(0);
    expect(explained.pairs.every((p) => /enc_/.test(p.a) && /enc_/.test(p.b))).toBe(true);
    expect(existsSync(path.join(dir, 'stages', 'explain.json'))).toBe(true);
    expect(finalSelection(config)).toBe(path.join(dir, 'selection.csv'));
    expect(finalSelection(parseConfig({ ...raw, curate: { bootstrap: { rounds: 0 } } }))).toBe(path.join(raw.runDir, 'selection.csv'));

    const csv = readFileSync(path.join(dir, 'selection.csv'), 'utf8');
    const again = await runSslBootstrap(parseConfig(raw), { silent: true });
    expect(again.skipped).toEqual([1]);
    expect(again.rounds[1]).toEqual(round1);
    expect(readFileSync(path.join(dir, 'selection.csv'), 'utf8')).toBe(csv);

    // An unfinished round resumes: without its ledger record the stages find their work done.
    expect(existsSync(path.join(dir, 'stages', 'bootstrap-round.json'))).toBe(true);
    rmSync(path.join(dir, 'stages', 'bootstrap-round.json'));
    const resumed = await runSslBootstrap(parseConfig(raw), { silent: true });
    expect(resumed.skipped).toEqual([]);
    expect(resumed.rounds[1].precision).toEqual(round1.precision);
    expect(readFileSync(path.join(dir, 'selection.csv'), 'utf8')).toBe(csv);

    // The report section and `avcurate curate` (which runs the rounds after the stages) print the rounds.
    const html = bootstrapSection(raw.runDir);
    expect(html).toContain('<table id="bootstrap">');
    expect(html).toContain(`<td>${round1.precision!.atPositives.toFixed(3)}</td>`);
    expect(bootstrapSection(path.join(root, 'clips'))).toBe('');
    const cfgFile = path.join(root, 'bootstrap.yaml');
    writeFileSync(cfgFile, YAML.stringify(raw));
    const cli = await promisify(execFile)(process.execPath, [path.resolve('bin/avcurate.js'), 'curate', '--config', cfgFile, '--quiet'], { cwd: path.resolve('.') });
    expect(cli.stdout).toMatch(/bootstrap: 1 round\(s\) after the first curation \(1 finished earlier, skipped\)/);
    expect(cli.stdout).toMatch(new RegExp(`\\n\\s+1\\s+4\\s+${round1.precision!.atPositives.toFixed(3)}`));
    expect(cli.stdout).toMatch(/the final selection \(last round\): .*round-1.selection\.csv/);
  }, 240_000);
});
