/**
 * Our TensorFlow.js wasm kernels, installed by the backend choice (runtime/tfjs.ts initTfjs) when
 * it sets up the wasm backend, so every tfjs user of the process gets them: the ssl encoders'
 * training, and curation's tfjs models (features/pretrained.ts) alike, without curation importing
 * ssl. Kernels tfjs 4.22 lacks or runs slowly, composed from the backend's own kernels:
 * - `Conv2DBackpropFilter` (absent: any conv2d model fails on its first backward pass): the filter
 *   gradient as one forward convolution over transposed tensors (batch ↔ channels swapped, the
 *   original stride becoming the dilation).
 * - `Conv2DBackpropInput` (stock kernel is a scalar loop): a forward convolution of the
 *   zero-dilated output gradient with the flipped, transposed filter (XNNPACK GEMM path).
 * - `Transpose`, `BatchMatMul`, `Identity`, `Sum` and `Mean`: see each function below.
 * The ssl encoders compute BatchNorm from broadcasting ops, whose gradients are reductions, so
 * the slow `tile` in the stock FusedBatchNorm gradient is never used.
 */
import * as tf from '@tensorflow/tfjs';

type Info = tf.TensorInfo;
interface WasmBackendLike {
  disposeData(dataId: object, force?: boolean): boolean;
  incRef(dataId: object): void;
}
type Attrs = Record<string, unknown>;

function runKernel(name: string, inputs: Record<string, Info>, attrs: Attrs, backend: unknown): Info {
  const k = tf.getKernel(name, 'wasm');
  if (!k) throw new Error(`wasm kernel ${name} is not registered`);
  return k.kernelFunc({ inputs: inputs as never, attrs: attrs as never, backend: backend as never }) as Info;
}

function free(backend: unknown, ...infos: Info[]): void {
  for (const i of infos) (backend as WasmBackendLike).disposeData(i.dataId);
}

/** conv2d info via tfjs's own shape arithmetic (handles SAME/VALID/explicit padding). */
function convInfo(xShape: number[], filterShape: number[], strides: unknown, dilations: unknown, pad: unknown, dimRoundingMode: unknown) {
  return tf.backend_util.computeConv2DInfo(
    xShape as [number, number, number, number],
    filterShape as [number, number, number, number],
    strides as [number, number],
    (dilations ?? 1) as [number, number],
    pad as 'same',
    dimRoundingMode as 'floor' | undefined,
  );
}

/**
 * dW[kh,kw,ci,co] = Σ_{n,i,j} x[n, i·s + kh·d − pt, j·s + kw·d − pl, ci] · dy[n,i,j,co]
 * = conv2d(x' = x^T[ci,H,W,n], f' = dy^T[oh,ow,n,co], stride d, dilation s)^T.
 */
export function conv2DBackpropFilterWasm(args: { inputs: Record<string, Info>; backend: unknown; attrs: Attrs }): Info {
  const { inputs, backend, attrs } = args;
  const x = inputs.x;
  const dy = inputs.dy;
  const filterShape = attrs.filterShape as number[];
  if (attrs.dataFormat !== undefined && attrs.dataFormat !== 'NHWC') {
    throw new Error(`Conv2DBackpropFilter on wasm supports NHWC only, got ${String(attrs.dataFormat)}`);
  }
  const info = convInfo(x.shape, filterShape, attrs.strides, attrs.dilations, attrs.pad, attrs.dimRoundingMode);
  const [sh, sw] = [info.strideHeight, info.strideWidth];
  const [dh, dw] = [info.dilationHeight, info.dilationWidth];
  if ((sh > 1 || sw > 1) && (dh > 1 || dw > 1)) throw new Error('Conv2DBackpropFilter: strides and dilations both > 1 are not supported');
  const [kh, kw] = [info.filterHeight, info.filterWidth];
  const [oh, ow] = [info.outHeight, info.outWidth];
  const H = x.shape[1];
  const W = x.shape[2];
  const pt = info.padInfo.top;
  const pl = info.padInfo.left;
  // Extent the new convolution must cover so that its output is exactly kh × kw.
  const needH = (kh - 1) * dh + (oh - 1) * sh + 1;
  const needW = (kw - 1) * dw + (ow - 1) * sw + 1;
  let pb = needH - H - pt;
  let pr = needW - W - pl;
  let xIn = x;
  const temps: Info[] = [];
  if (pb < 0 || pr < 0) {
    // The forward convolution never read the last rows/columns: drop them.
    const hKeep = pb < 0 ? H + pb : H;
    const wKeep = pr < 0 ? W + pr : W;
    xIn = runKernel('Slice', { x }, { begin: [0, 0, 0, 0], size: [x.shape[0], hKeep, wKeep, x.shape[3]] }, backend);
    temps.push(xIn);
    pb = Math.max(pb, 0);
    pr = Math.max(pr, 0);
  }
  const xt = runKernel('Transpose', { x: xIn }, { perm: [3, 1, 2, 0] }, backend); // [ci, H, W, n]
  const ft = runKernel('Transpose', { x: dy }, { perm: [1, 2, 0, 3] }, backend); // [oh, ow, n, co]
  temps.push(xt, ft);
  const out = runKernel(
    'Conv2D',
    { x: xt, filter: ft },
    {
      strides: [dh, dw],
      dilations: [sh, sw],
      pad: [[0, 0], [pt, pb], [pl, pr], [0, 0]],
      dataFormat: 'NHWC',
      dimRoundingMode: undefined,
    },
    backend,
  ); // [ci, kh, kw, co]
  temps.push(out);
  if (out.shape[1] !== kh || out.shape[2] !== kw) {
    free(backend, ...temps);
    throw new Error(`Conv2DBackpropFilter: internal shape mismatch ${out.shape} for filter ${filterShape}`);
  }
  const dW = runKernel('Transpose', { x: out }, { perm: [1, 2, 0, 3] }, backend);
  free(backend, ...temps);
  return dW;
}

