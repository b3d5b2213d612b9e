/**
 * WebDataset pools curated in place. A downloader such as video2dataset writes a pool as tar
 * shards, one sample per key (`<key>.mp4` + `<key>.json`, ...). Ingest takes such a pool as it is:
 *
 *   - a folder whose top level holds `.tar` files (other files beside them, such as video2dataset's
 *     parquet and stats files, are not read; media files beside them are refused as ambiguous),
 *   - a brace list of shards, `pool/{000000..000099}.tar` (WebDataset's notation),
 *   - one `.tar` file, or a text file (`.txt`) with one tar path or brace list a line (relative to
 *     the text file's folder; blank lines and `#` comments skipped).
 *
 * Each tar is indexed with the project's tar reader (src/loaders/formats/tar.ts: checksums, pax and
 * GNU names, bounded extended headers, truncation named with the byte offset), reading headers
 * only: member data is never read, except `.json` members (the sample's metadata, up to
 * MAX_JSON_BYTES). Members are grouped by key; each sample's media member becomes one input whose
 * source is the member's byte range in the tar (src/media/source.ts), which ffmpeg reads through its
 * subfile protocol: nothing is extracted to disk.
 *
 * The tar list is in name order (a folder) or in the order given (a brace list or a text file);
 * samples follow their order in the tar. `ingest --shard i/n` (the launch step) takes whole tars,
 * the contiguous range i of the list, so sharded == single.
 *
 * Hostile tars are refused with the tar named: a corrupt or truncated tar yields the samples
 * whose members lie wholly before the damage and one failure line for the rest; a member whose
 * data reaches past the end of the tar, a duplicate member name, an unsafe or over-long member
 * name, a sample without a media member, and unreadable metadata each refuse their sample.
 */
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import type { ByteReader } from '../../loaders/io/bytes.js';
import { expandBraces } from '../../loaders/sources/shards.js';
import { TarError, TarReader, isUnsafeMemberName, splitMemberName, type TarEntry } from '../../loaders/formats/tar.js';
import { tarMemberSource } from '../../media/source.js';
import { Pool, defaultConcurrency } from '../../runtime/pool.js';
import type { FailureRecord } from '../../run/failures.js';
import { toId } from '../../run/ids.js';
import type { InputItem } from './input-item.js';

/** Largest `.json` member read as a sample's metadata. */
export const MAX_JSON_BYTES = 4 << 20;
/** Most tars one brace list may name. */
export const MAX_BRACE_TARS = 1_000_000;
/** Longest string value carried from a sample's json into the record's `meta`. */
export const MAX_META_STRING = 4096;

/** The tars of a pool, in order, and what could not be listed (missing tars, duplicates). */
export interface TarPool {
  /** How the pool was given. */
  kind: 'folder' | 'braces' | 'list' | 'tar';
  /** Absolute tar paths, in pool order. */
  tars: string[];
  /** Folder the tars' relative names (used in messages and ids) are taken from. */
  root: string;
  failures: FailureRecord[];
}

/**
 * What ingest knows and this module uses (passed in, so that ingest can import this module without
 * a cycle): its media extensions, and how a labels.jsonl row becomes an input.
 */
export interface TarIndexRules {
  media: ReadonlySet<string>;
  fromRow: (base: string, row: Record<string, unknown>, where: string) => Omit<TarInput, 'extra' | 'id' | 'rel'> & { id?: string };
}

/** One sample of a tar turned into an ingest input: an InputItem whose id and extra fields are always set. */
export type TarInput = Omit<InputItem, 'id' | 'extra'> & {
  id: string;
  /** Fields added to every clip record of this input. */
  extra: Record<string, unknown>;
};

const hasBraces = (s: string): boolean => /\{[^{}]*\}/.test(s);

/** How many names a brace pattern expands to (without expanding it). */
function braceCount(spec: string): number {
  let n = 1;
  for (const m of spec.matchAll(/\{([^{}]*)\}/g)) {
    const r = /^(\d+)\.\.(\d+)$/.exec(m[1]);
    n *= r ? Math.max(0, Number(r[2]) - Number(r[1]) + 1) : m[1].split(',').length;
    if (n > MAX_BRACE_TARS) return n;
  }
  return n;
}

