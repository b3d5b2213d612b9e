import path from 'node:path';
import { existsSync } from 'node:fs';
import type { CommandModule } from 'yargs';
import { prepareStage, withStageOptions, type StageArgs } from '../common.js';
import { UserError } from '../errors.js';

interface Args extends StageArgs {
  data?: string;
  arm: string;
  out?: string;
  resume: boolean;
  steps?: number;
  backend?: string;
}

export const command: CommandModule<object, Args> = {
  command: 'pretrain',
  describe: 'contrastive audio-visual pretraining on clips (shards, selection.csv, manifest.jsonl or a tensor cache) → ssl/<arm>/',
  builder: (y) =>
    withStageOptions(y)
      .option('data', {
        type: 'string',
        describe: 'WebDataset shards ("dir/shard-{000000..000009}.tar", a folder\'s index, or a glob), a selection.csv, a manifest.jsonl, or a tensor cache folder (default: the run\'s shards/ when exported, else its selection.csv)',
      })
      .option('arm', { type: 'string', default: 'main', describe: 'name of this pretraining run inside <runDir>/ssl/' })
      .option('out', { type: 'string', describe: 'output folder (default: <runDir>/ssl/<arm>)' })
      .option('resume', { type: 'boolean', default: false, describe: 'continue from the latest checkpoint in the output folder' })
      .option('steps', { type: 'number', describe: 'total optimiser steps (default: ssl.steps)' })
      .option('backend', { type: 'string', choices: ['auto', 'tfjs-node-gpu', 'tfjs-node', 'wasm', 'cpu'], describe: 'TensorFlow.js backend (default: ssl.backend)' }) as never,
  handler: async (a) => {
    const sets = [...(a.set ?? [])];
    if (a.steps !== undefined) sets.push(`ssl.steps=${a.steps}`);
    if (a.backend) sets.push(`ssl.backend=${a.backend}`);
    const { config } = await prepareStage({ ...a, set: sets });
    if (!/^[A-Za-z0-9._-]+$/.test(a.arm)) throw new UserError(`--arm "${a.arm}": use letters, digits, ".", "_" or "-"`, 2);
    const layout = (await import('../../run/layout.js')).runLayout(config.runDir!);
    // Without --data: the run's exported shards, else its selection (joined with its manifest).
    const source = a.data ?? (existsSync(layout.shardsIndex) ? layout.shardsDir : existsSync(layout.selection()) ? layout.selection() : undefined);
    if (source === undefined) throw new UserError(`pretrain: give --data, or export or select in ${config.runDir} first (neither ${layout.shardsIndex} nor ${layout.selection()} exists)`, 2);
    a.data = source;
    const isRemote = /^https?:\/\//.test(source);
    if (!isRemote && !/[{*?]/.test(source) && !existsSync(source)) throw new UserError(`--data ${source}: no such file or folder`);
    let outDir = a.out ?? layout.sslDir(a.arm);
    const [{ pretrain, sslTrainingBatches }, { rankFromEnv }] = await Promise.all([import('../../ssl/index.js'), import('../../loaders/partition/env.js')]);
    // Rank and world size from torchrun-style (RANK, WORLD_SIZE) or Slurm (SLURM_PROCID,
    // SLURM_NTASKS) variables: each rank reads only its own shards. There is no gradient
    // all-reduce: each rank trains its own replica, in <out>/rank-<r>.
    let dist;
    try {
      dist = rankFromEnv();
    } catch (err) {
      throw new UserError(`pretrain: ${(err as Error).message}`, 2);
    }
    if (dist.world > 1) outDir = path.join(outDir, `rank-${dist.rank}`);
    let data;
    try {
      data = await sslTrainingBatches(source, { ssl: config.ssl, loader: config.loader }, { seed: config.seed, rank: dist.rank, world: dist.world });
    } catch (err) {
      throw new UserError(`--data ${a.data}: ${(err as Error).message}`);
    }
    const r = await pretrain({ outDir, config: config.ssl, seed: config.seed, data, resume: a.resume, silent: a.quiet });
    const last = r.metrics[r.metrics.length - 1];
    const rel = path.relative(process.cwd(), r.outDir) || r.outDir;
    process.stdout.write(
      `trained ${r.step} steps on ${r.backend}` +
        (last ? ` (loss ${last.loss.toFixed(4)}, in-batch a→v ${last.acc_a2v.toFixed(2)}, v→a ${last.acc_v2a.toFixed(2)})` : '') +
        ` → ${rel}/checkpoints, ${rel}/metrics.jsonl\n`,
    );
  },
};
