/**
 * WebDataset tar shards as a source: samples are runs of consecutive members that share a key
 * (`<key>.<ext>`), yielded as `{ __key__, __url__, [ext]: Buffer }`. Shards are local paths or
 * http(s) URLs. State: the shard's position in the (per-epoch) shard order, the byte offset of the
 * next sample's first header and the samples read in that shard, so a restore re-opens the shard at
 * that offset (a Range request over http) and reads nothing twice. Skipping reads headers only.
 *
 * Errors: a shard that cannot be opened, a truncated tar, a corrupt header (checksum mismatch) and
 * a sample with an unsafe member name (absolute or '..') are raised under onError 'raise'; under
 * 'skip' they are counted and reported, the reader moves to the next shard (truncation, open
 * failure), re-synchronises on the next valid header (corrupt header) or drops the sample (unsafe
 * name).
 *
 * Refused samples (dropped with the reason, the shard goes on): a member name over the length cap,
 * a reserved or Object.prototype extension (`__key__`, `__proto__`, `constructor`, ...), a duplicate
 * member, a member over `maxMemberBytes` (never read into memory). Samples are null-prototype
 * objects. A shard listed in shards.json is checked against its size and sha256 before it is read
 * and against its sample count after; index names must stay beside the index (docs/reliability.md).
 */
import { createHash } from 'node:crypto';
import { createReadStream, promises as fsp } from 'node:fs';
import path from 'node:path';
import { Dataset } from '../core/dataset.js';
import { DONE, SkipCounter, errorMessage, expectKind, item, type Node, type NodeContext, type NodeState, type OnError, type StageReport } from '../core/node.js';
import { isUrl, openBytes } from '../io/bytes.js';
import { TarError, TarReader, isUnsafeMemberName, reservedMemberExt, splitMemberName, type TarEntry } from '../formats/tar.js';
import { Rng } from '../../runtime/random.js';

/** One sample: its key, the shard it came from, and one Buffer per member extension. */
export interface Sample {
  __key__: string;
  __url__: string;
  [ext: string]: string | Buffer;
}

export interface ShardInfo {
  url: string;
  count?: number;
  bytes?: number;
  sha256?: string;
}

/** The shard index written next to the shards (shards.json). */
export type { ShardIndex } from '../../run/shards-index.js';
import type { ShardIndex } from '../../run/shards-index.js';
import { CONFIG_DEFAULTS } from '../../config/defaults.js';

export interface ShardsOptions {
  /** onError for unreadable shards, truncated tars, corrupt headers, unsafe names (default 'skip'). */
  onError?: OnError;
  /** Shuffle the shard order with this seed, differently each epoch (default: keep the order). */
  shuffleShards?: number;
  /** Largest member read into memory; a sample with a larger member is refused and reported (default 1 GiB). */
  maxMemberBytes?: number;
  /**
   * Check local shards against their index entry (size and sha256, once per process and file
   * version) before reading them; a mismatch skips the shard with the reason (default true).
   */
  verify?: boolean;
}

const verified = new Map<string, string>();

/** Size and sha256 of a local shard against its index entry; the reason of a mismatch, or null. */
async function verifyShard(info: ShardInfo): Promise<string | null> {
  if (isUrl(info.url) || (info.bytes === undefined && info.sha256 === undefined)) return null;
  const st = await fsp.stat(info.url).catch(() => null);
  if (!st) return null; // the open reports it
  if (info.bytes !== undefined && st.size !== info.bytes) return `shard is ${st.size} bytes, its index says ${info.bytes}`;
  if (info.sha256 === undefined) return null;
  const tag = `${info.url}|${st.size}|${st.mtimeMs}|${st.ino}`;
  let digest = verified.get(tag);
  if (digest === undefined) {
    const h = createHash('sha256');
    for await (const chunk of createReadStream(info.url)) h.update(chunk as Buffer);
    digest = h.digest('hex');
    verified.set(tag, digest);
  }
  return digest === info.sha256.toLowerCase() ? null : `sha256 ${digest.slice(0, 12)}… does not match its index (${info.sha256.slice(0, 12)}…)`;
}

/** Default member size cap: far above any clip, below Buffer's 4 GiB limit. */
export const DEFAULT_MAX_MEMBER_BYTES = CONFIG_DEFAULTS.loader.maxMemberBytes;

