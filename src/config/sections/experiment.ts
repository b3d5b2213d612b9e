import { z } from 'zod';
import { ProbeDatasetSchema, ProbeProtocolSchema } from './probe.js';

/**
 * Pretraining arms, all trained with the same ssl.steps and ssl.batchSize (equal budget):
 *   curated      the MI-curated subset (selection.csv)
 *   random       a random subset of the pool, the same size as `curated`
 *   contrastive  the subset the contrastive selection baseline keeps, the same size
 *   clean        only clips whose audio truly corresponds (the stand-in for a manually curated
 *                set), the same size; needs ground truth
 *   pool         the whole uncurated pool (its own size)
 *   untrained    a diagnostic, not a pretraining arm: the encoders at initialisation (0 steps),
 *                probed the same way; what the probes read without any pretraining
 */
export const ArmNameSchema = z.enum(['curated', 'random', 'contrastive', 'clean', 'pool', 'untrained']);

/** An extra downstream task probed for every arm and seed. */
export const ExperimentTaskSchema = z
  .object({
    name: z.string().regex(/^[A-Za-z0-9._-]+$/, 'a name of letters, digits, ".", "_" or "-"'),
    dataset: ProbeDatasetSchema,
    protocol: ProbeProtocolSchema.optional(),
  })
  .strict();

/** The `experiment` section: the curate-then-pretrain-then-probe runner. */
export const ExperimentSchema = z
  .object({
    arms: z.array(ArmNameSchema).min(1).default(['curated', 'random', 'contrastive', 'clean', 'pool']),
    /** Pretraining seeds; every arm is trained and probed once per seed. */
    seeds: z.array(z.number().int().nonnegative()).min(1).default([0, 1, 2]),
    /**
     * Fraction of the corpus held out from curation and pretraining, stratified by class, for the
     * built-in downstream task (classify held-out clips whose audio corresponds). 0 = no built-in task.
     */
    heldOut: z.number().min(0).lt(1).default(0.3),
    /** The class the built-in task predicts. */
    taskLabel: z.enum(['visual', 'audio']).default('visual'),
    /** Protocol of the built-in task. */
    taskProtocol: ProbeProtocolSchema.prefault({ kind: 'folds' }),
    /**
     * Also probe the built-in task with few labelled clips: one more task per entry of `shots`
     * (`heldout-<label>-<n>shot`), each `episodes` episodes of n training clips per class with
     * every other held-out clip tested.
     */
    fewShot: z
      .object({ shots: z.array(z.number().int().min(1)).min(1).default([1]), episodes: z.number().int().min(1).default(10) })
      .strict()
      .optional(),
    /** More downstream tasks (ESC-50, UCF101, ...), probed for every arm and seed. */
    tasks: z.array(ExperimentTaskSchema).default([]),
    /** Clips per equal-size arm (default: as many as the curated selection holds). */
    armSize: z.number().int().positive().optional(),
    /** Arms pretrained at once, each in its own process (default: number of cores). */
    parallel: z.number().int().positive().optional(),
    /** Report: draw clip images with ffmpeg, and how many selected and rejected clips to show. */
    report: z
      .object({ images: z.boolean().default(true), clips: z.number().int().nonnegative().default(8) })
      .strict()
      .prefault({}),
    /**
     * Targets checked and reported (issue 8's expected result); they never fail the run. The probe
     * targets are checked for each modality in `modalities` that was probed.
     */
    expect: z
      .object({
        selectionPrecision: z.number().min(0).max(1).default(0.9),
        curatedOverRandom: z.number().default(0.05),
        curatedWithinClean: z.number().nonnegative().default(0.03),
        modalities: z.array(z.enum(['audio', 'visual', 'both', 'cross'])).min(1).default(['both', 'cross']),
      })
      .strict()
      .prefault({}),
  })
  .strict();

export type ExperimentConfig = z.infer<typeof ExperimentSchema>;
export type ArmName = z.infer<typeof ArmNameSchema>;
export type ExperimentTask = z.infer<typeof ExperimentTaskSchema>;
export type { RealPairsConfig } from './corpus.js';
