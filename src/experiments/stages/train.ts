/**
 * Experiment stage 7: pretrain and probe every arm and seed (arm-<arm>-s<seed>), each in a worker
 * process (arm-worker.ts) so arms train in parallel on separate cores. A checkpoint folder left by
 * training with other inputs is removed; the same training killed mid-way resumes from its
 * latest checkpoint; a change of the probe settings alone re-probes without retraining.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, promises as fsp } from 'node:fs';
import path from 'node:path';
import type { ArmName } from '../../config/sections/experiment.js';
import type { ProbeModality } from '../../ssl/probe/embeddings.js';
import { Pool, defaultConcurrency } from '../../runtime/pool.js';
import { writeJsonAtomic } from '../../runtime/atomic.js';
import { log } from '../../runtime/progress.js';
import { markDone, redoNote, stableKey, stageDone } from '../../run/ledger.js';
import { runLayout } from '../../run/layout.js';
import { ARM_WORKER_FILE, runArmJob, type ArmJob, type ArmResultFile } from '../arm-worker.js';
import type { ExperimentContext } from '../context.js';
import type { TaskPlan } from './tasks.js';
import { mainCacheDir } from './tasks.js';

export interface TrainOptions {
  /** Arm processes at once (default experiment.parallel, else the number of cores). */
  parallel?: number;
  /** Run arms in this process instead of worker processes (tests, debugging). */
  inProcess?: boolean;
}

/** The ledger's record of whose a checkpoint folder ssl/<arm>-s<seed>/ is (the training inputs it was started for). */
export const CHECKPOINTS_STAGE = 'arm-checkpoints';

/** Clip ids sorted by UTF-16 code unit, Array.prototype.sort's default (the arms' training order; the seeded shuffle of training starts from it). */
export function canonicalOrder(ids: readonly string[]): string[] {
  return [...ids].sort();
}

/** Stages "arm-<arm>-s<seed>": one per arm and seed. */
export async function trainStage(ctx: ExperimentContext, armIds: Map<ArmName, string[]>, tasks: TaskPlan[], tensorsKey: string, run: TrainOptions): Promise<ArmResultFile[]> {
  const { config, runDir, expDir, ledger, silent } = ctx;
  const exp = config.experiment;
  const probeCfg = config.probe;
  const jobs: ArmJob[] = [];
  for (const arm of exp.arms) {
    for (const seed of exp.seeds) {
      jobs.push({
        arm,
        seed,
        cacheDir: mainCacheDir(runDir),
        // The arm's clips in one canonical order (by id): what an arm trains on is its set, so two
        // arms holding the same clips train alike, whatever order their selection listed them in.
        trainIds: canonicalOrder(armIds.get(arm)!),
        outDir: runLayout(runDir).sslDir(`${arm}-s${seed}`),
        ssl: config.ssl,
        loader: config.loader,
        tasks: tasks.map(({ clips: _c, ...t }) => t),
        probe: {
          modalities: probeCfg.modalities as ProbeModality[],
          layer: probeCfg.layer,
          lambdas: probeCfg.lambdas,
          valFraction: probeCfg.valFraction,
          maxIter: probeCfg.maxIter,
          topK: probeCfg.topK,
          batchSize: probeCfg.batchSize,
        },
        resultFile: runLayout(runDir).probe(`${arm}-s${seed}`),
        silent,
      });
    }
  }
  const parallel = run.inProcess ? 1 : run.parallel ?? exp.parallel ?? defaultConcurrency();
  const pool = new Pool(parallel);
  if (!silent) log(`experiment: ${jobs.length} arm runs (${exp.arms.length} arms x ${exp.seeds.length} seeds), ${parallel} at a time`);
  const armResults = await pool.map(jobs, (job) =>
    ledger.run<ArmResultFile>(
      `arm-${job.arm}-s${job.seed}`,
      {
        config: { ssl: job.ssl, loader: job.loader, probe: job.probe },
        inputs: { arm: job.arm, seed: job.seed, trainIds: stableKey(job.trainIds), tasks: job.tasks, tensors: tensorsKey, cacheDir: job.cacheDir, outDir: job.outDir, resultFile: job.resultFile },
      },
      async () => {
      const jobFile = path.join(expDir, 'jobs', `${job.arm}-s${job.seed}.json`);
      // A checkpoint folder left by training with other inputs (ssl config, training set) is not
      // resumed from: it is removed. The same training killed mid-way resumes from its latest
      // checkpoint; a change of the probe settings alone re-probes without retraining. Whose a
      // checkpoint folder is, is the stage ledger's record stages/arm-checkpoints/<arm>-s<seed>.json,
      // written when the folder is started for these training inputs.
      const shard = `${job.arm}-s${job.seed}`;
      const training = { config: { ssl: job.ssl, loader: job.loader }, inputs: { arm: job.arm, seed: job.seed, trainIds: stableKey(job.trainIds), tensors: tensorsKey } };
      const owner = await stageDone(runDir, CHECKPOINTS_STAGE, training, { shard });
      if (!owner.done && existsSync(job.outDir)) {
        if (!silent) log(redoNote(owner, runDir, `removing ${path.relative(runDir, job.outDir)} and training from the start`) ?? `${CHECKPOINTS_STAGE} ${shard}: ${path.relative(runDir, job.outDir)} has no ledger record of the training it belongs to; removing it and training from the start`);
        await fsp.rm(job.outDir, { recursive: true, force: true });
      }
      await fsp.mkdir(job.outDir, { recursive: true });
      if (!owner.done) await markDone(runDir, CHECKPOINTS_STAGE, training, { shard, outputs: [job.outDir] });
      await writeJsonAtomic(jobFile, job);
      const result = run.inProcess ? await runArmJob(job) : await runWorker(jobFile, `${job.arm}/s${job.seed}`, silent);
      return { summary: result, outputs: [job.resultFile] };
      },
    ),
  );
  return armResults;
}

