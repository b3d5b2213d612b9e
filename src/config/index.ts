export * from './schema.js';
export * from './load.js';
export * from './errors.js';
export * from './sections/corpus.js';
export * from './sections/ingest.js';
