/**
 * Export a selection as WebDataset shards: for each selected clip in rank order, `<key>.mp4` (the
 * clip's window cut from its source by the media layer), `<key>.json` (its manifest record with
 * rank, gain, objective and the window), and optionally pre-decoded `<key>.frames.npy` (uint8
 * [T, H, W, 3]) and `<key>.audio.npy` (float32 [S]). Keys are sanitised ids. Shards roll over at
 * maxCount samples or maxBytes bytes; shards.json lists names, counts, bytes and sha256.
 *
 * Finished or not is the stage ledger's call (src/run/ledger.ts; the folder holding the output
 * folder is the run folder, the output folder's name the record's shard): stages/export/<out>.json
 * for the whole export (the settings, every clip of the selection; shards.json and every tar,
 * stamped), stages/export-block/<out>_<b>.json for each rank block of a count-rolled export (its
 * clips and the settings; its tar, stamped), so an unchanged rerun skips, a changed setting or
 * selection redoes what it changes (a block whose clips and settings are unchanged is kept), and a
 * lost or modified tar is written again. A size-rolled export (maxBytes) keeps, within the stage,
 * the complete shards of a killed run whose keys are the expected next keys (.export.json holds
 * the settings they were made with). Clips that cannot be cut or decoded are skipped (onError
 * 'skip', logged to failures.jsonl) or stop the export ('raise').
 */
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { withRunLock } from '../../run/lock.js';
import { loadSelection, type SelectedClip } from '../sources/clips.js';
import { sanitizeKey } from './keys.js';
import { ShardWriter, shardFileName, type WrittenShard } from './shardWriter.js';
import { encodeNpy } from '../formats/npy.js';
import { TarReader, splitMemberName } from '../formats/tar.js';
import { FileByteReader } from '../io/bytes.js';
import type { ShardIndex } from '../sources/shards.js';
import { decodeItem, type DecodeSpec } from '../decode/decode.js';
import type { OnError } from '../core/node.js';
import { cutClip, type CutOptions } from '../../media/cut.js';
import { writeJsonAtomic, tempPathFor, cleanStaleTemps } from '../../runtime/atomic.js';
import { mapOrdered, defaultConcurrency } from '../../runtime/pool.js';
import { Progress, log } from '../../runtime/progress.js';
import { exists } from '../../runtime/jsonl.js';
import { FailureLog } from '../../run/failures.js';
import { FAILURES_NAME, SHARD_INDEX_NAME } from '../../run/layout.js';
import { parseShardIndex } from '../../run/shards-index.js';
import { forgetStage, markDone, redoNote, stageDone, stageFingerprint, stageShards, type StageCheck, type StageFingerprint } from '../../run/ledger.js';
import { requiredFileDigest, stableKey } from '../../run/hash.js';
import { CONFIG_DEFAULTS } from '../../config/defaults.js';
import { unitsOfShard } from '../../runtime/shard.js';

export interface ExportOptions {
  selection: string;
  /** Default: manifest.jsonl next to the selection. */
  manifest?: string;
  out: string;
  maxCount?: number;
  maxBytes?: number;
  /** Also write pre-decoded frames.npy / audio.npy with these settings. */
  npy?: Pick<DecodeSpec, 'fps' | 'size' | 'seconds' | 'sampleRate' | 'sampling' | 'fit'> | null;
  /** How clips are cut (default: re-encode, exact window). */
  cut?: Pick<CutOptions, 'mode' | 'height' | 'crf'>;
  concurrency?: number;
  onError?: OnError;
  /** Only the first `limit` ranks. */
  limit?: number;
  prefix?: string;
  /** failures.jsonl to append skipped clips to (default: next to the selection). */
  failures?: string;
  /**
   * Keep the producer's absolute source paths in each <key>.json (default false: `source` is
   * relative to the corpus, the deepest folder holding every selected clip, so shards handed to
   * another team do not carry this machine's paths).
   */
  absolutePaths?: boolean;
  silent?: boolean;
  /**
   * This process's part of a count-rolled export (`export --shard i/n`): rank blocks b with
   * b mod n = i. Default: every block.
   */
  shard?: { index: number; count: number };
  /** Write shards.json when every block is done (default true; false leaves it to a run without --shard). */
  merge?: boolean;
  /** The run folder whose stage ledger records this export (default: the folder holding `out`). */
  runDir?: string;
}

