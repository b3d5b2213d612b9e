import { z } from 'zod';

/** How clips are decoded once for every extractor. */
const DecodeSchema = z
  .object({
    /** Frame rate of the decoded frames (the built-in motion layer compares consecutive frames). */
    fps: z.number().positive().max(120).default(8),
    /**
     * Frame size. Default: the largest size the visual extractors resize to (128 for the built-in
     * descriptors), so no extractor sees upscaled frames; a set size smaller than an extractor
     * needs is kept, with a warning.
     */
    width: z.number().int().min(8).max(4096).optional(),
    height: z.number().int().min(8).max(4096).optional(),
    /** 'cover' scales the short side and centre-crops; 'stretch' ignores the aspect ratio. */
    fit: z.enum(['cover', 'stretch']).default('cover'),
    sampleRate: z.number().int().min(8000).max(192000).default(16000),
    /** Decode at most this many seconds of each clip (from its start); default the whole clip. */
    maxSeconds: z.number().positive().optional(),
  })
  .strict();

const PoolingSchema = z.enum(['mean', 'max', 'meanstd']);

export const OnnxOutputSchema = z
  .object({
    output: z.string().min(1),
    layer: z.string().regex(/^[A-Za-z0-9._-]+$/, 'letters, digits, ".", "_" or "-"').optional(),
    /** Pooling over the time steps of a clip (frames, examples, patches, views and the output's T axis). */
    pool: PoolingSchema.default('mean'),
    /** Legacy: the channel axis, every other axis but the batch averaged. Prefer `axes`. */
    channelAxis: z.number().int().optional(),
    /**
     * What each axis of the output is, one letter per axis, the batch first: N batch, C channels
     * (kept), T time (pooled with `pool`), L tokens (reduced with `tokens`), H W F S space or
     * frequency (reduced with `spatial`). Default from the rank and the input layout (rank 3 must
     * be given: tokens NLC or a 1-D conv NCT).
     */
    axes: z.string().regex(/^N[CTLHWFS]*$/, 'N then letters C, T, L, H, W, F, S').optional(),
    /** Token outputs (an L axis): cls (the first token), mean (all tokens), patches (mean of the tokens after prefixTokens), both (cls then patches). */
    tokens: z.enum(['cls', 'mean', 'patches', 'both']).optional(),
    /** Tokens before the patch tokens (class, distillation, registers). Default 1. */
    prefixTokens: z.number().int().nonnegative().default(1),
    /** Reduction over the spatial / frequency axes. */
    spatial: z.enum(['mean', 'max']).default('mean'),
  })
  .strict();

const Triple = z.tuple([z.number(), z.number(), z.number()]);
const PerProvider = z.object({ cpu: z.number().int().positive().optional(), cuda: z.number().int().positive().optional() }).strict();

export const BuiltinSchema = z
  .object({
    type: z.literal('builtin'),
    /** Visual only: frames sampled for the static layers, and the analysis size (long side). */
    frames: z.number().int().positive().default(8),
    maxSize: z.number().int().min(16).default(128),
  })
  .strict();

