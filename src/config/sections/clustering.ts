import { z } from 'zod';

const kList = z.array(z.number().int().min(1)).min(1);

/** One (modality, layer) to cluster, with its own list of k (each k is one clustering). */
export const ClusteringLayerSchema = z
  .object({
    modality: z.enum(['audio', 'visual']),
    layer: z.string().min(1),
    /** k values for this layer (default: clustering.k). */
    k: kList.optional(),
  })
  .strict();

/**
 * The `clustering` section: k-means per (modality, layer), fitted once on a sample of clips and
 * then used to assign every clip (docs/algorithms.md §1).
 */
export const ClusteringSchema = z
  .object({
    /** k values used for every clustered layer that does not list its own (each k = one clustering). */
    k: kList.default([32]),
    /** Layers to cluster, each with optional k values; empty (default) = every layer in the feature shards. */
    layers: z.array(ClusteringLayerSchema).default([]),
    /**
     * Also cluster each modality's layers together (when it has two or more): every layer's
     * features standardised per column on the fitting sample and weighted so each layer counts
     * the same, concatenated, clustered with clustering.k. Its clusterings are named
     * `<modality>/joint/k<k>` and pair like any other (docs/clustering.md "Joint clusterings").
     */
    joint: z.boolean().default(false),
    /** Lloyd iterations at most. */
    iterations: z.number().int().min(1).default(25),
    /** Stop early when an iteration lowers the inertia by less than this fraction; negative = never. */
    tolerance: z.number().default(1e-4),
    /** Independent k-means runs per clustering; the lowest inertia is kept. */
    restarts: z.number().int().min(1).default(1),
    /** k-means++ seeding uses a sample of this many points per centroid (0 = every fitting point). */
    initPointsPerCentroid: z.number().int().min(0).default(256),
    /** Lloyd iterations use a sample of this many clips per centroid (of the layer's largest k); 0 = every clip. */
    fitPointsPerCentroid: z.number().int().min(0).default(1024),
    /** Read at most this many feature shards (chosen at random, seeded) to draw the fitting sample; 0 = all. */
    fitMaxShards: z.number().int().min(0).default(0),
    /** Scale every feature vector to unit L2 norm before clustering. */
    l2Normalize: z.boolean().default(false),
    /** PCA-whiten the features (fitted on the sample) before clustering; after l2Normalize when both are on. */
    whiten: z.boolean().default(false),
    /** Keep this many principal components when whitening (0 = all with non-negligible variance). */
    whitenDim: z.number().int().min(0).default(0),
    /** Nearest-centroid kernel: onnxruntime GEMM graph, plain JS, or auto (JS only for tiny inputs). */
    backend: z.enum(['auto', 'onnx', 'js']).default('auto'),
    /** onnxruntime intra-op threads (0 = onnxruntime's default: all physical cores). */
    threads: z.number().int().min(0).default(0),
  })
  .strict();

export type ClusteringConfig = z.infer<typeof ClusteringSchema>;
export type ClusteringLayerConfig = z.infer<typeof ClusteringLayerSchema>;
