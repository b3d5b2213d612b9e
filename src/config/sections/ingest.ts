import { z } from 'zod';

/** Manifest building: probing, clip windows and content pre-filters. */
export const IngestSchema = z
  .object({
    clipSeconds: z.number().positive().default(10),
    maxClipsPerVideo: z.number().int().positive().default(3),
    /** Clips shorter than this (seconds) are refused with reason "too short". */
    minSeconds: z.number().nonnegative().default(1),
    /** Concurrent ffprobe/ffmpeg processes (default: number of cores). */
    concurrency: z.number().int().positive().optional(),
    /** Per-file timeout for probing and filter decodes, seconds. */
    timeoutSeconds: z.number().positive().default(30),
    prefilter: z
      .object({
        requireAudio: z.boolean().default(true),
        requireVideo: z.boolean().default(true),
        /** Audio RMS below this (dBFS) counts as silent. */
        silenceDb: z.number().default(-60),
        /** When the largest frame-to-frame mean absolute difference (0..255) over every frame of the window is below this, the picture is frozen. */
        frozenThreshold: z.number().nonnegative().default(0.5),
        /** Decode-based checks (silent, frozen); probe-only checks always run. */
        content: z.boolean().default(true),
      })
      .strict()
      .prefault({}),
  })
  .strict();

export type IngestConfig = z.infer<typeof IngestSchema>;
