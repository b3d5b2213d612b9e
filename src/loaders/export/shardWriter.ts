/**
 * Writes samples into numbered tar shards (shard-000000.tar, ...), starting a new shard when the
 * next sample would pass maxCount samples or maxBytes bytes (a sample larger than maxBytes gets a
 * shard of its own). Each shard is written to a temporary name, fsynced and renamed, and hashed
 * (sha256) as it is written; `finish()` returns the index entries.
 */
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { createHash, type Hash } from 'node:crypto';
import { TarWriter } from '../formats/tar.js';
import { isSafeKey } from './keys.js';
import { tempPathFor, writeFully } from '../../runtime/atomic.js';

export interface ShardWriterOptions {
  maxCount?: number;
  maxBytes?: number;
  prefix?: string;
  /** Number the first shard written (to continue after shards kept by a resumed export). */
  startIndex?: number;
}

export interface WrittenShard {
  name: string;
  count: number;
  bytes: number;
  sha256: string;
  first: string;
  last: string;
}

export function shardFileName(prefix: string, index: number): string {
  return `${prefix}-${String(index).padStart(6, '0')}.tar`;
}

/** Bytes a sample takes in a tar. */
export function sampleTarBytes(key: string, members: Record<string, Uint8Array>): number {
  let n = 0;
  for (const [ext, data] of Object.entries(members)) n += TarWriter.sizeOf(`${key}.${ext}`, data.byteLength);
  return n;
}

class OpenShard {
  readonly tar: TarWriter;
  readonly hash: Hash = createHash('sha256');
  count = 0;
  first = '';
  last = '';
  private buf: Buffer[] = [];
  private buffered = 0;

  constructor(readonly name: string, readonly target: string, readonly tmp: string, readonly fh: fsp.FileHandle) {
    this.tar = new TarWriter((chunk) => this.sink(chunk));
  }

  private async sink(chunk: Buffer): Promise<void> {
    this.hash.update(chunk);
    this.buf.push(Buffer.from(chunk));
    this.buffered += chunk.length;
    if (this.buffered >= 4 << 20) await this.flush();
  }

  async flush(): Promise<void> {
    if (this.buffered === 0) return;
    const data = Buffer.concat(this.buf, this.buffered);
    this.buf = [];
    this.buffered = 0;
    await writeFully(this.fh, data); // a short write on a full disk must not pass (reliab)
  }
}

export class ShardWriter {
  private current: OpenShard | null = null;
  private index: number;
  readonly written: WrittenShard[] = [];
  private readonly prefix: string;

  constructor(readonly dir: string, private readonly opts: ShardWriterOptions = {}) {
    this.prefix = opts.prefix ?? 'shard';
    this.index = opts.startIndex ?? 0;
    if (opts.maxCount !== undefined && !(Number.isInteger(opts.maxCount) && opts.maxCount >= 1)) throw new RangeError(`maxCount must be a positive integer, got ${opts.maxCount}`);
    if (opts.maxBytes !== undefined && !(opts.maxBytes >= 1024)) throw new RangeError(`maxBytes must be at least 1024, got ${opts.maxBytes}`);
  }

  private async open(): Promise<OpenShard> {
    await fsp.mkdir(this.dir, { recursive: true });
    const name = shardFileName(this.prefix, this.index++);
    const target = path.join(this.dir, name);
    const tmp = tempPathFor(target);
    const fh = await fsp.open(tmp, 'w');
    return new OpenShard(name, target, tmp, fh);
  }

  private async close(s: OpenShard): Promise<void> {
    try {
      await s.tar.end();
      await s.flush();
      await s.fh.sync();
      await s.fh.close();
      await fsp.rename(s.tmp, s.target);
    } catch (err) {
      // e.g. ENOSPC: no half-written shard stays behind, and the message names it (reliab)
      await s.fh.close().catch(() => undefined);
      await fsp.rm(s.tmp, { force: true });
      throw Object.assign(new Error(`cannot write shard ${s.target}: ${(err as Error).message}`, { cause: err }), { code: (err as NodeJS.ErrnoException).code });
    }
    this.written.push({ name: s.name, count: s.count, bytes: s.tar.bytes, sha256: s.hash.digest('hex'), first: s.first, last: s.last });
  }

  /** Add one sample: `members` maps extensions (mp4, json, frames.npy) to bytes. */
  async write(key: string, members: Record<string, Uint8Array>): Promise<void> {
    if (!isSafeKey(key)) throw new Error(`unsafe shard key ${JSON.stringify(key)} (use sanitizeKey)`);
    for (const ext of Object.keys(members)) {
      if (!/^[a-z0-9][a-z0-9._-]*$/.test(ext)) throw new Error(`bad member extension ${JSON.stringify(ext)} for key ${key}`);
    }
    const size = sampleTarBytes(key, members);
    const c = this.current;
    if (c && ((this.opts.maxCount !== undefined && c.count >= this.opts.maxCount) || (this.opts.maxBytes !== undefined && c.count > 0 && c.tar.bytes + size + 1024 > this.opts.maxBytes))) {
      this.current = null;
      await this.close(c);
    }
    if (!this.current) this.current = await this.open();
    const s = this.current;
    try {
      for (const ext of Object.keys(members).sort()) await s.tar.add(`${key}.${ext}`, members[ext]);
    } catch (err) {
      throw Object.assign(new Error(`cannot write shard ${s.target}: ${(err as Error).message}`, { cause: err }), { code: (err as NodeJS.ErrnoException).code });
    }
    if (s.count === 0) s.first = key;
    s.last = key;
    s.count++;
  }

  async finish(): Promise<WrittenShard[]> {
    if (this.current) {
      const c = this.current;
      this.current = null;
      await this.close(c);
    }
    return this.written;
  }

  /** Remove the temporary file of an unfinished shard (after an error). */
  async abort(): Promise<void> {
    const c = this.current;
    this.current = null;
    if (c) {
      await c.fh.close().catch(() => undefined);
      await fsp.rm(c.tmp, { force: true });
    }
  }
}
