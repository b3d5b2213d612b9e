/**
 * One task of a sharded run (`avcurate launch task STEP --config cfg --shard i/n`): what a Slurm
 * array task or a Kubernetes Indexed Job pod runs. It checks the run folder before any work (the
 * shared folder is there, the config is the one launched, the shard count matches the plan, the
 * step before is complete with this config), records itself in launch/state/<step>/<i>.json
 * while it runs (a heartbeat) and when it failed (the reason), and runs the stage command as a
 * child process (the same CLI a user types), its output copied into launch/logs/<step>-<i>.log.
 * That a task is done is said by the stage ledger alone (src/run/ledger.ts): a record
 * stages/launch-task/<step>_<i>-of-<n>.json keyed on the launched config's fingerprint, written
 * when its stage command succeeded (whose own ledger records skip its finished work on a rerun);
 * the state file then goes.
 */
import { spawn } from 'node:child_process';
import { createWriteStream, existsSync, readFileSync, rmSync, statSync, mkdirSync } from 'node:fs';
import { hostname } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Config } from '../config/schema.js';
import { writeFileAtomicSync } from '../runtime/atomic.js';
import { forgetStage, markDone, stageDoneSync, stageRecordFile, type StageCheck, type StageInputs } from '../run/ledger.js';
import { rm } from 'node:fs/promises';
import { LaunchError, STEP_NAMES, launchPaths, readPlan, runFingerprint, stepByName, taskCount, type StepName } from './plan.js';

/** A task's state while it runs or after it failed (launch/state/<step>/<i>.json); done is the ledger's record (taskDone). */
export interface TaskRecord {
  format: 'avcurate.launch-task';
  step: StepName;
  index: number;
  count: number;
  /** 'done' only in files of an older avcurate: never trusted (the ledger says done). */
  state: 'running' | 'done' | 'failed';
  fingerprint: string;
  host: string;
  pid: number;
  startedAt: string;
  heartbeatAt: string;
  finishedAt?: string;
  /** Why it failed (failed), or what it did (done). */
  reason?: string;
  exitCode?: number;
  /** Slurm job id / Kubernetes pod name, when known. */
  job?: string;
}

/** Seconds between heartbeats of a running task, and the age after which a silent one counts as dead. */
export const HEARTBEAT_SECONDS = 10;
export const STALE_SECONDS = 90;

export function readTaskRecord(file: string): TaskRecord | null {
  if (!existsSync(file)) return null;
  try {
    const r = JSON.parse(readFileSync(file, 'utf8')) as TaskRecord;
    if (r.format !== 'avcurate.launch-task') return null;
    return r;
  } catch {
    return null;
  }
}

/** The ledger's stage of a launched task (stages/launch-task/<step>_<i>-of-<n>.json). */
export const LAUNCH_TASK_STAGE = 'launch-task';

/** What a done task's ledger record keeps. */
export interface TaskDone {
  host: string;
  pid: number;
  job?: string;
  startedAt: string;
  /** What it did (the stage commands' last lines). */
  note: string;
}

/** A task's ledger entry: its record name and its fingerprint (the launched config's fingerprint, the step, index and count). */
export function taskEntry(runFp: string, step: StepName, index: number, count: number): { shard: string; inputs: StageInputs } {
  return { shard: `${step}/${index}-of-${count}`, inputs: { config: { launch: runFp }, inputs: { task: { step, index, count } } } };
}

/** Is task `index` of `step` done with the launched config (`runFp`)? The ledger's answer. */
export function taskDone(runDir: string, runFp: string, step: StepName, index: number, count: number): StageCheck<TaskDone> {
  const e = taskEntry(runFp, step, index, count);
  return stageDoneSync<TaskDone>(runDir, LAUNCH_TASK_STAGE, e.inputs, { shard: e.shard });
}

