/**
 * What the trainer reads, and where it comes from. A batch is paired audio and frames as typed
 * arrays:
 *
 *   audio   Float32Array [B, frames, mels]   log-mel patches (VGGish: 96 x 64)
 *   frames  Float32Array [B, T, H, W, 3]     normalised frames (loader.normalize)
 *
 * Every batch, for training and for embedding, comes from the loaders' pipeline (clipPipeline:
 * source → shuffle → decode or tensor cache → spectrogram → augment → batch, with exact state);
 * this module only sets that pipeline up for the model (its input shape, SpecAugment masking from
 * ssl.maskFraction, the consumer's batch size) and turns collated batches into model inputs.
 */
import { Rng } from '../runtime/random.js';
import type { Dataset } from '../loaders/core/dataset.js';
import { fromArray } from '../loaders/sources/array.js';
import type { NdArray } from '../loaders/formats/ndarray.js';
import { framesToFloat32 } from '../loaders/adapters/typed.js';
import { buildTensorCache, clipPipeline, type ClipPipelineOptions, type ClipShape, type ClipSource, type BuildTensorCacheOptions } from '../loaders/pipeline.js';
import type { SpectrogramSpec } from '../loaders/decode/spectrogram.js';
import type { WriteTensorCacheResult } from '../loaders/cache/tensor-cache.js';
import type { LoaderConfig } from '../config/sections/loader.js';
import type { SslConfig } from '../config/sections/ssl.js';
export interface SslBatch {
  audio: Float32Array;
  frames: Float32Array;
  /** Batch size B (else inferred from the audio length). */
  size?: number;
  /** Clip ids, when known (embed returns them). */
  ids?: string[];
}

export interface BatchDims {
  audioFrames: number;
  mels: number;
  frames: number;
  height: number;
  width: number;
}

/** Batch size of a batch, checking both arrays against the configured shapes. */
export function batchSize(batch: SslBatch, d: BatchDims, where = 'batch'): number {
  const perAudio = d.audioFrames * d.mels;
  const perClip = d.frames * d.height * d.width * 3;
  const b = batch.size ?? batch.audio.length / perAudio;
  if (!Number.isInteger(b) || b <= 0 || batch.audio.length !== b * perAudio) {
    throw new Error(`${where}: audio has ${batch.audio.length} values, expected B x ${d.audioFrames} x ${d.mels} (ssl.model.audio.frames x mels)`);
  }
  if (batch.frames.length !== b * perClip) {
    throw new Error(
      `${where}: frames has ${batch.frames.length} values, expected ${b} x ${d.frames} x ${d.height} x ${d.width} x 3 (ssl.model.visual.frames x height x width x 3)`,
    );
  }
  return b;
}

/** The config sections that decide what a model's batches are. */
export interface SslDataConfig {
  ssl: SslConfig;
  loader: LoaderConfig;
}

/** The model's input shape: frames [T, H, W, 3] and the log-mel patch [frames, mels]. */
export function modelInputs(ssl: SslConfig): { shape: ClipShape; spectrogram: SpectrogramSpec } {
  const m = ssl.model;
  return { shape: { frames: m.visual.frames, width: m.visual.width, height: m.visual.height }, spectrogram: { frames: m.audio.frames, mels: m.audio.mels } };
}

/** One collated pipeline batch (`key`, `frames`, `spec`) as model inputs. */
export function toSslBatch(b: Record<string, unknown>, loader: LoaderConfig): SslBatch {
  const frames = b.frames as NdArray;
  const spec = b.spec as NdArray;
  if (!frames || !spec) throw new Error(`batch: expected "frames" and "spec" arrays, got fields ${Object.keys(b).join(', ')}`);
  const size = frames.shape[0];
  const f = frames.dtype === 'uint8' ? framesToFloat32(frames, { mean: loader.normalize.mean, std: loader.normalize.std }).data : (frames.data as Float32Array);
  return { audio: spec.data as Float32Array, frames: f, size, ids: (b.key as string[] | undefined) ?? undefined };
}

export interface SslBatchesOptions {
  seed: number;
  /** Default ssl.batchSize. */
  batchSize?: number;
  /** Only these clips of a tensor cache, in this order. */
  keys?: readonly string[];
  rank?: number;
  world?: number;
  /** Passes over the data (training default: endless; the trainer stops at ssl.steps). */
  epochs?: number;
}

function pipelineOptions(cfg: SslDataConfig, opts: SslBatchesOptions, training: boolean): ClipPipelineOptions {
  const { shape, spectrogram } = modelInputs(cfg.ssl);
  const f = cfg.ssl.maskFraction;
  const maxT = Math.floor(spectrogram.frames * f);
  const maxF = Math.floor(spectrogram.mels * f);
  return {
    seed: opts.seed,
    batchSize: opts.batchSize ?? cfg.ssl.batchSize,
    training,
    epochs: opts.epochs ?? (training ? Infinity : 1),
    shape,
    spectrogram,
    augment: training && (maxT > 0 || maxF > 0) ? { seed: opts.seed, specMask: { field: 'spec', freq: maxF, time: maxT, count: 1 } } : null,
    keys: opts.keys,
    rank: opts.rank,
    world: opts.world,
  };
}

