/**
 * The clustering stage: fit k-means once per (modality, layer, k) on a sample of clips, then
 * assign every clip, one feature shard at a time, and merge the per-shard labels into
 * clusters.h5 (rows in manifest order).
 *
 *   runDir/features/shard-*.h5     input (written by the features stage)
 *   runDir/clusters.model.h5       fitted transforms + centroids (written once, reused by shards)
 *   runDir/clusters/shard-*.h5     labels of one feature shard (same format as clusters.h5)
 *   runDir/clusters.h5             the merged output
 *
 * `--shard i/n` assigns feature shards i, i+n, ... only. A shard that finds no model fits it
 * (fitting is deterministic, so concurrent fits write the same file); `fitOnly` fits and stops,
 * for a run that fits once before launching an array. Whoever finishes the last part merges.
 * What is finished is the stage ledger's call (src/run/ledger.ts): stages/cluster.json for
 * clusters.h5 (clustering config, seed, model fingerprint, contents of every feature shard) and
 * stages/cluster-part/<part>.json for each shard's labels (model fingerprint, that shard); a
 * rerun skips what the ledger says is finished. The model is reused while its own fingerprint
 * attribute (clustering config, seed, the shards it was fitted on) matches.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { withRunLock } from '../../run/lock.js';
import { assertOneFeaturesConfig } from '../features/mixing.js';
import type { Config } from '../../config/schema.js';
import type { ClusteringConfig } from '../../config/sections/clustering.js';
import { Rng, hashSeed } from '../../runtime/random.js';
import { Progress, log } from '../../runtime/progress.js';
import { unitsOfShard, type ShardSpec } from '../../runtime/shard.js';
import { stableKey } from '../../run/hash.js';
import { markDone, redoNote, stageDone } from '../../run/ledger.js';
import { runLayout } from '../../run/layout.js';
import { iterManifestIds, readManifestIds } from '../../run/manifest.js';
import { listFeatureShards, readFeatureShard, readFeatureShardAttrs, writeFeatureShard, type FeatureShard } from '../features/store.js';
import { shardName } from '../../runtime/shard.js';
import { promises as fsp } from 'node:fs';
import { kmeans, KMeansInputError } from './kmeans.js';
import { NearestCentroid, type KernelOptions } from './kernel.js';
import { fitTransform, applyTransform, transformedDim, fitStandardisation, applyStandardisation } from './preprocess.js';
import { readClusterModel, writeClusterModel, type ClusterModel, type FittedClustering } from './model.js';
import { ClustersWriter, readClusters, readClustersRows, writeClusters, type ClusterFile, type Modality } from './store.js';
import { fitShards, partNameOf } from '../incremental/ledger.js';

/** A problem with the data or config the user can act on (bad values, k too large, missing layers). */
export class ClusterStageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ClusterStageError';
  }
}

export interface ClusterStageOptions {
  /** Fit (or reuse) the model and stop: no assignment, no merge. */
  fitOnly?: boolean;
  /** Merge the parts into clusters.h5 when they are all present (default true). */
  merge?: boolean;
  /** No progress output. */
  silent?: boolean;
}

export interface ClusterStageResult {
  modelPath: string;
  /** clusters.h5 when it is complete after this call, else null (other shards still pending). */
  clustersPath: string | null;
  /** True when this call fitted the model (false: an up-to-date model was reused). */
  fitted: boolean;
  /** Feature shards assigned by this call, and skipped because their part was up to date. */
  assigned: number;
  skipped: number;
  /** Feature shards (of the whole run) still without an up-to-date part. */
  pending: number;
  /** True when this call wrote clusters.h5 (false: up to date already, or parts pending). */
  merged: boolean;
  /** Clips in clusters.h5 when it was written or found up to date. */
  n: number | null;
  /** Per clustering: the fit (on fitPoints sampled clips) and, once merged, the inertia over all clips. */
  clusterings: Array<{ modality: Modality; layer: string; k: number; iterations: number; fitPoints: number; fitInertia: number; inertia: number | null }>;
}

export interface ClusteringSpec {
  modality: Modality;
  layer: string;
  k: number;
  dim: number;
  /** A joint clustering (clustering.joint): the layers concatenated, in this order (dim = the sum of theirs). */
  parts?: string[];
}

/** The layer name of a modality's joint clustering (clustering.joint). */
export const JOINT_LAYER = 'joint';

export function clusterPaths(runDir: string): { model: string; partsDir: string; clusters: string } {
  const L = runLayout(runDir);
  return { model: L.clustersModel, partsDir: L.clustersPartsDir, clusters: L.clusters };
}