const running = new Set<ChildProcess>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  const killAll = () => {
    for (const c of running) {
      try {
        c.kill('SIGTERM');
      } catch {
        /* gone */
      }
    }
  };
  process.on('exit', killAll);
  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    process.once(sig, () => {
      killAll();
      process.exit(sig === 'SIGINT' ? 130 : 143);
    });
  }
}

/** Run one arm job in a worker process; its progress lines are prefixed with the arm name. */
async function runWorker(jobFile: string, label: string, silent: boolean): Promise<ArmResultFile> {
  installExitHook();
  // From sources the worker file is TypeScript and needs tsx (a dev dependency); compiled, plain node runs it.
  const loader = ARM_WORKER_FILE.endsWith('.ts') ? ['--import', import.meta.resolve('tsx')] : [];
  const child = spawn(process.execPath, [...loader, ARM_WORKER_FILE, jobFile], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...(silent ? { AVCURATE_QUIET: '1' } : {}) } });
  running.add(child);
  let tail = '';
  const relay = (chunk: Buffer, stream: NodeJS.WriteStream) => {
    const text = chunk.toString('utf8');
    tail = (tail + text).slice(-4000);
    if (silent) return;
    for (const line of text.split(/\r?\n|\r/)) if (line.trim()) stream.write(`[${label}] ${line}\n`);
  };
  child.stdout!.on('data', (c: Buffer) => relay(c, process.stderr));
  child.stderr!.on('data', (c: Buffer) => relay(c, process.stderr));
  const code = await new Promise<number | null>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (c) => resolve(c));
  });
  running.delete(child);
  if (code !== 0) throw new Error(`arm ${label} failed (exit ${code}):\n${tail.trim().split('\n').slice(-8).join('\n')}`);
  const job = JSON.parse(await fsp.readFile(jobFile, 'utf8')) as ArmJob;
  return JSON.parse(await fsp.readFile(job.resultFile, 'utf8')) as ArmResultFile;
}

