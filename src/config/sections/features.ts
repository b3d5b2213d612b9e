import { z } from 'zod';

/** How clips are decoded once for every extractor. */
const DecodeSchema = z
  .object({
    /** Frame rate of the decoded frames (the built-in motion layer compares consecutive frames). */
    fps: z.number().positive().max(120).default(8),
    width: z.number().int().min(8).max(4096).default(128),
    height: z.number().int().min(8).max(4096).default(128),
    /** 'cover' scales the short side and centre-crops; 'stretch' ignores the aspect ratio. */
    fit: z.enum(['cover', 'stretch']).default('cover'),
    sampleRate: z.number().int().min(8000).max(192000).default(16000),
    /** Decode at most this many seconds of each clip (from its start); default the whole clip. */
    maxSeconds: z.number().positive().optional(),
  })
  .strict();

const PoolingSchema = z.enum(['mean', 'max', 'meanstd']);

const OnnxOutputSchema = z
  .object({
    output: z.string().min(1),
    layer: z.string().regex(/^[A-Za-z0-9._-]+$/, 'letters, digits, ".", "_" or "-"').optional(),
    pool: PoolingSchema.default('mean'),
    channelAxis: z.number().int().optional(),
  })
  .strict();

const BuiltinSchema = z
  .object({
    type: z.literal('builtin'),
    /** Visual only: frames sampled for the static layers, and the analysis size (long side). */
    frames: z.number().int().positive().default(8),
    maxSize: z.number().int().min(16).default(128),
  })
  .strict();

const OnnxSchema = z
  .object({
    type: z.literal('onnx'),
    /** Name stored in the shard attributes (default: the model file's stem). */
    name: z.string().regex(/^[A-Za-z0-9._:-]+$/).optional(),
    /** Path of the .onnx file (relative paths are resolved against the config file's folder). */
    model: z.string().min(1),
    input: z.string().optional(),
    outputs: z.array(OnnxOutputSchema).min(1),
    layout: z.enum(['NCHW', 'NHWC', 'NCTHW', 'NTHWC']).default('NCHW'),
    frames: z.number().int().positive().default(8),
    crop: z.number().int().positive().default(224),
    short: z.number().int().positive().optional(),
    preset: z.enum(['imagenet', 'kinetics', 'clip', 'unit', 'signed', 'raw']).default('imagenet'),
    audioInput: z.enum(['logmel', 'waveform']).default('logmel'),
    logmelLayout: z.enum(['NCHW', 'NHW', 'NHWC']).default('NCHW'),
    sampleRate: z.number().int().positive().default(16000),
    waveformScale: z.number().positive().default(1),
    maxBatchItems: z.number().int().positive().default(32),
    threads: z.number().int().positive().optional(),
  })
  .strict();

const MobileNetSchema = z
  .object({
    type: z.literal('mobilenet-nsfwjs'),
    layers: z.array(z.string()).min(1).optional(),
    frames: z.number().int().positive().default(8),
    packageDir: z.string().optional(),
    backend: z.enum(['auto', 'tfjs-node-gpu', 'tfjs-node', 'wasm', 'cpu']).default('auto'),
  })
  .strict();

const OpenWakeWordSchema = z
  .object({
    type: z.literal('openwakeword'),
    packageDir: z.string().optional(),
    threads: z.number().int().positive().optional(),
  })
  .strict();

export const VisualExtractorSchema = z.discriminatedUnion('type', [BuiltinSchema, OnnxSchema, MobileNetSchema]);
export const AudioExtractorSchema = z.discriminatedUnion('type', [BuiltinSchema, OnnxSchema, OpenWakeWordSchema]);

export type VisualExtractorConfig = z.infer<typeof VisualExtractorSchema>;
export type AudioExtractorConfig = z.infer<typeof AudioExtractorSchema>;

/** The `features` section: decoding, extractors per modality, sharding and parallelism. */
export const FeaturesSchema = z
  .object({
    /** Clips per feature shard file (units of the manifest, in manifest order). */
    shardSize: z.number().int().positive().default(1000),
    /** Clips per inference batch. */
    batchSize: z.number().int().positive().default(16),
    /** Concurrent ffmpeg decodes (default: number of cores). */
    decodeConcurrency: z.number().int().positive().optional(),
    /** Worker threads for the built-in descriptors (default: half the cores; 0 = main thread). */
    descriptorWorkers: z.number().int().nonnegative().optional(),
    /** Kill a decode after this many seconds; the clip goes to failures.jsonl. */
    timeoutSeconds: z.number().positive().default(60),
    decode: DecodeSchema.default(DecodeSchema.parse({})),
    audio: z.array(AudioExtractorSchema).default([{ type: 'builtin', frames: 8, maxSize: 128 }]),
    visual: z.array(VisualExtractorSchema).default([{ type: 'builtin', frames: 8, maxSize: 128 }]),
    /**
     * When finished shards were made with another features config: 'error' stops (the default: a
     * run never mixes features of two configs); 'overwrite' deletes them and extracts again.
     */
    onConfigChange: z.enum(['error', 'overwrite']).default('error'),
  })
  .strict()
  .refine((f) => f.audio.length + f.visual.length > 0, { message: 'features: configure at least one audio or visual extractor' });

export type FeaturesConfig = z.infer<typeof FeaturesSchema>;