/** The deepest folder that holds every file (the corpus root of a selection). */
export function corpusRoot(files: readonly string[]): string {
  if (files.length === 0) return '';
  let parts = path.dirname(path.resolve(files[0])).split(path.sep);
  for (const f of files.slice(1)) {
    const q = path.dirname(path.resolve(f)).split(path.sep);
    let i = 0;
    while (i < parts.length && i < q.length && parts[i] === q[i]) i++;
    parts = parts.slice(0, i);
  }
  return parts.join(path.sep) || path.sep;
}

export interface ExportResult {
  out: string;
  /** shards.json as written; null when blocks of other shard processes are not done yet. */
  index: ShardIndex | null;
  /** Rank blocks not done yet (count-rolled exports; empty when shards.json was written). */
  missing: number[];
  /** Samples written in this run (not counting reused shards). */
  written: number;
  reusedShards: number;
  skipped: Array<{ id: string; reason: string }>;
  /** True when the ledger found this export finished (same selection and settings, every file in place) and nothing was done. */
  upToDate: boolean;
}

interface Prepared {
  clip: SelectedClip;
  key: string;
}

/** Keys of the samples in a tar, in order (headers only). */
export async function listShardKeys(file: string): Promise<string[]> {
  const r = new TarReader(await FileByteReader.open(file));
  const keys: string[] = [];
  try {
    for (;;) {
      const e = await r.next();
      if (!e) break;
      const parts = splitMemberName(e.name);
      if (parts && keys[keys.length - 1] !== parts.key) keys.push(parts.key);
    }
  } finally {
    await r.close();
  }
  return keys;
}

async function makeMembers(p: Prepared, opts: ExportOptions, tmpDir: string, root: string): Promise<Record<string, Uint8Array>> {
  const { clip, key } = p;
  const tmp = tempPathFor(path.join(tmpDir, `${key}.mp4`));
  let mp4: Buffer;
  try {
    await cutClip(clip.source, clip.start, clip.duration, tmp, { ...opts.cut });
    mp4 = await fsp.readFile(tmp);
  } finally {
    await fsp.rm(tmp, { force: true });
  }
  const source = opts.absolutePaths ? clip.source : path.relative(root, clip.source).split(path.sep).join('/');
  const record = { ...clip, source, key, end: clip.start + clip.duration };
  const members: Record<string, Uint8Array> = { mp4, json: Buffer.from(JSON.stringify(record)) };
  if (opts.npy) {
    const d = await decodeItem(clip, { ...opts.npy, audio: 'optional' });
    members['frames.npy'] = encodeNpy(d.frames);
    members['audio.npy'] = encodeNpy(d.audio);
  }
  return members;
}

/**
 * Export the selection to shards (holding the output folder's lock: src/run/lock.ts; a shard
 * process of a count-rolled export holds its own, so the n processes run side by side).
 */
export async function exportShards(opts: ExportOptions): Promise<ExportResult> {
  if (opts.maxCount === undefined && opts.maxBytes === undefined) opts = { ...opts, maxCount: CONFIG_DEFAULTS.loader.export.maxCount };
  const shard = opts.shard ?? { index: 0, count: 1 };
  if (!(Number.isInteger(shard.count) && shard.count >= 1 && Number.isInteger(shard.index) && shard.index >= 0 && shard.index < shard.count)) {
    throw new RangeError(`export: shard ${shard.index}/${shard.count} is not an index below a positive count`);
  }
  if (opts.maxBytes !== undefined) {
    if (shard.count > 1) {
      throw new ExportShardError(
        `export --shard ${shard.index}/${shard.count}: shards rolled over by size (maxBytes) depend on every clip before them, so they cannot be cut in separate processes; use maxCount (samples per shard) for a sharded export`,
      );
    }
    return withRunLock(path.resolve(opts.out), 'export', () => exportOnLedger(opts, shard));
  }
  const lockName = shard.count > 1 ? `export-${shard.index}-of-${shard.count}` : 'export';
  return withRunLock(path.resolve(opts.out), lockName, () => exportOnLedger(opts, shard));
}

