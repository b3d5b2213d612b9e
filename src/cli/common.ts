/** Options shared by stage commands, and the config loading they all do. */
import path from 'node:path';
import type { Argv } from 'yargs';
import type { Config } from '../config/schema.js';
import type { ShardSpec } from '../runtime/shard.js';

export interface StageArgs {
  config: string;
  set?: string[];
  shard?: string;
  quiet?: boolean;
}

export function withStageOptions<T>(y: Argv<T>): Argv<T & StageArgs> {
  return y
    .option('config', { alias: 'c', type: 'string', demandOption: true, describe: 'YAML config file' })
    .option('set', { type: 'string', array: true, describe: 'override a config key, e.g. --set selection.ratio=0.1' })
    .option('shard', { type: 'string', describe: 'do shard i of n (i/n); else SLURM_ARRAY_TASK_ID/COUNT or JOB_COMPLETION_INDEX' })
    .option('quiet', { alias: 'q', type: 'boolean', default: false, describe: 'no progress output' }) as Argv<T & StageArgs>;
}

/** Load and validate the config (before any work), apply --quiet, snapshot it into the run folder. */
export async function prepareStage(args: StageArgs): Promise<{ config: Config; shard: ShardSpec }> {
  if (args.quiet) process.env.AVCURATE_QUIET = '1';
  // Loaded here, not at the top, so that `--help` and argument errors never load yaml and zod.
  const [{ loadConfig, snapshotConfig }, { resolveShard }] = await Promise.all([import('../config/load.js'), import('../runtime/shard.js')]);
  const config = loadConfig(args.config, args.set ?? []);
  const shard = resolveShard(args.shard);
  await snapshotConfig(config);
  return { config, shard };
}

// How the CLI prints paths: relative to the working directory when every path of the line is
// below it, else all absolute, so one output line never mixes the two forms.

function below(p: string): string | null {
  const rel = path.relative(process.cwd(), path.resolve(p));
  return rel === '' ? '.' : rel.startsWith('..') || path.isAbsolute(rel) ? null : rel;
}

/** The paths of one output line, in one form (see above). */
export function displayPaths(...paths: string[]): string[] {
  const rel = paths.map(below);
  return rel.every((r) => r !== null) ? (rel as string[]) : paths.map((p) => path.resolve(p));
}

/** One path as the CLI prints it. */
export function displayPath(p: string): string {
  return displayPaths(p)[0];
}
