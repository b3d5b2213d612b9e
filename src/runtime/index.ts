export * from './random.js';
export * from './atomic.js';
export * from './progress.js';
export * from './shard.js';
export * from './pool.js';
export * from './jsonl.js';
export * from './h5.js';
export * from './csv.js';
