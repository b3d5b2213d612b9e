export * from './store.js';
export * from './kernel.js';
export * from './kmeans.js';
export * from './synthetic.js';
