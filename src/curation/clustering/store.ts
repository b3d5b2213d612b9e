/**
 * clusters.h5: the output of the clustering stage.
 *
 * Layout (HDF5, written with h5wasm):
 *   /ids                     vlen utf-8 strings [N]        clip ids, in manifest order
 *   /labels                  int32 [N, D]                  row i = the D cluster labels of clip i
 *   /clusterings/<d>         group per clustering d = 0..D-1 (column d of labels), attributes:
 *       modality  'audio' | 'visual'
 *       layer     string
 *       k         int32
 *       inertia   float64   (sum of squared distances of the assigned points to their centroid,
 *                            in the space the centroids live in: after L2/PCA when enabled)
 *       iterations int32    (Lloyd iterations run by the kept restart)
 *   /clusterings/<d>/centroids  float32 [k, dim]
 * File attributes: format = 'avcurate.clusters', version = 1, n, d.
 *
 * A label of -1 means "not assigned" (never written by the stage for a clip it kept; reserved).
 */
import { existsSync, openSync, readSync, closeSync } from 'node:fs';
import { produceFileAtomic } from '../../runtime/atomic.js';
import { loadH5 } from '../../runtime/h5.js';

const HDF5_SIGNATURE = Buffer.from([0x89, 0x48, 0x44, 0x46, 0x0d, 0x0a, 0x1a, 0x0a]);

/** True when the file starts with the HDF5 signature (checked before h5wasm opens it). */
export function hasHdf5Signature(file: string): boolean {
  const fd = openSync(file, 'r');
  try {
    const buf = Buffer.alloc(8);
    return readSync(fd, buf, 0, 8, 0) === 8 && buf.equals(HDF5_SIGNATURE);
  } finally {
    closeSync(fd);
  }
}

export type Modality = 'audio' | 'visual';

export interface ClusteringInfo {
  modality: Modality;
  layer: string;
  k: number;
  dim: number;
  /** float32 [k, dim] row-major. */
  centroids: Float32Array;
  inertia: number;
  iterations: number;
}

export interface ClusterFile {
  ids: string[];
  /** int32 [n, d] row-major: labels[i * d + j] is clip i's cluster in clustering j. */
  labels: Int32Array;
  n: number;
  d: number;
  clusterings: ClusteringInfo[];
  /** Extra file attributes (strings or numbers), e.g. the model fingerprint. */
  attrs?: Record<string, string | number>;
}

export const CLUSTERS_FORMAT = 'avcurate.clusters';
export const CLUSTERS_VERSION = 1;
const RESERVED_ATTRS = new Set(['format', 'version', 'n', 'd']);

function plainAttrs(obj: { attrs: Record<string, { value: unknown }> }): Record<string, string | number> {
  const out: Record<string, string | number> = {};
  for (const [key, a] of Object.entries(obj.attrs)) {
    if (RESERVED_ATTRS.has(key)) continue;
    let v = a.value;
    if (ArrayBuffer.isView(v) || Array.isArray(v)) v = (v as unknown as ArrayLike<unknown>)[0];
    if (typeof v === 'bigint') out[key] = Number(v);
    else if (typeof v === 'number' || typeof v === 'string') out[key] = v;
  }
  return out;
}

/** Only the file attributes of a clusters file (n, d and the extra attributes); reads no dataset. */
export async function readClustersAttrs(path: string): Promise<{ n: number; d: number; attrs: Record<string, string | number> }> {
  const h5 = await loadH5();
  if (!existsSync(path)) throw new Error(`${path}: no such clusters file`);
  if (!hasHdf5Signature(path)) throw new Error(`${path}: not an HDF5 file (no HDF5 signature)`);
  const f = new h5.File(path, 'r');
  try {
    const fmt = f.attrs['format'] ? attrString(f, 'format', path) : '';
    if (fmt !== CLUSTERS_FORMAT) throw new Error(`${path}: not a clusters file (format attribute '${fmt}')`);
    return { n: attrNumber(f, 'n', path), d: attrNumber(f, 'd', path), attrs: plainAttrs(f) };
  } finally {
    f.close();
  }
}