function expandTarPattern(spec: string, where: string): string[] {
  const n = braceCount(spec);
  if (n > MAX_BRACE_TARS) throw new Error(`${where}: the brace list ${spec} names ${n} tars; the limit is ${MAX_BRACE_TARS} (give a text file of tar paths instead)`);
  const names = expandBraces(spec);
  for (const name of names) if (!/\.tar$/i.test(name)) throw new Error(`${where}: ${name} is not a .tar file (a tar pool names .tar shards)`);
  return names;
}

async function statOrNull(file: string) {
  try {
    return await fsp.stat(file);
  } catch {
    return null;
  }
}

/**
 * The tar pool an ingest input names, or null when the input is not one (a folder of media
 * files, a CSV, a labels.jsonl). Missing tars and tars listed twice become failure lines; a pool
 * that names no existing tar at all is an error.
 */
export async function listTarPool(input: string, rules: Pick<TarIndexRules, 'media'>): Promise<TarPool | null> {
  const st = await statOrNull(input);
  let pool: TarPool;
  if (st?.isDirectory()) {
    const names = (await fsp.readdir(input, { withFileTypes: true })).filter((d) => !d.isDirectory()).map((d) => d.name).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    const tars = names.filter((n) => /\.tar$/i.test(n));
    if (tars.length === 0) return null;
    const media = names.filter((n) => rules.media.has(path.extname(n).toLowerCase()));
    if (media.length > 0) throw new Error(`ingest input ${input}: holds both .tar shards (${tars[0]}, ...) and media files (${media[0]}, ...); put the tars of a WebDataset pool in a folder of their own, or give them as a list`);
    pool = { kind: 'folder', tars: tars.map((n) => path.resolve(input, n)), root: path.resolve(input), failures: [] };
  } else if (st?.isFile() && /\.tar$/i.test(input)) {
    pool = { kind: 'tar', tars: [path.resolve(input)], root: path.dirname(path.resolve(input)), failures: [] };
  } else if (st?.isFile() && /\.txt$/i.test(input)) {
    const base = path.dirname(path.resolve(input));
    const tars: string[] = [];
    (await fsp.readFile(input, 'utf8')).split('\n').forEach((raw, i) => {
      const line = raw.trim();
      if (line === '' || line.startsWith('#')) return;
      for (const name of expandTarPattern(line, `${input}:${i + 1}`)) tars.push(path.resolve(base, name));
    });
    if (tars.length === 0) throw new Error(`ingest input ${input}: lists no tar`);
    pool = { kind: 'list', tars, root: base, failures: [] };
  } else if (!st && hasBraces(input)) {
    const tars = expandTarPattern(input, `ingest input ${input}`).map((n) => path.resolve(n));
    pool = { kind: 'braces', tars, root: path.resolve(input.slice(0, input.indexOf('{')).replace(/[^/\\]*$/, '') || '.'), failures: [] };
  } else {
    return null;
  }
  // Missing tars and second listings of one tar are failure lines; the rest is the pool.
  const kept: string[] = [];
  const seen = new Map<string, string>();
  for (const tar of pool.tars) {
    const s = await statOrNull(tar);
    const id = relTo(pool.root, tar);
    if (!s) pool.failures.push({ id, stage: 'ingest', file: tar, reason: 'tar not found' });
    else if (!s.isFile()) pool.failures.push({ id, stage: 'ingest', file: tar, reason: 'not a regular file' });
    else {
      const inode = `${s.dev}:${s.ino}`;
      const first = seen.get(inode);
      if (first !== undefined) pool.failures.push({ id, stage: 'ingest', file: tar, reason: `same tar as ${first}, listed twice; read once` });
      else {
        seen.set(inode, tar);
        kept.push(tar);
      }
    }
  }
  if (kept.length === 0) throw new Error(`ingest input ${input}: none of its ${pool.tars.length} tar(s) exists (first: ${pool.tars[0]})`);
  pool.tars = kept;
  return pool;
}