export class ShardNode implements Node<Sample> {
  private readonly order: number[];
  private pos = 0;
  private offset = 0;
  private inShard = 0;
  private reader: TarReader | null = null;
  private pending: TarEntry | null = null;
  private deferred: TarError | null = null;
  private readonly counter = new SkipCounter('shards');

  constructor(private readonly shards: readonly ShardInfo[], ctx: NodeContext, private readonly opts: ShardsOptions) {
    this.order = shards.map((_, i) => i);
    if (opts.shuffleShards !== undefined) Rng.derive(opts.shuffleShards, 'shards', ctx.epoch).shuffle(this.order);
  }

  private get url(): string {
    return this.shards[this.order[this.pos]].url;
  }

  private async dropReader(): Promise<void> {
    const r = this.reader;
    this.reader = null;
    this.pending = null;
    this.deferred = null;
    await r?.close();
  }

  private async nextShard(): Promise<void> {
    await this.dropReader();
    this.pos++;
    this.offset = 0;
    this.inShard = 0;
  }

  /** Sample-member view of an entry: its key and extension, or null for entries that are not sample members. */
  private static parts(entry: TarEntry): { key: string; ext: string } | null {
    if (entry.problem) return { key: entry.name, ext: '' };
    return splitMemberName(entry.name);
  }

  /** Why a member cannot go into the sample, or null. */
  private memberProblem(entry: TarEntry, key: string, ext: string, seen: Set<string>): string | null {
    if (entry.problem) return entry.problem;
    if (isUnsafeMemberName(entry.name)) return `unsafe member name in sample "${key}" (absolute path or '..' part)`;
    const reserved = reservedMemberExt(ext);
    if (reserved) return `sample "${key}": ${reserved}`;
    if (seen.has(ext)) return `sample "${key}": duplicate member "${key}.${ext}"`;
    seen.add(ext);
    const cap = this.opts.maxMemberBytes ?? DEFAULT_MAX_MEMBER_BYTES;
    if (entry.size > cap) return `sample "${key}": member "${ext}" is ${entry.size} bytes, over the limit of ${cap} (loader.maxMemberBytes)`;
    return null;
  }

  /**
   * Read (or with materialize=false, pass over) one sample of the current shard; null at its end.
   * A sample with a refused member (unsafe or over-long name, reserved extension, duplicate,
   * over the size cap) is read past without loading its data and raised as an 'unsafe' TarError
   * naming every reason, so under 'skip' it is dropped and reported and the shard goes on.
   */
  private async readSample(materialize: boolean): Promise<Sample | null> {
    const reader = this.reader!;
    let entry = this.pending ?? (await reader.next());
    this.pending = null;
    while (entry && !ShardNode.parts(entry)) entry = await reader.next();
    if (!entry) {
      this.offset = reader.bytes.position;
      return null;
    }
    const start = entry.offset;
    const key = ShardNode.parts(entry)!.key;
    // A null-prototype object: member extensions can never reach Object.prototype.
    const sample = Object.create(null) as Sample;
    sample.__key__ = key;
    sample.__url__ = this.url;
    const problems: string[] = [];
    const seen = new Set<string>();
    const refuse = (): TarError => new TarError(this.url, start, 'unsafe', [...new Set(problems)].join('; '));
    while (entry) {
      const parts = ShardNode.parts(entry);
      if (parts) {
        if (parts.key !== key) {
          this.pending = entry;
          break;
        }
        const problem = this.memberProblem(entry, key, parts.ext, seen);
        if (problem) problems.push(problem);
        else if (materialize && problems.length === 0) sample[parts.ext] = await reader.readData(entry);
      }
      const at = reader.bytes.position;
      try {
        entry = await reader.next();
      } catch (err) {
        // Looking past the end of this sample failed: the sample is whole; the error comes next.
        if (!(err instanceof TarError)) throw err;
        this.deferred = err;
        this.offset = at;
        if (problems.length > 0) throw refuse();
        return sample;
      }
    }
    this.offset = this.pending ? this.pending.offset : reader.bytes.position;
    if (problems.length > 0) throw refuse();
    return sample;
  }

