/**
 * The feature store: one HDF5 file per shard (h5wasm), written atomically.
 *
 *   /ids                 variable-length UTF-8 strings [n]
 *   /audio/<layer>       float32 [n, dim]
 *   /visual/<layer>      float32 [n, dim]
 *   root attributes      extractor names and versions, config hash, shard index/count, created, ...
 *
 * Row r of every layer belongs to ids[r]. A shard file exists only when complete (it is written
 * to a temporary name and renamed), so `listFeatureShards` lists exactly the finished shards.
 */
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { produceFileAtomic } from '../../runtime/atomic.js';
import { runLayout } from '../../run/layout.js';
import { assertOneFeaturesConfig } from './mixing.js';
import { withH5, type H5 } from '../../runtime/h5.js';

export type FeatureModality = 'audio' | 'visual';

export interface FeatureLayer {
  modality: FeatureModality;
  layer: string;
  dim: number;
  /** n * dim values, row-major (row r = clip ids[r]). */
  data: Float32Array;
}

export interface FeatureShard {
  ids: string[];
  layers: FeatureLayer[];
  attrs: Record<string, string | number>;
}

/** File name pattern of a complete shard under runDir/features. */
export const FEATURE_SHARD_PATTERN = /^shard-\d{5}-of-\d{5}\.h5$/;

function checkShard(file: string, shard: FeatureShard): void {
  const n = shard.ids.length;
  const seen = new Set<string>();
  for (const l of shard.layers) {
    const key = `${l.modality}/${l.layer}`;
    if (l.modality !== 'audio' && l.modality !== 'visual') throw new Error(`${file}: layer ${key}: modality must be audio or visual`);
    if (!/^[A-Za-z0-9._-]+$/.test(l.layer)) throw new Error(`${file}: layer name "${l.layer}" must be letters, digits, ".", "_" or "-"`);
    if (seen.has(key)) throw new Error(`${file}: layer ${key} appears twice`);
    seen.add(key);
    if (!Number.isInteger(l.dim) || l.dim < 1) throw new Error(`${file}: layer ${key}: dim must be a positive integer, got ${l.dim}`);
    if (l.data.length !== n * l.dim) {
      throw new Error(`${file}: layer ${key}: ${l.data.length} values, expected ${n} ids x ${l.dim} = ${n * l.dim}`);
    }
  }
}

/** Write a shard atomically (temp file + rename). Attributes are strings or numbers. */
export async function writeFeatureShard(file: string, shard: FeatureShard): Promise<void> {
  checkShard(file, shard);
  await fsp.mkdir(path.dirname(file), { recursive: true });
  await produceFileAtomic(file, (tmp) =>
    withH5((h5) => {
      const f = new h5.File(tmp, 'w');
      try {
        const n = shard.ids.length;
        // h5wasm refuses zero-element data, so an empty shard (every clip failed) creates
        // one-row resizable datasets and shrinks them to zero rows.
        const make = (g: ReturnType<typeof f.create_group>, name: string, data: string[] | Float32Array, shape: number[]): void => {
          if (n > 0) {
            g.create_dataset({ name, data, shape });
            return;
          }
          const one = [1, ...shape.slice(1)];
          const ds = g.create_dataset({ name, data, shape: one, maxshape: [null, ...shape.slice(1)], chunks: one });
          ds.resize(shape);
        };
        make(f, 'ids', n > 0 ? shard.ids : [''], [n]);
        const groups = new Map<string, ReturnType<typeof f.create_group>>();
        for (const l of shard.layers) {
          let g = groups.get(l.modality);
          if (!g) {
            g = f.create_group(l.modality);
            groups.set(l.modality, g);
          }
          make(g, l.layer, n > 0 ? l.data : new Float32Array(l.dim), [n, l.dim]);
        }
        for (const [k, v] of Object.entries(shard.attrs)) {
          if (typeof v === 'number') f.create_attribute(k, v, null, Number.isInteger(v) ? '<i8' : '<f8');
          else f.create_attribute(k, String(v));
        }
        f.flush();
      } finally {
        f.close();
      }
    }),
  );
}

function attrValue(v: unknown): string | number {
  if (typeof v === 'number' || typeof v === 'string') return v;
  if (typeof v === 'bigint') return Number(v);
  if (typeof v === 'boolean') return v ? 1 : 0;
  if (ArrayBuffer.isView(v) && (v as unknown as ArrayLike<unknown>).length === 1) return attrValue((v as unknown as ArrayLike<unknown>)[0]);
  if (Array.isArray(v) && v.length === 1) return attrValue(v[0]);
  return JSON.stringify(v, (_k, x) => (typeof x === 'bigint' ? Number(x) : x));
}

function openForReading(h5: H5, file: string): InstanceType<H5['File']> {
  try {
    return new h5.File(file, 'r');
  } catch (err) {
    throw new Error(`${file}: not a readable HDF5 file (${(err as Error).message})`);
  }
}

