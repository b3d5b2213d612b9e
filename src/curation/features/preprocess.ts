/**
 * Visual preprocessing for extractors: sample T frames evenly over a clip, resize so the short side
 * has a given length (antialiased bilinear, like PIL's), centre-crop, normalise with a preset, and
 * lay the result out as a model wants (NHWC, NCHW, or with a time axis NTHWC / NCTHW).
 */
import type { DecodedClip } from '../../media/types.js';
import { ONNX_EXTRACTOR_DEFAULTS } from '../../config/defaults.js';

/** An RGB image, [h, w, 3] row-major, values 0..255. */
export interface RgbImage {
  data: Uint8Array | Float32Array;
  width: number;
  height: number;
}

export type Layout = 'NHWC' | 'NCHW' | 'NTHWC' | 'NCTHW';

export interface NormalisePreset {
  /** Per-channel mean and std applied to values scaled to [0, 1]: (x/255 - mean) / std. */
  mean: [number, number, number];
  std: [number, number, number];
}

export const NORMALISE_PRESETS = {
  /** torchvision ImageNet statistics. */
  imagenet: { mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225] },
  /** SlowFast / PySlowFast Kinetics statistics. */
  kinetics: { mean: [0.45, 0.45, 0.45], std: [0.225, 0.225, 0.225] },
  /** CLIP. */
  clip: { mean: [0.48145466, 0.4578275, 0.40821073], std: [0.26862954, 0.26130258, 0.27577711] },
  /** x / 255 in [0, 1]. */
  unit: { mean: [0, 0, 0], std: [1, 1, 1] },
  /** x / 127.5 - 1 in [-1, 1] (Keras MobileNet). */
  signed: { mean: [0.5, 0.5, 0.5], std: [0.5, 0.5, 0.5] },
  /** Raw 0..255 values. */
  raw: { mean: [0, 0, 0], std: [1 / 255, 1 / 255, 1 / 255] },
} as const satisfies Record<string, NormalisePreset>;

export type NormalisePresetName = keyof typeof NORMALISE_PRESETS;

export function normalisePreset(name: string): NormalisePreset {
  const p = (NORMALISE_PRESETS as Record<string, NormalisePreset>)[name];
  if (!p) throw new Error(`unknown normalisation preset "${name}" (known: ${Object.keys(NORMALISE_PRESETS).join(', ')})`);
  return p;
}

/**
 * Indices of `count` frames spread evenly over `available` frames: the centre of each of `count`
 * equal segments, floor((i + 0.5) * available / count). With count > available, frames repeat.
 */
export function sampleFrameIndices(available: number, count: number): number[] {
  if (available < 1) throw new RangeError('sampleFrameIndices: the clip has no frames');
  if (!Number.isInteger(count) || count < 1) throw new RangeError(`sampleFrameIndices: count must be a positive integer, got ${count}`);
  const out: number[] = [];
  for (let i = 0; i < count; i++) out.push(Math.min(available - 1, Math.floor(((i + 0.5) * available) / count)));
  return out;
}

/** Frame t of a decoded clip as an image (a view, no copy). */
export function clipFrame(clip: Pick<DecodedClip, 'frames' | 'shape'>, t: number): RgbImage {
  const [T, h, w] = clip.shape;
  if (t < 0 || t >= T) throw new RangeError(`frame ${t} out of range 0..${T - 1}`);
  const size = h * w * 3;
  return { data: clip.frames.subarray(t * size, (t + 1) * size), width: w, height: h };
}

interface Taps {
  first: Int32Array;
  count: Int32Array;
  weights: Float64Array;
  maxTaps: number;
}

/** Resampling filter: bilinear (triangle), bicubic (Keys, a = -0.5, as PIL and torchvision) or area (box). */
export type Interpolation = 'bilinear' | 'bicubic' | 'area';

const FILTERS: Record<Interpolation, { support: number; f: (x: number) => number }> = {
  bilinear: { support: 1, f: (x) => Math.max(0, 1 - Math.abs(x)) },
  bicubic: {
    support: 2,
    f: (x) => {
      const a = -0.5;
      const t = Math.abs(x);
      if (t < 1) return ((a + 2) * t - (a + 3)) * t * t + 1;
      if (t < 2) return ((a * t - 5 * a) * t + 8 * a) * t - 4 * a;
      return 0;
    },
  },
  area: { support: 0.5, f: (x) => (x > -0.5 && x <= 0.5 ? 1 : 0) },
};