  private async advance(materialize: boolean): Promise<Sample | null> {
    while (this.pos < this.shards.length) {
      try {
        if (this.deferred) {
          const e = this.deferred;
          this.deferred = null;
          throw e;
        }
        if (!this.reader) {
          if (this.opts.verify ?? true) {
            const bad = await verifyShard(this.shards[this.order[this.pos]]);
            if (bad) throw new Error(`${this.url}: ${bad}`);
          }
          this.reader = new TarReader(await openBytes(this.url, this.offset));
          this.pending = null;
        }
        const s = await this.readSample(materialize);
        if (s) {
          this.inShard++;
          return s;
        }
        const expected = this.shards[this.order[this.pos]].count;
        if (expected !== undefined && this.inShard !== expected) this.counter.record(`${this.url}: ${this.inShard} samples, its index says ${expected}`);
        await this.nextShard();
      } catch (err) {
        if ((this.opts.onError ?? CONFIG_DEFAULTS.loader.onError) === 'raise') throw err;
        const msg = errorMessage(err);
        this.counter.record(msg.startsWith(this.url) ? msg : `${this.url}: ${msg}`);
        if (err instanceof TarError && err.reason === 'unsafe') {
          this.inShard++;
          continue;
        }
        if (err instanceof TarError && err.reason === 'corrupt' && this.reader) {
          const at = await this.reader.scanForHeader().catch(() => -1);
          if (at >= 0) {
            await this.dropReader();
            this.offset = at;
            continue;
          }
        }
        await this.nextShard();
      }
    }
    return null;
  }

  async next(): Promise<IteratorResult<Sample, undefined>> {
    const s = await this.advance(true);
    return s ? item(s) : DONE;
  }

  async skip(n: number): Promise<number> {
    let k = 0;
    while (k < n && (await this.advance(false))) k++;
    return k;
  }

  getState(): NodeState {
    return { kind: 'shards', shards: this.shards.length, pos: this.pos, offset: this.offset, inShard: this.inShard, skips: this.counter.getState() };
  }

  restore(state: NodeState): void {
    expectKind(state, 'shards');
    if (state.shards !== this.shards.length) throw new Error(`cannot restore shards: the state is for ${String(state.shards)} shards, this source has ${this.shards.length}`);
    this.pos = Number(state.pos);
    this.offset = Number(state.offset);
    this.inShard = Number(state.inShard);
    this.counter.restore(state.skips as never);
    this.reader = null;
    this.pending = null;
    this.deferred = null;
  }

  reports(): StageReport[] {
    return [this.counter.report()];
  }

  async close(): Promise<void> {
    await this.dropReader();
  }
}

/** Expand WebDataset brace patterns: "shard-{000..009}.tar" and "{a,b}". */
export function expandBraces(spec: string): string[] {
  const m = /\{([^{}]*)\}/.exec(spec);
  if (!m) return [spec];
  const head = spec.slice(0, m.index);
  const tail = spec.slice(m.index + m[0].length);
  const range = /^(\d+)\.\.(\d+)$/.exec(m[1]);
  let parts: string[];
  if (range) {
    const [a, b] = [Number(range[1]), Number(range[2])];
    const width = range[1].length;
    parts = [];
    for (let i = a; i <= b; i++) parts.push(String(i).padStart(width, '0'));
  } else parts = m[1].split(',');
  return parts.flatMap((p) => expandBraces(head + p + tail));
}

async function readText(spec: string): Promise<string> {
  if (isUrl(spec)) {
    const res = await fetch(spec);
    if (!res.ok) throw new Error(`cannot fetch ${spec}: HTTP ${res.status}`);
    return res.text();
  }
  return fsp.readFile(spec, 'utf8');
}

export interface ShardIndexOptions {
  /** Accept shard names that are absolute paths, contain '..' or are URLs (default false). */
  allowExternal?: boolean;
}

/** Why a shard name in an index is refused, or null: names must stay beside the index. */
function externalName(name: unknown): string | null {
  if (typeof name !== 'string' || name === '') return 'no name';
  if (isUrl(name) || /^[a-z][a-z0-9+.-]*:/i.test(name)) return 'a URL';
  if (path.isAbsolute(name) || name.startsWith('\\') || /^[A-Za-z]:/.test(name)) return 'an absolute path';
  if (name.split(/[\\/]/).includes('..')) return "a '..' part";
  if (name.includes('\0')) return 'a NUL byte';
  return null;
}

