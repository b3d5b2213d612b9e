import type { CommandModule } from 'yargs';
import { UserError } from '../errors.js';

interface Args {
  file?: string;
  config?: string;
  set?: string[];
  quiet: boolean;
  parallel?: number;
  'in-process': boolean;
}

export const command: CommandModule<object, Args> = {
  command: 'experiment [file]',
  describe: 'curate, pretrain every arm (curated, random, contrastive, clean, pool) over seeds, probe them → results.json + report.html',
  builder: (y) =>
    y
      .positional('file', { type: 'string', describe: 'experiment config (YAML)' })
      .option('config', { alias: 'c', type: 'string', describe: 'experiment config (YAML), instead of the positional file' })
      .option('set', { type: 'string', array: true, describe: 'override a config key, e.g. --set experiment.seeds=[0]' })
      .option('quiet', { alias: 'q', type: 'boolean', default: false, describe: 'no progress output' })
      .option('parallel', { type: 'number', describe: 'arm processes at once (default: experiment.parallel, else the number of cores)' })
      .option('in-process', { type: 'boolean', default: false, describe: 'train arms one after another in this process (debugging)' }) as never,
  handler: async (a) => {
    const file = a.file ?? a.config;
    if (!file) throw new UserError('name the experiment config: avcurate experiment configs/x.yaml', 2);
    if (a.quiet) process.env.AVCURATE_QUIET = '1';
    if (a.parallel !== undefined && (!Number.isInteger(a.parallel) || a.parallel < 1)) throw new UserError(`--parallel must be a positive integer, got ${a.parallel}`, 2);
    const [{ loadConfig, snapshotConfig }, { runExperiment }] = await Promise.all([import('../../config/load.js'), import('../../experiments/runner.js')]);
    const config = loadConfig(file, a.set ?? []);
    await snapshotConfig(config);
    const out = await runExperiment(config, { silent: a.quiet, parallel: a.parallel, inProcess: a['in-process'] });
    process.stdout.write(`${out.table}\n\nresults: ${out.resultsFile}\nreport:  ${out.reportFile}\n`);
  },
};
