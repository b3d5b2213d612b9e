/**
 * The nearest-centroid step of k-means, and the other dense products clustering needs.
 *
 * The fast path is a small ONNX graph run by onnxruntime-node: for a block of points X [B, dim]
 * and centroids C [k, dim],
 *     S      = ‖c‖² − 2 X·Cᵀ              (one Gemm; ‖x‖² does not change the argmin)
 *     label  = ArgMin(S)                   min = max(0, ReduceMin(S) + ‖x‖²)
 * and, when the Lloyd update needs them, the per-cluster sums and counts of the same block
 *     H      = OneHot(label, k)            sums = Hᵀ·X (a second Gemm)      counts = ΣH
 * so one pass over the points gives both the assignment and the next centroids. Sessions are
 * cached per (dim, k); points are fed in blocks of a few tens of MB, so memory stays bounded.
 *
 * The JS fallback computes Σ(x − c)² directly in float64; it is used for tiny inputs (where the
 * session call costs more than the work), where onnxruntime cannot load, or on request.
 */
import type { InferenceSession, Tensor as OrtTensor } from 'onnxruntime-node';
import { createOnnxSession, onnxRuntimeError, tryLoadOnnxRuntime } from '../../runtime/onnx.js';
import { buildModel, node, valueInfo, int64Const, floatConst, FLOAT, INT64 } from './onnx-graph.js';
import { CONFIG_DEFAULTS } from '../../config/defaults.js';

export type KernelBackend = 'auto' | 'onnx' | 'js';

export interface KernelOptions {
  /** 'auto' (default): onnxruntime for inputs above `jsBelow` multiply-adds, JS below. */
  backend?: KernelBackend;
  /** onnxruntime intra-op threads; default: onnxruntime's own choice (all physical cores). */
  threads?: number;
  /** Points per onnxruntime call; default about 32 MB of float32 per block. */
  blockRows?: number;
  /** In 'auto', inputs with n·k·dim below this use the JS loop (default 2^21). */
  jsBelow?: number;
}

export interface AssignResult {
  /** Nearest centroid of each point (ties: the lowest index). */
  labels: Int32Array;
  /** Squared distance of each point to its centroid (clamped at 0). */
  minDist: Float32Array;
  /** Σ minDist, accumulated in float64. */
  inertia: number;
  /** float64 [k, dim] per-cluster sums of the points, when requested. */
  sums: Float64Array | null;
  /** float64 [k] points per cluster, when requested. */
  counts: Float64Array | null;
  backend: 'onnx' | 'js';
}

/** onnxruntime-node, or null when it cannot load on this machine (the JS path is used then). */
export const loadOrt = tryLoadOnnxRuntime;

export function ortError(): string | null {
  return onnxRuntimeError();
}

const sessions = new Map<string, Promise<InferenceSession>>();

async function session(key: string, threads: number | undefined, build: () => Uint8Array): Promise<InferenceSession> {
  const fullKey = `${key}|t${String(threads)}`;
  let s = sessions.get(fullKey);
  if (!s) {
    s = (async () => {
      const ort = await loadOrt();
      if (!ort) throw new Error(`onnxruntime-node is not available: ${onnxRuntimeError()}`);
      const extra: InferenceSession.SessionOptions = { graphOptimizationLevel: 'all', executionMode: 'sequential', logSeverityLevel: 3 };
      return (await createOnnxSession(build(), { device: 'cpu', threads, extra, label: 'k-means kernel graph' })).session;
    })();
    sessions.set(fullKey, s);
    s.catch(() => sessions.delete(fullKey));
  }
  return s;
}

/** Release all cached onnxruntime sessions. */
export async function releaseKernelSessions(): Promise<void> {
  const all = [...sessions.values()];
  sessions.clear();
  for (const s of all) {
    try {
      await (await s).release();
    } catch {
      /* a failed session has nothing to release */
    }
  }
}

