/**
 * Training batches from real clips through the loaders' Dataset pipeline: a source (WebDataset
 * shards, selection.csv joined with its manifest, or manifest.jsonl) → shuffle → decode a window
 * (frames + mono audio, ffmpeg) → log-mel (VGGish front end, the first `audio.frames` frames) and
 * normalised frames → batches of `batchSize` → repeated epochs → prefetch. The pipeline state
 * (loaders' PipelineState) goes into every checkpoint, so `--resume` continues at the same clip.
 */
import { logMelSpectrogram, logMelExamples } from '../media/logmel.js';
import type { Dataset, DatasetIterator, PipelineState } from '../loaders/core/dataset.js';
import { fromShards } from '../loaders/sources/shards.js';
import { fromSelection, fromManifest } from '../loaders/sources/clips.js';
import { decodeDataset, type ClipDecoder, type DecodedItem } from '../loaders/decode/decode.js';
import { defaultConcurrency } from '../runtime/pool.js';
import type { SslConfig } from '../config/sections/ssl.js';
import type { SslBatch } from './data.js';

const SAMPLE_RATE = 16000;

interface TrainItem {
  key: string;
  audio: Float32Array;
  frames: Float32Array;
}

/** Log-mel patch [frames, mels] and normalised frames [T, H, W, 3] of one decoded clip. */
export function toTrainItem(d: DecodedItem, cfg: SslConfig): TrainItem {
  const m = cfg.model;
  const mel = logMelSpectrogram(d.audio.data, SAMPLE_RATE, { nMels: m.audio.mels });
  const ex = logMelExamples(mel, m.audio.frames, m.audio.frames, true);
  if (ex.examples === 0) throw new Error(`clip ${d.key}: ${cfg.data.seconds} s of audio give no ${m.audio.frames}-frame log-mel patch`);
  const audio = ex.data.slice(0, m.audio.frames * m.audio.mels);
  const [t, h, w] = d.frames.shape;
  if (t !== m.visual.frames || h !== m.visual.height || w !== m.visual.width) {
    throw new Error(`clip ${d.key}: decoded frames [${d.frames.shape}] but ssl.model.visual expects [${m.visual.frames}, ${m.visual.height}, ${m.visual.width}, 3]`);
  }
  const src = d.frames.data;
  const frames = new Float32Array(src.length);
  const { frameMean, frameStd } = cfg.data;
  for (let i = 0; i < src.length; i++) frames[i] = (src[i] / 255 - frameMean) / frameStd;
  return { key: d.key, audio, frames };
}

function concat(parts: Float32Array[]): Float32Array {
  const out = new Float32Array(parts.reduce((a, p) => a + p.length, 0));
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}

export interface ClipBatchesOptions {
  seed: number;
  /** Replace the ffmpeg decoder (tests). */
  decoder?: ClipDecoder;
  /** Epochs (default: endless; the trainer stops at ssl.steps). */
  epochs?: number;
}

/** The batch Dataset for `data` (shards spec with braces/globs, selection.csv, or manifest.jsonl). */
export async function clipBatchDataset(data: string, cfg: SslConfig, opts: ClipBatchesOptions): Promise<Dataset<SslBatch>> {
  let source: Dataset<unknown>;
  if (/\.csv$/i.test(data)) source = (await fromSelection(data)) as Dataset<unknown>;
  else if (/\.jsonl$/i.test(data)) source = (await fromManifest(data)) as Dataset<unknown>;
  else source = (await fromShards(data, { shuffleShards: opts.seed })) as Dataset<unknown>;
  const { data: d, model } = cfg;
  const decoded = decodeDataset(source.shuffle(d.shuffleBuffer, opts.seed), {
    fps: model.visual.frames / d.seconds,
    size: [model.visual.width, model.visual.height],
    seconds: d.seconds,
    sampleRate: SAMPLE_RATE,
    sampling: d.sampling,
    seed: opts.seed,
    concurrency: d.concurrency > 0 ? d.concurrency : defaultConcurrency(),
    decoder: opts.decoder,
  });
  let ds = decoded
    .map((x: DecodedItem) => toTrainItem(x, cfg))
    .repeat(opts.epochs ?? Infinity)
    .batch(cfg.batchSize, { dropRemainder: true })
    .map((b) => {
      const items = b as unknown as { key: string[]; audio: Float32Array[]; frames: Float32Array[] };
      return { audio: concat(items.audio), frames: concat(items.frames), size: items.key.length, ids: items.key } satisfies SslBatch;
    });
  if (d.prefetch > 0) ds = ds.prefetch(d.prefetch);
  return ds;
}

/**
 * A resumable batch stream for `pretrain`: `open(state)` starts (or continues from a checkpoint's
 * loader state) and `state()` reports the position after the last batch handed out.
 */
export async function clipBatches(data: string, cfg: SslConfig, opts: ClipBatchesOptions): Promise<{ open: (state: unknown) => AsyncIterable<SslBatch>; state: () => unknown }> {
  const ds = await clipBatchDataset(data, cfg, opts);
  let it: DatasetIterator<SslBatch> | null = null;
  return {
    open: (state: unknown) => {
      it = ds.iterator((state ?? undefined) as PipelineState | undefined);
      return it;
    },
    state: () => it?.getState(),
  };
}

export interface DecodedArrays {
  /** [n, audio.frames, audio.mels] log-mel, row-major. */
  audio: Float32Array;
  /** [n, T, H, W, 3] normalised frames. */
  frames: Float32Array;
  n: number;
  ids: string[];
}

/**
 * Decode clips (clip records `{id, source, start, duration}` or shard samples) once into arrays
 * shaped for the model: for small sets that are trained on for many epochs or embedded
 * (`new ArrayBatches(r.audio, r.frames, r.n, batch, seed)`). Undecodable clips are skipped.
 */
export async function decodeClipsToArrays(items: readonly unknown[], cfg: SslConfig, opts: { seed?: number; decoder?: ClipDecoder } = {}): Promise<DecodedArrays> {
  const { fromArray } = await import('../loaders/sources/array.js');
  const { data: d, model } = cfg;
  const ds = decodeDataset(fromArray(items as unknown[]), {
    fps: model.visual.frames / d.seconds,
    size: [model.visual.width, model.visual.height],
    seconds: d.seconds,
    sampleRate: SAMPLE_RATE,
    sampling: d.sampling === 'random' ? 'center' : d.sampling,
    seed: opts.seed ?? 0,
    concurrency: d.concurrency > 0 ? d.concurrency : defaultConcurrency(),
    decoder: opts.decoder,
  }).map((x: DecodedItem) => toTrainItem(x, cfg));
  const rows = await ds.toArray();
  return { audio: concat(rows.map((r) => r.audio)), frames: concat(rows.map((r) => r.frames)), n: rows.length, ids: rows.map((r) => r.key) };
}
