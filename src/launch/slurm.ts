/**
 * `avcurate launch slurm`: one sbatch script per step in <run>/launch/ (arrays of `shards` tasks
 * for the sharded steps, single jobs for the one-process steps between them), and with `submit`
 * their submission in order, each with --dependency=afterok on the one before. `resubmitMissing`
 * submits only the failed or missing indices of the first incomplete step and the steps after it.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, rm } from 'node:fs/promises';
import path from 'node:path';
import type { Config } from '../config/schema.js';
import { writeFileAtomic } from '../runtime/atomic.js';
import { LaunchError, checkShardable, launchPaths, newPlan, readPlan, runFingerprint, stepsOf, taskCount, writePlan, type PlanFile, type Step, type UserStage } from './plan.js';
import { runStatus } from './status.js';
import { defaultAvcurateCommand, forgetTasks } from './task.js';
import { which } from './which.js';

export interface SlurmLaunchOptions {
  shards: number;
  stages: UserStage[];
  /** The config file the tasks read, and --set overrides passed on to them. */
  configFile: string;
  overrides: string[];
  submit?: boolean;
  resubmitMissing?: boolean;
  /** Discard an earlier plan of this run folder made with another shard count or config (outputs stay). */
  force?: boolean;
  /** Environment to find sbatch/scancel in (default process.env). */
  env?: NodeJS.ProcessEnv;
}

export interface SlurmLaunchResult {
  plan: PlanFile;
  scripts: Array<{ step: Step; file: string }>;
  submitted: Array<{ step: Step; jobId: string; array: string | null }>;
  warnings: string[];
}

/** A program on PATH (absolute path) or null. */
export { which };

