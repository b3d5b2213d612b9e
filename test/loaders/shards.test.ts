import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { fromShards, parseSample, map, type Sample, type ParsedSample, type NdArray } from '../../src/loaders/index.js';
import { ShardWriter } from '../../src/loaders/export/shardWriter.js';
import { encodeNpy } from '../../src/loaders/formats/npy.js';
import { TarWriter } from '../../src/loaders/formats/tar.js';
import { checkStateContract } from './helpers/state.js';
import { removeDir, serveDir, tempDir, type FileServer } from './helpers/fixtures.js';

const dir = tempDir('shards');
let server: FileServer;
const N = 23;

function members(i: number): Record<string, Uint8Array> {
  const frames: NdArray = { dtype: 'uint8', shape: [2, 4, 4, 3], data: Uint8Array.from({ length: 96 }, (_, k) => (i * 7 + k) % 256) };
  const audio: NdArray = { dtype: 'float32', shape: [10], data: Float32Array.from({ length: 10 }, (_, k) => i + k / 10) };
  return { json: Buffer.from(JSON.stringify({ id: `clip-${i}`, i })), 'frames.npy': encodeNpy(frames), 'audio.npy': encodeNpy(audio) };
}

const view = (s: Sample) => ({ key: s.__key__, url: path.basename(s.__url__), json: (s.json as Buffer).toString(), n: Object.keys(s).length });

beforeAll(async () => {
  const w = new ShardWriter(path.join(dir, 'good'), { maxCount: 5 });
  for (let i = 0; i < N; i++) await w.write(`clip-${String(i).padStart(3, '0')}`, members(i));
  const written = await w.finish();
  const index = { format: 'avcurate-shards', version: 1, shards: written, total: { count: N, bytes: written.reduce((a, s) => a + s.bytes, 0) }, members: ['audio.npy', 'frames.npy', 'json'] };
  await fsp.writeFile(path.join(dir, 'good', 'shards.json'), JSON.stringify(index));
  server = await serveDir(dir);
});
afterAll(async () => {
  await server.close();
  await removeDir(dir);
});

describe('shard source', () => {
  it('reads all samples in order, grouped by key, with sizes from shards.json', async () => {
    const ds = await fromShards(path.join(dir, 'good'));
    expect(ds.size).toBe(N);
    const all = await ds.toArray();
    expect(all.map((s) => s.__key__)).toEqual(Array.from({ length: N }, (_, i) => `clip-${String(i).padStart(3, '0')}`));
    expect(Object.keys(all[0]).sort()).toEqual(['__key__', '__url__', 'audio.npy', 'frames.npy', 'json']);
    const parsed = parseSample(all[7]);
    expect(parsed.json).toEqual({ id: 'clip-7', i: 7 });
    const frames = parsed['frames.npy'] as NdArray;
    expect(frames.shape).toEqual([2, 4, 4, 3]);
    expect((frames.data as Uint8Array)[5]).toBe((7 * 7 + 5) % 256);
    const files = (await fsp.readdir(path.join(dir, 'good'))).sort();
    expect(files).toEqual(['shard-000000.tar', 'shard-000001.tar', 'shard-000002.tar', 'shard-000003.tar', 'shard-000004.tar', 'shards.json']);
  });

  it('state contract (local), including across shard boundaries and with shard shuffling', async () => {
    await checkStateContract(await fromShards(path.join(dir, 'good')), { view });
    const shuffled = await fromShards(path.join(dir, 'good', 'shards.json'), { shuffleShards: 3 });
    const { items } = await checkStateContract(shuffled.repeat(2), { view });
    expect(items.length).toBe(2 * N);
    expect((items as Array<{ key: string }>).slice(0, N).map((x) => x.key)).not.toEqual((items as Array<{ key: string }>).slice(N).map((x) => x.key));
  });

  it('reads over http(s) with Range requests on restore; state contract', async () => {
    const ds = await fromShards(`${server.url}/good/shards.json`);
    expect(ds.size).toBe(N);
    const local = await (await fromShards(path.join(dir, 'good'))).toArray();
    const remote = await ds.toArray();
    expect(remote.map((s) => [s.__key__, (s['frames.npy'] as Buffer).toString('hex')])).toEqual(local.map((s) => [s.__key__, (s['frames.npy'] as Buffer).toString('hex')]));
    server.requests.length = 0;
    await checkStateContract(ds, { view, points: [0, 7, 12] });
    expect(server.requests.some((r) => r.range && /^bytes=[1-9]\d*-$/.test(r.range))).toBe(true);
    const brace = await fromShards(`${server.url}/good/shard-{000000..000004}.tar`);
    expect((await brace.toArray()).length).toBe(N);
  });

  it('shuffle before parse, then batch: a typical pipeline restores exactly', async () => {
    const ds = (await fromShards(path.join(dir, 'good'))).shuffle(8, 1).map(parseSample).map((s: ParsedSample) => ({ key: s.__key__, frames: s['frames.npy'] as NdArray, audio: s['audio.npy'] as NdArray })).batch(4);
    const batches = await ds.toArray();
    expect(batches[0].frames.shape).toEqual([4, 2, 4, 4, 3]);
    expect(batches[0].audio.shape).toEqual([4, 10]);
    expect(batches.at(-1)!.frames.shape[0]).toBe(N % 4);
    await checkStateContract(ds, { view: (b) => ({ key: b.key, sum: Array.from(b.audio.data as Float32Array).reduce((a, v) => a + v, 0) }) });
  });

  it('split by rank over shards: equal and disjoint', async () => {
    const ds = await fromShards(path.join(dir, 'good'));
    const parts = await Promise.all([0, 1, 2].map((r) => ds.splitByRank(r, 3, { policy: 'drop' }).toArray()));
    for (const p of parts) expect(p.length).toBe(7);
    expect(new Set(parts.flat().map((s) => s.__key__)).size).toBe(21);
  });
});

