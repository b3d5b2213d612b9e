import type { CommandModule } from 'yargs';
import { prepareStage, withStageOptions, type StageArgs, displayPath } from '../common.js';
import { UserError } from '../errors.js';
import type { Config } from '../../config/schema.js';

interface Args extends StageArgs {
  method?: 'mi' | 'random' | 'contrastive';
  algorithm?: string;
  ratio?: number;
  size?: number;
  out?: string;
  force: boolean;
  merge: boolean;
  continue: boolean;
}

/**
 * Per-clip scores of the contrastive baseline (src/ssl/contrastive-select.ts, the same function
 * the experiment's contrastive arm runs). Loaded lazily so that other commands never load tfjs.
 */
async function contrastiveClipScores(config: Config, quiet: boolean): Promise<{ ids: string[]; scores: Float32Array }> {
  const cfg = config.selection.contrastive;
  const [{ readAllFeatures }, { log }, ssl] = await Promise.all([import('../../curation/features/store.js'), import('../../runtime/progress.js'), import('../../ssl/contrastive-select.js')]);
  const features = await readAllFeatures(config.runDir!);
  try {
    const scores = await ssl.contrastiveClipScores(features, cfg, {
      seed: config.seed,
      backend: config.ssl.backend,
      onStart: quiet ? undefined : (a, v) => log(`select: training the contrastive scorer on ${features.ids.length} clips (audio ${a.join('+')} × visual ${v.join('+')}, ${cfg.epochs} epochs)`),
      onEpoch: quiet ? undefined : (e, loss) => log(`select: contrastive epoch ${e}/${cfg.epochs}: loss ${loss.toFixed(4)}`),
    });
    return { ids: features.ids, scores };
  } catch (err) {
    if (/^(selection\.contrastive|contrastive baseline)/.test((err as Error).message)) throw new UserError((err as Error).message);
    throw err;
  }
}

export const command: CommandModule<object, Args> = {
  command: 'select',
  describe: 'select the clips whose audio and visual clusterings share the most information → selection.csv (another --method → selection.<method>.csv)',
  builder: (y) =>
    withStageOptions(y)
      .option('method', { type: 'string', choices: ['mi', 'random', 'contrastive'], describe: 'selection method (default: selection.method); a method other than the configured one writes selection.<method>.csv' })
      .option('algorithm', { type: 'string', choices: ['batch-greedy', 'greedy', 'stochastic-greedy', 'random'], describe: 'MI search (default: selection.algorithm, batch-greedy)' })
      .option('ratio', { type: 'number', describe: 'fraction of each partition to select (default: selection.ratio)' })
      .option('size', { type: 'number', describe: 'number of clips to select in all (overrides the ratio)' })
      .option('out', { type: 'string', describe: 'write the ranking here (default: <runDir>/selection.csv, or selection.<method>.csv); its .meta.json goes beside it' })
      .option('force', { type: 'boolean', default: false, describe: 'recompute even when a finished selection for this config exists' })
      .option('merge', { type: 'boolean', default: true, describe: 'with --shard: merge when every partition is done (--no-merge: leave it to a run without --shard, so shard processes never load the whole pool)' })
      .option('continue', { type: 'boolean', default: false, describe: 'after clips were added: continue from the current selection.csv over the enlarged pool instead of selecting from scratch' }) as never,
  handler: async (a) => {
    const sets = [...(a.set ?? [])];
    if (a.algorithm) sets.push(`selection.algorithm=${a.algorithm}`);
    if (a.ratio !== undefined) sets.push(`selection.ratio=${a.ratio}`);
    if (a.size !== undefined) sets.push(`selection.size=${a.size}`);
    const { config, shard } = await prepareStage({ ...a, set: sets });
    const { runSelect, SelectionInputError } = await import('../../curation/selection/index.js');
    try {
      let scores: { ids: string[]; scores: ArrayLike<number> } | undefined;
      const method = a.method ?? config.selection.method;
      if (method === 'contrastive') {
        if (shard.count > 1) throw new UserError('selection method "contrastive" runs in one process (no --shard)');
        scores = await contrastiveClipScores(config, Boolean(a.quiet));
      }
      if (a.continue) {
        if (shard.count > 1) throw new UserError('select --continue runs in one process (no --shard)');
        const { continueSelect } = await import('../../curation/incremental/stage.js');
        const inc = await continueSelect(config, { silent: a.quiet });
        if (inc) {
          process.stdout.write(`selected ${inc.selected} of ${inc.pool} clips (${inc.added} new), continued from ${inc.previous}: ${inc.left} previously selected clips left the selection; objective ${inc.objectiveStart.toFixed(4)} → ${inc.objective.toFixed(4)}\n`);
          return;
        }
      }
      const r = await runSelect(config, { shard, silent: a.quiet, force: a.force, scores, merge: a.merge, method, out: a.out });
      if (r.csv) {
        const rel = displayPath(r.csv);
        process.stdout.write(
          r.skipped
            ? `${rel} is up to date (${r.selected} of ${r.pool} clips)\n`
            : `selected ${r.selected} of ${r.pool} clips → ${rel} (objective ${r.objective.toFixed(4)}, ${r.seconds.toFixed(2)} s)\n`,
        );
      } else {
        process.stdout.write(`computed partition(s) ${r.computed.join(', ') || 'none'}; ${r.missing.length ? `waiting for ${r.missing.length} more from other shards` : 'all partitions done; a run without --shard merges them'}\n`);
      }
    } catch (err) {
      if (err instanceof SelectionInputError) throw new UserError(err.message);
      throw err;
    }
  },
};
