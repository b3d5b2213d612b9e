/** The corpus and ingest stages as functions of the config (used by `avcurate curate`/experiments). */
import path from 'node:path';
import { withRunLock } from '../../run/lock.js';
import type { Config } from '../../config/schema.js';
import { synthesize, synthGenerator, type SynthResult } from '../../media/synth.js';
import { buildRealPairs } from '../../media/real-pairs.js';
import { runLayout } from '../../run/layout.js';
import { ConfigError } from '../../config/errors.js';
import { ingest, type IngestResult } from './ingest.js';
import { markDone, redoNote, stageDone } from '../../run/ledger.js';
import { log } from '../../runtime/progress.js';

/** The ledger's stage of a corpus.synth corpus (stages/synth.json). */
export const SYNTH_STAGE = 'synth';

/** Where the corpus of a run lives: corpus.source, else <runDir>/corpus (built by corpus.synth or corpus.realPairs). */
export function corpusDir(config: Config): string {
  if (config.corpus.source) return config.corpus.source;
  return runLayout(config.runDir!).corpusDir;
}

/** Synthesise the corpus when the config asks for one (resumes; identical bytes for a seed). */
export async function runSynth(config: Config, opts: { silent?: boolean } = {}): Promise<SynthResult | null> {
  const s = config.corpus.synth;
  if (!s) return null;
  // The run's own corpus folder: one made with other settings or another generator version is regenerated.
  return withRunLock(corpusDir(config), 'synth', () => synthesize({ out: corpusDir(config), seed: config.seed, ...s, force: true, silent: opts.silent }));
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
    // The stage ledger (stages/synth.json) says whether this corpus is complete: the synth
    // settings and seed, every clip, labels.jsonl and synth.json present. Otherwise synthesize
    // resumes (keeps the clips already rendered for these settings) and the record is written.
    const runDir = config.runDir!;
    const fp = { config: { synth: c.synth, seed: config.seed, generator: synthGenerator(c.synth.family) } };
    const check = await stageDone<{ clips: number; labelsFile: string }>(runDir, SYNTH_STAGE, fp);
    if (check.done) {
      const s = check.record!.summary;
      return { kind: 'synth', input: corpusDir(config), labelsFile: s.labelsFile, clips: s.clips, generated: 0, note: `${s.clips} clips (0 generated, ${s.clips} already there)` };
    }
    const note = redoNote(check, runDir);
    if (note && !opts.silent) log(note);
    const r = (await runSynth(config, opts))!;
    const dir = corpusDir(config);
    await markDone(runDir, SYNTH_STAGE, fp, {
      outputs: [r.labelsFile, path.join(dir, 'synth.json'), ...r.labels.map((l) => path.join(dir, l.file))],
      summary: { clips: r.labels.length, labelsFile: r.labelsFile },
      seconds: r.seconds,
    });
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
