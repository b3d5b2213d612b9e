import { describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { initTfjs } from '../../src/runtime/tfjs.js';
import { Rng } from '../../src/runtime/random.js';

function randn(rng: Rng, n: number): Float32Array {
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = rng.normal();
  return a;
}

interface Case {
  x: [number, number, number, number];
  f: [number, number, number, number];
  strides: number;
  pad: 'same' | 'valid';
  dilations?: number;
}

const cases: Case[] = [
  { x: [2, 9, 7, 3], f: [3, 3, 3, 4], strides: 1, pad: 'same' },
  { x: [2, 9, 8, 3], f: [3, 3, 3, 5], strides: 2, pad: 'same' },
  { x: [3, 11, 10, 2], f: [3, 2, 2, 4], strides: 2, pad: 'valid' },
  { x: [2, 8, 8, 1], f: [4, 4, 1, 6], strides: 4, pad: 'valid' },
  { x: [1, 10, 9, 2], f: [3, 3, 2, 3], strides: 2, pad: 'valid' },
  { x: [2, 12, 12, 3], f: [5, 5, 3, 2], strides: 3, pad: 'same' },
];

/** Gradients of sum(conv2d(x, f) * g) with respect to x and f. */
function grads(c: Case, xs: Float32Array, fs: Float32Array, gs: Float32Array) {
  return tf.tidy(() => {
    const x = tf.tensor4d(xs, c.x);
    const f = tf.tensor4d(fs, c.f);
    const fn = (a: tf.Tensor4D, b: tf.Tensor4D) => {
      const y = tf.conv2d(a, b, c.strides, c.pad, 'NHWC', c.dilations ?? 1);
      return tf.sum(tf.mul(y, tf.tensor(gs.subarray(0, y.size), y.shape)));
    };
    const [dx, df] = tf.grads(fn as (...a: tf.Tensor[]) => tf.Tensor)([x, f]);
    return { dx: dx.dataSync().slice() as Float32Array, df: df.dataSync().slice() as Float32Array };
  });
}

function maxRelErr(a: Float32Array, b: Float32Array): number {
  let scale = 1e-6;
  for (const v of b) scale = Math.max(scale, Math.abs(v));
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m / scale;
}

describe('wasm conv2d gradient kernels', () => {
  it('Conv2DBackpropFilter and Conv2DBackpropInput match the cpu backend', async () => {
    const rng = new Rng(7);
    for (const c of cases) {
      const xs = randn(rng, c.x.reduce((a, b) => a * b));
      const fs = randn(rng, c.f.reduce((a, b) => a * b));
      const gs = randn(rng, 4096);
      await initTfjs('cpu');
      const ref = grads(c, xs, fs, gs);
      await initTfjs('wasm');
      const got = grads(c, xs, fs, gs);
      expect(got.df.length).toBe(ref.df.length);
      expect(got.dx.length).toBe(ref.dx.length);
      expect(maxRelErr(got.df, ref.df)).toBeLessThan(1e-5);
      expect(maxRelErr(got.dx, ref.dx)).toBeLessThan(1e-5);
    }
  });
});

describe('wasm transpose, transposed matmul and reduction kernels', () => {
  it('match the cpu backend', async () => {
    const run = () =>
      tf.tidy(() => {
        const r = new Rng(11);
        const x = tf.tensor(randn(r, 512 * 96), [512, 96]);
        const y = tf.tensor(randn(r, 512 * 40), [512, 40]);
        const w = tf.tensor(randn(r, 96 * 40), [96, 40]);
        const x4 = tf.tensor(randn(r, 4 * 64 * 16 * 8), [4, 64, 16, 8]);
        const tall = tf.tensor(randn(r, 9000 * 40), [9000, 40]); // chunked weight-gradient path
        const tall2 = tf.tensor(randn(r, 9000 * 24), [9000, 24]);
        return [
          tf.transpose(x),
          tf.transpose(x4, [0, 2, 1, 3]),
          tf.transpose(x4, [3, 1, 2, 0]),
          tf.transpose(x4.reshape([4, 1024, 8]), [0, 2, 1]),
          tf.matMul(x, y, true, false),
          tf.matMul(y, w, false, true),
          tf.matMul(w, x, true, true),
          tf.matMul(tall, tall2, true, false),
          tf.matMul(tall.reshape([1, 9000, 40]), tall2.reshape([1, 9000, 24]), true, false),
          tf.matMul(tall2, tall, true, false),
          tf.sum(x, 0),
          tf.mean(x4, [0, 1, 2]),
          tf.sum(x4, [1, 2], true),
          tf.mean(x, 1),
        ].map((t) => ({ shape: t.shape, data: t.dataSync().slice() as Float32Array }));
      });
    await initTfjs('cpu');
    const ref = run();
    await initTfjs('wasm');
    const got = run();
    for (let i = 0; i < ref.length; i++) {
      expect(got[i].shape).toEqual(ref[i].shape);
      expect(maxRelErr(got[i].data, ref[i].data)).toBeLessThan(1e-5);
    }
  });
});
