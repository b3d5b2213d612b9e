import { z } from 'zod';

const pairRef = z.union([z.number().int().nonnegative(), z.string().min(1)]);

/** Swap refinement after the greedy search (docs/algorithms.md §6). */
export const RefineSchema = z
  .object({
    enabled: z.boolean().default(true),
    /** Stop after this many consecutive rejected swaps (default clamp(|S|·|U|, 1e4, 2e6)). */
    patience: z.number().int().positive().optional(),
    /** Stop after this many evaluated swaps in all (default max(1e6, 10 × clips selected in the partition)). */
    maxEvaluations: z.number().int().positive().optional(),
    /** Wall-clock bound per partition, seconds. Hitting it makes results machine-dependent (reported). */
    seconds: z.number().positive().default(60),
  })
  .strict();

/** The contrastive baseline (method: contrastive, docs/algorithms.md §8): one audio and one visual feature layer. */
export const ContrastiveSelectSchema = z
  .object({
    /** Feature layer to project per modality (default: every layer of the modality, concatenated per clip). */
    audioLayer: z.string().optional(),
    visualLayer: z.string().optional(),
    epochs: z.number().int().positive().default(3),
    batchSize: z.number().int().min(2).default(128),
    lr: z.number().positive().default(2e-4),
    temperature: z.number().positive().default(0.1),
    projDim: z.number().int().positive().default(128),
  })
  .strict();

/** `pairing: auto` (and `avcurate explain`): pairs chosen by their evidence against a permutation null. */
export const AutoPairingSchema = z
  .object({
    /** The pairs tested: every audio × visual pair (default), or every pair of clusterings. */
    candidates: z.enum(['bipartite', 'combination']).default('bipartite'),
    /** Permutation p-value a kept pair must reach (p = (1 + #null ≥ MI) / (1 + permutations)). */
    alpha: z.number().gt(0).max(1).default(0.01),
    /** z-score (MI − null mean) / null sd a kept pair must reach. */
    minZ: z.number().default(4),
    /** Share of the best pair's z-score a kept pair must reach. */
    relativeZ: z.number().min(0).max(1).default(0),
    /** At most this many pairs, the strongest first (25 = the reference's 5 audio × 5 visual). */
    maxPairs: z.number().int().positive().default(25),
    /** Shuffles of the null per pair. */
    permutations: z.number().int().positive().default(100),
    /** Test on at most this many clips (an even stride through the pool). */
    maxRows: z.number().int().min(2).default(20_000),
  })
  .strict()
  .superRefine((v, ctx) => {
    // The smallest p-value the test can give is 1 / (1 + permutations).
    if (1 / (1 + v.permutations) > v.alpha) {
      ctx.addIssue({ code: 'custom', path: ['permutations'], message: `${v.permutations} permutations cannot reach alpha ${v.alpha} (the smallest p-value is 1/(1 + permutations)); use at least ${Math.ceil(1 / v.alpha - 1)}`, input: v.permutations });
    }
  });

/** explain.json after every selection (curate, experiment), as `avcurate explain` writes it. */
export const ExplainConfigSchema = z
  .object({
    /** Write explain.json (and the report's "Why this selection" section) after the selection. */
    enabled: z.boolean().default(true),
    /**
     * The null each pair's MI is compared with: `permutation` (z and p against `auto.permutations`
     * shuffles on at most `auto.maxRows` clips, the `pairing: auto` test) or `none` (MI, cells and
     * clip contributions only, no z or p).
     */
    null: z.enum(['permutation', 'none']).default('permutation'),
  })
  .strict();

