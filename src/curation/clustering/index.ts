/** Clustering: k-means per (modality, layer), the nearest-centroid kernel, clusters.h5. */
export { writeClusters, readClusters, readClustersAttrs, CLUSTERS_FORMAT, CLUSTERS_VERSION } from './store.js';
export type { ClusterFile, ClusteringInfo, Modality as ClusterModality } from './store.js';
export { NearestCentroid, assignJs, pairwiseSqDist, releaseKernelSessions, assignGraph } from './kernel.js';
export type { KernelBackend, KernelOptions, AssignResult } from './kernel.js';
export { kmeans, kmeansPlusPlus, distinctRows, KMeansInputError } from './kmeans.js';
export type { KMeansOptions, KMeansResult } from './kmeans.js';
export { fitTransform, applyTransform, transformedDim, l2NormalizeRows, fitPcaWhitening, symmetricEigen, fitStandardisation, applyStandardisation } from './preprocess.js';
export type { FeatureTransform, PcaWhitening, TransformOptions, Standardisation } from './preprocess.js';
export { readClusterModel, writeClusterModel, MODEL_FORMAT } from './model.js';
export type { ClusterModel, FittedClustering } from './model.js';
export { runCluster, assignShard, planClusterings, clusterPaths, ClusterStageError, JOINT_LAYER } from './stage.js';
export type { ClusterStageOptions, ClusterStageResult, ClusteringSpec } from './stage.js';
export { plantedClusters, adjustedRandIndex } from './synthetic.js';
export type { PlantedClusters } from './synthetic.js';
