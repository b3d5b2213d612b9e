/**
 * What the trainer reads: batches of paired audio and frames as typed arrays, from any async
 * iterable (the loaders' Dataset, or the in-memory and synthetic sources here).
 *
 *   audio   Float32Array [B, frames, mels]   log-mel patches (VGGish: 96 x 64)
 *   frames  Float32Array [B, T, H, W, 3]     normalised frames
 *
 * A source that can resume exposes `getState()` (JSON-serialisable position after the last batch
 * handed out) and `setState(state)`; the trainer stores the state in every checkpoint.
 */
import { Rng } from '../runtime/random.js';

export interface SslBatch {
  audio: Float32Array;
  frames: Float32Array;
  /** Batch size B (else inferred from the audio length). */
  size?: number;
  /** Clip ids, when known (embed returns them). */
  ids?: string[];
}

/** A batch source whose position can be saved and restored (torchdata-style). */
export interface StatefulBatches extends AsyncIterable<SslBatch> {
  getState(): unknown;
  setState?(state: unknown): void | Promise<void>;
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

/**
 * Log-mel masking (SpecAugment style, as the reference's 5 % masks): one band of up to
 * fraction·frames time steps and one of up to fraction·mels bins per example set to the
 * example's mean. In place.
 */
export function maskLogMel(audio: Float32Array, b: number, frames: number, mels: number, fraction: number, rng: Rng): void {
  if (fraction <= 0) return;
  const maxT = Math.floor(frames * fraction);
  const maxF = Math.floor(mels * fraction);
  for (let i = 0; i < b; i++) {
    const base = i * frames * mels;
    let mean = 0;
    for (let k = 0; k < frames * mels; k++) mean += audio[base + k];
    mean /= frames * mels;
    const tw = maxT > 0 ? rng.int(maxT + 1) : 0;
    const t0 = rng.int(frames - tw + 1);
    for (let t = t0; t < t0 + tw; t++) audio.fill(mean, base + t * mels, base + (t + 1) * mels);
    const fw = maxF > 0 ? rng.int(maxF + 1) : 0;
    const f0 = rng.int(mels - fw + 1);
    for (let t = 0; t < frames; t++) audio.fill(mean, base + t * mels + f0, base + t * mels + f0 + fw);
  }
}

export interface ArrayBatchesState {
  epoch: number;
  /** Batches already handed out in this epoch. */
  index: number;
}

/**
 * Batches from clips held in memory, reshuffled every epoch with a generator derived from
 * (seed, epoch), full batches only, repeating epochs forever (or `epochs` times). Resumable.
 */
export class ArrayBatches implements StatefulBatches {
  readonly n: number;
  private epoch = 0;
  private index = 0;
  constructor(
    private readonly audio: Float32Array,
    private readonly frames: Float32Array,
    n: number,
    private readonly batch: number,
    private readonly seed: number,
    private readonly epochs = Infinity,
    private readonly ids?: string[],
  ) {
    this.n = n;
    if (audio.length % n !== 0 || frames.length % n !== 0) throw new Error('ArrayBatches: array lengths are not multiples of the clip count');
    if (batch > n) throw new Error(`ArrayBatches: batch size ${batch} exceeds the ${n} clips`);
  }

  batchesPerEpoch(): number {
    return Math.floor(this.n / this.batch);
  }

  getState(): ArrayBatchesState {
    return { epoch: this.epoch, index: this.index };
  }

  setState(state: unknown): void {
    const s = state as ArrayBatchesState;
    if (!s || typeof s.epoch !== 'number' || typeof s.index !== 'number') throw new Error('ArrayBatches.setState: expected {epoch, index}');
    this.epoch = s.epoch;
    this.index = s.index;
  }

  async *[Symbol.asyncIterator](): AsyncIterator<SslBatch> {
    const perA = this.audio.length / this.n;
    const perF = this.frames.length / this.n;
    while (this.epoch < this.epochs) {
      const order = Rng.derive(this.seed, 'ssl-array-batches', this.epoch).permutation(this.n);
      while (this.index < this.batchesPerEpoch()) {
        const a = new Float32Array(this.batch * perA);
        const f = new Float32Array(this.batch * perF);
        const ids: string[] = [];
        for (let k = 0; k < this.batch; k++) {
          const i = order[this.index * this.batch + k];
          a.set(this.audio.subarray(i * perA, (i + 1) * perA), k * perA);
          f.set(this.frames.subarray(i * perF, (i + 1) * perF), k * perF);
          ids.push(this.ids ? this.ids[i] : String(i));
        }
        this.index++;
        yield { audio: a, frames: f, size: this.batch, ids };
      }
      this.epoch++;
      this.index = 0;
    }
  }
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
