/**
 * Tar, as WebDataset uses it: POSIX ustar headers, with a pax extended header ('x') for names over
 * 100 bytes, non-ASCII names and sizes of 8 GiB and more. The writer is deterministic (fixed mode,
 * owner and mtime) so the same samples give byte-identical shards. The reader streams entries from a
 * ByteReader, checks header checksums, understands pax ('x', 'g') and GNU long names ('L'), and
 * reports truncation and corrupt headers with the shard and byte offset.
 *
 * Hostile input is bounded: extended headers (pax, GNU long names) over MAX_EXTENDED_HEADER_BYTES
 * and sizes that are not plain non-negative integers are corrupt headers; a member name longer than
 * MAX_MEMBER_NAME_BYTES comes back with a `problem` (its sample is refused, the shard goes on); name
 * splitting is linear in the name length. See docs/reliability.md.
 */
import type { ByteReader } from '../io/bytes.js';

export const BLOCK = 512;
/** Longest member name (bytes) a sample may use; longer ones are refused (Linux PATH_MAX). */
export const MAX_MEMBER_NAME_BYTES = 4096;
/** Members this large or larger come back as views of the byte reader's buffers (when it offers them). */
export const VIEW_MIN_BYTES = 64 << 10;
/** Largest pax / GNU long-name header read into memory. */
export const MAX_EXTENDED_HEADER_BYTES = 1 << 20;

export class TarError extends Error {
  constructor(readonly url: string, readonly offset: number, readonly reason: 'truncated' | 'corrupt' | 'unsafe', detail: string) {
    super(`${url}: ${detail} (byte ${offset})`);
    this.name = 'TarError';
  }
}

function octal(value: number, width: number): string {
  // width includes the trailing NUL
  return value.toString(8).padStart(width - 1, '0') + '\0';
}

function writeString(buf: Buffer, offset: number, width: number, s: string): void {
  buf.write(s, offset, Math.min(width, Buffer.byteLength(s)), 'utf8');
}

function paxRecord(key: string, value: string): string {
  const body = ` ${key}=${value}\n`;
  let len = Buffer.byteLength(body) + 1;
  while (String(len).length + Buffer.byteLength(body) !== len) len = String(len).length + Buffer.byteLength(body);
  return `${len}${body}`;
}

function rawHeader(name: string, size: number, type: string, mtime: number): Buffer {
  const h = Buffer.alloc(BLOCK, 0);
  writeString(h, 0, 100, name);
  writeString(h, 100, 8, octal(0o644, 8));
  writeString(h, 108, 8, octal(0, 8));
  writeString(h, 116, 8, octal(0, 8));
  writeString(h, 124, 12, octal(size, 12));
  writeString(h, 136, 12, octal(mtime, 12));
  h.fill(0x20, 148, 156);
  h.write(type, 156, 1, 'ascii');
  h.write('ustar\0', 257, 6, 'ascii');
  h.write('00', 263, 2, 'ascii');
  let sum = 0;
  for (let i = 0; i < BLOCK; i++) sum += h[i];
  h.write(sum.toString(8).padStart(6, '0') + '\0 ', 148, 8, 'ascii');
  return h;
}

function pad(size: number): number {
  return (BLOCK - (size % BLOCK)) % BLOCK;
}

/** Header blocks for a regular file: a pax header first when the name or size needs one. */
export function fileHeader(name: string, size: number, mtime = 0): Buffer {
  const nameBytes = Buffer.byteLength(name);
  const ascii = /^[\x20-\x7e]*$/.test(name);
  const bigSize = size >= 0o77777777777;
  if (nameBytes <= 100 && ascii && !bigSize) return rawHeader(name, size, '0', mtime);
  let records = '';
  if (nameBytes > 100 || !ascii) records += paxRecord('path', name);
  if (bigSize) records += paxRecord('size', String(size));
  const data = Buffer.from(records, 'utf8');
  const shortName = `PaxHeader/${name.replace(/[^\x20-\x7e]/g, '_')}`.slice(0, 99);
  return Buffer.concat([
    rawHeader(shortName, data.length, 'x', mtime),
    data,
    Buffer.alloc(pad(data.length)),
    rawHeader(ascii ? name.slice(0, 100) : shortName, bigSize ? 0 : size, '0', mtime),
  ]);
}