let stockBackpropInput: tf.KernelFunc | null = null;

/**
 * dx = conv2d(dilate_s(dy), flip(W)^T, stride 1, dilation d, pad ((k−1)d − p_top, …)), where
 * dilate_s inserts s − 1 zeros between output positions and W^T swaps in/out channels.
 */
export function conv2DBackpropInputWasm(args: { inputs: Record<string, Info>; backend: unknown; attrs: Attrs }): Info {
  const { inputs, backend, attrs } = args;
  const dy = inputs.dy;
  const filter = inputs.filter;
  const inputShape = attrs.inputShape as number[];
  const info = convInfo(inputShape, filter.shape, attrs.strides, 1, attrs.pad, attrs.dimRoundingMode);
  const [sh, sw] = [info.strideHeight, info.strideWidth];
  const [kh, kw] = [info.filterHeight, info.filterWidth];
  const [oh, ow] = [info.outHeight, info.outWidth];
  const [N, H, W] = [inputShape[0], inputShape[1], inputShape[2]];
  const top = kh - 1 - info.padInfo.top;
  const left = kw - 1 - info.padInfo.left;
  const hd = (oh - 1) * sh + 1;
  const wd = (ow - 1) * sw + 1;
  const bottom = H - hd - top + kh - 1;
  const right = W - wd - left + kw - 1;
  const fallback = top < 0 || left < 0 || bottom < 0 || right < 0 || (attrs.dataFormat !== undefined && attrs.dataFormat !== 'NHWC');
  if (fallback) {
    if (!stockBackpropInput) throw new Error('Conv2DBackpropInput: unsupported padding and no stock kernel');
    return stockBackpropInput({ inputs: inputs as never, backend: backend as never, attrs: attrs as never }) as Info;
  }
  const temps: Info[] = [];
  let dyd = dy;
  const co = dy.shape[3];
  if (sh > 1 || sw > 1) {
    // Zero-insert: [N,oh,ow,co] → [N,oh,1,ow,1,co] → pad to [N,oh,sh,ow,sw,co] → [N,oh·sh,ow·sw,co] → slice.
    const r = { dataId: dy.dataId, shape: [N * oh, 1, ow, 1 * co], dtype: dy.dtype } as Info;
    // Pad rank-4 views: rows first (axis 1 of [N·oh, 1, ow, co]) then columns.
    const p1 = runKernel('PadV2', { x: r }, { paddings: [[0, 0], [0, sh - 1], [0, 0], [0, 0]], constantValue: 0 }, backend); // [N·oh, sh, ow, co]
    const v1 = { dataId: p1.dataId, shape: [N * oh * sh * ow, 1, co], dtype: p1.dtype } as Info;
    const p2 = runKernel('PadV2', { x: v1 }, { paddings: [[0, 0], [0, sw - 1], [0, 0]], constantValue: 0 }, backend); // [N·oh·sh·ow, sw, co]
    temps.push(p1, p2);
    const full = { dataId: p2.dataId, shape: [N, oh * sh, ow * sw, co], dtype: p2.dtype } as Info;
    dyd = runKernel('Slice', { x: full }, { begin: [0, 0, 0, 0], size: [N, hd, wd, co] }, backend);
    temps.push(dyd);
  }
  // flip(W)^T: [kh,kw,ci,co] → reverse kh,kw → [kh,kw,co,ci].
  const rev = runKernel('Reverse', { x: filter }, { dims: [0, 1] }, backend);
  const wt = runKernel('Transpose', { x: rev }, { perm: [0, 1, 3, 2] }, backend);
  temps.push(rev, wt);
  const dx = runKernel(
    'Conv2D',
    { x: dyd, filter: wt },
    { strides: [1, 1], dilations: [1, 1], pad: [[0, 0], [top, bottom], [left, right], [0, 0]], dataFormat: 'NHWC', dimRoundingMode: undefined },
    backend,
  );
  free(backend, ...temps);
  return dx;
}

