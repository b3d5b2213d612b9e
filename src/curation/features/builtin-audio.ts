/**
 * Built-in audio descriptors: no weights, deterministic, fast. Four layers from the VGGish log-mel
 * front end and the power spectrum of the same frames:
 *
 *   logmel_stats (128)  per-band mean of the log-mel (minus its mean over bands: the spectral
 *                       envelope, independent of gain) and per-band standard deviation over time
 *   mfcc_stats (52)     13 MFCCs (orthonormal DCT-II of the log-mel): mean, std; and of their deltas:
 *                       mean absolute value, std
 *   spectral (16)       mean and std over frames of: centroid, bandwidth, 85 % roll-off (fractions of
 *                       Nyquist), flatness, flux, zero-crossing rate, log-energy (dB / 20), peak ratio
 *   modulation (34)     temporal modulation: for 4 groups of 16 mel bands, the share of envelope
 *                       power in modulation bands 0.5–1, 1–2, 2–4, 4–8, 8–16, 16–32 Hz and the
 *                       envelope's depth log(1 + std/mean); each group's share of the energy;
 *                       plus the strength and lag / 4 (log2 seconds)
 *                       of the strongest envelope periodicity between 0.05 and 1 s (rhythm)
 */
import type { DecodedClip } from '../../media/types.js';
import { logMelSpectrogram, VGGISH_LOGMEL } from '../../media/logmel.js';
import { FftPlan, hannWindow, nextPow2, resample } from '../../media/fft.js';
import type { Extractor, LayerSpec } from './extractor.js';
import type { DescriptorWorkers } from './workers.js';
import { EXTRACTOR_VERSIONS } from './versions.js';

const N_MELS = VGGISH_LOGMEL.nMels;
const N_MFCC = 13;
const MOD_GROUPS = 4;
const MOD_BANDS: Array<[number, number]> = [[0.5, 1], [1, 2], [2, 4], [4, 8], [8, 16], [16, 32]];

export const BUILTIN_AUDIO_LAYERS: readonly LayerSpec[] = Object.freeze([
  { name: 'logmel_stats', dim: 2 * N_MELS, description: 'per-band log-mel mean (gain removed) and std over time, 64 VGGish bands' },
  { name: 'mfcc_stats', dim: 4 * N_MFCC, description: '13 MFCCs: mean, std; deltas: mean |delta|, std' },
  { name: 'spectral', dim: 16, description: 'mean and std of centroid, bandwidth, roll-off, flatness, flux, ZCR, log-energy, peak ratio' },
  { name: 'modulation', dim: MOD_GROUPS * (MOD_BANDS.length + 2) + 2, description: 'envelope modulation spectrum, depth and energy share of 4 band groups, and rhythm periodicity' },
]);

export interface AudioInput {
  audio: Float32Array;
  sampleRate: number;
}

/** The 16 kHz signal the descriptors are computed on. */
function at16k(x: AudioInput): Float32Array {
  return resample(x.audio, x.sampleRate, VGGISH_LOGMEL.sampleRate);
}

function meanStd(values: Float64Array | Float32Array, n: number, stride: number, offset: number): [number, number] {
  if (n === 0) return [0, 0];
  let s = 0;
  for (let t = 0; t < n; t++) s += values[t * stride + offset];
  const m = s / n;
  let v = 0;
  for (let t = 0; t < n; t++) v += (values[t * stride + offset] - m) ** 2;
  return [m, Math.sqrt(v / n)];
}