/** Writes a tar stream through `sink`; counts bytes. Call end() to write the closing blocks. */
export class TarWriter {
  bytes = 0;
  members = 0;
  constructor(private readonly sink: (chunk: Buffer) => Promise<void> | void, private readonly mtime = 0) {}

  private async put(b: Buffer): Promise<void> {
    if (b.length === 0) return;
    await this.sink(b);
    this.bytes += b.length;
  }

  async add(name: string, data: Uint8Array): Promise<void> {
    if (name.length === 0) throw new Error('tar: empty member name');
    await this.put(fileHeader(name, data.byteLength, this.mtime));
    await this.put(Buffer.from(data.buffer, data.byteOffset, data.byteLength));
    await this.put(Buffer.alloc(pad(data.byteLength)));
    this.members++;
  }

  /** Bytes a member will take in the tar (headers, data, padding). */
  static sizeOf(name: string, size: number): number {
    return fileHeader(name, size).length + size + pad(size);
  }

  async end(): Promise<void> {
    await this.put(Buffer.alloc(BLOCK * 2));
  }
}

export interface TarEntry {
  name: string;
  size: number;
  /** Offset of the entry's first header (its pax header, if any). */
  offset: number;
  /** Offset of its data. */
  dataOffset: number;
  /** Why this member cannot be a sample member (name over MAX_MEMBER_NAME_BYTES); undefined when fine. */
  problem?: string;
}

function cstring(buf: Buffer, start: number, width: number): string {
  const end = buf.indexOf(0, start);
  return buf.toString('utf8', start, end < 0 || end > start + width ? start + width : end);
}

function parseNumber(buf: Buffer, start: number, width: number): number {
  if (buf[start] & 0x80) {
    // base-256 (GNU): big-endian two's complement; a negative value (0xff lead byte) is corrupt
    if (buf[start] === 0xff) return NaN;
    let v = buf[start] & 0x7f;
    for (let i = 1; i < width; i++) v = v * 256 + buf[start + i];
    return v;
  }
  const s = buf.toString('ascii', start, start + width).replace(/[\0 ]+$/g, '').trim();
  if (s === '') return 0;
  if (!/^[0-7]+$/.test(s)) return NaN;
  return parseInt(s, 8);
}

export function checksumOk(h: Buffer): boolean {
  const stored = parseNumber(h, 148, 8);
  let unsigned = 0;
  let signed = 0;
  for (let i = 0; i < BLOCK; i++) {
    const b = i >= 148 && i < 156 ? 0x20 : h[i];
    unsigned += b;
    signed += b > 127 ? b - 256 : b;
  }
  return stored === unsigned || stored === signed;
}

function isZero(h: Buffer): boolean {
  for (let i = 0; i < h.length; i++) if (h[i] !== 0) return false;
  return true;
}

/** pax records as a null-prototype map (a record named __proto__ is just a key). */
function parsePax(data: Buffer): Record<string, string> {
  const out: Record<string, string> = Object.create(null) as Record<string, string>;
  let i = 0;
  while (i < data.length) {
    const sp = data.indexOf(0x20, i);
    if (sp < 0) break;
    const len = parseInt(data.toString('ascii', i, sp), 10);
    if (!(len > 0)) break;
    const rec = data.toString('utf8', sp + 1, i + len - 1);
    const eq = rec.indexOf('=');
    if (eq > 0) out[rec.slice(0, eq)] = rec.slice(eq + 1);
    i += len;
  }
  return out;
}

/** Streams the regular-file entries of a tar. */
export class TarReader {
  private dataLeft = 0;
  private padLeft = 0;
  private global: Record<string, string> = Object.create(null) as Record<string, string>;

