/**
 * The one way from clips to batches, configured by the `loader` section, used by `pretrain`,
 * `probe`, the experiment's arms and probes, `export --npy` and any training loop:
 *
 *   source → [rank/worker split] → [shuffle] → decode → [spectrogram] → [augment] → batch
 *          → [prefetch] → repeat(epochs)
 *
 * A source is WebDataset shards (a folder, shards.json, .tar paths or URLs), a selection.csv, a
 * manifest.jsonl, a decoded-tensor cache folder (cache/tensor-cache.ts: decode and spectrogram
 * are already done, the rest of the chain is the same), or a Dataset. `buildTensorCache` runs the
 * decode half once into a cache. Each epoch remakes the stages with ctx.epoch, so the shard order,
 * the sample shuffle, random windows and augmentations change every epoch and stay reproducible
 * from the seed; the iterator's state resumes exactly.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import type { Dataset } from './core/dataset.js';
import type { Collated } from './batching/batch.js';
import type { DecodeSpec, Sampling } from './decode/decode.js';
import { spectrogramStage, type SpectrogramSpec } from './decode/spectrogram.js';
import type { AugmentSpec } from './augment/augment.js';
import { fromShards } from './sources/shards.js';
import { fromShardSplit } from './partition/shards.js';
import { fromManifest, fromSelection } from './sources/clips.js';
import { fromTensorCache, readTensorCacheIndex, writeTensorCache, type TensorCacheIndex, type WriteTensorCacheResult } from './cache/tensor-cache.js';
import type { LoaderConfig } from '../config/sections/loader.js';

/** A fixed frame shape (a model's input): T frames of width x height over loader.decode.seconds. */
export interface ClipShape {
  frames: number;
  width: number;
  height: number;
}

/** A Dataset as the source: clip records / shard samples, or items already decoded. */
export interface DatasetSource {
  dataset: Dataset<unknown>;
  /** Items carry decoded `frames` (and `spec` when a spectrogram is asked for): no decode. */
  decoded?: boolean;
}

export type ClipSource = string | readonly string[] | DatasetSource;

export interface ClipItemsOptions {
  seed: number;
  /**
   * This consumer's rank of `world` (and data worker of `workers`): shard sources split by shard
   * (each rank opens only its shards; loader.splitPolicy equalises the counts), other sources by
   * sample (splitByRank).
   */
  rank?: number;
  world?: number;
  worker?: number;
  workers?: number;
  /** true (default): shuffle, the configured sampling, augment; false (evaluation): in order, centre windows, no augment. */
  training?: boolean;
  /** The frame shape a model needs; loader.decode.fps/size, when set, must agree with it. */
  shape?: ClipShape;
  /** Add a log-mel patch `spec` [frames, mels] (and drop the waveform). */
  spectrogram?: SpectrogramSpec;
  augment?: AugmentSpec | null;
  /** Only these clips (tensor cache source: its rows with these keys, in this order). */
  keys?: readonly string[];
}

export interface ClipPipelineOptions extends ClipItemsOptions {
  /** The consumer's batch size (ssl.batchSize, probe.batchSize, a training loop's own). */
  batchSize: number;
  /** Passes over the data (default 1; Infinity for endless). */
  epochs?: number;
}

/**
 * The decode settings: loader.decode, with fps and size from `shape` where the config leaves them
 * unset. A consumer that needs exactly that shape (a model) is `strict` (the default): set values
 * that disagree with it are refused; otherwise `shape` only fills in what is unset.
 */
