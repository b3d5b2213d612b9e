/**
 * The plan of a sharded run: which steps run, in what order, as arrays of `shards` tasks or as
 * single jobs, and the files that record it in the run folder.
 *
 *   <run>/launch/plan.json                   shards, steps, config fingerprint, submitted job ids
 *   <run>/launch/state/<step>/<index>.json   one record per task: running (heartbeat), done, failed
 *   <run>/launch/logs/<step>-<index>.log     stdout+stderr of the task (Slurm --output / kubectl logs)
 *   <run>/launch/NN-<step>.sbatch            Slurm scripts; k8s/*.yaml Kubernetes manifests
 *
 * A user names stages (ingest, extract, cluster, select, export); each expands into steps:
 *
 *   ingest   → corpus (single: synthesise the corpus when configured)
 *              ingest (array: probe and cut shard i's contiguous range of the input list)
 *              ingest-merge (single: the parts in order → manifest.jsonl, failures.jsonl)
 *   extract  → extract (array)
 *   cluster  → cluster-sample (array: each shard's seeded reservoir of fitting rows)
 *              cluster-fit (single: merge the reservoirs, fit k-means once)
 *              cluster (array: assign), cluster-merge (single: streaming merge → clusters.h5)
 *   select   → select (array: the shard's partitions), select-merge (single: merge → selection.csv, evaluate)
 *   export   → export (array: rank blocks b with b mod n = i → tars), export-merge (single: shards.json)
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type { Config } from '../config/schema.js';
import { writeJsonAtomic } from '../runtime/atomic.js';

export const USER_STAGES = ['ingest', 'extract', 'cluster', 'select', 'export'] as const;
export type UserStage = (typeof USER_STAGES)[number];

export const STEP_NAMES = ['corpus', 'ingest', 'ingest-merge', 'extract', 'cluster-sample', 'cluster-fit', 'cluster', 'cluster-merge', 'select', 'select-merge', 'export', 'export-merge'] as const;
export type StepName = (typeof STEP_NAMES)[number];

export interface Step {
  name: StepName;
  stage: UserStage;
  /** True: an array of `shards` tasks; false: one task (index 0 of 1). */
  array: boolean;
}

const EXPANSION: Record<UserStage, Step[]> = {
  ingest: [
    { name: 'corpus', stage: 'ingest', array: false },
    { name: 'ingest', stage: 'ingest', array: true },
    { name: 'ingest-merge', stage: 'ingest', array: false },
  ],
  extract: [{ name: 'extract', stage: 'extract', array: true }],
  cluster: [
    { name: 'cluster-sample', stage: 'cluster', array: true },
    { name: 'cluster-fit', stage: 'cluster', array: false },
    { name: 'cluster', stage: 'cluster', array: true },
    { name: 'cluster-merge', stage: 'cluster', array: false },
  ],
  select: [
    { name: 'select', stage: 'select', array: true },
    { name: 'select-merge', stage: 'select', array: false },
  ],
  export: [
    { name: 'export', stage: 'export', array: true },
    { name: 'export-merge', stage: 'export', array: false },
  ],
};

/** A problem with the launch the user can act on; `exitCode` 2 = usage, 3 = run-folder state. */
export class LaunchError extends Error {
  constructor(
    message: string,
    readonly exitCode = 2,
  ) {
    super(message);
    this.name = 'LaunchError';
  }
}

/** Refuse (exit code 2) a config whose steps cannot run sharded. */
export function checkShardable(config: Config, stages: readonly UserStage[], shards: number): void {
  if (config.selection.method === 'contrastive') throw new LaunchError('selection.method "contrastive" trains one model over the whole pool: run "avcurate select" in one process', 2);
  if (stages.includes('export') && shards > 1 && config.loader.export.maxBytes !== undefined) {
    throw new LaunchError(
      `loader.export.maxBytes is set: shards rolled over by size depend on every clip before them, so the export cannot be cut into ${shards} processes; set loader.export.maxCount (samples per shard) instead, or leave export out of --stages and run "avcurate export" in one process`,
      2,
    );
  }
}

/** Parse `--stages a,b,c` (default: all), in pipeline order; unknown names are refused. */
export function parseStages(text?: string | string[]): UserStage[] {
  if (text === undefined) return [...USER_STAGES];
  const names = (Array.isArray(text) ? text : [text])
    .flatMap((t) => t.split(','))
    .map((s) => s.trim())
    .filter(Boolean);
  if (names.length === 0) throw new LaunchError('--stages is empty; name one or more of ' + USER_STAGES.join(', '));
  for (const n of names) {
    if (!(USER_STAGES as readonly string[]).includes(n)) throw new LaunchError(`--stages: unknown stage "${n}" (stages: ${USER_STAGES.join(', ')})`);
  }
  return USER_STAGES.filter((s) => names.includes(s));
}

export function stepsOf(stages: UserStage[]): Step[] {
  return stages.flatMap((s) => EXPANSION[s]);
}

