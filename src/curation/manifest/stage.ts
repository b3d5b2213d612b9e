/** The corpus and ingest stages as functions of the config (used by `avcurate curate`/experiments). */
import path from 'node:path';
import { withRunLock } from '../../run/lock.js';
import type { Config } from '../../config/schema.js';
import { synthesize, type SynthResult } from '../../media/synth.js';
import { ingest, type IngestResult } from './ingest.js';
import { manifestPath } from './read.js';

/** Where the corpus of a run lives: config.corpus.source, else <runDir>/corpus (synthesised). */
export function corpusDir(config: Config): string {
  if (config.corpus.source) return config.corpus.source;
  return path.join(config.runDir!, 'corpus');
}

/** Synthesise the corpus when the config asks for one (resumes; identical bytes for a seed). */
export async function runSynth(config: Config, opts: { silent?: boolean } = {}): Promise<SynthResult | null> {
  const s = config.corpus.synth;
  if (!s) return null;
  if (config.corpus.source) throw new Error('config: corpus.synth and corpus.source are both set; choose one');
  return withRunLock(corpusDir(config), 'synth', () => synthesize({ out: corpusDir(config), seed: config.seed, ...s, silent: opts.silent }));
}

export async function runIngest(config: Config, opts: { silent?: boolean } = {}): Promise<IngestResult> {
  return ingest({ ...config.ingest, input: corpusDir(config), out: manifestPath(config.runDir!), silent: opts.silent });
}
