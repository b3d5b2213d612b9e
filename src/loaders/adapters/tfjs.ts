/**
 * Batches as TensorFlow.js tensors. tfjs is loaded only when this adapter is called without a tf
 * module (a dynamic import), so importing avcurate/loaders never loads it. tfjs has no uint8 or
 * 64-bit dtypes: uint8 becomes int32 (or normalised float32 for frames), float64 becomes float32,
 * and 64-bit/uint32 integers become int32 after a range check.
 */
import type * as tfTypes from '@tensorflow/tfjs';
import { isNdArray, type NdArray } from '../formats/ndarray.js';
import { framesToFloat32, type FrameNormalization } from './typed.js';

export type TfModule = typeof tfTypes;
export type Tensor = tfTypes.Tensor;

export interface TensorOptions {
  /** Convert the `frames` field to normalised float32 (true: [0, 1]; or mean/std/layout). */
  normalizeFrames?: boolean | FrameNormalization;
  /** Which NdArray fields to convert (default: all). */
  fields?: readonly string[];
}

export function ndarrayToTensor(tf: TfModule, a: NdArray, what = 'array'): Tensor {
  const shape = [...a.shape];
  switch (a.dtype) {
    case 'float32':
      return tf.tensor(a.data as Float32Array, shape, 'float32');
    case 'float64':
      return tf.tensor(Float32Array.from(a.data as Float64Array), shape, 'float32');
    case 'bool':
      return tf.tensor(a.data as Uint8Array, shape, 'bool');
    case 'int32':
      return tf.tensor(a.data as Int32Array, shape, 'int32');
    case 'uint8':
    case 'int8':
    case 'uint16':
    case 'int16':
      return tf.tensor(Int32Array.from(a.data as Uint8Array), shape, 'int32');
    case 'uint32':
    case 'int64':
    case 'uint64': {
      const out = new Int32Array(a.data.length);
      for (let i = 0; i < out.length; i++) {
        const v = Number((a.data as unknown as ArrayLike<number | bigint>)[i]);
        if (v > 2147483647 || v < -2147483648) throw new RangeError(`${what}: value ${v} does not fit tfjs int32`);
        out[i] = v;
      }
      return tf.tensor(out, shape, 'int32');
    }
    default:
      throw new TypeError(`${what}: unsupported dtype ${String(a.dtype)}`);
  }
}

/** Convert the NdArray fields of a batch with a given tf module. */
export function toTensorsWith(tf: TfModule, batch: Record<string, unknown>, opts: TensorOptions = {}): Record<string, Tensor> {
  const out: Record<string, Tensor> = {};
  for (const [k, v] of Object.entries(batch)) {
    if (!isNdArray(v)) continue;
    if (opts.fields && !opts.fields.includes(k)) continue;
    if (k === 'frames' && opts.normalizeFrames) {
      const norm = opts.normalizeFrames === true ? {} : opts.normalizeFrames;
      out[k] = ndarrayToTensor(tf, framesToFloat32(v, norm), k);
    } else out[k] = ndarrayToTensor(tf, v, k);
  }
  return out;
}

/** Convert a batch to tensors, loading @tensorflow/tfjs on first use unless `tf` is given. */
export async function toTensors(batch: Record<string, unknown>, opts: TensorOptions & { tf?: TfModule } = {}): Promise<Record<string, Tensor>> {
  const tf = opts.tf ?? ((await import('@tensorflow/tfjs')) as unknown as TfModule);
  return toTensorsWith(tf, batch, opts);
}