let stockTranspose: tf.KernelFunc | null = null;

/** Drop size-1 axes and merge axes that stay adjacent and in order under `perm`. */
export function collapsePermutation(shape: number[], perm: number[]): { shape: number[]; perm: number[] } {
  const keep = shape.map((d, i) => (d !== 1 ? i : -1)).filter((i) => i >= 0);
  const remap = new Map(keep.map((axis, j) => [axis, j]));
  const s1 = keep.map((i) => shape[i]);
  const p1 = perm.filter((a) => remap.has(a)).map((a) => remap.get(a)!);
  // Merge runs a, a+1 in the output order.
  const groups: number[][] = [];
  for (const a of p1) {
    const g = groups[groups.length - 1];
    if (g && g[g.length - 1] + 1 === a) g.push(a);
    else groups.push([a]);
  }
  const order = [...groups].sort((x, y) => x[0] - y[0]);
  const newShape = order.map((g) => g.reduce((acc, a) => acc * s1[a], 1));
  const newPerm = groups.map((g) => order.indexOf(g));
  return { shape: newShape, perm: newPerm };
}

/**
 * Transpose: the stock wasm kernel is slow on large 2D swaps ([r, c] → [c, r], ~10 ns/element,
 * used by every transposed matmul and axis-0 reduction). A swap is done here as two transposes
 * with contiguous inner runs: [r/b, b, c] → [r/b, c, b], then [r/b, c, b] → [c, r/b, b].
 */
export function transposeWasm(args: { inputs: Record<string, Info>; backend: unknown; attrs: Attrs }): Info {
  const { inputs, backend, attrs } = args;
  const x = inputs.x;
  const perm = attrs.perm as number[];
  const c = collapsePermutation(x.shape, perm);
  let batch = 0;
  let rows = 0;
  let cols = 0;
  if (c.shape.length === 2 && c.perm[0] === 1) [batch, rows, cols] = [1, c.shape[0], c.shape[1]];
  else if (c.shape.length === 3 && c.perm[0] === 0 && c.perm[1] === 2 && c.perm[2] === 1) [batch, rows, cols] = c.shape;
  const block = [128, 64, 32, 16].find((b) => rows % b === 0 && rows > b);
  if (batch === 0 || rows * cols < 32768 || cols < 4 || block === undefined || !stockTranspose) {
    return stockTranspose!({ inputs: inputs as never, backend: backend as never, attrs: attrs as never }) as Info;
  }
  const outShape = perm.map((a) => x.shape[a]);
  const v1 = { dataId: x.dataId, shape: [batch * (rows / block), block, cols], dtype: x.dtype } as Info;
  const t1 = stockTranspose({ inputs: { x: v1 } as never, backend: backend as never, attrs: { perm: [0, 2, 1] } as never }) as Info;
  const v2 = { dataId: t1.dataId, shape: [batch, rows / block, cols, block], dtype: x.dtype } as Info;
  const t2 = stockTranspose({ inputs: { x: v2 } as never, backend: backend as never, attrs: { perm: [0, 2, 1, 3] } as never }) as Info;
  free(backend, t1);
  return { dataId: t2.dataId, shape: outShape, dtype: x.dtype } as Info;
}

let stockBatchMatMul: tf.KernelFunc | null = null;


let chunkFloats = 131072;
let swapNarrow = true;
/** Tuning switches of the transposed-matmul kernel (benchmarks only). */
export function setWasmMatmulTuning(o: { chunkFloats?: number; swapNarrow?: boolean }): void {
  if (o.chunkFloats !== undefined) chunkFloats = o.chunkFloats;
  if (o.swapNarrow !== undefined) swapNarrow = o.swapNarrow;
}

