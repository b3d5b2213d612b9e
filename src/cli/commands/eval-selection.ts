import type { CommandModule } from 'yargs';
import { prepareStage, withStageOptions, type StageArgs, displayPath } from '../common.js';
import { UserError } from '../errors.js';

interface Args extends StageArgs {
  truth?: string;
  selection?: string;
  out?: string;
  method?: 'mi' | 'random' | 'contrastive';
  ratio?: number;
}

export const command: CommandModule<object, Args> = {
  command: 'eval-selection',
  describe: 'precision and recall of every prefix of selection.csv against ground truth → selection.eval.json',
  builder: (y) =>
    withStageOptions(y)
      .option('truth', { type: 'string', describe: 'labels.jsonl or manifest.jsonl with "corresponds" (default: the run manifest, else corpus/labels.jsonl)' })
      .option('method', { type: 'string', choices: ['mi', 'random', 'contrastive'], describe: 'evaluate this method\'s ranking (default: selection.method → selection.csv; another → selection.<method>.csv)' })
      .option('selection', { type: 'string', describe: 'ranking file to evaluate (overrides --method)' })
      .option('out', { type: 'string', describe: 'output JSON (default: beside the ranking, selection[.<method>].eval.json)' })
      .option('ratio', { type: 'number', describe: 'also report the top this fraction of the pool (default: evaluation.topRatio)' }) as never,
  handler: async (a) => {
    const { config } = await prepareStage(a);
    const { runEvalSelection, SelectionInputError } = await import('../../curation/selection/index.js');
    try {
      const r = await runEvalSelection(config, { truth: a.truth, method: a.method, selection: a.selection, out: a.out, ratio: a.ratio, silent: a.quiet });
      process.stdout.write(`${r.text}\n  → ${displayPath(r.file)}\n`);
    } catch (err) {
      if (err instanceof SelectionInputError) throw new UserError(err.message);
      throw err;
    }
  },
};
