/**
 * The decoded-tensor cache: a sink that writes the fixed-shape array fields of a dataset once
 * (decoded frames, spectrograms), and a source that reads them back by row, so that many passes
 * and many trainings over the same clips decode each clip once and still run through the same
 * Dataset pipeline (shuffle, augment, batch, exact state) as clips decoded on the fly.
 *
 *   <dir>/index.json     { format: "avcurate-tensor-cache", version: 1, count, keys[],
 *                          fields: { <name>: { dtype, shape } }, fingerprint, skipped[] }
 *   <dir>/<field>.npy    [count, ...shape] C-order little-endian (NumPy reads it with
 *                        np.load(path, mmap_mode="r"))
 *
 * The writer streams: rows go straight to their place in a temporary file behind a reserved header,
 * the header with the final count is written last, then each file is renamed into place and
 * index.json is written last of all, so a cache exists only when complete. Memory is one item.
 * The source reads a small cache whole into memory once (at most `memoryBytes`, default 256 MiB),
 * a larger one row by row with one positional read per field; its state is the row position, so
 * skip and restore are O(1).
 */
import { promises as fsp } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { Dataset } from '../core/dataset.js';
import { DONE, expectKind, item, StateError, type Node, type NodeState, type StageReport } from '../core/node.js';
import { DTYPE_ARRAY, DTYPE_BYTES, isNdArray, sizeOf, type DType, type NdArray } from '../formats/ndarray.js';
import { npyHeader, parseNpyHeader } from '../formats/npy.js';
import { writeFully } from '../../runtime/atomic.js';

export const TENSOR_CACHE_FORMAT = 'avcurate-tensor-cache';
const VERSION = 1;
/** Header bytes reserved in front of a streamed .npy (rewritten with the real count at the end). */
const LARGEST_COUNT = 1e15;

export interface TensorField {
  dtype: DType;
  /** Shape of one row (without the leading count). */
  shape: number[];
}

export interface TensorCacheIndex {
  format: typeof TENSOR_CACHE_FORMAT;
  version: number;
  count: number;
  keys: string[];
  fields: Record<string, TensorField>;
  /** What the writer was told describes its input (checked by `skipIfFingerprint`). */
  fingerprint: string | null;
  /** Items the upstream pipeline dropped (e.g. undecodable clips), per stage. */
  skipped: StageReport[];
}

export interface WriteTensorCacheOptions {
  /** The array fields to store (default: every NdArray field of the first item). */
  fields?: readonly string[];
  /** Key of an item (default: its `key`, `__key__` or `id` field). */
  key?: (item: Record<string, unknown>, index: number) => string;
  /** Stored in index.json; with `reuse`, a complete cache with the same fingerprint is kept as is. */
  fingerprint?: string;
  reuse?: boolean;
  /** Called after every item written (progress). */
  onItem?: (written: number) => void;
}

export interface WriteTensorCacheResult {
  dir: string;
  index: TensorCacheIndex;
  /** True when an existing cache with the same fingerprint was kept. */
  reused: boolean;
}

function keyOf(x: Record<string, unknown>, i: number): string {
  for (const k of ['key', '__key__', 'id']) if (typeof x[k] === 'string') return x[k] as string;
  return `#${i}`;
}

/** Read and check a cache's index.json. */
export async function readTensorCacheIndex(dir: string): Promise<TensorCacheIndex> {
  const file = path.join(dir, 'index.json');
  let idx: TensorCacheIndex;
  try {
    idx = JSON.parse(await fsp.readFile(file, 'utf8')) as TensorCacheIndex;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new Error(`${file}: cannot read the tensor cache index (${code === 'ENOENT' ? 'no such file: the cache is missing or was not completed' : (err as Error).message})`);
  }
  if (idx?.format !== TENSOR_CACHE_FORMAT || idx.version !== VERSION) throw new Error(`${file}: not a tensor cache index (format "${String(idx?.format)}", version ${String(idx?.version)})`);
  if (!Array.isArray(idx.keys) || idx.keys.length !== idx.count) throw new Error(`${file}: ${String(idx.keys?.length)} keys for a count of ${idx.count}`);
  return idx;
}

