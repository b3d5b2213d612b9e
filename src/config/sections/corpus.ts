import { z } from 'zod';

/** Synthetic corpus generation (`avcurate synth`, and the corpus step of experiments). */
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

/** Where the clips of an experiment come from. */
export const CorpusSchema = z
  .object({
    /** Generate a synthetic corpus into `<runDir>/corpus` (default), or read `source`. */
    synth: SynthSchema.optional(),
    /** A folder of videos, a CSV (path[,label]), or a labels.jsonl from `avcurate synth`. */
    source: z.string().optional(),
  })
  .strict();

export type SynthConfig = z.infer<typeof SynthSchema>;
export type CorpusConfig = z.infer<typeof CorpusSchema>;