/** The clusterings a config asks for, given the layers present in the features. */
export function planClusterings(cfg: ClusteringConfig, layers: Array<{ modality: Modality; layer: string; dim: number }>, where: string): ClusteringSpec[] {
  const out: ClusteringSpec[] = [];
  const available = layers.map((l) => `${l.modality}/${l.layer}`);
  const wanted = cfg.layers.length > 0 ? cfg.layers : layers.map((l) => ({ modality: l.modality, layer: l.layer, k: undefined }));
  const seen = new Set<string>();
  for (const w of wanted) {
    const key = `${w.modality}/${w.layer}`;
    if (seen.has(key)) throw new ClusterStageError(`clustering.layers lists ${key} twice; give one entry with several k instead`);
    seen.add(key);
    const l = layers.find((x) => x.modality === w.modality && x.layer === w.layer);
    if (!l) throw new ClusterStageError(`clustering.layers asks for ${key}, which ${where} does not have (available: ${available.join(', ') || 'none'})`);
    const ks = [...new Set(w.k ?? cfg.k)];
    for (const k of ks) out.push({ modality: l.modality, layer: l.layer, k, dim: l.dim });
  }
  if (out.length === 0) throw new ClusterStageError(`${where} has no feature layers to cluster`);
  if (cfg.joint) {
    for (const modality of ['audio', 'visual'] as const) {
      const parts = sampleLayers(out).filter((l) => l.modality === modality);
      if (parts.some((l) => l.layer === JOINT_LAYER)) {
        throw new ClusterStageError(`${where} has a ${modality} feature layer named "${JOINT_LAYER}", the name clustering.joint gives its clusterings; rename that layer or set clustering.joint: false`);
      }
      // One layer alone: its joint clustering would repeat its own.
      if (parts.length < 2) continue;
      const dim = parts.reduce((t, l) => t + l.dim, 0);
      for (const k of [...new Set(cfg.k)]) out.push({ modality, layer: JOINT_LAYER, k, dim, parts: parts.map((l) => l.layer) });
    }
  }
  return out;
}

/** Rows of the given layers side by side: row i = layer 0's row i, then layer 1's, ... */
function concatRows(blocks: Float32Array[], widths: number[], n: number): Float32Array {
  const dim = widths.reduce((a, b) => a + b, 0);
  const out = new Float32Array(n * dim);
  for (let i = 0; i < n; i++) {
    let o = i * dim;
    blocks.forEach((b, j) => {
      out.set(b.subarray(i * widths[j], (i + 1) * widths[j]), o);
      o += widths[j];
    });
  }
  return out;
}

function kernelOptions(cfg: ClusteringConfig): KernelOptions {
  return { backend: cfg.backend, threads: cfg.threads > 0 ? cfg.threads : undefined };
}

/** First non-finite value of a layer, as a clear error naming the clip, or nothing. */
function checkFinite(file: string, ids: string[], modality: string, layer: string, data: Float32Array, dim: number): void {
  for (let i = 0; i < data.length; i++) {
    const v = data[i];
    if (v - v !== 0) {
      const row = Math.floor(i / dim);
      throw new ClusterStageError(
        `${file}: clip ${ids[row]} has a non-finite feature (${v}) in ${modality}/${layer} at column ${i % dim}; fix or drop this clip and rerun`,
      );
    }
  }
}

function layerOf(shard: FeatureShard, file: string, modality: Modality, layer: string, dim: number): Float32Array {
  const l = shard.layers.find((x) => x.modality === modality && x.layer === layer);
  if (!l) throw new ClusterStageError(`${file}: lacks layer ${modality}/${layer} (present in the other shards)`);
  if (l.dim !== dim) throw new ClusterStageError(`${file}: layer ${modality}/${layer} has dim ${l.dim}, expected ${dim}`);
  return l.data;
}

/** The clustering config that decides the labels (backend and threads do not). */
function clusteringParts(config: Config): Omit<Config['clustering'], 'backend' | 'threads'> {
  const { backend: _b, threads: _t, ...relevant } = config.clustering;
  return relevant;
}

/**
 * What a feature shard's contents are, from its attributes: the features config hash, the clip
 * ids, the decoder, ... but not the time it was written, so a shard redone with the same result
 * (deleted, or killed before its ledger record) does not make the clustering stale.
 */
function featureShardContent(attrs: Record<string, string | number>): Record<string, string | number> {
  const { created: _c, ...content } = attrs;
  return content;
}

async function fingerprintOf(config: Config, files: string[]): Promise<string> {
  const shards: Array<[string, Record<string, string | number>]> = [];
  for (const f of files) shards.push([path.basename(f), await readFeatureShardAttrs(f)]);
  assertOneFeaturesConfig(files, shards.map((s) => s[1]), { what: 'cluster' }); // never cluster a mixture (reliab)
  return stableKey({ clustering: clusteringParts(config), seed: config.seed, shards: shards.map(([n, a]) => [n, featureShardContent(a)]) });
}

/** The ledger's stages of clustering: the whole (clusters.h5) and the labels of one feature shard (clusters/<part>). */
export const CLUSTER_STAGE = 'cluster';
export const CLUSTER_PART_STAGE = 'cluster-part';

/**
 * Fitting sample: the m clips with the smallest seeded hash of their id. The choice depends only
 * on the seed and the ids (not on shard order), and one streaming pass finds it.
 */
