/** A typed array with a shape and a dtype: what .npy members, decoded clips and batches carry. */
export type DType = 'bool' | 'uint8' | 'int8' | 'uint16' | 'int16' | 'uint32' | 'int32' | 'float32' | 'float64' | 'int64' | 'uint64';

export type TypedArray =
  | Uint8Array
  | Int8Array
  | Uint16Array
  | Int16Array
  | Uint32Array
  | Int32Array
  | Float32Array
  | Float64Array
  | BigInt64Array
  | BigUint64Array;

export interface NdArray<D extends TypedArray = TypedArray> {
  readonly dtype: DType;
  readonly shape: readonly number[];
  readonly data: D;
}

export const DTYPE_BYTES: Record<DType, number> = {
  bool: 1, uint8: 1, int8: 1, uint16: 2, int16: 2, uint32: 4, int32: 4, float32: 4, float64: 8, int64: 8, uint64: 8,
};

type Ctor = { new (n: number): TypedArray; new (buf: ArrayBufferLike, off: number, n: number): TypedArray };

export const DTYPE_ARRAY: Record<DType, Ctor> = {
  bool: Uint8Array, uint8: Uint8Array, int8: Int8Array, uint16: Uint16Array, int16: Int16Array, uint32: Uint32Array,
  int32: Int32Array, float32: Float32Array, float64: Float64Array, int64: BigInt64Array, uint64: BigUint64Array,
} as unknown as Record<DType, Ctor>;

export function sizeOf(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

export function isNdArray(x: unknown): x is NdArray {
  return Boolean(x) && typeof x === 'object' && Array.isArray((x as NdArray).shape) && ArrayBuffer.isView((x as NdArray).data) && typeof (x as NdArray).dtype === 'string';
}

export function ndarray<D extends TypedArray>(dtype: DType, shape: readonly number[], data: D): NdArray<D> {
  const n = sizeOf(shape);
  if (data.length !== n) throw new RangeError(`ndarray: shape [${shape.join(', ')}] needs ${n} elements, the data has ${data.length}`);
  return { dtype, shape: [...shape], data };
}

/** The dtype of a typed array (Uint8Array is uint8). */
export function dtypeOf(data: TypedArray): DType {
  if (data instanceof Uint8Array) return 'uint8';
  if (data instanceof Int8Array) return 'int8';
  if (data instanceof Uint16Array) return 'uint16';
  if (data instanceof Int16Array) return 'int16';
  if (data instanceof Uint32Array) return 'uint32';
  if (data instanceof Int32Array) return 'int32';
  if (data instanceof Float32Array) return 'float32';
  if (data instanceof Float64Array) return 'float64';
  if (data instanceof BigInt64Array) return 'int64';
  if (data instanceof BigUint64Array) return 'uint64';
  throw new TypeError('unsupported typed array');
}

/** Stack equal-shaped arrays into one with a leading batch axis. */
export function stack(arrays: readonly NdArray[], what = 'array'): NdArray {
  if (arrays.length === 0) throw new RangeError(`stack ${what}: nothing to stack`);
  const first = arrays[0];
  const n = first.data.length;
  // Every element is written below, so the batch skips the zero fill a typed-array constructor
  // does (a memset as large as the copy): its own uninitialised ArrayBuffer, viewed as the dtype.
  const Ctor = DTYPE_ARRAY[first.dtype];
  const raw = Buffer.allocUnsafeSlow(n * arrays.length * DTYPE_BYTES[first.dtype]);
  const out = new Ctor(raw.buffer, raw.byteOffset, n * arrays.length);
  arrays.forEach((a, i) => {
    if (a.dtype !== first.dtype || a.shape.length !== first.shape.length || a.shape.some((d, k) => d !== first.shape[k])) {
      throw new RangeError(`cannot batch ${what}: item ${i} is ${a.dtype}[${a.shape.join(', ')}], item 0 is ${first.dtype}[${first.shape.join(', ')}]`);
    }
    (out as Uint8Array).set(a.data as Uint8Array, i * n);
  });
  return { dtype: first.dtype, shape: [arrays.length, ...first.shape], data: out };
}
