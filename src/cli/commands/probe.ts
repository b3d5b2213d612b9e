import type { CommandModule } from 'yargs';
import { displayPath, prepareStage, withStageOptions, type StageArgs } from '../common.js';
import { UserError } from '../errors.js';

interface Args extends StageArgs {
  checkpoint?: string;
  arm?: string;
}

export const command: CommandModule<object, Args> = {
  command: 'probe',
  describe: 'linear probes on frozen SSL embeddings of probe.dataset → probe/<arm>.json',
  builder: (y) =>
    withStageOptions(y)
      .option('checkpoint', { type: 'string', describe: 'pretrained checkpoint: ssl/<arm> output folder, its checkpoints/, or a step folder (default: <runDir>/ssl/<arm>, arm "main")' })
      .option('arm', { type: 'string', describe: 'name of the result file probe/<arm>.json (default: the checkpoint folder name)' }) as never,
  handler: async (a) => {
    const { config } = await prepareStage(a);
    if (!config.probe.dataset) throw new UserError(`${a.config}: set probe.dataset (kind and path) to say what to probe`, 2);
    const { formatProbe, runProbe } = await import('../../ssl/probe/stage.js');
    const checkpoint = a.checkpoint ?? (await import('../../run/layout.js')).runLayout(config.runDir!).sslDir(a.arm ?? 'main');
    const { file, probe } = await runProbe(config, { checkpoint, arm: a.arm, silent: a.quiet });
    process.stdout.write(`${formatProbe(probe)}\nwritten: ${displayPath(file)}\n`);
  },
};
