/**
 * `avcurate launch slurm|k8s|task`: write (and submit) the jobs of a sharded curation, and the
 * task runner those jobs call. See src/launch/ and docs/scale.md.
 */
import path from 'node:path';
import type { Argv, CommandModule } from 'yargs';
import { UserError } from '../errors.js';
import type { StepName } from '../../launch/plan.js';

/** launch/plan.ts's STEP_NAMES, spelled here so that `--help` does not load the launch code. */
const STEP_NAMES = ['corpus', 'ingest', 'ingest-merge', 'extract', 'cluster-sample', 'cluster-fit', 'cluster', 'cluster-merge', 'select', 'select-merge', 'export', 'export-merge'] as const satisfies readonly StepName[];
/** Fails to type-check when the plan gains a step this list lacks. */
const everyStep: Exclude<StepName, (typeof STEP_NAMES)[number]> extends never ? true : false = true;
void everyStep;

/** What the handlers need, loaded when one runs (start-up loads no config or launch code). */
async function handlerDeps() {
  const [{ loadConfig, snapshotConfig }, { resolveShard }, { parseStages }] = await Promise.all([
    import('../../config/load.js'),
    import('../../runtime/shard.js'),
    import('../../launch/plan.js'),
  ]);
  return { loadConfig, snapshotConfig, resolveShard, parseStages };
}

interface CommonArgs {
  config: string;
  set?: string[];
}

interface SlurmArgs extends CommonArgs {
  shards?: number;
  stages?: string[];
  submit: boolean;
  'resubmit-missing': boolean;
  force: boolean;
}

interface K8sArgs extends CommonArgs {
  shards: number;
  stages?: string[];
  force: boolean;
}

interface PlanArgs extends CommonArgs {
  shards: number;
  stages?: string[];
  engine: 'slurm' | 'k8s' | 'local';
}

interface IngestShardArgs extends CommonArgs {
  shard?: string;
  quiet: boolean;
}

interface IngestMergeArgs extends CommonArgs {
  shards: number;
}

interface TaskArgs extends CommonArgs {
  step: string;
  shard?: string;
}

function common<T>(y: Argv<T>): Argv<T & CommonArgs> {
  return y
    .option('config', { alias: 'c', type: 'string', demandOption: true, describe: 'YAML config file (the tasks read the same file)' })
    .option('set', { type: 'string', array: true, describe: 'override a config key (passed on to every task)' }) as Argv<T & CommonArgs>;
}

async function translate<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    const { LaunchError } = await import('../../launch/plan.js');
    if (err instanceof LaunchError) throw new UserError(err.message, err.exitCode);
    throw err;
  }
}

