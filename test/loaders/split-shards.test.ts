import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import path from 'node:path';
import { ShardWriter } from '../../src/loaders/export/shardWriter.js';
import { epochShardOrder, fromShardSplit, shardShare } from '../../src/loaders/partition/shards.js';
import { rankFromEnv } from '../../src/loaders/partition/env.js';
import { openClipSource } from '../../src/loaders/pipeline.js';
import { writeShardIndex } from '../../src/run/shards-index.js';
import { LoaderSchema } from '../../src/config/sections/loader.js';
import type { ShardInfo } from '../../src/loaders/sources/shards.js';
import { checkStateContract } from './helpers/state.js';
import { removeDir, tempDir } from './helpers/fixtures.js';

const dir = tempDir('split-shards');
const COUNTS = [3, 2, 4, 1, 3, 2, 5];
let shards: ShardInfo[];
let indexFile: string;

beforeAll(async () => {
  shards = [];
  const entries: Array<Record<string, unknown> & { name: string; count: number; bytes: number; sha256: string }> = [];
  let k = 0;
  for (let s = 0; s < COUNTS.length; s++) {
    const w = new ShardWriter(dir, { startIndex: s, maxCount: 100 });
    for (let i = 0; i < COUNTS[s]; i++) await w.write(`s${s}-k${k++}`, { txt: Buffer.from(`sample ${s}/${i}`) });
    const [written] = await w.finish();
    entries.push({ ...written });
    shards.push({ url: path.join(dir, written.name), count: written.count });
  }
  indexFile = path.join(dir, 'shards.json');
  await writeShardIndex(indexFile, { format: 'avcurate-shards', version: 1, shards: entries, total: { count: 20, bytes: entries.reduce((a, e) => a + e.bytes, 0) }, members: ['txt'] });
});
afterAll(() => removeDir(dir));

const keysOf = async (ds: { toArray(): Promise<Array<{ __key__: string; __url__: string }>> }) => (await ds.toArray()).map((x) => x.__key__);
const shardOfKey = (k: string) => Number(/^s(\d+)-/.exec(k)![1]);

describe('shards split by rank and worker', () => {
  it('a rank opens only its own shards; ranks are disjoint and cover every shard in an epoch', async () => {
    const all: string[] = [];
    for (let rank = 0; rank < 3; rank++) {
      const ds = await fromShardSplit(shards, { split: { rank, world: 3, policy: 'none' } });
      const items = await ds.toArray();
      const mine = new Set(shardShare(COUNTS.length, rank, 3).map((i) => shards[i].url));
      expect(items.every((x) => mine.has(x.__url__))).toBe(true);
      expect(ds.size).toBe([...mine].reduce((a, u) => a + shards.find((s) => s.url === u)!.count!, 0));
      all.push(...items.map((x) => x.__key__));
    }
    expect(all.length).toBe(COUNTS.reduce((a, b) => a + b, 0));
    expect(new Set(all).size).toBe(all.length);
  });

  it("'pad' and 'drop' give every rank and worker the same number of samples (so of batches)", async () => {
    for (const policy of ['pad', 'drop'] as const) {
      const counts: number[] = [];
      for (let rank = 0; rank < 2; rank++) {
        for (let worker = 0; worker < 2; worker++) {
          const keys = await keysOf(await fromShardSplit(shards, { split: { rank, world: 2, worker, workers: 2, policy }, shuffleShards: 5 }));
          counts.push(keys.length);
          // node then worker: rank r's shards are every 2nd of the epoch order, worker w every 2nd of those
          const order = epochShardOrder(COUNTS.length, 5, 0);
          const own = new Set(shardShare(COUNTS.length, rank, 2, worker, 2).map((i) => order[i]));
          expect(keys.every((k) => own.has(shardOfKey(k)))).toBe(true);
        }
      }
      expect(new Set(counts).size).toBe(1);
      const shares = [0, 1].flatMap((r) => [0, 1].map((w) => shardShare(COUNTS.length, r, 2, w, 2).reduce((a, i) => a + COUNTS[epochShardOrder(COUNTS.length, 5, 0)[i]], 0)));
      expect(counts[0]).toBe(policy === 'pad' ? Math.max(...shares) : Math.min(...shares));
    }
  });

  it('keeps the state contract across padding passes and epochs', async () => {
    const ds = (await fromShardSplit(shards, { split: { rank: 1, world: 3, policy: 'pad' }, shuffleShards: 2 })).repeat(2);
    await checkStateContract(ds, { view: (x) => x.__key__, minItems: 8 });
  });

  it('refuses shares without a shard, and equalising without counts', async () => {
    await expect(fromShardSplit(shards, { split: { rank: 0, world: 4, workers: 2 } })).rejects.toThrow(/7 shard\(s\) for 4 rank\(s\) x 2 worker\(s\)/);
    await expect(fromShardSplit(shards.map((s) => ({ url: s.url })), { split: { rank: 0, world: 2 } })).rejects.toThrow(/policy "pad" needs every shard's sample count/);
    await expect(fromShardSplit(shards, { split: { rank: 2, world: 2 } })).rejects.toThrow(/rank must be an integer in \[0, 1\]/);
  });

  it('the clip pipeline splits a shards.json source by shard when world > 1, with loader.splitPolicy', async () => {
    const counts: number[] = [];
    for (let rank = 0; rank < 2; rank++) {
      const loader = LoaderSchema.parse({ splitPolicy: 'drop' });
      const { ds, splitDone } = await openClipSource(indexFile, loader, { seed: 4, rank, world: 2, training: true });
      expect(splitDone).toBe(true);
      const items = (await ds.toArray()) as Array<{ __key__: string }>;
      const own = new Set(shardShare(COUNTS.length, rank, 2).map((i) => epochShardOrder(COUNTS.length, 4, 0)[i]));
      expect(items.every((x) => own.has(shardOfKey(x.__key__)))).toBe(true);
      counts.push(items.length);
    }
    expect(counts[0]).toBe(counts[1]);
  });
});

describe('rank from the environment', () => {
  it('reads torchrun and Slurm variables, torchrun first, and names bad values', () => {
    expect(rankFromEnv({})).toEqual({ rank: 0, world: 1, localRank: 0, source: 'none' });
    expect(rankFromEnv({ SLURM_PROCID: '3', SLURM_NTASKS: '8', SLURM_LOCALID: '1' })).toEqual({ rank: 3, world: 8, localRank: 1, source: 'slurm' });
    expect(rankFromEnv({ RANK: '1', WORLD_SIZE: '2', LOCAL_RANK: '1', SLURM_PROCID: '0', SLURM_NTASKS: '1' })).toEqual({ rank: 1, world: 2, localRank: 1, source: 'torchrun' });
    expect(() => rankFromEnv({ RANK: '2', WORLD_SIZE: '2' })).toThrow(/RANK=2 is not below WORLD_SIZE=2/);
    expect(() => rankFromEnv({ RANK: '1' })).toThrow(/WORLD_SIZE is unset while RANK is set/);
    expect(() => rankFromEnv({ SLURM_PROCID: 'x', SLURM_NTASKS: '2' })).toThrow(/SLURM_PROCID="x": expected an integer >= 0/);
  });
});
