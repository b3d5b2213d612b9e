/**
 * Built-in visual descriptors: no weights, deterministic, fast. Static layers are averaged over
 * `frames` frames sampled evenly over the clip (at most `maxSize` pixels on the long side); motion
 * uses every consecutive pair of decoded frames at half that size.
 *
 *   colour (28)    saturation and value histograms (8 + 8 bins), hue-rotation-invariant hue
 *                  structure (|DFT| k = 1..6 of the saturation-weighted 12-bin hue histogram,
 *                  over its k = 0 term), mean/std of S and V, colourfulness, share of grey pixels
 *   layout (48)    4 x 4 grid of mean luma, luma std and mean saturation (0..1)
 *   gradient (40)  magnitude-weighted orientation histograms (8 unsigned bins, soft-binned) of the
 *                  whole frame and of a 2 x 2 grid, each normalised to sum 1
 *   texture (22)   rotation-invariant uniform LBP (8 neighbours, 10 bins); share of gradient
 *                  energy at 4 scales (image pyramid); share of luma spectral power in 6 radial
 *                  frequency bands (64 x 64 FFT); log contrast; edge density
 *   motion (24)    frame differences: log(1 + mean |dY|) mean and std over pairs, burstiness, shares
 *                  of pixels changing by > 4, 16, 48, 96 levels, 3 x 3 grid of where change happens,
 *                  and an 8-bin histogram of normal-flow direction
 */
import type { DecodedClip } from '../../media/types.js';
import { FftPlan, hannWindow } from '../../media/fft.js';
import type { Extractor, LayerSpec } from './extractor.js';
import type { DescriptorWorkers } from './workers.js';
import { clipFrame, resizeImage, resizePlane, sampleFrameIndices, type RgbImage } from './preprocess.js';
import { BUILTIN_DEFAULTS } from '../../config/defaults.js';
import { EXTRACTOR_VERSIONS } from './versions.js';

export const BUILTIN_VISUAL_LAYERS: readonly LayerSpec[] = Object.freeze([
  { name: 'colour', dim: 28, description: 'saturation/value histograms, hue-rotation-invariant hue structure, colourfulness' },
  { name: 'layout', dim: 48, description: '4x4 grid of mean luma, luma std, mean saturation' },
  { name: 'gradient', dim: 40, description: 'orientation histograms (8 bins) of the frame and a 2x2 grid' },
  { name: 'texture', dim: 22, description: 'LBP histogram, gradient energy by scale, radial spectrum, contrast, edge density' },
  { name: 'motion', dim: 24, description: 'frame-difference statistics, where change happens, normal-flow direction' },
]);

export interface BuiltinVisualOptions {
  /** Frames sampled for the static layers (default 8). */
  frames: number;
  /** Long side of the analysis size; larger frames are shrunk (default 128). */
  maxSize: number;
}

export const DEFAULT_BUILTIN_VISUAL: BuiltinVisualOptions = { frames: BUILTIN_DEFAULTS.frames, maxSize: BUILTIN_DEFAULTS.maxSize };

interface Planes {
  w: number;
  h: number;
  /** luma 0..1 */
  y: Float32Array;
  /** hue 0..1 (fraction of the circle), saturation 0..1, value 0..1 */
  hue: Float32Array;
  sat: Float32Array;
  val: Float32Array;
  r: Float32Array;
  g: Float32Array;
  b: Float32Array;
}

