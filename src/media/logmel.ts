/**
 * Log-mel spectrograms. The defaults are exactly VGGish's front end (mel_features.py of the
 * TensorFlow models repository): 16 kHz mono, 25 ms periodic Hann window (400 samples), 10 ms hop
 * (160), FFT of 512, magnitude spectrum, 64 HTK-mel triangles over 125–7500 Hz (DC weight zeroed),
 * log(mel + 0.01), and examples of 96 frames (0.96 s) without overlap.
 *
 * Framing follows VGGish: 1 + floor((samples - window) / hop) frames, no padding; audio shorter than
 * one window gives zero frames.
 */
import { RealSpectrum, hannWindow, nextPow2, resample } from './fft.js';

export interface LogMelOptions {
  /** Rate the spectrogram is computed at (input is resampled to it). */
  sampleRate: number;
  windowSeconds: number;
  hopSeconds: number;
  /** FFT length; default the next power of two of the window length. */
  fftSize?: number;
  nMels: number;
  fMin: number;
  fMax: number;
  /** Added before the log. */
  logOffset: number;
  /** 'magnitude' (VGGish) or 'power' spectrum into the mel filters. */
  spectrum: 'magnitude' | 'power';
}

export const VGGISH_LOGMEL: Readonly<LogMelOptions> = Object.freeze({
  sampleRate: 16000,
  windowSeconds: 0.025,
  hopSeconds: 0.01,
  nMels: 64,
  fMin: 125,
  fMax: 7500,
  logOffset: 0.01,
  spectrum: 'magnitude',
});

/** VGGish example: 96 frames (0.96 s) of 64 bands, hop 96 frames (no overlap). */
export const VGGISH_EXAMPLE_FRAMES = 96;

export interface LogMel {
  /** [frames, nMels] row-major. */
  data: Float32Array;
  frames: number;
  bins: number;
  /** Frames per second. */
  frameRate: number;
}

export function hertzToMel(hz: number): number {
  return 1127.0 * Math.log(1 + hz / 700.0);
}

export function melToHertz(mel: number): number {
  return 700.0 * (Math.exp(mel / 1127.0) - 1);
}

/** Centre frequencies (Hz) of the mel bands. */
export function melCenters(nMels: number, fMin: number, fMax: number): Float64Array {
  const lo = hertzToMel(fMin);
  const hi = hertzToMel(fMax);
  const out = new Float64Array(nMels);
  for (let i = 0; i < nMels; i++) out[i] = melToHertz(lo + ((hi - lo) * (i + 1)) / (nMels + 1));
  return out;
}

/**
 * Mel weight matrix [spectrumBins, nMels] (row-major), VGGish's spectrogram_to_mel_matrix:
 * triangles in mel space evaluated at the spectrogram bin frequencies linspace(0, nyquist, bins),
 * the DC row zeroed.
 */
export function melMatrix(nMels: number, spectrumBins: number, sampleRate: number, fMin: number, fMax: number): Float64Array {
  const nyquist = sampleRate / 2;
  if (fMin < 0 || fMin >= fMax || fMax > nyquist) throw new RangeError(`mel range ${fMin}..${fMax} Hz is invalid for ${sampleRate} Hz audio`);
  const binsMel = new Float64Array(spectrumBins);
  for (let k = 0; k < spectrumBins; k++) binsMel[k] = hertzToMel((nyquist * k) / (spectrumBins - 1));
  const lo = hertzToMel(fMin);
  const hi = hertzToMel(fMax);
  const edges = new Float64Array(nMels + 2);
  for (let i = 0; i < nMels + 2; i++) edges[i] = lo + ((hi - lo) * i) / (nMels + 1);
  const w = new Float64Array(spectrumBins * nMels);
  for (let m = 0; m < nMels; m++) {
    const l = edges[m];
    const c = edges[m + 1];
    const u = edges[m + 2];
    for (let k = 1; k < spectrumBins; k++) {
      const up = (binsMel[k] - l) / (c - l);
      const down = (u - binsMel[k]) / (u - c);
      w[k * nMels + m] = Math.max(0, Math.min(up, down));
    }
  }
  return w;
}

interface Frontend {
  key: string;
  win: number;
  hop: number;
  window: Float64Array;
  spec: RealSpectrum;
  /** Sparse mel weights: per band, first bin and weights. */
  bands: Array<{ first: number; weights: Float64Array }>;
}

const frontends = new Map<string, Frontend>();

