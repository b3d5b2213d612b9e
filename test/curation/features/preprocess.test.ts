import { describe, it, expect } from 'vitest';
import { sampleFrameIndices, resizeImage, resizeShortSide, centerCrop, prepareFrames, NORMALISE_PRESETS, resolvePreprocess, sampleViews, PREPROCESS_PRESETS } from '../../../src/curation/features/preprocess.js';
import { parseConfig } from '../../../src/config/load.js';
import { poolRows } from '../../../src/curation/features/extractor.js';

function clipOf(T: number, H: number, W: number, f: (t: number, y: number, x: number, c: number) => number) {
  const frames = new Uint8Array(T * H * W * 3);
  for (let t = 0; t < T; t++) for (let y = 0; y < H; y++) for (let x = 0; x < W; x++) for (let c = 0; c < 3; c++) frames[((t * H + y) * W + x) * 3 + c] = f(t, y, x, c);
  return { frames, shape: [T, H, W, 3] as [number, number, number, number] };
}

describe('frame sampling and resizing', () => {
  it('samples segment centres evenly', () => {
    expect(sampleFrameIndices(32, 4)).toEqual([4, 12, 20, 28]);
    expect(sampleFrameIndices(10, 1)).toEqual([5]);
    expect(sampleFrameIndices(3, 6)).toEqual([0, 0, 1, 1, 2, 2]);
  });

  it('keeps constants and linear ramps, and shrinks with averaging', () => {
    const flat = { data: new Uint8Array(20 * 10 * 3).fill(77), width: 20, height: 10 };
    const r = resizeImage(flat, 7, 13);
    for (const v of r.data) expect(v).toBeCloseTo(77, 4);
    // 2x shrink of a checkerboard averages to grey
    const chk = { data: new Uint8Array(16 * 16 * 3), width: 16, height: 16 };
    for (let y = 0; y < 16; y++) for (let x = 0; x < 16; x++) chk.data.fill((x + y) % 2 ? 255 : 0, (y * 16 + x) * 3, (y * 16 + x) * 3 + 3);
    const half = resizeImage(chk, 8, 8);
    for (let y = 1; y < 7; y++) for (let x = 1; x < 7; x++) expect(half.data[(y * 8 + x) * 3]).toBeCloseTo(127.5, 0);
    expect(resizeShortSide({ data: new Uint8Array(40 * 20 * 3), width: 40, height: 20 }, 10)).toMatchObject({ width: 20, height: 10 });
  });

  it('centre-crops at floor offsets', () => {
    const img = { data: new Uint8Array(5 * 4 * 3), width: 5, height: 4 };
    for (let i = 0; i < 20; i++) img.data[i * 3] = i;
    const c = centerCrop(img, 3, 2);
    // x0 = 1, y0 = 1 -> pixels (1,1) = 6
    expect(Array.from(c.data.filter((_, i) => i % 3 === 0))).toEqual([6, 7, 8, 11, 12, 13]);
  });

  it('normalises with presets and lays out NCHW as a transpose of NHWC', () => {
    const clip = clipOf(4, 8, 8, (t, y, x, c) => (t * 40 + y * 3 + x * 5 + c * 20) % 256);
    const a = prepareFrames(clip, { frames: 2, crop: 8, preset: 'imagenet', layout: 'NHWC' });
    const b = prepareFrames(clip, { frames: 2, crop: 8, preset: 'imagenet', layout: 'NCHW' });
    const v = prepareFrames(clip, { frames: 2, crop: 8, preset: 'kinetics', layout: 'NCTHW' });
    expect(a.shape).toEqual([2, 8, 8, 3]);
    expect(b.shape).toEqual([2, 3, 8, 8]);
    expect(v.shape).toEqual([1, 3, 2, 8, 8]);
    for (let t = 0; t < 2; t++) for (let p = 0; p < 64; p++) for (let c = 0; c < 3; c++) expect(b.data[(t * 3 + c) * 64 + p]).toBe(a.data[(t * 64 + p) * 3 + c]);
    // frame index 1 (segment centre of 4 frames / 2), pixel (0,0), channel 0: value 40
    const { mean, std } = NORMALISE_PRESETS.imagenet;
    expect(a.data[0]).toBeCloseTo((40 / 255 - mean[0]) / std[0], 5);
    expect(v.data[0]).toBeCloseTo((40 / 255 - 0.45) / 0.225, 5);
  });

  it('pools rows by mean, max and mean+std', () => {
    const d = Float32Array.of(1, 2, 3, 6);
    expect(Array.from(poolRows(d, 2, 2, 'mean'))).toEqual([2, 4]);
    expect(Array.from(poolRows(d, 2, 2, 'max'))).toEqual([3, 6]);
    expect(Array.from(poolRows(d, 2, 2, 'meanstd'))).toEqual([2, 4, 1, 2]);
  });
});