/** Record task `index` of `step` as done (the ledger's record; its state file goes). */
export async function markTaskDone(runDir: string, runFp: string, step: StepName, index: number, count: number, done: TaskDone, seconds = 0): Promise<void> {
  const e = taskEntry(runFp, step, index, count);
  await markDone(runDir, LAUNCH_TASK_STAGE, e.inputs, { shard: e.shard, summary: done, seconds });
}

/** Forget every task's done record (a forced relaunch: every task runs again; their stages still skip finished work). */
export async function forgetTasks(runDir: string): Promise<void> {
  await rm(path.dirname(stageRecordFile(runDir, LAUNCH_TASK_STAGE, '_')), { recursive: true, force: true });
}

/** The avcurate command line of this package: node + bin/avcurate.js. */
export function defaultAvcurateCommand(): string[] {
  const bin = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'bin', 'avcurate.js');
  return [process.execPath, bin];
}

/** The stage command lines (after `avcurate`) of a step, for shard i/n. */
export function stepCommands(step: StepName, index: number, count: number, shards = count): string[][] {
  const sh = ['--shard', `${index}/${count}`];
  switch (step) {
    case 'corpus':
      return [['curate', '--until', 'synth']];
    case 'ingest':
      return [['launch', 'ingest-shard', ...sh]];
    case 'ingest-merge':
      return [['launch', 'ingest-merge', '--shards', String(shards)]];
    case 'extract':
      return [['extract', ...sh]];
    case 'cluster-sample':
      return [['cluster', '--sample-only', ...sh]];
    case 'cluster-fit':
      return [['cluster', '--fit-only']];
    case 'cluster':
      return [['cluster', '--no-merge', ...sh]];
    case 'cluster-merge':
      return [['cluster']];
    case 'select':
      return [['select', '--no-merge', ...sh]]; // rows of its partitions only; select-merge loads the pool once
    case 'select-merge':
      return [['select']];
    case 'export':
      return [['export', '--no-merge', ...sh]]; // rank blocks b with b mod n = i, byte-identical to one process
    case 'export-merge':
      return [['export']]; // finds every block done: writes shards.json
  }
}

export interface TaskOptions {
  /** The config file as given (passed on to the stage commands) and the --set overrides. */
  configFile: string;
  overrides: string[];
  /** How to run avcurate for the child commands (default: this package's bin). */
  avcurate?: string[];
  /** Job id for the record (default: SLURM_JOB_ID_SLURM_ARRAY_TASK_ID, or HOSTNAME in a pod). */
  job?: string;
}

/** Checks before any work; throws LaunchError (exit code 3) naming what is wrong. */
export function checkTask(config: Config, stepName: StepName, index: number, count: number): void {
  const runDir = config.runDir!;
  const step = stepByName(stepName);
  if (!existsSync(runDir)) {
    throw new LaunchError(
      `run folder ${path.resolve(runDir)} does not exist on ${hostname()}: the run folder must be on storage shared by every node (is it mounted here?); launch creates it`,
      3,
    );
  }
  const plan = readPlan(runDir);
  if (!plan) throw new LaunchError(`${launchPaths(runDir).plan}: no launch plan (run "avcurate launch slurm|k8s --config ..." first)`, 3);
  const fp = runFingerprint(config);
  if (plan.fingerprint !== fp) {
    throw new LaunchError(
      `the config changed since the launch: ${config.configFile ?? 'the config'} now has fingerprint ${fp}, the run in ${runDir} was launched with ${plan.fingerprint}. ` +
        `Finished stages would mix two configs: restore the config, or launch again into another run folder`,
      3,
    );
  }
  const expected = taskCount(step, plan.shards);
  if (count !== expected) {
    throw new LaunchError(`step ${stepName} of ${runDir} runs as ${expected} task(s) (launched with --shards ${plan.shards}), this task says ${index}/${count}`, 3);
  }
  if (!Number.isInteger(index) || index < 0 || index >= count) throw new LaunchError(`step ${stepName}: index ${index} outside 0..${count - 1}`, 2);
  // The step before this one in the plan must be complete, with this config.
  const names = plan.steps.map((s) => s.name);
  const at = names.indexOf(stepName);
  if (at < 0) throw new LaunchError(`step ${stepName} is not part of the launch plan of ${runDir} (steps: ${names.join(', ')})`, 3);
  if (at > 0) {
    const prev = plan.steps[at - 1];
    const n = taskCount(prev, plan.shards);
    const notDone: number[] = [];
    for (let i = 0; i < n; i++) {
      const c = taskDone(runDir, fp, prev.name, i, n);
      // A valid record of this task that does not hold: its key (the launched config) differs.
      if (!c.done && c.record) {
        throw new LaunchError(`step ${prev.name} task ${i} was done with another config (${c.reason}; ${c.file}): the config changed between stages; launch again from ${prev.stage}`, 3);
      }
      if (!c.done) notDone.push(i);
    }
    if (notDone.length > 0) {
      throw new LaunchError(`step ${stepName} needs ${prev.name} complete first; ${notDone.length} of ${n} task(s) are not (indices ${notDone.join(',')}; see "avcurate status")`, 3);
    }
  }
}

