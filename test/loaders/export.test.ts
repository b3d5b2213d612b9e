import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { promises as fsp } from 'node:fs';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { clipPipeline, fromShards, parseSample, type NdArray, type ParsedSample, type ShardIndex } from '../../src/loaders/index.js';
import { exportShards, verifyShards, listShardKeys } from '../../src/loaders/export/export.js';
import { dumpShards } from '../../src/loaders/export/interop.js';
import { isSafeKey } from '../../src/loaders/export/keys.js';
import { makeCorpus, corruptRecord, type Corpus } from './helpers/corpus.js';
import { pythonWithNumpy, removeDir, tempDir } from './helpers/fixtures.js';
import { checkStateContract } from './helpers/state.js';
import { LoaderSchema } from '../../src/config/sections/loader.js';

const dir = tempDir('export');
let corpus: Corpus;
const py = pythonWithNumpy();
const npy = { fps: 4, size: [32, 24] as [number, number], seconds: 1, sampleRate: 8000, sampling: 'center' as const };
const readIndex = async (out: string) => JSON.parse(await fsp.readFile(path.join(out, 'shards.json'), 'utf8')) as ShardIndex;

beforeAll(async () => {
  const evil = await makeCorpus(dir, 5, 2);
  // one more record with a path-like id (same media as clip 0), and one that cannot be cut
  const extra = { ...evil.records[0], id: '../../x', source: evil.records[0].source };
  const broken = await corruptRecord(dir, 'broken');
  await fsp.appendFile(evil.manifest, JSON.stringify(extra) + '\n' + JSON.stringify(broken) + '\n');
  await fsp.appendFile(evil.selection, `6,../../x,v,0.5,2,0.01,0.9\n7,broken,b,0,2,0.01,0.9\n`);
  corpus = evil;
}, 60_000);
afterAll(() => removeDir(dir));

