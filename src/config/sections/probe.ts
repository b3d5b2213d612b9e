import { z } from 'zod';

/** A downstream dataset for linear probes, in one of the layouts the adapters read. */
export const ProbeDatasetSchema = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('folder'), path: z.string().min(1), extensions: z.array(z.string()).optional() }).strict(),
  z.object({ kind: z.literal('csv'), path: z.string().min(1), root: z.string().optional() }).strict(),
  z.object({ kind: z.literal('esc50'), path: z.string().min(1), esc10: z.boolean().optional() }).strict(),
  z
    .object({
      kind: z.literal('ucf101'),
      path: z.string().min(1),
      splitsDir: z.string().optional(),
      videoDir: z.string().optional(),
      splits: z.array(z.number().int().min(1).max(3)).min(1).optional(),
    })
    .strict(),
  z.object({ kind: z.literal('kinetics'), path: z.string().min(1), videoDir: z.string().optional() }).strict(),
  z
    .object({
      kind: z.literal('synth'),
      path: z.string().min(1),
      label: z.enum(['visual', 'audio']).optional(),
      includeMismatched: z.boolean().optional(),
    })
    .strict(),
]);

/** How a dataset is split for evaluation. */
export const ProbeProtocolSchema = z.discriminatedUnion('kind', [
  /** k folds: the dataset's own folds (ESC-50, a CSV fold column) or stratified random folds. */
  z.object({ kind: z.literal('folds'), k: z.number().int().min(2).default(5) }).strict(),
  /** The dataset's predefined splits (UCF101 lists, a CSV split column). */
  z.object({ kind: z.literal('predefined') }).strict(),
  /** One stratified hold-out. */
  z.object({ kind: z.literal('holdout'), testFraction: z.number().gt(0).lt(1).default(0.3) }).strict(),
  /** Few-shot episodes: `shots` random training items per class, every other item tested. */
  z.object({ kind: z.literal('fewshot'), shots: z.number().int().min(1).default(1), episodes: z.number().int().min(1).default(10) }).strict(),
]);

/** The `probe` section: linear probes on frozen SSL embeddings. */
export const ProbeSchema = z
  .object({
    /** The dataset `avcurate probe` evaluates (the experiment runner builds its own task). */
    dataset: ProbeDatasetSchema.optional(),
    protocol: ProbeProtocolSchema.prefault({ kind: 'folds' }),
    /**
     * Embeddings to probe: audio, visual, both concatenated, and cross (a classifier trained on
     * one modality's projection-head embeddings and tested on the other's, both ways).
     */
    modalities: z.array(z.enum(['audio', 'visual', 'both', 'cross'])).min(1).default(['audio', 'visual', 'both', 'cross']),
    /** Which embedding audio/visual/both probe: pooled encoder features (default) or the projection head. */
    layer: z.enum(['encoder', 'head']).default('encoder'),
    /** Candidate L2 strengths; the best on the validation split is used. */
    lambdas: z.array(z.number().nonnegative()).min(1).default([1, 1e-1, 1e-2, 1e-3, 1e-4, 1e-5]),
    /** Fraction of each training split held out to choose lambda. */
    valFraction: z.number().gt(0).lt(1).default(0.2),
    /** L-BFGS iteration cap per fit. */
    maxIter: z.number().int().positive().default(300),
    /** The k of top-k accuracy reported beside top-1. */
    topK: z.number().int().positive().default(5),
    /** Clip window (seconds) embedded from each item when the dataset gives none. */
    clipSeconds: z.number().positive().optional(),
    /** Batch size for embedding. */
    batchSize: z.number().int().positive().default(32),
  })
  .strict();

export type ProbeConfig = z.infer<typeof ProbeSchema>;
export type ProbeDatasetConfig = z.infer<typeof ProbeDatasetSchema>;
export type ProbeProtocolConfig = z.infer<typeof ProbeProtocolSchema>;
