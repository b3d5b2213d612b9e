/** The corpus and ingest stages as functions of the config (used by `avcurate curate`/experiments). */
import path from 'node:path';
import { withRunLock } from '../../run/lock.js';
import type { Config } from '../../config/schema.js';
import { synthesize, type SynthResult } from '../../media/synth.js';
import { buildRealPairs } from '../../media/real-pairs.js';
import { runLayout } from '../../run/layout.js';
import { ConfigError } from '../../config/errors.js';
import { ingest, type IngestResult } from './ingest.js';

/** Where the corpus of a run lives: corpus.source, else <runDir>/corpus (built by corpus.synth or corpus.realPairs). */
export function corpusDir(config: Config): string {
  if (config.corpus.source) return config.corpus.source;
  return runLayout(config.runDir!).corpusDir;
}

/** Synthesise the corpus when the config asks for one (resumes; identical bytes for a seed). */
export async function runSynth(config: Config, opts: { silent?: boolean } = {}): Promise<SynthResult | null> {
  const s = config.corpus.synth;
  if (!s) return null;
  return withRunLock(corpusDir(config), 'synth', () => synthesize({ out: corpusDir(config), seed: config.seed, ...s, silent: opts.silent }));
}

export interface CorpusStageResult {
  kind: 'synth' | 'realPairs' | 'source';
  /** The corpus folder or file the ingest stage reads. */
  input: string;
  /** labels.jsonl of a built corpus. */
  labelsFile: string | null;
  clips: number | null;
  generated: number;
  note: string;
}

/**
 * Build the corpus when the config asks for one (corpus.synth or corpus.realPairs, into
 * <runDir>/corpus; both resume and give identical files for a seed); with corpus.source there is
 * nothing to build. No corpus at all is an error naming the keys.
 */
export async function runCorpus(config: Config, opts: { silent?: boolean } = {}): Promise<CorpusStageResult> {
  const c = config.corpus;
  if (c.synth) {
    const r = (await runSynth(config, opts))!;
    return { kind: 'synth', input: corpusDir(config), labelsFile: r.labelsFile, clips: r.labels.length, generated: r.generated, note: `${r.labels.length} clips (${r.generated} generated, ${r.skipped} already there)` };
  }
  if (c.realPairs) {
    const rp = c.realPairs;
    const r = await withRunLock(corpusDir(config), 'real-pairs', () => buildRealPairs({ ...rp, out: corpusDir(config), seed: config.seed, silent: opts.silent }));
    return { kind: 'realPairs', input: corpusDir(config), labelsFile: r.labelsFile, clips: r.labels.length, generated: r.generated, note: `${r.labels.length} qabcs-data clips (${r.generated} generated)` };
  }
  if (c.source) return { kind: 'source', input: c.source, labelsFile: null, clips: null, generated: 0, note: `corpus.source ${path.basename(c.source)}: nothing to build` };
  throw new ConfigError(config.configFile ?? '<config>', ['corpus: no corpus; set one of corpus.synth, corpus.source or corpus.realPairs']);
}

export async function runIngest(config: Config, opts: { silent?: boolean } = {}): Promise<IngestResult> {
  return ingest({ ...config.ingest, input: corpusDir(config), out: runLayout(config.runDir!).manifest, silent: opts.silent });
}
