/**
 * The `type: encoder` extractor: one tower of an `avcurate pretrain` checkpoint as feature layers
 * (docs/features.md "Encoder layers"). Curation never imports src/ssl (DESIGN.md), so the model
 * itself comes through an `EncoderProvider` that the side allowed to import both registers
 * (src/experiments/encoders.ts, called by the CLI and the experiment runner) — a registry by
 * extractor type, not a dependency.
 *
 * What the model sees follows the loaders' decode path for model inputs (loaders/decode): the
 * centre `seconds` of the clip; T frames at T / seconds fps, resized to the model's width x height
 * and normalised (pixel / 255 − mean) / std; the log-mel patch of that window's audio (the media
 * layer's VGGish front end, first `frames` frames, the last repeated when short). Here the clip
 * comes decoded once for all extractors (features.decode), so frames are picked from it by time
 * and resized, instead of being decoded at the model's rate and size by ffmpeg.
 */
import { createHash } from 'node:crypto';
import type { DecodedClip } from '../../media/types.js';
import type { EncoderExtractorConfig } from '../../config/sections/features.js';
import { spectrogramItem } from '../../loaders/decode/spectrogram.js';
import type { DecodedItem } from '../../loaders/decode/decode.js';
import type { Extractor, LayerSpec } from './extractor.js';
import { ExtractorFatalError } from './extractor.js';
import { clipFrame, resizeImage } from './preprocess.js';
import type { FeatureModality } from './store.js';
import { EXTRACTOR_VERSIONS } from './versions.js';

/** The input shape of a checkpoint's towers. */
export interface EncoderInputs {
  /** Visual: frames [T, height, width, 3]. */
  frames: number;
  height: number;
  width: number;
  /** Audio: log-mel patch [audioFrames, mels]. */
  audioFrames: number;
  mels: number;
}

/** A loaded checkpoint, ready to embed batches of one tower. */
export interface EncoderSession {
  /** The checkpoint folder read (a step folder). */
  readonly dir: string;
  /** Optimiser steps the checkpoint was trained for. */
  readonly step: number;
  /** sha256 of the checkpoint's model.json and weights.bin: part of the features fingerprint. */
  readonly digest: string;
  readonly inputs: EncoderInputs;
  /** The tower's layers in order: stages s0.., `features`, `projection`. */
  layers(tower: FeatureModality): LayerSpec[];
  /**
   * Every layer of the tower for a batch of `count` inputs (row-major: audio [count, audioFrames,
   * mels], visual [count, T, H, W, 3]); result[l] is [count, layers[l].dim] row-major.
   */
  embed(tower: FeatureModality, input: Float32Array, count: number): Promise<Float32Array[]>;
  dispose(): void;
}

export interface EncoderProvider {
  /** Load a checkpoint (a pretrain output folder, its checkpoints/ folder, or a step folder). */
  open(checkpoint: string, opts: { backend: EncoderExtractorConfig['backend'] }): Promise<EncoderSession>;
}

let provider: EncoderProvider | null = null;

/** Register the model behind `type: encoder` (src/experiments/encoders.ts does, with src/ssl). */
export function registerEncoderProvider(p: EncoderProvider): void {
  provider = p;
}

export function encoderProvider(): EncoderProvider {
  if (!provider) {
    throw new Error(
      'features: an extractor of type "encoder" needs the SSL encoder provider, which this process has not registered ' +
        '(the avcurate CLI and the experiment runner register it; a library user calls registerSslEncoders() from avcurate\'s experiments module first)',
    );
  }
  return provider;
}

/**
 * Frame indices of `count` frames over the centre `seconds` of a clip decoded at `fps` with
 * `available` frames (`uniform`: over the whole clip, as the loaders' uniform sampling).
 */
export function windowFrameIndices(available: number, fps: number, clipSeconds: number, seconds: number, count: number, sampling: 'center' | 'uniform'): number[] {
  const win = sampling === 'uniform' ? clipSeconds : Math.min(seconds, clipSeconds);
  const start = Math.max(0, (clipSeconds - win) / 2);
  const out: number[] = [];
  for (let i = 0; i < count; i++) {
    // The loader decodes the window at count / seconds fps: frame i shows time start + i · seconds / count.
    const t = start + (i * win) / count;
    out.push(Math.max(0, Math.min(available - 1, Math.round(t * fps))));
  }
  return out;
}

export interface EncoderPrepared {
  input: Float32Array;
}