/** Graph: nearest centroid (and optionally the Lloyd sums) for a block of points. */
export function assignGraph(dim: number, k: number, withSums: boolean): Uint8Array {
  const nodes = [
    node('Mul', ['C', 'C'], ['C2']),
    node('ReduceSum', ['C2', 'axis1'], ['CN'], { keepdims: 0 }),
    node('Gemm', ['X', 'C', 'CN'], ['S'], { alpha: { float: -2 }, beta: { float: 1 }, transB: 1 }),
    node('ArgMin', ['S'], ['labels'], { axis: 1, keepdims: 0 }),
    node('ReduceMin', ['S'], ['Smin'], { axes: [1], keepdims: 0 }),
    node('Add', ['Smin', 'XN'], ['D']),
    node('Relu', ['D'], ['mind']),
  ];
  const outputs = [valueInfo('labels', INT64, ['B']), valueInfo('mind', FLOAT, ['B'])];
  const initializers = [int64Const('axis1', [1])];
  if (withSums) {
    nodes.push(
      node('OneHot', ['labels', 'depth', 'onehotValues'], ['H'], { axis: -1 }),
      node('Gemm', ['H', 'X'], ['sums'], { transA: 1 }),
      node('ReduceSum', ['H', 'axis0'], ['counts'], { keepdims: 0 }),
    );
    initializers.push(int64Const('depth', [k]), floatConst('onehotValues', [0, 1]), int64Const('axis0', [0]));
    outputs.push(valueInfo('sums', FLOAT, [k, dim]), valueInfo('counts', FLOAT, [k]));
  }
  return buildModel({
    name: `kmeans_assign_${dim}x${k}${withSums ? '_sums' : ''}`,
    nodes,
    inputs: [valueInfo('X', FLOAT, ['B', dim]), valueInfo('XN', FLOAT, ['B']), valueInfo('C', FLOAT, [k, dim])],
    outputs,
    initializers,
  });
}

/** Graph: all squared distances between a block of points and L candidate points. */
export function pairwiseGraph(dim: number): Uint8Array {
  return buildModel({
    name: `pairwise_${dim}`,
    nodes: [
      node('Mul', ['C', 'C'], ['C2']),
      node('ReduceSum', ['C2', 'axis1'], ['CN'], { keepdims: 0 }),
      node('Gemm', ['X', 'C', 'CN'], ['S'], { alpha: { float: -2 }, beta: { float: 1 }, transB: 1 }),
      node('Unsqueeze', ['XN', 'axis1'], ['XN1']),
      node('Add', ['S', 'XN1'], ['S2']),
      node('Relu', ['S2'], ['D']),
    ],
    inputs: [valueInfo('X', FLOAT, ['B', dim]), valueInfo('XN', FLOAT, ['B']), valueInfo('C', FLOAT, ['L', dim])],
    outputs: [valueInfo('D', FLOAT, ['B', 'L'])],
    initializers: [int64Const('axis1', [1])],
  });
}

/** Graph: Xᵀ·X and the column sums of a block (for PCA). */
export function gramGraph(dim: number): Uint8Array {
  return buildModel({
    name: `gram_${dim}`,
    nodes: [node('Gemm', ['X', 'X'], ['G'], { transA: 1 }), node('ReduceSum', ['X', 'axis0'], ['S'], { keepdims: 0 })],
    inputs: [valueInfo('X', FLOAT, ['B', dim])],
    outputs: [valueInfo('G', FLOAT, [dim, dim]), valueInfo('S', FLOAT, [dim])],
    initializers: [int64Const('axis0', [0])],
  });
}

/** Graph: Y = X·W + b (an affine projection, used to apply PCA whitening). */
export function affineGraph(dimIn: number, dimOut: number): Uint8Array {
  return buildModel({
    name: `affine_${dimIn}_${dimOut}`,
    nodes: [node('Gemm', ['X', 'W', 'b'], ['Y'])],
    inputs: [valueInfo('X', FLOAT, ['B', dimIn]), valueInfo('W', FLOAT, [dimIn, dimOut]), valueInfo('b', FLOAT, [dimOut])],
    outputs: [valueInfo('Y', FLOAT, ['B', dimOut])],
  });
}