/** True when `dir` holds a complete tensor cache. */
export async function isTensorCache(dir: string): Promise<boolean> {
  try {
    await readTensorCacheIndex(dir);
    return true;
  } catch {
    return false;
  }
}

/**
 * Write the array fields of every item of `ds` into a cache in `dir` (the sink). Items must agree
 * on each field's dtype and shape; one that does not stops the write with an error naming it.
 */
export async function writeTensorCache(ds: Dataset<Record<string, unknown>>, dir: string, opts: WriteTensorCacheOptions = {}): Promise<WriteTensorCacheResult> {
  if (opts.reuse && opts.fingerprint !== undefined) {
    try {
      const idx = await readTensorCacheIndex(dir);
      if (idx.fingerprint === opts.fingerprint) return { dir, index: idx, reused: true };
    } catch {
      /* absent or damaged: rewrite */
    }
  }
  await fsp.mkdir(dir, { recursive: true });
  // An older index would describe files that are about to change: remove it first.
  await fsp.rm(path.join(dir, 'index.json'), { force: true });
  const tag = `.tmp-${process.pid}-${Date.now().toString(36)}`;
  const files = new Map<string, { fh: FileHandle; tmp: string; field: TensorField; rowBytes: number; reserve: number }>();
  const keys: string[] = [];
  const it = ds.iterator();
  let closed = false;
  try {
    for (;;) {
      const r = await it.next();
      if (r.done) break;
      const x = r.value;
      const i = keys.length;
      const key = (opts.key ?? keyOf)(x, i);
      if (files.size === 0) {
        const names = opts.fields ?? Object.keys(x).filter((k) => isNdArray(x[k]));
        if (names.length === 0) throw new Error(`tensor cache ${dir}: item ${key} has no array fields to store`);
        for (const name of names) {
          const a = x[name];
          if (!isNdArray(a)) throw new Error(`tensor cache ${dir}: item ${key} has no array field "${name}"`);
          if (!/^[A-Za-z0-9_-]+$/.test(name)) throw new Error(`tensor cache ${dir}: field name "${name}" is not usable as a file name`);
          const field: TensorField = { dtype: a.dtype, shape: [...a.shape] };
          const reserve = npyHeader(a.dtype, [LARGEST_COUNT, ...a.shape]).length;
          const tmp = path.join(dir, `${name}.npy${tag}`);
          files.set(name, { fh: await fsp.open(tmp, 'w'), tmp, field, rowBytes: sizeOf(a.shape) * DTYPE_BYTES[a.dtype], reserve });
        }
      }
      for (const [name, f] of files) {
        const a = x[name] as NdArray | undefined;
        if (!isNdArray(a) || a.dtype !== f.field.dtype || a.shape.length !== f.field.shape.length || a.shape.some((d, k) => d !== f.field.shape[k])) {
          const got = isNdArray(a) ? `${a.dtype} [${a.shape.join(', ')}]` : 'no array';
          throw new Error(`tensor cache ${dir}: item ${key}: field "${name}" is ${got}, the cache holds ${f.field.dtype} [${f.field.shape.join(', ')}]`);
        }
        const bytes = Buffer.from(a.data.buffer, a.data.byteOffset, a.data.byteLength);
        await writeFully(f.fh, bytes, f.reserve + i * f.rowBytes);
      }
      keys.push(key);
      opts.onItem?.(keys.length);
    }
    const skipped = it.reports().filter((s) => s.skipped > 0);
    await it.close();
    closed = true;
    const fields: Record<string, TensorField> = {};
    for (const [name, f] of files) {
      await writeFully(f.fh, npyHeader(f.field.dtype, [keys.length, ...f.field.shape], f.reserve).subarray(0, f.reserve), 0);
      await f.fh.truncate(f.reserve + keys.length * f.rowBytes);
      await f.fh.sync();
      await f.fh.close();
      await fsp.rename(f.tmp, path.join(dir, `${name}.npy`));
      fields[name] = f.field;
    }
    files.clear();
    const index: TensorCacheIndex = { format: TENSOR_CACHE_FORMAT, version: VERSION, count: keys.length, keys, fields, fingerprint: opts.fingerprint ?? null, skipped };
    const tmpIndex = path.join(dir, `index.json${tag}`);
    await fsp.writeFile(tmpIndex, JSON.stringify(index));
    const h = await fsp.open(tmpIndex, 'r+');
    await h.sync();
    await h.close();
    await fsp.rename(tmpIndex, path.join(dir, 'index.json'));
    return { dir, index, reused: false };
  } finally {
    if (!closed) await it.close();
    for (const f of files.values()) {
      await f.fh.close().catch(() => undefined);
      await fsp.rm(f.tmp, { force: true });
    }
  }
}