export class EncoderExtractor implements Extractor<EncoderPrepared> {
  readonly name: string;
  readonly version = EXTRACTOR_VERSIONS.encoder;
  readonly modality: FeatureModality;
  readonly layers: LayerSpec[];
  readonly settings: Record<string, unknown>;
  readonly info: string;
  private readonly session: EncoderSession;
  private readonly cfg: EncoderExtractorConfig;
  /** Indices into the session's layers of the kept ones. */
  private readonly keep: number[];

  private constructor(session: EncoderSession, cfg: EncoderExtractorConfig, modality: FeatureModality, configKey: string) {
    this.session = session;
    this.cfg = cfg;
    this.modality = modality;
    this.name = cfg.name;
    const all = session.layers(modality);
    const known = all.map((l) => l.name);
    for (const want of cfg.layers) {
      if (!known.includes(want)) throw new Error(`${configKey}.layers: the ${modality} tower of ${session.dir} has no layer "${want}" (it has ${known.join(', ')})`);
    }
    this.keep = all.map((l, i) => (cfg.layers.length === 0 || cfg.layers.includes(l.name) ? i : -1)).filter((i) => i >= 0);
    this.layers = this.keep.map((i) => ({ ...all[i], name: `${cfg.name}_${all[i].name}` }));
    const inp = session.inputs;
    this.settings = {
      checkpoint: session.digest,
      step: session.step,
      tower: modality,
      layers: this.layers.map((l) => l.name),
      seconds: cfg.seconds,
      ...(modality === 'visual' ? { sampling: cfg.sampling, frames: inp.frames, height: inp.height, width: inp.width, mean: cfg.mean, std: cfg.std } : { audioFrames: inp.audioFrames, mels: inp.mels }),
    };
    this.info = `checkpoint ${session.dir} (step ${session.step}, sha256 ${session.digest.slice(0, 12)})`;
  }

  static async create(cfg: EncoderExtractorConfig, modality: FeatureModality, checkpoint: string, configKey: string): Promise<EncoderExtractor> {
    let session: EncoderSession;
    try {
      session = await encoderProvider().open(checkpoint, { backend: cfg.backend });
    } catch (err) {
      throw new Error(`${configKey}: cannot load the encoder checkpoint ${checkpoint}: ${(err as Error).message}`, { cause: err });
    }
    try {
      return new EncoderExtractor(session, cfg, modality, configKey);
    } catch (err) {
      session.dispose();
      throw err;
    }
  }

  prepare(clip: DecodedClip): EncoderPrepared {
    const inp = this.session.inputs;
    if (this.modality === 'visual') {
      const [available, , , ] = clip.shape;
      const idx = windowFrameIndices(available, clip.fps, clip.seconds, this.cfg.seconds, inp.frames, this.cfg.sampling);
      const per = inp.height * inp.width * 3;
      const out = new Float32Array(inp.frames * per);
      idx.forEach((t, i) => {
        const img = resizeImage(clipFrame(clip, t), inp.width, inp.height, 'bilinear');
        const o = i * per;
        for (let j = 0; j < per; j++) out[o + j] = (img.data[j] / 255 - this.cfg.mean) / this.cfg.std;
      });
      return { input: out };
    }
    const S = Math.round(Math.min(this.cfg.seconds, clip.seconds) * clip.sampleRate);
    const off = Math.max(0, Math.floor((clip.audio.length - S) / 2));
    const audio = clip.audio.subarray(off, off + S);
    const item = { key: clip.file, audio: { dtype: 'float32', shape: [audio.length], data: audio }, sampleRate: clip.sampleRate, seconds: this.cfg.seconds } as unknown as DecodedItem;
    return { input: spectrogramItem(item, { frames: inp.audioFrames, mels: inp.mels }).spec.data };
  }

  async run(batch: EncoderPrepared[]): Promise<Float32Array[][]> {
    if (batch.length === 0) return [];
    const per = batch[0].input.length;
    const input = new Float32Array(batch.length * per);
    batch.forEach((b, i) => input.set(b.input, i * per));
    let outs: Float32Array[];
    try {
      outs = await this.session.embed(this.modality, input, batch.length);
    } catch (err) {
      // A failing model is not a bad clip.
      throw new ExtractorFatalError(`extractor ${this.name} (${this.modality} tower of ${this.session.dir}): ${(err as Error).message}`);
    }
    const all = this.session.layers(this.modality);
    return batch.map((_, i) => this.keep.map((li) => outs[li].slice(i * all[li].dim, (i + 1) * all[li].dim)));
  }

  dispose(): void {
    this.session.dispose();
  }
}

/** sha256 of byte buffers in order (the checkpoint digest a provider reports). */
export function digestOf(parts: Uint8Array[]): string {
  const h = createHash('sha256');
  for (const p of parts) h.update(p);
  return h.digest('hex');
}