function nowIso(): string {
  return new Date().toISOString();
}

/**
 * Run one task. Returns the exit code (0 done, the child's code when it failed, 143 when stopped
 * by SIGTERM). A rerun of a finished task runs its stage command again, which skips the finished
 * work it finds (every stage resumes), so a record never hides changed inputs.
 */
export async function runTask(config: Config, stepName: StepName, index: number, count: number, opts: TaskOptions): Promise<number> {
  if (!(STEP_NAMES as readonly string[]).includes(stepName)) throw new LaunchError(`unknown step "${stepName}" (steps: ${STEP_NAMES.join(', ')})`);
  checkTask(config, stepName, index, count);
  const runDir = config.runDir!;
  const paths = launchPaths(runDir);
  const fp = runFingerprint(config);
  const stateFile = paths.state(stepName, index);
  // Run again: not done until it succeeds this time.
  await forgetStage(runDir, LAUNCH_TASK_STAGE, taskEntry(fp, stepName, index, count).shard);
  const job =
    opts.job ??
    (process.env.SLURM_JOB_ID ? `${process.env.SLURM_ARRAY_JOB_ID ?? process.env.SLURM_JOB_ID}${process.env.SLURM_ARRAY_TASK_ID !== undefined ? `_${process.env.SLURM_ARRAY_TASK_ID}` : ''}` : process.env.HOSTNAME);
  const record: TaskRecord = {
    format: 'avcurate.launch-task',
    step: stepName,
    index,
    count,
    state: 'running',
    fingerprint: fp,
    host: hostname(),
    pid: process.pid,
    startedAt: nowIso(),
    heartbeatAt: nowIso(),
    job,
  };
  const save = () => writeFileAtomicSync(stateFile, JSON.stringify(record, null, 2) + '\n');
  save();
  const beat = setInterval(() => {
    record.heartbeatAt = nowIso();
    try {
      save();
    } catch {
      /* the next beat retries */
    }
  }, HEARTBEAT_SECONDS * 1000);
  beat.unref();
  mkdirSync(paths.logsDir, { recursive: true });
  const logFile = createWriteStream(paths.log(stepName, index), { flags: 'a' });
  logFile.write(`== ${nowIso()} ${stepName} ${index}/${count} on ${record.host} (pid ${process.pid}${job ? `, job ${job}` : ''})\n`);
  const avcurate = opts.avcurate ?? defaultAvcurateCommand();
  const base = ['--config', opts.configFile, ...opts.overrides.flatMap((o) => ['--set', o])];
  let child: ReturnType<typeof spawn> | null = null;
  let stoppedBy: NodeJS.Signals | null = null;
  const onSignal = (sig: NodeJS.Signals) => {
    stoppedBy = sig;
    child?.kill(sig);
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
  const t0 = performance.now();
  let finished = false;
  const finish = async (state: 'done' | 'failed', reason: string, exitCode: number) => {
    clearInterval(beat);
    record.state = state;
    record.reason = reason;
    record.exitCode = exitCode;
    record.finishedAt = nowIso();
    record.heartbeatAt = record.finishedAt;
    if (state === 'done') {
      // Done is the ledger's record; the state file (running, failed) has nothing more to say.
      await markTaskDone(runDir, fp, stepName, index, count, { host: record.host, pid: record.pid, job: record.job, startedAt: record.startedAt, note: reason }, (performance.now() - t0) / 1000);
      rmSync(stateFile, { force: true });
    } else save();
    finished = true;
    logFile.write(`== ${record.finishedAt} ${stepName} ${index}/${count}: ${state}${state === 'failed' ? `: ${reason}` : ''}\n`);
  };
  try {
    const notes: string[] = [];
    const shards = readPlan(runDir)!.shards;
    for (const args of stepCommands(stepName, index, count, shards)) {
      const argv = [...avcurate.slice(1), ...args, ...base];
      logFile.write(`$ ${[avcurate[0], ...argv].join(' ')}\n`);
      let tail = '';
      const code = await new Promise<number>((resolve) => {
        child = spawn(avcurate[0], argv, { stdio: ['ignore', 'pipe', 'pipe'], env: process.env });
        const pipe = (src: NodeJS.ReadableStream, dst: NodeJS.WriteStream) =>
          src.on('data', (b: Buffer) => {
            dst.write(b);
            logFile.write(b);
            tail = (tail + b.toString()).slice(-2000);
          });
        pipe(child.stdout!, process.stdout);
        pipe(child.stderr!, process.stderr);
        child.on('error', (err) => {
          tail += `\ncannot start ${avcurate[0]}: ${err.message}`;
          resolve(127);
        });
        child.on('close', (c, sig) => resolve(c ?? (sig === 'SIGKILL' ? 137 : 143)));
      });
      child = null;
      if (stoppedBy) {
        await finish('failed', `stopped by ${stoppedBy} (cancelled, preempted or over the time limit)`, 143);
        return 143;
      }
      if (code !== 0) {
        const last = tail.trim().split('\n').filter((l) => /avcurate:|Error|error/.test(l)).pop() ?? tail.trim().split('\n').pop() ?? '';
        await finish('failed', `"avcurate ${args[0]}" exited with code ${code}${last ? `: ${last.replace(/^avcurate:\s*/, '')}` : ''}`, code);
        return code;
      }
      notes.push(tail.trim().split('\n').filter((l) => !/^\s*$/.test(l)).pop() ?? '');
    }
    if (stepName === 'select-merge') notes.push(await evaluateIfTruth(config));
    await finish('done', notes.filter(Boolean).join('; ').slice(0, 500), 0);
    return 0;
  } catch (err) {
    if (!finished) await finish('failed', (err as Error).message, 1);
    throw err;
  } finally {
    process.removeListener('SIGTERM', onSignal);
    process.removeListener('SIGINT', onSignal);
    await new Promise<void>((r) => logFile.end(r));
  }
}

/** Precision of the selection against ground truth when the corpus has it (else a note). */
async function evaluateIfTruth(config: Config): Promise<string> {
  const { runEvalSelection } = await import('../curation/selection/eval-stage.js');
  try {
    const r = await runEvalSelection(config, { silent: true });
    return `precision ${r.summary.atPositives.precision.toFixed(3)} at the true-positive count`;
  } catch (err) {
    if (/no ground truth/.test((err as Error).message)) return 'no ground truth to evaluate';
    throw err;
  }
}

/** Age in seconds of a task record's last heartbeat (file time when newer). */
export function heartbeatAge(file: string, r: TaskRecord, now = Date.now()): number {
  let t = Date.parse(r.heartbeatAt);
  try {
    t = Math.max(t, statSync(file).mtimeMs);
  } catch {
    /* gone */
  }
  return (now - t) / 1000;
}