/**
 * Separable filter taps (antialiased: the support is widened by the scale when shrinking, as PIL
 * and torchvision's antialias=True do). Bilinear gives the same taps as before the other filters.
 */
function taps(inSize: number, outSize: number, interpolation: Interpolation = 'bilinear'): Taps {
  const filter = FILTERS[interpolation];
  const scale = inSize / outSize;
  const fs = Math.max(1, scale);
  const support = filter.support * fs;
  const maxTaps = Math.ceil(support) * 2 + 1;
  const first = new Int32Array(outSize);
  const count = new Int32Array(outSize);
  const weights = new Float64Array(outSize * maxTaps);
  for (let o = 0; o < outSize; o++) {
    const center = (o + 0.5) * scale;
    const lo = Math.max(0, Math.floor(center - support));
    const hi = Math.min(inSize, Math.ceil(center + support));
    let sum = 0;
    let n = 0;
    for (let i = lo; i < hi && n < maxTaps; i++) {
      const w = filter.f((i + 0.5 - center) / fs);
      weights[o * maxTaps + n] = w;
      sum += w;
      n++;
    }
    if (sum === 0) {
      // Degenerate (a box narrower than a pixel): fall back to the nearest pixel.
      weights[o * maxTaps] = 1;
      first[o] = Math.min(inSize - 1, Math.floor(center));
      count[o] = 1;
      continue;
    }
    for (let j = 0; j < n; j++) weights[o * maxTaps + j] /= sum;
    first[o] = lo;
    count[o] = n;
  }
  return { first, count, weights, maxTaps };
}

/**
 * Resize an RGB image to width x height (antialiased; bilinear by default). Output is float 0..255;
 * bicubic results are clamped to 0..255 after each pass, as PIL does for 8-bit images.
 */
export function resizeImage(img: RgbImage, width: number, height: number, interpolation: Interpolation = 'bilinear'): RgbImage & { data: Float32Array } {
  if (img.width === width && img.height === height) return { data: Float32Array.from(img.data), width, height };
  const tx = taps(img.width, width, interpolation);
  const ty = taps(img.height, height, interpolation);
  const clamp = interpolation === 'bicubic';
  // horizontal pass: [img.height, width, 3]
  const mid = new Float32Array(img.height * width * 3);
  for (let y = 0; y < img.height; y++) {
    const row = y * img.width * 3;
    for (let x = 0; x < width; x++) {
      let r = 0;
      let g = 0;
      let b = 0;
      const f = tx.first[x];
      const wo = x * tx.maxTaps;
      for (let j = 0; j < tx.count[x]; j++) {
        const w = tx.weights[wo + j];
        const p = row + (f + j) * 3;
        r += img.data[p] * w;
        g += img.data[p + 1] * w;
        b += img.data[p + 2] * w;
      }
      const q = (y * width + x) * 3;
      mid[q] = clamp ? Math.min(255, Math.max(0, r)) : r;
      mid[q + 1] = clamp ? Math.min(255, Math.max(0, g)) : g;
      mid[q + 2] = clamp ? Math.min(255, Math.max(0, b)) : b;
    }
  }
  const out = new Float32Array(height * width * 3);
  for (let y = 0; y < height; y++) {
    const f = ty.first[y];
    const wo = y * ty.maxTaps;
    for (let x = 0; x < width; x++) {
      let r = 0;
      let g = 0;
      let b = 0;
      for (let j = 0; j < ty.count[y]; j++) {
        const w = ty.weights[wo + j];
        const p = ((f + j) * width + x) * 3;
        r += mid[p] * w;
        g += mid[p + 1] * w;
        b += mid[p + 2] * w;
      }
      const q = (y * width + x) * 3;
      out[q] = clamp ? Math.min(255, Math.max(0, r)) : r;
      out[q + 1] = clamp ? Math.min(255, Math.max(0, g)) : g;
      out[q + 2] = clamp ? Math.min(255, Math.max(0, b)) : b;
    }
  }
  return { data: out, width, height };
}