  constructor(readonly bytes: ByteReader) {}

  get url(): string {
    return this.bytes.url;
  }

  /** The header block read last (reused: valid until the next readBlock). */
  private readonly block = Buffer.allocUnsafeSlow(BLOCK);

  /** The next 512-byte block, in a buffer that the next call overwrites (headers are parsed at once). */
  private async readBlock(what: string): Promise<Buffer | null> {
    const at = this.bytes.position;
    let b: Buffer;
    if (this.bytes.readInto) b = this.block.subarray(0, await this.bytes.readInto(this.block));
    else b = await this.bytes.read(BLOCK);
    if (b.length === 0) return null;
    if (b.length < BLOCK) throw new TarError(this.url, at, 'truncated', `truncated tar: ${what} cut short after ${b.length} bytes`);
    return b;
  }

  private async readExactly(n: number, what: string): Promise<Buffer> {
    const at = this.bytes.position;
    const b = await this.bytes.read(n);
    if (b.length < n) throw new TarError(this.url, at, 'truncated', `truncated tar: ${what} has ${b.length} of ${n} bytes`);
    return b;
  }

  private async skipExactly(n: number, what: string): Promise<void> {
    const at = this.bytes.position;
    const k = await this.bytes.skip(n);
    if (k < n) throw new TarError(this.url, at, 'truncated', `truncated tar: ${what} has ${k} of ${n} bytes`);
  }

  /** Finish the current entry (skipping unread data). */
  private async settle(): Promise<void> {
    if (this.dataLeft + this.padLeft > 0) {
      await this.skipExactly(this.dataLeft, 'member data');
      await this.bytes.skip(this.padLeft); // a missing final pad is tolerated
      this.dataLeft = this.padLeft = 0;
    }
  }

  /** The next regular file, or null at the end of the archive. */
  async next(): Promise<TarEntry | null> {
    await this.settle();
    let pax: Record<string, string> = Object.create(null) as Record<string, string>;
    let longName: string | null = null;
    let start = -1;
    for (;;) {
      const at = this.bytes.position;
      const h = await this.readBlock('header');
      if (h === null || isZero(h)) return null;
      if (start < 0) start = at;
      if (!checksumOk(h)) throw new TarError(this.url, at, 'corrupt', 'corrupt tar header (checksum mismatch)');
      const type = String.fromCharCode(h[156] || 0x30);
      let size = parseNumber(h, 124, 12);
      if (!Number.isFinite(size)) throw new TarError(this.url, at, 'corrupt', 'corrupt tar header (bad size field)');
      if (type === 'x' || type === 'g' || type === 'L') {
        if (size > MAX_EXTENDED_HEADER_BYTES) throw new TarError(this.url, at, 'corrupt', `corrupt tar header (extended header of ${size} bytes; the limit is ${MAX_EXTENDED_HEADER_BYTES})`);
        const data = await this.readExactly(size, 'extended header');
        await this.bytes.skip(pad(size));
        if (type === 'x') pax = Object.assign(Object.create(null) as Record<string, string>, pax, parsePax(data));
        else if (type === 'g') this.global = Object.assign(Object.create(null) as Record<string, string>, this.global, parsePax(data));
        else longName = cstring(data, 0, data.length);
        continue;
      }
      const ext = Object.assign(Object.create(null) as Record<string, string>, this.global, pax);
      if (ext.size !== undefined) {
        // pax sizes are decimal digits only: no sign, fraction, exponent or NaN
        if (!/^[0-9]{1,16}$/.test(ext.size) || Number(ext.size) > Number.MAX_SAFE_INTEGER) {
          throw new TarError(this.url, at, 'corrupt', `corrupt tar header (bad pax size "${ext.size.slice(0, 32)}")`);
        }
        size = Number(ext.size);
      }
      if (type !== '0' && type !== '7') {
        // directories, links, devices: not samples
        await this.skipExactly(size, 'entry data');
        await this.bytes.skip(pad(size));
        pax = Object.create(null) as Record<string, string>;
        longName = null;
        start = -1;
        continue;
      }
      const magic = h.toString('ascii', 257, 262);
      const prefix = magic === 'ustar' ? cstring(h, 345, 155) : '';
      let name = ext.path ?? longName ?? cstring(h, 0, 100);
      if (!ext.path && !longName && prefix) name = `${prefix}/${name}`;
      this.dataLeft = size;
      this.padLeft = pad(size);
      const nameBytes = Buffer.byteLength(name);
      if (nameBytes > MAX_MEMBER_NAME_BYTES) {
        const shown = name.slice(0, 64);
        return { name: shown, size, offset: start, dataOffset: this.bytes.position, problem: `member name of ${nameBytes} bytes ("${shown}…") is over the limit of ${MAX_MEMBER_NAME_BYTES}` };
      }
      return { name, size, offset: start, dataOffset: this.bytes.position };
    }
  }

