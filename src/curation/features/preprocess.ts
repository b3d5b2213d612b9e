/**
 * Visual preprocessing for extractors: sample T frames evenly over a clip, resize so the short side
 * has a given length (antialiased bilinear, like PIL's), centre-crop, normalise with a preset, and
 * lay the result out as a model wants (NHWC, NCHW, or with a time axis NTHWC / NCTHW).
 */
import type { DecodedClip } from '../../media/types.js';

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

/** Separable triangle-filter taps (bilinear; support widened by the scale when shrinking). */
function taps(inSize: number, outSize: number): Taps {
  const scale = inSize / outSize;
  const support = Math.max(1, scale);
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
    for (let i = lo; i < hi; i++) {
      const x = (i + 0.5 - center) / support;
      const w = Math.max(0, 1 - Math.abs(x));
      weights[o * maxTaps + n] = w;
      sum += w;
      n++;
    }
    if (sum === 0) {
      // Degenerate (cannot happen with support >= 1): fall back to the nearest pixel.
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

/** Resize an RGB image to width x height (antialiased bilinear). Output is float 0..255. */
export function resizeImage(img: RgbImage, width: number, height: number): RgbImage & { data: Float32Array } {
  if (img.width === width && img.height === height) return { data: Float32Array.from(img.data), width, height };
  const tx = taps(img.width, width);
  const ty = taps(img.height, height);
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
      mid[q] = r;
      mid[q + 1] = g;
      mid[q + 2] = b;
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
      out[q] = r;
      out[q + 1] = g;
      out[q + 2] = b;
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

export function resizeShortSide(img: RgbImage, short: number): RgbImage & { data: Float32Array } {
  const s = shortSideSize(img.width, img.height, short);
  return resizeImage(img, s.width, s.height);
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

export interface FramePrepOptions {
  /** Frames sampled evenly over the clip. */
  frames: number;
  /** Resize the short side to this (default: = crop). */
  short?: number;
  /** Square centre crop. */
  crop: number;
  preset: NormalisePresetName | NormalisePreset;
  layout: Layout;
}

/**
 * Sample, resize, crop, normalise and lay out the frames of a clip. NHWC / NCHW give
 * [frames, ...] (frames as the batch); NTHWC / NCTHW give one [1, ...] video tensor.
 * Returns the data and its shape.
 */
export function prepareFrames(clip: Pick<DecodedClip, 'frames' | 'shape'>, o: FramePrepOptions): { data: Float32Array; shape: number[] } {
  const preset = typeof o.preset === 'string' ? normalisePreset(o.preset) : o.preset;
  const idx = sampleFrameIndices(clip.shape[0], o.frames);
  const S = o.crop;
  const T = idx.length;
  const plane = S * S;
  const data = new Float32Array(T * plane * 3);
  const scale = [0, 1, 2].map((c) => 1 / (255 * preset.std[c]));
  const shift = [0, 1, 2].map((c) => preset.mean[c] / preset.std[c]);
  for (let t = 0; t < T; t++) {
    const img = centerCrop(resizeShortSide(clipFrame(clip, idx[t]), o.short ?? S), S, S);
    for (let p = 0; p < plane; p++) {
      for (let c = 0; c < 3; c++) {
        const v = img.data[p * 3 + c] * scale[c] - shift[c];
        let at: number;
        switch (o.layout) {
          case 'NHWC':
          case 'NTHWC':
            at = (t * plane + p) * 3 + c;
            break;
          case 'NCHW':
            at = (t * 3 + c) * plane + p;
            break;
          case 'NCTHW':
            at = (c * T + t) * plane + p;
            break;
        }
        data[at] = v;
      }
    }
  }
  const shape =
    o.layout === 'NHWC' ? [T, S, S, 3] : o.layout === 'NCHW' ? [T, 3, S, S] : o.layout === 'NTHWC' ? [1, T, S, S, 3] : [1, 3, T, S, S];
  return { data, shape };
}