export { loadH5 } from '../../runtime/h5.js';

/** The attributes every clustering group carries, in clusters.h5 and in clusters.model.h5. */
export function writeClusteringAttrs(
  group: { create_attribute: (name: string, value: string | number, shape?: null, dtype?: string) => unknown },
  c: { modality: string; layer: string; k: number; dim: number; inertia: number; iterations: number },
): void {
  group.create_attribute('modality', c.modality);
  group.create_attribute('layer', c.layer);
  group.create_attribute('k', c.k, null, '<i');
  group.create_attribute('dim', c.dim, null, '<i');
  group.create_attribute('inertia', c.inertia, null, '<d');
  group.create_attribute('iterations', c.iterations, null, '<i');
}

function validate(c: ClusterFile): void {
  if (c.ids.length !== c.n) throw new Error(`clusters: ${c.ids.length} ids but n = ${c.n}`);
  if (c.clusterings.length !== c.d) throw new Error(`clusters: ${c.clusterings.length} clusterings but d = ${c.d}`);
  if (c.labels.length !== c.n * c.d) throw new Error(`clusters: labels has ${c.labels.length} values, expected n*d = ${c.n * c.d}`);
  for (const [j, cl] of c.clusterings.entries()) {
    if (cl.modality !== 'audio' && cl.modality !== 'visual') throw new Error(`clusters: clustering ${j} has modality '${cl.modality}'`);
    if (!Number.isInteger(cl.k) || cl.k < 1) throw new Error(`clusters: clustering ${j} has k = ${cl.k}`);
    if (cl.centroids.length !== cl.k * cl.dim) {
      throw new Error(`clusters: clustering ${j} centroids has ${cl.centroids.length} values, expected k*dim = ${cl.k * cl.dim}`);
    }
  }
  for (let i = 0; i < c.labels.length; i++) {
    const lab = c.labels[i];
    const k = c.clusterings[i % c.d].k;
    if (lab < -1 || lab >= k) throw new Error(`clusters: clip ${c.ids[Math.floor(i / c.d)]} has label ${lab} in clustering ${i % c.d} (k = ${k})`);
  }
}

/** Write clusters.h5 atomically (a reader sees the old file or the complete new one). */
export async function writeClusters(path: string, c: ClusterFile): Promise<void> {
  validate(c);
  const h5 = await loadH5();
  await produceFileAtomic(path, (tmp) => {
    const f = new h5.File(tmp, 'w');
    try {
      f.create_attribute('format', CLUSTERS_FORMAT);
      f.create_attribute('version', CLUSTERS_VERSION, null, '<i');
      f.create_attribute('n', c.n, null, '<i');
      f.create_attribute('d', c.d, null, '<i');
      for (const [key, v] of Object.entries(c.attrs ?? {})) {
        if (RESERVED_ATTRS.has(key)) throw new Error(`clusters: attribute '${key}' is reserved`);
        if (typeof v === 'number') f.create_attribute(key, v, null, Number.isInteger(v) ? '<i8' : '<d');
        else f.create_attribute(key, String(v));
      }
      // Variable-length UTF-8 strings; an empty list still gets a dataset of shape [0].
      f.create_dataset({ name: 'ids', data: c.ids, shape: [c.n], dtype: 'S' });
      f.create_dataset({ name: 'labels', data: c.labels, shape: [c.n, c.d], dtype: '<i' });
      const g = f.create_group('clusterings');
      c.clusterings.forEach((cl, j) => {
        const cg = g.create_group(String(j));
        writeClusteringAttrs(cg, cl);
        cg.create_dataset({ name: 'centroids', data: cl.centroids, shape: [cl.k, cl.dim], dtype: '<f' });
      });
    } finally {
      f.close();
    }
  });
}

