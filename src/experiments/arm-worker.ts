/**
 * One pretraining arm and seed: pretrain the two-tower model on the arm's clips, then embed each
 * downstream task's clips with the frozen encoders and probe them. Every training and embedding
 * batch comes from the loaders' pipeline over the run's decoded-tensor cache (ssl/data.ts:
 * cache rows of the arm → shuffle → SpecAugment → batch, exact state in every checkpoint).
 * Runs in its own process (the runner spawns `node --import tsx arm-worker.ts job.json`) so arms
 * train in parallel on separate cores; `runArmJob` is the same work in-process.
 * Resumable: pretraining continues from the arm's latest checkpoint.
 */
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { SslSchema, type SslConfig } from '../config/sections/ssl.js';
import { LoaderSchema, type LoaderConfig } from '../config/sections/loader.js';
import { sslEmbeddingBatches, sslTrainingBatches } from '../ssl/data.js';
import { embed, pretrain } from '../ssl/trainer.js';
import { probeModalities, type ProbeModality } from '../ssl/probe/embeddings.js';
import type { ProbeResult } from '../ssl/probe/linear-probe.js';
import type { ProbeSplit } from '../ssl/probe/splits.js';
import { writeJsonAtomic } from '../runtime/atomic.js';

export interface ArmTaskJob {
  name: string;
  /** The tensor cache holding the task's clips. */
  cacheDir: string;
  ids: string[];
  labels: number[];
  classes: number;
  splits: ProbeSplit[];
}

export interface ArmJob {
  arm: string;
  seed: number;
  /** The tensor cache holding the training clips. */
  cacheDir: string;
  trainIds: string[];
  outDir: string;
  ssl: SslConfig;
  loader: LoaderConfig;
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

export async function runArmJob(job: ArmJob): Promise<ArmResultFile> {
  const ssl = SslSchema.parse(job.ssl);
  const loader = LoaderSchema.parse(job.loader);
  const cfg = { ssl, loader };
  // The `untrained` diagnostic: the model initialised from the seed and checkpointed at step 0,
  // without reading any data.
  const untrained = job.arm === 'untrained';
  const n = untrained ? 0 : job.trainIds.length;
  if (!untrained && n < 2) throw new Error(`arm ${job.arm}: ${n} training clip(s); a contrastive batch needs at least 2`);
  const batchSize = untrained ? ssl.batchSize : Math.min(ssl.batchSize, n);
  const data = untrained ? [] : await sslTrainingBatches(job.cacheDir, cfg, { seed: job.seed, batchSize, keys: job.trainIds });
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
    const batches = () => sslEmbeddingBatches(task.cacheDir, cfg, { seed: job.seed, batchSize: job.probe.batchSize, keys: task.ids });
    const emb = await embed(result.checkpointDir, await batches(), { layer: job.probe.layer, backend: ssl.backend });
    if (emb.count !== task.ids.length) throw new Error(`arm ${job.arm}: embedded ${emb.count} of ${task.ids.length} clips of task ${task.name}`);
    // The cross-modal probe needs the shared projection space.
    const shared = job.probe.modalities.includes('cross') && job.probe.layer !== 'head' ? await embed(result.checkpointDir, await batches(), { layer: 'head', backend: ssl.backend }) : undefined;
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
