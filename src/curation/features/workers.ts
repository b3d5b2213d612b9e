/**
 * A small pool of worker threads that compute the built-in descriptors off the main thread.
 * Works from TypeScript sources (the worker registers tsx's loader) and from compiled JavaScript.
 */
import { Worker } from 'node:worker_threads';
import { createRequire } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';
import os from 'node:os';
import { ExtractorFatalError } from './extractor.js';

export interface WorkerTask {
  kind: 'audio' | 'visual';
  options?: Record<string, unknown>;
  input: unknown;
}

interface Pending {
  resolve: (v: Float32Array[]) => void;
  reject: (e: Error) => void;
}

/** Default number of descriptor workers: half the cores (ffmpeg decoders use the rest), at least 1. */
export function defaultDescriptorWorkers(): number {
  const env = Number(process.env.AVCURATE_FEATURE_WORKERS);
  if (Number.isInteger(env) && env >= 0) return env;
  return Math.max(1, Math.floor((os.availableParallelism?.() ?? os.cpus().length) / 2));
}

/** File URL of tsx's ESM register API (the "import" condition of tsx/esm/api). */
function tsxEsmApi(from: string): string {
  const resolve = (import.meta as { resolve?: (s: string) => string }).resolve;
  if (typeof resolve === 'function') {
    try {
      const url = resolve('tsx/esm/api');
      if (url.endsWith('.mjs')) return url;
    } catch {
      /* fall through */
    }
  }
  const cjs = createRequire(from).resolve('tsx/esm/api');
  return pathToFileURL(cjs.replace(/\.cjs$/, '.mjs')).href;
}

function spawnWorker(): Worker {
  const here = import.meta.url;
  const isTs = here.endsWith('.ts');
  const entry = new URL(isTs ? './builtin-worker.ts' : './builtin-worker.js', here).href;
  if (!isTs) return new Worker(fileURLToPath(entry));
  const tsxApi = tsxEsmApi(here);
  // Only dynamic import(): valid whether the eval code is taken as CommonJS or (with
  // --input-type=module inherited from the parent) as an ES module.
  const boot = `
import('node:worker_threads')
  .then(({ workerData }) => import(workerData.tsxApi).then((m) => { (m.register || m.default.register)(); return import(workerData.entry); }))
  .catch((err) => { console.error('avcurate: feature worker failed to start: ' + (err && err.stack || err)); process.exit(1); });
`;
  return new Worker(boot, { eval: true, workerData: { tsxApi, entry } });
}

export class DescriptorWorkers {
  readonly size: number;
  private readonly workers: Worker[] = [];
  private readonly idle: Worker[] = [];
  private readonly queue: Array<{ task: WorkerTask; pending: Pending }> = [];
  private readonly pending = new Map<number, Pending>();
  private readonly busy = new Map<Worker, number>();
  private nextId = 1;
  private closed = false;
  private crash: Error | null = null;

  constructor(size = defaultDescriptorWorkers()) {
    this.size = size;
    for (let i = 0; i < size; i++) {
      const w = spawnWorker();
      w.on('message', (msg: { id: number; result?: Float32Array[]; error?: string }) => this.onMessage(w, msg));
      w.on('error', (err) => this.onCrash(w, err));
      w.on('exit', (code) => {
        if (!this.closed && code !== 0) this.onCrash(w, new Error(`feature worker exited with code ${code}`));
      });
      w.unref();
      this.workers.push(w);
      this.idle.push(w);
    }
  }

  run(task: WorkerTask): Promise<Float32Array[]> {
    if (this.closed) return Promise.reject(new ExtractorFatalError(this.crash ? `descriptor workers failed: ${this.crash.message}` : 'descriptor workers are closed'));
    return new Promise((resolve, reject) => {
      this.queue.push({ task, pending: { resolve, reject } });
      this.pump();
    });
  }

  private pump(): void {
    while (this.idle.length > 0 && this.queue.length > 0) {
      const w = this.idle.pop()!;
      const { task, pending } = this.queue.shift()!;
      const id = this.nextId++;
      this.pending.set(id, pending);
      this.busy.set(w, id);
      w.ref();
      w.postMessage({ id, ...task });
    }
  }

  private onMessage(w: Worker, msg: { id: number; result?: Float32Array[]; error?: string }): void {
    const p = this.pending.get(msg.id);
    this.pending.delete(msg.id);
    this.busy.delete(w);
    w.unref();
    this.idle.push(w);
    if (p) {
      if (msg.error !== undefined) p.reject(new Error(msg.error));
      else p.resolve(msg.result!);
    }
    this.pump();
  }

  private onCrash(w: Worker, cause: Error): void {
    const err = new ExtractorFatalError(`a descriptor worker thread failed: ${cause.message}`);
    this.crash = err;
    const id = this.busy.get(w);
    if (id !== undefined) {
      this.pending.get(id)?.reject(err);
      this.pending.delete(id);
    }
    for (const { pending } of this.queue.splice(0)) pending.reject(err);
    this.closed = true;
  }

  async close(): Promise<void> {
    this.closed = true;
    await Promise.all(this.workers.map((w) => w.terminate()));
  }
}
