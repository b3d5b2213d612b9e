/**
 * `avcurate status`: what each step of a launched run has done: complete (the stage ledger's
 * record of the task holds for the launched config: task.ts taskDone), running (a state file in
 * launch/state with a heartbeat younger than STALE_SECONDS), failed (the recorded reason, or a
 * heartbeat gone silent: killed, out of memory, node lost) with the tail of its log, and missing
 * (never started, or done with another config).
 * For a Slurm launch with squeue on PATH, the queue is asked too (squeue.ts): a task waiting in
 * it is pending (with Slurm's reason), one Slurm runs is running even before its record exists.
 */
import { existsSync, readFileSync } from 'node:fs';
import type { Config } from '../config/schema.js';
import { LaunchError, arraySyntax, launchPaths, readPlan, runFingerprint, stepByName, taskCount, type PlanFile, type StepName } from './plan.js';
import { STALE_SECONDS, heartbeatAge, readTaskRecord, taskDone } from './task.js';
import { queuedTasks, type QueuedTask } from './squeue.js';

export type TaskState = 'complete' | 'running' | 'pending' | 'failed' | 'missing';

export interface TaskStatus {
  index: number;
  state: TaskState;
  reason?: string;
  host?: string;
  job?: string;
  logTail?: string[];
}

export interface StepStatus {
  step: StepName;
  stage: string;
  array: boolean;
  tasks: number;
  complete: number;
  running: number;
  /** Waiting in the scheduler's queue (only known when it was asked). */
  pending: number;
  failed: number;
  missing: number;
  /** Indices to resubmit (failed + missing), in sbatch --array syntax ('' when none). */
  resubmit: string;
  detail: TaskStatus[];
}

export interface RunStatus {
  runDir: string;
  shards: number;
  fingerprint: string;
  /** True when the config on disk is no longer the one launched. */
  configChanged: boolean;
  /** Whether Slurm's queue was asked ('squeue'), and why not when it could not be. */
  scheduler: 'squeue' | null;
  schedulerNote?: string;
  steps: StepStatus[];
  complete: boolean;
}

function tail(file: string, lines: number): string[] {
  if (!existsSync(file)) return [];
  const text = readFileSync(file, 'utf8');
  return text.trimEnd().split('\n').slice(-lines);
}

export function stepStatus(
  runDir: string,
  plan: PlanFile,
  step: StepName,
  fingerprint: string,
  now = Date.now(),
  tailLines = 12,
  /** The scheduler's queue entries of this step's tasks, when it was asked. */
  queue?: ReadonlyMap<number, QueuedTask>,
): StepStatus {
  const s = stepByName(step);
  const n = taskCount(s, plan.shards);
  const paths = launchPaths(runDir);
  const detail: TaskStatus[] = [];
  for (let i = 0; i < n; i++) {
    const file = paths.state(step, i);
    const done = taskDone(runDir, fingerprint, step, i, n);
    const r = done.done ? null : readTaskRecord(file);
    let t: TaskStatus;
    if (done.done) t = { index: i, state: 'complete', host: done.record!.summary.host, job: done.record!.summary.job };
    else if (!r || r.state === 'done') {
      // Never started; or done with another config (a ledger record that no longer holds); or a
      // "done" state file of an older avcurate, which the ledger does not trust.
      t = done.record ? { index: i, state: 'missing', reason: `done with another config (${done.reason})` } : r ? { index: i, state: 'missing', reason: 'recorded done by an older avcurate: run it again (its stage skips finished work)' } : { index: i, state: 'missing' };
    } else if (r.state === 'running') {
      const age = heartbeatAge(file, r, now);
      t =
        age <= STALE_SECONDS
          ? { index: i, state: 'running', host: r.host, job: r.job }
          : { index: i, state: 'failed', host: r.host, job: r.job, reason: `no heartbeat for ${Math.round(age)} s: the task died without a record (killed, out of memory, or its node was lost)` };
    } else t = { index: i, state: 'failed', host: r.host, job: r.job, reason: r.reason ?? 'failed' };
    const q = t.state === 'complete' ? undefined : queue?.get(i);
    if (q?.state === 'running') t = { index: i, state: 'running', host: r?.host, job: q.job };
    else if (q?.state === 'pending' && t.state !== 'running') t = { index: i, state: 'pending', job: q.job, reason: q.slurm };
    if (t.state === 'failed') {
      // The task's own log, plus what only Slurm saw (cancellation, time limit, out of memory).
      const slurmOnly = tail(paths.log(step, i).replace(/\.log$/, '.slurm.out'), 40).filter((l) => /slurmstepd|CANCELLED|TIME LIMIT|oom|Killed|error:/i.test(l) && !l.startsWith('avcurate:'));
      t.logTail = [...tail(paths.log(step, i), tailLines), ...slurmOnly.slice(-4)];
    }
    detail.push(t);
  }
  const count = (st: TaskState) => detail.filter((t) => t.state === st).length;
  return {
    step,
    stage: s.stage,
    array: s.array,
    tasks: n,
    complete: count('complete'),
    running: count('running'),
    pending: count('pending'),
    failed: count('failed'),
    missing: count('missing'),
    resubmit: arraySyntax(detail.filter((t) => t.state === 'failed' || t.state === 'missing').map((t) => t.index)),
    detail,
  };
}

