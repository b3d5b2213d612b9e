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
  /** Skip up to n bytes; returns how many were skipped. */
  skip(n: number): Promise<number>;
  close(): Promise<void>;
}

export function isUrl(spec: string): boolean {
  return /^https?:\/\//i.test(spec);
}

const CHUNK = 1 << 20;
const DIRECT = 256 << 10;

export class FileByteReader implements ByteReader {
  private chunk: Buffer = Buffer.alloc(0);
  private chunkPos = 0;
  private pos: number;

  private constructor(readonly url: string, private readonly fh: fsp.FileHandle, readonly size: number, start: number) {
    this.pos = Math.min(start, size);
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

  private async fill(at: number, n: number, into: Buffer, offset: number): Promise<number> {
    let got = 0;
    while (got < n) {
      const { bytesRead } = await this.fh.read(into, offset + got, n - got, at + got);
      if (bytesRead === 0) break;
      got += bytesRead;
    }
    return got;
  }

  async read(n: number): Promise<Buffer> {
    n = Math.max(0, Math.min(n, this.size - this.pos));
    const out = Buffer.allocUnsafe(n);
    let done = 0;
    while (done < n) {
      const avail = this.chunk.length - this.chunkPos;
      if (avail > 0) {
        const k = Math.min(avail, n - done);
        this.chunk.copy(out, done, this.chunkPos, this.chunkPos + k);
        this.chunkPos += k;
        done += k;
        this.pos += k;
        continue;
      }
      const want = n - done;
      if (want >= DIRECT) {
        const got = await this.fill(this.pos, want, out, done);
        done += got;
        this.pos += got;
        if (got < want) break;
        continue;
      }
      const size = Math.min(CHUNK, this.size - this.pos);
      const buf = Buffer.allocUnsafe(size);
      const got = await this.fill(this.pos, size, buf, 0);
      this.chunk = buf.subarray(0, got);
      this.chunkPos = 0;
      if (got === 0) break;
    }
    return done === n ? out : out.subarray(0, done);
  }

  async skip(n: number): Promise<number> {
    const k = Math.max(0, Math.min(n, this.size - this.pos));
    const avail = this.chunk.length - this.chunkPos;
    if (k <= avail) this.chunkPos += k;
    else {
      this.chunk = Buffer.alloc(0);
      this.chunkPos = 0;
    }
    this.pos += k;
    return k;
  }

  async close(): Promise<void> {
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

  private constructor(readonly url: string, body: AsyncIterable<Uint8Array>, start: number, abort: AbortController) {
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
      return new HttpByteReader(url, (async function* () {})(), start, abort);
    }
    if (res.status !== 200 && res.status !== 206) {
      abort.abort();
      throw new Error(`cannot fetch shard ${url}: HTTP ${res.status} ${res.statusText}`);
    }
    if (!res.body) throw new Error(`cannot fetch shard ${url}: empty response body`);
    const reader = new HttpByteReader(url, res.body as unknown as AsyncIterable<Uint8Array>, start, abort);
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
    const r = await this.it.next();
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