export class SampleReservoir {
  private readonly keys: Array<{ key: number; id: string; slot: number }> = []; // max-heap on (key, id)
  readonly rows: Float32Array[];
  private capacityRows = 0;
  constructor(
    private readonly m: number,
    private readonly dims: number[],
  ) {
    this.rows = dims.map(() => new Float32Array(0));
  }
  private less(a: { key: number; id: string }, b: { key: number; id: string }): boolean {
    return a.key < b.key || (a.key === b.key && a.id < b.id);
  }
  private siftUp(i: number): void {
    const h = this.keys;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!this.less(h[p], h[i])) break;
      [h[p], h[i]] = [h[i], h[p]];
      i = p;
    }
  }
  private siftDown(i: number): void {
    const h = this.keys;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let big = i;
      if (l < h.length && this.less(h[big], h[l])) big = l;
      if (r < h.length && this.less(h[big], h[r])) big = r;
      if (big === i) break;
      [h[big], h[i]] = [h[i], h[big]];
      i = big;
    }
  }
  private ensure(rows: number): void {
    if (rows <= this.capacityRows) return;
    const cap = Math.min(this.m, Math.max(rows, this.capacityRows * 2, 1024));
    this.rows.forEach((old, j) => {
      const grown = new Float32Array(cap * this.dims[j]);
      grown.set(old);
      this.rows[j] = grown;
    });
    this.capacityRows = cap;
  }
  /** Offer a clip; `get(j)` returns its row of layer j. */
  offer(key: number, id: string, get: (j: number) => Float32Array): void {
    let slot: number;
    if (this.keys.length < this.m) {
      slot = this.keys.length;
      this.ensure(slot + 1);
      this.keys.push({ key, id, slot });
      this.siftUp(this.keys.length - 1);
    } else {
      const top = this.keys[0];
      if (!this.less({ key, id }, top)) return;
      slot = top.slot;
      this.keys[0] = { key, id, slot };
      this.siftDown(0);
    }
    this.dims.forEach((d, j) => this.rows[j].set(get(j), slot * d));
  }
  get size(): number {
    return this.keys.length;
  }
  /** Keys and ids in (key, id) order (the order of `ordered`). */
  orderedKeys(): Array<{ key: number; id: string }> {
    return [...this.keys].sort((a, b) => (this.less(a, b) ? -1 : 1)).map(({ key, id }) => ({ key, id }));
  }
  /** The sample of layer j in (key, id) order: deterministic whatever order clips came in. */
  ordered(j: number): Float32Array {
    const order = [...this.keys].sort((a, b) => (this.less(a, b) ? -1 : 1));
    const d = this.dims[j];
    const out = new Float32Array(order.length * d);
    order.forEach((e, r) => out.set(this.rows[j].subarray(e.slot * d, e.slot * d + d), r * d));
    return out;
  }
}

/** The layers the fit samples (one sample shared by every clustering of the config; joint ones read their parts). */
export function sampleLayers(specs: ClusteringSpec[]): Array<{ modality: Modality; layer: string; dim: number }> {
  const layerKeys: Array<{ modality: Modality; layer: string; dim: number }> = [];
  for (const s of specs) if (!s.parts && !layerKeys.some((l) => l.modality === s.modality && l.layer === s.layer)) layerKeys.push({ modality: s.modality, layer: s.layer, dim: s.dim });
  return layerKeys;
}

/** Size of the fitting sample: fitPointsPerCentroid × the largest k (0 = every clip). */
export function sampleSize(cfg: ClusteringConfig, specs: ClusteringSpec[]): number {
  const maxK = Math.max(...specs.map((s) => s.k));
  return cfg.fitPointsPerCentroid > 0 ? cfg.fitPointsPerCentroid * maxK : Number.MAX_SAFE_INTEGER;
}

/** The feature shards the fitting sample is drawn from (all, or a seeded subset of fitMaxShards). */
export function fitFileSet(config: Config, files: string[]): string[] {
  const cfg = config.clustering;
  if (cfg.fitMaxShards > 0 && files.length > cfg.fitMaxShards) {
    const perm = Rng.derive(config.seed, 'cluster-fit-shards').permutation(files.length);
    return Array.from(perm.subarray(0, cfg.fitMaxShards)).sort((a, b) => a - b).map((i) => files[i]);
  }
  return files;
}

/** Offer every clip of the given feature shards to a reservoir (the sampling pass of the fit). */
export async function sampleFeatureShards(
  config: Config,
  reservoir: SampleReservoir,
  layerKeys: Array<{ modality: Modality; layer: string; dim: number }>,
  files: string[],
  silent: boolean,
  cached?: { file: string; shard: FeatureShard },
): Promise<void> {
  const prog = new Progress('cluster: sampling clips to fit', { total: files.length, unit: 'shards', silent });
  for (const file of files) {
    const shard = cached && file === cached.file ? cached.shard : await readFeatureShard(file);
    const datas = layerKeys.map((l) => {
      const data = layerOf(shard, file, l.modality, l.layer, l.dim);
      checkFinite(file, shard.ids, l.modality, l.layer, data, l.dim);
      return data;
    });
    shard.ids.forEach((id, r) => {
      reservoir.offer(hashSeed(config.seed, 'cluster-fit', id), id, (j) => datas[j].subarray(r * layerKeys[j].dim, (r + 1) * layerKeys[j].dim));
    });
    prog.tick();
  }
  prog.finish();
}