function relTo(root: string, file: string): string {
  const r = path.relative(root, file);
  return r && !r.startsWith('..') && !path.isAbsolute(r) ? r : file;
}

/**
 * Positional reads over one open file, without read-ahead: indexing a tar reads a 512-byte header
 * per member and seeks over the data, so a read-ahead buffer would read most of the tar for nothing.
 */
class HeaderReader implements ByteReader {
  private pos = 0;
  private constructor(readonly url: string, private readonly fh: fsp.FileHandle, readonly size: number) {}

  static async open(file: string): Promise<HeaderReader> {
    const fh = await fsp.open(file, 'r');
    try {
      return new HeaderReader(file, fh, (await fh.stat()).size);
    } catch (err) {
      await fh.close();
      throw err;
    }
  }

  get position(): number {
    return this.pos;
  }

  async read(n: number): Promise<Buffer> {
    const want = Math.max(0, Math.min(n, this.size - this.pos));
    const buf = Buffer.allocUnsafe(want);
    let got = 0;
    while (got < want) {
      const { bytesRead } = await this.fh.read(buf, got, want - got, this.pos + got);
      if (bytesRead === 0) break;
      got += bytesRead;
    }
    this.pos += got;
    return got === want ? buf : buf.subarray(0, got);
  }

  async skip(n: number): Promise<number> {
    const k = Math.max(0, Math.min(n, this.size - this.pos));
    this.pos += k;
    return k;
  }

  async close(): Promise<void> {
    await this.fh.close();
  }
}

interface SampleMembers {
  key: string;
  members: Array<{ ext: string; entry: TarEntry; json?: Buffer }>;
  problems: string[];
}

/** The scalar fields of a sample's json (strings capped), for the record's `meta`. */
function scalarMeta(json: Record<string, unknown>): Record<string, string | number | boolean> {
  const out: Record<string, string | number | boolean> = {};
  for (const [k, v] of Object.entries(json)) {
    if (typeof v === 'string') out[k] = v.length > MAX_META_STRING ? v.slice(0, MAX_META_STRING) : v;
    else if (typeof v === 'number' && Number.isFinite(v)) out[k] = v;
    else if (typeof v === 'boolean') out[k] = v;
  }
  return out;
}

/**
 * Index one tar: its samples as ingest inputs (in tar order) and the failures (naming the tar) of
 * samples refused and of the tar's damage. `root` gives the tar's relative name for ids.
 */
