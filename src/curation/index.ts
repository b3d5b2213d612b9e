export * from './manifest/index.js';
export * from './features/index.js';
export * from './clustering/index.js';
export * from './selection/index.js';
export * from './pipeline.js';
