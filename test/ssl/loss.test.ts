import { describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { initTfjs } from '../../src/runtime/tfjs.js';
import { Rng } from '../../src/runtime/random.js';
import { infoNce, infoNceReference, retrievalAccuracy } from '../../src/ssl/loss.js';
import { AdamW, learningRate } from '../../src/ssl/optim.js';

describe('symmetric InfoNCE', () => {
  it('matches a float64 reference and its gradients equal finite differences', async () => {
    await initTfjs('auto');
    const rng = new Rng(5);
    const b = 6;
    const d = 5;
    const za = Float64Array.from({ length: b * d }, () => rng.normal());
    const zv = Float64Array.from({ length: b * d }, () => rng.normal());
    const logScale = Math.log(1 / 0.1);
    const { loss, ga, gv, gs } = tf.tidy(() => {
      const a = tf.tensor2d(Float32Array.from(za), [b, d]);
      const v = tf.tensor2d(Float32Array.from(zv), [b, d]);
      const s = tf.scalar(logScale);
      const f = (x: tf.Tensor, y: tf.Tensor, ls: tf.Tensor) => infoNce(x as tf.Tensor2D, y as tf.Tensor2D, tf.exp(ls) as tf.Scalar).loss;
      const g = tf.grads(f);
      const [da, dv, ds] = g([a, v, s]);
      return { loss: f(a, v, s).dataSync()[0], ga: da.dataSync().slice(), gv: dv.dataSync().slice(), gs: ds.dataSync()[0] };
    });
    const ref = (x: Float64Array, y: Float64Array, ls: number) => infoNceReference(x, y, b, d, Math.exp(ls));
    expect(loss).toBeCloseTo(ref(za, zv, logScale), 4);
    const h = 1e-5;
    const fd = (which: 'a' | 'v', i: number) => {
      const x = Float64Array.from(za);
      const y = Float64Array.from(zv);
      const t = which === 'a' ? x : y;
      t[i] += h;
      const up = ref(x, y, logScale);
      t[i] -= 2 * h;
      const down = ref(x, y, logScale);
      return (up - down) / (2 * h);
    };
    let maxAbs = 0;
    for (let i = 0; i < b * d; i++) {
      maxAbs = Math.max(maxAbs, Math.abs(ga[i]), Math.abs(gv[i]));
      expect(Math.abs(ga[i] - fd('a', i))).toBeLessThan(2e-4 + 2e-3 * Math.abs(ga[i]));
      expect(Math.abs(gv[i] - fd('v', i))).toBeLessThan(2e-4 + 2e-3 * Math.abs(gv[i]));
    }
    expect(maxAbs).toBeGreaterThan(1e-2); // the check is not vacuous
    const fdS = (ref(za, zv, logScale + h) - ref(za, zv, logScale - h)) / (2 * h);
    expect(Math.abs(gs - fdS)).toBeLessThan(2e-4 + 2e-3 * Math.abs(fdS));
  });

  it('is low for matching pairs and log(B) for identical embeddings', async () => {
    await initTfjs('auto');
    const b = 8;
    const eye = tf.eye(b, 16) as tf.Tensor2D;
    const low = infoNce(eye, eye, 10).loss.dataSync()[0];
    expect(low).toBeLessThan(0.01);
    const same = tf.ones([b, 16]) as tf.Tensor2D;
    expect(infoNce(same, same, 10).loss.dataSync()[0]).toBeCloseTo(Math.log(b), 4);
    tf.dispose([eye, same]);
  });
});

describe('retrieval accuracy', () => {
  it('counts rows and columns whose maximum is on the diagonal', () => {
    // a→v: rows 0 and 2 right; v→a: columns 0 and 1 right.
    const sim = [5, 1, 0, 2, 1, 3, 0, 0, 4];
    const r = retrievalAccuracy(sim, 3);
    expect(r.a2v).toBeCloseTo(2 / 3);
    expect(r.v2a).toBeCloseTo(2 / 3);
    const r2 = retrievalAccuracy([1, 0, 0, 1], 2);
    expect(r2).toEqual({ a2v: 1, v2a: 1 });
  });
});

describe('schedule and AdamW', () => {
  it('warms up linearly then decays by cosine to the floor', () => {
    const o = { lr: 1e-3, warmupSteps: 10, totalSteps: 110, minLrRatio: 0.1 };
    expect(learningRate(1, o)).toBeCloseTo(1e-4, 12);
    expect(learningRate(10, o)).toBeCloseTo(1e-3, 12);
    expect(learningRate(60, o)).toBeCloseTo(1e-4 + 0.9e-3 * 0.5, 12);
    expect(learningRate(110, o)).toBeCloseTo(1e-4, 12);
    expect(learningRate(500, o)).toBeCloseTo(1e-4, 12);
  });

  it('takes the bias-corrected AdamW step with decoupled decay and clips the global norm', async () => {
    await initTfjs('auto');
    const w = tf.variable(tf.tensor1d([1, -2]));
    const opt = new AdamW([{ name: 'w', variable: w, decay: true }], { beta1: 0.9, beta2: 0.999, epsilon: 1e-8, weightDecay: 0.1, gradClip: 1 });
    const g = tf.tensor1d([3, 4]); // norm 5 → clipped to [0.6, 0.8]
    const norm = opt.step({ w: g }, 0.01);
    expect(norm.dataSync()[0]).toBeCloseTo(5, 5);
    // First step: m̂ = g, v̂ = g², update = g/|g| = sign → w − lr·sign − lr·wd·w.
    const got = w.dataSync();
    expect(got[0]).toBeCloseTo(1 - 0.01 - 0.01 * 0.1 * 1, 6);
    expect(got[1]).toBeCloseTo(-2 - 0.01 - 0.01 * 0.1 * -2, 6);
    expect(opt.t).toBe(1);
    tf.dispose([w, g, norm]);
    opt.dispose();
  });
});