export const OnnxSchema = z
  .object({
    type: z.literal('onnx'),
    /** Name stored in the shard attributes (default: the model file's stem). */
    name: z.string().regex(/^[A-Za-z0-9._:-]+$/).optional(),
    /** Path of the .onnx file (relative paths are resolved against the config file's folder). */
    model: z.string().min(1),
    input: z.string().optional(),
    outputs: z.array(OnnxOutputSchema).min(1),
    /** Execution provider: cpu, cuda (fails with a message when CUDA cannot be used), auto (CUDA when it works, else CPU). */
    device: z.enum(['cpu', 'cuda', 'auto']).default('auto'),
    /** Items per session.run: one number, or per provider ({ cpu: 32, cuda: 256 }). */
    maxBatchItems: z.union([z.number().int().positive(), PerProvider]).default(32),
    /** onnxruntime intra-op threads: one number or per provider (default: onnxruntime's choice). */
    threads: z.union([z.number().int().positive(), PerProvider]).optional(),
    // visual
    layout: z.enum(['NCHW', 'NHWC', 'NCTHW', 'NTHWC']).default('NCHW'),
    /** Frames per view. */
    frames: z.number().int().positive().default(8),
    /** Decoded frames between two sampled frames (default: spread evenly over the view). */
    frameStride: z.number().int().positive().optional(),
    /** Windows of `frames` frames per clip (multi-view). */
    views: z.number().int().positive().default(1),
    /** mean: pool every view's time steps together; concat: pool each view alone and store them side by side (dim x views). */
    viewPool: z.enum(['mean', 'concat']).default('mean'),
    /** A named bundle of the preprocessing keys below (each key given overrides it). */
    preset: z.enum(['imagenet', 'kinetics', 'torchvision-video', 'clip', 'siglip', 'unit', 'signed', 'raw']).default('imagenet'),
    mean: Triple.optional(),
    std: Triple.optional(),
    /** Multiplies 0..255 pixel values before mean/std (1/255 for [0, 1] inputs, 1 for raw). */
    scale: z.number().positive().optional(),
    interpolation: z.enum(['bilinear', 'bicubic', 'area']).optional(),
    /** short: short side to `short` (default the crop); exact: to `size` [height, width]; none. */
    resize: z.enum(['short', 'exact', 'none']).optional(),
    short: z.number().int().positive().optional(),
    size: z.tuple([z.number().int().positive(), z.number().int().positive()]).optional(),
    /** Square centre crop; 0 = none. */
    crop: z.number().int().nonnegative().optional(),
    channels: z.enum(['RGB', 'BGR']).optional(),
    // audio
    audioInput: z.enum(['logmel', 'waveform']).default('logmel'),
    logmelLayout: z.enum(['NCHW', 'NHW', 'NHWC']).default('NCHW'),
    /** Log-mel bands (VGGish: 64). */
    melBands: z.number().int().min(8).max(256).default(64),
    /** Mel filter range in Hz (VGGish: [125, 7500]). */
    melRange: z.tuple([z.number().nonnegative(), z.number().positive()]).optional(),
    /** Log-mel normalisation (x - mean) / std after the log (AST-style models); default none. */
    melMean: z.number().optional(),
    melStd: z.number().positive().optional(),
    /** Patches of this many seconds (log-mel: 0.96 = 96 frames; waveform: default the whole clip). */
    patchSeconds: z.number().positive().optional(),
    /** Hop between patches (default: patchSeconds, no overlap). */
    hopSeconds: z.number().positive().optional(),
    sampleRate: z.number().int().positive().default(16000),
    waveformScale: z.number().positive().default(1),
  })
  .strict();

export const MobileNetSchema = z
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
    /** Execution provider of its two ONNX models. */
    device: z.enum(['cpu', 'cuda', 'auto']).default('auto'),
    threads: z.number().int().positive().optional(),
  })
  .strict();

/**
 * A tower of an `avcurate pretrain` checkpoint as a feature extractor (the audio tower in
 * features.audio, the visual tower in features.visual): every stage's pooled activations, the
 * pooled encoder output and the projection head are layers (docs/features.md "Encoder layers").
 */
const EncoderSchema = z
  .object({
    type: z.literal('encoder'),
    /** Checkpoint: a pretrain output folder, its checkpoints/ folder, or a step folder (relative paths: against the config file's folder). */
    checkpoint: z.string().min(1),
    /** Name stored in the shard attributes and prefix of the layer names (default "enc"). */
    name: z.string().regex(/^[A-Za-z0-9_-]+$/).default('enc'),
    /** Keep only these layers (s0, s1, ..., features, projection); empty = all. */
    layers: z.array(z.string().regex(/^[A-Za-z0-9._-]+$/)).default([]),
    /** Seconds of the clip's centre the model sees (as loader.decode.seconds when it was trained). */
    seconds: z.number().positive().default(1),
    /** Frames from that window (center), or spread over the whole clip (uniform), as loader.decode.sampling when it was trained (random trains, center embeds). */
    sampling: z.enum(['center', 'uniform']).default('center'),
    /** Frame normalisation (pixel / 255 - mean) / std, as loader.normalize when it was trained. */
    mean: z.number().default(0.45),
    std: z.number().positive().default(0.225),
    backend: z.enum(['auto', 'tfjs-node-gpu', 'tfjs-node', 'wasm', 'cpu']).default('auto'),
  })
  .strict();

export const VisualExtractorSchema = z.discriminatedUnion('type', [BuiltinSchema, OnnxSchema, MobileNetSchema, EncoderSchema]);
export const AudioExtractorSchema = z.discriminatedUnion('type', [BuiltinSchema, OnnxSchema, OpenWakeWordSchema, EncoderSchema]);
export type EncoderExtractorConfig = z.infer<typeof EncoderSchema>;

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