describe('damaged shards', () => {
  let damaged: string;
  beforeAll(async () => {
    damaged = path.join(dir, 'damaged');
    await fsp.mkdir(damaged, { recursive: true });
    const good = path.join(dir, 'good');
    const s0 = await fsp.readFile(path.join(good, 'shard-000000.tar'));
    // shard a: truncated in the middle of its 3rd sample
    const bytesPerSample = (s0.length - 1024) / 5;
    await fsp.writeFile(path.join(damaged, 'a.tar'), s0.subarray(0, Math.floor(2.5 * bytesPerSample)));
    // shard b: the header of the 2nd sample's first member is corrupt (checksum)
    const b = Buffer.from(await fsp.readFile(path.join(good, 'shard-000001.tar')));
    b[bytesPerSample + 20] ^= 0x55;
    await fsp.writeFile(path.join(damaged, 'b.tar'), b);
    // shard c: one corrupt .npy member, one sample with an unsafe member name
    const chunks: Buffer[] = [];
    const w = new TarWriter((x) => {
      chunks.push(Buffer.from(x));
    });
    const m = members(1);
    await w.add('ok1.json', m.json);
    await w.add('ok1.frames.npy', m['frames.npy']);
    await w.add('badnpy.json', m.json);
    await w.add('badnpy.frames.npy', Buffer.from(m['frames.npy']).subarray(0, 90));
    await w.add('../../x.json', m.json);
    await w.add('ok2.json', m.json);
    await w.add('ok2.frames.npy', m['frames.npy']);
    await w.end();
    await fsp.writeFile(path.join(damaged, 'c.tar'), Buffer.concat(chunks));
  });

  it("'skip': truncated tar, corrupt header and unsafe name are skipped and reported; reading goes on", async () => {
    const ds = await fromShards([path.join(damaged, 'a.tar'), path.join(damaged, 'b.tar'), path.join(damaged, 'c.tar')], { onError: 'skip' });
    const it = ds.iterator();
    const keys: string[] = [];
    for await (const s of it) keys.push(s.__key__);
    // a: 2 good samples then truncation; b: the first member of clip-006 lost to the corrupt header,
    // reading resyncs on its next member; c: the unsafe sample dropped
    expect(keys).toEqual(['clip-000', 'clip-001', 'clip-005', 'clip-006', 'clip-007', 'clip-008', 'clip-009', 'ok1', 'badnpy', 'ok2']);
    const [rep] = it.reports();
    expect(rep.stage).toBe('shards');
    expect(rep.skipped).toBe(3);
    expect(rep.errors[0]).toMatch(/a\.tar: truncated tar/);
    expect(rep.errors[1]).toMatch(/b\.tar: corrupt tar header/);
    expect(rep.errors[2]).toMatch(/c\.tar: unsafe member name in sample "\.\.\/\.\.\/x"/);
    await checkStateContract(ds, { view });
  });

  it("'skip' on a corrupt member: the parse stage drops it and reports it", async () => {
    const ds = map(await fromShards([path.join(damaged, 'c.tar')], { onError: 'skip' }), parseSample, { onError: 'skip', name: 'parse' });
    const it = ds.iterator();
    const keys: string[] = [];
    for await (const s of it) keys.push(s.__key__);
    expect(keys).toEqual(['ok1', 'ok2']);
    const parse = it.reports().find((r) => r.stage === 'parse')!;
    expect(parse.skipped).toBe(1);
    expect(parse.errors[0]).toMatch(/badnpy.*member frames\.npy: not a valid \.npy \(truncated/);
    expect(it.skipped()).toBe(2);
  });

  it("'raise': each damage raises with the shard and reason", async () => {
    await expect((await fromShards([path.join(damaged, 'a.tar')], { onError: 'raise' })).toArray()).rejects.toThrow(/a\.tar: truncated tar/);
    await expect((await fromShards([path.join(damaged, 'b.tar')], { onError: 'raise' })).toArray()).rejects.toThrow(/b\.tar: corrupt tar header/);
    await expect((await fromShards([path.join(damaged, 'c.tar')], { onError: 'raise' })).toArray()).rejects.toThrow(/unsafe member name/);
    await expect(map(await fromShards([path.join(damaged, 'c.tar')], { onError: 'skip' }), parseSample).toArray()).rejects.toThrow(/badnpy.*frames\.npy.*truncated/);
    await expect((await fromShards([path.join(damaged, 'missing.tar')], { onError: 'raise' })).toArray()).rejects.toThrow(/cannot open shard .*missing\.tar: ENOENT/);
    await expect((await fromShards([`${server.url}/nothing.tar`], { onError: 'raise' })).toArray()).rejects.toThrow(/HTTP 404/);
  });
});
