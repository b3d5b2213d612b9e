export * from './types.js';
export * from './windows.js';
export * from './prefilter.js';
export * from './ingest.js';
export * from './read.js';
export * from './stage.js';