const slurm: CommandModule<object, SlurmArgs> = {
  command: 'slurm',
  describe: 'write one sbatch script per step into <run>/launch/ (job arrays over --shards), and with --submit submit them chained by afterok',
  builder: (y) =>
    common(y)
      .option('shards', { type: 'number', describe: 'array tasks per sharded step (required unless --resubmit-missing)' })
      .option('stages', { type: 'string', array: true, describe: 'stages to launch, in order: ingest,extract,cluster,select,export (default: all)' })
      .option('submit', { type: 'boolean', default: false, describe: 'submit the scripts with sbatch and print the job ids' })
      .option('resubmit-missing', { type: 'boolean', default: false, describe: 'submit only the failed/missing tasks of the first incomplete step, and the steps after it' })
      .option('force', { type: 'boolean', default: false, describe: 'discard an earlier plan made with another shard count or config (outputs stay; stages check them)' })
      .check((a) => {
        if (!a['resubmit-missing'] && a.shards === undefined) throw new UserError('give --shards N (array tasks per sharded step)', 2);
        return true;
      }) as never,
  handler: (a) =>
    translate(async () => {
      const { loadConfig, snapshotConfig, parseStages } = await handlerDeps();
      const config = loadConfig(a.config, a.set ?? []);
      const { launchSlurm } = await import('../../launch/slurm.js');
      const r = await launchSlurm(config, {
        shards: a.shards ?? 0,
        stages: parseStages(a.stages),
        configFile: a.config,
        overrides: a.set ?? [],
        submit: a.submit,
        resubmitMissing: a['resubmit-missing'],
        force: a.force,
      });
      if (!a['resubmit-missing']) await snapshotConfig(config);
      for (const w of r.warnings) process.stderr.write(`avcurate: note: ${w}\n`);
      const rel = (p: string) => path.relative(process.cwd(), p) || p;
      if (!a['resubmit-missing']) {
        process.stdout.write(`wrote ${r.scripts.length} sbatch scripts for ${r.plan.shards} shard(s) into ${rel(path.join(r.plan.runDir, 'launch'))}:\n`);
        for (const s of r.scripts) process.stdout.write(`  ${rel(s.file)}  (${s.step.array ? `array 0-${r.plan.shards - 1}` : 'single job'})\n`);
      }
      if (r.submitted.length > 0) {
        process.stdout.write(`submitted:\n`);
        for (const j of r.submitted) process.stdout.write(`  ${j.step.name.padEnd(14)} job ${j.jobId}${j.array !== null ? ` array ${j.array}` : ''}\n`);
        process.stdout.write(`watch with: avcurate status --config ${a.config}\n`);
      } else if (!a.submit && !a['resubmit-missing']) {
        process.stdout.write(`submit them in order with --dependency=afterok, or run again with --submit\n`);
      }
    }),
};

const k8s: CommandModule<object, K8sArgs> = {
  command: 'k8s',
  describe: 'write Kubernetes manifests into <run>/launch/k8s/: the config as a ConfigMap, one Indexed Job per step, ordered by init containers',
  builder: (y) =>
    common(y)
      .option('shards', { type: 'number', demandOption: true, describe: 'completions of each sharded Job' })
      .option('stages', { type: 'string', array: true, describe: 'stages to launch (default: all)' })
      .option('force', { type: 'boolean', default: false, describe: 'discard an earlier plan made with another shard count or config' }) as never,
  handler: (a) =>
    translate(async () => {
      const { loadConfig, snapshotConfig, parseStages } = await handlerDeps();
      const config = loadConfig(a.config, a.set ?? []);
      const { launchK8s } = await import('../../launch/k8s.js');
      const r = await launchK8s(config, { shards: a.shards, stages: parseStages(a.stages), configFile: a.config, overrides: a.set ?? [], force: a.force });
      await snapshotConfig(config);
      for (const w of r.warnings) process.stderr.write(`avcurate: note: ${w}\n`);
      process.stdout.write(`wrote ${r.files.length} manifests into ${path.relative(process.cwd(), r.dir) || r.dir}; apply with: kubectl apply -f ${r.all}\n`);
    }),
};

const plan: CommandModule<object, PlanArgs> = {
  command: 'plan',
  describe: 'write the launch plan into the run folder when absent (what a Kubernetes pod runs first; idempotent)',
  builder: (y) =>
    common(y)
      .option('shards', { type: 'number', demandOption: true })
      .option('stages', { type: 'string', array: true })
      .option('engine', { type: 'string', choices: ['slurm', 'k8s', 'local'], default: 'local' }) as never,
  handler: (a) =>
    translate(async () => {
      const { loadConfig, parseStages } = await handlerDeps();
      const config = loadConfig(a.config, a.set ?? []);
      const { ensurePlan } = await import('../../launch/k8s.js');
      const r = await ensurePlan(config, { shards: a.shards, stages: parseStages(a.stages), configFile: a.config, overrides: a.set ?? [], engine: a.engine });
      process.stdout.write(`${r.written ? 'wrote' : 'up to date:'} ${path.join(r.plan.runDir, 'launch', 'plan.json')} (${r.plan.shards} shard(s), ${r.plan.steps.length} steps)\n`);
    }),
};

