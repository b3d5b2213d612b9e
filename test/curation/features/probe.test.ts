/**
 * Issue 15: models are checked at load (fixed batch, wrong layout, output shapes the pooling cannot
 * use), pooling knows token / time / space axes, multi-view and audio patches, execution providers.
 */
import { describe, it, expect } from 'vitest';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { OnnxExtractor } from '../../../src/curation/features/onnx.js';
import { prepareFrames } from '../../../src/curation/features/preprocess.js';
import { listExecutionProviders, createOnnxSession, readOnnxInputs } from '../../../src/runtime/onnx.js';
import { Rng } from '../../../src/runtime/random.js';
import type { DecodedClip } from '../../../src/media/types.js';
import { visualGraph, tokenGraph, videoGraph, waveGraph, model, node, vi, f32 } from './onnx-graphs.js';

function fakeClip(rng: Rng, T: number, H: number, W: number, seconds = 2.5): DecodedClip {
  const frames = new Uint8Array(T * H * W * 3);
  for (let i = 0; i < frames.length; i++) frames[i] = rng.int(256);
  const sr = 16000;
  const audio = new Float32Array(Math.round(seconds * sr));
  for (let i = 0; i < audio.length; i++) audio[i] = 0.3 * Math.sin(i / (7 + (i % 5))) + 0.1 * rng.normal();
  return {
    file: 'mem', start: 0, seconds, frames, shape: [T, H, W, 3], fps: T / seconds, audio, sampleRate: sr,
    decodedFrames: T, decodedSamples: audio.length, paddedFrames: 0, paddedSamples: 0, trimmedFrames: 0, trimmedSamples: 0,
    missingAudio: false, missingVideo: false,
  };
}

const dir = mkdtempSync(path.join(os.tmpdir(), 'avc-probe-'));
const rng = new Rng(11);
const S = 6;
const W = Array.from({ length: 6 }, () => rng.normal());
const B = [0.1, -0.2];
const M = Array.from({ length: 15 }, () => rng.normal());
const write = (name: string, bytes: Uint8Array) => {
  const f = path.join(dir, name);
  writeFileSync(f, bytes);
  return f;
};
const dynamicModel = write('dynamic.onnx', visualGraph(S, W, B, M));
const fixedModel = write('fixed.onnx', visualGraph(S, W, B, M, 1));