function resolveNear(base: string, name: string): string {
  if (isUrl(name) || path.isAbsolute(name)) return name;
  return isUrl(base) ? new URL(name, base).toString() : path.join(path.dirname(base), name);
}

/**
 * Read a shards.json index (local or URL) into shard infos with resolved URLs. Shard names must
 * be relative paths inside the index's folder (no absolute path, '..' or URL) unless
 * allowExternal; counts, sizes and hashes must be well-formed (they are checked again on read).
 */
export async function readShardIndex(spec: string, opts: ShardIndexOptions = {}): Promise<{ index: ShardIndex; shards: ShardInfo[] }> {
  let index: ShardIndex;
  try {
    index = JSON.parse(await readText(spec)) as ShardIndex;
  } catch (err) {
    throw new Error(`cannot read the shard index ${spec}: ${errorMessage(err)}`);
  }
  if (index?.format !== 'avcurate-shards' || !Array.isArray(index.shards)) throw new Error(`${spec} is not a shard index (format "avcurate-shards")`);
  index.shards.forEach((s, i) => {
    const where = `${spec}: shards[${i}]`;
    if (typeof s !== 'object' || s === null) throw new Error(`${where}: not an object`);
    const ext = externalName(s.name);
    if (ext && !(opts.allowExternal && typeof s.name === 'string' && s.name !== '')) {
      throw new Error(`${where}: the name ${JSON.stringify(s.name)} is ${ext}; shard names must stay inside the index's folder (allow with allowExternal)`);
    }
    for (const k of ['count', 'bytes'] as const) {
      if (s[k] !== undefined && !(Number.isSafeInteger(s[k]) && s[k] >= 0)) throw new Error(`${where}: ${k} ${JSON.stringify(s[k])} is not a non-negative integer`);
    }
    if (s.sha256 !== undefined && !(typeof s.sha256 === 'string' && /^[0-9a-f]{64}$/i.test(s.sha256))) throw new Error(`${where}: sha256 is not 64 hex digits`);
  });
  return { index, shards: index.shards.map((s) => ({ url: resolveNear(spec, s.name), count: s.count, bytes: s.bytes, sha256: s.sha256 })) };
}

/**
 * Resolve a shard spec: a folder (its shards.json, else its *.tar sorted), a shards.json path or
 * URL, a .tar path or URL with optional {000..009} braces, or a list of those.
 */
export async function resolveShards(spec: string | readonly string[]): Promise<ShardInfo[]> {
  const specs = typeof spec === 'string' ? [spec] : [...spec];
  const out: ShardInfo[] = [];
  for (const s of specs) {
    if (s.endsWith('.json')) {
      out.push(...(await readShardIndex(s)).shards);
      continue;
    }
    if (!isUrl(s)) {
      const st = await fsp.stat(s).catch(() => null);
      if (st?.isDirectory()) {
        const idx = path.join(s, 'shards.json');
        if (await fsp.stat(idx).catch(() => null)) out.push(...(await readShardIndex(idx)).shards);
        else {
          const names = (await fsp.readdir(s)).filter((n) => n.endsWith('.tar')).sort();
          if (names.length === 0) throw new Error(`${s}: no shards.json and no .tar files`);
          out.push(...names.map((n) => ({ url: path.join(s, n) })));
        }
        continue;
      }
    }
    out.push(...expandBraces(s).map((url) => ({ url })));
  }
  if (out.length === 0) throw new Error('no shards given');
  return out;
}

/** A dataset of WebDataset samples from tar shards. */
export async function fromShards(spec: string | readonly string[] | readonly ShardInfo[], opts: ShardsOptions = {}): Promise<Dataset<Sample>> {
  const shards: ShardInfo[] = typeof spec !== 'string' && spec.length > 0 && typeof spec[0] === 'object'
    ? [...(spec as readonly ShardInfo[])]
    : await resolveShards(spec as string | string[]);
  const size = shards.every((s) => s.count !== undefined) ? shards.reduce((a, s) => a + s.count!, 0) : null;
  return new Dataset<Sample>((ctx) => new ShardNode(shards, ctx, opts), size);
}