/** The ledger's stage of a whole export (stages/export/<out folder name>.json). */
export const EXPORT_STAGE = 'export';
/** The ledger's stage of one rank block of a count-rolled export (stages/export-block/<out folder name>_<block>.json). */
export const EXPORT_BLOCK_STAGE = 'export-block';

/**
 * Where an export's ledger records live: in `runDir` when given (the config's run folder; the
 * record's shard is the output folder relative to it, `shards` for `<runDir>/shards`), else in the
 * folder holding the output folder (its name is the shard).
 */
export function exportLedgerOf(out: string, runDir?: string): { runDir: string; name: string } {
  const abs = path.resolve(out);
  if (runDir !== undefined) return { runDir: path.resolve(runDir), name: path.relative(path.resolve(runDir), abs).split(path.sep).join('/') || '.' };
  return { runDir: path.dirname(abs), name: path.basename(abs) };
}

const blockShard = (name: string, b: number) => `${name}/${String(b).padStart(6, '0')}`;

/** What a finished export reports when it is skipped. */
interface ExportSummary {
  shards: number;
  count: number;
  bytes: number;
  skipped: number;
}

/** What one rank block's tar depends on: the block's clips (as their records say) and the settings that shape a tar. */
function blockFingerprint(inp: ExportInputs, b: number, maxCount: number): StageFingerprint {
  const { selection: _s, selectionSha256: _sha, limit: _l, maxBytes: _mb, ...shape } = inp.settings;
  const clips = inp.prepared.slice(b * maxCount, Math.min(inp.prepared.length, (b + 1) * maxCount)).map((p) => ({ ...p.clip, key: p.key }));
  return stageFingerprint({ config: { export: shape }, inputs: { clips, root: inp.settings.sources === 'absolute' ? null : inp.root } });
}

/**
 * The export on the stage ledger: skipped when its record holds (same settings and selection,
 * shards.json and every tar present and unchanged); otherwise the record goes and the export runs
 * (a count-rolled export keeps each block whose own record holds), and the process that writes
 * shards.json writes the record.
 */
async function exportOnLedger(opts: ExportOptions, shard: { index: number; count: number }): Promise<ExportResult> {
  const inp = await exportInputs(opts);
  const { runDir, name } = exportLedgerOf(inp.out, opts.runDir);
  const byCount = opts.maxBytes === undefined;
  const blocks = byCount ? Array.from({ length: Math.ceil(inp.prepared.length / opts.maxCount!) }, (_, b) => blockFingerprint(inp, b, opts.maxCount!)) : [];
  const fp = stageFingerprint({
    config: { export: inp.settings },
    inputs: { clips: stableKey(inp.prepared.map((p) => p.clip)), root: inp.root },
  });
  const check = await stageDone<ExportSummary>(runDir, EXPORT_STAGE, fp, { shard: name });
  if (check.done) {
    const indexFile = path.join(inp.out, SHARD_INDEX_NAME);
    const index = parseShardIndex(await fsp.readFile(indexFile, 'utf8'), indexFile);
    if (!opts.silent) log(`export: ${path.relative(runDir, indexFile)} is complete for this selection and these settings (${path.relative(runDir, check.file)}); skipping`);
    return { out: inp.out, index, missing: [], written: 0, reusedShards: index.shards.length, skipped: (index.skipped as ExportResult['skipped'] | undefined) ?? [], upToDate: true };
  }
  const note = redoNote(check, runDir);
  if (note && !opts.silent) log(`export: ${note}`);
  await forgetStage(runDir, EXPORT_STAGE, name);
  const result = byCount ? await exportBlocksLocked(opts, shard, inp, blocks) : await exportBySizeLocked(opts, inp);
  if (result.index) {
    const outputs = [path.join(inp.out, SHARD_INDEX_NAME), ...result.index.shards.map((s) => path.join(inp.out, s.name))];
    const summary: ExportSummary = { shards: result.index.shards.length, count: result.index.total.count, bytes: result.index.total.bytes, skipped: (result.index.skipped as unknown[] | undefined)?.length ?? 0 };
    await markDone(runDir, EXPORT_STAGE, fp, { shard: name, outputs, stamp: true, summary });
  }
  return result;
}