function toPlanes(img: RgbImage): Planes {
  const n = img.width * img.height;
  const p: Planes = {
    w: img.width,
    h: img.height,
    y: new Float32Array(n),
    hue: new Float32Array(n),
    sat: new Float32Array(n),
    val: new Float32Array(n),
    r: new Float32Array(n),
    g: new Float32Array(n),
    b: new Float32Array(n),
  };
  const d = img.data;
  for (let i = 0; i < n; i++) {
    const r = d[3 * i] / 255;
    const g = d[3 * i + 1] / 255;
    const b = d[3 * i + 2] / 255;
    p.r[i] = r;
    p.g[i] = g;
    p.b[i] = b;
    p.y[i] = 0.299 * r + 0.587 * g + 0.114 * b;
    const mx = Math.max(r, g, b);
    const mn = Math.min(r, g, b);
    const c = mx - mn;
    p.val[i] = mx;
    p.sat[i] = mx > 0 ? c / mx : 0;
    let h = 0;
    if (c > 0) {
      if (mx === r) h = ((g - b) / c + 6) % 6;
      else if (mx === g) h = (b - r) / c + 2;
      else h = (r - g) / c + 4;
    }
    p.hue[i] = h / 6;
  }
  return p;
}

function analysisSize(w: number, h: number, maxSize: number): { width: number; height: number } {
  const long = Math.max(w, h);
  if (long <= maxSize) return { width: w, height: h };
  const s = maxSize / long;
  return { width: Math.max(2, Math.round(w * s)), height: Math.max(2, Math.round(h * s)) };
}

function frameAt(clip: Pick<DecodedClip, 'frames' | 'shape'>, t: number, size: { width: number; height: number }): RgbImage {
  const f = clipFrame(clip, t);
  return f.width === size.width && f.height === size.height ? f : resizeImage(f, size.width, size.height);
}

function histAdd(hist: Float64Array, offset: number, bins: number, x: number, w = 1): void {
  const b = Math.min(bins - 1, Math.max(0, Math.floor(x * bins)));
  hist[offset + b] += w;
}

function colourLayer(p: Planes, out: Float64Array): void {
  const n = p.w * p.h;
  const hist = new Float64Array(8 + 8 + 12);
  let sS = 0;
  let sS2 = 0;
  let sV = 0;
  let sV2 = 0;
  let grey = 0;
  let rgS = 0;
  let rgS2 = 0;
  let ybS = 0;
  let ybS2 = 0;
  for (let i = 0; i < n; i++) {
    const s = p.sat[i];
    const v = p.val[i];
    histAdd(hist, 0, 8, s);
    histAdd(hist, 8, 8, v);
    // soft hue binning over a circle of 12 bins, weight = chroma
    const w = s * v;
    if (w > 0) {
      const x = p.hue[i] * 12 - 0.5;
      const b0 = Math.floor(x);
      const f = x - b0;
      hist[16 + ((b0 % 12) + 12) % 12] += w * (1 - f);
      hist[16 + (((b0 + 1) % 12) + 12) % 12] += w * f;
    }
    sS += s;
    sS2 += s * s;
    sV += v;
    sV2 += v * v;
    if (s < 0.15 || v < 0.1) grey++;
    const rg = p.r[i] - p.g[i];
    const yb = 0.5 * (p.r[i] + p.g[i]) - p.b[i];
    rgS += rg;
    rgS2 += rg * rg;
    ybS += yb;
    ybS2 += yb * yb;
  }
  for (let j = 0; j < 16; j++) out[j] += hist[j] / n;
  // |DFT| of the hue histogram: invariant to rotating every hue by the same angle.
  let h0 = 0;
  for (let j = 0; j < 12; j++) h0 += hist[16 + j];
  for (let k = 1; k <= 6; k++) {
    let re = 0;
    let im = 0;
    for (let j = 0; j < 12; j++) {
      re += hist[16 + j] * Math.cos((2 * Math.PI * k * j) / 12);
      im -= hist[16 + j] * Math.sin((2 * Math.PI * k * j) / 12);
    }
    out[16 + k - 1] += h0 > 1e-9 ? Math.hypot(re, im) / h0 : 0;
  }
  const mS = sS / n;
  const mV = sV / n;
  out[22] += mS;
  out[23] += Math.sqrt(Math.max(0, sS2 / n - mS * mS));
  out[24] += mV;
  out[25] += Math.sqrt(Math.max(0, sV2 / n - mV * mV));
  const mrg = rgS / n;
  const myb = ybS / n;
  const sdrg = Math.sqrt(Math.max(0, rgS2 / n - mrg * mrg));
  const sdyb = Math.sqrt(Math.max(0, ybS2 / n - myb * myb));
  out[26] += Math.hypot(sdrg, sdyb) + 0.3 * Math.hypot(mrg, myb);
  out[27] += grey / n;
}