/** Quote one word for bash. */
export function shq(s: string): string {
  return /^[A-Za-z0-9_./:=@%+-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}

/** Check the shared folder, shard count and existing plan; returns the folder of the run. */
export function checkRunFolder(config: Config, shards: number, force: boolean, sharedRoot?: string): { runDir: string; previous: PlanFile | null } {
  if (!Number.isInteger(shards) || shards < 1) throw new LaunchError(`--shards must be a positive integer, got ${shards}`, 2);
  const runDir = path.resolve(config.runDir!);
  // The shared folder that must exist already: the run folder's parent, or a volume mount.
  const parent = sharedRoot ?? path.dirname(runDir);
  if (!existsSync(parent)) {
    throw new LaunchError(
      `${parent}: no such folder. The run folder ${runDir} must lie on storage every node mounts; create ${parent} there (or set runDir in the config) and launch again`,
      3,
    );
  }
  const previous = readPlan(runDir);
  if (previous && !force) {
    if (previous.shards !== shards) {
      throw new LaunchError(
        `${runDir} was launched with --shards ${previous.shards} (launch/plan.json); --shards ${shards} would mix shard files of two splits. ` +
          `Use --shards ${previous.shards}, another run folder, or --force to discard the old plan and task records`,
        3,
      );
    }
    if (previous.fingerprint !== runFingerprint(config)) {
      throw new LaunchError(
        `${runDir} was launched with another config (fingerprint ${previous.fingerprint}, now ${runFingerprint(config)}). ` +
          `Use another run folder, restore the config, or --force to discard the old plan and task records (finished outputs are checked by each stage)`,
        3,
      );
    }
  }
  return { runDir, previous };
}

function resources(config: Config, step: Step) {
  const s = config.launch.slurm;
  const o = s.stages[step.name] ?? {};
  return {
    partition: o.partition ?? s.partition,
    cpus: o.cpus ?? s.cpus,
    memory: o.memory ?? s.memory,
    time: o.time ?? s.time,
    gpus: o.gpus ?? s.gpus,
    extra: [...s.extra, ...(o.extra ?? [])],
  };
}

/** The sbatch script of one step. */
export function renderSbatch(config: Config, step: Step, shards: number, runDir: string, configFile: string, overrides: string[], cwd = process.cwd()): string {
  const s = config.launch.slurm;
  const r = resources(config, step);
  const paths = launchPaths(runDir);
  const n = taskCount(step, shards);
  const avc = s.command ?? defaultAvcurateCommand().map(shq).join(' ');
  const lines = [
    '#!/bin/bash',
    `# avcurate step "${step.name}" (stage ${step.stage}) of ${runDir}: ${step.array ? `array of ${n} tasks` : 'one task'}.`,
    '# Written by "avcurate launch slurm"; submitted in order with --dependency=afterok on the step before.',
    `#SBATCH --job-name=${s.jobName ?? `avc-${config.name}`}-${step.name}`,
  ];
  if (step.array) lines.push(`#SBATCH --array=0-${n - 1}${s.maxRunning > 0 ? `%${s.maxRunning}` : ''}`);
  lines.push(`#SBATCH --output=${path.join(paths.logsDir, step.array ? `${step.name}-%a.slurm.out` : `${step.name}-0.slurm.out`)}`);
  lines.push('#SBATCH --ntasks=1', `#SBATCH --cpus-per-task=${r.cpus}`, `#SBATCH --mem=${r.memory}`, `#SBATCH --time=${r.time}`);
  if (r.partition) lines.push(`#SBATCH --partition=${r.partition}`);
  if (r.gpus > 0) lines.push(`#SBATCH --gpus-per-task=${r.gpus}`);
  lines.push(...r.extra);
  lines.push('set -eu', `cd ${shq(cwd)}`);
  const index = step.array ? '"${SLURM_ARRAY_TASK_ID}"' : '0';
  const sets = overrides.map((o) => `--set ${shq(o)}`).join(' ');
  lines.push(`exec ${avc} launch task ${step.name} --shard ${index}/${n} --config ${shq(configFile)}${sets ? ` ${sets}` : ''}`);
  return lines.join('\n') + '\n';
}

export function scriptPath(runDir: string, position: number, step: Step): string {
  return path.join(launchPaths(runDir).dir, `${String(position + 1).padStart(2, '0')}-${step.name}.sbatch`);
}

function sbatch(bin: string, args: string[], env: NodeJS.ProcessEnv): string {
  const r = spawnSync(bin, ['--parsable', ...args], { encoding: 'utf8', env });
  if (r.error) throw new LaunchError(`cannot run ${bin}: ${r.error.message}`, 4);
  if (r.status !== 0) throw new LaunchError(`sbatch ${args.join(' ')} failed (exit ${r.status}): ${(r.stderr || r.stdout).trim()}`, 4);
  const id = r.stdout.trim().split(';')[0];
  if (!/^\d+$/.test(id)) throw new LaunchError(`sbatch printed no job id: ${r.stdout.trim()}`, 4);
  return id;
}

function scancel(ids: string[], env: NodeJS.ProcessEnv, extra: string[] = []): void {
  if (ids.length === 0) return;
  const bin = which('scancel', env);
  if (bin) spawnSync(bin, [...extra, ...ids], { encoding: 'utf8', env });
}

/** Write the scripts (and with `submit`, submit them). See the file comment. */
export async function launchSlurm(config: Config, opts: SlurmLaunchOptions): Promise<SlurmLaunchResult> {
  const env = opts.env ?? process.env;
  const warnings: string[] = [];
  const configFile = path.resolve(opts.configFile);
  if (opts.resubmitMissing) return resubmitMissing(config, opts, env);
  // Everything that can refuse is checked before the first file is written.
  const sbatchBin = opts.submit ? which('sbatch', env) : null;
  if (opts.submit && !sbatchBin) {
    throw new LaunchError('sbatch is not on PATH: run on a Slurm login node (or load the Slurm module); without --submit the scripts are written for you to submit', 4);
  }
  const { runDir, previous } = checkRunFolder(config, opts.shards, Boolean(opts.force));
  checkShardable(config, opts.stages, opts.shards);
  if (config.selection.partitions === 'auto' && config.selection.partitionSize === undefined && opts.shards > 1) {
    warnings.push(
      `selection.partitions is "auto": the selection is cut into ${opts.shards} partitions, one per shard, so it equals a one-process run only with selection.partitions: ${opts.shards} (set it to keep results independent of the shard count)`,
    );
  }
  const steps = stepsOf(opts.stages);
  const paths = launchPaths(runDir);
  if (previous && opts.force) {
    await rm(paths.stateDir, { recursive: true, force: true });
    await forgetTasks(runDir);
  }
  const plan = newPlan(config, { configFile, overrides: opts.overrides, shards: opts.shards, runDir, steps, engine: 'slurm', jobs: previous && !opts.force ? previous.jobs : [] });
  const scripts = steps.map((step, i) => ({ step, file: scriptPath(runDir, i, step) }));
  // Slurm opens the --output files before the task starts: their folder must exist.
  await mkdir(paths.logsDir, { recursive: true });
  for (const s of scripts) await writeFileAtomic(s.file, renderSbatch(config, s.step, opts.shards, runDir, configFile, opts.overrides));
  await writePlan(runDir, plan);
  const submitted = opts.submit
    ? await submitChain(sbatchBin!, env, runDir, plan, scripts.map((s) => ({ step: s.step, file: s.file, array: s.step.array ? `0-${opts.shards - 1}` : null, explicitArray: false })))
    : [];
  return { plan, scripts, submitted, warnings };
}

async function resubmitMissing(config: Config, opts: SlurmLaunchOptions, env: NodeJS.ProcessEnv): Promise<SlurmLaunchResult> {
  const sbatchBin = which('sbatch', env);
  if (!sbatchBin) throw new LaunchError('sbatch is not on PATH: --resubmit-missing submits jobs, run it where Slurm is installed', 4);
  const runDir = path.resolve(config.runDir!);
  const plan = readPlan(runDir);
  if (!plan) throw new LaunchError(`${launchPaths(runDir).plan}: no launch plan to resubmit from (launch first)`, 3);
  if (plan.shards !== opts.shards && opts.shards !== 0) {
    throw new LaunchError(`${runDir} was launched with --shards ${plan.shards}; --resubmit-missing with --shards ${opts.shards} does not match`, 3);
  }
  if (plan.fingerprint !== runFingerprint(config)) {
    throw new LaunchError(`the config changed since the launch of ${runDir} (fingerprint ${plan.fingerprint}, now ${runFingerprint(config)}): resubmitting would mix two configs`, 3);
  }
  const status = runStatus(config);
  const first = status.steps.findIndex((s) => s.complete < s.tasks);
  if (first < 0) return { plan, scripts: [], submitted: [], warnings: ['every step is complete: nothing to resubmit'] };
  const running = status.steps.slice(first).filter((s) => s.running > 0);
  if (running.length > 0) {
    throw new LaunchError(
      `tasks are still running (${running.map((s) => `${s.step}: ${s.running}`).join(', ')}); wait for them (avcurate status --wait) or scancel them, then resubmit`,
      3,
    );
  }
  const chain: ChainEntry[] = [];
  for (let i = first; i < plan.steps.length; i++) {
    const step = plan.steps[i];
    const file = scriptPath(runDir, i, step);
    if (!existsSync(file)) throw new LaunchError(`${file}: the script of step ${step.name} is gone; launch again without --resubmit-missing`, 3);
    const array = step.array ? (i === first ? status.steps[i].resubmit : `0-${plan.shards - 1}`) : null;
    chain.push({ step, file, array, explicitArray: array !== null });
  }
  // Jobs of this run still queued wait on a failed step and would never start: cancel them.
  scancel(plan.jobs.map((j) => j.jobId), env, ['--state=PENDING']);
  const submitted = await submitChain(sbatchBin, env, runDir, plan, chain);
  return { plan, scripts: chain.map(({ step, file }) => ({ step, file })), submitted, warnings: [] };
}

/** One script to submit: its step, its array indices, and whether they go on the command line (a resubmission) or stand in the script. */
interface ChainEntry {
  step: Step;
  file: string;
  array: string | null;
  explicitArray: boolean;
}

/**
 * Submit `chain` in order, each job after the previous one (afterok); record the jobs in the plan.
 * A failed submission cancels what was submitted, so no half chain is left behind.
 */
async function submitChain(sbatchBin: string, env: NodeJS.ProcessEnv, runDir: string, plan: PlanFile, chain: ChainEntry[]): Promise<SlurmLaunchResult['submitted']> {
  const submitted: SlurmLaunchResult['submitted'] = [];
  let prev: string | null = null;
  try {
    for (const c of chain) {
      const id = sbatch(sbatchBin, [...(c.explicitArray ? [`--array=${c.array}`] : []), ...(prev ? [`--dependency=afterok:${prev}`, '--kill-on-invalid-dep=yes'] : []), c.file], env);
      submitted.push({ step: c.step, jobId: id, array: c.array });
      prev = id;
    }
  } catch (err) {
    scancel(submitted.map((j) => j.jobId), env);
    throw err;
  }
  plan.jobs.push(...submitted.map((j) => ({ step: j.step.name, jobId: j.jobId, array: j.array, submittedAt: new Date().toISOString() })));
  await writePlan(runDir, plan);
  return submitted;
}