/** A sharded export that cannot run as asked (exit code 2 in the CLI). */
export class ExportShardError extends Error {
  override name = 'ExportShardError';
}

interface ExportInputs {
  out: string;
  prefix: string;
  prepared: Prepared[];
  root: string;
  settings: Record<string, unknown>;
}

async function exportInputs(opts: ExportOptions): Promise<ExportInputs> {
  const out = path.resolve(opts.out);
  const prefix = opts.prefix ?? 'shard';
  const clips = await loadSelection(opts.selection, { manifest: opts.manifest, limit: opts.limit });
  const prepared: Prepared[] = clips.map((clip) => ({ clip, key: sanitizeKey(clip.id) }));
  const byKey = new Map<string, string>();
  for (const p of prepared) {
    const other = byKey.get(p.key);
    if (other !== undefined) throw new Error(`${opts.selection}: clip ids "${other}" and "${p.clip.id}" map to the same shard key "${p.key}"`);
    byKey.set(p.key, p.clip.id);
  }
  const selectionHash = await requiredFileDigest(opts.selection);
  const root = corpusRoot(clips.map((c) => c.source));
  const settings = {
    // Relative to the output folder: shards.json carries no absolute path of the producer.
    selection: path.relative(out, path.resolve(opts.selection)).split(path.sep).join('/'),
    sources: opts.absolutePaths ? 'absolute' : 'relative to the corpus root',
    selectionSha256: selectionHash,
    limit: opts.limit ?? null,
    maxCount: opts.maxCount ?? null,
    maxBytes: opts.maxBytes ?? null,
    npy: opts.npy ?? null,
    cut: opts.cut ?? {},
    prefix,
  };
  return { out, prefix, prepared, root, settings };
}

/**
 * A skipped clip's reason as shards.json keeps it: paths relative to the corpus root (unless
 * absolutePaths), and without the addresses ffmpeg prints in its log prefixes ("[mov,mp4 @
 * 0x55d0c8]"), so that the same failure gives the same shards.json in every process.
 */
function skipReason(message: string, root: string, opts: Pick<ExportOptions, 'absolutePaths'>): string {
  const m = opts.absolutePaths ? message : message.split(root + path.sep).join('');
  return m.replace(/ @ 0x[0-9a-f]+\]/g, ']');
}

/** What a block's ledger record keeps: its shards.json entry and its skipped clips. */
interface BlockDone {
  /** The block's tar; null when every clip of the block was skipped. */
  shard: WrittenShard | null;
  skipped: Array<{ id: string; reason: string }>;
}

/** Block records of an earlier, older avcurate (before the ledger): never trusted, removed. */
const LEGACY_BLOCKS_DIR = '.blocks';

/**
 * A count-rolled export: the ranks are cut into blocks of maxCount, block b is the tar
 * `<prefix>-<b>.tar` holding the block's clips that could be cut (a block whose clips were all
 * skipped has no tar). A block depends only on its own clips and the settings, so any number of
 * processes (`shard`: blocks b with b mod n = i) write byte-identical tars, and each finished block
 * leaves a ledger record (stages/export-block/<out>_<b>.json: its clips and settings, its tar
 * stamped, its shards.json entry and skipped clips) that reruns and the merge trust instead of
 * re-reading the tar. shards.json is written once every block has a record.
 */
