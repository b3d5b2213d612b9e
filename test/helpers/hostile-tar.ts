/**
 * Malicious tar builders for tests: raw ustar headers with any size field, pax records with any
 * value, sparse members of any size. Nothing here is valid on purpose unless asked.
 */
import { promises as fsp } from 'node:fs';

const BLOCK = 512;

function pad(n: number): number {
  return (BLOCK - (n % BLOCK)) % BLOCK;
}

/** One ustar header; `sizeField` is written verbatim into the size field (octal digits normally). */
export function rawTarHeader(name: string, size: number | string, type = '0'): Buffer {
  const h = Buffer.alloc(BLOCK, 0);
  h.write(name.slice(0, 100), 0, 'utf8');
  h.write('0000644\0', 100, 'ascii');
  h.write('0000000\0', 108, 'ascii');
  h.write('0000000\0', 116, 'ascii');
  const field = typeof size === 'number' ? size.toString(8).padStart(11, '0') + '\0' : size;
  h.write(field.slice(0, 12), 124, 'ascii');
  h.write('00000000000\0', 136, 'ascii');
  h.fill(0x20, 148, 156);
  h.write(type, 156, 1, 'ascii');
  h.write('ustar\0', 257, 'ascii');
  h.write('00', 263, 'ascii');
  let sum = 0;
  for (let i = 0; i < BLOCK; i++) sum += h[i];
  h.write(sum.toString(8).padStart(6, '0') + '\0 ', 148, 'ascii');
  return h;
}

function paxRecord(key: string, value: string): string {
  const body = ` ${key}=${value}\n`;
  let len = Buffer.byteLength(body) + 1;
  while (String(len).length + Buffer.byteLength(body) !== len) len = String(len).length + Buffer.byteLength(body);
  return `${len}${body}`;
}

/** A pax extended header ('x') carrying these records verbatim. */
export function paxHeader(records: Record<string, string>): Buffer {
  const data = Buffer.from(Object.entries(records).map(([k, v]) => paxRecord(k, v)).join(''), 'utf8');
  return Buffer.concat([rawTarHeader('PaxHeader/x', data.length, 'x'), data, Buffer.alloc(pad(data.length))]);
}

export interface RawMember {
  name: string;
  data?: Uint8Array;
  /** pax records written before the member header (e.g. a hostile "size" or a long "path"). */
  pax?: Record<string, string>;
  /** The size written in the ustar header (default: the data length). */
  headerSize?: number | string;
}

/** A tar of these members, exactly as described (no validation). */
export function buildTar(members: RawMember[]): Buffer {
  const parts: Buffer[] = [];
  for (const m of members) {
    const data = Buffer.from(m.data ?? new Uint8Array(0));
    if (m.pax) parts.push(paxHeader(m.pax));
    parts.push(rawTarHeader(m.name, m.headerSize ?? data.length));
    parts.push(data, Buffer.alloc(pad(data.length)));
  }
  parts.push(Buffer.alloc(2 * BLOCK));
  return Buffer.concat(parts);
}

/**
 * A shard whose first sample has one member of `hugeBytes` (a sparse hole: cheap on disk), then
 * the members of `after` (normal ones). Returns the file size.
 */
export async function writeSparseShard(file: string, hugeName: string, hugeBytes: number, after: RawMember[]): Promise<number> {
  const head = rawTarHeader(hugeName, hugeBytes);
  const tail = buildTar(after);
  const fh = await fsp.open(file, 'w');
  try {
    await fh.write(head, 0, head.length, 0);
    const at = BLOCK + hugeBytes + pad(hugeBytes);
    await fh.write(tail, 0, tail.length, at);
    return at + tail.length;
  } finally {
    await fh.close();
  }
}

export const json = (v: unknown): Buffer => Buffer.from(JSON.stringify(v));