/** Squared L2 norm of each row. */
export function rowSqNorms(X: Float32Array, n: number, dim: number, out = new Float32Array(n)): Float32Array {
  for (let i = 0; i < n; i++) {
    let s = 0;
    const o = i * dim;
    for (let j = 0; j < dim; j++) {
      const v = X[o + j];
      s += v * v;
    }
    out[i] = s;
  }
  return out;
}

function defaultBlockRows(dim: number): number {
  return Math.max(256, Math.floor((8 * 1024 * 1024) / Math.max(1, dim)));
}

/**
 * Nearest-centroid assignment for a fixed (dim, k). Create once, call `assign` for every block
 * or iteration; the onnxruntime session is cached process-wide.
 */
export class NearestCentroid {
  readonly dim: number;
  readonly k: number;
  private readonly opts: Required<Pick<KernelOptions, 'backend' | 'jsBelow'>> & KernelOptions;

  constructor(dim: number, k: number, opts: KernelOptions = {}) {
    if (!Number.isInteger(dim) || dim < 1) throw new RangeError(`NearestCentroid: dim must be a positive integer, got ${dim}`);
    if (!Number.isInteger(k) || k < 1) throw new RangeError(`NearestCentroid: k must be a positive integer, got ${k}`);
    this.dim = dim;
    this.k = k;
    this.opts = { backend: CONFIG_DEFAULTS.clustering.backend, jsBelow: 1 << 21, ...opts };
  }

  /** Which backend a call with n points would use. */
  async backendFor(n: number): Promise<'onnx' | 'js'> {
    const b = this.opts.backend;
    if (b === 'js') return 'js';
    if (b === 'auto' && n * this.k * this.dim < this.opts.jsBelow) return 'js';
    const ort = await loadOrt();
    if (!ort) {
      if (b === 'onnx') throw new Error(`onnxruntime-node is not available: ${onnxRuntimeError()}`);
      return 'js';
    }
    return 'onnx';
  }

  /**
   * Assign n points X [n, dim] to centroids C [k, dim]. `xnorm` (‖x‖² per row) may be passed
   * when X is reused across calls. With `sums`, also returns per-cluster sums and counts.
   */
  async assign(X: Float32Array, n: number, C: Float32Array, opts: { sums?: boolean; xnorm?: Float32Array } = {}): Promise<AssignResult> {
    const { dim, k } = this;
    if (X.length < n * dim) throw new RangeError(`assign: X holds ${X.length} values, need n*dim = ${n * dim}`);
    if (C.length !== k * dim) throw new RangeError(`assign: C holds ${C.length} values, need k*dim = ${k * dim}`);
    const backend = await this.backendFor(n);
    if (backend === 'js') return assignJs(X, n, dim, C, k, !!opts.sums);
    return this.assignOnnx(X, n, C, !!opts.sums, opts.xnorm);
  }

