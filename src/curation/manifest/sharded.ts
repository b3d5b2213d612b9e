/**
 * Ingest sharded by file list, for `avcurate launch` (steps `ingest` and `ingest-merge`):
 *
 *   shard i of n lists the inputs (the same listing `avcurate ingest` makes), takes the contiguous
 *   range i of them (of a WebDataset tar pool: the contiguous range i of its tars, whole tars per
 *   shard, indexed by this shard alone; ./tar-pool.ts), probes and cuts them with the same function (ingestOne), and writes
 *   <run>/ingest/part-IIIII-of-NNNNN.jsonl: one line per input, in input order, with its records
 *   and failures; the stage ledger records each finished part with the ingest config and a key of
 *   its inputs (path, size, time): stages/ingest-part/<part>.json, so a rerun skips a part that
 *   is still current.
 *
 *   the merge reads the parts in order, drops duplicate ids exactly as one-process ingest does,
 *   and writes manifest.jsonl and the ingest lines of failures.jsonl: the same manifest as
 *   `ingest` over the whole input.
 */
import { createHash } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import type { Config } from '../../config/schema.js';
import { IngestSchema } from '../../config/sections/ingest.js';
import { writeFileAtomic } from '../../runtime/atomic.js';
import { exists, iterJsonl } from '../../runtime/jsonl.js';
import { Pool, defaultConcurrency } from '../../runtime/pool.js';
import { Progress, log } from '../../runtime/progress.js';
import { markDone, readStageRecord, redoNote, stageDone, stageFingerprint } from '../../run/ledger.js';
import { shardName, shardRange, type ShardSpec } from '../../runtime/shard.js';
import { replaceStageFailures, type FailureRecord } from '../../run/failures.js';
import { FAILURES_NAME } from '../../run/layout.js';
import { writeManifest } from '../../run/manifest.js';
import { discoverInputs, ingestOne, keepFirstById, TAR_RULES, type InputItem } from './ingest.js';
import { indexTars, listTarPool } from './tar-pool.js';
import { sourceFile } from '../../media/source.js';
import { INGEST_STAGE, corpusDir, ingestFingerprint, type IngestSummary } from './stage.js';
import { manifestPath } from './read.js';
import type { ClipRecord } from './types.js';

export const INGEST_PART_FORMAT = 'avcurate.ingest-part';
/** The ledger's stage of one ingest part (stages/ingest-part/part-IIIII-of-NNNNN.json). */
export const INGEST_PART_STAGE = 'ingest-part';

interface PartHeader {
  format: typeof INGEST_PART_FORMAT;
  key: string;
  index: number;
  count: number;
  inputs: number;
}
interface PartLine {
  records: ClipRecord[];
  failures: FailureRecord[];
}

export function ingestPartPath(runDir: string, index: number, count: number): string {
  return path.join(runDir, 'ingest', `${shardName(index, count, 'part')}.jsonl`);
}

async function partKey(config: Config, items: InputItem[], index: number, count: number, tars: readonly string[] = []): Promise<string> {
  const h = createHash('sha256');
  h.update(JSON.stringify({ v: 1, ingest: config.ingest, index, count }));
  // A tar pool shard: its tars' stamps too (a tar whose samples were all refused has no item).
  for (const tar of tars) {
    const s = await fsp.stat(tar).catch(() => null);
    h.update(`tar|${tar}|${s ? `${s.size}|${s.mtimeMs}` : 'missing'}\n`);
  }
  for (const it of items) {
    let stamp = 'missing';
    try {
      const s = await fsp.stat(sourceFile(it.file)); // a tar member: its tar
      stamp = `${s.size}|${s.mtimeMs}`;
    } catch {
      /* a missing input is refused by ingestOne with its reason */
    }
    h.update(`${JSON.stringify(it)}|${stamp}\n`);
  }
  return h.digest('hex').slice(0, 32);
}