function layoutLayer(p: Planes, out: Float64Array): void {
  const G = 4;
  const sum = new Float64Array(G * G * 3);
  const cnt = new Float64Array(G * G);
  for (let y = 0; y < p.h; y++) {
    const gy = Math.min(G - 1, Math.floor((y * G) / p.h));
    for (let x = 0; x < p.w; x++) {
      const gx = Math.min(G - 1, Math.floor((x * G) / p.w));
      const c = gy * G + gx;
      const i = y * p.w + x;
      sum[c * 3] += p.y[i];
      sum[c * 3 + 1] += p.y[i] * p.y[i];
      sum[c * 3 + 2] += p.sat[i];
      cnt[c]++;
    }
  }
  for (let c = 0; c < G * G; c++) {
    const n = Math.max(1, cnt[c]);
    const m = sum[c * 3] / n;
    out[c * 3] += m;
    out[c * 3 + 1] += Math.sqrt(Math.max(0, sum[c * 3 + 1] / n - m * m));
    out[c * 3 + 2] += sum[c * 3 + 2] / n;
  }
}

/** Sobel gradients of a plane (edges replicated). */
function sobel(y: Float32Array, w: number, h: number): { gx: Float32Array; gy: Float32Array } {
  const gx = new Float32Array(w * h);
  const gy = new Float32Array(w * h);
  for (let r = 0; r < h; r++) {
    const up = (r > 0 ? r - 1 : 0) * w;
    const mid = r * w;
    const dn = (r < h - 1 ? r + 1 : h - 1) * w;
    for (let c = 0; c < w; c++) {
      const cl = c > 0 ? c - 1 : 0;
      const cr = c < w - 1 ? c + 1 : w - 1;
      const a = y[up + cl], b = y[up + c], d = y[up + cr];
      const e = y[mid + cl], f = y[mid + cr];
      const g = y[dn + cl], hh = y[dn + c], k = y[dn + cr];
      gx[mid + c] = (d + 2 * f + k - a - 2 * e - g) / 8;
      gy[mid + c] = (g + 2 * hh + k - a - 2 * b - d) / 8;
    }
  }
  return { gx, gy };
}

function gradientLayer(p: Planes, gx: Float32Array, gy: Float32Array, out: Float64Array): void {
  const B = 8;
  const hist = new Float64Array(5 * B); // global, then 2x2 cells
  for (let r = 0; r < p.h; r++) {
    const cy = r * 2 < p.h ? 0 : 1;
    for (let c = 0; c < p.w; c++) {
      const i = r * p.w + c;
      const m = Math.sqrt(gx[i] * gx[i] + gy[i] * gy[i]);
      if (m < 1e-4) continue;
      let th = Math.atan2(gy[i], gx[i]);
      if (th < 0) th += Math.PI;
      const x = (th / Math.PI) * B - 0.5;
      const b0 = Math.floor(x);
      const f = x - b0;
      const i0 = ((b0 % B) + B) % B;
      const i1 = (i0 + 1) % B;
      const cell = 1 + cy * 2 + (c * 2 < p.w ? 0 : 1);
      hist[i0] += m * (1 - f);
      hist[i1] += m * f;
      hist[cell * B + i0] += m * (1 - f);
      hist[cell * B + i1] += m * f;
    }
  }
  for (let part = 0; part < 5; part++) {
    let s = 0;
    for (let j = 0; j < B; j++) s += hist[part * B + j];
    for (let j = 0; j < B; j++) out[part * B + j] += s > 0 ? hist[part * B + j] / s : 0;
  }
}

