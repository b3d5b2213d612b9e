/**
 * Ingest: turn a folder of videos, a CSV, or a labels.jsonl into manifest.jsonl. Every file is
 * probed concurrently, long videos are cut into clip windows, labels and ground truth are carried,
 * and pre-filters route unusable clips to failures.jsonl with a reason. Resumable: every finished
 * input is cached next to the output (keyed by path, size, mtime and window), so a rerun after a
 * kill, or on a grown folder, only probes what is new or changed.
 */
import { promises as fsp, appendFileSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { withRunLock } from '../../run/lock.js';
import { probe } from '../../media/probe.js';
import { MediaError } from '../../media/process.js';
import type { ProbeInfo } from '../../media/types.js';
import { Pool, defaultConcurrency } from '../../runtime/pool.js';
import { Progress } from '../../runtime/progress.js';
import { writeFileAtomic } from '../../runtime/atomic.js';
import { exists } from '../../runtime/jsonl.js';
import { replaceStageFailures, type FailureRecord } from '../../run/failures.js';
import { toId } from '../../run/ids.js';
import { FAILURES_NAME } from '../../run/layout.js';
import { writeManifest } from '../../run/manifest.js';
import type { IngestConfig } from '../../config/sections/ingest.js';
import { IngestSchema } from '../../config/sections/ingest.js';
import { clipWindows } from './windows.js';
import { contentStats } from './prefilter.js';
import type { ClipRecord } from './types.js';
import { parseCsvRecords } from '../../runtime/csv.js';
import { sourceFile } from '../../media/source.js';
import { indexTars, listTarPool, type TarIndexRules } from './tar-pool.js';
import type { InputItem } from './input-item.js';

export const MEDIA_EXTENSIONS = new Set([
  '.mp4', '.m4v', '.mov', '.mkv', '.webm', '.avi', '.mpg', '.mpeg', '.flv', '.ts', '.wmv', '.ogv', '.3gp',
  '.mts', '.m2ts', '.vob', '.asf', '.mxf', '.f4v',
  '.wav', '.mp3', '.m4a', '.flac', '.ogg', '.oga', '.opus', '.aac', '.wma', '.aif', '.aiff', '.amr', '.mka',
]);

export type { InputItem } from './input-item.js';

export interface IngestOptions extends Partial<IngestConfig> {
  input: string;
  /** manifest.jsonl path; failures.jsonl is written beside it. */
  out: string;
  silent?: boolean;
}

export interface IngestResult {
  manifest: string;
  failuresFile: string;
  clips: number;
  failures: FailureRecord[];
  inputs: number;
  resumed: number;
  seconds: number;
}

/**
 * A stable id for a file (the id rule of src/run/ids.ts): its stem when that is an id and the file
 * is at the top of the input, else the cleaned stem plus a hash of the relative path.
 */
export function videoIdFor(rel: string): string {
  const stem = path.basename(rel, path.extname(rel));
  return toId(stem || 'v', rel, rel.includes(path.sep));
}

function parseBool(x: unknown): boolean | undefined {
  if (typeof x === 'boolean') return x;
  if (typeof x === 'number') return x !== 0;
  if (typeof x === 'string') {
    const s = x.trim().toLowerCase();
    if (['1', 'true', 'yes', 'y'].includes(s)) return true;
    if (['0', 'false', 'no', 'n'].includes(s)) return false;
  }
  return undefined;
}

/** Still pictures: reported (not a clip), never skipped silently. */
export const IMAGE_EXTENSIONS = new Set(['.jpg', '.jpeg', '.png', '.gif', '.webp', '.bmp', '.tif', '.tiff', '.heic', '.heif', '.avif', '.svg']);

/** State of one folder walk: folders and files seen, by (device, inode), with the path they were first seen at. */
interface WalkState {
  root: string;
  seen: Map<string, string>;
  out: InputItem[];
  failures: FailureRecord[];
}

function relOf(root: string, full: string): string {
  return path.relative(root, full) || '.';
}

/** Printable form of a file name that is not valid UTF-8 (bad bytes as \xNN). */
function printableName(raw: Buffer): string {
  let out = '';
  let i = 0;
  while (i < raw.length) {
    const b = raw[i];
    const len = b < 0x80 ? 1 : b >= 0xf0 ? 4 : b >= 0xe0 ? 3 : b >= 0xc0 ? 2 : 0;
    const chunk = len > 0 ? raw.subarray(i, i + len) : null;
    if (chunk && chunk.length === len && Buffer.from(chunk.toString('utf8'), 'utf8').equals(chunk) && !chunk.toString('utf8').includes('\uFFFD')) {
      out += chunk.toString('utf8');
      i += len;
    } else {
      out += `\\x${b.toString(16).padStart(2, '0')}`;
      i++;
    }
  }
  return out;
}

/**
 * Walk a folder: media files become inputs. Every folder and file is identified by (device,
 * inode), so a symbolic-link loop (`selfdir -> .`) or a second link to a folder already walked
 * is walked once and reported once; names that are not UTF-8 (which no tool could open by
 * name), still images and unreadable folders become failure lines.
 */
async function walk(st: WalkState, dir: string): Promise<void> {
  let entries: Buffer[];
  try {
    entries = (await fsp.readdir(dir, { encoding: 'buffer' })).sort(Buffer.compare);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    st.failures.push({ id: relOf(st.root, dir), stage: 'ingest', file: dir, reason: `cannot read folder: ${code === 'EACCES' ? 'permission denied' : code ?? (err as Error).message}` });
    return;
  }
  for (const raw of entries) {
    const name = raw.toString('utf8');
    if (!Buffer.from(name, 'utf8').equals(raw)) {
      const shown = path.join(dir, printableName(raw));
      st.failures.push({ id: relOf(st.root, shown), stage: 'ingest', file: shown, reason: 'file name is not valid UTF-8 (rename it to open it)' });
      continue;
    }
    const full = path.join(dir, name);
    let info;
    try {
      info = await fsp.stat(full); // follows links
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ELOOP') st.failures.push({ id: relOf(st.root, full), stage: 'ingest', file: full, reason: 'symbolic link loop (ELOOP)' });
      else if (MEDIA_EXTENSIONS.has(path.extname(name).toLowerCase())) st.failures.push({ id: relOf(st.root, full), stage: 'ingest', file: full, reason: code === 'ENOENT' ? 'broken symbolic link' : `cannot stat: ${code ?? (err as Error).message}` });
      continue;
    }
    const ext = path.extname(name).toLowerCase();
    if (!info.isDirectory() && !MEDIA_EXTENSIONS.has(ext)) {
      if (IMAGE_EXTENSIONS.has(ext)) st.failures.push({ id: relOf(st.root, full), stage: 'ingest', file: full, reason: 'still image, not a clip (no audio, one picture)' });
      continue;
    }
    const inode = `${info.dev}:${info.ino}`;
    const first = st.seen.get(inode);
    if (first !== undefined) {
      const what = info.isDirectory() ? 'folder' : 'file';
      st.failures.push({ id: relOf(st.root, full), stage: 'ingest', file: full, reason: `same ${what} as ${first} (a link${info.isDirectory() ? ' loop or second link' : ''}); not read twice` });
      continue;
    }
    st.seen.set(inode, relOf(st.root, full));
    if (info.isDirectory()) await walk(st, full);
    else if (info.isFile()) st.out.push({ file: full, rel: path.relative(st.root, full) });
    else st.failures.push({ id: relOf(st.root, full), stage: 'ingest', file: full, reason: 'not a regular file (FIFO, socket or device)' });
  }
}

/**
 * Ids of same-stem files: `x.avi`, `x.mkv` in one folder would all be "x"; each such group gets
 * ids qualified by extension (`x_avi`, `x_mkv`), so every file keeps a distinct, stable id.
 */
function qualifySameStems(items: InputItem[]): void {
  const groups = new Map<string, InputItem[]>();
  for (const it of items) {
    if (it.id !== undefined || it.video_id !== undefined) continue;
    const id = videoIdFor(it.rel);
    if (!groups.has(id)) groups.set(id, []);
    groups.get(id)!.push(it);
  }
  const taken = new Set(items.map((it) => it.video_id ?? it.id ?? videoIdFor(it.rel)));
  for (const [id, group] of groups) {
    if (group.length < 2) continue;
    for (const it of group) {
      let q = toId(`${id}_${path.extname(it.rel).slice(1).toLowerCase()}`, it.rel);
      if (taken.has(q)) q = toId(q, it.rel, true);
      taken.add(q);
      it.id = q;
    }
  }
}

export function itemFromRow(base: string, row: Record<string, unknown>, where: string): InputItem {
  const fileField = row.file ?? row.path ?? row.filename;
  if (typeof fileField !== 'string' || fileField === '') throw new Error(`${where}: no "file" or "path" value`);
  const file = path.isAbsolute(fileField) ? fileField : path.join(base, fileField);
  const item: InputItem = { file, rel: path.relative(base, file) };
  if (typeof row.id === 'string' && row.id) item.id = toId(row.id);
  if (row.video_id !== undefined && row.video_id !== '') item.video_id = String(row.video_id);
  if (row.label !== undefined && row.label !== '') item.label = String(row.label);
  for (const k of ['visual_class', 'audio_class'] as const) {
    const v = row[k];
    if (v !== undefined && v !== '') item[k] = typeof v === 'number' ? v : /^-?\d+$/.test(String(v)) ? Number(v) : String(v);
  }
  const c = parseBool(row.corresponds);
  if (c !== undefined) item.corresponds = c;
  if (row.fold !== undefined && row.fold !== '') item.fold = row.fold as string | number;
  if (row.start !== undefined && row.start !== '' && row.end !== undefined && row.end !== '') {
    const s = Number(row.start);
    const e = Number(row.end);
    if (!(Number.isFinite(s) && Number.isFinite(e) && e > s && s >= 0)) throw new Error(`${where}: bad window start=${String(row.start)} end=${String(row.end)}`);
    item.window = { start: s, duration: Math.round((e - s) * 1000) / 1000 };
  }
  return item;
}

function readLabelsJsonl(file: string): InputItem[] {
  const base = path.dirname(file);
  const out: InputItem[] = [];
  readFileSync(file, 'utf8').split('\n').forEach((line, i) => {
    if (line.trim() === '') return;
    let row: Record<string, unknown>;
    try {
      row = JSON.parse(line);
    } catch (err) {
      throw new Error(`${file}:${i + 1}: not valid JSON (${(err as Error).message})`);
    }
    out.push(itemFromRow(base, row, `${file}:${i + 1}`));
  });
  return out;
}

/** What the WebDataset pool reader (./tar-pool.ts) takes from ingest. */
export const TAR_RULES: TarIndexRules = { media: MEDIA_EXTENSIONS, fromRow: itemFromRow };

/**
 * List the inputs of a folder, a CSV or a labels.jsonl, or the samples of a WebDataset tar pool
 * (a folder of .tar files, a brace list, a .tar, a .txt of tar paths: ./tar-pool.ts). Unreadable
 * folders and refused tar samples become failures.
 */
export async function discoverInputs(input: string): Promise<{ items: InputItem[]; failures: FailureRecord[] }> {
  const pool = await listTarPool(input, TAR_RULES);
  if (pool) {
    const r = await indexTars(pool.tars, pool.root, TAR_RULES);
    return { items: r.items, failures: [...pool.failures, ...r.failures] };
  }
  let stat;
  try {
    stat = await fsp.stat(input);
  } catch (err) {
    throw new Error(`ingest input ${input}: ${(err as NodeJS.ErrnoException).code === 'ENOENT' ? 'not found' : (err as Error).message}`);
  }
  const failures: FailureRecord[] = [];
  if (stat.isDirectory()) {
    const items: InputItem[] = [];
    await walk({ root: input, seen: new Map([[`${stat.dev}:${stat.ino}`, '.']]), out: items, failures }, input);
    const labelsFile = path.join(input, 'labels.jsonl');
    if (await exists(labelsFile)) {
      const byFile = new Map(readLabelsJsonl(labelsFile).map((it) => [path.resolve(it.file), it]));
      for (let i = 0; i < items.length; i++) {
        const known = byFile.get(path.resolve(items[i].file));
        if (known) items[i] = { ...known, rel: items[i].rel };
      }
    }
    qualifySameStems(items);
    return { items, failures };
  }
  const ext = path.extname(input).toLowerCase();
  if (ext === '.jsonl') return { items: readLabelsJsonl(input), failures };
  if (ext === '.csv' || ext === '.tsv') {
    const rows = parseCsvRecords(await fsp.readFile(input, 'utf8'), input, ext === '.tsv' ? '\t' : ',');
    const base = path.dirname(input);
    return { items: rows.map((r, i) => itemFromRow(base, r, `${input}:${i + 2}`)), failures };
  }
  throw new Error(`ingest input ${input}: expected a folder, a .csv/.tsv, a labels .jsonl, or a WebDataset tar pool (a folder of .tar files, a .tar, a brace list pool-{000000..000099}.tar, or a .txt of tar paths)`);
}

interface CacheEntry {
  key: string;
  records: ClipRecord[];
  failures: FailureRecord[];
}

async function inputKey(item: InputItem): Promise<string> {
  // the id is part of the key: a same-stem file added later renames x.avi's id from x to x_avi
  const id = item.video_id ?? item.id ?? videoIdFor(item.rel);
  try {
    const s = await fsp.stat(sourceFile(item.file)); // a tar member: its tar
    return `${item.file}|${s.size}|${s.mtimeMs}|${JSON.stringify(item.window ?? null)}|${id}`;
  } catch {
    return `${item.file}|missing`;
  }
}

/** Probe one input, cut windows, run the pre-filters. */
export async function ingestOne(item: InputItem, cfg: IngestConfig): Promise<{ records: ClipRecord[]; failures: FailureRecord[] }> {
  const vid = item.video_id ?? item.id ?? videoIdFor(item.rel);
  const fail = (reason: string, id = vid): FailureRecord => ({ id, stage: 'ingest', file: item.file, reason });
  const timeoutMs = cfg.timeoutSeconds * 1000;
  let info: ProbeInfo;
  try {
    info = await probe(item.file, { timeoutMs });
  } catch (err) {
    return { records: [], failures: [fail(err instanceof MediaError ? err.reason : (err as Error).message)] };
  }
  if (cfg.prefilter.requireVideo && !info.hasVideo) return { records: [], failures: [fail('no video stream')] };
  if (cfg.prefilter.requireAudio && !info.hasAudio) return { records: [], failures: [fail('no audio stream')] };
  if (!(info.duration > 0)) return { records: [], failures: [fail('zero or unknown duration')] };
  if (info.duration < cfg.minSeconds) return { records: [], failures: [fail(`too short (${info.duration.toFixed(2)} s < minimum ${cfg.minSeconds} s)`)] };
  if (info.video && (info.video.width * info.video.height > 8192 * 8192 || info.video.width < 2 || info.video.height < 2)) {
    return { records: [], failures: [fail(`absurd picture size ${info.video.width}x${info.video.height}`)] };
  }
  const windows = item.window ? [item.window] : clipWindows(info.duration, cfg.clipSeconds, cfg.maxClipsPerVideo);
  const records: ClipRecord[] = [];
  const failures: FailureRecord[] = [];
  for (let j = 0; j < windows.length; j++) {
    const w = windows[j];
    const id = windows.length === 1 ? (item.id ?? vid) : `${item.id ?? vid}_${String(j).padStart(2, '0')}`;
    if (w.start + w.duration > info.duration + 0.05 && item.window) {
      failures.push(fail(`window ${w.start}–${w.start + w.duration} s is past the end (${info.duration.toFixed(2)} s)`, id));
      continue;
    }
    if (cfg.prefilter.content) {
      try {
        const stats = await contentStats(item.file, w.start, w.duration, info, timeoutMs);
        if (info.hasAudio && stats.rmsDb < cfg.prefilter.silenceDb) {
          failures.push(fail(`silent audio (RMS ${Number.isFinite(stats.rmsDb) ? stats.rmsDb.toFixed(1) : '-inf'} dBFS < ${cfg.prefilter.silenceDb})`, id));
          continue;
        }
        if (info.hasVideo && stats.motion < cfg.prefilter.frozenThreshold) {
          failures.push(fail(`frozen picture (largest frame-to-frame difference ${stats.motion.toFixed(3)} over ${stats.frames} frames < ${cfg.prefilter.frozenThreshold})`, id));
          continue;
        }
      } catch (err) {
        failures.push(fail(err instanceof MediaError ? `undecodable: ${err.reason}` : (err as Error).message, id));
        continue;
      }
    }
    const rec: ClipRecord = {
      id,
      source: path.resolve(item.file),
      start: w.start,
      duration: w.duration,
      video_id: vid,
      probe: {
        duration: info.duration,
        width: info.video?.width ?? 0,
        height: info.video?.height ?? 0,
        fps: Math.round((info.video?.fps ?? 0) * 1000) / 1000,
        sampleRate: info.audio?.sampleRate ?? 0,
        videoCodec: info.video?.codec ?? '',
        audioCodec: info.audio?.codec ?? '',
      },
    };
    if (item.label !== undefined) rec.label = item.label;
    if (item.visual_class !== undefined) rec.visual_class = item.visual_class;
    if (item.audio_class !== undefined) rec.audio_class = item.audio_class;
    if (item.corresponds !== undefined) rec.corresponds = item.corresponds;
    if (item.fold !== undefined) rec.fold = item.fold;
    for (const [k, v] of Object.entries(item.extra ?? {})) if (!(k in rec)) rec[k] = v;
    records.push(rec);
  }
  return { records, failures };
}

/** Build manifest.jsonl (and the ingest lines of failures.jsonl) from an input, holding the run folder's ingest lock. */
export async function ingest(opts: IngestOptions): Promise<IngestResult> {
  return withRunLock(path.dirname(path.resolve(opts.out)), 'ingest', () => ingestLocked(opts));
}

async function ingestLocked(opts: IngestOptions): Promise<IngestResult> {
  const { input, out, silent, ...rest } = opts;
  const cfg = IngestSchema.parse(rest);
  const t0 = performance.now();
  const { items, failures: listFailures } = await discoverInputs(input);
  const outDir = path.dirname(path.resolve(out));
  await fsp.mkdir(outDir, { recursive: true });
  const cacheFile = path.join(outDir, `.${path.basename(out)}.ingest-cache.jsonl`);
  const cache = new Map<string, CacheEntry>();
  if (await exists(cacheFile)) {
    for (const line of (await fsp.readFile(cacheFile, 'utf8')).split('\n')) {
      if (!line.trim()) continue;
      try {
        const e = JSON.parse(line) as CacheEntry;
        cache.set(e.key, e);
      } catch {
        // a line cut by a kill: that input is simply redone
      }
    }
  }
  const progress = new Progress('ingest', { total: items.length, unit: 'files', silent });
  const pool = new Pool(cfg.concurrency ?? defaultConcurrency());
  let resumed = 0;
  let nFail = 0;
  const results = await pool.map(items, async (item) => {
    const key = await inputKey(item);
    const hit = cache.get(key);
    if (hit) {
      resumed++;
      progress.tick();
      return hit;
    }
    const r = await ingestOne(item, cfg);
    const entry: CacheEntry = { key, ...r };
    appendFileSync(cacheFile, JSON.stringify(entry) + '\n');
    nFail += r.failures.length;
    progress.tick(1, nFail ? `${nFail} refused` : undefined);
    return entry;
  });
  const records: ClipRecord[] = [];
  const failures: FailureRecord[] = [...listFailures];
  const seen = new Map<string, string>();
  for (const r of results) {
    keepFirstById(r.records, seen, records, failures);
    failures.push(...r.failures);
  }
  await writeManifest(out, records);
  // failures.jsonl: keep other stages' lines, replace this stage's.
  const failuresFile = path.join(outDir, FAILURES_NAME);
  await replaceStageFailures(failuresFile, 'ingest', failures);
  // Keep the cache (compacted to this input's entries) so that a rerun only probes what changed.
  await writeFileAtomic(cacheFile, results.map((r) => JSON.stringify(r) + '\n').join(''));
  progress.finish(`${records.length} clips, ${failures.length} refused`);
  return { manifest: path.resolve(out), failuresFile, clips: records.length, failures, inputs: items.length, resumed, seconds: (performance.now() - t0) / 1000 };
}

/**
 * Append to `records` the clips whose id is not in `seen` (id → source, updated); a clip with an
 * id already taken becomes an ingest failure naming the source that has it.
 */
export function keepFirstById(recs: readonly ClipRecord[], seen: Map<string, string>, records: ClipRecord[], failures: FailureRecord[]): void {
  for (const rec of recs) {
    const prev = seen.get(rec.id);
    if (prev !== undefined) {
      failures.push({ id: rec.id, stage: 'ingest', file: rec.source, reason: `duplicate clip id (also used by ${prev})` });
      continue;
    }
    seen.set(rec.id, rec.source);
    records.push(rec);
  }
}