  /** Read the data of the entry just returned by next(). */
  async readData(entry: TarEntry): Promise<Buffer> {
    const at = this.bytes.position;
    // Large members view the reader's read buffer instead of a copy (no second copy, and one
    // ArrayBuffer per 4 MiB read instead of one per member: far fewer external-memory GCs, see
    // docs/loaders.md "Performance"); small ones are copied so that keeping, say, only the .json of
    // many samples does not keep their read buffers alive.
    const data = this.bytes.view && entry.size >= VIEW_MIN_BYTES ? await this.bytes.view(entry.size) : await this.bytes.read(entry.size);
    if (data.length < entry.size) throw new TarError(this.url, at, 'truncated', `truncated tar: member ${entry.name} has ${data.length} of ${entry.size} bytes`);
    this.dataLeft = 0;
    await this.bytes.skip(this.padLeft);
    this.padLeft = 0;
    return data;
  }

  /**
   * After a corrupt header: scan forward block by block for the next block that is a valid
   * header. Returns its offset (the caller re-opens the reader there), or -1 at the end.
   */
  async scanForHeader(): Promise<number> {
    this.dataLeft = this.padLeft = 0;
    for (;;) {
      const at = this.bytes.position;
      const b = await this.bytes.read(BLOCK);
      if (b.length < BLOCK) return -1;
      if (!isZero(b) && checksumOk(b)) return at;
    }
  }

  async close(): Promise<void> {
    await this.bytes.close();
  }
}

/**
 * WebDataset member naming: the key is the path up to the first dot of the file name, the
 * extension the rest (lower-cased). Names without an extension (or with an empty one, or a file
 * name starting with a dot) are not sample members. Linear in the name length.
 */
export function splitMemberName(name: string): { key: string; ext: string } | null {
  const slash = name.lastIndexOf('/');
  const dot = name.indexOf('.', slash + 1);
  if (dot <= slash + 1 || dot === name.length - 1) return null;
  return { key: name.slice(0, dot), ext: name.slice(dot + 1).toLowerCase() };
}

const OBJECT_NAMES = new Set(Object.getOwnPropertyNames(Object.prototype));

/**
 * Why a member extension cannot be a field of a sample object, or null when it can: names with
 * a leading or trailing "__" are reserved (`__key__`, `__url__`, `__proto__`, ...), and names of
 * Object.prototype (`constructor`, `toString`, ...) would shadow or replace what code expects.
 */
export function reservedMemberExt(ext: string): string | null {
  if (ext.startsWith('__') || ext.endsWith('__')) return `member extension "${ext}" is reserved`;
  if (OBJECT_NAMES.has(ext)) return `member extension "${ext}" is an object property name`;
  return null;
}

/** True when a member path could escape a folder if extracted (absolute, drive, or '..' parts). */
export function isUnsafeMemberName(name: string): boolean {
  if (name.startsWith('/') || name.startsWith('\\') || /^[A-Za-z]:/.test(name) || name.includes('\0')) return true;
  return name.split(/[\\/]/).some((part) => part === '..');
}