/** Rotation-invariant uniform LBP code (riu2) lookup: 0..8 uniform with k ones, 9 non-uniform. */
const LBP_RIU2 = (() => {
  const t = new Uint8Array(256);
  for (let code = 0; code < 256; code++) {
    let transitions = 0;
    let ones = 0;
    for (let b = 0; b < 8; b++) {
      const bit = (code >> b) & 1;
      const next = (code >> ((b + 1) % 8)) & 1;
      if (bit !== next) transitions++;
      ones += bit;
    }
    t[code] = transitions <= 2 ? ones : 9;
  }
  return t;
})();

function downsample2(y: Float32Array, w: number, h: number): { y: Float32Array; w: number; h: number } {
  const w2 = Math.max(1, Math.floor(w / 2));
  const h2 = Math.max(1, Math.floor(h / 2));
  const out = new Float32Array(w2 * h2);
  for (let r = 0; r < h2; r++) {
    for (let c = 0; c < w2; c++) {
      const r0 = Math.min(h - 1, 2 * r), r1 = Math.min(h - 1, 2 * r + 1);
      const c0 = Math.min(w - 1, 2 * c), c1 = Math.min(w - 1, 2 * c + 1);
      out[r * w2 + c] = 0.25 * (y[r0 * w + c0] + y[r0 * w + c1] + y[r1 * w + c0] + y[r1 * w + c1]);
    }
  }
  return { y: out, w: w2, h: h2 };
}

const SPEC = 64;
const RADIAL_EDGES = [1, 2, 4, 8, 16, 24, 33];

function textureLayer(p: Planes, gx: Float32Array, gy: Float32Array, out: Float64Array): void {
  const { w, h, y } = p;
  // LBP with a small threshold so flat areas read as "no texture" (code 0), not noise.
  const lbp = new Float64Array(10);
  const dx = [1, 1, 0, -1, -1, -1, 0, 1];
  const dy = [0, -1, -1, -1, 0, 1, 1, 1];
  let count = 0;
  for (let r = 1; r < h - 1; r++) {
    for (let c = 1; c < w - 1; c++) {
      const center = y[r * w + c] + 2 / 255;
      let code = 0;
      for (let k = 0; k < 8; k++) if (y[(r + dy[k]) * w + c + dx[k]] >= center) code |= 1 << k;
      lbp[LBP_RIU2[code]]++;
      count++;
    }
  }
  for (let j = 0; j < 10; j++) out[j] += count > 0 ? lbp[j] / count : 0;
  // gradient energy by scale
  const energy = new Float64Array(4);
  let level = { y, w, h };
  for (let l = 0; l < 4; l++) {
    const g = l === 0 ? { gx, gy } : sobel(level.y, level.w, level.h);
    let s = 0;
    for (let i = 0; i < level.w * level.h; i++) s += Math.sqrt(g.gx[i] * g.gx[i] + g.gy[i] * g.gy[i]);
    energy[l] = s / (level.w * level.h);
    level = downsample2(level.y, level.w, level.h);
  }
  const et = energy[0] + energy[1] + energy[2] + energy[3];
  for (let l = 0; l < 4; l++) out[10 + l] += et > 1e-9 ? energy[l] / et : 0;
  // radial power spectrum of the luma at 64 x 64
  const small = resizePlane(y, w, h, SPEC, SPEC);
  let mean = 0;
  for (let i = 0; i < small.length; i++) mean += small[i];
  mean /= small.length;
  const win = hannWindow(SPEC, false);
  const plan = FftPlan.of(SPEC);
  const re = new Float64Array(SPEC * SPEC);
  const im = new Float64Array(SPEC * SPEC);
  for (let r = 0; r < SPEC; r++) for (let c = 0; c < SPEC; c++) re[r * SPEC + c] = (small[r * SPEC + c] - mean) * win[r] * win[c];
  const rowRe = new Float64Array(SPEC);
  const rowIm = new Float64Array(SPEC);
  for (let r = 0; r < SPEC; r++) {
    for (let c = 0; c < SPEC; c++) {
      rowRe[c] = re[r * SPEC + c];
      rowIm[c] = im[r * SPEC + c];
    }
    plan.forward(rowRe, rowIm);
    for (let c = 0; c < SPEC; c++) {
      re[r * SPEC + c] = rowRe[c];
      im[r * SPEC + c] = rowIm[c];
    }
  }
  for (let c = 0; c < SPEC; c++) {
    for (let r = 0; r < SPEC; r++) {
      rowRe[r] = re[r * SPEC + c];
      rowIm[r] = im[r * SPEC + c];
    }
    plan.forward(rowRe, rowIm);
    for (let r = 0; r < SPEC; r++) {
      re[r * SPEC + c] = rowRe[r];
      im[r * SPEC + c] = rowIm[r];
    }
  }
  const bands = new Float64Array(RADIAL_EDGES.length - 1);
  let total = 0;
  for (let r = 0; r < SPEC; r++) {
    const fr = r <= SPEC / 2 ? r : r - SPEC;
    for (let c = 0; c < SPEC; c++) {
      const fc = c <= SPEC / 2 ? c : c - SPEC;
      const rad = Math.sqrt(fr * fr + fc * fc);
      const pw = re[r * SPEC + c] ** 2 + im[r * SPEC + c] ** 2;
      for (let j = 0; j < bands.length; j++) {
        if (rad >= RADIAL_EDGES[j] && rad < RADIAL_EDGES[j + 1]) {
          bands[j] += pw;
          total += pw;
          break;
        }
      }
    }
  }
  for (let j = 0; j < bands.length; j++) out[14 + j] += total > 1e-12 ? bands[j] / total : 0;
  // contrast and edge density
  let s = 0;
  let s2 = 0;
  let edges = 0;
  for (let i = 0; i < w * h; i++) {
    s += y[i];
    s2 += y[i] * y[i];
    if (gx[i] * gx[i] + gy[i] * gy[i] > 0.0025) edges++;
  }
  const m = s / (w * h);
  out[20] += Math.log1p(10 * Math.sqrt(Math.max(0, s2 / (w * h) - m * m)));
  out[21] += edges / (w * h);
}