export function stepByName(name: string): Step {
  for (const steps of Object.values(EXPANSION)) {
    const s = steps.find((x) => x.name === name);
    if (s) return s;
  }
  throw new LaunchError(`unknown step "${name}" (steps: ${STEP_NAMES.join(', ')})`);
}

/**
 * What decides the results of the curation: every section a stage reads, and the seed. The launch
 * section (resources), the training sections and the config file's own path are left out, so
 * moving a config or changing the partition of a cluster does not invalidate finished work.
 */
export function runFingerprint(config: Config): string {
  const { corpus, ingest, features, clustering, selection, loader, seed, name } = config;
  const { backend: _b, threads: _t, ...clusteringRest } = clustering;
  const payload = { v: 1, name, seed, corpus, ingest, features, clustering: clusteringRest, selection, export: loader.export, decode: loader.decode };
  return createHash('sha256').update(JSON.stringify(payload)).digest('hex').slice(0, 16);
}

export interface PlanFile {
  format: 'avcurate.launch-plan';
  version: 1;
  /** The config file the tasks read (absolute) and the --set overrides given to launch. */
  configFile: string;
  overrides: string[];
  fingerprint: string;
  shards: number;
  runDir: string;
  steps: Step[];
  createdAt: string;
  engine: 'slurm' | 'k8s' | 'local';
  /** Job ids per step, in submission order (Slurm); a resubmission appends. */
  jobs: Array<{ step: StepName; jobId: string; array: string | null; submittedAt: string }>;
}

/** A new launch plan for `config` (fingerprinted now), with the jobs already known. */
export function newPlan(config: Config, o: { configFile: string; overrides: string[]; shards: number; runDir: string; steps: Step[]; engine: PlanFile['engine']; jobs?: PlanFile['jobs'] }): PlanFile {
  return {
    format: 'avcurate.launch-plan',
    version: 1,
    configFile: path.resolve(o.configFile),
    overrides: o.overrides,
    fingerprint: runFingerprint(config),
    shards: o.shards,
    runDir: o.runDir,
    steps: o.steps,
    createdAt: new Date().toISOString(),
    engine: o.engine,
    jobs: o.jobs ?? [],
  };
}

export function launchPaths(runDir: string) {
  const dir = path.join(runDir, 'launch');
  return {
    dir,
    plan: path.join(dir, 'plan.json'),
    stateDir: path.join(dir, 'state'),
    logsDir: path.join(dir, 'logs'),
    k8sDir: path.join(dir, 'k8s'),
    state: (step: StepName, index: number) => path.join(dir, 'state', step, `${index}.json`),
    log: (step: StepName, index: number) => path.join(dir, 'logs', `${step}-${index}.log`),
  };
}

export function readPlan(runDir: string): PlanFile | null {
  const file = launchPaths(runDir).plan;
  if (!existsSync(file)) return null;
  let plan: PlanFile;
  try {
    plan = JSON.parse(readFileSync(file, 'utf8')) as PlanFile;
  } catch (err) {
    throw new LaunchError(`${file}: not readable JSON (${(err as Error).message}); delete it and launch again`, 3);
  }
  if (plan.format !== 'avcurate.launch-plan' || !Number.isInteger(plan.shards) || !Array.isArray(plan.steps)) {
    throw new LaunchError(`${file}: not a launch plan of this version; delete it and launch again`, 3);
  }
  return plan;
}

export async function writePlan(runDir: string, plan: PlanFile): Promise<void> {
  await writeJsonAtomic(launchPaths(runDir).plan, plan);
}

/** The number of tasks of a step in a plan. */
export function taskCount(step: Step, shards: number): number {
  return step.array ? shards : 1;
}

/** sbatch --array syntax of a sorted list of indices: [0,1,2,5,7,8] → "0-2,5,7-8". */
export function arraySyntax(indices: number[]): string {
  const xs = [...new Set(indices)].sort((a, b) => a - b);
  const out: string[] = [];
  for (let i = 0; i < xs.length; ) {
    let j = i;
    while (j + 1 < xs.length && xs[j + 1] === xs[j] + 1) j++;
    out.push(i === j ? String(xs[i]) : `${xs[i]}-${xs[j]}`);
    i = j + 1;
  }
  return out.join(',');
}

/** Inverse of arraySyntax (also accepts a ":step" suffix and a "%N" limit, which it ignores). */
export function parseArraySyntax(text: string): number[] {
  const body = text.replace(/%\d+$/, '');
  const out: number[] = [];
  for (const part of body.split(',').filter(Boolean)) {
    const m = /^(\d+)(?:-(\d+)(?::(\d+))?)?$/.exec(part.trim());
    if (!m) throw new LaunchError(`not an array index list: "${text}"`);
    const a = Number(m[1]);
    const b = m[2] !== undefined ? Number(m[2]) : a;
    const st = m[3] !== undefined ? Number(m[3]) : 1;
    for (let x = a; x <= b; x += st) out.push(x);
  }
  return out;
}
