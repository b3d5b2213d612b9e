export { type RngState, hashSeed, Rng } from './random.js';
export {
  tempPathFor, writeFileAtomic, writeFileAtomicSync, produceFileAtomic, writeJsonlAtomic, writeJsonAtomic,
  cleanStaleTemps,
} from './atomic.js';
export { type ProgressOptions, formatDuration, Progress, log } from './progress.js';
export {
  type ShardSpec, ShardError, parseShard, resolveShard, shardRange, unitsOfShard, shardName,
} from './shard.js';
export { defaultConcurrency, Pool, mapOrdered } from './pool.js';
export { readJsonl, iterJsonl, exists } from './jsonl.js';
export { type H5, loadH5, withH5 } from './h5.js';
export { parseCsv, headerIndex, parseCsvRecords, csvField } from './csv.js';
