/**
 * Sequential byte readers with cheap skipping, over local files (positional reads with a read-ahead
 * buffer; skipping seeks) and http(s) URLs (one streaming GET from an offset with a Range header;
 * skipping reads through the stream). `read(n)` returns fewer than n bytes only at the end.
 */
import { promises as fsp } from 'node:fs';

export interface ByteReader {
  /** Where the reader was opened, for messages. */
  readonly url: string;
  /** Offset of the next byte to read, from the start of the file. */
  readonly position: number;
  /** Read up to n bytes into a fresh Buffer (short only at the end of the data). */
  read(n: number): Promise<Buffer>;
  /**
   * Up to n bytes like read(), but the result may view the reader's own buffers instead of a copy
   * (zero-copy; the viewed buffer is then never reused, so the bytes stay valid).
   */
  view?(n: number): Promise<Buffer>;
  /** Up to `into.length` bytes copied into `into` (no allocation); returns how many (short only at the end). */
  readInto?(into: Buffer): Promise<number>;
  /** Skip up to n bytes; returns how many were skipped. */
  skip(n: number): Promise<number>;
  close(): Promise<void>;
}

export function isUrl(spec: string): boolean {
  return /^https?:\/\//i.test(spec);
}

const CHUNK = 4 << 20;
const AHEAD = 2;

interface Fetch {
  at: number;
  n: number;
  data: Promise<Buffer>;
}

/**
 * Local file reader with read-ahead: up to AHEAD chunks of 4 MiB are read in the background while
 * the caller consumes the current one, so file reads overlap parsing. A skip inside the buffered
 * range consumes it; a longer skip drops the read-ahead and seeks.
 */
export class FileByteReader implements ByteReader {
  private ready: Buffer[] = [];
  private readyPos = 0;
  private inflight: Fetch[] = [];
  /** Reads dropped by a seek; awaited before the file is closed. */
  private orphans: Array<Promise<Buffer>> = [];
  private nextFetch: number;
  private pos: number;

  private constructor(readonly url: string, private readonly fh: fsp.FileHandle, readonly size: number, start: number) {
    this.pos = Math.min(start, size);
    this.nextFetch = this.pos;
  }

