export * from './probe/index.js';