const ingestShard: CommandModule<object, IngestShardArgs> = {
  command: 'ingest-shard',
  describe: 'step "ingest" of a launched run: probe and cut shard i of the input list → <run>/ingest/part-*.jsonl',
  builder: (y) =>
    common(y)
      .option('shard', { type: 'string', describe: 'i/n (else SLURM_ARRAY_TASK_ID/COUNT or JOB_COMPLETION_INDEX)' })
      .option('quiet', { alias: 'q', type: 'boolean', default: false }) as never,
  handler: (a) =>
    translate(async () => {
      const { loadConfig, resolveShard } = await handlerDeps();
      const config = loadConfig(a.config, a.set ?? []);
      const shard = resolveShard(a.shard);
      const { runIngestShard } = await import('../../curation/manifest/sharded.js');
      const r = await runIngestShard(config, shard, { silent: a.quiet });
      process.stdout.write(
        r.skipped
          ? `ingest ${shard.index}/${shard.count}: ${path.relative(process.cwd(), r.file) || r.file} is up to date (${r.inputs} inputs)\n`
          : `ingest ${shard.index}/${shard.count}: ${r.inputs} inputs → ${r.records} clips, ${r.failures} refused → ${path.relative(process.cwd(), r.file) || r.file}\n`,
      );
    }),
};

const ingestMerge: CommandModule<object, IngestMergeArgs> = {
  command: 'ingest-merge',
  describe: 'step "ingest-merge" of a launched run: the ingest parts in order → manifest.jsonl, failures.jsonl',
  builder: (y) => common(y).option('shards', { type: 'number', demandOption: true, describe: 'number of ingest parts' }) as never,
  handler: (a) =>
    translate(async () => {
      const { loadConfig } = await handlerDeps();
      const config = loadConfig(a.config, a.set ?? []);
      const { runIngestMerge } = await import('../../curation/manifest/sharded.js');
      const r = await runIngestMerge(config, a.shards);
      const shown = path.relative(process.cwd(), r.manifest) || r.manifest;
      process.stdout.write(r.skipped ? `${shown} is up to date (the run's ingest record holds: ${r.clips} clips, ${r.failures} refused); skipped\n` : `merged ${a.shards} ingest parts: ${r.clips} clips, ${r.failures} refused → ${shown}\n`);
    }),
};

const task: CommandModule<object, TaskArgs> = {
  command: 'task <step>',
  describe: 'run one task of a launched run (what each array task / Job pod runs): checks, records, runs the stage',
  builder: (y) =>
    common(y)
      .positional('step', { type: 'string', demandOption: true, choices: STEP_NAMES as unknown as string[], describe: 'step of the plan' })
      .option('shard', { type: 'string', describe: 'i/n (else SLURM_ARRAY_TASK_ID/COUNT or JOB_COMPLETION_INDEX with AVCURATE_SHARD_COUNT)' }) as never,
  handler: (a) =>
    translate(async () => {
      const { loadConfig, resolveShard } = await handlerDeps();
      const config = loadConfig(a.config, a.set ?? []);
      const shard = resolveShard(a.shard);
      const { runTask } = await import('../../launch/task.js');
      const code = await runTask(config, a.step as StepName, shard.index, shard.count, { configFile: a.config, overrides: a.set ?? [] });
      if (code !== 0) process.exitCode = code;
    }),
};

export const command: CommandModule<object, object> = {
  command: 'launch <engine>',
  describe: 'launch a sharded curation on Slurm (job arrays) or Kubernetes (Indexed Jobs); see docs/scale.md',
  builder: (y) => y.command(slurm as never).command(k8s as never).command(task as never).command(plan as never).command(ingestShard as never).command(ingestMerge as never).demandCommand(1, 'name an engine: slurm, k8s (or task, plan)') as never,
  handler: () => undefined,
};
