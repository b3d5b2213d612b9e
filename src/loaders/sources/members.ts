/**
 * Member parsing (WebDataset's "decode" of bytes by extension): .json → parsed value, .npy →
 * NdArray, .txt / .cls → string / number; anything else (.mp4, .wav, ...) stays a Buffer. A member
 * that does not parse throws an error naming the sample, member and shard, so a map stage with
 * onError 'skip' drops it and reports it.
 */
import type { Sample } from './shards.js';
import { decodeNpy } from '../formats/npy.js';
import { reservedMemberExt } from '../formats/tar.js';
import type { NdArray } from '../formats/ndarray.js';

export interface ParsedSample {
  __key__: string;
  __url__: string;
  [ext: string]: unknown;
}

export function parseMember(ext: string, bytes: Buffer): unknown {
  const last = ext.slice(ext.lastIndexOf('.') + 1);
  try {
    if (last === 'json') return JSON.parse(bytes.toString('utf8'));
    if (last === 'npy') return decodeNpy(bytes, `member ${ext}`);
    if (last === 'txt') return bytes.toString('utf8');
    if (last === 'cls') {
      const v = Number(bytes.toString('utf8').trim());
      if (!Number.isFinite(v)) throw new Error('not a number');
      return v;
    }
  } catch (err) {
    const msg = (err as Error).message;
    throw new Error(msg.startsWith('member ') ? msg : `member ${ext}: ${msg}`, { cause: err });
  }
  return bytes;
}

/**
 * Parse every member of a sample by extension, into a null-prototype object. Reserved and
 * Object.prototype names (which the shard reader already refuses) are never copied.
 */
export function parseSample(sample: Sample): ParsedSample {
  const out = Object.create(null) as ParsedSample;
  out.__key__ = sample.__key__;
  out.__url__ = sample.__url__;
  for (const [ext, v] of Object.entries(sample)) {
    if (ext === '__key__' || ext === '__url__') continue;
    const reserved = reservedMemberExt(ext);
    if (reserved) throw new Error(`sample "${sample.__key__}": ${reserved}`);
    out[ext] = Buffer.isBuffer(v) ? parseMember(ext, v) : v;
  }
  return out;
}

/** The .npy members of a parsed sample as arrays (`frames.npy` → `frames`). */
export function npyFields(sample: ParsedSample): Record<string, NdArray> {
  const out: Record<string, NdArray> = {};
  for (const [ext, v] of Object.entries(sample)) if (ext.endsWith('.npy')) out[ext.slice(0, -4)] = v as NdArray;
  return out;
}