async function exportBlocksLocked(opts: ExportOptions, shard: { index: number; count: number }, inp: ExportInputs, fps: StageFingerprint[]): Promise<ExportResult> {
  const { out, prefix, prepared, root, settings } = inp;
  const { runDir, name } = exportLedgerOf(out, opts.runDir);
  const maxCount = opts.maxCount!;
  const blocks = fps.length;
  const mine = unitsOfShard(blocks, shard);
  await fsp.mkdir(out, { recursive: true });
  await cleanStaleTemps(out);
  const indexFile = path.join(out, SHARD_INDEX_NAME);
  await fsp.rm(indexFile, { force: true });
  // The settings file of a size-rolled export that was here: not this export's.
  await fsp.rm(path.join(out, '.export.json'), { force: true });

  /** Block b's record when it holds (these clips and settings, its tar in place and unchanged). */
  const blockDone = async (b: number): Promise<{ done: BlockDone | null; check: StageCheck<BlockDone> }> => {
    const check = await stageDone<BlockDone>(runDir, EXPORT_BLOCK_STAGE, fps[b], { shard: blockShard(name, b) });
    return { done: check.done ? check.record!.summary : null, check };
  };
  const records = new Map<number, BlockDone>();
  const todo: number[] = [];
  const notes: string[] = [];
  for (const b of mine) {
    const { done, check } = await blockDone(b);
    if (done) records.set(b, done);
    else {
      const note = redoNote(check, runDir);
      if (note) notes.push(note);
      await fsp.rm(path.join(out, shardFileName(prefix, b)), { force: true });
      todo.push(b);
    }
  }
  if (notes.length > 0 && !opts.silent) log(`export: ${notes[0]}${notes.length > 1 ? ` (and ${notes.length - 1} more block(s) to write again)` : ''}`);
  const keptShards = [...records.values()].filter((r) => r.shard).length;
  if (records.size > 0 && !opts.silent) log(`export: keeping ${records.size} finished block(s) (${keptShards} shard(s)) from an earlier run`);

  const failures = new FailureLog(opts.failures ?? path.join(path.dirname(path.resolve(opts.selection)), FAILURES_NAME));
  const skipped: ExportResult['skipped'] = [];
  const items = todo.flatMap((b) => prepared.slice(b * maxCount, Math.min(prepared.length, (b + 1) * maxCount)).map((p) => ({ p, b })));
  const progress = new Progress('export', { total: items.length, unit: 'clips', silent: opts.silent });
  const scratch = await fsp.mkdtemp(path.join(out, '.cut-'));
  let written = 0;
  let writer: ShardWriter | null = null;
  let block = -1;
  let blockSkipped: BlockDone['skipped'] = [];
  const closeBlock = async () => {
    if (block < 0) return;
    const shards = await writer!.finish();
    const rec: BlockDone = { shard: shards[0] ?? null, skipped: blockSkipped };
    await markDone(runDir, EXPORT_BLOCK_STAGE, fps[block], { shard: blockShard(name, block), outputs: rec.shard ? [path.join(out, rec.shard.name)] : [], stamp: true, summary: rec });
    records.set(block, rec);
    writer = null;
    block = -1;
  };
  try {
    const results = mapOrdered(items, async ({ p, b }) => {
      try {
        return { p, b, members: await makeMembers(p, opts, scratch, root) };
      } catch (err) {
        return { p, b, error: err as Error };
      }
    }, opts.concurrency ?? defaultConcurrency());
    for await (const r of results) {
      if (r.b !== block) {
        await closeBlock();
        block = r.b;
        blockSkipped = [];
        writer = new ShardWriter(out, { maxCount, prefix, startIndex: r.b });
      }
      if ('error' in r && r.error) {
        if ((opts.onError ?? CONFIG_DEFAULTS.loader.onError) === 'raise') throw new Error(`export: clip ${r.p.clip.id} (rank ${r.p.clip.rank}): ${r.error.message}`, { cause: r.error });
        // shards.json travels with the shards: paths in the reason relative to the corpus root too.
        const entry = { id: r.p.clip.id, reason: skipReason(r.error.message, root, opts) };
        skipped.push(entry);
        blockSkipped.push(entry);
        failures.record({ id: r.p.clip.id, stage: 'export', file: r.p.clip.source, reason: r.error.message.split('\n')[0] });
        progress.tick(1, `${skipped.length} skipped`);
        continue;
      }
      await writer!.write(r.p.key, (r as { members: Record<string, Uint8Array> }).members);
      written++;
      progress.tick(1, skipped.length ? `${skipped.length} skipped` : undefined);
    }
    await closeBlock();
  } catch (err) {
    await (writer as ShardWriter | null)?.abort();
    throw err;
  } finally {
    await fsp.rm(scratch, { recursive: true, force: true });
  }
  progress.finish(skipped.length ? `${skipped.length} skipped` : undefined);

  const base = { out, written, reusedShards: keptShards, upToDate: false };
  // The other processes' blocks, looked up only now (the process that finishes last sees them all).
  const missing: number[] = [];
  for (let b = 0; b < blocks; b++) {
    if (records.has(b)) continue;
    const { done } = await blockDone(b);
    if (done) records.set(b, done);
    else missing.push(b);
  }
  const mySkipped = mine.flatMap((b) => records.get(b)!.skipped);
  if (missing.length > 0 || opts.merge === false) {
    if (missing.length > 0) log(`export: ${blocks - missing.length}/${blocks} blocks done; ${missing.length} left for other shards (the last one to finish writes shards.json, or rerun without --shard)`);
    return { ...base, index: null, missing, skipped: mySkipped };
  }
  const ordered = Array.from({ length: blocks }, (_, b) => records.get(b)!);
  const shards = ordered.flatMap((r) => (r.shard ? [r.shard] : []));
  const allSkipped = ordered.flatMap((r) => r.skipped);
  // Tars and records of another export into this folder (more blocks, other settings) go.
  const names = new Set(shards.map((s) => s.name));
  for (const n of await fsp.readdir(out)) {
    if (n.startsWith(`${prefix}-`) && n.endsWith('.tar') && !names.has(n)) await fsp.rm(path.join(out, n), { force: true });
  }
  for (const s of await stageShards(runDir, EXPORT_BLOCK_STAGE)) {
    const b = s.startsWith(`${name}/`) ? /^(\d{6})$/.exec(s.slice(name.length + 1)) : null;
    if (b && Number(b[1]) >= blocks) await forgetStage(runDir, EXPORT_BLOCK_STAGE, s);
  }
  await fsp.rm(path.join(out, LEGACY_BLOCKS_DIR), { recursive: true, force: true });
  const index = shardIndexOf(shards, opts, settings, allSkipped);
  await writeJsonAtomic(indexFile, index);
  return { ...base, index, missing: [], skipped: shard.count > 1 ? mySkipped : allSkipped };
}