export interface TensorCacheOptions {
  /** Only these keys, in this order (an unknown key is an error naming it). Default: all rows. */
  keys?: readonly string[];
  /** Only these fields (default: all). */
  fields?: readonly string[];
  /**
   * Read the files whole into memory once (shared by every iterator of this dataset) when their
   * data is at most this many bytes, else read each row from disk (default 256 MiB).
   */
  memoryBytes?: number;
  /**
   * Rows of a cache read into memory come back as views of that memory instead of copies (no copy
   * and no allocation per row). An item must then never be written to: it would change the cache
   * for every later read. Default false; clipPipeline sets it, since it batches (copies) every
   * item and its augment stage writes only to new arrays.
   */
  views?: boolean;
}

/** One row of a cache: its key and one NdArray per field. */
export type CachedItem = { key: string } & Record<string, NdArray | string>;

interface OpenField {
  name: string;
  file: string;
  field: TensorField;
  offset: number;
  rowBytes: number;
  /** The whole data section, when the cache is read into memory. */
  data?: Uint8Array;
}

class TensorCacheNode implements Node<CachedItem> {
  private index = 0;
  private handles: Map<string, FileHandle> | null = null;
  constructor(private readonly dir: string, private readonly fields: OpenField[], private readonly rows: Int32Array, private readonly keys: readonly string[], private readonly views: boolean) {}

  private async open(): Promise<Map<string, FileHandle>> {
    if (!this.handles) {
      const m = new Map<string, FileHandle>();
      try {
        for (const f of this.fields) m.set(f.name, await fsp.open(f.file, 'r'));
      } catch (err) {
        for (const h of m.values()) await h.close();
        throw err;
      }
      this.handles = m;
    }
    return this.handles;
  }

  async next(): Promise<IteratorResult<CachedItem, undefined>> {
    if (this.index >= this.rows.length) {
      await this.close();
      return DONE;
    }
    const row = this.rows[this.index];
    const out: Record<string, NdArray | string> = { key: this.keys[row] };
    for (const f of this.fields) {
      const Ctor = DTYPE_ARRAY[f.field.dtype];
      const n = sizeOf(f.field.shape);
      if (f.data && this.views && f.data.byteOffset % DTYPE_BYTES[f.field.dtype] === 0) {
        // Row offsets are multiples of the element size, so an aligned data section gives aligned rows.
        out[f.name] = { dtype: f.field.dtype, shape: [...f.field.shape], data: new Ctor(f.data.buffer, f.data.byteOffset + row * f.rowBytes, n) };
        continue;
      }
      // Every byte is written below: no zero fill.
      const raw = Buffer.allocUnsafeSlow(f.rowBytes);
      const data = new Ctor(raw.buffer, raw.byteOffset, n);
      const view = new Uint8Array(raw.buffer, raw.byteOffset, f.rowBytes);
      if (f.data) view.set(f.data.subarray(row * f.rowBytes, (row + 1) * f.rowBytes));
      else {
        const handles = await this.open();
        const { bytesRead } = await handles.get(f.name)!.read(view, 0, f.rowBytes, f.offset + row * f.rowBytes);
        if (bytesRead !== f.rowBytes) throw new Error(`${f.file}: row ${row} (${this.keys[row]}) is truncated: ${bytesRead} of ${f.rowBytes} bytes`);
      }
      out[f.name] = { dtype: f.field.dtype, shape: [...f.field.shape], data };
    }
    this.index++;
    return item(out as CachedItem);
  }

