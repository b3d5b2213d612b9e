/**
 * avcurate/loaders: a stateful Dataset<T> pipeline for clips (sources, shuffle, decode, augment,
 * batch, prefetch, rank/worker splits, mixing, exact resume), WebDataset tar shards (read and
 * write), .npy, and adapters to typed arrays and tfjs tensors. Importing this does not load tfjs.
 */
export {
  type NodeState, type NodeContext, type StageReport, type Node, type NodeFactory, DONE, item, skipItems,
  type OnError, SkipCounter, StateError, expectKind, errorMessage,
} from './core/node.js';
export { Dataset, DatasetIterator, type PipelineState } from './core/dataset.js';
export { fromArray, range } from './sources/array.js';
export { map, filter, mapParallel, shuffle, batch, prefetch, repeat, take, splitByRank, splitByWorker, decode, spectrogram, augment } from './functions.js';
export { mapStage, filterStage, mapParallelStage, ItemError, ReadAheadNode, type MapFn, type MapOptions, type ParallelMapOptions } from './stages/map.js';
export { shuffleStage, BufferShuffleNode } from './shuffle/buffer.js';
export { batchStage, collate, type BatchOptions, type Collated } from './batching/batch.js';
export { prefetchStage } from './stages/prefetch.js';
export { repeatStage, takeStage } from './stages/repeat.js';
export { splitByRankStage, splitByWorkerStage, splitCount, type SplitOptions, type SplitPolicy } from './partition/split.js';
export { mix, type MixOptions } from './mixing/mix.js';
export {
  type DType, type TypedArray, type NdArray, DTYPE_BYTES, DTYPE_ARRAY, sizeOf, isNdArray, ndarray, dtypeOf,
  stack,
} from './formats/ndarray.js';
export { fromShards, resolveShards, readShardIndex, expandBraces, type Sample, type ShardInfo, type ShardIndex, type ShardsOptions } from './sources/shards.js';
export { parseSample, parseMember, npyFields, type ParsedSample } from './sources/members.js';
export { encodeNpy, decodeNpy, NpyError } from './formats/npy.js';
export { TarReader, TarWriter, TarError, splitMemberName, isUnsafeMemberName } from './formats/tar.js';
export { openBytes, FileByteReader, HttpByteReader, type ByteReader } from './io/bytes.js';
export { sanitizeKey, isSafeKey } from './export/keys.js';
export { ShardWriter, shardFileName, type WrittenShard, type ShardWriterOptions } from './export/shardWriter.js';
export { fromManifest, fromSelection, loadManifest, loadSelection, type ClipRecord, type SelectedClip, type ClipSourceOptions, type SelectionSourceOptions } from './sources/clips.js';
export { decodeStage, decodeItem, clipInput, checkDecodeSpec, type DecodeSpec, type DecodedItem, type ClipDecoder, type Sampling } from './decode/decode.js';
export { augmentStage, augmentItem, type AugmentSpec } from './augment/augment.js';
export { spectrogramStage, spectrogramItem, type SpectrogramSpec, type SpectrogramItem } from './decode/spectrogram.js';
export { fromTensorCache, writeTensorCache, readTensorCacheIndex, isTensorCache, TENSOR_CACHE_FORMAT, type TensorCacheIndex, type TensorCacheOptions, type TensorField, type CachedItem, type WriteTensorCacheOptions, type WriteTensorCacheResult } from './cache/tensor-cache.js';
export { arraysOf, framesToFloat32, type FrameNormalization } from './adapters/typed.js';
export { toTensors, toTensorsWith, ndarrayToTensor, type TensorOptions, type TfModule } from './adapters/tfjs.js';
export { clipPipeline, clipItems, buildTensorCache, decodeSpecOf, openClipSource, type ClipPipelineOptions, type ClipItemsOptions, type ClipShape, type ClipSource, type DatasetSource, type BuildTensorCacheOptions } from './pipeline.js';
export { exportShards, verifyShards, listShardKeys, type ExportOptions, type ExportResult } from './export/export.js';
export { dumpShards, type InteropDump } from './export/interop.js';
