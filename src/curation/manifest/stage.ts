/** The corpus and ingest stages as functions of the config (used by `avcurate curate`/experiments). */
import { createHash } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { withRunLock } from '../../run/lock.js';
import type { Config } from '../../config/schema.js';
import { synthesize, synthGenerator, type SynthResult } from '../../media/synth.js';
import { buildRealPairs } from '../../media/real-pairs.js';
import { runLayout } from '../../run/layout.js';
import { ConfigError } from '../../config/errors.js';
import { TAR_RULES, discoverInputs, ingest, type IngestResult } from './ingest.js';
import { listTarPool } from './tar-pool.js';
import { sourceFile } from '../../media/source.js';
import type { IngestConfig } from '../../config/sections/ingest.js';
import { MANIFEST_NAME } from '../../run/layout.js';
import { markDone, redoNote, stageDone, stageFingerprint, type StageCheck, type StageInputs } from '../../run/ledger.js';
import { log } from '../../runtime/progress.js';

/** The ledger's stage of a corpus.synth corpus (stages/synth.json). */
export const SYNTH_STAGE = 'synth';
/** The ledger's stage of a corpus.realPairs corpus (stages/real-pairs.json). */
export const REAL_PAIRS_STAGE = 'real-pairs';

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
    // The stage ledger (stages/real-pairs.json): the settings, seed and the source pictures and
    // sounds (every file under realPairs.root); every clip, labels.jsonl and real-pairs.json present.
    const rp = c.realPairs;
    const runDir = config.runDir!;
    const fp = { config: { realPairs: rp, seed: config.seed }, inputs: { sources: await inputFilesKey(rp.root) } };
    const check = await stageDone<{ clips: number; labelsFile: string }>(runDir, REAL_PAIRS_STAGE, fp);
    if (check.done) {
      const s = check.record!.summary;
      return { kind: 'realPairs', input: corpusDir(config), labelsFile: s.labelsFile, clips: s.clips, generated: 0, note: `${s.clips} qabcs-data clips (0 generated)` };
    }
    const note = redoNote(check, runDir);
    if (note && !opts.silent) log(note);
    const t = performance.now();
    const dir = corpusDir(config);
    const r = await withRunLock(dir, 'real-pairs', () => buildRealPairs({ ...rp, out: dir, seed: config.seed, silent: opts.silent }));
    await markDone(runDir, REAL_PAIRS_STAGE, fp, {
      outputs: [r.labelsFile, path.join(dir, 'real-pairs.json'), ...r.labels.map((l) => path.join(dir, l.file))],
      summary: { clips: r.labels.length, labelsFile: r.labelsFile },
      seconds: (performance.now() - t) / 1000,
    });
    return { kind: 'realPairs', input: dir, labelsFile: r.labelsFile, clips: r.labels.length, generated: r.generated, note: `${r.labels.length} qabcs-data clips (${r.generated} generated)` };
  }
  if (c.source) return { kind: 'source', input: c.source, labelsFile: null, clips: null, generated: 0, note: `corpus.source ${path.basename(c.source)}: nothing to build` };
  throw new ConfigError(config.configFile ?? '<config>', ['corpus: no corpus; set one of corpus.synth, corpus.source or corpus.realPairs']);
}

export async function runIngest(config: Config, opts: { silent?: boolean } = {}): Promise<IngestResult> {
  return ingest({ ...config.ingest, input: corpusDir(config), out: runLayout(config.runDir!).manifest, silent: opts.silent });
}

/** The ledger's stage of an ingest (stages/ingest.json for <dir>/manifest.jsonl; stages/ingest/<name>.json for another file name). */
export const INGEST_STAGE = 'ingest';

/** What a finished ingest reports when it is skipped. */
export interface IngestSummary {
  note: string;
  clips: number;
  inputs: number;
  refused: number;
  /** Refusals by reason (without the details in parentheses). */
  reasons: Record<string, number>;
}

export interface IngestStageOptions {
  /** A folder, CSV, labels.jsonl or tar pool. */
  input: string;
  /** manifest.jsonl to write (failures.jsonl beside it); its folder is the run folder whose ledger records it. */
  out: string;
  ingest: IngestConfig;
  silent?: boolean;
  /**
   * After a (re)ingest, before the record is written: what the caller adds to the fresh manifest
   * (curate: clips added with --add); returns the number of clips it added.
   */
  after?: () => Promise<number>;
}

export interface IngestStageResult {
  skipped: boolean;
  summary: IngestSummary;
  /** The ingest's result when it ran. */
  result: IngestResult | null;
  manifest: string;
  failuresFile: string;
  /** The ledger's answer before it ran (its record file, and why it was not finished). */
  check: StageCheck<IngestSummary>;
}

/** The ledger record of an ingest into `out`: the run folder is out's folder; the record is stages/ingest.json for manifest.jsonl. */
function ingestRecordOf(out: string): { runDir: string; shard: string | null } {
  const abs = path.resolve(out);
  const name = path.basename(abs);
  return { runDir: path.dirname(abs), shard: name === MANIFEST_NAME ? null : name.replace(/\.jsonl$/i, '') };
}

