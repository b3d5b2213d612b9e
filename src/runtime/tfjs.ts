/**
 * TensorFlow.js backend choice. Order at run time: `@tensorflow/tfjs-node-gpu` → `@tensorflow/tfjs-node`
 * → wasm (SIMD) → cpu, unless a backend is named. Every candidate that is skipped carries the
 * reason (not installed, failed to load, failed to initialise), so `avcurate doctor` can say why.
 *
 * Setting up the wasm backend installs our wasm kernels (./tfjs-wasm-kernels.ts: the conv2d
 * gradients tfjs lacks, faster transpose/matmul/identity/reductions), so every tfjs user that
 * chooses its backend here gets them, whichever part of avcurate it belongs to. Other code that
 * brings its own kernels for a backend registers them with `onBackendReady`; they are installed
 * when that backend is set up (at once when it is the current one).
 */
import * as tf from '@tensorflow/tfjs';
import { installWasmKernels } from './tfjs-wasm-kernels.js';

// Keep tfjs's console advice off our users' terminals from the moment tfjs is loaded through us,
// before any tensor exists: "Hi, looks like you are running TensorFlow.js in Node.js..." (printed
// on the cpu backend's first write), "kernel already registered". `avcurate doctor` reports the
// backends properly.
tf.env().set('PROD', true);

const backendSetups = new Map<string, Array<() => void>>();

/**
 * Run `setup` whenever `backend` is set up by initTfjs (kernel registrations; idempotent setups
 * only): at once when it is already the current backend.
 */
export function onBackendReady(backend: string, setup: () => void): void {
  const list = backendSetups.get(backend) ?? [];
  list.push(setup);
  backendSetups.set(backend, list);
  if (current?.backend === backend) setup();
}

function runBackendSetups(backend: string): void {
  for (const f of backendSetups.get(backend) ?? []) f();
}

export type BackendChoice = 'auto' | 'tfjs-node-gpu' | 'tfjs-node' | 'wasm' | 'cpu';
export const BACKEND_CHOICES: readonly BackendChoice[] = ['auto', 'tfjs-node-gpu', 'tfjs-node', 'wasm', 'cpu'];

export interface BackendCandidate {
  /** The choice name (tfjs-node-gpu, tfjs-node, wasm, cpu). */
  choice: Exclude<BackendChoice, 'auto'>;
  /** The npm package that provides it. */
  package: string;
  /** tfjs's backend name once registered ('tensorflow', 'wasm', 'cpu'). */
  backendName: string;
  available: boolean;
  /** Why it is not available, or notes (SIMD / threads for wasm). */
  reason?: string;
  version?: string;
}

export interface TfjsRuntime {
  tf: typeof tf;
  /** The choice in use. */
  choice: Exclude<BackendChoice, 'auto'>;
  /** tf.getBackend(). */
  backend: string;
  /** Every candidate tried, in order, with reasons for those skipped. */
  candidates: BackendCandidate[];
}

const PACKAGES: Record<Exclude<BackendChoice, 'auto'>, { pkg: string; backendName: string }> = {
  'tfjs-node-gpu': { pkg: '@tensorflow/tfjs-node-gpu', backendName: 'tensorflow' },
  'tfjs-node': { pkg: '@tensorflow/tfjs-node', backendName: 'tensorflow' },
  wasm: { pkg: '@tensorflow/tfjs-backend-wasm', backendName: 'wasm' },
  cpu: { pkg: '@tensorflow/tfjs-backend-cpu', backendName: 'cpu' },
};

function describeLoadError(pkg: string, err: unknown): string {
  const e = err as NodeJS.ErrnoException;
  const msg = String(e?.message ?? err).split('\n')[0];
  if (e?.code === 'ERR_MODULE_NOT_FOUND' || e?.code === 'MODULE_NOT_FOUND' || /Cannot find (package|module)/.test(msg)) {
    if (msg.includes(pkg)) {
      return `${pkg} is not installed (optional: it downloads libtensorflow at install time, so offline installs skip it)`;
    }
  }
  return `${pkg} failed to load: ${msg}`;
}

async function importOptional(pkg: string): Promise<{ ok: true; mod: unknown } | { ok: false; reason: string }> {
  try {
    // A variable specifier keeps type checking and bundlers from requiring the optional package.
    const spec: string = pkg;
    const mod = await import(spec);
    return { ok: true, mod };
  } catch (err) {
    return { ok: false, reason: describeLoadError(pkg, err) };
  }
}

async function packageVersion(pkg: string): Promise<string | undefined> {
  try {
    const { createRequire } = await import('node:module');
    const req = createRequire(import.meta.url);
    return (req(`${pkg}/package.json`) as { version?: string }).version;
  } catch {
    return undefined;
  }
}

let wasmImported: Promise<{ ok: boolean; reason?: string }> | null = null;
async function importWasm(): Promise<{ ok: boolean; reason?: string }> {
  wasmImported ??= (async () => {
    const r = await importOptional('@tensorflow/tfjs-backend-wasm');
    return r.ok ? { ok: true } : { ok: false, reason: r.reason };
  })();
  return wasmImported;
}

