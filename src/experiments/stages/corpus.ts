/**
 * Experiment stages 1 and 2: the corpus (synthetic, real pairs, or the configured source) and the
 * held-out split of its labelled clips for the built-in downstream task; the rest is the pool that
 * curation sees (experiment/pool.jsonl, experiment/heldout.jsonl).
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type { Config } from '../../config/schema.js';
import { corpusDir, runCorpus } from '../../curation/manifest/stage.js';
import { synthGenerator } from '../../media/synth.js';
import { runLayout } from '../../run/layout.js';
import { writeJsonlAtomic } from '../../runtime/atomic.js';
import { stableKey } from '../../run/ledger.js';
import { holdOut } from '../arms.js';
import { readRows, type ExperimentContext } from '../context.js';

export interface CorpusSummary {
  labelsFile: string | null;
}

export interface SplitSummary {
  poolFile: string;
  heldOutFile: string | null;
  pool: number;
  heldOut: number;
}

/** The corpus labels file (ground truth and classes), when the corpus has one. */
function labelsFileOf(config: Config): string | null {
  if (config.corpus.realPairs || config.corpus.synth) return runLayout(config.runDir!).corpusLabels;
  const src = config.corpus.source;
  if (!src) return null;
  if (src.endsWith('.jsonl')) return src;
  const inside = path.join(src, 'labels.jsonl');
  return existsSync(inside) ? inside : null;
}

/** Stage "corpus": build the corpus the config describes. */
export async function corpusStage(ctx: ExperimentContext): Promise<CorpusSummary> {
  const { config, ledger, silent } = ctx;
  // A synthetic corpus also depends on the generator's version: a run folder holding a corpus of
  // another version is rebuilt (runCorpus regenerates the run's own corpus folder).
  const generator = config.corpus.synth ? { generator: synthGenerator(config.corpus.synth.family) } : {};
  return ledger.run<CorpusSummary>('corpus', { config: { corpus: config.corpus, seed: config.seed, ...generator } }, async () => {
    // synth or realPairs build <runDir>/corpus; source is used as it is; none is a config error.
    await runCorpus(config, { silent });
    const labelsFile = labelsFileOf(config);
    return { summary: { labelsFile }, outputs: labelsFile ? [labelsFile] : [] };
  });
}

/** Stage "split": hold out a stratified fraction of the labelled clips for the downstream task. */
export async function splitStage(ctx: ExperimentContext, corpus: CorpusSummary): Promise<SplitSummary> {
  const { config, expDir, ledger, notes } = ctx;
  const exp = config.experiment;
  const split = await ledger.run<SplitSummary>(
    'split',
    { config: { heldOut: exp.heldOut, seed: config.seed }, inputs: { labels: corpus.labelsFile ? stableKey(readFileSync(corpus.labelsFile, 'utf8')) : null } },
    async () => {
      if (!corpus.labelsFile) {
        return { summary: { poolFile: corpusDir(config), heldOutFile: null, pool: 0, heldOut: 0 } };
      }
      const base = path.dirname(corpus.labelsFile);
      const rows = readRows(corpus.labelsFile).map((r) => ({ ...r, file: path.resolve(base, r.file) }));
      const { pool, heldOut } = holdOut(rows, exp.heldOut, config.seed);
      const poolFile = path.join(expDir, 'pool.jsonl');
      const heldOutFile = path.join(expDir, 'heldout.jsonl');
      await writeJsonlAtomic(poolFile, pool);
      await writeJsonlAtomic(heldOutFile, heldOut);
      return { summary: { poolFile, heldOutFile, pool: pool.length, heldOut: heldOut.length }, outputs: [poolFile, heldOutFile] };
    },
  );

  if (!split.heldOutFile && exp.heldOut > 0) notes.push('the corpus has no labels.jsonl: no built-in downstream task (add experiment.tasks)');
  return split;
}
