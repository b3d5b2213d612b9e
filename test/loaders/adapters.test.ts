import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { arraysOf, framesToFloat32, toTensors, toTensorsWith, fromArray, augmentItem, type NdArray } from '../../src/loaders/index.js';
import { checkStateContract } from './helpers/state.js';

const frames: NdArray = { dtype: 'uint8', shape: [1, 2, 1, 2, 3], data: Uint8Array.from([0, 51, 102, 153, 204, 255, 10, 20, 30, 40, 50, 60]) };

describe('typed-array adapter', () => {
  it('picks the NdArray fields of a batch', () => {
    const out = arraysOf({ key: ['a'], frames, n: [1] });
    expect(Object.keys(out)).toEqual(['frames']);
  });

  it('normalises frames and reorders to channels-first', () => {
    const last = framesToFloat32(frames, { mean: [0.5, 0.5, 0.5], std: 0.5 });
    expect(last.shape).toEqual([1, 2, 1, 2, 3]);
    expect(last.data[0]).toBeCloseTo(-1);
    expect(last.data[5]).toBeCloseTo(1);
    const first = framesToFloat32(frames, { layout: 'channels-first' });
    expect(first.shape).toEqual([1, 3, 2, 1, 2]);
    // [b=0, c=1, t=0, h=0, w=1] is source pixel (t0,h0,w1) channel 1 = 204
    expect(first.data[1 * 4 + 1]).toBeCloseTo(204 / 255);
    expect(first.data[2 * 4 + 3]).toBeCloseTo(60 / 255);
  });
});

describe('tfjs adapter', () => {
  it('converts batches to tensors with the right shapes and dtypes', async () => {
    const tf = await import('@tensorflow/tfjs');
    await tf.setBackend('cpu');
    const batch = { key: ['a'], frames, audio: { dtype: 'float32', shape: [1, 4], data: Float32Array.from([0.1, -0.2, 0.3, 0]) } as NdArray, ids: { dtype: 'int64', shape: [1], data: BigInt64Array.from([7n]) } as NdArray };
    const t = await toTensors(batch);
    expect(t.frames.shape).toEqual([1, 2, 1, 2, 3]);
    expect(t.frames.dtype).toBe('int32');
    expect(Array.from(await t.frames.data())).toEqual(Array.from(frames.data as Uint8Array));
    expect(t.audio.dtype).toBe('float32');
    expect(t.ids.dtype).toBe('int32');
    expect(Object.keys(t).sort()).toEqual(['audio', 'frames', 'ids']);
    const n = toTensorsWith(tf, batch, { normalizeFrames: true, fields: ['frames'] });
    expect(n.frames.dtype).toBe('float32');
    expect((await n.frames.data())[5]).toBeCloseTo(1);
    tf.dispose([...Object.values(t), ...Object.values(n)]);
  });

  it('importing avcurate/loaders does not load tfjs', () => {
    const code = "await import('./src/loaders/index.ts'); console.log(JSON.stringify({ tf: typeof globalThis._tfengine }));";
    const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code], { encoding: 'utf8' });
    expect(r.stderr).toBe('');
    expect(JSON.parse(r.stdout.trim())).toEqual({ tf: 'undefined' });
  });
});

describe('augment', () => {
  const item = (k: string) => ({
    key: k,
    frames: { dtype: 'uint8', shape: [2, 4, 6, 3], data: Uint8Array.from({ length: 144 }, (_, i) => i) } as NdArray,
    audio: { dtype: 'float32', shape: [100], data: Float32Array.from({ length: 100 }, (_, i) => Math.sin(i / 5) * 0.5) } as NdArray,
    spec: { dtype: 'float32', shape: [10, 8], data: Float32Array.from({ length: 80 }, (_, i) => i) } as NdArray,
    sampleRate: 100,
  });

  it('crop/flip/gain/shift/mask: shapes, ranges, inputs untouched, seeded', () => {
    const x = item('a');
    const copy = Uint8Array.from(x.frames.data as Uint8Array);
    const spec = { seed: 1, crop: [4, 3] as [number, number], flip: 1, gainDb: [-20, -20] as [number, number], timeShift: 0.1, specMask: { freq: 3, time: 4, count: 2 } };
    const y = augmentItem(x, spec);
    expect(y.frames.shape).toEqual([2, 3, 4, 3]);
    expect(Array.from(x.frames.data as Uint8Array)).toEqual(Array.from(copy));
    // flipped: along each row, pixel values (channel 0) decrease
    const row = Array.from({ length: 4 }, (_, w) => (y.frames.data as Uint8Array)[w * 3]);
    expect(row).toEqual([...row].sort((a, b) => b - a));
    // -20 dB gain: peak 0.05 (allowing the shift's zero fill)
    const peak = Math.max(...Array.from(y.audio.data as Float32Array).map(Math.abs));
    expect(peak).toBeLessThanOrEqual(0.05 + 1e-6);
    expect(peak).toBeGreaterThan(0.04);
    // masks are whole time rows or whole frequency columns set to the mean (39.5)
    let masked = 0;
    for (let seed = 1; seed <= 10; seed++) {
      const m = augmentItem(x, { seed, specMask: { freq: 3, time: 4, count: 2 } }).spec.data as Float32Array;
      const isM = (t: number, f: number) => m[t * 8 + f] === 39.5; // the input holds integers only
      for (let t = 0; t < 10; t++) {
        for (let f = 0; f < 8; f++) {
          if (!isM(t, f)) continue;
          masked++;
          const row = Array.from({ length: 8 }, (_, g) => isM(t, g)).every(Boolean);
          const col = Array.from({ length: 10 }, (_, u) => isM(u, f)).every(Boolean);
          expect(row || col).toBe(true);
        }
      }
    }
    expect(masked).toBeGreaterThan(20);
    expect(augmentItem(x, spec)).toEqual(y);
    expect(augmentItem(x, { ...spec, seed: 2 })).not.toEqual(y);
  });

  it('state contract through augment', async () => {
    await checkStateContract(fromArray(['a', 'b', 'c', 'd', 'e'].map(item)).shuffle(2, 1).augment({ seed: 3, crop: 3, flip: 0.5, gainDb: [-6, 6] }), {
      view: (v) => ({ key: v.key, f: Array.from(v.frames.data as Uint8Array).slice(0, 12), a: (v.audio.data as Float32Array)[3] }),
    });
  });
});