/** Compute the four built-in audio layers of one clip. */
export function builtinAudioFeatures(input: AudioInput): Float32Array[] {
  const x = at16k(input);
  // Spectral shape per frame, from the same magnitude spectra the log-mel uses (one FFT per frame).
  const K = 257;
  const prevNorm = new Float64Array(K);
  const curNorm = new Float64Array(K);
  const P = new Float64Array(K);
  const perRows: number[] = [];
  const mel = logMelSpectrogram(x, VGGISH_LOGMEL.sampleRate, VGGISH_LOGMEL, (t, mag, sig, offset, win) => {
    let sum = 0;
    let fsum = 0;
    let logSum = 0;
    let peak = 0;
    for (let k = 0; k < K; k++) {
      const p = mag[k] * mag[k];
      P[k] = p;
      sum += p;
      fsum += p * (k / (K - 1));
      logSum += Math.log(p + 1e-12);
      if (p > peak) peak = p;
    }
    const silent = sum < 1e-9;
    const centroid = silent ? 0 : fsum / sum;
    let spread = 0;
    let cum = 0;
    let rolloff = 0;
    let found = false;
    for (let k = 0; k < K; k++) {
      const f = k / (K - 1);
      spread += P[k] * (f - centroid) ** 2;
      cum += P[k];
      if (!found && cum >= 0.85 * sum) {
        rolloff = f;
        found = true;
      }
    }
    const amp = Math.sqrt(sum);
    let flux = 0;
    for (let k = 0; k < K; k++) {
      curNorm[k] = amp > 0 ? mag[k] / amp : 0;
      if (t > 0) flux += (curNorm[k] - prevNorm[k]) ** 2;
    }
    prevNorm.set(curNorm);
    let zc = 0;
    let energy = 0;
    for (let i = 0; i < win; i++) {
      const v = sig[offset + i];
      energy += v * v;
      if (i > 0 && (v >= 0) !== (sig[offset + i - 1] >= 0)) zc++;
    }
    perRows.push(
      centroid,
      silent ? 0 : Math.sqrt(spread / sum),
      silent ? 0 : rolloff,
      silent ? 0 : Math.exp(logSum / K) / (sum / K + 1e-12),
      Math.sqrt(flux),
      zc / (win - 1),
      (10 * Math.log10(energy / win + 1e-10)) / 20,
      silent ? 0 : peak / sum,
    );
  });
  const T = mel.frames;
  const L = mel.data;
  const per = Float64Array.from(perRows);

  // logmel_stats
  const lm = new Float32Array(2 * N_MELS);
  const means = new Float64Array(N_MELS);
  let level = 0;
  for (let b = 0; b < N_MELS; b++) {
    const [m, s] = meanStd(L, T, N_MELS, b);
    means[b] = m;
    lm[N_MELS + b] = s;
    level += m / N_MELS;
  }
  for (let b = 0; b < N_MELS; b++) lm[b] = T > 0 ? means[b] - level : 0;

  // mfcc_stats
  const C = new Float64Array(T * N_MFCC);
  const dct = new Float64Array(N_MFCC * N_MELS);
  for (let k = 0; k < N_MFCC; k++) {
    const norm = k === 0 ? Math.sqrt(1 / N_MELS) : Math.sqrt(2 / N_MELS);
    for (let b = 0; b < N_MELS; b++) dct[k * N_MELS + b] = norm * Math.cos((Math.PI * k * (b + 0.5)) / N_MELS);
  }
  for (let t = 0; t < T; t++) {
    for (let k = 0; k < N_MFCC; k++) {
      let acc = 0;
      for (let b = 0; b < N_MELS; b++) acc += dct[k * N_MELS + b] * L[t * N_MELS + b];
      C[t * N_MFCC + k] = acc;
    }
  }
  const D = new Float64Array(T * N_MFCC);
  for (let t = 0; t < T; t++) {
    const a = Math.max(0, t - 1);
    const b = Math.min(T - 1, t + 1);
    for (let k = 0; k < N_MFCC; k++) D[t * N_MFCC + k] = b > a ? (C[b * N_MFCC + k] - C[a * N_MFCC + k]) / (b - a) : 0;
  }
  const mf = new Float32Array(4 * N_MFCC);
  for (let k = 0; k < N_MFCC; k++) {
    const [m, s] = meanStd(C, T, N_MFCC, k);
    mf[k] = m;
    mf[N_MFCC + k] = s;
    let abs = 0;
    for (let t = 0; t < T; t++) abs += Math.abs(D[t * N_MFCC + k]);
    mf[2 * N_MFCC + k] = T > 0 ? abs / T : 0;
    mf[3 * N_MFCC + k] = meanStd(D, T, N_MFCC, k)[1];
  }

  const sp = new Float32Array(16);
  for (let j = 0; j < 8; j++) {
    const [m, s] = meanStd(per, T, 8, j);
    sp[j] = m;
    sp[8 + j] = s;
  }

  // modulation: envelopes (linear mel energy) of 4 band groups at the frame rate (100 Hz).
  const mod = new Float32Array(MOD_GROUPS * (MOD_BANDS.length + 2) + 2);
  const groupEnergy = new Float64Array(MOD_GROUPS);
  const frameRate = mel.frameRate;
  const groupSize = N_MELS / MOD_GROUPS;
  const broad = new Float64Array(T);
  if (T >= 8) {
    const nfft = nextPow2(T);
    const plan = FftPlan.of(nfft);
    const re = new Float64Array(nfft);
    const im = new Float64Array(nfft);
    const w = hannWindow(T, false);
    for (let g = 0; g < MOD_GROUPS; g++) {
      const env = new Float64Array(T);
      for (let t = 0; t < T; t++) {
        let e = 0;
        for (let b = g * groupSize; b < (g + 1) * groupSize; b++) e += Math.max(0, Math.exp(L[t * N_MELS + b]) - VGGISH_LOGMEL.logOffset);
        env[t] = e;
        broad[t] += e;
      }
      let m = 0;
      for (let t = 0; t < T; t++) m += env[t];
      m /= T;
      groupEnergy[g] = m;
      let v = 0;
      for (let t = 0; t < T; t++) v += (env[t] - m) ** 2;
      const sd = Math.sqrt(v / T);
      re.fill(0);
      im.fill(0);
      for (let t = 0; t < T; t++) re[t] = m > 0 ? ((env[t] - m) / m) * w[t] : 0;
      plan.forward(re, im);
      const bandPower = new Float64Array(MOD_BANDS.length);
      let total = 0;
      for (let k = 1; k <= nfft / 2; k++) {
        const f = (k * frameRate) / nfft;
        if (f < MOD_BANDS[0][0] || f >= MOD_BANDS[MOD_BANDS.length - 1][1]) continue;
        const p = re[k] * re[k] + im[k] * im[k];
        total += p;
        for (let j = 0; j < MOD_BANDS.length; j++) if (f >= MOD_BANDS[j][0] && f < MOD_BANDS[j][1]) bandPower[j] += p;
      }
      const base = g * (MOD_BANDS.length + 1);
      for (let j = 0; j < MOD_BANDS.length; j++) mod[base + j] = total > 1e-20 ? bandPower[j] / total : 0;
      mod[base + MOD_BANDS.length] = m > 0 ? Math.log1p(sd / m) : 0;
    }
    const energyTotal = groupEnergy.reduce((a, b) => a + b, 0);
    for (let g = 0; g < MOD_GROUPS; g++) mod[MOD_GROUPS * (MOD_BANDS.length + 1) + g] = energyTotal > 0 ? groupEnergy[g] / energyTotal : 0;
    // rhythm: normalised autocorrelation of the broadband envelope, lags 0.05..1 s
    let m = 0;
    for (let t = 0; t < T; t++) m += broad[t];
    m /= T;
    let r0 = 0;
    for (let t = 0; t < T; t++) r0 += (broad[t] - m) ** 2;
    let best = 0;
    let bestLag = 0;
    const lo = Math.max(1, Math.round(0.05 * frameRate));
    const hi = Math.min(T - 1, Math.round(1 * frameRate));
    if (r0 > 1e-20 && hi > lo) {
      const r = new Float64Array(hi + 2);
      for (let lag = 1; lag <= Math.min(hi + 1, T - 1); lag++) {
        let acc = 0;
        for (let t = 0; t + lag < T; t++) acc += (broad[t] - m) * (broad[t + lag] - m);
        r[lag] = (acc / r0) * (T / (T - lag)); // unbiased
      }
      // Local maxima only (a true period, not the slope of the zero-lag peak); of those, the
      // shortest lag within 85 % of the strongest (multiples of the period peak as high).
      const peaks: number[] = [];
      let top = 0;
      for (let lag = lo; lag <= hi; lag++) {
        if (r[lag] > r[lag - 1] && r[lag] >= r[lag + 1] && r[lag] > 0) {
          peaks.push(lag);
          top = Math.max(top, r[lag]);
        }
      }
      for (const lag of peaks) {
        if (r[lag] >= 0.85 * top) {
          best = r[lag];
          bestLag = lag;
          break;
        }
      }
    }
    mod[MOD_GROUPS * (MOD_BANDS.length + 2)] = Math.min(1, best);
    mod[MOD_GROUPS * (MOD_BANDS.length + 2) + 1] = bestLag > 0 ? Math.log2(bestLag / frameRate) / 4 : 0;
  }
  return [lm, mf, sp, mod];
}

/** The built-in audio extractor (see the module comment for its layers). */
export class BuiltinAudioExtractor implements Extractor<AudioInput> {
  readonly name = 'builtin-audio';
  readonly version = EXTRACTOR_VERSIONS['builtin-audio'];
  readonly modality = 'audio' as const;
  readonly layers = BUILTIN_AUDIO_LAYERS;
  readonly settings = { logmel: VGGISH_LOGMEL, mfcc: N_MFCC, modulationBands: MOD_BANDS };

  private readonly workers: DescriptorWorkers | undefined;

  /** With `workers`, descriptors are computed in worker threads (the main thread stays free). */
  constructor(workers?: DescriptorWorkers) {
    this.workers = workers && workers.size > 0 ? workers : undefined;
  }

  prepare(clip: DecodedClip): AudioInput {
    return { audio: clip.audio, sampleRate: clip.sampleRate };
  }

  async run(batch: AudioInput[]): Promise<Float32Array[][]> {
    const w = this.workers;
    if (w) return Promise.all(batch.map((input) => w.run({ kind: 'audio', input })));
    return batch.map((b) => builtinAudioFeatures(b));
  }
}
