/**
 * augment(spec): random crop and horizontal flip of frames [T, H, W, C] (the same for every frame
 * of a clip), audio gain (dB) and time shift (zero-filled), and SpecAugment-style frequency and
 * time masking of a spectrogram field [..., time, freq] (masked cells get the spectrogram's mean).
 * Randomness per item comes from Rng.derive(seed, 'augment', epoch, position, key), position being
 * the item's index in this stage's input (part of the state): restores are exact, and a clip seen
 * again after a repeat gets a new augmentation.
 * Inputs are never modified; changed fields are new arrays.
 */
import type { Stage } from '../core/node.js';
import { mapStage } from '../stages/map.js';
import type { NdArray } from '../formats/ndarray.js';
import { Rng } from '../../runtime/random.js';

export interface AugmentSpec {
  seed: number;
  /** Random crop to this size (number: square; or [width, height]). */
  crop?: number | readonly [number, number];
  /** Probability of a horizontal flip (default 0). */
  flip?: number;
  /** Audio gain drawn uniformly in [lo, hi] dB. */
  gainDb?: readonly [number, number];
  /** Audio shifted by up to ± this many seconds (needs the item's sampleRate). */
  timeShift?: number;
  /** Spectrogram masking on `field` (default 'spec'): up to `freq` bins and `time` steps per mask. */
  specMask?: { field?: string; freq: number; time: number; count?: number };
}

export type Augmentable = { key?: string; __key__?: string; frames?: NdArray; audio?: NdArray; sampleRate?: number; [k: string]: unknown };

function cropFlip(frames: NdArray, cw: number, ch: number, x0: number, y0: number, flip: boolean): NdArray<Uint8Array> {
  const [T, H, W, C] = frames.shape;
  const src = frames.data as Uint8Array;
  const out = new Uint8Array(T * ch * cw * C);
  for (let t = 0; t < T; t++) {
    for (let y = 0; y < ch; y++) {
      const srcRow = ((t * H + y0 + y) * W + x0) * C;
      const dstRow = (t * ch + y) * cw * C;
      if (!flip) out.set(src.subarray(srcRow, srcRow + cw * C), dstRow);
      else for (let x = 0; x < cw; x++) for (let c = 0; c < C; c++) out[dstRow + x * C + c] = src[srcRow + (cw - 1 - x) * C + c];
    }
  }
  return { dtype: 'uint8', shape: [T, ch, cw, C], data: out };
}

function maskSpec(spec: NdArray, rng: Rng, m: NonNullable<AugmentSpec['specMask']>): NdArray<Float32Array> {
  const shape = spec.shape;
  const nt = shape[shape.length - 2];
  const nf = shape[shape.length - 1];
  const plane = nt * nf;
  const data = Float32Array.from(spec.data as Float32Array);
  let mean = 0;
  for (let i = 0; i < data.length; i++) mean += data[i];
  mean /= data.length || 1;
  const count = m.count ?? 1;
  for (let k = 0; k < count; k++) {
    const fw = rng.int(Math.min(m.freq, nf) + 1);
    const f0 = rng.int(nf - fw + 1);
    const tw = rng.int(Math.min(m.time, nt) + 1);
    const t0 = rng.int(nt - tw + 1);
    for (let p = 0; p < data.length; p += plane) {
      for (let t = 0; t < nt; t++) for (let f = f0; f < f0 + fw; f++) data[p + t * nf + f] = mean;
      for (let t = t0; t < t0 + tw; t++) data.fill(mean, p + t * nf, p + (t + 1) * nf);
    }
  }
  return { dtype: 'float32', shape: [...shape], data };
}

/** Augment one item (exported for use outside a pipeline). */
export function augmentItem<T extends Augmentable>(item: T, spec: AugmentSpec, epoch = 0, index = 0): T {
  const key = item.key ?? item.__key__ ?? `#${index}`;
  const rng = Rng.derive(spec.seed, 'augment', epoch, index, key);
  const out: Augmentable = { ...item };
  if (item.frames && (spec.crop !== undefined || spec.flip)) {
    const [, H, W] = item.frames.shape;
    const [cw, ch] = spec.crop === undefined ? [W, H] : typeof spec.crop === 'number' ? [spec.crop, spec.crop] : [spec.crop[0], spec.crop[1]];
    if (cw > W || ch > H) throw new RangeError(`augment: crop ${cw}x${ch} is larger than the frames (${W}x${H})`);
    const x0 = rng.int(W - cw + 1);
    const y0 = rng.int(H - ch + 1);
    const flip = rng.next() < (spec.flip ?? 0);
    out.frames = cropFlip(item.frames, cw, ch, x0, y0, flip);
  }
  if (item.audio && (spec.gainDb || spec.timeShift)) {
    const src = item.audio.data as Float32Array;
    let data = Float32Array.from(src);
    if (spec.gainDb) {
      const g = Math.pow(10, rng.uniform(spec.gainDb[0], spec.gainDb[1]) / 20);
      for (let i = 0; i < data.length; i++) data[i] = Math.max(-1, Math.min(1, data[i] * g));
    }
    if (spec.timeShift) {
      if (!item.sampleRate) throw new Error('augment: timeShift needs the item\'s sampleRate');
      const K = Math.round(spec.timeShift * item.sampleRate);
      const k = rng.int(2 * K + 1) - K;
      const shifted = new Float32Array(data.length);
      if (k >= 0) shifted.set(data.subarray(0, data.length - k), k);
      else shifted.set(data.subarray(-k));
      data = shifted;
    }
    out.audio = { dtype: 'float32', shape: [...item.audio.shape], data };
  }
  if (spec.specMask) {
    const field = spec.specMask.field ?? 'spec';
    const s = item[field] as NdArray | undefined;
    if (!s) throw new Error(`augment: specMask needs the field "${field}" (a float32 [..., time, freq] array)`);
    out[field] = maskSpec(s, rng, spec.specMask);
  }
  return out as T;
}

export function augmentStage<T extends Augmentable>(spec: AugmentSpec): Stage<T, T> {
  if (!Number.isInteger(spec.seed)) throw new RangeError(`augment: seed must be an integer, got ${spec.seed}`);
  return mapStage((x: T, i, ctx) => augmentItem(x, spec, ctx.epoch, i), { name: 'augment' });
}