function attrNumber(obj: { attrs: Record<string, { value: unknown }> }, name: string, where: string): number {
  const a = obj.attrs[name];
  if (!a) throw new Error(`${where}: missing attribute '${name}'`);
  const v = a.value;
  const x = typeof v === 'bigint' ? Number(v) : typeof v === 'number' ? v : ArrayBuffer.isView(v) ? Number((v as unknown as ArrayLike<number>)[0]) : NaN;
  if (!Number.isFinite(x)) throw new Error(`${where}: attribute '${name}' is not a number`);
  return x;
}

function attrString(obj: { attrs: Record<string, { value: unknown }> }, name: string, where: string): string {
  const a = obj.attrs[name];
  if (!a) throw new Error(`${where}: missing attribute '${name}'`);
  const v = a.value;
  if (typeof v === 'string') return v;
  if (Array.isArray(v) && typeof v[0] === 'string') return v[0];
  throw new Error(`${where}: attribute '${name}' is not a string`);
}

type H5 = Awaited<ReturnType<typeof loadH5>>;
interface OpenClusters {
  h5: H5;
  f: InstanceType<H5['File']>;
  n: number;
  d: number;
  idsDs: InstanceType<H5['Dataset']>;
  labDs: InstanceType<H5['Dataset']>;
}

/**
 * Open a clusters file for reading, check its signature, format attribute, sizes and datasets
 * (errors name the file and what is wrong), run `fn`, and close the file.
 */
async function withClustersFile<T>(path: string, fn: (c: OpenClusters) => Promise<T>): Promise<T> {
  const h5 = await loadH5();
  if (!existsSync(path)) throw new Error(`${path}: no such clusters file`);
  if (!hasHdf5Signature(path)) throw new Error(`${path}: not an HDF5 file (no HDF5 signature)`);
  let f: InstanceType<typeof h5.File>;
  try {
    f = new h5.File(path, 'r');
  } catch (err) {
    throw new Error(`${path}: not a readable HDF5 file (${(err as Error).message})`);
  }
  try {
    const fmt = f.attrs['format'] ? attrString(f, 'format', path) : '';
    if (fmt !== CLUSTERS_FORMAT) throw new Error(`${path}: not a clusters file (format attribute '${fmt}')`);
    const n = attrNumber(f, 'n', path);
    const d = attrNumber(f, 'd', path);
    const idsDs = f.get('ids') as InstanceType<typeof h5.Dataset> | null;
    if (!idsDs) throw new Error(`${path}: missing dataset 'ids'`);
    const labDs = f.get('labels') as InstanceType<typeof h5.Dataset> | null;
    if (!labDs) throw new Error(`${path}: missing dataset 'labels'`);
    return await fn({ h5, f, n, d, idsDs, labDs });
  } finally {
    f.close();
  }
}

/**
 * A clusters file read in row blocks (for the streaming merge: memory follows the block, not the
 * file): `visit` gets each block's ids and, unless `idsOnly`, its labels [m, d]. Returns n, d and
 * each clustering's inertia.
 */
export async function readClustersRows(
  path: string,
  visit: (ids: string[], labels: Int32Array | null) => void | Promise<void>,
  opts: { idsOnly?: boolean; block?: number } = {},
): Promise<{ n: number; d: number; inertia: number[] }> {
  return withClustersFile(path, async ({ h5, f, n, d, idsDs, labDs }) => {
    const inertia: number[] = [];
    for (let j = 0; j < d; j++) {
      const where = `${path}: clusterings/${j}`;
      const g = f.get(`clusterings/${j}`) as InstanceType<typeof h5.Group> | null;
      if (!g) throw new Error(`${where}: missing group`);
      inertia.push(attrNumber(g, 'inertia', where));
    }
    const block = opts.block ?? 1 << 16;
    for (let a = 0; a < n; a += block) {
      const b = Math.min(n, a + block);
      const v = idsDs.slice([[a, b]]);
      const ids = Array.isArray(v) ? (v as unknown[]).map(String) : b - a === 1 && typeof v === 'string' ? [v] : null;
      if (!ids || ids.length !== b - a) throw new Error(`${path}: dataset 'ids' does not hold ${n} strings`);
      let labels: Int32Array | null = null;
      if (!opts.idsOnly && d > 0) {
        const l = labDs.slice([[a, b], [0, d]]);
        if (!(l instanceof Int32Array) || l.length !== (b - a) * d) throw new Error(`${path}: dataset 'labels' is not int32 [${n}, ${d}]`);
        labels = new Int32Array(l);
      }
      await visit(ids, labels ?? (opts.idsOnly ? null : new Int32Array(0)));
    }
    return { n, d, inertia };
  });
}

