import { afterAll, describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, rmSync, existsSync } from 'node:fs';
import * as tf from '@tensorflow/tfjs';
import os from 'node:os';
import path from 'node:path';
import { SslSchema } from '../../src/config/sections/ssl.js';
import { sslEmbeddingBatches, sslTrainingBatches, syntheticPairs, syntheticSource, type SslBatch, type SyntheticPairs } from '../../src/ssl/data.js';
import { LoaderSchema } from '../../src/config/sections/loader.js';
import type { SslConfig } from '../../src/config/sections/ssl.js';
import { embed, modelDims, pretrain, retrievalFromEmbeddings } from '../../src/ssl/trainer.js';
import { loadCheckpoint } from '../../src/ssl/checkpoint.js';

const tmp = mkdtempSync(path.join(os.tmpdir(), 'avcurate-ssl-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** A small model so the tests run in seconds on one core. */
function smallConfig(over: Record<string, unknown> = {}) {
  return SslSchema.parse({
    backend: 'wasm',
    batchSize: 16,
    steps: 60,
    lr: 3e-3,
    warmupSteps: 4,
    checkpointEvery: 20,
    model: {
      audio: { frames: 32, mels: 32, stages: [{ channels: 32, stride: 4, blocks: 1 }, { channels: 64, stride: 2, blocks: 1 }] },
      visual: { frames: 2, height: 16, width: 16, temporalKernel: 2, stages: [{ channels: 32, stride: 4, blocks: 1 }, { channels: 64, stride: 2, blocks: 1 }] },
      head: { hidden: 64, dim: 32 },
    },
    ...over,
  });
}

/** Training batches through the loaders' pipeline (shuffle, SpecAugment, batch, exact state). */
function trainData(p: SyntheticPairs, cfg: SslConfig, seed: number) {
  return sslTrainingBatches(syntheticSource(p, modelDims(cfg)), { ssl: cfg, loader: LoaderSchema.parse({}) }, { seed });
}

function embedData(p: SyntheticPairs, cfg: SslConfig, batchSize: number) {
  return sslEmbeddingBatches(syntheticSource(p, modelDims(cfg)), { ssl: cfg, loader: LoaderSchema.parse({}) }, { seed: 0, batchSize });
}

describe('pretrain', () => {
  it('lowers the loss on corresponding pairs and retrieves held-out pairs far above chance', async () => {
    const cfg = smallConfig();
    const dims = modelDims(cfg);
    const train = syntheticPairs(256, dims, { seed: 1 });
    const out = path.join(tmp, 'learn');
    const r = await pretrain({ outDir: out, config: cfg, seed: 3, data: await trainData(train, cfg, 9), silent: true });
    expect(r.step).toBe(60);
    const first = r.metrics.slice(0, 5).reduce((a, m) => a + m.loss, 0) / 5;
    const last = r.metrics.slice(-5).reduce((a, m) => a + m.loss, 0) / 5;
    expect(first).toBeGreaterThan(Math.log(16) * 0.8); // starts near chance (log B)
    expect(last).toBeLessThan(first * 0.6);
    const lines = readFileSync(path.join(out, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    expect(lines).toHaveLength(60);
    expect(Object.keys(lines[0]).sort()).toEqual(['acc_a2v', 'acc_v2a', 'elapsed_s', 'grad_norm', 'loss', 'lr', 'samples_per_s', 'step', 'temperature']);
    expect(existsSync(path.join(out, 'checkpoints', 'step-00000060', 'weights.bin'))).toBe(true);

    // Held-out clips (new latents, same renderings): a→v retrieval among 64, chance 1/64.
    const test = syntheticPairs(64, dims, { seed: 77 });
    const e = await embed(r.checkpointDir, await embedData(test, cfg, 32), { layer: 'head' });
    expect(e.count).toBe(64);
    expect(e.dim).toBe(32);
    const acc = retrievalFromEmbeddings(e);
    console.log(`held-out retrieval top-1 among 64: a→v ${acc.a2v}, v→a ${acc.v2a}`);
    expect(acc.a2v).toBeGreaterThan(0.2); // chance: 1/64
    expect(acc.v2a).toBeGreaterThan(0.2);
    const feats = await embed(out, await embedData(test, cfg, 32));
    expect(feats.audioDim).toBe(64);
    expect(feats.visualDim).toBe(64);
    expect(feats.audio.length).toBe(64 * 64);
  }, 120_000);

  it('resumes from a checkpoint with the same next-step loss as the uninterrupted run', async () => {
    const cfg = smallConfig({ steps: 8, checkpointEvery: 4, learnTemperature: true });
    const tensorsBefore = tf.memory().numTensors;
    const dims = modelDims(cfg);
    const train = syntheticPairs(64, dims, { seed: 2 });
    const ds = await trainData(train, cfg, 4); // 4 batches/epoch: crosses epochs
    const source = () => ds;
    const full = await pretrain({ outDir: path.join(tmp, 'full'), config: cfg, seed: 1, data: source(), silent: true });
    const outB = path.join(tmp, 'resumed');
    const partial = await pretrain({ outDir: outB, config: cfg, seed: 1, data: source(), silent: true, stopAfter: 5 });
    expect(partial.step).toBe(5);
    // Interrupted after step 5: the last checkpoint is step 5 (written on stop). Remove it to
    // resume from step 4 as after a crash, with metrics.jsonl holding a line past the checkpoint.
    rmSync(path.join(outB, 'checkpoints', 'step-00000005'), { recursive: true });
    const { writeFileSync } = await import('node:fs');
    writeFileSync(path.join(outB, 'checkpoints', 'latest.json'), JSON.stringify({ step: 4, path: 'step-00000004' }));
    const ck = await loadCheckpoint(path.join(outB, 'checkpoints'));
    expect(ck.meta.step).toBe(4);
    // The loader's state after the 4th batch (the end of epoch 0).
    const state = ck.meta.data as { format: string; delivered: number; root: { kind: string; epoch: number } };
    expect(state.format).toBe('avcurate-loader-state');
    expect(state.delivered).toBe(4);
    expect(JSON.stringify(state)).toContain('"kind":"repeat"');
    expect(Object.keys(ck.tensors).some((n) => n.startsWith('opt/m/'))).toBe(true);
    for (const t of Object.values(ck.tensors)) t.dispose();
    const resumed = await pretrain({ outDir: outB, config: cfg, seed: 1, data: source(), silent: true, resume: true });
    expect(resumed.step).toBe(8);
    const fullLoss = full.metrics.map((m) => m.loss);
    const resLoss = resumed.metrics.map((m) => m.loss);
    expect(resLoss).toHaveLength(8);
    expect(resLoss[4]).toBe(fullLoss[4]); // the next step after the checkpoint, bit for bit
    expect(resLoss).toEqual(fullLoss);
    expect(resumed.metrics.map((m) => m.temperature)).toEqual(full.metrics.map((m) => m.temperature));

    // A plain (stateless) deterministic stream resumes by replaying: same losses.
    async function* plain(): AsyncGenerator<SslBatch> {
      yield* source();
    }
    const outC = path.join(tmp, 'plain');
    await pretrain({ outDir: outC, config: cfg, seed: 1, data: plain(), silent: true, stopAfter: 4 });
    const plainResumed = await pretrain({ outDir: outC, config: cfg, seed: 1, data: plain(), silent: true, resume: true });
    expect(plainResumed.metrics.map((m) => m.loss)).toEqual(fullLoss);
    expect(tf.memory().numTensors).toBe(tensorsBefore); // nothing leaks across runs
  }, 120_000);

  it('refuses batches of the wrong shape, naming the config keys', async () => {
    const cfg = smallConfig({ steps: 2 });
    const bad = { audio: new Float32Array(16 * 32 * 32), frames: new Float32Array(10) };
    await expect(pretrain({ outDir: path.join(tmp, 'bad'), config: cfg, seed: 0, data: [bad] as unknown as AsyncIterable<SslBatch>, silent: true })).rejects.toThrow(/visual\.frames x height x width/);
  });
});
