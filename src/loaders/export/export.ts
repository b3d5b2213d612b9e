/**
 * Export a selection as WebDataset shards: for each selected clip in rank order, `<key>.mp4` (the
 * clip's window cut from its source by the media layer), `<key>.json` (its manifest record with
 * rank, gain, objective and the window), and optionally pre-decoded `<key>.frames.npy` (uint8
 * [T, H, W, 3]) and `<key>.audio.npy` (float32 [S]). Keys are sanitised ids. Shards roll over at
 * maxCount samples or maxBytes bytes; shards.json lists names, counts, bytes and sha256.
 *
 * Resumable: the settings are written first (.export.json); a rerun with the same settings keeps
 * the complete shards already there (each is renamed into place only when complete) after checking
 * that their keys are the expected next keys, and continues after them. Clips that cannot be cut
 * or decoded are skipped (onError 'skip', logged to failures.jsonl) or stop the export ('raise').
 */
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { withRunLock } from '../../run/lock.js';
import { createHash } from 'node:crypto';
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
import { CONFIG_DEFAULTS } from '../../config/defaults.js';

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
  index: ShardIndex;
  /** Samples written in this run (not counting reused shards). */
  written: number;
  reusedShards: number;
  skipped: Array<{ id: string; reason: string }>;
}

interface Prepared {
  clip: SelectedClip;
  key: string;
}

async function fileSha256(file: string): Promise<string> {
  const h = createHash('sha256');
  const fh = await fsp.open(file, 'r');
  try {
    const buf = Buffer.allocUnsafe(1 << 20);
    for (;;) {
      const { bytesRead } = await fh.read(buf, 0, buf.length, null);
      if (bytesRead === 0) break;
      h.update(buf.subarray(0, bytesRead));
    }
  } finally {
    await fh.close();
  }
  return h.digest('hex');
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

/** Export the selection to shards (holding the output folder's lock: src/run/lock.ts). */
export async function exportShards(opts: ExportOptions): Promise<ExportResult> {
  return withRunLock(path.resolve(opts.out), 'export', () => exportShardsLocked(opts));
}

async function exportShardsLocked(opts: ExportOptions): Promise<ExportResult> {
  if (opts.maxCount === undefined && opts.maxBytes === undefined) opts = { ...opts, maxCount: CONFIG_DEFAULTS.loader.export.maxCount };
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
  const selectionHash = createHash('sha256').update(await fsp.readFile(opts.selection)).digest('hex');
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
      kept.push({ name, count: keys.length, bytes: st.size, sha256: await fileSha256(file), first: keys[0], last: keys[keys.length - 1] });
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
        skipped.push({ id: r.p.clip.id, reason: opts.absolutePaths ? r.error.message : r.error.message.split(root + path.sep).join('') });
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
  const members = ['json', 'mp4', ...(opts.npy ? ['audio.npy', 'frames.npy'] : [])].sort();
  const index: ShardIndex = {
    format: 'avcurate-shards',
    version: 1,
    shards,
    total: { count: shards.reduce((a, s) => a + s.count, 0), bytes: shards.reduce((a, s) => a + s.bytes, 0) },
    members,
    settings,
    skipped,
  };
  await writeJsonAtomic(indexFile, index);
  return { out, index, written, reusedShards: kept.length, skipped };
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
    else if ((await fileSha256(file)) !== s.sha256) problems.push(`${s.name}: sha256 differs from the index`);
  }
  return { ok: problems.length === 0, problems };
}
