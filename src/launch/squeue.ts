/**
 * What Slurm says of a launched run's jobs: the array tasks and single jobs still in its queue,
 * pending (with Slurm's reason: Dependency, Priority, Resources, ...) or running. `avcurate status`
 * merges this with the task records, so a task that waits in the queue is "pending", not
 * "missing", and a task that has started but not yet written its record is "running".
 *
 * One `squeue` call over the job ids the launch recorded in plan.json (`-r`: one line per array
 * task); jobs that left the queue are simply absent (their records say how they ended).
 */
import { spawnSync } from 'node:child_process';
import type { PlanFile, StepName } from './plan.js';
import { which } from './which.js';

export interface QueuedTask {
  state: 'pending' | 'running';
  /** Slurm's job id of the task (array tasks as <job>_<index>). */
  job: string;
  /** Slurm's state and, for pending tasks, its reason, e.g. "PENDING (Dependency)". */
  slurm: string;
}

/** step → task index → its queue entry. */
export type QueueView = Map<StepName, Map<number, QueuedTask>>;

const FORMAT = '%F|%K|%T|%r';

/** Slurm states of a task that has a node (or is about to): counted as running. */
const RUNNING = new Set(['RUNNING', 'CONFIGURING', 'COMPLETING', 'SUSPENDED', 'STAGE_OUT', 'SIGNALING', 'RESIZING']);
/** States of a task still waiting for its start. */
const PENDING = new Set(['PENDING', 'REQUEUED', 'REQUEUE_HOLD', 'REQUEUE_FED', 'RESV_DEL_HOLD']);

/**
 * The queue entries of the plan's jobs, or null when Slurm cannot be asked (not a Slurm launch, no
 * job submitted, squeue not on PATH, or squeue failed: the caller then reports from the records
 * alone and says so).
 */
export function queuedTasks(plan: PlanFile, env: NodeJS.ProcessEnv = process.env): { view: QueueView | null; note?: string } {
  if (plan.engine !== 'slurm' || plan.jobs.length === 0) return { view: null };
  const bin = which('squeue', env);
  if (!bin) return { view: null, note: 'squeue is not on PATH: pending tasks show as missing' };
  const stepOf = new Map<string, StepName>();
  for (const j of plan.jobs) stepOf.set(j.jobId, j.step);
  const ids = [...stepOf.keys()];
  let r = spawnSync(bin, ['-h', '-r', '-o', FORMAT, '-j', ids.join(',')], { encoding: 'utf8', env, timeout: 30_000 });
  let out = r.status === 0 ? r.stdout : null;
  if (out === null && !r.error) {
    // Some Slurm versions refuse the whole list when one of its jobs has left the queue: ask per job.
    out = '';
    for (const id of ids) {
      r = spawnSync(bin, ['-h', '-r', '-o', FORMAT, '-j', id], { encoding: 'utf8', env, timeout: 30_000 });
      if (r.status === 0) out += r.stdout;
      else if (r.error || !/invalid job id/i.test(r.stderr ?? '')) return { view: null, note: `squeue failed (${(r.stderr || String(r.error ?? r.status)).trim()}): pending tasks show as missing` };
    }
  }
  if (out === null) return { view: null, note: `cannot run ${bin}: ${r.error?.message}` };
  return { view: parseQueue(out, stepOf) };
}

/** Parse `squeue -h -r -o '%F|%K|%T|%r'` lines into the view (exported for tests). */
export function parseQueue(text: string, stepOf: ReadonlyMap<string, StepName>): QueueView {
  const view: QueueView = new Map();
  for (const line of text.split('\n')) {
    const f = line.trim().split('|');
    if (f.length < 3) continue;
    const [arrayJob, taskId, state, reason] = f;
    const step = stepOf.get(arrayJob);
    if (!step) continue;
    const st = RUNNING.has(state) ? 'running' : PENDING.has(state) ? 'pending' : null;
    if (!st) continue;
    // A single job has no array task id ("N/A", or 4294967294 in some versions): its index is 0.
    const index = /^\d+$/.test(taskId) && Number(taskId) < 4294967294 ? Number(taskId) : 0;
    let tasks = view.get(step);
    if (!tasks) view.set(step, (tasks = new Map()));
    const prev = tasks.get(index);
    if (prev && prev.state === 'running') continue; // running wins over a pending resubmission
    const job = /^\d+$/.test(taskId) && Number(taskId) < 4294967294 ? `${arrayJob}_${taskId}` : arrayJob;
    tasks.set(index, { state: st, job, slurm: st === 'pending' && reason && reason !== 'None' ? `${state} (${reason})` : state });
  }
  return view;
}