interface WasmHeapBackend {
  makeOutput(shape: number[], dtype: string): Info;
  typedArrayFromHeap(info: Info): Float32Array;
}

/** Rows [r0, r0 + rows) of a row-major 2D float32 tensor, copied on the wasm heap. */
function rowSlice(backend: unknown, x: Info, r0: number, rows: number): Info {
  const be = backend as WasmHeapBackend;
  const cols = x.shape[1];
  const out = be.makeOutput([rows, cols], 'float32');
  const src = be.typedArrayFromHeap(x);
  be.typedArrayFromHeap(out).set(src.subarray(r0 * cols, (r0 + rows) * cols));
  return out;
}

/**
 * BatchMatMul: the stock wasm kernel takes a slow path when either operand is transposed (every
 * matmul gradient is); transposing the operand explicitly and calling the fast path is ~5x faster.
 */
export function batchMatMulWasm(args: { inputs: Record<string, Info>; backend: unknown; attrs: Attrs }): Info {
  const { inputs, backend, attrs } = args;
  if (!attrs.transposeA && !attrs.transposeB) {
    return stockBatchMatMul!({ inputs: inputs as never, backend: backend as never, attrs: attrs as never }) as Info;
  }
  const swapLast = (t: Info): Info => {
    const r = t.shape.length;
    const perm = [...Array(r).keys()];
    [perm[r - 2], perm[r - 1]] = [perm[r - 1], perm[r - 2]];
    return transposeWasm({ inputs: { x: t }, backend, attrs: { perm } });
  };
  // Rank-3 operands with a batch of 1 are matrices.
  const as2d = (t: Info): Info => (t.shape.length === 3 && t.shape[0] === 1 ? ({ dataId: t.dataId, shape: t.shape.slice(1), dtype: t.dtype } as Info) : t);
  const A = as2d(inputs.a);
  const B = as2d(inputs.b);
  const batched = inputs.a.shape.length === 3 || inputs.b.shape.length === 3;
  if (attrs.transposeA && !attrs.transposeB && A.shape.length === 2 && B.shape.length === 2) {
    const reshaped = (r: Info): Info => (batched ? ({ dataId: r.dataId, shape: [1, ...r.shape], dtype: r.dtype } as Info) : r);
    // Weight gradients: aᵀ·b with a [M, K], b [M, N], M large. Transposing the narrower operand
    // moves less memory: when N < K compute (bᵀ·a)ᵀ and transpose the small [N, K] result.
    const [m, k] = A.shape;
    const n = B.shape[1];
    const chunk = chunkFloats > 0 ? Math.max(256, Math.floor(chunkFloats / Math.max(k, n))) : Infinity;
    if (m > 2 * chunk) {
      // Σ over row chunks of aᵀ_c·b_c: the operands of each product stay in cache (~8 % faster
      // per training step than one tall product, measured interleaved).
      let acc: Info | null = null;
      for (let r0 = 0; r0 < m; r0 += chunk) {
        const rows = Math.min(chunk, m - r0);
        const ac = rowSlice(backend, A, r0, rows);
        const bc = rowSlice(backend, B, r0, rows);
        const act = swapLast(ac);
        const prod = stockBatchMatMul!({ inputs: { a: act, b: bc } as never, backend: backend as never, attrs: { transposeA: false, transposeB: false } as never }) as Info;
        free(backend, ac, bc, act);
        if (acc === null) acc = prod;
        else {
          const sum = runKernel('Add', { a: acc, b: prod }, {}, backend);
          free(backend, acc, prod);
          acc = sum;
        }
      }
      return reshaped({ dataId: acc!.dataId, shape: [k, n], dtype: acc!.dtype } as Info);
    }
    if (swapNarrow && n < k && m > 4 * k) {
      const bt = swapLast(B);
      const prod = stockBatchMatMul!({ inputs: { a: bt, b: A } as never, backend: backend as never, attrs: { transposeA: false, transposeB: false } as never }) as Info;
      free(backend, bt);
      const out = swapLast(prod);
      free(backend, prod);
      return reshaped(out);
    }
  }
  const a = attrs.transposeA ? swapLast(inputs.a) : inputs.a;
  const b = attrs.transposeB ? swapLast(inputs.b) : inputs.b;
  const out = stockBatchMatMul!({ inputs: { a, b } as never, backend: backend as never, attrs: { transposeA: false, transposeB: false } as never }) as Info;
  if (a !== inputs.a) free(backend, a);
  if (b !== inputs.b) free(backend, b);
  return out;
}

