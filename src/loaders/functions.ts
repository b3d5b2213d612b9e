/**
 * Every pipeline stage as a plain function of a dataset (`shuffle(ds, 1000, seed)`), the same
 * stages the fluent methods apply (`ds.shuffle(1000, seed)`), in the WebDataset style.
 */
import type { Dataset } from './core/dataset.js';
import { mapStage, filterStage, mapParallelStage, type MapFn, type MapOptions, type ParallelMapOptions } from './stages/map.js';
import { shuffleStage } from './shuffle/buffer.js';
import { batchStage, type BatchOptions, type Collated } from './batching/batch.js';
import { prefetchStage } from './stages/prefetch.js';
import { repeatStage, takeStage } from './stages/repeat.js';
import { decodeStage, type DecodeSpec, type DecodedItem } from './decode/decode.js';
import { spectrogramStage, type SpectrogramItem, type SpectrogramSpec } from './decode/spectrogram.js';
import { augmentStage, type Augmentable, type AugmentSpec } from './augment/augment.js';
import { splitByRankStage, splitByWorkerStage, type SplitOptions } from './partition/split.js';

export const map = <T, U>(ds: Dataset<T>, fn: MapFn<T, U>, opts?: MapOptions<T>): Dataset<U> => ds.apply(mapStage(fn, opts));
export const filter = <T>(ds: Dataset<T>, pred: (item: T, index: number) => boolean | Promise<boolean>): Dataset<T> => ds.apply(filterStage(pred));
export const mapParallel = <T, U>(ds: Dataset<T>, fn: MapFn<T, U>, opts: ParallelMapOptions<T>): Dataset<U> => ds.apply(mapParallelStage(fn, opts));
export const shuffle = <T>(ds: Dataset<T>, bufferSize: number, seed: number): Dataset<T> => ds.apply(shuffleStage<T>(bufferSize, seed));
export const batch = <T>(ds: Dataset<T>, size: number, opts?: BatchOptions): Dataset<Collated<T>> => ds.apply(batchStage<T>(size, opts));
export const prefetch = <T>(ds: Dataset<T>, n: number): Dataset<T> => ds.apply(prefetchStage<T>(n));
export const repeat = <T>(ds: Dataset<T>, epochs = Infinity): Dataset<T> => ds.apply(repeatStage<T>(epochs));
export const take = <T>(ds: Dataset<T>, n: number): Dataset<T> => ds.apply(takeStage<T>(n));
export const decode = <T>(ds: Dataset<T>, spec: DecodeSpec): Dataset<DecodedItem> => ds.apply(decodeStage<T>(spec));
export const spectrogram = (ds: Dataset<DecodedItem>, spec: SpectrogramSpec): Dataset<SpectrogramItem> => ds.apply(spectrogramStage(spec));
export const augment = <T extends Augmentable>(ds: Dataset<T>, spec: AugmentSpec): Dataset<T> => ds.apply(augmentStage<T>(spec));
export const splitByRank = <T>(ds: Dataset<T>, rank: number, world: number, opts?: SplitOptions): Dataset<T> => ds.apply(splitByRankStage<T>(rank, world, opts));
export const splitByWorker = <T>(ds: Dataset<T>, worker: number, workers: number, opts?: SplitOptions): Dataset<T> => ds.apply(splitByWorkerStage<T>(worker, workers, opts));
