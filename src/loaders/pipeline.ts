/**
 * The standard training pipeline from the `loader` config section, for training loops and the
 * experiment runner: source → [rank split] → [shuffle] → decode → [augment] → batch → [prefetch]
 * → repeat(epochs). Each epoch remakes the stages with ctx.epoch, so the shard order, the sample
 * shuffle and random windows change every epoch and stay reproducible from the seed.
 */
import type { Dataset } from './core/dataset.js';
import type { Collated } from './batching/batch.js';
import type { DecodedItem } from './decode/decode.js';
import type { AugmentSpec } from './augment/augment.js';
import { fromShards } from './sources/shards.js';
import { fromManifest, fromSelection } from './sources/clips.js';
import type { LoaderConfig } from '../config/sections/loader.js';

export interface ClipPipelineOptions {
  seed: number;
  rank?: number;
  world?: number;
  /** Passes over the data (default 1; Infinity for endless). */
  epochs?: number;
  /** true (default): shuffle and the configured sampling; false (evaluation): no shuffle, centre windows. */
  training?: boolean;
  augment?: AugmentSpec | null;
}

/**
 * `source`: shards (a folder, shards.json, .tar paths or URLs), a selection.csv, or a
 * manifest.jsonl. Batches carry `key`, `frames` [B, T, H, W, 3] uint8, `audio` [B, S] float32, `meta`.
 */
export async function clipPipeline(source: string | readonly string[], loader: LoaderConfig, opts: ClipPipelineOptions): Promise<Dataset<Collated<DecodedItem>>> {
  const training = opts.training ?? true;
  const world = opts.world ?? 1;
  const one = typeof source === 'string' ? source : source.length === 1 ? source[0] : null;
  let ds: Dataset<unknown>;
  if (one?.endsWith('.csv')) ds = await fromSelection(one);
  else if (one?.endsWith('.jsonl')) ds = await fromManifest(one);
  else ds = await fromShards(source, { onError: loader.onError, maxMemberBytes: loader.maxMemberBytes, shuffleShards: training && loader.shuffleShards ? opts.seed : undefined });
  if (world > 1) ds = ds.splitByRank(opts.rank ?? 0, world, { policy: loader.splitPolicy });
  if (training && loader.shuffleBuffer > 0) ds = ds.shuffle(loader.shuffleBuffer, opts.seed);
  let decoded = ds.decode({
    ...loader.decode,
    sampling: training ? loader.decode.sampling : 'center',
    seed: opts.seed,
    concurrency: loader.concurrency || undefined,
    onError: loader.onError,
  });
  if (opts.augment) decoded = decoded.augment(opts.augment);
  let batches = decoded.batch(loader.batchSize, { dropRemainder: loader.dropRemainder });
  if (loader.prefetch > 0) batches = batches.prefetch(loader.prefetch);
  const epochs = opts.epochs ?? 1;
  return epochs === 1 ? batches : batches.repeat(epochs);
}
