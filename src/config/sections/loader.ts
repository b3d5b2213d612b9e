import { z } from 'zod';

const size = z.union([z.number().int().min(2), z.tuple([z.number().int().min(2), z.number().int().min(2)])]);

/**
 * How clips are decoded to tensors: by every command that reads clips (pretrain, probe, the
 * experiment's tensor cache, export --npy, clipPipeline).
 */
export const LoaderDecodeSchema = z
  .object({
    /** Frames per second; unset: a model's T frames over `seconds` (ssl.model.visual.frames / seconds). */
    fps: z.number().positive().optional(),
    /** Frame size, a number (square) or [width, height]; unset: the model's visual width x height. */
    size: size.optional(),
    /** Window length in seconds (audio: the log-mel patch is the first ssl.model.audio.frames frames of it). */
    seconds: z.number().positive().default(1),
    sampleRate: z.number().int().min(1000).default(16000),
    /**
     * Where the window sits in the clip: random (training; new each epoch; a tensor cache keeps one
     * window per clip, drawn from the seed), center, uniform (frames spread over the whole clip,
     * the centre `seconds` of audio).
     */
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
    /** Keep absolute source paths in each <key>.json (default: relative to the corpus root). */
    absolutePaths: z.boolean().default(false),
    /** Scale the cut clips to this height (re-encode only); unset keeps the source size. */
    height: z.number().int().min(16).optional(),
  })
  .strict();

/** Frame normalisation when frames become float inputs: (pixel / 255 − mean) / std. */
export const LoaderNormalizeSchema = z
  .object({
    /** SlowFast's Kinetics statistics (0.45 / 0.225). */
    mean: z.number().default(0.45),
    std: z.number().positive().default(0.225),
  })
  .strict();

/**
 * The `loader` section: how every command that reads clips (pretrain, probe, the experiment's arms
 * and probes, export, a training loop through clipPipeline) turns them into batches. The batch
 * size is the consumer's (ssl.batchSize for pretraining, probe.batchSize for embedding).
 */
export const LoaderSchema = z
  .object({
    /** Buffer size of the sample shuffle (0 = no shuffle); at least the clip count gives a full shuffle. */
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
    /**
     * How shards are shared by ranks (then by workers): each rank opens only its own shards; when
     * the counts differ, pad (ranks with fewer samples repeat from the start of their share) or
     * drop (every rank stops at the smallest share), so every rank yields the same number of batches.
     */
    splitPolicy: z.enum(['pad', 'drop']).default('pad'),
    /** Drop the last short batch of each epoch when training (evaluation never drops). */
    dropRemainder: z.boolean().default(true),
    decode: LoaderDecodeSchema.default(LoaderDecodeSchema.parse({})),
    normalize: LoaderNormalizeSchema.default(LoaderNormalizeSchema.parse({})),
    export: LoaderExportSchema.default(LoaderExportSchema.parse({})),
  })
  .strict();

export type LoaderConfig = z.infer<typeof LoaderSchema>;