const stockReduce = new Map<string, tf.KernelFunc>();

/**
 * Sum / Mean over axes that are not the last ones: the stock kernels transpose with the slow
 * transpose first; here the reduced axes are moved last with the fast one, then reduced.
 */
function reduceWasm(kernelName: string) {
  return (args: { inputs: Record<string, Info>; backend: unknown; attrs: Attrs }): Info => {
    const { inputs, backend, attrs } = args;
    const stock = stockReduce.get(kernelName)!;
    const x = inputs.x;
    const rank = x.shape.length;
    const axes = tf.util.parseAxisParam(attrs.axis as number | number[], x.shape);
    const perm = tf.backend_util.getAxesPermutation(axes, rank);
    if (perm == null) return stock({ inputs: inputs as never, backend: backend as never, attrs: attrs as never }) as Info;
    const xt = transposeWasm({ inputs: { x }, backend, attrs: { perm } });
    const lastAxes = tf.backend_util.getInnerMostAxes(axes.length, rank);
    const out = stock({ inputs: { x: xt } as never, backend: backend as never, attrs: { axis: lastAxes, keepDims: false } as never }) as Info;
    free(backend, xt);
    if (attrs.keepDims) return { dataId: out.dataId, shape: tf.backend_util.expandShapeToKeepDim(out.shape, axes), dtype: out.dtype } as Info;
    return out;
  };
}

let stockIdentity: tf.KernelFunc | null = null;

/**
 * Identity shares the input's buffer (reference counted, as the cpu backend does) instead of
 * copying it. The engine clones every tensor it saves for the backward pass through Identity, so
 * the stock copy moved every activation once more per training step. Safe because no kernel writes
 * into its inputs and variables are updated by replacing their buffer.
 */
export function identityWasm(args: { inputs: Record<string, Info>; backend: unknown; attrs: Attrs }): Info {
  const x = args.inputs.x;
  if (x.dtype === 'string') return stockIdentity!({ inputs: args.inputs as never, backend: args.backend as never, attrs: args.attrs as never }) as Info;
  (args.backend as WasmBackendLike).incRef(x.dataId);
  return { dataId: x.dataId, shape: x.shape, dtype: x.dtype } as Info;
}

/** Swap a stock wasm kernel for ours; returns the stock one (which ours falls back to), or null when absent. */
function replaceWasmKernel(name: string, impl: unknown): tf.KernelFunc | null {
  const stock = tf.getKernel(name, 'wasm');
  if (!stock) return null;
  tf.unregisterKernel(name, 'wasm');
  tf.registerKernel({ kernelName: name, backendName: 'wasm', kernelFunc: impl as tf.KernelFunc });
  return stock.kernelFunc;
}

let kernelsInstalled = false;

/** Register the composed kernels on the wasm backend (idempotent; initTfjs calls it once the wasm backend is set up). */
export function installWasmKernels(): void {
  if (kernelsInstalled) return;
  if (!tf.getKernel('Conv2DBackpropFilter', 'wasm')) {
    tf.registerKernel({ kernelName: 'Conv2DBackpropFilter', backendName: 'wasm', kernelFunc: conv2DBackpropFilterWasm as unknown as tf.KernelFunc });
  }
  const stock = tf.getKernel('Conv2DBackpropInput', 'wasm');
  if (stock && stock.kernelFunc !== (conv2DBackpropInputWasm as unknown)) {
    stockBackpropInput = stock.kernelFunc;
    tf.unregisterKernel('Conv2DBackpropInput', 'wasm');
  }
  tf.registerKernel({ kernelName: 'Conv2DBackpropInput', backendName: 'wasm', kernelFunc: conv2DBackpropInputWasm as unknown as tf.KernelFunc });
  stockTranspose = replaceWasmKernel('Transpose', transposeWasm) ?? stockTranspose;
  stockBatchMatMul = replaceWasmKernel('BatchMatMul', batchMatMulWasm) ?? stockBatchMatMul;
  stockIdentity = replaceWasmKernel('Identity', identityWasm) ?? stockIdentity;
  for (const name of ['Sum', 'Mean']) {
    const stock = replaceWasmKernel(name, reduceWasm(name));
    if (stock) stockReduce.set(name, stock);
  }
  kernelsInstalled = true;
}