function shardIndexOf(shards: WrittenShard[], opts: ExportOptions, settings: Record<string, unknown>, skipped: ExportResult['skipped']): ShardIndex {
  const members = ['json', 'mp4', ...(opts.npy ? ['audio.npy', 'frames.npy'] : [])].sort();
  return {
    format: 'avcurate-shards',
    version: 1,
    shards,
    total: { count: shards.reduce((a, s) => a + s.count, 0), bytes: shards.reduce((a, s) => a + s.bytes, 0) },
    members,
    settings: settings as ShardIndex['settings'],
    skipped,
  };
}

/** An export rolled over by size (maxBytes): one process, shards in order. */
async function exportBySizeLocked(opts: ExportOptions, inp: ExportInputs): Promise<ExportResult> {
  const { out, prefix, prepared, root, settings } = inp;
  await fsp.mkdir(out, { recursive: true });
  await cleanStaleTemps(out);
  const settingsFile = path.join(out, '.export.json');
  const indexFile = path.join(out, SHARD_INDEX_NAME);
  const sameSettings = (await exists(settingsFile)) && JSON.stringify(JSON.parse(await fsp.readFile(settingsFile, 'utf8'))) === JSON.stringify(settings);
  const existing = (await fsp.readdir(out)).filter((n) => n.startsWith(`${prefix}-`) && n.endsWith('.tar')).sort();

  // Reuse complete shards whose keys are the expected next keys.
  const kept: WrittenShard[] = [];
  let next = 0;
  if (sameSettings) {
    for (let i = 0; i < existing.length; i++) {
      const name = shardFileName(prefix, i);
      if (existing[i] !== name) break;
      const file = path.join(out, name);
      let keys: string[];
      try {
        keys = await listShardKeys(file);
      } catch {
        break;
      }
      let p = next;
      let ok = keys.length > 0;
      for (const k of keys) {
        while (p < prepared.length && prepared[p].key !== k) p++;
        if (p >= prepared.length) {
          ok = false;
          break;
        }
        p++;
      }
      if (!ok) break;
      const st = await fsp.stat(file);
      kept.push({ name, count: keys.length, bytes: st.size, sha256: await requiredFileDigest(file), first: keys[0], last: keys[keys.length - 1] });
      next = p;
    }
  }
  for (const name of existing.slice(kept.length)) await fsp.rm(path.join(out, name), { force: true });
  await fsp.rm(indexFile, { force: true });
  await writeJsonAtomic(settingsFile, settings);
  if (kept.length > 0) log(`export: keeping ${kept.length} complete shard(s) with ${kept.reduce((a, s) => a + s.count, 0)} samples from an earlier run`);

  const failures = new FailureLog(opts.failures ?? path.join(path.dirname(path.resolve(opts.selection)), FAILURES_NAME));
  const skipped: ExportResult['skipped'] = [];
  const writer = new ShardWriter(out, { maxCount: opts.maxCount, maxBytes: opts.maxBytes, prefix, startIndex: kept.length });
  const todo = prepared.slice(next);
  const progress = new Progress('export', { total: todo.length, unit: 'clips', silent: opts.silent });
  const scratch = await fsp.mkdtemp(path.join(out, '.cut-'));
  let written = 0;
  try {
    const results = mapOrdered(todo, async (p) => {
      try {
        return { p, members: await makeMembers(p, opts, scratch, root) };
      } catch (err) {
        return { p, error: err as Error };
      }
    }, opts.concurrency ?? defaultConcurrency());
    for await (const r of results) {
      if ('error' in r && r.error) {
        if ((opts.onError ?? CONFIG_DEFAULTS.loader.onError) === 'raise') throw new Error(`export: clip ${r.p.clip.id} (rank ${r.p.clip.rank}): ${r.error.message}`, { cause: r.error });
        // shards.json travels with the shards: paths in the reason relative to the corpus root too.
        skipped.push({ id: r.p.clip.id, reason: skipReason(r.error.message, root, opts) });
        failures.record({ id: r.p.clip.id, stage: 'export', file: r.p.clip.source, reason: r.error.message.split('\n')[0] });
        progress.tick(1, `${skipped.length} skipped`);
        continue;
      }
      await writer.write(r.p.key, (r as { members: Record<string, Uint8Array> }).members);
      written++;
      progress.tick(1, skipped.length ? `${skipped.length} skipped` : undefined);
    }
    await writer.finish();
  } catch (err) {
    await writer.abort();
    throw err;
  } finally {
    await fsp.rm(scratch, { recursive: true, force: true });
  }
  progress.finish(skipped.length ? `${skipped.length} skipped` : undefined);
  const shards = [...kept, ...writer.written];
  const index = shardIndexOf(shards, opts, settings, skipped);
  await writeJsonAtomic(indexFile, index);
  return { out, index, missing: [], written, reusedShards: kept.length, skipped, upToDate: false };
}

/** Check every shard in shards.json against its listed size and sha256. */
export async function verifyShards(dir: string): Promise<{ ok: boolean; problems: string[] }> {
  const indexFile = path.join(dir, SHARD_INDEX_NAME);
  const index = parseShardIndex(await fsp.readFile(indexFile, 'utf8'), indexFile);
  const problems: string[] = [];
  for (const s of index.shards) {
    const file = path.join(dir, s.name);
    const st = await fsp.stat(file).catch(() => null);
    if (!st) {
      problems.push(`${s.name}: missing`);
      continue;
    }
    if (st.size !== s.bytes) problems.push(`${s.name}: ${st.size} bytes, index says ${s.bytes}`);
    else if ((await requiredFileDigest(file)) !== s.sha256) problems.push(`${s.name}: sha256 differs from the index`);
  }
  return { ok: problems.length === 0, problems };
}