export function decodeSpecOf(loader: LoaderConfig, opts: { shape?: ClipShape; sampling: Sampling; seed: number; strict?: boolean }): DecodeSpec {
  const d = loader.decode;
  let fps = d.fps;
  let size = d.size;
  if (opts.shape) {
    const { frames, width, height } = opts.shape;
    const wantFps = frames / d.seconds;
    const strict = opts.strict ?? true;
    if (strict && fps !== undefined && Math.round(fps * d.seconds) !== frames) {
      throw new Error(`loader.decode.fps ${fps} over loader.decode.seconds ${d.seconds} gives ${Math.round(fps * d.seconds)} frames; the model takes ${frames} (unset loader.decode.fps, or set it to ${wantFps})`);
    }
    const [w, h] = size === undefined ? [width, height] : typeof size === 'number' ? [size, size] : size;
    if (strict && (w !== width || h !== height)) throw new Error(`loader.decode.size ${w}x${h} differs from the model's input ${width}x${height} (unset loader.decode.size)`);
    fps ??= wantFps;
    size ??= [width, height];
  }
  if (fps === undefined || size === undefined) throw new Error('loader.decode.fps and loader.decode.size are unset and no model shape gives them: set both');
  return {
    fps,
    size,
    seconds: d.seconds,
    sampleRate: d.sampleRate,
    sampling: opts.sampling,
    fit: d.fit,
    seed: opts.seed,
    concurrency: loader.concurrency || undefined,
    onError: loader.onError,
  };
}

function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

/** Refuse a cache whose fields do not have the shapes the consumer needs. */
function checkCache(dir: string, idx: TensorCacheIndex, opts: ClipItemsOptions): void {
  const want: Array<[string, string, number[]]> = [];
  if (opts.shape) want.push(['frames', 'uint8', [opts.shape.frames, opts.shape.height, opts.shape.width, 3]]);
  if (opts.spectrogram) want.push(['spec', 'float32', [opts.spectrogram.frames, opts.spectrogram.mels]]);
  for (const [name, dtype, shape] of want) {
    const f = idx.fields[name];
    if (!f) throw new Error(`tensor cache ${dir} has no "${name}" field (it holds ${Object.keys(idx.fields).join(', ')})`);
    if (f.dtype !== dtype || !sameShape(f.shape, shape)) throw new Error(`tensor cache ${dir} holds ${name} ${f.dtype} [${f.shape.join(', ')}], the consumer needs ${dtype} [${shape.join(', ')}]: rebuild the cache`);
  }
}

/** Open a source: the dataset and whether its items are already decoded. */
export async function openClipSource(source: ClipSource, loader: LoaderConfig, opts: ClipItemsOptions, views = false): Promise<{ ds: Dataset<unknown>; decoded: boolean; splitDone?: boolean }> {
  if (typeof source === 'object' && !Array.isArray(source) && 'dataset' in source) {
    const s = source as DatasetSource;
    if (opts.keys) throw new Error('clip pipeline: `keys` selects rows of a tensor cache; filter a Dataset source yourself');
    return { ds: s.dataset, decoded: s.decoded ?? false };
  }
  const list = source as string | readonly string[];
  const one = typeof list === 'string' ? list : list.length === 1 ? list[0] : null;
  if (one !== null && existsSync(path.join(one, 'index.json'))) {
    const idx = await readTensorCacheIndex(one);
    checkCache(one, idx, opts);
    return { ds: (await fromTensorCache(one, { keys: opts.keys, views })) as Dataset<unknown>, decoded: true };
  }
  if (opts.keys) throw new Error(`clip pipeline: \`keys\` needs a tensor cache source, got ${String(one ?? list)}`);
  if (one?.endsWith('.csv')) return { ds: (await fromSelection(one)) as Dataset<unknown>, decoded: false };
  if (one?.endsWith('.jsonl')) return { ds: (await fromManifest(one)) as Dataset<unknown>, decoded: false };
  const training = opts.training ?? true;
  const shardOpts = { onError: loader.onError, maxMemberBytes: loader.maxMemberBytes, shuffleShards: training && loader.shuffleShards ? opts.seed : undefined };
  if ((opts.world ?? 1) * (opts.workers ?? 1) > 1) {
    const split = { rank: opts.rank ?? 0, world: opts.world ?? 1, worker: opts.worker ?? 0, workers: opts.workers ?? 1, policy: loader.splitPolicy };
    return { ds: (await fromShardSplit(list, { ...shardOpts, split })) as Dataset<unknown>, decoded: false, splitDone: true };
  }
  return { ds: (await fromShards(list, shardOpts)) as Dataset<unknown>, decoded: false };
}