function lumaPlane(img: RgbImage): Float32Array {
  const n = img.width * img.height;
  const y = new Float32Array(n);
  for (let i = 0; i < n; i++) y[i] = 0.299 * img.data[3 * i] + 0.587 * img.data[3 * i + 1] + 0.114 * img.data[3 * i + 2];
  return y;
}

function motionLayer(clip: Pick<DecodedClip, 'frames' | 'shape'>, size: { width: number; height: number }): Float32Array {
  const out = new Float32Array(24);
  const T = clip.shape[0];
  if (T < 2) return out;
  const halfOf = (t: number) => downsample2(lumaPlane(frameAt(clip, t, size)), size.width, size.height);
  const first = halfOf(0);
  const { w, h } = first;
  const n = w * h;
  const perPair: number[] = [];
  const frac = new Float64Array(4);
  const thresholds = [4, 16, 48, 96];
  const grid = new Float64Array(9);
  const dirs = new Float64Array(8);
  let prev = first.y;
  for (let t = 1; t < T; t++) {
    const cur = halfOf(t).y;
    let sum = 0;
    for (let r = 0; r < h; r++) {
      const gyCell = Math.min(2, Math.floor((r * 3) / h));
      for (let c = 0; c < w; c++) {
        const i = r * w + c;
        const it = cur[i] - prev[i];
        const d = Math.abs(it);
        sum += d;
        for (let k = 0; k < 4; k++) if (d > thresholds[k]) frac[k]++;
        grid[gyCell * 3 + Math.min(2, Math.floor((c * 3) / w))] += d;
        if (d > 2 && r > 0 && r < h - 1 && c > 0 && c < w - 1) {
          const gx = (cur[i + 1] - cur[i - 1]) / 2;
          const gy = (cur[i + w] - cur[i - w]) / 2;
          const g2 = gx * gx + gy * gy;
          if (g2 > 4) {
            // normal flow v = -It * grad / |grad|^2
            const th = Math.atan2(-it * gy, -it * gx);
            const b = Math.floor(((th + Math.PI) / (2 * Math.PI)) * 8) % 8;
            dirs[b] += d;
          }
        }
      }
    }
    perPair.push(sum / n);
    prev = cur;
  }
  const pairs = perPair.length;
  const logs = perPair.map((v) => Math.log1p(v));
  const mLog = logs.reduce((a, b) => a + b, 0) / pairs;
  const sdLog = Math.sqrt(logs.reduce((a, b) => a + (b - mLog) ** 2, 0) / pairs);
  const mean = perPair.reduce((a, b) => a + b, 0) / pairs;
  const max = Math.max(...perPair);
  out[0] = mLog;
  out[1] = sdLog;
  out[2] = mean > 1e-6 ? Math.log(max / mean) : 0;
  for (let k = 0; k < 4; k++) out[3 + k] = frac[k] / (pairs * n);
  const gsum = grid.reduce((a, b) => a + b, 0);
  for (let k = 0; k < 9; k++) out[7 + k] = gsum > 0 ? grid[k] / gsum : 0;
  const dsum = dirs.reduce((a, b) => a + b, 0);
  for (let k = 0; k < 8; k++) out[16 + k] = dsum > 0 ? dirs[k] / dsum : 0;
  return out;
}