/** Resize one float plane [h, w] to [height, width] with the same antialiased bilinear filter. */
export function resizePlane(plane: Float32Array, w: number, h: number, width: number, height: number): Float32Array {
  if (w === width && h === height) return Float32Array.from(plane);
  const tx = taps(w, width);
  const ty = taps(h, height);
  const mid = new Float32Array(h * width);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < width; x++) {
      let acc = 0;
      const f = tx.first[x];
      const wo = x * tx.maxTaps;
      for (let j = 0; j < tx.count[x]; j++) acc += plane[y * w + f + j] * tx.weights[wo + j];
      mid[y * width + x] = acc;
    }
  }
  const out = new Float32Array(height * width);
  for (let y = 0; y < height; y++) {
    const f = ty.first[y];
    const wo = y * ty.maxTaps;
    for (let x = 0; x < width; x++) {
      let acc = 0;
      for (let j = 0; j < ty.count[y]; j++) acc += mid[(f + j) * width + x] * ty.weights[wo + j];
      out[y * width + x] = acc;
    }
  }
  return out;
}

/** Size after scaling so the short side is `short` (aspect kept, rounded). */
export function shortSideSize(width: number, height: number, short: number): { width: number; height: number } {
  if (width <= height) return { width: short, height: Math.max(1, Math.round((height * short) / width)) };
  return { width: Math.max(1, Math.round((width * short) / height)), height: short };
}

export function resizeShortSide(img: RgbImage, short: number, interpolation: Interpolation = 'bilinear'): RgbImage & { data: Float32Array } {
  const s = shortSideSize(img.width, img.height, short);
  return resizeImage(img, s.width, s.height, interpolation);
}

/** Centre crop to width x height (offsets floor((W - w) / 2)). */
export function centerCrop(img: RgbImage, width: number, height = width): RgbImage & { data: Float32Array } {
  if (width > img.width || height > img.height) throw new RangeError(`centre crop ${width}x${height} is larger than the image ${img.width}x${img.height}`);
  const x0 = Math.floor((img.width - width) / 2);
  const y0 = Math.floor((img.height - height) / 2);
  const out = new Float32Array(width * height * 3);
  for (let y = 0; y < height; y++) {
    const src = ((y0 + y) * img.width + x0) * 3;
    for (let i = 0; i < width * 3; i++) out[y * width * 3 + i] = img.data[src + i];
  }
  return { data: out, width, height };
}

/** Channel order of the model's input. */
export type ChannelOrder = 'RGB' | 'BGR';
/** How frames are resized before the crop: short side to `short`, to exactly `size` [h, w], or not at all. */
export type ResizePolicy = 'short' | 'exact' | 'none';

/** Everything that turns decoded 0..255 RGB frames into a model's input: preprocessing as data. */
export interface FramePreprocess {
  /** Per-channel mean and std in the model's channel order, applied after `scale`: (x * scale - mean) / std (x in 0..255). */
  mean: [number, number, number];
  std: [number, number, number];
  /** Multiplies the 0..255 values first (1/255: [0, 1]; 1: raw). */
  scale: number;
  interpolation: Interpolation;
  resize: ResizePolicy;
  /** Short side after resizing (resize: short); default the crop size. */
  short?: number;
  /** [height, width] after resizing (resize: exact). */
  size?: [number, number];
  /** Square centre crop after resizing; null: no crop (the resized frame must then be the model's size). */
  crop: number | null;
  channels: ChannelOrder;
}

const RGB_NORM = (mean: [number, number, number], std: [number, number, number]) => ({ mean, std, scale: 1 / 255 });

/**
 * Named bundles of preprocessing. A preset fills every key the extractor's config leaves out.
 * Sources: torchvision's ImageNet weights; PySlowFast's Kinetics configs; torchvision's video
 * classification weights (resize to 128 x 171, crop 112); OpenAI CLIP (bicubic short side, crop);
 * SigLIP (bicubic resize to the square size, mean and std 0.5).
 */
export const PREPROCESS_PRESETS = {
  imagenet: { ...RGB_NORM([0.485, 0.456, 0.406], [0.229, 0.224, 0.225]), interpolation: 'bilinear', resize: 'short', crop: 224 },
  kinetics: { ...RGB_NORM([0.45, 0.45, 0.45], [0.225, 0.225, 0.225]), interpolation: 'bilinear', resize: 'short', crop: 224 },
  'torchvision-video': { ...RGB_NORM([0.43216, 0.394666, 0.37645], [0.22803, 0.22145, 0.216989]), interpolation: 'bilinear', resize: 'exact', size: [128, 171], crop: 112 },
  clip: { ...RGB_NORM([0.48145466, 0.4578275, 0.40821073], [0.26862954, 0.26130258, 0.27577711]), interpolation: 'bicubic', resize: 'short', crop: 224 },
  siglip: { ...RGB_NORM([0.5, 0.5, 0.5], [0.5, 0.5, 0.5]), interpolation: 'bicubic', resize: 'exact', size: [224, 224], crop: 224 },
  unit: { ...RGB_NORM([0, 0, 0], [1, 1, 1]), interpolation: 'bilinear', resize: 'short', crop: 224 },
  signed: { ...RGB_NORM([0.5, 0.5, 0.5], [0.5, 0.5, 0.5]), interpolation: 'bilinear', resize: 'short', crop: 224 },
  raw: { mean: [0, 0, 0], std: [1, 1, 1], scale: 1, interpolation: 'bilinear', resize: 'short', crop: 224 },
} as const satisfies Record<string, Omit<FramePreprocess, 'channels'>>;