/**
 * What a manifest depends on: the ingest settings (less concurrency, which decides nothing), the
 * input's path (the manifest holds absolute sources) and the fingerprint of every input file.
 */
export async function ingestFingerprint(input: string, out: string, cfg: IngestConfig): Promise<StageInputs> {
  const { concurrency: _concurrency, ...settings } = cfg;
  const { runDir } = ingestRecordOf(out);
  // The run folder's own files never count as input (a manifest written inside the input folder).
  const exclude = new Set([path.resolve(out), path.join(runDir, 'failures.jsonl'), runLayout(runDir).stagesDir]);
  return { config: { ingest: settings }, inputs: { input: path.resolve(input), files: await inputFilesKey(input, exclude) } };
}

/**
 * Ingest on the stage ledger: the one code path of `avcurate ingest`, curate's and the
 * experiment's ingest step. Skipped when the record of `out` matches (same settings, same input
 * files) and the manifest is untouched since (stamped); otherwise ingest runs (its per-input probe
 * cache makes a rerun probe only new or changed files), `after` adds what the caller adds, and the
 * record is written.
 */
export async function ingestStage(o: IngestStageOptions): Promise<IngestStageResult> {
  const manifest = path.resolve(o.out);
  const failuresFile = path.join(path.dirname(manifest), 'failures.jsonl');
  const { runDir, shard } = ingestRecordOf(manifest);
  const fp = stageFingerprint(await ingestFingerprint(o.input, manifest, o.ingest));
  const check = await stageDone<IngestSummary>(runDir, INGEST_STAGE, fp, { shard });
  if (check.done) return { skipped: true, summary: check.record!.summary, result: null, manifest, failuresFile, check };
  const why = redoNote(check, runDir);
  if (why && !o.silent) log(why);
  const t = performance.now();
  const r = await ingest({ ...o.ingest, input: o.input, out: manifest, silent: o.silent });
  const added = o.after ? await o.after() : 0;
  const reasons: Record<string, number> = {};
  for (const f of r.failures) {
    const k = f.reason.replace(/\(.*\)/, '').trim();
    reasons[k] = (reasons[k] ?? 0) + 1;
  }
  const note = `${r.clips} clips in the manifest${added ? ` (+ ${added} added earlier)` : ''}, ${r.failures.length} refused` + (r.resumed ? `, ${r.resumed} inputs resumed` : '');
  const summary: IngestSummary = { note, clips: r.clips + added, inputs: r.inputs, refused: r.failures.length, reasons };
  await markDone(runDir, INGEST_STAGE, fp, { shard, outputs: [manifest], stamp: true, summary, seconds: (performance.now() - t) / 1000 });
  return { skipped: false, summary, result: r, manifest, failuresFile, check };
}

/**
 * The fingerprint of every file an ingest reads: a folder walked (name, size, and contents for
 * small files such as labels.jsonl or time for media), a WebDataset pool's tars, and for a CSV or
 * labels.jsonl the list itself plus every file it names (path, size, time).
 */
export async function inputFilesKey(input: string, exclude: ReadonlySet<string> = new Set()): Promise<string> {
  const h = createHash('sha256');
  const root = path.resolve(input);
  // Folders by (device, inode): a symbolic-link loop is hashed once, not until ELOOP.
  const seenDirs = new Set<string>();
  const walk = async (p: string): Promise<void> => {
    if (exclude.has(p)) return;
    let st;
    try {
      st = await fsp.stat(p);
    } catch {
      h.update(`missing ${p}\n`);
      return;
    }
    if (st.isDirectory()) {
      const inode = `${st.dev}:${st.ino}`;
      if (seenDirs.has(inode)) {
        h.update(`again ${path.relative(root, p)}\n`);
        return;
      }
      seenDirs.add(inode);
      const names = (await fsp.readdir(p)).filter((n) => !n.startsWith('.')).sort();
      for (const n of names) await walk(path.join(p, n));
    } else if (st.size <= 1 << 20) {
      // Small files (labels.jsonl, CSV lists, synth.json) are rewritten with the same bytes by
      // their producers: compare contents, not times.
      h.update(`${path.relative(root, p)} ${st.size} `);
      h.update(await fsp.readFile(p));
      h.update('\n');
    } else {
      h.update(`${path.relative(root, p)} ${st.size} ${st.mtimeMs}\n`);
    }
  };
  await walk(root);
  // A WebDataset pool named by a brace list or a text file: its tars are not under `root`.
  const pool = await listTarPool(root, TAR_RULES).catch(() => null);
  if (pool) for (const tar of pool.tars) await walk(tar);
  else if (/\.(csv|tsv|jsonl)$/i.test(root)) {
    // A list of files: the files it names count too.
    const listed = await discoverInputs(root).catch(() => null);
    for (const item of listed?.items ?? []) {
      const file = sourceFile(item.file);
      const st = await fsp.stat(file).catch(() => null);
      h.update(`listed ${file} ${st ? `${st.size} ${st.mtimeMs}` : 'missing'}\n`);
    }
  }
  return h.digest('hex');
}