/** Read clusters.h5 written by writeClusters. Errors name the file and what is wrong. */
export async function readClusters(path: string): Promise<ClusterFile> {
  return withClustersFile(path, async ({ h5, f, n, d, idsDs, labDs }) => {
    const idsVal = n === 0 ? [] : idsDs.value;
    const ids = Array.isArray(idsVal) ? (idsVal as unknown[]).map(String) : n === 1 && typeof idsVal === 'string' ? [idsVal] : null;
    if (!ids || ids.length !== n) throw new Error(`${path}: dataset 'ids' does not hold ${n} strings`);
    const labVal = n * d === 0 ? new Int32Array(0) : labDs.value;
    if (!(labVal instanceof Int32Array) || labVal.length !== n * d) throw new Error(`${path}: dataset 'labels' is not int32 [${n}, ${d}]`);
    const labels = new Int32Array(labVal);
    const clusterings: ClusteringInfo[] = [];
    for (let j = 0; j < d; j++) {
      const where = `${path}: clusterings/${j}`;
      const g = f.get(`clusterings/${j}`) as InstanceType<typeof h5.Group> | null;
      if (!g) throw new Error(`${where}: missing group`);
      const modality = attrString(g, 'modality', where);
      if (modality !== 'audio' && modality !== 'visual') throw new Error(`${where}: modality '${modality}' is not audio or visual`);
      const k = attrNumber(g, 'k', where);
      const cds = g.get('centroids') as InstanceType<typeof h5.Dataset> | null;
      if (!cds) throw new Error(`${where}: missing dataset 'centroids'`);
      const shape = cds.shape ?? [];
      const cv = cds.value;
      if (!(cv instanceof Float32Array) || shape.length !== 2 || shape[0] !== k) throw new Error(`${where}: centroids is not float32 [${k}, dim]`);
      const dim = g.attrs['dim'] ? attrNumber(g, 'dim', where) : shape[1];
      if (dim !== shape[1]) throw new Error(`${where}: dim attribute ${dim} does not match centroids width ${shape[1]}`);
      clusterings.push({
        modality,
        layer: attrString(g, 'layer', where),
        k,
        dim,
        centroids: new Float32Array(cv),
        inertia: attrNumber(g, 'inertia', where),
        iterations: attrNumber(g, 'iterations', where),
      });
    }
    return { ids, labels, n, d, clusterings, attrs: plainAttrs(f) };
  });
}

/**
 * Write a clusters file row block by row block, in memory independent of the number of clips: the
 * size (n) and the longest id (in UTF-8 bytes) are known beforehand, ids are stored as fixed-length
 * strings (readClusters reads them like the variable-length ones), labels in chunks. The file
 * appears at `path` only when `finish` succeeds (temp file + rename); `abort` removes the temp file.
 */
export class ClustersWriter {
  private rows = 0;
  private constructor(
    private readonly file: InstanceType<Awaited<ReturnType<typeof loadH5>>['File']>,
    private readonly ids: InstanceType<Awaited<ReturnType<typeof loadH5>>['Dataset']>,
    private readonly labels: InstanceType<Awaited<ReturnType<typeof loadH5>>['Dataset']>,
    private readonly tmp: string,
    private readonly target: string,
    private readonly meta: Omit<ClusterFile, 'ids' | 'labels'>,
  ) {}

