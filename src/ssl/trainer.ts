/**
 * Contrastive audio-visual pretraining: the two-tower model, symmetric InfoNCE, AdamW with
 * warm-up + cosine and gradient clipping, checkpoints every N steps that resume exactly (the
 * resumed run's next step computes the same loss as the uninterrupted one), metrics.jsonl and
 * progress on the terminal.
 *
 * Output folder (DESIGN.md: runs/<name>/ssl/<arm>/):
 *   checkpoints/step-XXXXXXXX/{model.json,weights.bin}, checkpoints/latest.json
 *   metrics.jsonl   one line per step: step, loss, lr, acc_a2v, acc_v2a, grad_norm, temperature,
 *                   samples_per_s, elapsed_s
 *   run.json        what is trained: backend, spec, parameter count, forward FLOPs per sample, config
 */
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { withRunLock } from '../run/lock.js';
import * as tf from '@tensorflow/tfjs';
import { SslSchema, type SslConfig } from '../config/sections/ssl.js';
import { initTfjs, type BackendChoice } from '../runtime/tfjs.js';
import { Progress, log } from '../runtime/progress.js';
import { writeJsonAtomic, writeFileAtomic } from '../runtime/atomic.js';
import { AvModel, type BnUpdate } from './model.js';
import { infoNce, retrievalAccuracy, l2Normalize } from './loss.js';
import { AdamW, learningRate } from './optim.js';
import { loadCheckpoint, saveCheckpoint, resolveCheckpoint } from './checkpoint.js';
import { batchSize, type BatchDims, type SslBatch } from './data.js';
import { Dataset, type DatasetIterator, type PipelineState } from '../loaders/core/dataset.js';
import type { StageReport } from '../loaders/core/node.js';
import { CONFIG_DEFAULTS } from '../config/defaults.js';

export interface StepMetrics {
  step: number;
  loss: number;
  lr: number;
  acc_a2v: number;
  acc_v2a: number;
  grad_norm: number;
  temperature: number;
  samples_per_s: number;
  elapsed_s: number;
}

/**
 * The batch stream: a loaders Dataset (its iterator state goes into every checkpoint and a resume
 * continues from it exactly: see ssl/data.ts), or a plain iterable that is deterministic (a resume
 * replays it and drops the batches already trained on).
 */
export type TrainDataInput = Dataset<SslBatch> | AsyncIterable<SslBatch> | Iterable<SslBatch>;

export interface PretrainOptions {
  /** Output folder (checkpoints/, metrics.jsonl, run.json). */
  outDir: string;
  /** The `ssl` config section (partial: defaults are filled in). */
  config?: Partial<SslConfig> | SslConfig;
  seed: number;
  data: TrainDataInput;
  /** Continue from the latest checkpoint in outDir (a fresh start when there is none). */
  resume?: boolean;
  /** Stop after this many steps in this call even if ssl.steps is larger (a checkpoint is written). */
  stopAfter?: number;
  silent?: boolean;
  onStep?: (m: StepMetrics) => void;
}

export interface PretrainResult {
  checkpointDir: string;
  outDir: string;
  step: number;
  metrics: StepMetrics[];
  backend: string;
  /** Per loader stage: items skipped under onError 'skip' and why (also in run.json and on stderr). */
  skips?: StageReport[];
}

export function modelDims(cfg: SslConfig): BatchDims {
  const m = cfg.model;
  return { audioFrames: m.audio.frames, mels: m.audio.mels, frames: m.visual.frames, height: m.visual.height, width: m.visual.width };
}

/** Tensors for one batch. */
function batchTensors(batch: SslBatch, b: number, dims: BatchDims) {
  const a = tf.tensor3d(batch.audio, [b, dims.audioFrames, dims.mels]);
  const f = tf.tensor5d(batch.frames, [b, dims.frames, dims.height, dims.width, 3]);
  return { a, f };
}

/** One training step's computation: loss, logits, gradients by parameter name, BN updates. */
export function lossAndGrads(model: AvModel, a: tf.Tensor3D, f: tf.Tensor5D): { loss: tf.Scalar; logits: tf.Tensor2D; grads: Record<string, tf.Tensor>; updates: BnUpdate[] } {
  const updates: BnUpdate[] = [];
  let logits: tf.Tensor2D | null = null;
  const { value, grads } = tf.variableGrads(() => {
    const out = model.forward(a, f, true, updates);
    const r = infoNce(out.audio.projection, out.visual.projection, model.logitScale());
    logits = tf.keep(r.logits);
    return r.loss;
  }, model.trainableVariables());
  const byName: Record<string, tf.Tensor> = {};
  for (const n of model.trainableNames()) {
    const g = grads[model.variableName(n)];
    if (!g) throw new Error(`no gradient for ${n}`);
    byName[n] = g;
  }
  return { loss: value, logits: logits!, grads: byName, updates };
}

