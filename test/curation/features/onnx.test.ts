import { describe, it, expect } from 'vitest';
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { OnnxExtractor } from '../../../src/curation/features/onnx.js';
import { prepareFrames } from '../../../src/curation/features/preprocess.js';
import { logMelExamples, logMelSpectrogram } from '../../../src/media/logmel.js';
import { Rng } from '../../../src/runtime/random.js';
import type { DecodedClip } from '../../../src/media/types.js';
import { visualGraph, audioGraph } from './onnx-graphs.js';

function fakeClip(rng: Rng, T: number, H: number, W: number, seconds = 2.5): DecodedClip {
  const frames = new Uint8Array(T * H * W * 3);
  for (let i = 0; i < frames.length; i++) frames[i] = rng.int(256);
  const sr = 16000;
  const audio = new Float32Array(Math.round(seconds * sr));
  const f = 300 + rng.int(2000);
  for (let i = 0; i < audio.length; i++) audio[i] = 0.4 * Math.sin((2 * Math.PI * f * i) / sr) + 0.05 * rng.normal();
  return {
    file: 'mem', start: 0, seconds, frames, shape: [T, H, W, 3], fps: T / seconds, audio, sampleRate: sr,
    decodedFrames: T, decodedSamples: audio.length, paddedFrames: 0, paddedSamples: 0, trimmedFrames: 0, trimmedSamples: 0,
    missingAudio: false, missingVideo: false,
  };
}

describe('ONNX extractor', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'avc-onnx-'));
  const rng = new Rng(3);
  const S = 6;
  const W = Array.from({ length: 6 }, () => rng.normal());
  const B = [0.1, -0.2];
  const M = Array.from({ length: 15 }, () => rng.normal());
  const vfile = path.join(dir, 'visual.onnx');
  writeFileSync(vfile, visualGraph(S, W, B, M));

  it('keeps two outputs of a visual model and matches a plain JS computation', async () => {
    const ex = await OnnxExtractor.create({
      name: 'tiny', modality: 'visual', model: vfile,
      outputs: [{ output: 'feat', layer: 'conv' }, { output: 'emb' }],
      layout: 'NCHW', frames: 3, crop: S, short: 8, preset: 'imagenet', maxBatchItems: 4,
    });
    expect(ex.layers.map((l) => [l.name, l.dim])).toEqual([['conv', 2], ['emb', 5]]);
    const clips = [fakeClip(rng, 5, 10, 12), fakeClip(rng, 4, 12, 10)];
    const out = await ex.run(clips.map((c) => ex.prepare(c)));
    for (let ci = 0; ci < clips.length; ci++) {
      const { data } = prepareFrames(clips[ci], { frames: 3, crop: S, short: 8, preset: 'imagenet', layout: 'NCHW' });
      const plane = S * S;
      const conv = [0, 0];
      const emb = [0, 0, 0, 0, 0];
      for (let t = 0; t < 3; t++) {
        const px = (c: number, p: number) => data[(t * 3 + c) * plane + p];
        for (let o = 0; o < 2; o++) {
          let s = 0;
          for (let p = 0; p < plane; p++) s += Math.max(0, W[o * 3] * px(0, p) + W[o * 3 + 1] * px(1, p) + W[o * 3 + 2] * px(2, p) + B[o]);
          conv[o] += s / plane / 3;
        }
        const gap = [0, 1, 2].map((c) => { let s = 0; for (let p = 0; p < plane; p++) s += px(c, p); return s / plane; });
        for (let j = 0; j < 5; j++) emb[j] += (gap[0] * M[j] + gap[1] * M[5 + j] + gap[2] * M[10 + j]) / 3;
      }
      for (let o = 0; o < 2; o++) expect(out[ci][0][o]).toBeCloseTo(conv[o], 4);
      for (let j = 0; j < 5; j++) expect(out[ci][1][j]).toBeCloseTo(emb[j], 4);
    }
    await ex.dispose();
  });

  it('runs an audio model on VGGish log-mel examples, with max pooling over examples', async () => {
    const afile = path.join(dir, 'audio.onnx');
    writeFileSync(afile, audioGraph());
    const ex = await OnnxExtractor.create({
      name: 'tiny-audio', modality: 'audio', model: afile, audioInput: 'logmel', logmelLayout: 'NCHW',
      outputs: [{ output: 'bands', channelAxis: -1 }, { output: 'peak', pool: 'max' }],
    });
    expect(ex.layers.map((l) => l.dim)).toEqual([64, 1]);
    const clip = fakeClip(rng, 2, 8, 8, 2.5);
    const [[bands, peak]] = await ex.run([ex.prepare(clip)]);
    const ref = logMelExamples(logMelSpectrogram(clip.audio, 16000));
    expect(ref.examples).toBe(2);
    let mx = -Infinity;
    for (let b = 0; b < 64; b++) {
      let s = 0;
      for (let e = 0; e < ref.examples; e++) for (let t = 0; t < 96; t++) s += ref.data[(e * 96 + t) * 64 + b];
      expect(bands[b]).toBeCloseTo(s / (96 * ref.examples), 4);
    }
    for (let i = 0; i < ref.data.length; i++) mx = Math.max(mx, ref.data[i]);
    expect(peak[0]).toBeCloseTo(mx, 4);
    await ex.dispose();
  });

  it('names the missing output and the missing file', async () => {
    await expect(OnnxExtractor.create({ name: 'x', modality: 'visual', model: vfile, outputs: [{ output: 'nope' }], crop: S })).rejects.toThrow(/no output "nope" \(outputs: feat, emb\)/);
    await expect(OnnxExtractor.create({ name: 'x', modality: 'visual', model: path.join(dir, 'missing.onnx'), outputs: [{ output: 'emb' }] })).rejects.toThrow(/missing\.onnx: cannot read/);
  });
});