/** Training batches for the model from any clip source (shards, selection.csv, manifest.jsonl, a tensor cache, a Dataset). */
export async function sslTrainingBatches(source: ClipSource, cfg: SslDataConfig, opts: SslBatchesOptions): Promise<Dataset<SslBatch>> {
  const ds = await clipPipeline(source, cfg.loader, pipelineOptions(cfg, opts, true));
  return ds.map((b) => toSslBatch(b as Record<string, unknown>, cfg.loader));
}

/** Batches to embed: every clip once, in order, centre windows, no augmentation, no dropped remainder. */
export async function sslEmbeddingBatches(source: ClipSource, cfg: SslDataConfig, opts: SslBatchesOptions): Promise<Dataset<SslBatch>> {
  const ds = await clipPipeline(source, cfg.loader, pipelineOptions(cfg, opts, false));
  return ds.map((b) => toSslBatch(b as Record<string, unknown>, cfg.loader));
}

/** Decode clips once into a tensor cache of the model's inputs (frames + log-mel patch). */
export async function buildModelCache(source: ClipSource, dir: string, cfg: SslDataConfig, opts: Omit<BuildTensorCacheOptions, 'shape' | 'spectrogram'>): Promise<WriteTensorCacheResult> {
  return buildTensorCache(source, dir, cfg.loader, { ...opts, ...modelInputs(cfg.ssl) });
}

export interface SyntheticPairs {
  audio: Float32Array;
  frames: Float32Array;
  n: number;
  /** Latent factors [n, latent] that both modalities are made from. */
  latent: Float32Array;
}

/**
 * Paired synthetic clips whose audio and frames are two different renderings of the same random
 * latent vector (plus independent noise), so that a model can only match them by learning the
 * correspondence. Bases are fixed by `basisSeed` (train and held-out sets share them); clips by
 * `seed`.
 */
export function syntheticPairs(
  n: number,
  d: BatchDims,
  opts: { seed: number; basisSeed?: number; latent?: number; noise?: number },
): SyntheticPairs {
  const L = opts.latent ?? 8;
  const noise = opts.noise ?? 0.3;
  const basisRng = new Rng(opts.basisSeed ?? 12345);
  const perA = d.audioFrames * d.mels;
  const perF = d.frames * d.height * d.width * 3;
  // Smooth bases: products of low-frequency sinusoids.
  const aBasis = new Float32Array(L * perA);
  const vBasis = new Float32Array(L * perF);
  for (let k = 0; k < L; k++) {
    const ft = 1 + basisRng.int(4);
    const fm = 1 + basisRng.int(4);
    const pt = basisRng.uniform(0, 2 * Math.PI);
    const pm = basisRng.uniform(0, 2 * Math.PI);
    for (let t = 0; t < d.audioFrames; t++) {
      for (let m = 0; m < d.mels; m++) {
        aBasis[k * perA + t * d.mels + m] = Math.cos((2 * Math.PI * ft * t) / d.audioFrames + pt) * Math.cos((2 * Math.PI * fm * m) / d.mels + pm);
      }
    }
    const fy = 1 + basisRng.int(3);
    const fx = 1 + basisRng.int(3);
    const py = basisRng.uniform(0, 2 * Math.PI);
    const px = basisRng.uniform(0, 2 * Math.PI);
    const color = [basisRng.normal(), basisRng.normal(), basisRng.normal()];
    const drift = basisRng.uniform(-0.3, 0.3);
    for (let t = 0; t < d.frames; t++) {
      for (let y = 0; y < d.height; y++) {
        for (let x = 0; x < d.width; x++) {
          const s = Math.cos((2 * Math.PI * fy * y) / d.height + py + drift * t) * Math.cos((2 * Math.PI * fx * x) / d.width + px);
          const o = k * perF + ((t * d.height + y) * d.width + x) * 3;
          vBasis[o] = s * color[0];
          vBasis[o + 1] = s * color[1];
          vBasis[o + 2] = s * color[2];
        }
      }
    }
  }
  const rng = new Rng(opts.seed);
  const latent = new Float32Array(n * L);
  for (let i = 0; i < latent.length; i++) latent[i] = rng.normal();
  const audio = new Float32Array(n * perA);
  const frames = new Float32Array(n * perF);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < perA; j++) {
      let s = 0;
      for (let k = 0; k < L; k++) s += latent[i * L + k] * aBasis[k * perA + j];
      audio[i * perA + j] = s + noise * rng.normal();
    }
    for (let j = 0; j < perF; j++) {
      let s = 0;
      for (let k = 0; k < L; k++) s += latent[i * L + k] * vBasis[k * perF + j];
      frames[i * perF + j] = s + noise * rng.normal();
    }
  }
  return { audio, frames, n, latent };
}

/** Synthetic pairs as a decoded Dataset source (items `key`, `spec`, float `frames`, already normalised). */
export function syntheticSource(p: SyntheticPairs, d: BatchDims, prefix = 's'): { dataset: Dataset<unknown>; decoded: true } {
  const perA = d.audioFrames * d.mels;
  const perF = d.frames * d.height * d.width * 3;
  const items = Array.from({ length: p.n }, (_, i) => ({
    key: `${prefix}${i}`,
    spec: { dtype: 'float32', shape: [d.audioFrames, d.mels], data: p.audio.slice(i * perA, (i + 1) * perA) } as NdArray<Float32Array>,
    frames: { dtype: 'float32', shape: [d.frames, d.height, d.width, 3], data: p.frames.slice(i * perF, (i + 1) * perF) } as NdArray<Float32Array>,
  }));
  return { dataset: fromArray(items) as Dataset<unknown>, decoded: true };
}
