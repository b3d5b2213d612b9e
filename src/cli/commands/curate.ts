import type { CommandModule } from 'yargs';
import { prepareStage, withStageOptions, type StageArgs, displayPath, displayPaths } from '../common.js';
import { UserError } from '../errors.js';
import type { CurationStage } from '../../curation/pipeline.js';

/** The stages of curation/pipeline.ts in order, spelled here so that `--help` does not load the pipeline. */
const STAGES = ['synth', 'ingest', 'extract', 'cluster', 'select', 'explain', 'eval'] as const satisfies readonly CurationStage[];
/** Fails to type-check when the pipeline gains a stage this list lacks. */
const everyStage: Exclude<CurationStage, (typeof STAGES)[number]> extends never ? true : false = true;
void everyStage;

interface Args extends StageArgs {
  until?: CurationStage;
  'force-select': boolean;
  add?: string;
  refit: boolean;
}

export const command: CommandModule<object, Args> = {
  command: 'curate',
  describe: 'run the curation path of a config: synth → ingest → extract → cluster → select → eval-selection (resumes)',
  builder: (y) =>
    withStageOptions(y)
      .option('until', { type: 'string', choices: STAGES, describe: 'stop after this stage' })
      .option('force-select', { type: 'boolean', default: false, describe: 'recompute the selection even if a finished one exists' })
      .option('add', { type: 'string', describe: 'add the clips of this folder or CSV to the curated run: new shards only, assigned to the existing centroids, selection continued' })
      .option('refit', { type: 'boolean', default: false, describe: 'refit the clusterings on every clip (default: only when the drift measure exceeds incremental.driftThreshold)' }) as never,
  handler: async (a) => {
    const { config, shard } = await prepareStage(a);
    if (shard.count > 1) throw new UserError('curate runs every stage in one process; run the stage commands with --shard to split the work');
    const [{ runCuration }, { SelectionInputError }, { IncrementalError }] = await Promise.all([
      import('../../curation/pipeline.js'),
      import('../../curation/selection/index.js'),
      import('../../curation/incremental/stage.js'),
    ]);
    // `type: encoder` extractors and curate.bootstrap use src/ssl, wired outside curation.
    // (src/ssl and TensorFlow.js are loaded only when the config asks for them.)
    const wiring = (await import('../../curation/bootstrap.js')).usesEncoders(config) ? await import('../../experiments/encoders.js') : null;
    wiring?.registerSslEncoders();
    let r;
    try {
      r = await runCuration(config, { silent: a.quiet, until: a.until, forceSelect: a['force-select'], add: a.add, refit: a.refit });
    } catch (err) {
      if (err instanceof SelectionInputError || err instanceof IncrementalError) throw new UserError(err.message);
      throw err;
    }
    const out = process.stdout;
    out.write(`\ncuration of ${config.name} in ${r.seconds.toFixed(1)} s (${r.stages.map((s) => `${s.stage} ${s.seconds.toFixed(1)} s`).join(', ')})\n`);
    if (r.incremental) {
      const i = r.incremental;
      out.write(`\n  added ${i.added} clips (pool ${i.pool}): ${i.selected} selected, continued from ${i.previous}; ${i.left} previously selected clips left the selection, ${i.enteredNew} new and ${i.enteredOld} old clips entered\n`);
      out.write(`  objective ${i.objectiveStart.toFixed(4)} (previous selection on the enlarged pool) → ${i.objective.toFixed(4)}\n`);
    }
    if (r.evaluation) {
      const s = r.evaluation.summary;
      const row = (label: string, size: number, ours: number, rnd: number) =>
        `  ${label.padEnd(38)} ${String(size).padStart(6)}   ${ours.toFixed(3)}     ${s.baseRate.toFixed(3)} (one draw ${rnd.toFixed(3)})\n`;
      out.write(`\n  ${'precision of the curated subset'.padEnd(38)} ${'clips'.padStart(6)}   curated   random\n`);
      out.write(row('at the number of true positives', s.atPositives.size, s.atPositives.precision, s.random.atPositives.precision));
      const tops = s.atTop ?? [{ ...s.atRatio }];
      for (const t of tops) {
        const same = Math.abs(t.ratio - s.atRatio.ratio) < 1e-12;
        const line = row(`top ${+(t.ratio * 100).toFixed(1)} % of the pool`, t.size, t.precision, same ? s.random.atRatio.precision : NaN);
        out.write(same ? line : line.replace(' (one draw NaN)', ''));
      }
      const heads = (s.atTop ?? []).filter((t) => t.concepts !== undefined);
      if (heads.length && s.concepts !== undefined) out.write(`  concepts among the true positives of the top ${heads.map((t) => `${+(t.ratio * 100).toFixed(1)} %: ${t.concepts}`).join(', ')} (of ${s.concepts})\n`);
      if (s.objective) out.write(`  ${(await import('../../curation/selection/evaluate.js')).formatObjectiveCheck(s.objective)}\n`);
      out.write(`\n  pool ${s.pool} clips, ${s.positives} with corresponding audio; ${s.selected} selected\n`);
      out.write(`  ${displayPaths(...(r.selection?.csv ? [r.selection.csv] : []), r.evaluation.file).join(', ')}\n`);
    } else if (r.selection?.csv) {
      out.write(`selection: ${displayPath(r.selection.csv)}\n`);
    }
    // Bootstrapped features: pretrain on the selection, re-extract with the trained towers, re-curate.
    if (wiring && config.curate.bootstrap.rounds > 0 && !a.until && !a.add) {
      const [{ formatRounds, finalSelection }, b] = await Promise.all([import('../../curation/bootstrap.js'), wiring.runSslBootstrap(config, { silent: a.quiet })]);
      out.write(`\n  bootstrap: ${b.rounds.length - 1} round(s) after the first curation${b.skipped.length ? ` (${b.skipped.length} finished earlier, skipped)` : ''}\n`);
      out.write(`${formatRounds(b.rounds)}\n  ${displayPath(b.file)}\n  the final selection (last round): ${displayPath(finalSelection(config))}\n`);
    }
  },
};
