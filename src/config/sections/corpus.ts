import { z } from 'zod';

/** Synthetic corpus generation (`avcurate synth`, and the corpus step of curate/experiment). */
export const SynthSchema = z
  .object({
    clips: z.number().int().positive().default(200),
    classes: z.number().int().min(2).max(12).default(6),
    mismatch: z.number().min(0).max(1).default(0.5),
    seconds: z.number().positive().max(600).default(4),
    width: z.number().int().min(16).max(1920).default(160),
    height: z.number().int().min(16).max(1080).default(120),
    fps: z.number().positive().max(60).default(12),
    sampleRate: z.number().int().min(8000).max(48000).default(16000),
    /** 'concepts' = class families; 'temporal' = flash/click sync; 'mixed' = both; 'scenes' = foreground concept over shared backgrounds, with distractor sounds. */
    family: z.enum(['concepts', 'temporal', 'mixed', 'scenes']).default('concepts'),
  })
  .strict();

/**
 * A real corpus built from Debian's qabcs-data (pictures with their real recorded sounds, some
 * sounds swapped across categories) into <runDir>/corpus (see configs/real-pairs.yaml).
 */
export const RealPairsSchema = z
  .object({
    /** The qabcs "all" folder holding pics/ and noises/. */
    root: z.string().default('/usr/share/qabcs/abcs/all'),
    categories: z.array(z.string().min(1)).min(2).optional(),
    mismatch: z.number().min(0).max(1).default(0.5),
    seconds: z.number().positive().max(60).default(4),
    width: z.number().int().min(16).max(1920).default(160),
    height: z.number().int().min(16).max(1080).default(120),
    fps: z.number().positive().max(60).default(8),
  })
  .strict();

export const CORPUS_KINDS = ['synth', 'source', 'realPairs'] as const;

/**
 * Where the clips come from: exactly one of
 *   synth      generate a synthetic corpus into <runDir>/corpus;
 *   source     a folder of videos, a CSV (path[,label,...]), a labels.jsonl, or a WebDataset tar pool read in
 *              place (folder of .tar, brace list, .tar, .txt of tar paths) (relative to the config's folder);
 *   realPairs  build the qabcs-data corpus into <runDir>/corpus.
 * An empty section is allowed for stages that do not read the corpus (extract, cluster, select);
 * the stages that do (synth, ingest, curate, experiment) say so when none is set.
 */
export const CorpusSchema = z
  .object({
    synth: SynthSchema.optional(),
    source: z.string().min(1).optional(),
    realPairs: RealPairsSchema.optional(),
  })
  .strict()
  .superRefine((v, ctx) => {
    const set = CORPUS_KINDS.filter((k) => v[k] !== undefined);
    if (set.length > 1) {
      ctx.addIssue({ code: 'custom', path: [set[1]], message: `corpus: set one of synth, source or realPairs, not ${set.join(' and ')}`, input: v });
    }
  });

export type SynthConfig = z.infer<typeof SynthSchema>;
export type RealPairsConfig = z.infer<typeof RealPairsSchema>;
export type CorpusConfig = z.infer<typeof CorpusSchema>;