/** The `selection` section: MI subset selection over the clusterings in clusters.h5. */
export const SelectionSchema = z
  .object({
    /** `mi` (clustering MI, docs/algorithms.md §2–7), `random` (baseline), `contrastive` (the SSL baseline). */
    method: z.enum(['mi', 'random', 'contrastive']).default('mi'),
    algorithm: z.enum(['batch-greedy', 'greedy', 'stochastic-greedy', 'random']).default('batch-greedy'),
    /**
     * Clustering pairs: bipartite (audio × visual), combination (all pairs), diagonal, auto (the
     * pairs whose pool MI is significantly above a permutation null, see `auto`), or a list of pairs.
     */
    pairing: z
      .union([z.enum(['bipartite', 'combination', 'diagonal', 'auto']), z.array(z.tuple([pairRef, pairRef])).min(1)])
      .default('bipartite'),
    /** `pairing: auto`: which pairs are tested and what they must reach to be kept. */
    auto: AutoPairingSchema.default(AutoPairingSchema.parse({})),
    /** Use only clusterings with these k (default: every clustering in clusters.h5). */
    k: z.array(z.number().int().positive()).min(1).optional(),
    /** MI estimator: bias-corrected Miller–Madow (default) or the reference's plug-in. */
    estimator: z.enum(['miller-madow', 'plugin']).default('miller-madow'),
    /** Fraction of each partition to select (default 0.2, the reference ratio). */
    ratio: z.number().gt(0).max(1).default(0.2),
    /** Absolute number of clips to select in all (overrides ratio; split over partitions by size). */
    size: z.number().int().positive().optional(),
    /** Batch greedy: candidates drawn per step (B). */
    batchSize: z.number().int().positive().default(20),
    /** Batch greedy: clips added per step (k). */
    batchPick: z.number().int().positive().default(4),
    /** Stochastic greedy: ε; each step draws (N/M)·ln(1/ε) candidates. */
    epsilon: z.number().gt(0).lt(1).default(0.1),
    /**
     * Independent searches per partition (search, refinement and order, each from its own random
     * stream); the one with the highest objective is kept. `auto`: 3 for partitions of at most
     * 100,000 clips, where a search takes a fraction of a second, else 1. One unlucky start can
     * leave swap refinement in a local optimum far below the others (docs/selection.md "Restarts").
     */
    restarts: z.union([z.literal('auto'), z.number().int().positive()]).default('auto'),
    refine: RefineSchema.default(RefineSchema.parse({})),
    /**
     * Rank order in selection.csv: `greedy` (default) re-orders the selected set greedily by
     * marginal gain from the empty set, so every prefix is a good subset on its own; `loo` by
     * leave-one-out contribution; `pick` the search's pick order.
     */
    order: z.enum(['greedy', 'loo', 'pick']).default('greedy'),
    /**
     * Small budgets: when a partition's target is below this fraction of it, select this fraction
     * instead, rank it (`order`), and keep the head of the ranking (0 = off). Measured by
     * `npm run bench:budget`: at 5–20 % budgets the head of a half-pool selection is more precise
     * and covers more concepts than a direct selection (docs/selection.md "Small budgets").
     */
    overselect: z.number().min(0).max(1).default(0.5),
    /** Number of partitions, or `auto` = the shard count of the run (1 without --shard). */
    partitions: z.union([z.literal('auto'), z.number().int().positive()]).default('auto'),
    /** Partitions of this many clips (overrides `partitions`). */
    partitionSize: z.number().int().min(2).optional(),
    contrastive: ContrastiveSelectSchema.default(ContrastiveSelectSchema.parse({})),
    explain: ExplainConfigSchema.default(ExplainConfigSchema.parse({})),
  })
  .strict()
  .superRefine((v, ctx) => {
    if (v.batchPick > v.batchSize) {
      ctx.addIssue({ code: 'custom', path: ['batchPick'], message: `batchPick (${v.batchPick}) must not exceed batchSize (${v.batchSize})`, input: v.batchPick });
    }
  });

export type SelectionConfig = z.infer<typeof SelectionSchema>;
export type RefineConfig = z.infer<typeof RefineSchema>;
export type AutoPairingConfig = z.infer<typeof AutoPairingSchema>;
export type ContrastiveSelectConfig = z.infer<typeof ContrastiveSelectSchema>;
export type ExplainConfig = z.infer<typeof ExplainConfigSchema>;
