import { describe, it, expect } from 'vitest';
import { logMelSpectrogram, logMelExamples, melCenters, logMelFrameCount, VGGISH_LOGMEL } from '../../src/media/logmel.js';
import { FftPlan, resample } from '../../src/media/fft.js';
import { Rng } from '../../src/runtime/random.js';

/** Independent reference: direct DFT magnitude and mel triangles written out here from VGGish's formulas. */
function referenceLogMel(x: Float32Array): number[][] {
  const sr = 16000, win = 400, hop = 160, nfft = 512, nMels = 64, bins = 257;
  const mel = (hz: number) => 1127 * Math.log(1 + hz / 700);
  const edges: number[] = [];
  for (let i = 0; i < nMels + 2; i++) edges.push(mel(125) + ((mel(7500) - mel(125)) * i) / (nMels + 1));
  const frames = 1 + Math.floor((x.length - win) / hop);
  const out: number[][] = [];
  for (let t = 0; t < frames; t++) {
    const mag: number[] = [];
    for (let k = 0; k < bins; k++) {
      let re = 0, im = 0;
      for (let n = 0; n < win; n++) {
        const w = 0.5 - 0.5 * Math.cos((2 * Math.PI * n) / win);
        const v = x[t * hop + n] * w;
        re += v * Math.cos((2 * Math.PI * k * n) / nfft);
        im -= v * Math.sin((2 * Math.PI * k * n) / nfft);
      }
      mag.push(Math.hypot(re, im));
    }
    const row: number[] = [];
    for (let m = 0; m < nMels; m++) {
      let acc = 0;
      for (let k = 1; k < bins; k++) {
        const bm = mel((k * (sr / 2)) / (bins - 1));
        const wgt = Math.max(0, Math.min((bm - edges[m]) / (edges[m + 1] - edges[m]), (edges[m + 2] - bm) / (edges[m + 2] - edges[m + 1])));
        acc += mag[k] * wgt;
      }
      row.push(Math.log(acc + 0.01));
    }
    out.push(row);
  }
  return out;
}

describe('FFT', () => {
  it('matches a direct DFT', () => {
    const rng = new Rng(1);
    const n = 64;
    const re = new Float64Array(n), im = new Float64Array(n);
    for (let i = 0; i < n; i++) { re[i] = rng.normal(); im[i] = rng.normal(); }
    const xr = Float64Array.from(re), xi = Float64Array.from(im);
    FftPlan.of(n).forward(re, im);
    for (const k of [0, 1, 5, 31, 32, 63]) {
      let sr = 0, si = 0;
      for (let t = 0; t < n; t++) {
        const a = (-2 * Math.PI * k * t) / n;
        sr += xr[t] * Math.cos(a) - xi[t] * Math.sin(a);
        si += xr[t] * Math.sin(a) + xi[t] * Math.cos(a);
      }
      expect(re[k]).toBeCloseTo(sr, 9);
      expect(im[k]).toBeCloseTo(si, 9);
    }
  });
});

describe('VGGish log-mel', () => {
  it('matches a direct-DFT computation to 1e-4', () => {
    const rng = new Rng(7);
    const x = new Float32Array(16000 * 0.1);
    for (let i = 0; i < x.length; i++) x[i] = 0.3 * Math.sin((2 * Math.PI * 440 * i) / 16000) + 0.1 * rng.normal();
    const got = logMelSpectrogram(x, 16000);
    const ref = referenceLogMel(x);
    expect(got.frames).toBe(ref.length);
    expect(got.frames).toBe(8); // 1 + floor((1600 - 400) / 160)
    expect(got.bins).toBe(64);
    let maxErr = 0;
    for (let t = 0; t < got.frames; t++) for (let m = 0; m < 64; m++) maxErr = Math.max(maxErr, Math.abs(got.data[t * 64 + m] - ref[t][m]));
    expect(maxErr).toBeLessThan(1e-4);
  });

  it('peaks in the mel band whose centre is nearest a pure tone', () => {
    const centers = melCenters(64, 125, 7500);
    for (const hz of [300, 1000, 2500, 6000]) {
      const x = new Float32Array(16000);
      for (let i = 0; i < x.length; i++) x[i] = 0.5 * Math.sin((2 * Math.PI * hz * i) / 16000);
      const lm = logMelSpectrogram(x, 16000);
      expect(lm.frames).toBe(98);
      const mean = new Float64Array(64);
      for (let t = 0; t < lm.frames; t++) for (let m = 0; m < 64; m++) mean[m] += lm.data[t * 64 + m];
      let best = 0;
      for (let m = 1; m < 64; m++) if (mean[m] > mean[best]) best = m;
      let nearest = 0;
      for (let m = 1; m < 64; m++) if (Math.abs(centers[m] - hz) < Math.abs(centers[nearest] - hz)) nearest = m;
      expect(best).toBe(nearest);
    }
  });

  it('cuts 0.96 s examples of 96 x 64 frames', () => {
    const x = new Float32Array(16000 * 3);
    const lm = logMelSpectrogram(x, 16000);
    expect(lm.frames).toBe(logMelFrameCount(x.length));
    expect(lm.frames).toBe(298);
    const ex = logMelExamples(lm);
    expect(ex.examples).toBe(3);
    expect(ex.data.length).toBe(3 * 96 * 64);
    expect(ex.data[0]).toBeCloseTo(Math.log(0.01), 6); // silence: log(0 + offset)
    const short = logMelExamples(logMelSpectrogram(new Float32Array(8000), 16000), 96, 96, true);
    expect(short.examples).toBe(1);
    expect(VGGISH_LOGMEL.nMels).toBe(64);
  });

  it('resamples a 44.1 kHz tone to 16 kHz keeping its frequency', () => {
    const x = new Float32Array(44100);
    for (let i = 0; i < x.length; i++) x[i] = Math.sin((2 * Math.PI * 1000 * i) / 44100);
    const y = resample(x, 44100, 16000);
    expect(y.length).toBe(16000);
    // compare with the analytic tone away from the edges
    let err = 0;
    for (let i = 1000; i < 15000; i++) err = Math.max(err, Math.abs(y[i] - Math.sin((2 * Math.PI * 1000 * i) / 16000)));
    expect(err).toBeLessThan(0.01);
  });
});
