/** Clustering: k-means per (modality, layer), the nearest-centroid kernel, clusters.h5. */
export * from './store.js';
export * from './kernel.js';
export * from './kmeans.js';
export * from './preprocess.js';
export * from './model.js';
export * from './stage.js';
export * from './synthetic.js';
