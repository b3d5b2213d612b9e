import { z } from 'zod';

/**
 * Adding clips to a curated run (`avcurate curate --add <folder|csv>`; docs/selection.md
 * "Adding clips"): new clips are assigned to the existing centroids, and the selection continues
 * from the current one.
 */
export const IncrementalSchema = z
  .object({
    /**
     * Refit the clusterings on every clip instead of assigning the new ones to the existing
     * centroids: `never`, `always`, `drift` = when the drift measure exceeds `driftThreshold`, or
     * `auto` = on drift, and also when the fitting sample holds every clip of the enlarged pool
     * (at most clustering.fitPointsPerCentroid × the largest k clips, from every shard): then a
     * full run fits on every clip, and a refit costs about one assignment pass and gives the
     * full run's clusterings (docs/selection.md "Adding clips").
     */
    refit: z.enum(['auto', 'drift', 'never', 'always']).default('auto'),
    /**
     * Drift: for each clustering, the mean squared distance of the new clips to their assigned
     * centroid divided by that of the clips the model was fitted on; the mean ratio over the
     * clusterings is compared with this threshold.
     */
    driftThreshold: z.number().gt(1).default(1.5),
    /**
     * With `selection.order: greedy`: `merge` keeps the previous ranking for the clips that stay
     * and merges the entered clips into it by the greedy criterion (two scores per rank); `full`
     * re-orders the whole selection as a full run does (docs/selection.md "Adding clips").
     */
    reorder: z.enum(['merge', 'full']).default('merge'),
    /** Refinement of the continued selection. */
    refine: z
      .object({
        enabled: z.boolean().default(true),
        maxEvaluations: z.number().int().positive().optional(),
        patience: z.number().int().positive().optional(),
        /** Share of the previous selection, the end of its ranking, that may be swapped out. */
        weakShare: z.number().gt(0).max(1).default(0.25),
        seconds: z.number().positive().default(60),
      })
      .strict()
      .prefault({}),
  })
  .strict();

export type IncrementalConfig = z.infer<typeof IncrementalSchema>;
