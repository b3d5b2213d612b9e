import path from 'node:path';
import type { CommandModule } from 'yargs';
import { withStageOptions, prepareStage, type StageArgs } from '../common.js';
import { UserError } from '../errors.js';

interface Args extends StageArgs {
  'fit-only': boolean;
  'sample-only': boolean;
  merge: boolean;
  refit: boolean;
}

export const command: CommandModule<object, Args> = {
  command: 'cluster',
  describe: 'k-means per (modality, layer): fit on a sample of clips, assign every clip, write clusters.h5',
  builder: (y) =>
    withStageOptions(y)
      .option('fit-only', {
        type: 'boolean',
        default: false,
        describe: 'fit clusters.model.h5 and stop (run once before a --shard array so shards only assign); merges the shard samples when a complete set exists',
      })
      .option('sample-only', {
        type: 'boolean',
        default: false,
        describe: "write this shard's seeded fitting sample to clusters/sample/ and stop (an array before --fit-only, so the fit reads no feature shard)",
      })
      .option('merge', { type: 'boolean', default: true, describe: 'merge into clusters.h5 when every part is present (--no-merge: leave it to a merge job)' })
      .option('refit', { type: 'boolean', default: false, describe: 'after clips were added (curate --add): refit on every clip instead of assigning the new ones to the existing centroids' })
      .check((a) => {
        if (a['fit-only'] && a['sample-only']) throw new UserError('--fit-only and --sample-only are two different steps: give one', 2);
        return true;
      }) as never,
  handler: async (a) => {
    const { config, shard } = await prepareStage(a);
    const { runClusterSample, ClusterStageError } = await import('../../curation/clustering/stage.js');
    try {
      if (a['sample-only']) {
        const s = await runClusterSample(config, shard, { silent: a.quiet });
        process.stdout.write(`sample ${shard.index}/${shard.count}: ${s.skipped ? 'up to date' : 'wrote'} ${path.relative(process.cwd(), s.file) || s.file} (${s.clips} clips)\n`);
        return;
      }
      // Clips added to the run (curate --add) are assigned to the existing centroids unless the drift measure or --refit says refit.
      const { clusterWithDrift } = await import('../../curation/incremental/stage.js');
      const d = await clusterWithDrift(config, shard, { fitOnly: a['fit-only'], merge: a.merge, silent: a.quiet, refit: a.refit });
      const r = d.cluster;
      const rel = (p: string) => path.relative(process.cwd(), p) || p;
      process.stdout.write(`model: ${rel(r.modelPath)} (${r.fitted ? 'fitted now' : 'up to date'})\n`);
      for (const c of r.clusterings) {
        const all = c.inertia === null ? '' : `; all clips ${c.inertia.toPrecision(6)}`;
        process.stdout.write(`  ${c.modality}/${c.layer} k=${c.k}: ${c.iterations} iterations on ${c.fitPoints} clips, inertia ${c.fitInertia.toPrecision(6)}${all}\n`);
      }
      if (d.drift || d.refitted) process.stdout.write(`added clips: ${d.reason}${d.refitted ? ' (refitted on every clip)' : ''}\n`);
      if (a['fit-only']) return;
      process.stdout.write(`assigned ${r.assigned} feature shards, ${r.skipped} already done\n`);
      if (r.clustersPath) {
        process.stdout.write(`${r.merged ? 'wrote' : 'up to date:'} ${rel(r.clustersPath)}: ${r.n} clips x ${r.clusterings.length} clusterings\n`);
      }
      else process.stdout.write(`${r.pending} feature shards still to assign; clusters.h5 is written when the last shard finishes\n`);
    } catch (err) {
      if (err instanceof ClusterStageError) throw new UserError(err.message, 1);
      throw err;
    }
  },
};