  private async assignOnnx(X: Float32Array, n: number, C: Float32Array, withSums: boolean, xnorm?: Float32Array): Promise<AssignResult> {
    const { dim, k } = this;
    const ort = (await loadOrt())!;
    const sess = await session(`assign:${dim}:${k}:${withSums ? 1 : 0}`, this.opts.threads, () => assignGraph(dim, k, withSums));
    const labels = new Int32Array(n);
    const minDist = new Float32Array(n);
    const sums = withSums ? new Float64Array(k * dim) : null;
    const counts = withSums ? new Float64Array(k) : null;
    const cT = new ort.Tensor('float32', C, [k, dim]);
    const block = this.opts.blockRows ?? defaultBlockRows(dim);
    const xnBuf = xnorm ? null : new Float32Array(Math.min(block, n));
    let inertia = 0;
    for (let a = 0; a < n; a += block) {
      const b = Math.min(n, a + block);
      const rows = b - a;
      const xs = X.subarray(a * dim, b * dim);
      const xn = xnorm ? xnorm.subarray(a, b) : rowSqNorms(xs, rows, dim, xnBuf!.subarray(0, rows));
      const out = await sess.run({
        X: new ort.Tensor('float32', xs, [rows, dim]),
        XN: new ort.Tensor('float32', xn, [rows]),
        C: cT,
      });
      const lab = out.labels.data as BigInt64Array;
      const md = out.mind.data as Float32Array;
      for (let i = 0; i < rows; i++) {
        labels[a + i] = Number(lab[i]);
        const v = md[i];
        minDist[a + i] = v;
        inertia += v;
      }
      if (withSums) {
        const s = out.sums.data as Float32Array;
        const c = out.counts.data as Float32Array;
        for (let j = 0; j < k * dim; j++) sums![j] += s[j];
        for (let j = 0; j < k; j++) counts![j] += c[j];
      }
      for (const t of Object.values(out) as OrtTensor[]) t.dispose?.();
    }
    return { labels, minDist, inertia, sums, counts, backend: 'onnx' };
  }
}

/** The plain JS nearest-centroid step (float64 accumulation, direct Σ(x − c)²). */
export function assignJs(X: Float32Array, n: number, dim: number, C: Float32Array, k: number, withSums: boolean): AssignResult {
  const labels = new Int32Array(n);
  const minDist = new Float32Array(n);
  const sums = withSums ? new Float64Array(k * dim) : null;
  const counts = withSums ? new Float64Array(k) : null;
  let inertia = 0;
  for (let i = 0; i < n; i++) {
    const o = i * dim;
    let best = Infinity;
    let bi = 0;
    for (let c = 0; c < k; c++) {
      const co = c * dim;
      let s = 0;
      for (let j = 0; j < dim; j++) {
        const d = X[o + j] - C[co + j];
        s += d * d;
        if (s >= best) break;
      }
      if (s < best) {
        best = s;
        bi = c;
      }
    }
    labels[i] = bi;
    minDist[i] = best;
    inertia += best;
    if (withSums) {
      const so = bi * dim;
      for (let j = 0; j < dim; j++) sums![so + j] += X[o + j];
      counts![bi]++;
    }
  }
  return { labels, minDist, inertia, sums, counts, backend: 'js' };
}

/**
 * Squared distances D [n, L] between n points and L candidates (k-means++ seeding). Uses
 * onnxruntime when the product is large enough, else a JS loop.
 */
export async function pairwiseSqDist(
  X: Float32Array,
  n: number,
  dim: number,
  Cand: Float32Array,
  L: number,
  opts: KernelOptions & { xnorm?: Float32Array } = {},
): Promise<Float32Array> {
  const backend = opts.backend ?? CONFIG_DEFAULTS.clustering.backend;
  const ort = backend === 'js' ? null : await loadOrt();
  const useOnnx = ort !== null && (backend === 'onnx' || n * L * dim >= (opts.jsBelow ?? 1 << 21));
  const D = new Float32Array(n * L);
  if (!useOnnx) {
    for (let i = 0; i < n; i++) {
      const o = i * dim;
      for (let c = 0; c < L; c++) {
        const co = c * dim;
        let s = 0;
        for (let j = 0; j < dim; j++) {
          const d = X[o + j] - Cand[co + j];
          s += d * d;
        }
        D[i * L + c] = s;
      }
    }
    return D;
  }
  const sess = await session(`pairwise:${dim}`, opts.threads, () => pairwiseGraph(dim));
  const cT = new ort.Tensor('float32', Cand.subarray(0, L * dim), [L, dim]);
  const block = opts.blockRows ?? defaultBlockRows(dim);
  for (let a = 0; a < n; a += block) {
    const b = Math.min(n, a + block);
    const rows = b - a;
    const xs = X.subarray(a * dim, b * dim);
    const xn = opts.xnorm ? opts.xnorm.subarray(a, b) : rowSqNorms(xs, rows, dim);
    const out = await sess.run({ X: new ort.Tensor('float32', xs, [rows, dim]), XN: new ort.Tensor('float32', xn, [rows]), C: cT });
    D.set(out.D.data as Float32Array, a * L);
    out.D.dispose?.();
  }
  return D;
}

