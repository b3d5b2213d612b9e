export * from './probe/index.js';
export * from './model.js';
export * from './loss.js';
export * from './optim.js';
export * from './checkpoint.js';
export * from './data.js';
export * from './trainer.js';
export * from './contrastive-select.js';
