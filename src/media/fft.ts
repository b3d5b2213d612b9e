/**
 * DSP primitives: an in-place radix-2 complex FFT with cached twiddles, the real-input power and
 * magnitude spectra built on it, window functions, and a band-limited resampler. Shared by the
 * log-mel front end, the built-in audio descriptors, the loaders and the SSL audio encoders.
 */

const plans = new Map<number, FftPlan>();

/** A reusable FFT of one power-of-two size. */
export class FftPlan {
  readonly n: number;
  private readonly cos: Float64Array;
  private readonly sin: Float64Array;
  private readonly rev: Uint32Array;

  constructor(n: number) {
    if (!Number.isInteger(n) || n < 1 || (n & (n - 1)) !== 0) throw new RangeError(`FFT size must be a power of two, got ${n}`);
    this.n = n;
    this.cos = new Float64Array(n / 2);
    this.sin = new Float64Array(n / 2);
    for (let k = 0; k < n / 2; k++) {
      this.cos[k] = Math.cos((2 * Math.PI * k) / n);
      this.sin[k] = -Math.sin((2 * Math.PI * k) / n);
    }
    this.rev = new Uint32Array(n);
    const bits = Math.round(Math.log2(n));
    for (let i = 0; i < n; i++) {
      let r = 0;
      for (let b = 0; b < bits; b++) r |= ((i >> b) & 1) << (bits - 1 - b);
      this.rev[i] = r;
    }
  }

  /** Shared plan for size n. */
  static of(n: number): FftPlan {
    let p = plans.get(n);
    if (!p) {
      p = new FftPlan(n);
      plans.set(n, p);
    }
    return p;
  }

  /** Forward transform in place: X[k] = sum_t x[t] e^{-2 pi i k t / n}. */
  forward(re: Float64Array, im: Float64Array): void {
    const n = this.n;
    const rev = this.rev;
    for (let i = 0; i < n; i++) {
      const j = rev[i];
      if (j > i) {
        let t = re[i];
        re[i] = re[j];
        re[j] = t;
        t = im[i];
        im[i] = im[j];
        im[j] = t;
      }
    }
    for (let size = 2; size <= n; size <<= 1) {
      const half = size >> 1;
      const step = n / size;
      for (let start = 0; start < n; start += size) {
        for (let k = 0; k < half; k++) {
          const wr = this.cos[k * step];
          const wi = this.sin[k * step];
          const a = start + k;
          const b = a + half;
          const xr = re[b] * wr - im[b] * wi;
          const xi = re[b] * wi + im[b] * wr;
          re[b] = re[a] - xr;
          im[b] = im[a] - xi;
          re[a] += xr;
          im[a] += xi;
        }
      }
    }
  }
}

/** Smallest power of two >= n. */
export function nextPow2(n: number): number {
  let p = 1;
  while (p < n) p <<= 1;
  return p;
}

/** Hann window of length n; periodic (as in VGGish / scipy sym=False) or symmetric. */
export function hannWindow(n: number, periodic = true): Float64Array {
  const w = new Float64Array(n);
  const d = periodic ? n : n - 1;
  for (let i = 0; i < n; i++) w[i] = d > 0 ? 0.5 - 0.5 * Math.cos((2 * Math.PI * i) / d) : 1;
  return w;
}

/**
 * Spectrum of one real frame: `frame` (length <= fftSize, zero-padded) times `window`, written
 * as |X[k]| (or |X[k]|^2 when power) for k = 0..fftSize/2 into `out`. Scratch buffers are reused.
 */
export class RealSpectrum {
  readonly fftSize: number;
  readonly bins: number;
  private readonly plan: FftPlan;
  private readonly re: Float64Array;
  private readonly im: Float64Array;

  constructor(fftSize: number) {
    this.plan = FftPlan.of(fftSize);
    this.fftSize = fftSize;
    this.bins = fftSize / 2 + 1;
    this.re = new Float64Array(fftSize);
    this.im = new Float64Array(fftSize);
  }

  compute(signal: ArrayLike<number>, offset: number, length: number, window: ArrayLike<number> | null, out: Float64Array | Float32Array, power = false): void {
    const { re, im, fftSize } = this;
    if (length > fftSize) throw new RangeError(`frame of ${length} samples exceeds FFT size ${fftSize}`);
    for (let i = 0; i < length; i++) re[i] = signal[offset + i] * (window ? window[i] : 1);
    re.fill(0, length);
    im.fill(0);
    this.plan.forward(re, im);
    for (let k = 0; k < this.bins; k++) {
      const p = re[k] * re[k] + im[k] * im[k];
      out[k] = power ? p : Math.sqrt(p);
    }
  }
}

/**
 * Resample mono audio with a windowed-sinc (Hann, `halfWidth` zero crossings) low-pass at
 * min(from, to)/2. Output length round(n * to / from). Identity when the rates match.
 */
export function resample(input: Float32Array, from: number, to: number, halfWidth = 16): Float32Array {
  if (from === to) return input;
  if (!(from > 0 && to > 0)) throw new RangeError(`resample: rates must be positive (${from} -> ${to})`);
  const outLen = Math.round((input.length * to) / from);
  const out = new Float32Array(outLen);
  const ratio = from / to;
  const cutoff = Math.min(1, to / from); // relative to the input Nyquist
  const support = halfWidth / cutoff;
  for (let j = 0; j < outLen; j++) {
    const center = j * ratio;
    const lo = Math.max(0, Math.ceil(center - support));
    const hi = Math.min(input.length - 1, Math.floor(center + support));
    let acc = 0;
    for (let i = lo; i <= hi; i++) {
      const x = (i - center) * cutoff;
      const sinc = x === 0 ? 1 : Math.sin(Math.PI * x) / (Math.PI * x);
      const w = 0.5 + 0.5 * Math.cos((Math.PI * x) / halfWidth);
      acc += input[i] * sinc * w * cutoff;
    }
    out[j] = acc;
  }
  return out;
}