async function trySet(name: string): Promise<string | null> {
  try {
    const ok = await tf.setBackend(name);
    if (!ok) return `tf.setBackend('${name}') returned false`;
    await tf.ready();
    return null;
  } catch (err) {
    return `initialisation failed: ${(err as Error).message.split('\n')[0]}`;
  }
}

/** wasm feature flags, for reports. */
async function wasmNotes(): Promise<string> {
  try {
    const simd = await tf.env().getAsync('WASM_HAS_SIMD_SUPPORT');
    const threads = await tf.env().getAsync('WASM_HAS_MULTITHREAD_SUPPORT');
    return `SIMD ${simd ? 'on' : 'off'}, threads ${threads ? 'on' : 'off (tfjs disables wasm threads in Node)'}`;
  } catch {
    return '';
  }
}

let current: TfjsRuntime | null = null;
let pending: Promise<TfjsRuntime> | null = null;
let pendingChoice: BackendChoice | null = null;

/**
 * Choose and initialise a backend. `auto` walks the order and takes the first that works; a named
 * choice fails with the reason if it cannot be used. Calling again with the same choice returns
 * the runtime already set up; with another choice, switches.
 */
export async function initTfjs(choice: BackendChoice): Promise<TfjsRuntime> {
  if (current && (choice === 'auto' || choice === current.choice) && tf.getBackend() === current.backend) return current;
  if (pending && pendingChoice === choice) return pending;
  pendingChoice = choice;
  pending = (async () => {
    tf.env().set('PROD', true);
    const order: Array<Exclude<BackendChoice, 'auto'>> =
      choice === 'auto' ? ['tfjs-node-gpu', 'tfjs-node', 'wasm', 'cpu'] : [choice];
    const candidates: BackendCandidate[] = [];
    for (const c of order) {
      const { pkg, backendName } = PACKAGES[c];
      const cand: BackendCandidate = { choice: c, package: pkg, backendName, available: false };
      candidates.push(cand);
      if (c === 'tfjs-node-gpu' || c === 'tfjs-node') {
        const r = await importOptional(pkg);
        if (!r.ok) {
          cand.reason = r.reason;
          continue;
        }
        cand.version = await packageVersion(pkg);
        const err = await trySet(backendName);
        if (err) {
          cand.reason = err;
          continue;
        }
      } else if (c === 'wasm') {
        const r = await importWasm();
        if (!r.ok) {
          cand.reason = r.reason;
          continue;
        }
        cand.version = await packageVersion(pkg);
        const err = await trySet('wasm');
        if (err) {
          cand.reason = err;
          continue;
        }
        installWasmKernels();
        runBackendSetups('wasm');
        cand.reason = await wasmNotes();
      } else {
        cand.version = await packageVersion('@tensorflow/tfjs-core');
        const err = await trySet('cpu');
        if (err) {
          cand.reason = err;
          continue;
        }
      }
      cand.available = true;
      current = { tf, choice: c, backend: tf.getBackend(), candidates };
      return current;
    }
    const why = candidates.map((x) => `${x.choice}: ${x.reason}`).join('; ');
    throw new Error(`no usable TensorFlow.js backend (${why})`);
  })();
  try {
    return await pending;
  } finally {
    pending = null;
    pendingChoice = null;
  }
}

/** Try one named backend; never throws: an unavailable backend comes back with its reason. */
export async function tryInitTfjs(choice: Exclude<BackendChoice, 'auto'>): Promise<BackendCandidate> {
  try {
    const rt = await initTfjs(choice);
    return { ...rt.candidates[rt.candidates.length - 1] };
  } catch (err) {
    const { pkg, backendName } = PACKAGES[choice];
    const reason = (err as Error).message.replace(/^no usable TensorFlow\.js backend \([^:]+: /, '').replace(/\)$/, '');
    return { choice, package: pkg, backendName, available: false, reason };
  }
}

/**
 * Check every backend in order (for `avcurate doctor` and benchmarks). The backend selected
 * before the call, if any, is selected again afterwards.
 */
export async function probeTfjsBackends(): Promise<BackendCandidate[]> {
  const before = current;
  const out: BackendCandidate[] = [];
  for (const c of ['tfjs-node-gpu', 'tfjs-node', 'wasm', 'cpu'] as const) out.push(await tryInitTfjs(c));
  if (before) await initTfjs(before.choice);
  return out;
}

/** Measure plain matmul GFLOP/s on the current backend (m×k by k×n, median of `reps`). */
export function matmulGflops(m = 512, k = 512, n = 512, reps = 7): number {
  const a = tf.randomNormal([m, k], 0, 1, 'float32', 1);
  const b = tf.randomNormal([k, n], 0, 1, 'float32', 2);
  const once = () => {
    const y = tf.matMul(a, b);
    y.dataSync();
    y.dispose();
  };
  once();
  const times: number[] = [];
  for (let r = 0; r < reps; r++) {
    const t0 = performance.now();
    once();
    times.push((performance.now() - t0) / 1000);
  }
  a.dispose();
  b.dispose();
  times.sort((x, y) => x - y);
  return (2 * m * k * n) / times[Math.floor(times.length / 2)] / 1e9;
}