export const SAMPLE_FORMAT = 'avcurate.cluster-sample';
/** The ledger's stage of one shard's fitting sample (`cluster --sample-only --shard i/n`). */
export const CLUSTER_SAMPLE_STAGE = 'cluster-sample';

export function samplePath(runDir: string, index: number, count: number): string {
  return path.join(clusterPaths(runDir).partsDir, 'sample', `${shardName(index, count, 'sample')}.h5`);
}

/** Offer the rows of one shard's sample file to the fit's reservoir (refusing another config's). */
async function mergeSampleFile(file: string, reservoir: SampleReservoir, layerKeys: Array<{ modality: Modality; layer: string; dim: number }>, fingerprint: string, seed?: number): Promise<void> {
  const s = await readFeatureShard(file);
  if (s.attrs.format !== SAMPLE_FORMAT || s.attrs.fingerprint !== fingerprint) {
    throw new ClusterStageError(`${file}: a fitting sample made with another config or other features (fingerprint ${String(s.attrs.fingerprint)}, now ${fingerprint}); rerun "cluster --sample-only" for that shard`);
  }
  const datas = layerKeys.map((l) => layerOf(s, file, l.modality, l.layer, l.dim));
  const keySeed = seed ?? Number(s.attrs.seed);
  s.ids.forEach((id, r) => {
    reservoir.offer(hashSeed(keySeed, 'cluster-fit', id), id, (j) => datas[j].subarray(r * layerKeys[j].dim, (r + 1) * layerKeys[j].dim));
  });
}

/**
 * The sample files of a complete set for this fingerprint (every index of one count present and
 * current), or null. The fit uses them instead of reading every feature shard.
 */
async function completeSampleSet(runDir: string, fingerprint: string): Promise<string[] | null> {
  const dir = path.join(clusterPaths(runDir).partsDir, 'sample');
  let names: string[];
  try {
    names = await fsp.readdir(dir);
  } catch {
    return null;
  }
  const counts = [...new Set(names.map((n) => /^sample-\d{5}-of-(\d{5})\.h5$/.exec(n)?.[1]).filter((c): c is string => c !== undefined).map(Number))].sort((a, b) => b - a);
  for (const count of counts) {
    const files = Array.from({ length: count }, (_, i) => samplePath(runDir, i, count));
    let ok = true;
    for (const f of files) {
      if (!existsSync(f)) {
        ok = false;
        break;
      }
      try {
        const a = await readFeatureShardAttrs(f);
        if (a.format !== SAMPLE_FORMAT || a.fingerprint !== fingerprint) ok = false;
      } catch {
        ok = false;
      }
      if (!ok) break;
    }
    if (ok) return files;
  }
  return null;
}

/**
 * `cluster --sample-only --shard i/n`: the seeded reservoir of this shard's feature shards (the
 * clips of smallest seeded hash, as many as the fit uses), written to clusters/sample/. The fit
 * merges the n files; the result equals sampling every shard in one process.
 */
export async function runClusterSample(config: Config, shard: Pick<ShardSpec, 'index' | 'count'>, opts: { silent?: boolean } = {}): Promise<{ file: string; clips: number; skipped: boolean }> {
  const runDir = config.runDir ?? path.join('runs', config.name);
  const silent = opts.silent ?? process.env.AVCURATE_QUIET === '1';
  // Only the shards the model is fitted on (clips added later are assigned, curation/incremental).
  const files = await fitShards(runDir, await listFeatureShards(runDir));
  if (files.length === 0) throw new ClusterStageError(`${runLayout(runDir).featuresDir}: no feature shards (run "avcurate extract" first)`);
  const fingerprint = await fingerprintOf(config, files);
  const out = samplePath(runDir, shard.index, shard.count);
  // Finished or not is the stage ledger's call (stages/cluster-sample/<sample>.json): the fit's
  // fingerprint (clustering config, seed, the feature shards), the file in place and unchanged.
  const sampleShard = path.basename(out, '.h5');
  const sampleInputs = { inputs: { fit: fingerprint } };
  const check = await stageDone<{ clips: number }>(runDir, CLUSTER_SAMPLE_STAGE, sampleInputs, { shard: sampleShard });
  if (check.done) return { file: out, clips: check.record!.summary.clips, skipped: true };
  const note = redoNote(check, runDir);
  if (note && !silent) log(`cluster: ${note}`);
  const first = await readFeatureShard(files[0]);
  const specs = planClusterings(config.clustering, first.layers, files[0]);
  const layerKeys = sampleLayers(specs);
  const reservoir = new SampleReservoir(sampleSize(config.clustering, specs), layerKeys.map((l) => l.dim));
  const fitSet = new Set(fitFileSet(config, files));
  const mine = unitsOfShard(files.length, shard).map((u) => files[u]).filter((f) => fitSet.has(f));
  await sampleFeatureShards(config, reservoir, layerKeys, mine, silent, { file: files[0], shard: first });
  const ids = reservoir.orderedKeys().map((k) => k.id);
  await writeFeatureShard(out, {
    ids,
    layers: layerKeys.map((l, j) => ({ modality: l.modality, layer: l.layer, dim: l.dim, data: reservoir.ordered(j) })),
    attrs: { format: SAMPLE_FORMAT, fingerprint, seed: config.seed, index: shard.index, count: shard.count, clips: ids.length, shards: mine.length },
  });
  await markDone(runDir, CLUSTER_SAMPLE_STAGE, sampleInputs, { shard: sampleShard, outputs: [out], stamp: true, summary: { clips: ids.length } });
  return { file: out, clips: ids.length, skipped: false };
}