describe('preprocessing as data', () => {
  const row = (vals: number[]) => ({ data: Uint8Array.from(vals.flatMap((v) => [v, v, v])), width: vals.length, height: 1 });

  it('has torchvision-video, CLIP and SigLIP bundles, each key overridable', () => {
    expect(resolvePreprocess('torchvision-video')).toMatchObject({ mean: [0.43216, 0.394666, 0.37645], std: [0.22803, 0.22145, 0.216989], resize: 'exact', size: [128, 171], crop: 112, interpolation: 'bilinear', channels: 'RGB' });
    expect(resolvePreprocess('clip')).toMatchObject({ interpolation: 'bicubic', resize: 'short', crop: 224 });
    expect(resolvePreprocess('siglip')).toMatchObject({ mean: [0.5, 0.5, 0.5], std: [0.5, 0.5, 0.5], interpolation: 'bicubic', resize: 'exact', size: [224, 224] });
    expect(resolvePreprocess('clip', { interpolation: 'area', crop: 336, mean: [0.1, 0.2, 0.3] })).toMatchObject({ interpolation: 'area', crop: 336, mean: [0.1, 0.2, 0.3], std: PREPROCESS_PRESETS.clip.std });
    expect(() => resolvePreprocess('nope')).toThrow(/unknown preprocessing preset "nope" \(known: imagenet, kinetics, torchvision-video, clip, siglip/);
    // the config accepts them per extractor
    const f = parseConfig({ name: 'x', features: { visual: [{ type: 'onnx', model: 'm.onnx', outputs: [{ output: 'o' }], preset: 'torchvision-video', mean: [0.4, 0.4, 0.4], std: [0.2, 0.2, 0.2], scale: 1, interpolation: 'bicubic', resize: 'exact', size: [128, 171], crop: 112, channels: 'BGR', device: 'cpu' }] } }).features;
    expect(f.visual[0]).toMatchObject({ mean: [0.4, 0.4, 0.4], interpolation: 'bicubic', channels: 'BGR' });
  });

  it('resizes with bilinear, bicubic (Keys a = -0.5, clamped) and area filters', () => {
    // 4 -> 2: the first output pixel of [0, 0, 255, 255] under each filter (weights worked out by hand)
    expect(resizeImage(row([0, 0, 255, 255]), 2, 1, 'bilinear').data[0]).toBeCloseTo((0.25 * 255) / 1.75, 4);
    expect(resizeImage(row([0, 0, 255, 255]), 2, 1, 'bicubic').data[0]).toBeCloseTo(((0.2265625 - 0.0703125) * 255) / 1.890625, 4);
    expect(resizeImage(row([0, 0, 255, 255]), 2, 1, 'area').data[0]).toBe(0);
    expect(resizeImage(row([10, 30, 200, 100]), 2, 1, 'area').data[3]).toBe(150);
    // bicubic overshoots at a step and is clamped to 0..255, as PIL does
    const up = resizeImage(row([0, 0, 0, 255, 255, 255]), 12, 1, 'bicubic').data;
    expect(Math.min(...up)).toBe(0);
    expect(Math.max(...up)).toBe(255);
    const upLinear = resizeImage(row([0, 0, 0, 255, 255, 255]), 12, 1, 'bilinear').data;
    expect(Array.from(up).some((v, i) => Math.abs(v - upLinear[i]) > 1)).toBe(true);
  });

  it('uses mean, std, scale and channel order as given, and the exact-size resize then crop', () => {
    const clip = clipOf(2, 36, 48, (t, y, x, c) => (c === 0 ? 200 : c === 1 ? 100 : 50));
    const rgb = prepareFrames(clip, { frames: 1, layout: 'NCHW', preset: 'torchvision-video' });
    expect(rgb.shape).toEqual([1, 3, 112, 112]);
    const P = 112 * 112;
    expect(rgb.data[0]).toBeCloseTo((200 / 255 - 0.43216) / 0.22803, 4);
    expect(rgb.data[2 * P]).toBeCloseTo((50 / 255 - 0.37645) / 0.216989, 4);
    const bgr = prepareFrames(clip, { frames: 1, layout: 'NHWC', crop: 4, resize: 'short', channels: 'BGR', scale: 1, mean: [1, 2, 3], std: [2, 2, 2] });
    expect(Array.from(bgr.data.subarray(0, 3))).toEqual([(50 - 1) / 2, (100 - 2) / 2, (200 - 3) / 2]);
  });

  it('samples views: windows of T frames with a stride, spread over the clip', () => {
    expect(sampleViews(32, { frames: 4 })).toEqual([sampleFrameIndices(32, 4)]);
    expect(sampleViews(30, { frames: 2, views: 3 })).toEqual([[2, 7], [12, 17], [22, 27]]);
    expect(sampleViews(20, { frames: 4, stride: 2 })).toEqual([[6, 8, 10, 12]]);
    expect(sampleViews(20, { frames: 4, stride: 2, views: 3 })).toEqual([[0, 2, 4, 6], [7, 9, 11, 13], [13, 15, 17, 19]]);
    expect(sampleViews(3, { frames: 3, stride: 2 })).toEqual([[0, 2, 2]]);
  });
});