function frontend(o: LogMelOptions): Frontend {
  const key = JSON.stringify([o.sampleRate, o.windowSeconds, o.hopSeconds, o.fftSize, o.nMels, o.fMin, o.fMax]);
  let f = frontends.get(key);
  if (f) return f;
  const win = Math.round(o.sampleRate * o.windowSeconds);
  const hop = Math.round(o.sampleRate * o.hopSeconds);
  if (win < 1 || hop < 1) throw new RangeError(`log-mel window (${win}) and hop (${hop}) must be at least one sample`);
  const fftSize = o.fftSize ?? nextPow2(win);
  const spec = new RealSpectrum(fftSize);
  const m = melMatrix(o.nMels, spec.bins, o.sampleRate, o.fMin, o.fMax);
  const bands: Frontend['bands'] = [];
  for (let b = 0; b < o.nMels; b++) {
    let first = -1;
    let last = -1;
    for (let k = 0; k < spec.bins; k++) {
      if (m[k * o.nMels + b] > 0) {
        if (first < 0) first = k;
        last = k;
      }
    }
    if (first < 0) {
      bands.push({ first: 0, weights: new Float64Array(0) });
      continue;
    }
    const weights = new Float64Array(last - first + 1);
    for (let k = first; k <= last; k++) weights[k - first] = m[k * o.nMels + b];
    bands.push({ first, weights });
  }
  f = { key, win, hop, window: hannWindow(win, true), spec, bands };
  frontends.set(key, f);
  return f;
}

/** Number of frames for `samples` samples: 1 + floor((samples - window) / hop), at least 0. */
export function logMelFrameCount(samples: number, options: Partial<LogMelOptions> = {}): number {
  const o = { ...VGGISH_LOGMEL, ...options };
  const win = Math.round(o.sampleRate * o.windowSeconds);
  const hop = Math.round(o.sampleRate * o.hopSeconds);
  return samples < win ? 0 : 1 + Math.floor((samples - win) / hop);
}

/**
 * Log-mel spectrogram of mono audio at `inputRate` (resampled to options.sampleRate when they
 * differ). Defaults: VGGish.
 */
export function logMelSpectrogram(
  audio: Float32Array,
  inputRate: number,
  options: Partial<LogMelOptions> = {},
  /** Called with each frame's spectrum (magnitude or power, per options) before the mel filters; `signal` is the resampled input. */
  onSpectrum?: (frame: number, spectrum: Float64Array, signal: Float32Array, offset: number, length: number) => void,
): LogMel {
  const o: LogMelOptions = { ...VGGISH_LOGMEL, ...options };
  const x = resample(audio, inputRate, o.sampleRate);
  const f = frontend(o);
  const frames = x.length < f.win ? 0 : 1 + Math.floor((x.length - f.win) / f.hop);
  const data = new Float32Array(frames * o.nMels);
  const spectrum = new Float64Array(f.spec.bins);
  const power = o.spectrum === 'power';
  for (let t = 0; t < frames; t++) {
    f.spec.compute(x, t * f.hop, f.win, f.window, spectrum, power);
    onSpectrum?.(t, spectrum, x, t * f.hop, f.win);
    const row = t * o.nMels;
    for (let b = 0; b < o.nMels; b++) {
      const { first, weights } = f.bands[b];
      let acc = 0;
      for (let j = 0; j < weights.length; j++) acc += spectrum[first + j] * weights[j];
      data[row + b] = Math.log(acc + o.logOffset);
    }
  }
  return { data, frames, bins: o.nMels, frameRate: o.sampleRate / f.hop };
}

/**
 * Cut a log-mel spectrogram into examples of `frames` frames with hop `hop` (default: VGGish's
 * 96 / 96). Returns [examples, frames, bins] and the count; a remainder shorter than one example
 * is dropped (VGGish), except that a spectrogram shorter than one example yields one example
 * padded by repeating its last frame when `padShort` is set (so short clips still get a feature).
 */
export function logMelExamples(mel: LogMel, frames = VGGISH_EXAMPLE_FRAMES, hop = frames, padShort = false): { data: Float32Array; examples: number; frames: number; bins: number } {
  const { bins } = mel;
  let n = mel.frames < frames ? 0 : 1 + Math.floor((mel.frames - frames) / hop);
  if (n === 0 && padShort && mel.frames > 0) {
    const data = new Float32Array(frames * bins);
    for (let t = 0; t < frames; t++) {
      const src = Math.min(t, mel.frames - 1) * bins;
      data.set(mel.data.subarray(src, src + bins), t * bins);
    }
    return { data, examples: 1, frames, bins };
  }
  const data = new Float32Array(n * frames * bins);
  for (let e = 0; e < n; e++) data.set(mel.data.subarray(e * hop * bins, (e * hop + frames) * bins), e * frames * bins);
  return { data, examples: n, frames, bins };
}