async function fitModel(config: Config, files: string[], fingerprint: string, silent: boolean, samples: string[] | null): Promise<ClusterModel> {
  const cfg = config.clustering;
  const first = await readFeatureShard(files[0]);
  const specs = planClusterings(cfg, first.layers, files[0]);
  // One sample of clips shared by every layer: sized for the largest k.
  const layerKeys = sampleLayers(specs);
  const m = sampleSize(cfg, specs);
  const reservoir = new SampleReservoir(m, layerKeys.map((l) => l.dim));
  if (samples) {
    // Each shard's reservoir holds the m smallest keys of its clips; the m smallest of their
    // union are the m smallest of all clips: the same sample as one pass over every shard.
    if (!silent) log(`cluster: merging ${samples.length} shard samples`);
    for (const f of samples) await mergeSampleFile(f, reservoir, layerKeys, fingerprint, config.seed);
  } else {
    await sampleFeatureShards(config, reservoir, layerKeys, fitFileSet(config, files), silent, { file: files[0], shard: first });
  }
  const n = reservoir.size;
  if (n === 0) {
    throw new ClusterStageError(
      `the feature shards in ${path.dirname(files[0])} hold no clips to cluster (did every clip fail extraction? see failures.jsonl)`,
    );
  }
  const kernel = kernelOptions(cfg);
  const clusterings: FittedClustering[] = [];
  // The inputs to fit: each sampled layer, then each joint clustering's concatenated parts.
  const inputs: Array<{ modality: Modality; layer: string; dim: number; X: () => Float32Array; parts?: string[] }> = layerKeys.map((l, j) => ({ ...l, X: () => reservoir.ordered(j) }));
  for (const modality of ['audio', 'visual'] as const) {
    const joint = specs.find((s) => s.modality === modality && s.parts);
    if (!joint) continue;
    const idx = joint.parts!.map((layer) => layerKeys.findIndex((l) => l.modality === modality && l.layer === layer));
    inputs.push({
      modality,
      layer: joint.layer,
      dim: joint.dim,
      parts: joint.parts,
      X: () => concatRows(idx.map((j) => reservoir.ordered(j)), idx.map((j) => layerKeys[j].dim), n),
    });
  }
  for (const l of inputs) {
    const X = l.X();
    let standardise = null;
    let Xfit = X;
    if (l.parts) {
      const widths = l.parts.map((layer) => layerKeys.find((x) => x.modality === l.modality && x.layer === layer)!.dim);
      standardise = fitStandardisation(X, n, widths);
      Xfit = applyStandardisation(standardise, X, n, l.dim);
    }
    const transform = { ...(await fitTransform(Xfit, n, l.dim, { l2Normalize: cfg.l2Normalize, whiten: cfg.whiten, whitenDim: cfg.whitenDim, kernel })), standardise };
    const Xt = await applyTransform(transform, X, n, l.dim, { kernel });
    const dimT = transformedDim(transform, l.dim);
    for (const s of specs.filter((x) => x.modality === l.modality && x.layer === l.layer)) {
      const t0 = performance.now();
      let r;
      try {
        r = await kmeans(Xt, n, dimT, {
          k: s.k,
          iterations: cfg.iterations,
          tolerance: cfg.tolerance,
          restarts: cfg.restarts,
          initPointsPerCentroid: cfg.initPointsPerCentroid,
          rng: Rng.derive(config.seed, 'kmeans', s.modality, s.layer, s.k),
          kernel,
        });
      } catch (err) {
        if (err instanceof KMeansInputError) {
          throw new ClusterStageError(
            `cannot cluster ${s.modality}/${s.layer} with k = ${s.k}: ${err.message} (in the ${n} clips sampled to fit). ` +
              `Use a smaller k for this layer (clustering.k or clustering.layers[].k) or more clips.`,
          );
        }
        throw err;
      }
      if (!silent) {
        log(
          `cluster: ${s.modality}/${s.layer} k=${s.k}: ${r.iterations} iterations on ${n} clips, inertia ${r.inertia.toPrecision(6)}` +
            `${r.emptyRepairs ? `, ${r.emptyRepairs} empty clusters repaired` : ''} (${((performance.now() - t0) / 1000).toFixed(1)} s)`,
        );
      }
      clusterings.push({
        modality: s.modality,
        layer: s.layer,
        k: s.k,
        dim: l.dim,
        transform,
        centroidDim: dimT,
        centroids: r.centroids,
        inertia: r.inertia,
        iterations: r.iterations,
        fitPoints: n,
        history: r.history,
        ...(l.parts ? { parts: l.parts } : {}),
      });
    }
  }
  return { fingerprint, seed: config.seed, clusterings };
}

