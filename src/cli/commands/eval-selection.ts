import type { CommandModule } from 'yargs';
import { prepareStage, withStageOptions, type StageArgs } from '../common.js';
import { UserError } from '../errors.js';

interface Args extends StageArgs {
  truth?: string;
  selection?: string;
  out?: string;
  ratio: number;
}

export const command: CommandModule<object, Args> = {
  command: 'eval-selection',
  describe: 'precision and recall of every prefix of selection.csv against ground truth → selection.eval.json',
  builder: (y) =>
    withStageOptions(y)
      .option('truth', { type: 'string', describe: 'labels.jsonl or manifest.jsonl with "corresponds" (default: the run manifest, else corpus/labels.jsonl)' })
      .option('selection', { type: 'string', describe: 'ranking to evaluate (default <runDir>/selection.csv)' })
      .option('out', { type: 'string', describe: 'output JSON (default <runDir>/selection.eval.json)' })
      .option('ratio', { type: 'number', default: 0.2, describe: 'also report the top this fraction of the pool' }) as never,
  handler: async (a) => {
    const { config } = await prepareStage(a);
    const { runEvalSelection, SelectionInputError } = await import('../../curation/selection/index.js');
    try {
      const r = await runEvalSelection(config, { truth: a.truth, selection: a.selection, out: a.out, ratio: a.ratio, silent: a.quiet });
      process.stdout.write(`${r.text}\n  → ${r.file}\n`);
    } catch (err) {
      if (err instanceof SelectionInputError) throw new UserError(err.message);
      throw err;
    }
  },
};