export async function indexTar(tar: string, root: string, rules: TarIndexRules): Promise<{ items: TarInput[]; failures: FailureRecord[] }> {
  const { media: MEDIA_EXTENSIONS, fromRow } = rules;
  const rel = relTo(root, tar);
  const failures: FailureRecord[] = [];
  const fail = (id: string, reason: string, file = tar) => failures.push({ id, stage: 'ingest', file, reason });
  let bytes: HeaderReader;
  try {
    bytes = await HeaderReader.open(tar);
  } catch (err) {
    fail(rel, `cannot open tar: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    return { items: [], failures };
  }
  const reader = new TarReader(bytes);
  const samples = new Map<string, SampleMembers>();
  try {
    for (;;) {
      let entry: TarEntry | null;
      try {
        entry = await reader.next();
      } catch (err) {
        if (!(err instanceof TarError)) throw err;
        fail(rel, `${err.message}; the samples after it are not read`);
        break;
      }
      if (!entry) break;
      const parts = entry.problem ? { key: entry.name, ext: '' } : splitMemberName(entry.name);
      if (!parts) continue; // no extension: not a sample member (WebDataset skips it too)
      let s = samples.get(parts.key);
      if (!s) samples.set(parts.key, (s = { key: parts.key, members: [], problems: [] }));
      if (entry.problem) {
        s.problems.push(entry.problem);
        continue;
      }
      if (isUnsafeMemberName(entry.name)) {
        s.problems.push(`unsafe member name ${JSON.stringify(entry.name)} (absolute path or '..' part)`);
        continue;
      }
      if (entry.dataOffset + entry.size > bytes.size) {
        s.problems.push(`member ${entry.name} (${entry.size} bytes at byte ${entry.dataOffset}) reaches past the end of the tar (${bytes.size} bytes): truncated tar`);
        continue;
      }
      const dup = s.members.find((m) => m.ext === parts.ext);
      if (dup) {
        s.problems.push(`duplicate member ${entry.name} (at bytes ${dup.entry.offset} and ${entry.offset})`);
        continue;
      }
      const m: SampleMembers['members'][number] = { ext: parts.ext, entry };
      if (parts.ext === 'json') {
        if (entry.size > MAX_JSON_BYTES) s.problems.push(`metadata member ${entry.name} is ${entry.size} bytes, over the limit of ${MAX_JSON_BYTES}`);
        else m.json = await reader.readData(entry);
      }
      s.members.push(m);
    }
  } finally {
    await reader.close();
  }
  const items: TarInput[] = [];
  for (const s of samples.values()) {
    const slash = s.key.lastIndexOf('/');
    const base = s.key.slice(slash + 1);
    // The id rule of a folder's files: the key when it is an id at the top of the tar, else cleaned + hash.
    let id: string;
    try {
      id = toId(base || 'sample', `${rel}#${s.key}`, slash >= 0);
    } catch {
      id = toId('sample', `${rel}#${s.key}`, true);
    }
    const where = `${rel}: sample "${s.key}"`;
    if (s.problems.length > 0) {
      fail(id, `${where}: ${[...new Set(s.problems)].join('; ')}`);
      continue;
    }
    // The media member: the first of the sample's members in MEDIA_EXTENSIONS order (video containers first).
    let media: SampleMembers['members'][number] | undefined;
    for (const ext of MEDIA_EXTENSIONS) {
      media = s.members.find((m) => `.${m.ext}` === ext);
      if (media) break;
    }
    if (!media) {
      fail(id, `${where} has no video or audio member (members: ${s.members.map((m) => m.ext).join(', ') || 'none'})`);
      continue;
    }
    if (media.entry.size === 0) {
      fail(id, `${where}: media member ${media.entry.name} is empty (0 bytes)`);
      continue;
    }
    const source = tarMemberSource(tar, media.entry.name, media.entry.dataOffset, media.entry.size);
    let json: Record<string, unknown> | null = null;
    const jm = s.members.find((m) => m.ext === 'json');
    if (jm?.json) {
      try {
        const v: unknown = JSON.parse(jm.json.toString('utf8'));
        if (!v || typeof v !== 'object' || Array.isArray(v)) throw new Error('not a JSON object');
        json = v as Record<string, unknown>;
      } catch (err) {
        fail(id, `${where}: metadata member ${jm.entry.name} is not valid JSON (${(err as Error).message})`, source);
        continue;
      }
    }
    // The json's fields the manifest knows (label, classes, video_id, window, ...) are read as a
    // labels.jsonl row is; the member's source always comes from the tar.
    let item;
    try {
      item = fromRow(path.dirname(tar), { ...(json ?? {}), file: source, path: undefined, filename: undefined }, `${where} (json)`);
    } catch (err) {
      fail(id, (err as Error).message, source);
      continue;
    }
    // The member's place, spelled out (the tar is the source's; not repeated, so an export without
    // absolute paths carries no path of this machine).
    const extra: Record<string, unknown> = { tar_member: { member: media.entry.name, offset: media.entry.dataOffset, size: media.entry.size } };
    if (json) extra.meta = scalarMeta(json);
    items.push({ ...item, file: source, rel: `${rel}#${media.entry.name}`, id: item.id ?? id, extra });
  }
  return { items, failures };
}

/** Index the tars (concurrently, results in tar order): every sample an input, failures in tar order. */
export async function indexTars(tars: readonly string[], root: string, rules: TarIndexRules, concurrency = defaultConcurrency()): Promise<{ items: TarInput[]; failures: FailureRecord[] }> {
  const results = await new Pool(concurrency).map(tars, (tar) => indexTar(tar, root, rules));
  return { items: results.flatMap((r) => r.items), failures: results.flatMap((r) => r.failures) };
}
