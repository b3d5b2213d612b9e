import { describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { initTfjs } from '../../src/runtime/tfjs.js';
import { SslSchema } from '../../src/config/sections/ssl.js';
import { AvModel } from '../../src/ssl/model.js';
import { lossAndGrads, modelDims } from '../../src/ssl/trainer.js';
import { syntheticPairs } from '../../src/ssl/data.js';

function small(arch: 'patch' | 'conv') {
  return SslSchema.parse({
    model: {
      arch,
      audio: { frames: 16, mels: 16, stages: [{ channels: 8, stride: 2, blocks: 1 }, { channels: 16, stride: 2, blocks: 1 }] },
      visual: { frames: 2, height: 12, width: 12, temporalKernel: 2, stages: [{ channels: 8, stride: 2, blocks: 1 }, { channels: 16, stride: 2, blocks: 1 }] },
      head: { hidden: 16, dim: 8 },
    },
  });
}

async function gradsOn(backend: 'cpu' | 'wasm', arch: 'patch' | 'conv') {
  await initTfjs(backend);
  const cfg = small(arch);
  const dims = modelDims(cfg);
  const d = syntheticPairs(6, dims, { seed: 4 });
  const model = new AvModel(cfg.model, { seed: 9 });
  const a = tf.tensor3d(d.audio, [6, dims.audioFrames, dims.mels]);
  const f = tf.tensor5d(d.frames, [6, dims.frames, dims.height, dims.width, 3]);
  const r = lossAndGrads(model, a, f);
  const out: Record<string, Float32Array> = {};
  for (const [n, g] of Object.entries(r.grads)) out[n] = g.dataSync() as Float32Array;
  const loss = r.loss.dataSync()[0];
  tf.dispose([a, f, r.loss, r.logits, ...Object.values(r.grads), ...r.updates.flatMap((u) => [u.mean, u.variance])]);
  const flops = model.flopsPerSample();
  model.dispose();
  return { loss, grads: out, flops };
}

describe('AvModel', () => {
  for (const arch of ['patch', 'conv'] as const) {
    it(`${arch}: loss and every parameter gradient on wasm match the cpu backend`, async () => {
      const ref = await gradsOn('cpu', arch);
      const got = await gradsOn('wasm', arch);
      expect(got.loss).toBeCloseTo(ref.loss, 4);
      expect(Object.keys(got.grads).sort()).toEqual(Object.keys(ref.grads).sort());
      for (const [name, g] of Object.entries(ref.grads)) {
        let scale = 1e-6;
        let err = 0;
        for (let i = 0; i < g.length; i++) {
          scale = Math.max(scale, Math.abs(g[i]));
          err = Math.max(err, Math.abs(g[i] - got.grads[name][i]));
        }
        // Some gradients are exactly zero in theory (a bias feeding a BatchNorm): float noise only.
        expect(err, name).toBeLessThan(2e-3 * scale + 1e-5);
      }
      expect(got.flops.total).toBeGreaterThan(0);
    });
  }

  it('counts forward FLOPs of the matrix products', () => {
    const cfg = small('patch');
    const m = new AvModel(cfg.model, { seed: 0 });
    // audio: 16x16 → 8x8 (4·8 in → 8) → 4x4 (32 → 16); blocks mlpRatio 2; head 16→16→8.
    const audio = 2 * 64 * 4 * 8 + 2 * 64 * 2 * 8 * 16 + 2 * 16 * 32 * 16 + 2 * 16 * 2 * 16 * 32 + 2 * 16 * 16 + 2 * 16 * 8;
    expect(m.flopsPerSample().audio).toBe(audio);
    m.dispose();
  });

  it('refuses strides that leave no positions', () => {
    const bad = SslSchema.parse({ model: { audio: { frames: 8, mels: 8, stages: [{ channels: 4, stride: 16 }] } } });
    expect(() => new AvModel(bad.model, { seed: 0 })).toThrow(/ssl\.model\.audio\.stages\[0\]/);
  });
});
