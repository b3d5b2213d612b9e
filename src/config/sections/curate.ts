import { z } from 'zod';

/**
 * Bootstrapped features (`curate.bootstrap`; docs/features.md "Bootstrapped features"): after the
 * curation of the configured features (round 0), each round r = 1..rounds pretrains the two-tower
 * model on the previous round's selection, embeds every clip with the trained towers (extractor
 * `type: encoder`), clusters those layers and selects again, in <runDir>/bootstrap/round-<r>/.
 */
export const BootstrapSchema = z
  .object({
    /** Rounds after the first curation (0 = off). */
    rounds: z.number().int().min(0).max(20).default(0),
    /** Optimiser steps of each round's pretraining (default: ssl.steps). */
    steps: z.number().int().positive().optional(),
    /** replace: the rounds cluster only the encoder layers; append: the configured extractors' layers and the encoder layers. */
    features: z.enum(['replace', 'append']).default('replace'),
    /** Encoder layers each round clusters (names of the encoder extractor's layers, e.g. s2, features, projection); empty = all. */
    layers: z.array(z.string().regex(/^[A-Za-z0-9._-]+$/)).default([]),
  })
  .strict();

/** The `curate` section: what `avcurate curate` does beyond the stages (bootstrap rounds). */
export const CurateSchema = z
  .object({
    bootstrap: BootstrapSchema.default(BootstrapSchema.parse({})),
  })
  .strict();

export type BootstrapConfig = z.infer<typeof BootstrapSchema>;
export type CurateConfig = z.infer<typeof CurateSchema>;
