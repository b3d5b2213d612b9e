import path from 'node:path';
import type { CommandModule } from 'yargs';
import { prepareStage, withStageOptions, type StageArgs } from '../common.js';
import { UserError } from '../main.js';
import { runSelect, SelectionInputError } from '../../curation/selection/index.js';

interface Args extends StageArgs {
  method?: 'mi' | 'random' | 'contrastive';
  algorithm?: string;
  ratio?: number;
  size?: number;
  force: boolean;
}

/** What the SSL engine's contrastive scorer returns: one score per clip id (higher = keep). */
export interface ContrastiveScores {
  ids: string[];
  scores: ArrayLike<number>;
}

type ContrastiveScorer = (config: unknown, opts: { silent?: boolean }) => Promise<ContrastiveScores>;

/** Load the contrastive scorer from src/ssl (it lives there: curation never imports ssl). */
async function loadContrastiveScorer(): Promise<ContrastiveScorer> {
  const spec = '../../ssl/contrastive-select.js';
  let mod: { contrastiveScores?: unknown };
  try {
    mod = (await import(spec)) as { contrastiveScores?: unknown };
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ERR_MODULE_NOT_FOUND' && String((err as Error).message).includes('contrastive-select')) {
      throw new UserError('selection method "contrastive" is not available in this build (src/ssl/contrastive-select.ts is missing)');
    }
    throw err;
  }
  if (typeof mod.contrastiveScores !== 'function') {
    throw new UserError('src/ssl/contrastive-select.ts does not export contrastiveScores(config, opts)');
  }
  return mod.contrastiveScores as ContrastiveScorer;
}

export const command: CommandModule<object, Args> = {
  command: 'select',
  describe: 'select the clips whose audio and visual clusterings share the most information → selection.csv',
  builder: (y) =>
    withStageOptions(y)
      .option('method', { type: 'string', choices: ['mi', 'random', 'contrastive'], describe: 'selection method (default: selection.method, mi)' })
      .option('algorithm', { type: 'string', choices: ['batch-greedy', 'greedy', 'stochastic-greedy', 'random'], describe: 'MI search (default: selection.algorithm, batch-greedy)' })
      .option('ratio', { type: 'number', describe: 'fraction of each partition to select (default: selection.ratio, 0.2)' })
      .option('size', { type: 'number', describe: 'number of clips to select in all (overrides the ratio)' })
      .option('force', { type: 'boolean', default: false, describe: 'recompute even when a finished selection for this config exists' }) as never,
  handler: async (a) => {
    const sets = [...(a.set ?? [])];
    if (a.method) sets.push(`selection.method=${a.method}`);
    if (a.algorithm) sets.push(`selection.algorithm=${a.algorithm}`);
    if (a.ratio !== undefined) sets.push(`selection.ratio=${a.ratio}`);
    if (a.size !== undefined) sets.push(`selection.size=${a.size}`);
    const { config, shard } = await prepareStage({ ...a, set: sets });
    try {
      let scores: ContrastiveScores | undefined;
      if (config.selection.method === 'contrastive') {
        if (shard.count > 1) throw new UserError('selection method "contrastive" runs in one process (no --shard)');
        const scorer = await loadContrastiveScorer();
        scores = await scorer(config, { silent: a.quiet });
      }
      const r = await runSelect(config, { shard, silent: a.quiet, force: a.force, scores });
      if (r.csv) {
        const rel = path.relative(process.cwd(), r.csv) || r.csv;
        process.stdout.write(
          r.skipped
            ? `${rel} is up to date (${r.selected} of ${r.pool} clips)\n`
            : `selected ${r.selected} of ${r.pool} clips → ${rel} (objective ${r.objective.toFixed(4)}, ${r.seconds.toFixed(2)} s)\n`,
        );
      } else {
        process.stdout.write(`computed partition(s) ${r.computed.join(', ') || 'none'}; waiting for ${r.missing.length} more from other shards\n`);
      }
    } catch (err) {
      if (err instanceof SelectionInputError) throw new UserError(err.message);
      throw err;
    }
  },
};