  static async open(target: string, meta: Omit<ClusterFile, 'ids' | 'labels'>, idBytes: number): Promise<ClustersWriter> {
    if (meta.n < 1) throw new Error('clusters: the streaming writer needs at least one clip (use writeClusters)');
    // The clusterings are checked as writeClusters does; the rows as they are appended.
    validate({ ...meta, n: 0, ids: [], labels: new Int32Array(0) });
    const h5 = await loadH5();
    const { mkdir } = await import('node:fs/promises');
    const pathMod = await import('node:path');
    await mkdir(pathMod.dirname(target), { recursive: true });
    const { tempPathFor } = await import('../../runtime/atomic.js');
    const tmp = tempPathFor(target);
    const f = new h5.File(tmp, 'w');
    try {
      f.create_attribute('format', CLUSTERS_FORMAT);
      f.create_attribute('version', CLUSTERS_VERSION, null, '<i');
      f.create_attribute('n', meta.n, null, '<i');
      f.create_attribute('d', meta.d, null, '<i');
      for (const [key, v] of Object.entries(meta.attrs ?? {})) {
        if (RESERVED_ATTRS.has(key)) throw new Error(`clusters: attribute '${key}' is reserved`);
        if (typeof v === 'number') f.create_attribute(key, v, null, Number.isInteger(v) ? '<i8' : '<d');
        else f.create_attribute(key, String(v));
      }
      const chunk = Math.max(1, Math.min(meta.n, 1 << 16));
      const ids = f.create_dataset({ name: 'ids', data: [''], shape: [1], maxshape: [meta.n], chunks: [chunk], dtype: `S${Math.max(1, idBytes)}` });
      ids.resize([meta.n]);
      const labels = f.create_dataset({ name: 'labels', data: new Int32Array(meta.d), shape: [1, meta.d], maxshape: [meta.n, meta.d], chunks: [chunk, meta.d], dtype: '<i' });
      labels.resize([meta.n, meta.d]);
      const g = f.create_group('clusterings');
      meta.clusterings.forEach((cl, j) => {
        const cg = g.create_group(String(j));
        writeClusteringAttrs(cg, cl);
        cg.create_dataset({ name: 'centroids', data: cl.centroids, shape: [cl.k, cl.dim], dtype: '<f' });
      });
      return new ClustersWriter(f, ids, labels, tmp, target, meta);
    } catch (err) {
      f.close();
      const { rmSync } = await import('node:fs');
      rmSync(tmp, { force: true });
      throw err;
    }
  }

  /** Append rows: ids[i] with labels[i*d .. i*d+d). */
  append(ids: string[], labels: Int32Array): void {
    const m = ids.length;
    const { n, d } = this.meta;
    if (labels.length !== m * d) throw new Error(`clusters: ${m} ids but ${labels.length} labels (d = ${d})`);
    if (this.rows + m > n) throw new Error(`clusters: more than the announced ${n} rows`);
    for (let i = 0; i < labels.length; i++) {
      const lab = labels[i];
      const k = this.meta.clusterings[i % d].k;
      if (lab < -1 || lab >= k) throw new Error(`clusters: clip ${ids[Math.floor(i / d)]} has label ${lab} in clustering ${i % d} (k = ${k})`);
    }
    if (m === 0) return;
    this.ids.write_slice([[this.rows, this.rows + m]], ids);
    this.labels.write_slice([[this.rows, this.rows + m], [0, d]], labels);
    this.rows += m;
  }

  async finish(): Promise<void> {
    if (this.rows !== this.meta.n) {
      await this.abort();
      throw new Error(`clusters: ${this.rows} rows written, ${this.meta.n} announced`);
    }
    this.file.flush();
    this.file.close();
    const { promises: fsp } = await import('node:fs');
    const fh = await fsp.open(this.tmp, 'r+');
    await fh.sync();
    await fh.close();
    await fsp.rename(this.tmp, this.target);
  }

  async abort(): Promise<void> {
    try {
      this.file.close();
    } catch {
      /* closed */
    }
    const { rm } = await import('node:fs/promises');
    await rm(this.tmp, { force: true });
  }
}