/** The per-clustering entries of a clusters file, from the fitted model and an inertia per clustering. */
function clusteringEntries(model: ClusterModel, inertia: (d: number) => number): ClusterFile['clusterings'] {
  return model.clusterings.map((c, d) => ({
    modality: c.modality,
    layer: c.layer,
    k: c.k,
    dim: c.centroidDim,
    centroids: c.centroids,
    inertia: inertia(d),
    iterations: c.iterations,
  }));
}

/** Assign the clips of one feature shard with a fitted model. */
export async function assignShard(model: ClusterModel, file: string, kernel: KernelOptions = {}): Promise<ClusterFile> {
  const shard = await readFeatureShard(file);
  const n = shard.ids.length;
  const D = model.clusterings.length;
  const labels = new Int32Array(n * D);
  const inertias: number[] = [];
  const transformed = new Map<string, Float32Array>();
  for (const [d, c] of model.clusterings.entries()) {
    const key = `${c.modality}/${c.layer}` + (c.transform.l2 ? ':l2' : '') + (c.transform.pca ? `:pca${c.centroidDim}` : '');
    let Xt = transformed.get(key);
    if (!Xt) {
      let data: Float32Array;
      if (c.parts) {
        const widths: number[] = [];
        const blocks = c.parts.map((layer) => {
          const l = shard.layers.find((x) => x.modality === c.modality && x.layer === layer);
          if (!l) throw new ClusterStageError(`${file}: lacks layer ${c.modality}/${layer}, a part of the ${c.modality}/${c.layer} clustering`);
          widths.push(l.dim);
          checkFinite(file, shard.ids, c.modality, layer, l.data, l.dim);
          return l.data;
        });
        const dim = widths.reduce((a, b) => a + b, 0);
        if (dim !== c.dim) throw new ClusterStageError(`${file}: the layers of ${c.modality}/${c.layer} (${c.parts.join(', ')}) are ${dim} wide, the model was fitted on ${c.dim}`);
        data = concatRows(blocks, widths, n);
      } else {
        data = layerOf(shard, file, c.modality, c.layer, c.dim);
        checkFinite(file, shard.ids, c.modality, c.layer, data, c.dim);
      }
      Xt = n === 0 ? new Float32Array(0) : await applyTransform(c.transform, data, n, c.dim, { kernel });
      transformed.set(key, Xt);
    }
    if (n === 0) {
      inertias.push(0);
      continue;
    }
    const a = await new NearestCentroid(c.centroidDim, c.k, kernel).assign(Xt, n, c.centroids);
    for (let i = 0; i < n; i++) labels[i * D + d] = a.labels[i];
    inertias.push(a.inertia);
  }
  return {
    ids: shard.ids,
    labels,
    n,
    d: D,
    clusterings: clusteringEntries(model, (d) => inertias[d]),
    attrs: { fingerprint: model.fingerprint, source: path.basename(file) },
  };
}

async function manifestOrder(runDir: string): Promise<Map<string, number> | null> {
  const file = runLayout(runDir).manifest;
  if (!existsSync(file)) return null;
  return new Map((await readManifestIds(file)).map((id, i) => [id, i]));
}

/**
 * The streaming merge: when the parts, in feature-shard order, already list their clips in manifest
 * order (the extract stage cuts the manifest into contiguous units, so they do), clusters.h5 is
 * written part by part: one part in memory at a time, whatever the number of clips. A first pass
 * checks the order against the manifest (read line by line) and sizes the file; the second copies
 * the rows. Returns null when the order does not hold (ids outside the manifest, shards out of
 * order, non-ASCII ids): the caller then merges in memory.
 */
