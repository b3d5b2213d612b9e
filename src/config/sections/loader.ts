import { z } from 'zod';

const size = z.union([z.number().int().min(2), z.tuple([z.number().int().min(2), z.number().int().min(2)])]);

/** How clips are decoded to tensors (decode stage, and the optional .npy members of an export). */
export const LoaderDecodeSchema = z
  .object({
    fps: z.number().positive().default(8),
    /** Frame size: a number (square) or [width, height]. */
    size: size.default(112),
    /** Window length in seconds. */
    seconds: z.number().positive().default(2),
    sampleRate: z.number().int().min(1000).default(16000),
    /** Where the window sits in the clip: random (training), center, uniform (frames spread over the clip). */
    sampling: z.enum(['random', 'center', 'uniform']).default('random'),
    fit: z.enum(['cover', 'stretch']).default('cover'),
  })
  .strict();

/** `avcurate export`: selection → WebDataset tar shards. */
export const LoaderExportSchema = z
  .object({
    /** Output folder (default <runDir>/shards). */
    out: z.string().optional(),
    /** Samples per shard (used when maxBytes is not set). */
    maxCount: z.number().int().min(1).default(1000),
    /** Bytes per shard; when set, it replaces maxCount. */
    maxBytes: z.number().int().min(1024).optional(),
    /** Also write pre-decoded <key>.frames.npy and <key>.audio.npy (with loader.decode settings, sampling center). */
    npy: z.boolean().default(false),
    /** Cut by re-encoding (exact window) or stream copy (fast, keyframe-aligned). */
    cut: z.enum(['reencode', 'copy']).default('reencode'),
    /** Scale the cut clips to this height (re-encode only); unset keeps the source size. */
    height: z.number().int().min(16).optional(),
  })
  .strict();

/** The `loader` section: defaults for loading curated clips into a training loop and for export. */
export const LoaderSchema = z
  .object({
    batchSize: z.number().int().min(1).default(32),
    /** Buffer size of the sample shuffle (0 = no shuffle). */
    shuffleBuffer: z.number().int().min(0).default(1000),
    /** Shuffle the shard order every epoch. */
    shuffleShards: z.boolean().default(true),
    /** Batches to prefetch ahead of the training step. */
    prefetch: z.number().int().min(0).default(2),
    /** Parallel ffmpeg decodes (0 = number of cores). */
    concurrency: z.number().int().min(0).default(0),
    /** What to do with an unreadable shard or clip: skip it (counted, reported) or stop. */
    onError: z.enum(['skip', 'raise']).default('skip'),
    /** Largest tar member read into memory (bytes); a sample with a larger one is refused and reported (reliab). */
    maxMemberBytes: z.number().int().min(1).max(2 ** 32 - 1).default(2 ** 30),
    /** How the last uneven part of an epoch is split across ranks: pad (repeat from the start) or drop. */
    splitPolicy: z.enum(['pad', 'drop']).default('pad'),
    dropRemainder: z.boolean().default(false),
    decode: LoaderDecodeSchema.default(LoaderDecodeSchema.parse({})),
    export: LoaderExportSchema.default(LoaderExportSchema.parse({})),
  })
  .strict();

export type LoaderConfig = z.infer<typeof LoaderSchema>;