async function truncateMetrics(file: string, upToStep: number): Promise<StepMetrics[]> {
  let text = '';
  try {
    text = await fsp.readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
  const rows: StepMetrics[] = [];
  for (const line of text.split('\n')) {
    if (!line.trim()) continue;
    try {
      const r = JSON.parse(line) as StepMetrics;
      if (r.step <= upToStep) rows.push(r);
    } catch {
      // A torn last line from a killed run: dropped.
    }
  }
  await writeFileAtomic(file, rows.map((r) => JSON.stringify(r) + '\n').join(''));
  return rows;
}

/** An iterator over an async or plain iterable. */
function openIterator(source: AsyncIterable<SslBatch> | Iterable<SslBatch>): AsyncIterator<SslBatch> | Iterator<SslBatch> {
  const s = source as Partial<AsyncIterable<SslBatch> & Iterable<SslBatch>>;
  if (typeof s[Symbol.asyncIterator] === 'function') return s[Symbol.asyncIterator]!();
  if (typeof s[Symbol.iterator] === 'function') return s[Symbol.iterator]!();
  throw new Error('pretrain: data is neither an async iterable nor an iterable of batches');
}

/** Pretrain the two-tower model on a batch stream (holding the arm folder's lock: src/run/lock.ts). */
export async function pretrain(opts: PretrainOptions): Promise<PretrainResult> {
  return withRunLock(opts.outDir, 'pretrain', () => pretrainLocked(opts));
}

async function pretrainLocked(opts: PretrainOptions): Promise<PretrainResult> {
  const cfg = SslSchema.parse(opts.config ?? {});
  const rt = await initTfjs(cfg.backend as BackendChoice);
  const dims = modelDims(cfg);
  const outDir = opts.outDir;
  const ckptRoot = path.join(outDir, 'checkpoints');
  const metricsFile = path.join(outDir, 'metrics.jsonl');
  await fsp.mkdir(outDir, { recursive: true });

  const model = new AvModel(cfg.model, { seed: opts.seed, temperature: cfg.temperature, learnTemperature: cfg.learnTemperature });
  const optimizer = new AdamW(
    model.trainableNames().map((n) => ({ name: n, variable: model.p(n), decay: model.decays(n) })),
    { beta1: cfg.beta1, beta2: cfg.beta2, epsilon: cfg.epsilon, weightDecay: cfg.weightDecay, gradClip: cfg.gradClip },
  );
  let step = 0;
  let dataResumeState: unknown = undefined;
  let metrics: StepMetrics[] = [];
  let loaderIt: DatasetIterator<SslBatch> | null = null;

  try {
    const existing = opts.resume ? await resolveCheckpoint(ckptRoot) : null;
    if (existing) {
      const ck = await loadCheckpoint(existing);
      try {
        const specNow = JSON.stringify(cfg.model);
        if (JSON.stringify(ck.meta.model) !== specNow) {
          throw new Error(`cannot resume from ${ck.dir}: it was trained with a different ssl.model (${JSON.stringify(ck.meta.model)})`);
        }
        const modelTensors: Record<string, tf.Tensor> = {};
        const optTensors: Record<string, tf.Tensor> = {};
        for (const [n, t] of Object.entries(ck.tensors)) {
          if (n.startsWith('model/')) modelTensors[n.slice(6)] = t;
          else if (n.startsWith('opt/')) optTensors[n.slice(4)] = t;
        }
        model.assign(modelTensors);
        optimizer.restore(ck.meta.optimizerStep as number, optTensors);
        step = ck.meta.step;
        dataResumeState = ck.meta.data;
      } finally {
        for (const t of Object.values(ck.tensors)) t.dispose();
      }
      metrics = await truncateMetrics(metricsFile, step);
      if (!opts.silent) log(`ssl: resumed from ${existing} at step ${step}`);
    } else {
      // A fresh start: the folder's earlier metrics and checkpoints belong to another run.
      await fsp.rm(metricsFile, { force: true });
      await fsp.rm(ckptRoot, { recursive: true, force: true });
    }

    // Open the stream at the saved position.
    let source: AsyncIterable<SslBatch> | Iterable<SslBatch>;
    let skip = 0;
    if (opts.data instanceof Dataset) {
      const state = step > 0 && dataResumeState ? (dataResumeState as PipelineState) : undefined;
      source = loaderIt = opts.data.iterator(state);
    } else {
      source = opts.data;
      skip = step; // deterministic streams: replay and drop the batches already trained on
    }
    const getDataState = (): unknown => loaderIt?.getState();

    const flops = model.flopsPerSample();
    const runInfo = {
      backend: rt.backend,
      parameters: model.parameterCount(),
      forwardFlopsPerSample: flops,
      model: cfg.model,
      config: cfg,
      seed: opts.seed,
    };
    await writeJsonAtomic(path.join(outDir, 'run.json'), runInfo);

    const target = Math.min(cfg.steps, opts.stopAfter !== undefined ? step + opts.stopAfter : Infinity);
    const progress = new Progress('pretrain', { total: cfg.steps, unit: 'steps', silent: opts.silent, intervalSeconds: cfg.progressSeconds });
    progress.set(step);
    const t0 = performance.now();
    let lastCkptStep = step;
    const iterator = openIterator(source);
    let samplesSince = 0;
    let tSince = performance.now();

    const checkpoint = async () => {
      const tensors: Record<string, tf.Tensor> = {};
      for (const n of model.names()) tensors[`model/${n}`] = model.p(n);
      for (const [n, t] of Object.entries(optimizer.stateTensors())) tensors[`opt/${n}`] = t;
      await saveCheckpoint(
        ckptRoot,
        step,
        tensors,
        {
          optimizerStep: optimizer.t,
          data: getDataState() ?? null,
          model: cfg.model,
          config: cfg,
          seed: opts.seed,
          backend: rt.backend,
        },
        cfg.keepCheckpoints,
      );
      lastCkptStep = step;
    };

    while (step < target) {
      const next = await iterator.next();
      if (next.done) {
        if (!opts.silent) log(`ssl: the data ended after step ${step} (of ${cfg.steps})`);
        break;
      }
      if (skip > 0) {
        skip--;
        continue;
      }
      const batch = next.value;
      const b = batchSize(batch, dims, `batch ${step + 1}`);
      const lr = learningRate(step + 1, { lr: cfg.lr, warmupSteps: cfg.warmupSteps, totalSteps: cfg.steps, minLrRatio: cfg.minLrRatio });
      const { a, f } = batchTensors(batch, b, dims);
      const r = lossAndGrads(model, a, f);
      a.dispose();
      f.dispose();
      const norm = optimizer.step(r.grads, lr);
      model.applyBnUpdates(r.updates);
      const loss = (await r.loss.data())[0];
      const sim = await r.logits.data();
      const gradNorm = (await norm.data())[0];
      r.loss.dispose();
      r.logits.dispose();
      norm.dispose();
      for (const g of Object.values(r.grads)) g.dispose();
      if (!Number.isFinite(loss)) throw new Error(`ssl: the loss became ${loss} at step ${step + 1}; lower ssl.lr or raise ssl.gradClip`);
      step++;
      samplesSince += b;
      const now = performance.now();
      const acc = retrievalAccuracy(sim, b);
      const m: StepMetrics = {
        step,
        loss,
        lr,
        acc_a2v: acc.a2v,
        acc_v2a: acc.v2a,
        grad_norm: gradNorm,
        temperature: model.temperature(),
        samples_per_s: (samplesSince * 1000) / Math.max(1e-9, now - tSince),
        elapsed_s: (now - t0) / 1000,
      };
      samplesSince = 0;
      tSince = now;
      metrics.push(m);
      await fsp.appendFile(metricsFile, JSON.stringify(m) + '\n');
      opts.onStep?.(m);
      progress.set(step, `loss ${loss.toFixed(4)}  a2v ${acc.a2v.toFixed(2)}  ${m.samples_per_s.toFixed(1)} samples/s`);
      if (step % cfg.checkpointEvery === 0) await checkpoint();
    }
    if (step !== lastCkptStep || !(await resolveCheckpoint(ckptRoot))) await checkpoint();
    progress.finish();
    // What the loader skipped (bad shards, undecodable clips): said on stderr and kept in run.json (reliab, issue 13 item 7).
    const skips = (loaderIt?.reports() ?? []).filter((r) => r.skipped > 0);
    if (skips.length > 0) {
      for (const r of skips) {
        process.stderr.write(`pretrain: the ${r.stage} stage skipped ${r.skipped} item(s)${r.errors.length ? ':' : ''}\n`);
        for (const e of r.errors.slice(0, 20)) process.stderr.write(`  ${e}\n`);
        if (r.errors.length > 20) process.stderr.write(`  ... and ${r.errors.length - 20} more (run.json lists them)\n`);
      }
      await writeJsonAtomic(path.join(outDir, 'run.json'), { ...runInfo, skips });
    }
    return { checkpointDir: ckptRoot, outDir, step, metrics, backend: rt.backend, skips };
  } finally {
    await loaderIt?.close();
    optimizer.dispose();
    model.dispose();
  }
}

/** Load a trained model from a checkpoint folder (a step folder, or a root with latest.json). */
export async function loadModel(checkpointDir: string, backend: BackendChoice = CONFIG_DEFAULTS.ssl.backend): Promise<{ model: AvModel; cfg: SslConfig; step: number }> {
  await initTfjs(backend);
  let dir = checkpointDir;
  // Accept the pretrain output folder too.
  if (!(await resolveCheckpoint(dir))) dir = path.join(checkpointDir, 'checkpoints');
  const ck = await loadCheckpoint(dir);
  try {
    const cfg = SslSchema.parse(ck.meta.config ?? {});
    const model = new AvModel(cfg.model, { seed: 0, temperature: cfg.temperature, learnTemperature: cfg.learnTemperature });
    const modelTensors: Record<string, tf.Tensor> = {};
    for (const [n, t] of Object.entries(ck.tensors)) if (n.startsWith('model/')) modelTensors[n.slice(6)] = t;
    model.assign(modelTensors);
    return { model, cfg, step: ck.meta.step };
  } finally {
    for (const t of Object.values(ck.tensors)) t.dispose();
  }
}

export interface EmbedOptions {
  /** `encoder`: pooled encoder features (for linear probes, default); `head`: L2-normalised projections. */
  layer?: 'encoder' | 'head';
  backend?: BackendChoice;
}

export interface Embeddings {
  /** Row-major [count, audioDim] and [count, visualDim]. */
  audio: Float32Array;
  visual: Float32Array;
  audioDim: number;
  visualDim: number;
  /** audioDim when both are equal (always for `head`), else -1. */
  dim: number;
  count: number;
  /** Clip ids from the batches (index strings where a batch had none). */
  ids: string[];
}

/** Embed batches with a trained model in inference mode (BatchNorm running statistics). */
export async function embed(checkpointDir: string, batches: AsyncIterable<SslBatch> | Iterable<SslBatch>, opts: EmbedOptions = {}): Promise<Embeddings> {
  const { model, cfg } = await loadModel(checkpointDir, opts.backend ?? CONFIG_DEFAULTS.ssl.backend);
  const dims = modelDims(cfg);
  const layer = opts.layer ?? CONFIG_DEFAULTS.probe.layer;
  const aParts: Float32Array[] = [];
  const vParts: Float32Array[] = [];
  const ids: string[] = [];
  let audioDim = 0;
  let visualDim = 0;
  let count = 0;
  try {
    for await (const batch of batches as AsyncIterable<SslBatch>) {
      const b = batchSize(batch, dims, `embed batch ${aParts.length + 1}`);
      const [ea, ev] = tf.tidy(() => {
        const { a, f } = batchTensors(batch, b, dims);
        const out = model.forward(a, f, false);
        if (layer === 'head') return [l2Normalize(out.audio.projection), l2Normalize(out.visual.projection)];
        return [out.audio.features, out.visual.features];
      });
      audioDim = ea.shape[1];
      visualDim = ev.shape[1];
      aParts.push((await ea.data()) as Float32Array);
      vParts.push((await ev.data()) as Float32Array);
      ea.dispose();
      ev.dispose();
      for (let i = 0; i < b; i++) ids.push(batch.ids?.[i] ?? String(count + i));
      count += b;
    }
  } finally {
    model.dispose();
  }
  const join = (parts: Float32Array[], d: number) => {
    const out = new Float32Array(count * d);
    let off = 0;
    for (const p of parts) {
      out.set(p, off);
      off += p.length;
    }
    return out;
  };
  return { audio: join(aParts, audioDim), visual: join(vParts, visualDim), audioDim, visualDim, dim: audioDim === visualDim ? audioDim : -1, count, ids };
}

/** Retrieval top-1 (a→v, v→a) among `count` clips from L2-normalised head embeddings. */
export function retrievalFromEmbeddings(e: Embeddings): { a2v: number; v2a: number } {
  if (e.audioDim !== e.visualDim) throw new Error('retrieval needs embeddings of one size (use layer: head)');
  const n = e.count;
  const d = e.audioDim;
  const sim = new Float32Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) {
      let s = 0;
      for (let k = 0; k < d; k++) s += e.audio[i * d + k] * e.visual[j * d + k];
      sim[i * n + j] = s;
    }
  }
  return retrievalAccuracy(sim, n);
}