  static async open(file: string, start = 0): Promise<FileByteReader> {
    let fh: fsp.FileHandle;
    try {
      fh = await fsp.open(file, 'r');
    } catch (err) {
      throw new Error(`cannot open shard ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    }
    const st = await fh.stat();
    return new FileByteReader(file, fh, st.size, start);
  }

  get position(): number {
    return this.pos;
  }

  /** Consumed chunk buffers, reused for the next reads (only those never handed out by view()). */
  private spare: Buffer[] = [];
  /** Chunks view() handed out a part of: never reused. */
  private lent = new WeakSet<Buffer>();

  private async fetch(at: number, n: number): Promise<Buffer> {
    const buf = n === CHUNK && this.spare.length > 0 ? this.spare.pop()! : Buffer.allocUnsafeSlow(n);
    let got = 0;
    while (got < n) {
      const { bytesRead } = await this.fh.read(buf, got, n - got, at + got);
      if (bytesRead === 0) break;
      got += bytesRead;
    }
    return got === n ? buf : buf.subarray(0, got);
  }

  private launch(): void {
    while (this.inflight.length < AHEAD && this.nextFetch < this.size) {
      const at = this.nextFetch;
      const n = Math.min(CHUNK, this.size - at);
      this.nextFetch += n;
      const data = this.fetch(at, n);
      data.catch(() => undefined); // rethrown to whoever awaits it
      this.inflight.push({ at, n, data });
    }
  }

  /** Make sure a ready chunk is available; false at the end of the file. */
  private async pull(): Promise<boolean> {
    while (this.ready.length > 0 && this.readyPos >= this.ready[0].length) {
      const done = this.ready.shift()!;
      if (done.length === CHUNK && this.spare.length < AHEAD + 1 && !this.lent.has(done)) this.spare.push(done);
      this.readyPos = 0;
    }
    if (this.ready.length > 0) return true;
    this.launch();
    const f = this.inflight.shift();
    if (!f) return false;
    const data = await f.data;
    this.launch();
    if (data.length === 0) return false;
    this.ready.push(data);
    this.readyPos = 0;
    return true;
  }

  async read(n: number): Promise<Buffer> {
    n = Math.max(0, Math.min(n, this.size - this.pos));
    const out = Buffer.allocUnsafe(n);
    const done = await this.readInto(out);
    return done === n ? out : out.subarray(0, done);
  }

  async readInto(out: Buffer): Promise<number> {
    const n = Math.max(0, Math.min(out.length, this.size - this.pos));
    let done = 0;
    while (done < n && (await this.pull())) {
      const c = this.ready[0];
      const k = Math.min(c.length - this.readyPos, n - done);
      c.copy(out, done, this.readyPos, this.readyPos + k);
      this.readyPos += k;
      done += k;
      this.pos += k;
    }
    return done;
  }

  async view(n: number): Promise<Buffer> {
    n = Math.max(0, Math.min(n, this.size - this.pos));
    if (n > 0 && (await this.pull())) {
      const c = this.ready[0];
      if (c.length - this.readyPos >= n) {
        // Wholly inside the current chunk: hand out a view and retire the chunk from reuse.
        const out = c.subarray(this.readyPos, this.readyPos + n);
        this.lent.add(c);
        this.readyPos += n;
        this.pos += n;
        return out;
      }
    }
    return this.read(n);
  }

  async skip(n: number): Promise<number> {
    const k = Math.max(0, Math.min(n, this.size - this.pos));
    const target = this.pos + k;
    const bufferedEnd = this.inflight.length > 0 ? this.inflight[this.inflight.length - 1].at + this.inflight[this.inflight.length - 1].n : this.pos + this.ready.reduce((a, c) => a + c.length, 0) - this.readyPos;
    if (target > bufferedEnd) {
      // Beyond the read-ahead: drop it and seek.
      this.ready = [];
      this.readyPos = 0;
      this.orphans.push(...this.inflight.map((f) => f.data));
      this.inflight = [];
      this.pos = target;
      this.nextFetch = target;
      if (this.orphans.length > 8) {
        await Promise.allSettled(this.orphans);
        this.orphans = [];
      }
      return k;
    }
    let left = k;
    while (left > 0 && (await this.pull())) {
      const c = this.ready[0];
      const take = Math.min(c.length - this.readyPos, left);
      this.readyPos += take;
      left -= take;
      this.pos += take;
    }
    return k - left;
  }

  async close(): Promise<void> {
    const pending = [...this.orphans, ...this.inflight.map((f) => f.data)];
    this.inflight = [];
    this.orphans = [];
    this.ready = [];
    await Promise.allSettled(pending);
    await this.fh.close().catch(() => undefined);
  }
}

export class HttpByteReader implements ByteReader {
  private readonly chunks: Buffer[] = [];
  private buffered = 0;
  private pos: number;
  private ended = false;
  private readonly it: AsyncIterator<Uint8Array>;
  private readonly abort: AbortController;

  private constructor(readonly url: string, body: AsyncIterable<Uint8Array>, start: number, abort: AbortController, private readonly idleMs = 60_000) {
    this.pos = start;
    this.it = body[Symbol.asyncIterator]();
    this.abort = abort;
  }

  static async open(url: string, start = 0, timeoutMs = 60_000): Promise<HttpByteReader> {
    const abort = new AbortController();
    const timer = setTimeout(() => abort.abort(), timeoutMs);
    let res: Response;
    try {
      res = await fetch(url, { headers: start > 0 ? { Range: `bytes=${start}-` } : {}, signal: abort.signal });
    } catch (err) {
      throw new Error(`cannot fetch shard ${url}: ${(err as Error).message}`);
    } finally {
      clearTimeout(timer);
    }
    if (res.status === 416) {
      // Range past the end: an empty remainder.
      return new HttpByteReader(url, (async function* () {})(), start, abort, timeoutMs);
    }
    if (res.status !== 200 && res.status !== 206) {
      abort.abort();
      throw new Error(`cannot fetch shard ${url}: HTTP ${res.status} ${res.statusText}`);
    }
    if (!res.body) throw new Error(`cannot fetch shard ${url}: empty response body`);
    const reader = new HttpByteReader(url, res.body as unknown as AsyncIterable<Uint8Array>, start, abort, timeoutMs);
    if (start > 0 && res.status === 200) {
      // The server ignored the Range header: read up to the offset.
      reader.pos = 0;
      const k = await reader.skip(start);
      if (k < start) throw new Error(`shard ${url} is shorter (${k} bytes) than the offset ${start}`);
    }
    return reader;
  }

  get position(): number {
    return this.pos;
  }

  private async more(): Promise<boolean> {
    if (this.ended) return false;
    let timer: NodeJS.Timeout | undefined;
    const stalled = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        this.abort.abort();
        reject(new Error(`${this.url}: no data for ${this.idleMs / 1000} s at byte ${this.pos + this.buffered}`));
      }, this.idleMs);
    });
    let r: IteratorResult<Uint8Array>;
    try {
      r = await Promise.race([this.it.next(), stalled]);
    } finally {
      clearTimeout(timer);
    }
    if (r.done) {
      this.ended = true;
      return false;
    }
    const b = Buffer.from(r.value.buffer, r.value.byteOffset, r.value.byteLength);
    this.chunks.push(b);
    this.buffered += b.length;
    return true;
  }

  async read(n: number): Promise<Buffer> {
    while (this.buffered < n && (await this.more()));
    const k = Math.min(n, this.buffered);
    const out = Buffer.allocUnsafe(k);
    let done = 0;
    while (done < k) {
      const c = this.chunks[0];
      const take = Math.min(c.length, k - done);
      c.copy(out, done, 0, take);
      done += take;
      if (take === c.length) this.chunks.shift();
      else this.chunks[0] = c.subarray(take);
    }
    this.buffered -= k;
    this.pos += k;
    return out;
  }

  async skip(n: number): Promise<number> {
    let done = 0;
    while (done < n) {
      if (this.chunks.length === 0 && !(await this.more())) break;
      const c = this.chunks[0];
      const take = Math.min(c.length, n - done);
      done += take;
      this.buffered -= take;
      if (take === c.length) this.chunks.shift();
      else this.chunks[0] = c.subarray(take);
    }
    this.pos += done;
    return done;
  }

  async close(): Promise<void> {
    if (!this.ended) {
      this.abort.abort();
      await this.it.return?.().catch(() => undefined);
    }
    this.ended = true;
  }
}

export async function openBytes(spec: string, start = 0): Promise<ByteReader> {
  return isUrl(spec) ? HttpByteReader.open(spec, start) : FileByteReader.open(spec, start);
}