/** Ingest shard `shard` of the inputs (contiguous range). */
export async function runIngestShard(config: Config, shard: Pick<ShardSpec, 'index' | 'count'>, opts: { silent?: boolean } = {}): Promise<{ file: string; inputs: number; records: number; failures: number; skipped: boolean }> {
  const runDir = config.runDir!;
  const input = corpusDir(config);
  const tarPool = await listTarPool(input, TAR_RULES);
  let mine: InputItem[];
  let listFailures: FailureRecord[];
  let myTars: string[] = [];
  if (tarPool) {
    // Whole tars per shard: shard i indexes only its range of the tar list. The pool's listing
    // failures go with shard 0, each tar's with its shard, so the merge keeps one-process order.
    const [a, b] = shardRange(tarPool.tars.length, shard.index, shard.count);
    myTars = tarPool.tars.slice(a, b);
    const r = await indexTars(myTars, tarPool.root, TAR_RULES);
    mine = r.items;
    listFailures = [...(shard.index === 0 ? tarPool.failures : []), ...r.failures];
  } else {
    const listed = await discoverInputs(input);
    const [a, b] = shardRange(listed.items.length, shard.index, shard.count);
    mine = listed.items.slice(a, b);
    listFailures = shard.index === 0 ? listed.failures : [];
  }
  const file = ingestPartPath(runDir, shard.index, shard.count);
  const key = await partKey(config, mine, shard.index, shard.count, myTars);
  // Finished or not is the stage ledger's call (stages/ingest-part/<part>.json: the ingest config
  // and this shard's inputs with their sizes and times).
  const partName = path.basename(file, '.jsonl');
  const fp = { config: { ingest: config.ingest }, inputs: { items: key } };
  const check = await stageDone(runDir, INGEST_PART_STAGE, fp, { shard: partName });
  if (check.done) return { file, inputs: mine.length, records: -1, failures: -1, skipped: true };
  const note = redoNote(check, runDir);
  if (note && !opts.silent) log(note);
  const cfg = IngestSchema.parse(config.ingest);
  const progress = new Progress(`ingest ${shard.index}/${shard.count}`, { total: mine.length, unit: 'files', silent: opts.silent });
  const pool = new Pool(cfg.concurrency ?? defaultConcurrency());
  const results = await pool.map(mine, async (item) => {
    const r = await ingestOne(item, cfg);
    progress.tick();
    return r;
  });
  progress.finish();
  // Failures of the listing itself (unreadable folders, ...) belong to the whole: shard 0 keeps them.
  const lines: PartLine[] = results;
  const header: PartHeader = { format: INGEST_PART_FORMAT, key, index: shard.index, count: shard.count, inputs: mine.length };
  const text =
    JSON.stringify(header) +
    '\n' +
    (shard.index === 0 || listFailures.length > 0 ? JSON.stringify({ records: [], failures: listFailures, listing: true }) + '\n' : '') +
    lines.map((l) => JSON.stringify(l) + '\n').join('');
  await writeFileAtomic(file, text);
  // The whole input's ingest key when this part was made: the merge records the run's ingest
  // (stages/ingest.json, what `avcurate ingest` and curate's step check) only when every part agrees with it now.
  const ingestKey = stageFingerprint(await ingestFingerprint(input, manifestPath(runDir), config.ingest)).key;
  await markDone(runDir, INGEST_PART_STAGE, fp, { shard: partName, outputs: [file], summary: { ingestKey } });
  return { file, inputs: mine.length, records: lines.reduce((s, l) => s + l.records.length, 0), failures: lines.reduce((s, l) => s + l.failures.length, 0), skipped: false };
}

/**
 * Merge the n parts into manifest.jsonl and failures.jsonl (the ingest lines). On the stage
 * ledger as the run's ingest (stages/ingest.json, the record `avcurate ingest` and curate's ingest
 * step check): skipped when that record holds; recorded when every part was made from the input
 * as it is now (the whole input's ingest key each part's record keeps), so a later `curate` on a
 * launched run folder finds its ingest finished.
 */
export async function runIngestMerge(config: Config, count: number, opts: { silent?: boolean } = {}): Promise<{ manifest: string; clips: number; failures: number; skipped: boolean }> {
  const runDir = config.runDir!;
  const fp = stageFingerprint(await ingestFingerprint(corpusDir(config), manifestPath(runDir), config.ingest));
  const check = await stageDone<IngestSummary>(runDir, INGEST_STAGE, fp);
  if (check.done) return { manifest: manifestPath(runDir), clips: check.record!.summary.clips, failures: check.record!.summary.refused, skipped: true };
  const note = redoNote(check, runDir);
  if (note && !opts.silent) log(note);
  const t0 = performance.now();
  let inputs = 0;
  const records: ClipRecord[] = [];
  const failures: FailureRecord[] = [];
  const listFailures: FailureRecord[] = [];
  const seen = new Map<string, string>();
  for (let i = 0; i < count; i++) {
    const file = ingestPartPath(runDir, i, count);
    if (!(await exists(file))) throw new Error(`${file}: missing; run ingest shard ${i}/${count} first (avcurate status)`);
    let first = true;
    for await (const line of iterJsonl<PartHeader & PartLine & { listing?: boolean }>(file)) {
      if (first) {
        first = false;
        if (line.format !== INGEST_PART_FORMAT || line.index !== i || line.count !== count) throw new Error(`${file}: not ingest part ${i} of ${count}; delete it and rerun that shard`);
        inputs += line.inputs;
        continue;
      }
      if (line.listing) {
        listFailures.push(...line.failures);
        continue;
      }
      keepFirstById(line.records, seen, records, failures);
      failures.push(...line.failures);
    }
  }
  const all = [...listFailures, ...failures];
  const out = manifestPath(runDir);
  await writeManifest(out, records);
  // failures.jsonl: keep other stages' lines, replace this stage's.
  await replaceStageFailures(path.join(runDir, FAILURES_NAME), 'ingest', all);
  const stale: number[] = [];
  for (let i = 0; i < count; i++) {
    const rec = await readStageRecord<{ ingestKey?: string } | null>(runDir, INGEST_PART_STAGE, path.basename(ingestPartPath(runDir, i, count), '.jsonl'));
    if (rec?.summary?.ingestKey !== fp.key) stale.push(i);
  }
  if (stale.length === 0) {
    const reasons: Record<string, number> = {};
    for (const f of all) reasons[f.reason.replace(/\(.*\)/, '').trim()] = (reasons[f.reason.replace(/\(.*\)/, '').trim()] ?? 0) + 1;
    const summary: IngestSummary = { note: `${records.length} clips in the manifest, ${all.length} refused (merged from ${count} parts)`, clips: records.length, inputs, refused: all.length, reasons };
    await markDone(runDir, INGEST_STAGE, fp, { outputs: [out], stamp: true, summary, seconds: (performance.now() - t0) / 1000 });
  } else if (!opts.silent) {
    log(`ingest-merge: part(s) ${stale.join(', ')} of ${count} were made from the input as it was before (or by an older avcurate): the manifest is merged but not recorded as the run's ingest; rerun those ingest shards to record it`);
  }
  return { manifest: out, clips: records.length, failures: all.length, skipped: false };
}