/** Read a whole shard into memory. Errors name the file and what is wrong. */
export async function readFeatureShard(file: string): Promise<FeatureShard> {
  try {
    await fsp.access(file);
  } catch {
    throw new Error(`${file}: feature shard not found`);
  }
  return withH5((h5) => {
    const f = openForReading(h5, file);
    try {
      const idsDs = f.get('ids');
      if (!(idsDs instanceof h5.Dataset)) throw new Error(`${file}: no "ids" dataset`);
      const shape = idsDs.shape ?? [];
      const n = shape[0] ?? 0;
      let ids: string[] = [];
      if (n > 0) {
        const v = idsDs.value;
        ids = (Array.isArray(v) ? v : [v]).map((x) => String(x));
      }
      const layers: FeatureLayer[] = [];
      for (const modality of ['audio', 'visual'] as const) {
        const g = f.get(modality);
        if (!g) continue;
        if (!(g instanceof h5.Group)) throw new Error(`${file}: "${modality}" is not a group`);
        for (const name of [...g.keys()].sort()) {
          const ds = g.get(name);
          if (!(ds instanceof h5.Dataset)) continue;
          const s = ds.shape ?? [];
          if (s.length !== 2) throw new Error(`${file}: ${modality}/${name} has shape [${s.join(', ')}], expected [n, dim]`);
          if (s[0] !== n) throw new Error(`${file}: ${modality}/${name} has ${s[0]} rows but there are ${n} ids`);
          const dim = s[1];
          let data: Float32Array;
          if (n === 0) data = new Float32Array(0);
          else {
            const v = ds.value;
            data = v instanceof Float32Array ? v : Float32Array.from(v as ArrayLike<number>);
          }
          layers.push({ modality, layer: name, dim, data });
        }
      }
      const attrs: Record<string, string | number> = {};
      for (const [k, a] of Object.entries(f.attrs)) attrs[k] = attrValue(a.value);
      return { ids, layers, attrs };
    } finally {
      f.close();
    }
  });
}

/** Read only the root attributes of a shard (cheap: no datasets are read). */
export async function readFeatureShardAttrs(file: string): Promise<Record<string, string | number>> {
  return withH5((h5) => {
    const f = openForReading(h5, file);
    try {
      const attrs: Record<string, string | number> = {};
      for (const [k, a] of Object.entries(f.attrs)) attrs[k] = attrValue(a.value);
      return attrs;
    } finally {
      f.close();
    }
  });
}

/**
 * Complete shard files under runDir/features, sorted by name (temp files are never listed), then
 * those of clips added later (features/add-NNNN/, see curation/incremental/ledger.ts), in batch order.
 */
export async function listFeatureShards(runDir: string): Promise<string[]> {
  const dir = runLayout(runDir).featuresDir;
  let names: string[];
  try {
    names = await fsp.readdir(dir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
  const out = names.filter((n) => FEATURE_SHARD_PATTERN.test(n)).sort().map((n) => path.join(dir, n));
  for (const batch of names.filter((n) => /^add-\d{4}$/.test(n)).sort()) {
    const sub = await fsp.readdir(path.join(dir, batch)).catch(() => [] as string[]);
    out.push(...sub.filter((n) => FEATURE_SHARD_PATTERN.test(n)).sort().map((n) => path.join(dir, batch, n)));
  }
  return out;
}

/** Path of feature shard `index` of `count` in a run folder. */
export function featureShardPath(runDir: string, index: number, count: number): string {
  return runLayout(runDir).featureShard(index, count);
}

/**
 * Concatenate the shards of a run into one table per layer (rows in shard order). Every shard
 * must have the same layers with the same dims.
 */
export async function readAllFeatures(runDir: string): Promise<FeatureShard> {
  const files = await listFeatureShards(runDir);
  if (files.length === 0) throw new Error(`${runLayout(runDir).featuresDir}: no feature shards (run "avcurate extract" first)`);
  const shards: FeatureShard[] = [];
  for (const f of files) shards.push(await readFeatureShard(f));
  assertOneFeaturesConfig(files, shards.map((s) => s.attrs), { what: 'features merge' });
  const first = shards[0];
  const ids: string[] = [];
  for (const s of shards) ids.push(...s.ids);
  const layers: FeatureLayer[] = first.layers.map((l) => {
    const parts: Float32Array[] = [];
    for (let i = 0; i < shards.length; i++) {
      const m = shards[i].layers.find((x) => x.modality === l.modality && x.layer === l.layer);
      if (!m) throw new Error(`${files[i]}: lacks layer ${l.modality}/${l.layer} present in ${files[0]}`);
      if (m.dim !== l.dim) throw new Error(`${files[i]}: layer ${l.modality}/${l.layer} has dim ${m.dim}, ${files[0]} has ${l.dim}`);
      parts.push(m.data);
    }
    const data = new Float32Array(ids.length * l.dim);
    let off = 0;
    for (const p of parts) {
      data.set(p, off);
      off += p.length;
    }
    return { modality: l.modality, layer: l.layer, dim: l.dim, data };
  });
  return { ids, layers, attrs: { ...first.attrs, shards: files.length } };
}
