import { afterAll, describe, expect, it } from 'vitest';
import { mkdtempSync, readdirSync, rmSync, truncateSync, readFileSync, mkdirSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { initTfjs } from '../../src/runtime/tfjs.js';
import { FileIOHandler, loadCheckpoint, resolveCheckpoint, saveCheckpoint } from '../../src/ssl/checkpoint.js';

const tmp = mkdtempSync(path.join(os.tmpdir(), 'avcurate-ckpt-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('checkpoints', () => {
  it('round-trip tensors and metadata exactly, keep the newest, and point latest.json at the last', async () => {
    await initTfjs('auto');
    const root = path.join(tmp, 'a');
    mkdirSync(root, { recursive: true });
    mkdirSync(path.join(root, '.step-00000001.tmp-99999')); // left by a killed writer
    const w = tf.tensor2d([[1.5, -2.25], [3e-8, 4]]);
    const b = tf.tensor1d([0.1, 0.2, 0.3]);
    for (const step of [1, 2, 3]) {
      await saveCheckpoint(root, step, { 'model/w': w, 'opt/m/w': b }, { rng: { s: [1, 2, 3, step], spare: null }, data: { epoch: 0, index: step } }, 2);
    }
    expect(readdirSync(root).sort()).toEqual(['latest.json', 'step-00000002', 'step-00000003']);
    expect(await resolveCheckpoint(root)).toBe(path.join(root, 'step-00000003'));
    const ck = await loadCheckpoint(root);
    expect(ck.meta.step).toBe(3);
    expect(ck.meta.data).toEqual({ epoch: 0, index: 3 });
    expect(ck.tensors['model/w'].shape).toEqual([2, 2]);
    expect(Array.from(ck.tensors['model/w'].dataSync())).toEqual(Array.from(w.dataSync()));
    expect(Array.from(ck.tensors['opt/m/w'].dataSync())).toEqual(Array.from(b.dataSync()));
    const json = JSON.parse(readFileSync(path.join(root, 'step-00000003', 'model.json'), 'utf8'));
    expect(json.weightsManifest[0].paths).toEqual(['weights.bin']);
    tf.dispose([w, b, ...Object.values(ck.tensors)]);
    expect(await resolveCheckpoint(path.join(tmp, 'none'))).toBeNull();
  });

  it('refuses a damaged weights file, naming it', async () => {
    await initTfjs('auto');
    const root = path.join(tmp, 'b');
    const w = tf.ones([64]);
    await saveCheckpoint(root, 5, { 'model/w': w }, {});
    w.dispose();
    truncateSync(path.join(root, 'step-00000005', 'weights.bin'), 100);
    await expect(new FileIOHandler(path.join(root, 'step-00000005')).load()).rejects.toThrow(/damaged: weights.bin has 100 bytes, the specs describe 256/);
    await expect(loadCheckpoint(path.join(tmp, 'nothing-here'))).rejects.toThrow(/no checkpoint in/);
  });
});
