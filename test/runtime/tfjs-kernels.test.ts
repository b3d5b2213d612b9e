/**
 * The backend choice installs our wasm kernels for every tfjs user, not only for ssl: this file is
 * a curation-only process (it loads src/runtime/tfjs.ts the way src/curation/features/pretrained.ts
 * does and no module of src/ssl), and checks the kernel registry and a model's training step.
 */
import { describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import {
  batchMatMulWasm, conv2DBackpropFilterWasm, conv2DBackpropInputWasm, identityWasm, transposeWasm,
} from '../../src/runtime/tfjs-wasm-kernels.js';

/** A small conv + dense model, one SGD step on a fixed batch; the loss before and after, and the first kernel's weights. */
async function trainStep(): Promise<{ before: number; after: number; kernels: string[]; w: Float32Array }> {
  const model = tf.sequential({
    layers: [
      tf.layers.conv2d({ inputShape: [8, 8, 3], filters: 4, kernelSize: 3, strides: 2, padding: 'same', kernelInitializer: tf.initializers.constant({ value: 0.05 }), biasInitializer: 'zeros' }),
      tf.layers.globalAveragePooling2d({}),
      tf.layers.dense({ units: 2, kernelInitializer: tf.initializers.constant({ value: 0.1 }) }),
    ],
  });
  model.compile({ optimizer: tf.train.sgd(0.5), loss: 'meanSquaredError' });
  const x = tf.tensor4d(Float32Array.from({ length: 4 * 8 * 8 * 3 }, (_, i) => Math.sin(i / 7)), [4, 8, 8, 3]);
  const y = tf.tensor2d([1, 0, 0, 1, 1, 0, 0, 1], [4, 2]);
  const lossOf = () => tf.tidy(() => (model.evaluate(x, y) as tf.Scalar).dataSync()[0]);
  const before = lossOf();
  let kernels: string[] = [];
  const info = await tf.profile(async () => {
    await model.trainOnBatch(x, y);
  });
  kernels = info.kernelNames;
  const after = lossOf();
  const w = (model.layers[0].getWeights()[0].dataSync() as Float32Array).slice();
  model.dispose();
  x.dispose();
  y.dispose();
  return { before, after, kernels, w };
}

describe('wasm kernels come with the backend choice', () => {
  it('initTfjs("wasm") installs our kernels in a process without src/ssl, and a model trains through them like on cpu', async () => {
    const { initTfjs } = await import('../../src/runtime/tfjs.js');
    await initTfjs('cpu');
    const ref = await trainStep();
    // The stock wasm kernels, as the backend package registers them when it is loaded.
    await import('@tensorflow/tfjs-backend-wasm');
    const stock = new Map(['Conv2DBackpropFilter', 'Transpose', 'BatchMatMul', 'Identity', 'Sum', 'Mean'].map((n) => [n, tf.getKernel(n, 'wasm')?.kernelFunc]));
    expect(stock.get('Conv2DBackpropFilter')).toBeUndefined(); // tfjs's wasm backend lacks it
    await initTfjs('wasm');
    expect(tf.getBackend()).toBe('wasm');
    const ours: Array<[string, unknown]> = [
      ['Conv2DBackpropFilter', conv2DBackpropFilterWasm],
      ['Conv2DBackpropInput', conv2DBackpropInputWasm],
      ['Transpose', transposeWasm],
      ['BatchMatMul', batchMatMulWasm],
      ['Identity', identityWasm],
    ];
    for (const [name, fn] of ours) expect(tf.getKernel(name, 'wasm')?.kernelFunc, name).toBe(fn);
    // Sum and Mean are ours too (closures over the stock kernels).
    for (const name of ['Transpose', 'BatchMatMul', 'Identity', 'Sum', 'Mean']) {
      expect(stock.get(name), name).toBeTypeOf('function');
      expect(tf.getKernel(name, 'wasm')?.kernelFunc, name).not.toBe(stock.get(name));
    }
    // Identity shares the input's buffer: a clone on our kernel keeps the dataId.
    const t = tf.tensor1d([1, 2, 3]);
    const c = tf.clone(t);
    expect((c as unknown as { dataId: object }).dataId).toBe((t as unknown as { dataId: object }).dataId);
    tf.dispose([t, c]);

    const got = await trainStep();
    // Conv2DBackpropFilter does not exist in the stock wasm backend: the step ran through ours.
    expect(got.kernels).toContain('Conv2DBackpropFilter');
    expect(got.kernels).toContain('BatchMatMul');
    expect(got.after).toBeLessThan(got.before);
    expect(Math.abs(got.before - ref.before)).toBeLessThan(1e-5);
    expect(Math.abs(got.after - ref.after)).toBeLessThan(1e-4);
    let maxErr = 0;
    for (let i = 0; i < got.w.length; i++) maxErr = Math.max(maxErr, Math.abs(got.w[i] - ref.w[i]));
    expect(maxErr).toBeLessThan(1e-4);
    // The choice is idempotent: choosing wasm again keeps ours (no double wrapping).
    await initTfjs('wasm');
    expect(tf.getKernel('Identity', 'wasm')?.kernelFunc).toBe(identityWasm);
  });
});
