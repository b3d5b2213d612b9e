/**
 * The one onnxruntime-node loader and session factory of the project (feature extractors and the
 * k-means GEMM kernel both create their sessions here).
 *
 * Execution providers: `cpu` is always there; `cuda` needs onnxruntime's CUDA execution provider
 * library (`libonnxruntime_providers_cuda.so` next to the binding; onnxruntime-node downloads it at
 * install time with `ONNXRUNTIME_NODE_INSTALL=cuda12`) plus the CUDA 12 / cuDNN 9 runtime libraries
 * and a GPU. `device: cuda` fails with a message saying which of these is missing; `device: auto`
 * uses CUDA when a session can be created on it and falls back to the CPU otherwise (saying why).
 */
import { existsSync, readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import type { InferenceSession } from 'onnxruntime-node';

export type Ort = typeof import('onnxruntime-node');
export type OnnxDevice = 'cpu' | 'cuda' | 'auto';

let ortPromise: Promise<Ort | null> | null = null;
let ortLoadError: string | null = null;

function unwrap(m: unknown): Ort {
  const d = (m as { default?: Ort }).default;
  return d?.InferenceSession ? d : (m as Ort);
}

/** onnxruntime-node, or null when it cannot load on this machine (`onnxRuntimeError()` says why). */
export function tryLoadOnnxRuntime(): Promise<Ort | null> {
  if (!ortPromise) {
    ortPromise = import('onnxruntime-node').then(unwrap, (err: unknown) => {
      ortLoadError = (err as Error).message.split('\n')[0];
      return null;
    });
  }
  return ortPromise;
}

/** Why onnxruntime-node could not load (null when it loaded or was not tried). */
export function onnxRuntimeError(): string | null {
  return ortLoadError;
}

/** onnxruntime-node, or an error that says how to install it. */
export async function loadOnnxRuntime(): Promise<Ort> {
  const ort = await tryLoadOnnxRuntime();
  if (!ort) throw new Error(`onnxruntime-node could not be loaded (${ortLoadError}); install it with "npm install onnxruntime-node"`);
  return ort;
}

/** Installed onnxruntime-node version, or null. */
export function onnxRuntimeVersion(): string | null {
  try {
    return (createRequire(import.meta.url)('onnxruntime-node/package.json') as { version: string }).version;
  } catch {
    return null;
  }
}

/** Folder of the native binding (where provider libraries must sit), or null. */
function bindingDir(): string | null {
  try {
    const pkg = path.dirname(createRequire(import.meta.url).resolve('onnxruntime-node/package.json'));
    const base = path.join(pkg, 'bin');
    for (const napi of existsSync(base) ? readdirSync(base) : []) {
      const dir = path.join(base, napi, process.platform, process.arch);
      if (existsSync(dir)) return dir;
    }
  } catch {
    /* not installed */
  }
  return null;
}

export interface ProviderInfo {
  name: 'cpu' | 'cuda' | 'tensorrt' | 'webgpu' | string;
  /** The provider can be asked for (its library is present). Whether a device works shows at session creation. */
  available: boolean;
  detail: string;
}

/** The execution providers this onnxruntime-node build knows, and whether each can be used here. */
export async function listExecutionProviders(): Promise<ProviderInfo[]> {
  const ort = await tryLoadOnnxRuntime();
  if (!ort) return [{ name: 'cpu', available: false, detail: `onnxruntime-node failed to load: ${ortLoadError}` }];
  const listed = (ort as unknown as { listSupportedBackends?: () => Array<{ name: string; bundled: boolean }> }).listSupportedBackends?.() ?? [{ name: 'cpu', bundled: true }];
  const dir = bindingDir();
  return listed.map((b) => {
    const unused = b.name === 'cpu' || b.name === 'cuda' ? '' : '; not selectable with features.*.device';
    if (b.bundled) return { name: b.name, available: true, detail: `bundled${unused}` };
    const lib = `libonnxruntime_providers_${b.name}.so`;
    const present = dir !== null && existsSync(path.join(dir, lib));
    return {
      name: b.name,
      available: present,
      detail: present
        ? `${lib} present (needs a GPU and the CUDA 12 / cuDNN 9 libraries at run time)`
        : `${lib} not installed (${b.name === 'cuda' ? 'reinstall onnxruntime-node with ONNXRUNTIME_NODE_INSTALL=cuda12 on a machine with internet access' : 'not in the npm package'})${unused}`,
    };
  });
}

export interface SessionOptions {
  device?: OnnxDevice;
  /** Intra-op threads, one number or per provider; default onnxruntime's choice (all physical cores). */
  threads?: number | { cpu?: number; cuda?: number };
  /** CUDA device id (default 0). */
  deviceId?: number;
  /** Extra onnxruntime session options (optimisation level, execution mode, ...). */
  extra?: InferenceSession.SessionOptions;
  /** Named in error messages, e.g. "ONNX model models/x.onnx". */
  label?: string;
  /** Called with a note when `auto` falls back to the CPU. */
  onNote?: (message: string) => void;
}

export interface CreatedSession {
  session: InferenceSession;
  /** The provider the session runs on. */
  provider: 'cpu' | 'cuda';
}

/**
 * Create a session on the requested device. `cuda` throws a message naming what is missing;
 * `auto` tries CUDA when its provider library is installed and falls back to the CPU.
 */
export async function createOnnxSession(model: string | Uint8Array, o: SessionOptions = {}): Promise<CreatedSession> {
  const ort = await loadOnnxRuntime();
  const device = o.device ?? 'cpu';
  const label = o.label ?? (typeof model === 'string' ? `ONNX model ${model}` : 'ONNX graph');
  const base: InferenceSession.SessionOptions = { graphOptimizationLevel: 'all', ...(o.extra ?? {}) };
  const withThreads = (provider: 'cpu' | 'cuda', opts: InferenceSession.SessionOptions): InferenceSession.SessionOptions => {
    const t = typeof o.threads === 'object' ? o.threads[provider] : o.threads;
    return t && t > 0 ? { ...opts, intraOpNumThreads: t, interOpNumThreads: 1 } : opts;
  };
  const create = (provider: 'cpu' | 'cuda', opts: InferenceSession.SessionOptions) => {
    const full = withThreads(provider, opts);
    return typeof model === 'string' ? ort.InferenceSession.create(model, full) : ort.InferenceSession.create(model, full);
  };
  if (device === 'cuda' || device === 'auto') {
    const cuda = (await listExecutionProviders()).find((p) => p.name === 'cuda');
    if (!cuda?.available) {
      const why = cuda ? cuda.detail : 'this onnxruntime-node build has no CUDA execution provider';
      if (device === 'cuda') throw new Error(`${label}: device cuda requested, but the CUDA execution provider cannot be used: ${why}. Set device: cpu (or auto) to run on the CPU`);
      o.onNote?.(`${label}: no CUDA execution provider (${why}); running on the CPU`);
    } else {
      try {
        const session = await create('cuda', { ...base, executionProviders: [{ name: 'cuda', deviceId: o.deviceId ?? 0 }] });
        return { session, provider: 'cuda' };
      } catch (err) {
        const msg = (err as Error).message.split('\n')[0];
        if (device === 'cuda') throw new Error(`${label}: the CUDA execution provider failed to start (${msg}); check the GPU driver and the CUDA 12 / cuDNN 9 libraries on LD_LIBRARY_PATH, or set device: cpu`);
        o.onNote?.(`${label}: CUDA execution provider failed to start (${msg}); running on the CPU`);
      }
    }
  }
  try {
    const session = await create('cpu', { ...base, executionProviders: ['cpu'] });
    return { session, provider: 'cpu' };
  } catch (err) {
    throw new Error(`${label}: onnxruntime could not load it (${(err as Error).message})`);
  }
}

export interface OnnxGraphInput {
  name: string;
  /** Declared dims: a number for a fixed size, a string for a named (dynamic) one, null when unnamed. */
  dims: Array<number | string | null>;
}

/**
 * The graph inputs declared in an ONNX model file (initializers listed as inputs left out), read
 * straight from the protobuf wire format without decoding the weights, so a model's input shape
 * can be checked in milliseconds, before onnxruntime spends seconds loading a large model.
 * Returns null when the bytes are not a readable ModelProto.
 */
export function readOnnxInputs(bytes: Uint8Array): OnnxGraphInput[] | null {
  try {
    const graph = field(bytes, 0, bytes.length, 7);
    if (!graph) return null;
    const initNames = new Set<string>();
    const inputs: OnnxGraphInput[] = [];
    forEachField(bytes, graph[0], graph[1], (num, start, end) => {
      if (num === 5) {
        const n = field(bytes, start, end, 8);
        if (n) initNames.add(utf8(bytes, n));
      } else if (num === 11) {
        const n = field(bytes, start, end, 1);
        const dims: Array<number | string | null> = [];
        const type = field(bytes, start, end, 2);
        const tensor = type && field(bytes, type[0], type[1], 1);
        const shape = tensor && field(bytes, tensor[0], tensor[1], 2);
        if (shape) {
          forEachField(bytes, shape[0], shape[1], (dnum, ds, de) => {
            if (dnum !== 1) return;
            let d: number | string | null = null;
            forEachField(bytes, ds, de, (k, a, b, v) => {
              if (k === 1 && v !== undefined) d = v;
              else if (k === 2) d = utf8(bytes, [a, b]);
            });
            dims.push(d);
          });
        }
        inputs.push({ name: n ? utf8(bytes, n) : '', dims });
      }
    });
    return inputs.filter((i) => !initNames.has(i.name));
  } catch {
    return null;
  }
}

function utf8(bytes: Uint8Array, [a, b]: [number, number]): string {
  return new TextDecoder().decode(bytes.subarray(a, b));
}

function varint(bytes: Uint8Array, pos: number): [number, number] {
  let v = 0;
  let mul = 1;
  for (;;) {
    if (pos >= bytes.length) throw new RangeError('truncated varint');
    const b = bytes[pos++];
    v += (b & 0x7f) * mul;
    if (b < 0x80) return [v, pos];
    mul *= 128;
  }
}

/** Call fn for every field of the message in [start, end): length-delimited fields give their byte range, varints their value. */
function forEachField(bytes: Uint8Array, start: number, end: number, fn: (num: number, a: number, b: number, value?: number) => void): void {
  let pos = start;
  while (pos < end) {
    const [key, p1] = varint(bytes, pos);
    const num = Math.floor(key / 8);
    const wire = key & 7;
    pos = p1;
    if (wire === 0) {
      const [v, p2] = varint(bytes, pos);
      fn(num, pos, p2, v);
      pos = p2;
    } else if (wire === 2) {
      const [len, p2] = varint(bytes, pos);
      if (p2 + len > end) throw new RangeError('field past the end');
      fn(num, p2, p2 + len);
      pos = p2 + len;
    } else if (wire === 1) pos += 8;
    else if (wire === 5) pos += 4;
    else throw new RangeError(`unsupported wire type ${wire}`);
  }
}

/** Byte range of the first length-delimited field `num` of a message. */
function field(bytes: Uint8Array, start: number, end: number, num: number): [number, number] | null {
  let found: [number, number] | null = null;
  forEachField(bytes, start, end, (n, a, b, v) => {
    if (!found && n === num && v === undefined) found = [a, b];
  });
  return found;
}
