/**
 * One pretraining arm and seed: pretrain the two-tower model on the arm's clips (from the tensor
 * cache), then embed each downstream task's clips with the frozen encoders and probe them.
 * Runs in its own process (the runner spawns `node --import tsx arm-worker.ts job.json`) so arms
 * train in parallel on separate cores; `runArmJob` is the same work in-process.
 * Resumable: pretraining continues from the arm's latest checkpoint.
 */
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { SslSchema, type SslConfig } from '../config/sections/ssl.js';
import { ArrayBatches } from '../ssl/data.js';
import { embed, pretrain } from '../ssl/trainer.js';
import { probeModalities, type ProbeModality } from '../ssl/probe/embeddings.js';
import type { ProbeResult } from '../ssl/probe/linear-probe.js';
import type { ProbeSplit } from '../ssl/probe/splits.js';
import { writeJsonAtomic } from '../runtime/atomic.js';
import { loadClipTensors, selectRows } from '../ssl/probe/clip-tensors.js';

export interface ArmTaskJob {
  name: string;
  tensorsDir: string;
  ids: string[];
  labels: number[];
  classes: number;
  splits: ProbeSplit[];
}

export interface ArmJob {
  arm: string;
  seed: number;
  tensorsDir: string;
  trainIds: string[];
  outDir: string;
  ssl: SslConfig;
  tasks: ArmTaskJob[];
  probe: {
    modalities: ProbeModality[];
    layer: 'encoder' | 'head';
    lambdas: number[];
    valFraction: number;
    maxIter: number;
    topK: number;
    batchSize: number;
  };
  resultFile: string;
  silent?: boolean;
}

export interface ArmResultFile {
  arm: string;
  seed: number;
  trainSize: number;
  steps: number;
  batchSize: number;
  backend: string;
  pretrainSeconds: number;
  finalLoss?: number;
  tasks: Record<string, Partial<Record<ProbeModality, ProbeResult>>>;
}

async function* batchesOf(audio: Float32Array, frames: Float32Array, ids: string[], size: number): AsyncGenerator<{ audio: Float32Array; frames: Float32Array; size: number; ids: string[] }> {
  const n = ids.length;
  const perA = audio.length / n;
  const perF = frames.length / n;
  for (let i = 0; i < n; i += size) {
    const j = Math.min(n, i + size);
    yield { audio: audio.slice(i * perA, j * perA), frames: frames.slice(i * perF, j * perF), size: j - i, ids: ids.slice(i, j) };
  }
}

export async function runArmJob(job: ArmJob): Promise<ArmResultFile> {
  const ssl = SslSchema.parse(job.ssl);
  const tensors = await loadClipTensors(job.tensorsDir);
  // The `untrained` diagnostic: the model initialised from the seed and checkpointed at step 0,
  // without reading any data.
  const untrained = job.arm === 'untrained';
  const train = selectRows(tensors, untrained ? [] : job.trainIds);
  const n = train.ids.length;
  if (!untrained && n < 2) throw new Error(`arm ${job.arm}: ${n} training clip(s); a contrastive batch needs at least 2`);
  const batchSize = untrained ? ssl.batchSize : Math.min(ssl.batchSize, n);
  const data = untrained ? [] : new ArrayBatches(train.audio, train.frames, n, batchSize, job.seed, Infinity, train.ids);
  const t0 = performance.now();
  const result = await pretrain({ outDir: job.outDir, config: { ...ssl, batchSize }, seed: job.seed, data, resume: true, silent: job.silent, stopAfter: untrained ? 0 : undefined });
  const pretrainSeconds = (performance.now() - t0) / 1000;
  const out: ArmResultFile = {
    arm: job.arm,
    seed: job.seed,
    trainSize: n,
    steps: result.step,
    batchSize,
    backend: result.backend,
    pretrainSeconds,
    finalLoss: result.metrics.at(-1)?.loss,
    tasks: {},
  };
  for (const task of job.tasks) {
    const tt = task.tensorsDir === job.tensorsDir ? tensors : await loadClipTensors(task.tensorsDir);
    const rows = selectRows(tt, task.ids);
    const batches = () => batchesOf(rows.audio, rows.frames, rows.ids, job.probe.batchSize);
    const emb = await embed(result.checkpointDir, batches(), { layer: job.probe.layer, backend: ssl.backend });
    if (emb.count !== task.ids.length) throw new Error(`arm ${job.arm}: embedded ${emb.count} of ${task.ids.length} clips of task ${task.name}`);
    // The cross-modal probe needs the shared projection space.
    const shared = job.probe.modalities.includes('cross') && job.probe.layer !== 'head' ? await embed(result.checkpointDir, batches(), { layer: 'head', backend: ssl.backend }) : undefined;
    out.tasks[task.name] = probeModalities(
      emb,
      task.labels,
      task.classes,
      task.splits,
      job.probe.modalities,
      { lambdas: job.probe.lambdas, valFraction: job.probe.valFraction, maxIter: job.probe.maxIter, topK: job.probe.topK, seed: job.seed },
      shared,
    );
  }
  await writeJsonAtomic(job.resultFile, out);
  return out;
}

/** Entry point of the worker process: `arm-worker.ts <job.json>`. */
async function workerMain(jobFile: string): Promise<number> {
  try {
    const job = JSON.parse(await fsp.readFile(jobFile, 'utf8')) as ArmJob;
    if (job.silent) process.env.AVCURATE_QUIET = '1';
    await runArmJob(job);
    return 0;
  } catch (err) {
    process.stderr.write(`arm worker (${path.basename(jobFile)}): ${process.env.AVCURATE_DEBUG ? (err as Error).stack : (err as Error).message}\n`);
    return 1;
  }
}

export const ARM_WORKER_FILE = fileURLToPath(import.meta.url);

if (process.argv[1] && path.resolve(process.argv[1]) === ARM_WORKER_FILE) {
  process.exitCode = await workerMain(process.argv[2] ?? '');
}
