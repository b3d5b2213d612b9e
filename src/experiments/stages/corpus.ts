/**
 * Experiment stages 1 and 2: the corpus (synthetic, real pairs, or the configured source) and the
 * held-out split of its labelled clips for the built-in downstream task; the rest is the pool that
 * curation sees (experiment/pool.jsonl, experiment/heldout.jsonl).
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type { Config } from '../../config/schema.js';
import { runSynth } from '../../curation/manifest/stage.js';
import { writeJsonlAtomic } from '../../runtime/atomic.js';
import { stableKey } from '../../run/ledger.js';
import { holdOut } from '../arms.js';
import { readRows, type ExperimentContext } from '../context.js';
import { buildRealPairs } from '../real-pairs.js';

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
  if (config.experiment.realPairs || config.corpus.synth) return path.join(config.runDir!, 'corpus', 'labels.jsonl');
  const src = config.corpus.source;
  if (!src) return null;
  if (src.endsWith('.jsonl')) return src;
  const inside = path.join(src, 'labels.jsonl');
  return existsSync(inside) ? inside : null;
}

/** Stage "corpus": build the corpus the config describes. */
export async function corpusStage(ctx: ExperimentContext): Promise<CorpusSummary> {
  const { config, runDir, ledger, silent } = ctx;
  return ledger.run<CorpusSummary>('corpus', { corpus: config.corpus, realPairs: config.experiment.realPairs, seed: config.seed }, async () => {
    const rp = config.experiment.realPairs;
    if (rp) {
      if (config.corpus.synth || config.corpus.source) throw new Error('config: experiment.realPairs builds the corpus; remove corpus.synth and corpus.source');
      await buildRealPairs({ ...rp, out: path.join(runDir, 'corpus'), seed: config.seed, silent });
    } else if (config.corpus.synth) await runSynth(config, { silent });
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
    { labels: corpus.labelsFile ? stableKey(readFileSync(corpus.labelsFile, 'utf8')) : null, heldOut: exp.heldOut, seed: config.seed },
    async () => {
      if (!corpus.labelsFile) {
        if (!config.corpus.source) throw new Error('config: no corpus (set corpus.synth, corpus.source or experiment.realPairs)');
        return { summary: { poolFile: config.corpus.source, heldOutFile: null, pool: 0, heldOut: 0 } };
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