  async skip(n: number): Promise<number> {
    const k = Math.max(0, Math.min(n, this.rows.length - this.index));
    this.index += k;
    return k;
  }

  getState(): NodeState {
    return { kind: 'tensor-cache', index: this.index, rows: this.rows.length };
  }

  restore(state: NodeState): void {
    expectKind(state, 'tensor-cache');
    if (state.rows !== this.rows.length) throw new StateError('tensor-cache', `the state is for ${String(state.rows)} rows, this source (${this.dir}) has ${this.rows.length}`);
    this.index = Number(state.index);
  }

  reports(): StageReport[] {
    return [];
  }

  async close(): Promise<void> {
    const h = this.handles;
    this.handles = null;
    if (h) for (const fh of h.values()) await fh.close();
  }
}

/**
 * A dataset over the rows of a tensor cache (the source): items `{ key, <field>: NdArray }` in
 * cache order, or in the order of `opts.keys`. The files are checked against the index (dtype,
 * shape, size) before anything is read.
 */
export async function fromTensorCache(dir: string, opts: TensorCacheOptions = {}): Promise<Dataset<CachedItem>> {
  const idx = await readTensorCacheIndex(dir);
  const names = opts.fields ?? Object.keys(idx.fields);
  const fields: OpenField[] = [];
  for (const name of names) {
    const field = idx.fields[name];
    if (!field) throw new Error(`tensor cache ${dir}: no field "${name}" (it holds ${Object.keys(idx.fields).join(', ')})`);
    const file = path.join(dir, `${name}.npy`);
    const fh = await fsp.open(file, 'r').catch((err: NodeJS.ErrnoException) => {
      throw new Error(`${file}: cannot open (${err.code ?? err.message})`);
    });
    try {
      const head = Buffer.alloc(4096);
      const { bytesRead } = await fh.read(head, 0, head.length, 0);
      const h = parseNpyHeader(head.subarray(0, bytesRead), file);
      const want = [idx.count, ...field.shape];
      if (h.dtype !== field.dtype || h.order === '>' || h.shape.length !== want.length || h.shape.some((d, k) => d !== want[k])) {
        throw new Error(`${file}: holds ${h.dtype} [${h.shape.join(', ')}], index.json says ${field.dtype} [${want.join(', ')}]`);
      }
      const rowBytes = sizeOf(field.shape) * DTYPE_BYTES[field.dtype];
      const size = (await fh.stat()).size;
      if (size < h.dataOffset + idx.count * rowBytes) throw new Error(`${file}: truncated: ${size} bytes, ${h.dataOffset + idx.count * rowBytes} expected for ${idx.count} rows`);
      fields.push({ name, file, field, offset: h.dataOffset, rowBytes });
    } finally {
      await fh.close();
    }
  }
  // Small caches (the experiment's) are read whole once: rows are then plain copies.
  const total = fields.reduce((a, f) => a + idx.count * f.rowBytes, 0);
  if (total <= (opts.memoryBytes ?? 256 * 1024 * 1024)) {
    for (const f of fields) {
      const buf = await fsp.readFile(f.file);
      f.data = new Uint8Array(buf.buffer, buf.byteOffset + f.offset, idx.count * f.rowBytes);
    }
  }
  let rows: Int32Array;
  if (opts.keys) {
    const pos = new Map(idx.keys.map((k, i) => [k, i]));
    const missing = opts.keys.filter((k) => !pos.has(k));
    if (missing.length > 0) throw new Error(`tensor cache ${dir}: ${missing.length} key(s) not in the cache, e.g. ${missing.slice(0, 3).join(', ')}`);
    rows = Int32Array.from(opts.keys, (k) => pos.get(k)!);
  } else rows = Int32Array.from({ length: idx.count }, (_, i) => i);
  const keys = idx.keys;
  const views = opts.views ?? false;
  return new Dataset<CachedItem>(() => new TensorCacheNode(dir, fields, rows, keys, views), rows.length);
}