export type VisualInput = Pick<DecodedClip, 'frames' | 'shape'>;

/** Compute the five built-in visual layers of one clip. */
export function builtinVisualFeatures(clip: VisualInput, options: Partial<BuiltinVisualOptions> = {}): Float32Array[] {
  const o = { ...DEFAULT_BUILTIN_VISUAL, ...options };
  const [T, H, W] = clip.shape;
  if (T < 1 || H < 2 || W < 2) throw new Error(`builtin-visual: clip has no usable frames (shape ${clip.shape.join('x')})`);
  const size = analysisSize(W, H, o.maxSize);
  const idx = sampleFrameIndices(T, Math.min(o.frames, T));
  const colour = new Float64Array(28);
  const layout = new Float64Array(48);
  const gradient = new Float64Array(40);
  const texture = new Float64Array(22);
  for (const t of idx) {
    const p = toPlanes(frameAt(clip, t, size));
    const { gx, gy } = sobel(p.y, p.w, p.h);
    colourLayer(p, colour);
    layoutLayer(p, layout);
    gradientLayer(p, gx, gy, gradient);
    textureLayer(p, gx, gy, texture);
  }
  const avg = (a: Float64Array) => Float32Array.from(a, (v) => v / idx.length);
  return [avg(colour), avg(layout), avg(gradient), avg(texture), motionLayer(clip, size)];
}

/** The built-in visual extractor (see the module comment for its layers). */
export class BuiltinVisualExtractor implements Extractor<VisualInput> {
  readonly name = 'builtin-visual';
  readonly version = EXTRACTOR_VERSIONS['builtin-visual'];
  readonly modality = 'visual' as const;
  readonly layers = BUILTIN_VISUAL_LAYERS;
  readonly settings: Record<string, unknown>;
  private readonly options: BuiltinVisualOptions;

  private readonly workers: DescriptorWorkers | undefined;

  /** With `workers`, descriptors are computed in worker threads (the main thread stays free). */
  constructor(options: Partial<BuiltinVisualOptions> = {}, workers?: DescriptorWorkers) {
    this.options = { ...DEFAULT_BUILTIN_VISUAL, ...options };
    this.settings = { ...this.options };
    this.workers = workers && workers.size > 0 ? workers : undefined;
  }

  prepare(clip: DecodedClip): VisualInput {
    return { frames: clip.frames, shape: clip.shape };
  }

  async run(batch: VisualInput[]): Promise<Float32Array[][]> {
    const w = this.workers;
    if (w) return Promise.all(batch.map((input) => w.run({ kind: 'visual', input, options: { ...this.options } })));
    return batch.map((b) => builtinVisualFeatures(b, this.options));
  }
}