/** The unbatched half: source → [split] → [shuffle] → decode → [spectrogram] → [augment]. */
export async function clipItems(source: ClipSource, loader: LoaderConfig, opts: ClipItemsOptions): Promise<Dataset<Record<string, unknown>>> {
  return itemsOf(source, loader, opts, false);
}

/** clipItems; `views`: tensor-cache rows may view the cache's memory (only for a caller that copies every item, as batch does). */
async function itemsOf(source: ClipSource, loader: LoaderConfig, opts: ClipItemsOptions, views: boolean): Promise<Dataset<Record<string, unknown>>> {
  const training = opts.training ?? true;
  const world = opts.world ?? 1;
  const workers = opts.workers ?? 1;
  const { ds: src, decoded, splitDone } = await openClipSource(source, loader, opts, views);
  let ds = src;
  if (!splitDone && world > 1) ds = ds.splitByRank(opts.rank ?? 0, world, { policy: loader.splitPolicy });
  if (!splitDone && workers > 1) ds = ds.splitByWorker(opts.worker ?? 0, workers, { policy: loader.splitPolicy });
  if (training && loader.shuffleBuffer > 0) ds = ds.shuffle(loader.shuffleBuffer, opts.seed);
  let items: Dataset<Record<string, unknown>>;
  if (decoded) items = ds as Dataset<Record<string, unknown>>;
  else {
    const spec = decodeSpecOf(loader, { shape: opts.shape, sampling: training ? loader.decode.sampling : 'center', seed: opts.seed });
    const d = ds.decode(spec);
    items = (opts.spectrogram ? d.apply(spectrogramStage(opts.spectrogram)) : d) as unknown as Dataset<Record<string, unknown>>;
  }
  if (training && opts.augment) items = items.augment(opts.augment);
  return items;
}

/**
 * Batches of clips: `key` [B], `frames` uint8 [B, T, H, W, 3], `audio` float32 [B, S] (or `spec`
 * float32 [B, frames, mels] with a spectrogram), `meta` [B].
 */
export async function clipPipeline(source: ClipSource, loader: LoaderConfig, opts: ClipPipelineOptions): Promise<Dataset<Collated<Record<string, unknown>>>> {
  const training = opts.training ?? true;
  // Tensor-cache rows are views of the cache (no copy per row): batch copies every item, and
  // augment writes only to new arrays, so nothing here writes to them.
  const its = await itemsOf(source, loader, opts, true);
  let batches = its.batch(opts.batchSize, { dropRemainder: training && loader.dropRemainder });
  if (loader.prefetch > 0) batches = batches.prefetch(loader.prefetch);
  const epochs = opts.epochs ?? 1;
  return epochs === 1 ? batches : batches.repeat(epochs);
}

export interface BuildTensorCacheOptions {
  seed: number;
  shape?: ClipShape;
  spectrogram?: SpectrogramSpec;
  /** Kept in index.json; a complete cache with the same fingerprint is reused as is. */
  fingerprint?: string;
  onItem?: (written: number) => void;
}

/**
 * Decode every clip of `source` once (in order, the configured sampling; a `random` window is drawn
 * once per clip from the seed) into a tensor cache in `dir`: fields `frames` and `spec` (with a
 * spectrogram) or `audio`. Undecodable clips are left out and listed in index.json `skipped`.
 */
export async function buildTensorCache(source: ClipSource, dir: string, loader: LoaderConfig, opts: BuildTensorCacheOptions): Promise<WriteTensorCacheResult> {
  const { ds, decoded } = await openClipSource(source, loader, { seed: opts.seed, training: false });
  if (decoded) throw new Error(`tensor cache ${dir}: the source is already decoded`);
  const spec = decodeSpecOf(loader, { shape: opts.shape, sampling: loader.decode.sampling, seed: opts.seed });
  const d = ds.decode(spec);
  const items = (opts.spectrogram ? d.apply(spectrogramStage(opts.spectrogram)) : d) as unknown as Dataset<Record<string, unknown>>;
  const fields = opts.spectrogram ? ['frames', 'spec'] : ['frames', 'audio'];
  return writeTensorCache(items, dir, { fields, fingerprint: opts.fingerprint, reuse: opts.fingerprint !== undefined, onItem: opts.onItem });
}