describe('model probing at load', () => {
  it('refuses a fixed batch axis from the declared input shape, before any run, naming the export fix and the config key', async () => {
    // (the message is the metadata check's: a probe run would fail with "a test run ... failed")
    const err = await OnnxExtractor.create({ name: 'f', modality: 'visual', model: fixedModel, outputs: [{ output: 'emb' }], crop: S, configKey: 'features.visual[0]' }).catch((e: Error) => e);
    expect(err).toBeInstanceOf(Error);
    expect((err as Error).message).not.toMatch(/test run/);
    expect((err as Error).message).toMatch(/fixed batch axis \[1, 3, 6, 6\]/);
    expect((err as Error).message).toMatch(/dynamic_axes/);
    expect((err as Error).message).toMatch(/features\.visual\[0\]\.maxBatchItems: 1/);
    // with one item per run the same model works, frame by frame
    const one = await OnnxExtractor.create({ name: 'f', modality: 'visual', model: fixedModel, outputs: [{ output: 'emb' }], crop: S, maxBatchItems: 1, frames: 2 });
    const dyn = await OnnxExtractor.create({ name: 'd', modality: 'visual', model: dynamicModel, outputs: [{ output: 'emb' }], crop: S, frames: 2 });
    const clip = fakeClip(rng, 4, 8, 8);
    expect(Array.from((await one.run([one.prepare(clip)]))[0][0])).toEqual(Array.from((await dyn.run([dyn.prepare(clip)]))[0][0]));
    await one.dispose();
    await dyn.dispose();
  });

  it('reads the declared inputs from the model file without loading it (fixed and named dims, initializers left out)', () => {
    expect(readOnnxInputs(readFileSync(fixedModel))).toEqual([{ name: 'pixels', dims: [1, 3, 6, 6] }]);
    expect(readOnnxInputs(readFileSync(dynamicModel))).toEqual([{ name: 'pixels', dims: ['N', 3, 6, 6] }]);
    expect(readOnnxInputs(Buffer.from('not a model at all'))).toBeNull();
    // an old-style export listing its weights as inputs
    const withInit = model([node('Conv', ['pixels', 'W'], ['y'])], [vi('W', [2, 3, 1, 1]), vi('pixels', ['n', 3, 4, 4])], [vi('y', ['n', 2, 4, 4])], [f32('W', [2, 3, 1, 1], [1, 0, 0, 0, 1, 0])]);
    expect(readOnnxInputs(withInit)).toEqual([{ name: 'pixels', dims: ['n', 3, 4, 4] }]);
  });

  it('refuses a wrong layout and a wrong size, saying which key to set', async () => {
    await expect(OnnxExtractor.create({ name: 'x', modality: 'visual', model: dynamicModel, outputs: [{ output: 'emb' }], crop: S, layout: 'NHWC', configKey: 'features.visual[2]' }))
      .rejects.toThrow(/set features\.visual\[2\]\.layout: NCHW/);
    await expect(OnnxExtractor.create({ name: 'x', modality: 'visual', model: dynamicModel, outputs: [{ output: 'emb' }], crop: 8, configKey: 'features.visual[0]' }))
      .rejects.toThrow(/set features\.visual\[0\]\.crop: 6/);
    await expect(OnnxExtractor.create({ name: 'x', modality: 'visual', model: dynamicModel, outputs: [{ output: 'emb' }], crop: S, layout: 'NCTHW', configKey: 'features.visual[0]' }))
      .rejects.toThrow(/has 4 axes .*feeds 5.*layout: NCHW/);
  });

  it('refuses an output whose batch is fixed inside the graph (a probe run on two items)', async () => {
    const tok = write('tokens.onnx', tokenGraph(S, Array.from({ length: 12 }, () => rng.normal()), 4));
    await expect(OnnxExtractor.create({ name: 't', modality: 'visual', model: tok, outputs: [{ output: 'flat' }], crop: S }))
      .rejects.toThrow(/output "flat" is \[1, 216\] for a batch of 2: its first axis must be the batch/);
  });

  it('refuses a fixed-length waveform model fed whole clips, suggesting patchSeconds', async () => {
    const f = write('wave16k.onnx', waveGraph(16000));
    await expect(OnnxExtractor.create({ name: 'w', modality: 'audio', model: f, audioInput: 'waveform', outputs: [{ output: 'level' }], configKey: 'features.audio[0]' }))
      .rejects.toThrow(/set features\.audio\[0\]\.patchSeconds: 1 \(the model takes exactly 16000 samples/);
  });
});

describe('pooling that knows shapes', () => {
  const D = 4;
  const Mt = Array.from({ length: 3 * D }, () => rng.normal());
  const tok = write('tokens2.onnx', tokenGraph(S, Mt, D));

  it('refuses a rank-3 output without axes instead of storing a tokens-wide layer', async () => {
    await expect(OnnxExtractor.create({ name: 't', modality: 'visual', model: tok, outputs: [{ output: 'tokens' }], crop: S, configKey: 'features.visual[0]' }))
      .rejects.toThrow(/features\.visual\[0\]\.outputs\[0\]\.axes: "NLC" for tokens/);
    await expect(OnnxExtractor.create({ name: 't', modality: 'visual', model: tok, outputs: [{ output: 'tokens', axes: 'NC' }], crop: S }))
      .rejects.toThrow(/axes "NC" names 2 axes, output "tokens" has 3/);
  });

  it('stores cls, mean, patch-mean and both of token outputs, matching a plain computation', async () => {
    const ex = await OnnxExtractor.create({
      name: 't', modality: 'visual', model: tok, crop: S, frames: 2,
      outputs: [
        { output: 'tokens', layer: 'cls', axes: 'NLC', tokens: 'cls' },
        { output: 'tokens', layer: 'mean', axes: 'NLC', tokens: 'mean' },
        { output: 'tokens', layer: 'patches', axes: 'NLC', tokens: 'patches', prefixTokens: 2 },
        { output: 'tokens', layer: 'both', axes: 'NLC', tokens: 'both' },
      ],
    });
    expect(ex.layers.map((l) => [l.name, l.dim])).toEqual([['cls', D], ['mean', D], ['patches', D], ['both', 2 * D]]);
    const clip = fakeClip(rng, 5, 9, 7);
    const [[cls, mean, patches, both]] = await ex.run([ex.prepare(clip)]);
    const { data } = prepareFrames(clip, { frames: 2, crop: S, layout: 'NCHW' });
    const P = S * S;
    const token = (t: number, l: number, d: number) => [0, 1, 2].reduce((a, c) => a + data[(t * 3 + c) * P + l] * Mt[c * D + d], 0);
    for (let d = 0; d < D; d++) {
      let m = 0;
      let pm = 0;
      let pm1 = 0;
      for (let t = 0; t < 2; t++) {
        for (let l = 0; l < P; l++) m += token(t, l, d) / P / 2;
        for (let l = 2; l < P; l++) pm += token(t, l, d) / (P - 2) / 2;
        for (let l = 1; l < P; l++) pm1 += token(t, l, d) / (P - 1) / 2;
      }
      const c = (token(0, 0, d) + token(1, 0, d)) / 2;
      expect(cls[d]).toBeCloseTo(c, 4);
      expect(mean[d]).toBeCloseTo(m, 4);
      expect(patches[d]).toBeCloseTo(pm, 4);
      expect(both[d]).toBeCloseTo(c, 4);
      expect(both[D + d]).toBeCloseTo(pm1, 4);
    }
    await ex.dispose();
  });

  const T = 4;
  const C = 3;
  const Wv = Array.from({ length: C * 3 }, () => rng.normal());
  const vid = write('video.onnx', videoGraph(T, S, Wv, C));

  it('meanstd on a video layout: refused without a time axis, over the output time axis with one (no zero columns)', async () => {
    await expect(OnnxExtractor.create({ name: 'v', modality: 'visual', model: vid, layout: 'NCTHW', frames: T, crop: S, outputs: [{ output: 'pooled', pool: 'meanstd' }], configKey: 'features.visual[0]' }))
      .rejects.toThrow(/features\.visual\[0\]\.outputs\[0\]\.pool meanstd needs several time steps.*half its columns would be zeros/);
    const ex = await OnnxExtractor.create({
      name: 'v', modality: 'visual', model: vid, layout: 'NCTHW', frames: T, crop: S,
      outputs: [{ output: 'feat', layer: 'ms', pool: 'meanstd' }, { output: 'feat', layer: 'mx', spatial: 'max', pool: 'max' }],
    });
    expect(ex.layers.map((l) => l.dim)).toEqual([2 * C, C]);
    const clip = fakeClip(rng, 8, 8, 8);
    const [[ms, mx]] = await ex.run([ex.prepare(clip)]);
    const { data } = prepareFrames(clip, { frames: T, crop: S, layout: 'NCTHW' });
    const P = S * S;
    const px = (c: number, t: number, p: number) => data[(c * T + t) * P + p];
    for (let o = 0; o < C; o++) {
      const perT: number[] = [];
      let big = -Infinity;
      for (let t = 0; t < T; t++) {
        let s = 0;
        for (let p = 0; p < P; p++) {
          const v = Wv[o * 3] * px(0, t, p) + Wv[o * 3 + 1] * px(1, t, p) + Wv[o * 3 + 2] * px(2, t, p);
          s += v / P;
          big = Math.max(big, v);
        }
        perT.push(s);
      }
      const mu = perT.reduce((a, b) => a + b, 0) / T;
      const sd = Math.sqrt(perT.reduce((a, b) => a + (b - mu) ** 2, 0) / T);
      expect(ms[o]).toBeCloseTo(mu, 4);
      expect(ms[C + o]).toBeCloseTo(sd, 4);
      expect(sd).toBeGreaterThan(1e-3);
      expect(mx[o]).toBeCloseTo(big, 4);
    }
    await ex.dispose();
  });

  it('multi-view video: N windows of T frames with a stride, averaged or side by side', async () => {
    const common = { name: 'v', modality: 'visual' as const, model: vid, layout: 'NCTHW' as const, frames: T, crop: S, frameStride: 2, views: 3 };
    const avg = await OnnxExtractor.create({ ...common, outputs: [{ output: 'pooled' }] });
    const cat = await OnnxExtractor.create({ ...common, viewPool: 'concat', outputs: [{ output: 'pooled' }] });
    expect(avg.layers[0].dim).toBe(C);
    expect(cat.layers[0].dim).toBe(3 * C);
    const clip = fakeClip(rng, 20, 8, 8);
    const p = avg.prepare(clip);
    expect(p.count).toBe(3);
    expect(p.itemShape).toEqual([3, T, S, S]);
    const [[a]] = await avg.run([p]);
    const [[c]] = await cat.run([cat.prepare(clip)]);
    // windows span 7 frames; starts 0, 6.5 -> 7 (rounded), 13: view v = frames start + 2k
    const starts = [0, 7, 13];
    for (let v = 0; v < 3; v++) {
      const sub = { frames: clip.frames.subarray(starts[v] * 192, (starts[v] + 7) * 192), shape: [7, 8, 8, 3] as [number, number, number, number] };
      const one = prepareFrames(sub, { frames: T, stride: 2, crop: S, layout: 'NCTHW' });
      const P = S * S;
      for (let o = 0; o < C; o++) {
        let s = 0;
        for (let t = 0; t < T; t++) for (let q = 0; q < P; q++) for (let ch = 0; ch < 3; ch++) s += Wv[o * 3 + ch] * one.data[(ch * T + t) * P + q];
        expect(c[v * C + o]).toBeCloseTo(s / (T * P), 4);
      }
    }
    for (let o = 0; o < C; o++) expect(a[o]).toBeCloseTo((c[o] + c[C + o] + c[2 * C + o]) / 3, 5);
    await avg.dispose();
    await cat.dispose();
  });

  it('audio patch sequences: 0.96 s waveform patches over the clip, averaged', async () => {
    const f = write('wave.onnx', waveGraph());
    const ex = await OnnxExtractor.create({ name: 'w', modality: 'audio', model: f, audioInput: 'waveform', patchSeconds: 0.96, outputs: [{ output: 'level' }, { output: 'peak', pool: 'max' }] });
    const clip = fakeClip(rng, 2, 4, 4, 10);
    const prep = ex.prepare(clip);
    expect(prep.count).toBe(10); // floor((10 - 0.96) / 0.96) + 1
    expect(prep.itemShape).toEqual([15360]);
    const [[level, peak]] = await ex.run([prep]);
    let ref = 0;
    let mx = -Infinity;
    for (let k = 0; k < 10; k++) {
      let s = 0;
      for (let i = 0; i < 15360; i++) {
        s += Math.abs(clip.audio[k * 15360 + i]);
        mx = Math.max(mx, clip.audio[k * 15360 + i]);
      }
      ref += s / 15360 / 10;
    }
    expect(level[0]).toBeCloseTo(ref, 5);
    expect(peak[0]).toBeCloseTo(mx, 5);
    await ex.dispose();
  });
});

describe('execution providers', () => {
  it('lists the CPU provider; device auto runs here on the CPU; device cuda fails with a message when CUDA cannot be used', async () => {
    const providers = await listExecutionProviders();
    expect(providers.find((p) => p.name === 'cpu')?.available).toBe(true);
    const ex = await OnnxExtractor.create({ name: 'd', modality: 'visual', model: dynamicModel, outputs: [{ output: 'emb' }], crop: S, device: 'auto', threads: { cpu: 1 }, maxBatchItems: { cpu: 3, cuda: 64 } });
    const cuda = providers.find((p) => p.name === 'cuda');
    if (!cuda?.available) {
      expect(ex.provider).toBe('cpu');
      expect(ex.loadNotes.join(' ')).toMatch(/no CUDA execution provider/);
      expect(ex.info).toMatch(/onnxruntime cpu .*3 items per run/);
      await expect(createOnnxSession(dynamicModel, { device: 'cuda', label: 'ONNX model m' })).rejects.toThrow(/device cuda requested, but the CUDA execution provider cannot be used: .*Set device: cpu/);
    } else {
      // a machine with the CUDA provider library: auto picks CUDA where a session starts on it
      expect(['cpu', 'cuda']).toContain(ex.provider);
    }
    await ex.dispose();
  });
});