export type PreprocessPresetName = keyof typeof PREPROCESS_PRESETS;
export const PREPROCESS_PRESET_NAMES = Object.keys(PREPROCESS_PRESETS) as PreprocessPresetName[];

/** A preset with the given keys overriding it (undefined keys keep the preset's). */
export function resolvePreprocess(preset: PreprocessPresetName | string, overrides: Partial<FramePreprocess> = {}): FramePreprocess {
  const p = (PREPROCESS_PRESETS as Record<string, Omit<FramePreprocess, 'channels'>>)[preset];
  if (!p) throw new Error(`unknown preprocessing preset "${preset}" (known: ${PREPROCESS_PRESET_NAMES.join(', ')})`);
  const out: FramePreprocess = { channels: 'RGB', ...p, mean: [...p.mean] as [number, number, number], std: [...p.std] as [number, number, number], ...(p.size ? { size: [...p.size] as [number, number] } : {}) };
  for (const [k, v] of Object.entries(overrides)) if (v !== undefined) (out as unknown as Record<string, unknown>)[k] = v;
  if (out.resize === 'exact' && !out.size) throw new Error('preprocessing: resize exact needs size: [height, width]');
  if (out.std.some((v) => !(v > 0))) throw new Error(`preprocessing: std must be positive, got [${out.std.join(', ')}]`);
  return out;
}

/** Frame size [width, height] a preprocessing resizes to before its crop (the decode size it needs), or null (resize none). */
export function neededFrameSize(p: FramePreprocess): { width: number; height: number } | null {
  if (p.resize === 'exact') return { width: p.size![1], height: p.size![0] };
  if (p.resize === 'short') {
    const s = p.short ?? p.crop ?? 0;
    return { width: s, height: s };
  }
  return p.crop ? { width: p.crop, height: p.crop } : null;
}

/** How frames are taken from a clip: `views` windows of `frames` frames, `stride` decoded frames apart. */
export interface FrameSampling {
  /** Frames per view (window). */
  frames: number;
  /** Decoded frames between two sampled frames of a window; default: spread evenly over the view's share of the clip. */
  stride?: number;
  /** Windows per clip (default: the schema's, features.*[].views). */
  views?: number;
}

/**
 * Frame indices of every view, view-major ([views][frames]).
 * - No stride: the clip is cut into `views` equal segments; each view takes the centres of
 *   `frames` equal sub-segments (one view: exactly sampleFrameIndices).
 * - With a stride: each window spans (frames - 1) * stride + 1 decoded frames; one window is
 *   centred, several are spread evenly from the first frame to the last window that fits. Indices
 *   past the end of a short clip repeat its last frame.
 */
export function sampleViews(available: number, s: FrameSampling): number[][] {
  const views = s.views ?? ONNX_EXTRACTOR_DEFAULTS.views;
  if (available < 1) throw new RangeError('sampleViews: the clip has no frames');
  if (!Number.isInteger(views) || views < 1) throw new RangeError(`sampleViews: views must be a positive integer, got ${views}`);
  const out: number[][] = [];
  if (s.stride === undefined) {
    for (let v = 0; v < views; v++) {
      const lo = (v * available) / views;
      const len = available / views;
      const idx: number[] = [];
      for (let i = 0; i < s.frames; i++) idx.push(Math.min(available - 1, Math.floor(lo + ((i + 0.5) * len) / s.frames)));
      out.push(idx);
    }
    return out;
  }
  if (!Number.isInteger(s.stride) || s.stride < 1) throw new RangeError(`sampleViews: stride must be a positive integer, got ${s.stride}`);
  const span = (s.frames - 1) * s.stride + 1;
  const room = Math.max(0, available - span);
  for (let v = 0; v < views; v++) {
    const start = views === 1 ? Math.floor(room / 2) : Math.round((v * room) / (views - 1));
    const idx: number[] = [];
    for (let i = 0; i < s.frames; i++) idx.push(Math.min(available - 1, start + i * s.stride));
    out.push(idx);
  }
  return out;
}