export async function mergePartsStreaming(runDir: string, parts: string[], model: ClusterModel, out: string, silent: boolean): Promise<{ n: number; inertia: number[] } | null> {
  const D = model.clusterings.length;
  const manifestFile = runLayout(runDir).manifest;
  const manifest = existsSync(manifestFile) ? iterManifestIds(manifestFile)[Symbol.asyncIterator]() : null;
  let manifestRows = 0;
  const nextManifestId = async (): Promise<string | null> => {
    const r = await manifest!.next();
    if (r.done) return null;
    manifestRows++;
    return r.value;
  };
  let n = 0;
  let idBytes = 1;
  const inertia = new Array<number>(D).fill(0);
  // Pass 1, ids only, in row blocks: the order against the manifest, the widest id, the sizes.
  const inOrder = async (): Promise<boolean> => {
    for (const p of parts) {
      let ok = true;
      const c = await readClustersRows(
        p,
        async (ids) => {
          for (const id of ids) {
            if (!ok) return;
            if (!/^[\x20-\x7e]*$/.test(id)) ok = false;
            idBytes = Math.max(idBytes, id.length);
            if (manifest && ok) {
              let m: string | null;
              do m = await nextManifestId();
              while (m !== null && m !== id);
              if (m === null) ok = false; // not in the manifest after the previous clip
            }
          }
        },
        { idsOnly: true },
      );
      if (c.d !== D) throw new ClusterStageError(`${p}: has ${c.d} clusterings, the model has ${D}; delete it and rerun`);
      if (!ok) return false;
      c.inertia.forEach((x, d) => (inertia[d] += x));
      n += c.n;
    }
    return true;
  };
  if (!(await inOrder())) return null;
  if (n === 0) return null;
  if (manifest) {
    while ((await nextManifestId()) !== null) {
      /* count the rest */
    }
    if (manifestRows > n && !silent) log(`cluster: ${manifestRows - n} manifest clips have no features (see failures.jsonl); clusters.h5 leaves them out`);
  }
  const writer = await ClustersWriter.open(
    out,
    { n, d: D, clusterings: clusteringEntries(model, (d) => inertia[d]), attrs: { fingerprint: model.fingerprint, parts: parts.length, seed: model.seed } },
    idBytes,
  );
  try {
    // Pass 2: each part in row blocks, appended in order.
    for (const p of parts) await readClustersRows(p, (ids, labels) => writer.append(ids, labels!));
    await writer.finish();
  } catch (err) {
    await writer.abort();
    throw err;
  }
  return { n, inertia };
}

/** Merge the parts (one per feature shard, in shard order) into one file in manifest order. */
async function mergeParts(runDir: string, parts: string[], model: ClusterModel, out: string, silent: boolean): Promise<ClusterFile> {
  const loaded: ClusterFile[] = [];
  for (const p of parts) loaded.push(await readClusters(p));
  const D = model.clusterings.length;
  const rows: Array<{ id: string; part: number; row: number }> = [];
  const seen = new Map<string, string>();
  loaded.forEach((c, pi) => {
    if (c.d !== D) throw new ClusterStageError(`${parts[pi]}: has ${c.d} clusterings, the model has ${D}; delete it and rerun`);
    c.ids.forEach((id, row) => {
      const prev = seen.get(id);
      if (prev !== undefined) throw new ClusterStageError(`clip id ${id} appears in two feature shards (${prev} and ${String(c.attrs?.source ?? parts[pi])})`);
      seen.set(id, String(c.attrs?.source ?? parts[pi]));
      rows.push({ id, part: pi, row });
    });
  });
  const order = await manifestOrder(runDir);
  if (order) {
    let unknown = 0;
    const keyed = rows.map((r, i) => {
      const k = order.get(r.id);
      if (k === undefined) unknown++;
      return { r, k: k ?? order.size + i };
    });
    keyed.sort((a, b) => a.k - b.k);
    for (let i = 0; i < keyed.length; i++) rows[i] = keyed[i].r;
    if (unknown > 0 && !silent) log(`cluster: ${unknown} clips have features but are not in manifest.jsonl; they are placed after the manifest clips`);
    const missing = order.size - (rows.length - unknown);
    if (missing > 0 && !silent) log(`cluster: ${missing} manifest clips have no features (see failures.jsonl); clusters.h5 leaves them out`);
  }
  const n = rows.length;
  const labels = new Int32Array(n * D);
  rows.forEach((r, i) => labels.set(loaded[r.part].labels.subarray(r.row * D, r.row * D + D), i * D));
  const merged: ClusterFile = {
    ids: rows.map((r) => r.id),
    labels,
    n,
    d: D,
    clusterings: clusteringEntries(model, (d) => loaded.reduce((s, p) => s + p.clusterings[d].inertia, 0)),
    attrs: { fingerprint: model.fingerprint, parts: parts.length, seed: model.seed },
  };
  await writeClusters(out, merged);
  return merged;
}

/**
 * Run the clustering stage for one shard of the work (default: all of it). See the file comment
 * for the files read and written.
 */
export async function runCluster(
  config: Config,
  shard: Pick<ShardSpec, 'index' | 'count'> = { index: 0, count: 1 },
  opts: ClusterStageOptions = {},
): Promise<ClusterStageResult> {
  // run-folder lock and dead writers' temporaries swept (reliab: src/run/lock.ts)
  return withRunLock(config.runDir ?? path.join('runs', config.name), `cluster-${shard.index}-of-${shard.count}`, () => runClusterLocked(config, shard, opts));
}