export interface RunStatusOptions {
  /** Ask Slurm's queue (squeue) about the run's submitted jobs (default false: the records alone). */
  scheduler?: boolean;
  env?: NodeJS.ProcessEnv;
}

export function runStatus(config: Config, now = Date.now(), opts: RunStatusOptions = {}): RunStatus {
  const runDir = config.runDir!;
  if (!existsSync(runDir)) throw new LaunchError(`run folder ${runDir} does not exist (is the shared storage mounted here? was the run launched?)`, 3);
  const plan = readPlan(runDir);
  if (!plan) throw new LaunchError(`${launchPaths(runDir).plan}: no launch plan; "avcurate status" reports runs started with "avcurate launch slurm|k8s"`, 3);
  const fingerprint = runFingerprint(config);
  const q = opts.scheduler ? queuedTasks(plan, opts.env) : { view: null };
  const steps = plan.steps.map((s) => stepStatus(runDir, plan, s.name, plan.fingerprint, now, 12, q.view?.get(s.name)));
  return {
    runDir,
    shards: plan.shards,
    fingerprint: plan.fingerprint,
    configChanged: fingerprint !== plan.fingerprint,
    scheduler: q.view ? 'squeue' : null,
    ...(q.note ? { schedulerNote: q.note } : {}),
    steps,
    complete: steps.every((s) => s.complete === s.tasks),
  };
}

/**
 * The step a name means. "stage/step" names a step exactly (what the Kubernetes init containers
 * use). For --wait a stage name means its last step (select → select-merge, cluster →
 * cluster-merge): the stage is complete when that is. Otherwise a step name means that step (so
 * --missing select gives the select array's indices), and a stage without a step of its name its
 * last step.
 */
export function resolveStepName(plan: PlanFile, name: string, purpose: 'wait' | 'missing' = 'missing'): StepName {
  const slash = name.indexOf('/');
  if (slash >= 0) {
    const [stage, step] = [name.slice(0, slash), name.slice(slash + 1)];
    const s = plan.steps.find((x) => x.name === step && x.stage === stage);
    if (s) return s.name;
    throw new LaunchError(`"${name}" is not a stage/step of this launch (steps: ${plan.steps.map((x) => `${x.stage}/${x.name}`).join(', ')})`, 2);
  }
  const ofStage = plan.steps.filter((s) => s.stage === name);
  if (purpose === 'wait' && ofStage.length > 0) return ofStage[ofStage.length - 1].name;
  const exact = plan.steps.find((s) => s.name === name);
  if (exact) return exact.name;
  if (ofStage.length > 0) return ofStage[ofStage.length - 1].name;
  throw new LaunchError(`"${name}" is neither a step nor a stage of this launch (steps: ${plan.steps.map((s) => s.name).join(', ')})`, 2);
}

export function formatStatus(st: RunStatus): string {
  const lines: string[] = [];
  lines.push(`run ${st.runDir}: ${st.shards} shard(s), config ${st.fingerprint}${st.configChanged ? ' (the config file has CHANGED since the launch)' : ''}`);
  if (st.schedulerNote) lines.push(`  (${st.schedulerNote})`);
  lines.push(`  ${'step'.padEnd(14)} ${'tasks'.padStart(5)} ${'complete'.padStart(8)} ${'running'.padStart(7)} ${'pending'.padStart(7)} ${'failed'.padStart(6)} ${'missing'.padStart(7)}  resubmit`);
  for (const s of st.steps) {
    lines.push(
      `  ${s.step.padEnd(14)} ${String(s.tasks).padStart(5)} ${String(s.complete).padStart(8)} ${String(s.running).padStart(7)} ${String(s.pending).padStart(7)} ${String(s.failed).padStart(6)} ${String(s.missing).padStart(7)}  ${s.resubmit || '-'}`,
    );
  }
  const waiting = st.steps.flatMap((s) => {
    const p = s.detail.filter((x) => x.state === 'pending');
    return p.length ? [`pending ${s.step} ${arraySyntax(p.map((x) => x.index))}: ${[...new Set(p.map((x) => x.reason ?? 'PENDING'))].join(', ')}`] : [];
  });
  if (waiting.length) lines.push('', ...waiting);
  for (const s of st.steps) {
    for (const t of s.detail.filter((x) => x.state === 'failed')) {
      lines.push(`\n${s.step} ${t.index}${t.job ? ` (job ${t.job}` : ''}${t.host ? `${t.job ? ', ' : ' ('}${t.host})` : t.job ? ')' : ''}: FAILED: ${t.reason}`);
      for (const l of t.logTail ?? []) lines.push(`    | ${l}`);
    }
  }
  lines.push(st.complete ? '\nall steps complete' : '');
  return lines.join('\n').trimEnd() + '\n';
}
