/**
 * Batches as plain typed arrays with shapes, for any training loop: the NdArray fields of a batch,
 * and frames converted to normalised float32 in the layout a model wants.
 */
import { isNdArray, type NdArray } from '../formats/ndarray.js';

/** The NdArray fields of a collated batch (frames, audio, .npy members ...). */
export function arraysOf(batch: Record<string, unknown>): Record<string, NdArray> {
  const out: Record<string, NdArray> = {};
  for (const [k, v] of Object.entries(batch)) if (isNdArray(v)) out[k] = v;
  return out;
}

export interface FrameNormalization {
  /** Per-channel (or single) mean and std applied after scaling to [0, 1]. Default 0 and 1. */
  mean?: number | readonly number[];
  std?: number | readonly number[];
  /** 'channels-last' keeps [..., T, H, W, C]; 'channels-first' gives [..., C, T, H, W]. */
  layout?: 'channels-last' | 'channels-first';
}

/** uint8 frames [..., T, H, W, C] → float32 (x / 255 - mean) / std, optionally channels-first. */
export function framesToFloat32(frames: NdArray, opts: FrameNormalization = {}): NdArray<Float32Array> {
  if (frames.dtype !== 'uint8') throw new TypeError(`framesToFloat32: expected uint8 frames, got ${frames.dtype}`);
  const shape = frames.shape;
  if (shape.length < 4) throw new RangeError(`framesToFloat32: expected [..., T, H, W, C], got [${shape.join(', ')}]`);
  const C = shape[shape.length - 1];
  const per = (v: number | readonly number[] | undefined, d: number) => Array.from({ length: C }, (_, c) => (v === undefined ? d : typeof v === 'number' ? v : v[c]));
  const mean = per(opts.mean, 0);
  const std = per(opts.std, 1);
  const src = frames.data as Uint8Array;
  const out = new Float32Array(src.length);
  const scale = std.map((s) => 1 / (255 * s));
  const shift = mean.map((m, c) => m / std[c]);
  if ((opts.layout ?? 'channels-last') === 'channels-last') {
    if (scale.every((v) => v === scale[0]) && shift.every((v) => v === shift[0])) {
      const a = scale[0];
      const b = shift[0];
      for (let i = 0; i < src.length; i++) out[i] = src[i] * a - b;
      return { dtype: 'float32', shape: [...shape], data: out };
    }
    for (let i = 0; i < src.length; i++) {
      const c = i % C;
      out[i] = src[i] * scale[c] - shift[c];
    }
    return { dtype: 'float32', shape: [...shape], data: out };
  }
  const lead = shape.slice(0, -4);
  const [T, H, W] = shape.slice(-4, -1);
  const plane = T * H * W;
  const batches = src.length / (plane * C);
  for (let b = 0; b < batches; b++) {
    const base = b * plane * C;
    for (let p = 0; p < plane; p++) for (let c = 0; c < C; c++) out[base + c * plane + p] = src[base + p * C + c] * scale[c] - shift[c];
  }
  return { dtype: 'float32', shape: [...lead, C, T, H, W], data: out };
}