async function runClusterLocked(config: Config, shard: Pick<ShardSpec, 'index' | 'count'>, opts: ClusterStageOptions): Promise<ClusterStageResult> {
  const runDir = config.runDir ?? path.join('runs', config.name);
  const silent = opts.silent ?? process.env.AVCURATE_QUIET === '1';
  const paths = clusterPaths(runDir);
  const partOf = (f: string) => path.join(paths.partsDir, partNameOf(f));
  const files = await listFeatureShards(runDir);
  if (files.length === 0) throw new ClusterStageError(`${runLayout(runDir).featuresDir}: no feature shards (run "avcurate extract" first)`);
  const cfg = config.clustering;
  const kernel = kernelOptions(cfg);
  // Clips added later are assigned to the model of the shards it was fitted on (curation/incremental).
  const fitFiles = await fitShards(runDir, files);
  const fingerprint = await fingerprintOf(config, fitFiles);
  // The stage ledger decides what is finished (src/run/ledger.ts): clusters.h5 for this clustering
  // config and these feature shards (stages/cluster.json), each shard's labels for this model
  // (stages/cluster-part/<part>.json).
  const shardContents = new Map<string, string>();
  for (const f of files) shardContents.set(f, stableKey(featureShardContent(await readFeatureShardAttrs(f))));
  const stageInputs = { config: { clustering: clusteringParts(config), seed: config.seed }, inputs: { model: fingerprint, features: files.map((f) => [path.basename(f), shardContents.get(f)]) } };
  const partInputs = (f: string) => ({ inputs: { model: fingerprint, features: shardContents.get(f)! } });
  const partKey = (f: string) => path.relative(runLayout(runDir).root, partOf(f)).replace(/\.h5$/, '');
  const partDone = async (f: string) => (await stageDone(runDir, CLUSTER_PART_STAGE, partInputs(f), { shard: partKey(f) })).done;
  type Recorded = { n: number | null; clusterings: ClusterStageResult['clusterings'] };
  const finished = async (say: boolean): Promise<ClusterStageResult | null> => {
    const check = await stageDone<Recorded>(runDir, CLUSTER_STAGE, stageInputs);
    if (!check.done) {
      const note = redoNote(check, runDir);
      if (note && say && !silent) log(`cluster: ${note}`);
      return null;
    }
    const s = check.record!.summary;
    return { modelPath: paths.model, clustersPath: paths.clusters, fitted: false, assigned: 0, skipped: unitsOfShard(files.length, shard).length, pending: 0, merged: false, n: s.n, clusterings: s.clusterings };
  };
  if (!opts.fitOnly && opts.merge !== false) {
    const done = await finished(true);
    if (done) return done;
  }

  let model = await readClusterModel(paths.model).catch(() => null);
  let fitted = false;
  if (!model || model.fingerprint !== fingerprint) {
    const samples = await completeSampleSet(runDir, fingerprint);
    if (!silent) log(`cluster: fitting ${model ? '(config or features changed) ' : ''}on a sample of clips from ${fitFiles.length} feature shards${samples ? ` (merging ${samples.length} shard samples)` : ''}`);
    model = await fitModel(config, fitFiles, fingerprint, silent, samples);
    await writeClusterModel(paths.model, model);
    fitted = true;
  }
  const summary = () =>
    model!.clusterings.map((c) => ({
      modality: c.modality,
      layer: c.layer,
      k: c.k,
      iterations: c.iterations,
      fitPoints: c.fitPoints,
      fitInertia: c.inertia,
      inertia: null as number | null,
    }));
  if (opts.fitOnly) {
    return { modelPath: paths.model, clustersPath: null, merged: false, fitted, assigned: 0, skipped: 0, pending: files.length, n: null, clusterings: summary() };
  }

  const mine = unitsOfShard(files.length, shard).map((u) => files[u]);
  let assigned = 0;
  let skipped = 0;
  const prog = new Progress(`cluster: assigning (shard ${shard.index}/${shard.count})`, { total: mine.length, unit: 'shards', silent });
  for (const file of mine) {
    const part = partOf(file);
    if (await partDone(file)) {
      skipped++;
      prog.tick();
      continue;
    }
    const labels = await assignShard(model, file, kernel);
    await writeClusters(part, labels);
    await markDone(runDir, CLUSTER_PART_STAGE, partInputs(file), { shard: partKey(file), outputs: [part] });
    assigned++;
    prog.tick(1);
  }
  prog.finish();

  const pendingFiles: string[] = [];
  for (const f of files) if (!(await partDone(f))) pendingFiles.push(f);
  const base = { modelPath: paths.model, fitted, assigned, skipped, pending: pendingFiles.length, clusterings: summary() };
  if (pendingFiles.length > 0 || opts.merge === false) return { ...base, clustersPath: null, merged: false, n: null };

  const parts = files.map(partOf);
  // Another shard process may have merged while this one assigned.
  if (!fitted && assigned === 0) {
    const done = await finished(false);
    if (done) return { ...done, skipped };
  }
  let merged = await mergePartsStreaming(runDir, parts, model, paths.clusters, silent);
  if (!merged) {
    const m = await mergeParts(runDir, parts, model, paths.clusters, silent);
    merged = { n: m.n, inertia: m.clusterings.map((c) => c.inertia) };
  }
  const out: ClusterStageResult = {
    ...base,
    clustersPath: paths.clusters,
    merged: true,
    n: merged.n,
    clusterings: base.clusterings.map((c, d) => ({ ...c, inertia: merged.inertia[d] })),
  };
  await markDone(runDir, CLUSTER_STAGE, stageInputs, { outputs: [paths.clusters, paths.model], summary: { n: out.n, clusterings: out.clusterings } });
  return out;
}
