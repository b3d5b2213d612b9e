/**
 * A JSON dump of what the loader reads from a shard folder, for scripts/check_shards_interop.py:
 * per sample its key, shard, and per member the size and sha256 of the bytes; for .npy members the
 * dtype, shape and sha256 of the array data as the loader decoded it; for .json members the parsed
 * value. The Python side reads the same shards with tarfile and numpy and compares.
 */
import { createHash } from 'node:crypto';
import path from 'node:path';
import { fromShards } from '../sources/shards.js';
import { parseMember } from '../sources/members.js';
import type { NdArray } from '../formats/ndarray.js';
import { writeJsonAtomic } from '../../runtime/atomic.js';

const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

export interface InteropDump {
  format: 'avcurate-interop-dump';
  shards: string;
  samples: Array<{
    key: string;
    shard: string;
    members: Record<string, { size: number; sha256: string }>;
    npy: Record<string, { dtype: string; shape: number[]; sha256: string; sum: number }>;
    json: Record<string, unknown>;
  }>;
}

export async function dumpShards(dir: string, outFile?: string): Promise<InteropDump> {
  const ds = await fromShards(dir, { onError: 'raise' });
  const dump: InteropDump = { format: 'avcurate-interop-dump', shards: path.resolve(dir), samples: [] };
  for await (const s of ds) {
    const entry: InteropDump['samples'][number] = { key: s.__key__, shard: path.basename(s.__url__), members: {}, npy: {}, json: {} };
    for (const [ext, v] of Object.entries(s)) {
      if (!Buffer.isBuffer(v)) continue;
      entry.members[ext] = { size: v.length, sha256: sha(v) };
      if (ext.endsWith('.npy')) {
        const a = parseMember(ext, v) as NdArray;
        const bytes = new Uint8Array(a.data.buffer, a.data.byteOffset, a.data.byteLength);
        let sum = 0;
        for (let i = 0; i < a.data.length; i++) sum += Number((a.data as unknown as ArrayLike<number>)[i]);
        entry.npy[ext] = { dtype: a.dtype, shape: [...a.shape], sha256: sha(bytes), sum };
      } else if (ext.endsWith('json')) entry.json[ext] = parseMember(ext, v) as Record<string, unknown>;
    }
    dump.samples.push(entry);
  }
  if (outFile) await writeJsonAtomic(outFile, dump);
  return dump;
}
