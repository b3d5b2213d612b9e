/**
 * NumPy .npy files. The writer produces format version 1.0 (version 2.0 when the header would not
 * fit in 65535 bytes): magic, version, little-endian header length, a Python dict literal with
 * descr / fortran_order / shape, padded with spaces and a newline to a multiple of 64 bytes, then
 * the C-order little-endian data. The reader accepts versions 1-3, little- and big-endian data
 * (big-endian is byte-swapped into a copy), and refuses Fortran order and object arrays.
 */
import { DTYPE_ARRAY, DTYPE_BYTES, sizeOf, type DType, type NdArray, type TypedArray } from './ndarray.js';

const MAGIC = Buffer.from([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]); // \x93NUMPY

const DESCR: Record<DType, string> = {
  bool: '|b1', uint8: '|u1', int8: '|i1', uint16: '<u2', int16: '<i2', uint32: '<u4', int32: '<i4',
  float32: '<f4', float64: '<f8', int64: '<i8', uint64: '<u8',
};

const FROM_DESCR: Record<string, DType> = {
  b1: 'bool', u1: 'uint8', i1: 'int8', u2: 'uint16', i2: 'int16', u4: 'uint32', i4: 'int32',
  f4: 'float32', f8: 'float64', i8: 'int64', u8: 'uint64',
};

export class NpyError extends Error {
  constructor(what: string, detail: string) {
    super(`${what}: not a valid .npy (${detail})`);
    this.name = 'NpyError';
  }
}

function shapeLiteral(shape: readonly number[]): string {
  if (shape.length === 0) return '()';
  if (shape.length === 1) return `(${shape[0]},)`;
  return `(${shape.join(', ')})`;
}

/**
 * The .npy header for an array of `dtype` and `shape`, padded with spaces to a multiple of 64
 * bytes and at least `minLength` bytes (a writer that streams rows reserves the header of the
 * largest count it may write, then rewrites it with the real shape at the same length).
 */
export function npyHeader(dtype: DType, shape: readonly number[], minLength = 0): Buffer {
  const dict = `{'descr': '${DESCR[dtype]}', 'fortran_order': False, 'shape': ${shapeLiteral(shape)}, }`;
  let version = 1;
  let prefix = 10;
  let total = Math.max(minLength, Math.ceil((prefix + dict.length + 1) / 64) * 64);
  if (total - prefix > 0xffff) {
    version = 2;
    prefix = 12;
    total = Math.max(minLength, Math.ceil((prefix + dict.length + 1) / 64) * 64);
  }
  if (total % 64 !== 0) throw new RangeError(`npyHeader: length ${total} is not a multiple of 64`);
  const header = Buffer.alloc(total, 0x20);
  MAGIC.copy(header, 0);
  header[6] = version;
  header[7] = 0;
  if (version === 1) header.writeUInt16LE(total - prefix, 8);
  else header.writeUInt32LE(total - prefix, 8);
  header.write(dict, prefix, 'latin1');
  header[total - 1] = 0x0a;
  return header;
}

/** Encode an array as .npy bytes. */
export function encodeNpy(arr: NdArray): Buffer {
  const n = sizeOf(arr.shape);
  if (arr.data.length !== n) throw new RangeError(`encodeNpy: shape [${arr.shape.join(', ')}] needs ${n} elements, the data has ${arr.data.length}`);
  const header = npyHeader(arr.dtype, arr.shape);
  const data = Buffer.from(arr.data.buffer, arr.data.byteOffset, arr.data.byteLength);
  return Buffer.concat([header, data]);
}

function parseHeaderDict(text: string, what: string): { descr: string; fortran: boolean; shape: number[] } {
  const descr = /['"]descr['"]\s*:\s*['"]([^'"]+)['"]/.exec(text)?.[1];
  const fortran = /['"]fortran_order['"]\s*:\s*(True|False)/.exec(text)?.[1];
  const shapeText = /['"]shape['"]\s*:\s*\(([^)]*)\)/.exec(text)?.[1];
  if (descr === undefined || fortran === undefined || shapeText === undefined) throw new NpyError(what, `unreadable header ${JSON.stringify(text.slice(0, 120))}`);
  const shape = shapeText.split(',').map((s) => s.trim()).filter((s) => s !== '').map((s) => {
    const v = Number(s.replace(/L$/, ''));
    if (!Number.isInteger(v) || v < 0) throw new NpyError(what, `bad dimension "${s}"`);
    return v;
  });
  return { descr, fortran: fortran === 'True', shape };
}

export interface NpyHeader {
  dtype: DType;
  shape: number[];
  /** '<' little-endian (or single byte), '>' big-endian. */
  order: string;
  /** Byte offset of the data. */
  dataOffset: number;
}

/** Parse the header at the start of `bytes` (enough bytes for the whole header). */
export function parseNpyHeader(bytes: Uint8Array, what = '.npy'): NpyHeader {
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (buf.length < 10 || !buf.subarray(0, 6).equals(MAGIC)) throw new NpyError(what, 'bad magic');
  const major = buf[6];
  let headerLen: number;
  let start: number;
  if (major === 1) {
    headerLen = buf.readUInt16LE(8);
    start = 10;
  } else if (major === 2 || major === 3) {
    if (buf.length < 12) throw new NpyError(what, 'truncated header');
    headerLen = buf.readUInt32LE(8);
    start = 12;
  } else throw new NpyError(what, `unsupported version ${major}.${buf[7]}`);
  if (start + headerLen > buf.length) throw new NpyError(what, 'truncated header');
  const text = buf.toString(major === 3 ? 'utf8' : 'latin1', start, start + headerLen);
  const { descr, fortran, shape } = parseHeaderDict(text, what);
  if (fortran) throw new NpyError(what, 'Fortran-order arrays are not supported');
  const order = descr[0];
  const dtype = FROM_DESCR[descr.slice(1)];
  if (!dtype || !'<>|='.includes(order)) throw new NpyError(what, `unsupported dtype "${descr}"`);
  return { dtype, shape, order, dataOffset: start + headerLen };
}

/** Decode .npy bytes. The result views `bytes` when the data is aligned and little-endian. */
export function decodeNpy(bytes: Uint8Array, what = '.npy'): NdArray {
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const { dtype, shape, order, dataOffset } = parseNpyHeader(bytes, what);
  const n = sizeOf(shape);
  const width = DTYPE_BYTES[dtype];
  const dataStart = dataOffset;
  const need = n * width;
  if (buf.length - dataStart < need) throw new NpyError(what, `truncated data: ${buf.length - dataStart} of ${need} bytes`);
  const Ctor = DTYPE_ARRAY[dtype];
  const abs = buf.byteOffset + dataStart;
  let data: TypedArray;
  if (order === '>' && width > 1) {
    const copy = Buffer.from(buf.subarray(dataStart, dataStart + need));
    if (width === 2) copy.swap16();
    else if (width === 4) copy.swap32();
    else copy.swap64();
    data = new Ctor(copy.buffer, copy.byteOffset, n);
  } else if (abs % width === 0) {
    data = new Ctor(buf.buffer, abs, n);
  } else {
    const copy = new Ctor(n);
    new Uint8Array(copy.buffer).set(buf.subarray(dataStart, dataStart + need));
    data = copy;
  }
  return { dtype, shape, data };
}