describe('export', () => {
  let out: string;
  it('writes shards (mp4, json, npy) and shards.json; sanitises keys; skips and logs clips that cannot be cut', async () => {
    out = path.join(dir, 'shards');
    const r = await exportShards({ selection: corpus.selection, out, maxCount: 2, npy, concurrency: 2, silent: true });
    const index = await readIndex(out);
    expect(index.shards.map((s) => s.name)).toEqual(['shard-000000.tar', 'shard-000001.tar', 'shard-000002.tar']);
    expect(index.shards.map((s) => s.count)).toEqual([2, 2, 2]);
    expect(index.total.count).toBe(6);
    expect(index.members).toEqual(['audio.npy', 'frames.npy', 'json', 'mp4']);
    expect(r.skipped.map((s) => s.id)).toEqual(['broken']);
    const failures = (await fsp.readFile(path.join(dir, 'failures.jsonl'), 'utf8')).trim().split('\n').map((l) => JSON.parse(l));
    expect(failures.some((f) => f.id === 'broken' && f.stage === 'export')).toBe(true);
    expect(await verifyShards(out)).toEqual({ ok: true, problems: [] });
    const keys = (await Promise.all(index.shards.map((s) => listShardKeys(path.join(out, s.name))))).flat();
    expect(keys.slice(0, 5)).toEqual(['clip-00000', 'clip-00001', 'clip-00002', 'clip-00003', 'clip-00004']);
    expect(isSafeKey(keys[5])).toBe(true);
    expect(keys[5]).not.toMatch(/\.\.|\//);
    // tar member names carry no path
    const samples = await (await fromShards(out)).toArray();
    expect(JSON.parse((samples[5].json as Buffer).toString()).id).toBe('../../x');
    // no absolute path of this machine in the metadata: sources relative to the corpus root
    const meta = JSON.parse((samples[0].json as Buffer).toString()) as { source: string };
    expect(corpus.records[0].source.endsWith(`/${meta.source}`)).toBe(true);
    expect(path.isAbsolute(meta.source)).toBe(false);
    expect(JSON.stringify(index)).not.toContain(dir);
    for (const x of samples) expect((x.json as Buffer).toString()).not.toContain(dir);
    // opt-in: absolute paths
    const abs = path.join(dir, 'abs');
    await exportShards({ selection: corpus.selection, out: abs, maxCount: 10, limit: 1, concurrency: 1, silent: true, absolutePaths: true });
    const first = (await (await fromShards(abs)).toArray())[0];
    expect(JSON.parse((first.json as Buffer).toString()).source).toBe(corpus.records[0].source);
  });

  it('the loader reads the shards back into batches of the requested shapes (decode and npy paths)', async () => {
    const ds = await fromShards(out);
    const decoded = await ds.decode({ fps: 5, size: [40, 30], seconds: 1, sampleRate: 8000, sampling: 'center', concurrency: 2, onError: 'raise' }).batch(4).toArray();
    expect(decoded.map((b) => b.frames.shape)).toEqual([[4, 5, 30, 40, 3], [2, 5, 30, 40, 3]]);
    expect(decoded[0].audio.shape).toEqual([4, 8000]);
    expect(decoded[0].key).toEqual(['clip-00000', 'clip-00001', 'clip-00002', 'clip-00003']);
    const pre = ds.map(parseSample).map((s: ParsedSample) => ({ key: s.__key__, frames: s['frames.npy'] as NdArray, audio: s['audio.npy'] as NdArray })).batch(3);
    const batches = await pre.toArray();
    expect(batches.map((b) => b.frames.shape)).toEqual([[3, 4, 24, 32, 3], [3, 4, 24, 32, 3]]);
    expect(batches[0].frames.dtype).toBe('uint8');
    expect(batches[0].audio.shape).toEqual([3, 8000]);
    // the exported clip is the selected window: duration in its json, decodable in full
    const first = (await ds.map(parseSample).toArray())[0];
    expect((first.json as { duration: number }).duration).toBeCloseTo(1.5);
    await checkStateContract(pre, { view: (b) => b.key });
  });

  it('clipPipeline from the loader config: rank split by shard, shuffle, decode, batch, prefetch, epochs; exact resume', async () => {
    // 3 shards of 2 clips, 2 ranks: per epoch one rank opens 2 shards, the other 1 shard padded
    // (loader.splitPolicy 'pad') to the same 4 clips, so both yield 2 batches of 2.
    const cfg = LoaderSchema.parse({ shuffleBuffer: 3, prefetch: 1, concurrency: 2, dropRemainder: false, decode: { fps: 4, size: 32, seconds: 1, sampleRate: 8000 } });
    const ds = await clipPipeline(out, cfg, { seed: 3, batchSize: 2, rank: 1, world: 2, epochs: 2 });
    const { items } = await checkStateContract(ds, { view: (b) => ({ key: b.key, start: b.start, shape: (b.frames as unknown as NdArray).shape }), points: [0, 2] });
    const batches = items as Array<{ key: string[]; shape: number[] }>;
    expect(batches.map((b) => b.shape)).toEqual([[2, 4, 32, 32, 3], [2, 4, 32, 32, 3], [2, 4, 32, 32, 3], [2, 4, 32, 32, 3]]);
    const epoch1 = batches.slice(0, 2).flatMap((b) => b.key);
    const epoch2 = batches.slice(2).flatMap((b) => b.key);
    expect(epoch1.length).toBe(4);
    const other = await (await clipPipeline(out, cfg, { seed: 3, batchSize: 2, rank: 0, world: 2 })).toArray();
    const rank0 = other.flatMap((b) => b.key as string[]);
    expect(rank0.length).toBe(4);
    // the two ranks' shards are disjoint and together cover every clip of the epoch
    expect(rank0.filter((k) => epoch1.includes(k))).toEqual([]);
    expect(new Set([...rank0, ...epoch1]).size).toBe(6);
    // the next epoch reshuffles (shard order and sample buffer are seeded per epoch)
    expect(epoch2.length).toBe(4);
    expect(epoch2).not.toEqual(epoch1);
  });

  it('reruns keep complete shards; a lost shard is rebuilt identically (deterministic)', async () => {
    const before = await readIndex(out);
    const again = await exportShards({ selection: corpus.selection, out, maxCount: 2, npy, concurrency: 2, silent: true });
    expect(again.reusedShards).toBe(3);
    expect(again.written).toBe(0);
    expect((await readIndex(out)).shards).toEqual(before.shards);
    await fsp.rm(path.join(out, 'shard-000002.tar'));
    const rebuilt = await exportShards({ selection: corpus.selection, out, maxCount: 2, npy, concurrency: 2, silent: true });
    expect(rebuilt.reusedShards).toBe(2);
    expect(rebuilt.written).toBe(2);
    expect((await readIndex(out)).shards).toEqual(before.shards);
    // other settings: everything is rewritten
    const other = await exportShards({ selection: corpus.selection, out, maxCount: 4, concurrency: 2, silent: true });
    expect(other.reusedShards).toBe(0);
    expect((await readIndex(out)).shards.map((s) => s.count)).toEqual([4, 2]);
    expect((await fsp.readdir(out)).filter((n) => n.endsWith('.tar')).length).toBe(2);
  });

  it('--max-bytes rolls shards by size', async () => {
    const o = path.join(dir, 'by-bytes');
    await exportShards({ selection: corpus.selection, out: o, maxBytes: 40_000, concurrency: 2, silent: true });
    const index = await readIndex(o);
    expect(index.shards.length).toBeGreaterThan(1);
    for (const s of index.shards) expect(s.bytes <= 40_000 || s.count === 1).toBe(true);
    expect(index.total.count).toBe(6);
  });

  it('the CLI exports, and the Python interop check agrees with the loader', async () => {
    const o = path.join(dir, 'cli');
    const dump = path.join(dir, 'dump.json');
    const config = path.join(dir, 'config.yaml');
    await fsp.writeFile(config, `name: t\nrunDir: ${path.join(dir, 'run')}\nloader:\n  decode: { fps: 4, size: [40, 30], seconds: 1.5 }\n`);
    const r = spawnSync(process.execPath, ['bin/avcurate.js', 'export', '--config', config, '--selection', corpus.selection, '--out', o, '--max-count', '4', '--npy', '--limit', '5', '--quiet', '--dump', dump], { encoding: 'utf8' });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const index = await readIndex(o);
    expect(index.total.count).toBe(5);
    expect(index.shards.map((s) => s.count)).toEqual([4, 1]);
    const d = await dumpShards(o);
    expect(d.samples.length).toBe(5);
    expect(d.samples[0].npy['frames.npy'].shape).toEqual([6, 30, 40, 3]);
    expect(d.samples[0].npy['audio.npy'].shape).toEqual([24000]);
    if (py) {
      const check = spawnSync(py, ['scripts/check_shards_interop.py', o, dump], { encoding: 'utf8' });
      expect(check.stdout).toMatch(/checked 2 shards, 5 samples, 10 npy arrays: OK/);
      expect(check.status).toBe(0);
      // a tampered dump is caught
      const bad = JSON.parse(await fsp.readFile(dump, 'utf8'));
      bad.samples[1].npy['audio.npy'].sum += 1;
      await fsp.writeFile(dump, JSON.stringify(bad));
      const fail = spawnSync(py, ['scripts/check_shards_interop.py', o, dump], { encoding: 'utf8' });
      expect(fail.status).toBe(1);
      expect(fail.stdout).toMatch(/MISMATCH shard-000000\.tar\/clip-00001\.audio\.npy: sum/);
    }
    const bad = spawnSync(process.execPath, ['bin/avcurate.js', 'export', '--selection', corpus.selection, '--out', o, '--max-count', '2', '--max-bytes', '1M'], { encoding: 'utf8' });
    expect(bad.status).toBe(2);
    expect(bad.stderr).toMatch(/not both/);
  });
});