/** Xᵀ·X (float64 [dim, dim]) and column sums (float64 [dim]) over n rows. */
export async function gram(X: Float32Array, n: number, dim: number, opts: KernelOptions = {}): Promise<{ G: Float64Array; S: Float64Array }> {
  const G = new Float64Array(dim * dim);
  const S = new Float64Array(dim);
  const backend = opts.backend ?? CONFIG_DEFAULTS.clustering.backend;
  const ort = backend === 'js' ? null : await loadOrt();
  if (!ort || (backend === 'auto' && n * dim * dim < (opts.jsBelow ?? 1 << 21))) {
    for (let i = 0; i < n; i++) {
      const o = i * dim;
      for (let a = 0; a < dim; a++) {
        const xa = X[o + a];
        S[a] += xa;
        if (xa === 0) continue;
        const go = a * dim;
        for (let b = a; b < dim; b++) G[go + b] += xa * X[o + b];
      }
    }
    for (let a = 0; a < dim; a++) for (let b = 0; b < a; b++) G[a * dim + b] = G[b * dim + a];
    return { G, S };
  }
  const sess = await session(`gram:${dim}`, opts.threads, () => gramGraph(dim));
  const block = opts.blockRows ?? defaultBlockRows(dim);
  for (let a = 0; a < n; a += block) {
    const b = Math.min(n, a + block);
    const out = await sess.run({ X: new ort.Tensor('float32', X.subarray(a * dim, b * dim), [b - a, dim]) });
    const g = out.G.data as Float32Array;
    const s = out.S.data as Float32Array;
    for (let j = 0; j < dim * dim; j++) G[j] += g[j];
    for (let j = 0; j < dim; j++) S[j] += s[j];
  }
  return { G, S };
}

/** Y = X·W + b for n rows (W float32 [dimIn, dimOut]); returns a new Float32Array [n, dimOut]. */
export async function affine(
  X: Float32Array,
  n: number,
  dimIn: number,
  W: Float32Array,
  bias: Float32Array,
  dimOut: number,
  opts: KernelOptions = {},
): Promise<Float32Array> {
  const Y = new Float32Array(n * dimOut);
  const backend = opts.backend ?? CONFIG_DEFAULTS.clustering.backend;
  const ort = backend === 'js' ? null : await loadOrt();
  if (!ort || (backend === 'auto' && n * dimIn * dimOut < (opts.jsBelow ?? 1 << 21))) {
    const acc = new Float64Array(dimOut);
    for (let i = 0; i < n; i++) {
      for (let c = 0; c < dimOut; c++) acc[c] = bias[c];
      const o = i * dimIn;
      for (let j = 0; j < dimIn; j++) {
        const x = X[o + j];
        if (x === 0) continue;
        const wo = j * dimOut;
        for (let c = 0; c < dimOut; c++) acc[c] += x * W[wo + c];
      }
      for (let c = 0; c < dimOut; c++) Y[i * dimOut + c] = acc[c];
    }
    return Y;
  }
  const sess = await session(`affine:${dimIn}:${dimOut}`, opts.threads, () => affineGraph(dimIn, dimOut));
  const wT = new ort.Tensor('float32', W, [dimIn, dimOut]);
  const bT = new ort.Tensor('float32', bias, [dimOut]);
  const block = opts.blockRows ?? defaultBlockRows(Math.max(dimIn, dimOut));
  for (let a = 0; a < n; a += block) {
    const b = Math.min(n, a + block);
    const out = await sess.run({ X: new ort.Tensor('float32', X.subarray(a * dimIn, b * dimIn), [b - a, dimIn]), W: wT, b: bT });
    Y.set(out.Y.data as Float32Array, a * dimOut);
  }
  return Y;
}
