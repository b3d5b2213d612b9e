import { z } from 'zod';

/**
 * The `ssl` section: encoders, loss, optimiser and checkpoints of contrastive audio-visual
 * pretraining. The defaults are a tiny model that trains on one CPU core in minutes.
 */
const StageSchema = z
  .object({
    /** Output channels of the stage. */
    channels: z.number().int().positive(),
    /** Down-sampling factor of the stage's first layer (patch size in `patch` arch). */
    stride: z.number().int().positive(),
    /** Residual blocks after the down-sampling layer. */
    blocks: z.number().int().nonnegative().default(1),
  })
  .strict();

export type StageConfig = z.infer<typeof StageSchema>;

const defaultAudioStages: StageConfig[] = [
  { channels: 32, stride: 4, blocks: 1 },
  { channels: 64, stride: 2, blocks: 1 },
  { channels: 128, stride: 2, blocks: 1 },
];
const defaultVisualStages: StageConfig[] = [
  { channels: 32, stride: 4, blocks: 1 },
  { channels: 64, stride: 2, blocks: 1 },
  { channels: 128, stride: 2, blocks: 1 },
];

export const SslModelSchema = z
  .object({
    /**
     * `patch`: every down-sampling layer is a convolution with kernel = stride (patch embedding /
     * patch merging) and the blocks are residual 1x1 MLPs: all matrix products, fast on wasm.
     * `conv`: k x k convolutions (stride, then residual k x k blocks).
     */
    arch: z.enum(['patch', 'conv']).default('patch'),
    /** Kernel size of the `conv` arch. */
    kernel: z.number().int().positive().default(3),
    /** Hidden width of a `patch` residual block, as a multiple of its channels. */
    mlpRatio: z.number().positive().default(2),
    audio: z
      .object({
        /** Log-mel patch: time frames x mel bins (VGGish: 96 x 64). */
        frames: z.number().int().positive().default(96),
        mels: z.number().int().positive().default(64),
        stages: z.array(StageSchema).min(1).default(defaultAudioStages),
      })
      .strict()
      .prefault({}),
    visual: z
      .object({
        /** Frames per clip (T), and their height and width. */
        frames: z.number().int().positive().default(4),
        height: z.number().int().positive().default(64),
        width: z.number().int().positive().default(64),
        stages: z.array(StageSchema).min(1).default(defaultVisualStages),
        /**
         * Temporal kernel (= stride) of a layer over per-frame features ((2+1)D style); 1 = mean
         * over frames only. Must divide `frames`.
         */
        temporalKernel: z.number().int().positive().default(2),
      })
      .strict()
      .prefault({}),
    /** 2-layer MLP projection head with BatchNorm: hidden width, embedding size. */
    head: z
      .object({ hidden: z.number().int().positive().default(256), dim: z.number().int().positive().default(128) })
      .strict()
      .prefault({}),
    /** BatchNorm running-average momentum (weight of the old value) and epsilon. */
    bnMomentum: z.number().min(0).max(1).default(0.9),
    bnEpsilon: z.number().positive().default(1e-5),
  })
  .strict();

export type SslModelConfig = z.infer<typeof SslModelSchema>;

export const SslSchema = z
  .object({
    /** TensorFlow.js backend: auto = tfjs-node-gpu, tfjs-node, wasm, cpu (first that works). */
    backend: z.enum(['auto', 'tfjs-node-gpu', 'tfjs-node', 'wasm', 'cpu']).default('auto'),
    model: SslModelSchema.default(SslModelSchema.parse({})),
    batchSize: z.number().int().min(2).default(32),
    /** Optimiser steps in total. */
    steps: z.number().int().positive().default(500),
    /** Peak learning rate (AdamW), reached after `warmupSteps`, then cosine decay to lr·minLrRatio. */
    lr: z.number().positive().default(1e-3),
    warmupSteps: z.number().int().nonnegative().default(50),
    minLrRatio: z.number().min(0).max(1).default(0),
    weightDecay: z.number().nonnegative().default(0.05),
    beta1: z.number().min(0).max(1).default(0.9),
    beta2: z.number().min(0).max(1).default(0.999),
    epsilon: z.number().positive().default(1e-8),
    /** Clip the global gradient norm to this value; 0 = no clipping. */
    gradClip: z.number().nonnegative().default(1),
    /** InfoNCE temperature, and whether it is learnt (as a log scale, capped at 1/0.01). */
    temperature: z.number().positive().default(0.1),
    learnTemperature: z.boolean().default(false),
    /**
     * Log-mel time and frequency masking (SpecAugment, applied by the loaders' augment stage): the
     * largest masked fraction of each axis (0 = off).
     */
    maskFraction: z.number().min(0).max(0.5).default(0.05),
    /** Save a checkpoint every N steps (and at the end); keep the newest `keepCheckpoints`. */
    checkpointEvery: z.number().int().positive().default(100),
    keepCheckpoints: z.number().int().positive().default(2),
    /** Print a progress line at most every this many seconds when not on a TTY. */
    progressSeconds: z.number().positive().default(10),
  })
  .strict();

export type SslConfig = z.infer<typeof SslSchema>;