export interface FramePrepOptions extends Partial<Omit<FramePreprocess, 'crop'>> {
  /** Frames sampled evenly over the clip (per view). */
  frames: number;
  /** Decoded frames between sampled frames (default: spread evenly). */
  stride?: number;
  /** Windows per clip (default: the schema's, features.*[].views). */
  views?: number;
  /** Square centre crop (default the preset's); null: none. */
  crop?: number | null;
  /** A preset name (or legacy mean/std pair) filling the keys not given (default imagenet). */
  preset?: PreprocessPresetName | NormalisePreset;
  layout: Layout;
}

/** Resize and crop one frame as a preprocessing says. */
export function resizeAndCrop(img: RgbImage, p: FramePreprocess): RgbImage & { data: Float32Array } {
  let r: RgbImage & { data: Float32Array };
  if (p.resize === 'short') r = resizeShortSide(img, p.short ?? p.crop ?? Math.min(img.width, img.height), p.interpolation);
  else if (p.resize === 'exact') r = resizeImage(img, p.size![1], p.size![0], p.interpolation);
  else r = { data: Float32Array.from(img.data), width: img.width, height: img.height };
  return p.crop ? centerCrop(r, p.crop, p.crop) : r;
}

/**
 * Sample, resize, crop, normalise and lay out the frames of a clip. NHWC / NCHW give
 * [views * frames, ...] (frames as the batch, view-major); NTHWC / NCTHW give [views, ...] video
 * tensors, one per view. Returns the data and its shape.
 */
export function prepareFrames(clip: Pick<DecodedClip, 'frames' | 'shape'>, o: FramePrepOptions): { data: Float32Array; shape: number[] } {
  const { frames: _f, stride: _s, views: _v, preset: presetOpt, layout: _l, ...overrides } = o;
  const p: FramePreprocess =
    presetOpt !== undefined && typeof presetOpt !== 'string'
      ? resolvePreprocess('unit', { ...overrides, mean: [...presetOpt.mean] as [number, number, number], std: [...presetOpt.std] as [number, number, number], crop: o.crop === undefined ? 224 : o.crop })
      : resolvePreprocess(presetOpt ?? ONNX_EXTRACTOR_DEFAULTS.preset, overrides as Partial<FramePreprocess>);
  const views = sampleViews(clip.shape[0], { frames: o.frames, stride: o.stride, views: o.views });
  const V = views.length;
  const T = o.frames;
  const first = resizeAndCrop(clipFrame(clip, views[0][0]), p);
  const Hh = first.height;
  const Ww = first.width;
  const plane = Hh * Ww;
  const data = new Float32Array(V * T * plane * 3);
  const scale = [0, 1, 2].map((c) => p.scale / p.std[c]);
  const shift = [0, 1, 2].map((c) => p.mean[c] / p.std[c]);
  const bgr = p.channels === 'BGR';
  for (let v = 0; v < V; v++) {
    for (let t = 0; t < T; t++) {
      const img = v === 0 && t === 0 ? first : resizeAndCrop(clipFrame(clip, views[v][t]), p);
      const base = v * T * plane * 3;
      // Where channel c of pixel q goes: base + off(c) + q * step.
      const channelsLast = o.layout === 'NHWC' || o.layout === 'NTHWC';
      const step = channelsLast ? 3 : 1;
      for (let c = 0; c < 3; c++) {
        const src = bgr ? 2 - c : c;
        const sc = scale[c];
        const sh = shift[c];
        const off =
          base + (channelsLast ? t * plane * 3 + c : o.layout === 'NCHW' ? (t * 3 + c) * plane : (c * T + t) * plane);
        const px = img.data;
        for (let q = 0; q < plane; q++) data[off + q * step] = px[q * 3 + src] * sc - sh;
      }
    }
  }
  const shape =
    o.layout === 'NHWC' ? [V * T, Hh, Ww, 3] : o.layout === 'NCHW' ? [V * T, 3, Hh, Ww] : o.layout === 'NTHWC' ? [V, T, Hh, Ww, 3] : [V, 3, T, Hh, Ww];
  return { data, shape };
}
