/**
 * WebDataset pools curated in place (issue 12 item 4): synthetic clips written as video2dataset-
 * style tars (`<key>.mp4` + `<key>.json`) are ingested from the tars, extracted, clustered and
 * selected with the same features, labels and selection.csv as the same clips ingested as files,
 * and exported to the same clips; nothing is extracted to disk. Ingest sharded by whole tars equals
 * one-process ingest at 1, 3 and 4 shards. Hostile tars are refused with the tar named, and every
 * way of naming a pool (folder, brace list, one tar, text file) gives the same manifest.
 */
import { existsSync, promises as fsp, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../../../src/config/load.js';
import { ingestKey, runCuration } from '../../../src/curation/pipeline.js';
import { ingest } from '../../../src/curation/manifest/ingest.js';
import { runIngestMerge, runIngestShard } from '../../../src/curation/manifest/sharded.js';
import { MAX_BRACE_TARS } from '../../../src/curation/manifest/tar-pool.js';
import { readManifest } from '../../../src/run/manifest.js';
import { shardRange } from '../../../src/runtime/shard.js';
import { parseTarMemberSource } from '../../../src/media/source.js';
import { TarWriter } from '../../../src/loaders/formats/tar.js';
import { exportShards } from '../../../src/loaders/export/export.js';
import { fromShards } from '../../../src/loaders/sources/shards.js';
import { rawTarHeader, buildTar } from '../../helpers/hostile-tar.js';
import { avcurate, expectSameCuration, tinyConfig } from '../../launch/helpers.js';

const root = await fsp.mkdtemp(path.join(os.tmpdir(), 'avc-tarpool-'));
afterAll(() => fsp.rm(root, { recursive: true, force: true }));

const files = path.join(root, 'files');
const pool = path.join(root, 'pool');
const config = (runDir: string, source?: string) => parseConfig({ ...tinyConfig(runDir, { clips: 24, shardSize: 5, partitions: 3 }), ...(source ? { corpus: { source } } : {}) });

async function tarBytes(members: Array<[string, Uint8Array]>): Promise<Buffer> {
  const chunks: Buffer[] = [];
  const w = new TarWriter((b) => void chunks.push(Buffer.from(b)));
  for (const [name, data] of members) await w.add(name, data);
  await w.end();
  return Buffer.concat(chunks);
}

/** The synthetic corpus of `corpus` as `perTar` samples per tar: <stem>.mp4 + <stem>.json (the label row, a caption and a url). */
async function writePool(corpus: string, out: string, perTar: number): Promise<string[]> {
  const rows = readFileSync(path.join(corpus, 'labels.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { file: string } & Record<string, unknown>);
  rows.sort((a, b) => (a.file < b.file ? -1 : 1));
  await fsp.mkdir(out, { recursive: true });
  const names: string[] = [];
  for (let t = 0; t * perTar < rows.length; t++) {
    const members: Array<[string, Uint8Array]> = [];
    for (const { file, ...row } of rows.slice(t * perTar, (t + 1) * perTar)) {
      const stem = path.basename(file, '.mp4');
      members.push([`${stem}.mp4`, readFileSync(path.join(corpus, file))]);
      members.push([`${stem}.json`, Buffer.from(JSON.stringify({ ...row, key: stem, caption: `a clip called ${stem}`, url: `https://example.org/${stem}`, status: 'success', yt_meta_dict: { nested: true } }))]);
    }
    const name = `pool-${String(t).padStart(6, '0')}.tar`;
    await fsp.writeFile(path.join(out, name), await tarBytes(members));
    names.push(name);
  }
  return names;
}

async function listAll(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await fsp.readdir(dir, { withFileTypes: true, recursive: true })) if (e.isFile()) out.push(path.relative(dir, path.join(e.parentPath, e.name)));
  return out.sort();
}

/** The pool ingested in one process with plain options (made once). */
async function reference(): Promise<string> {
  const f = path.join(root, 'reference', 'manifest.jsonl');
  if (!existsSync(f)) await ingest({ input: pool, out: f, clipSeconds: 1, minSeconds: 0.5, silent: true });
  return readFileSync(f, 'utf8');
}

let tars: string[];

beforeAll(async () => {
  await runCuration(config(files), { silent: true, until: 'select' });
  tars = await writePool(path.join(files, 'corpus'), pool, 7); // 24 clips: tars of 7, 7, 7, 3
}, 300_000);

describe('a WebDataset pool curated in place', () => {
  it('gives the features, clusters and selection of the same clips as files, with nothing extracted', async () => {
    const run = path.join(root, 'in-place');
    const scratch = path.join(root, 'scratch-tmp');
    await fsp.mkdir(scratch);
    const before = await listAll(pool);
    const tmpdir = process.env.TMPDIR;
    process.env.TMPDIR = scratch; // this process and every ffmpeg it starts
    try {
      await runCuration(config(run, pool), { silent: true, until: 'select' });
      const ex = (r: string) => exportShards({ selection: path.join(r, 'selection.csv'), out: path.join(r, 'shards'), maxCount: 100, concurrency: 2, silent: true });
      await ex(run);
      await ex(files);
    } finally {
      if (tmpdir === undefined) delete process.env.TMPDIR;
      else process.env.TMPDIR = tmpdir;
    }
    await expectSameCuration(files, run);
    // Same clips, in the same order, each read from its tar.
    const [m, f] = [await readManifest(path.join(run, 'manifest.jsonl')), await readManifest(path.join(files, 'manifest.jsonl'))];
    expect(m.map((r) => r.id)).toEqual(f.map((r) => r.id));
    expect(m.map((r) => [r.visual_class, r.audio_class, r.corresponds, r.probe])).toEqual(f.map((r) => [r.visual_class, r.audio_class, r.corresponds, r.probe]));
    for (const r of m) {
      const member = parseTarMemberSource(r.source)!;
      expect(member.member).toBe(`${r.id}.mp4`);
      expect(tars.map((t) => path.join(pool, t))).toContain(member.tar);
      expect(r.tar_member).toEqual({ member: member.member, offset: member.offset, size: member.size });
      expect(r.meta).toMatchObject({ key: r.id, caption: `a clip called ${r.id}`, url: `https://example.org/${r.id}`, status: 'success' });
      expect((r.meta as Record<string, unknown>).yt_meta_dict).toBeUndefined(); // nested values are not carried
    }
    // Nothing extracted: the pool is as it was, no media file in the run folder but the exported shards, no temp file.
    expect(await listAll(pool)).toEqual(before);
    expect((await listAll(run)).filter((f) => /\.(mp4|m4a|webm|mkv)$/i.test(f))).toEqual([]);
    expect(await listAll(scratch)).toEqual([]);
    // Export cut the same clips from the tars as from the files.
    const samples = async (r: string) => {
      const all = await (await fromShards(path.join(r, 'shards'))).toArray();
      return all.map((s) => [String(s.__key__), Buffer.from(s.mp4 as Uint8Array).toString('base64')]);
    };
    const [a, b] = [await samples(run), await samples(files)];
    expect(a.length).toBeGreaterThan(0);
    expect(a).toEqual(b);
  }, 300_000);

  for (const shards of [1, 3, 4]) {
    it(`ingest sharded by whole tars at ${shards} shard(s) == one process`, async () => {
      const single = path.join(root, `single-${shards}`);
      const one = await ingest({ ...config(single, pool).ingest, input: pool, out: path.join(single, 'manifest.jsonl'), silent: true });
      expect(one.clips).toBe(24);
      const runDir = path.join(root, `sharded-${shards}`);
      const cfg = config(runDir, pool);
      for (let i = 0; i < shards; i++) {
        const r = await runIngestShard(cfg, { index: i, count: shards }, { silent: true });
        // whole tars: the 4 tars of 7, 7, 7 and 3 samples split into contiguous ranges of tars
        const [a, b] = shardRange(4, i, shards);
        expect(r.inputs).toBe([7, 7, 7, 3].slice(a, b).reduce((x, y) => x + y, 0));
      }
      await runIngestMerge(cfg, shards);
      expect(readFileSync(path.join(runDir, 'manifest.jsonl'), 'utf8')).toBe(readFileSync(path.join(single, 'manifest.jsonl'), 'utf8'));
      expect((await runIngestShard(cfg, { index: 0, count: shards }, { silent: true })).skipped).toBe(true);
    }, 120_000);
  }

  it('takes the pool as a folder, a brace list, a text file of tars or one tar', async () => {
    const ref = await reference();
    const viaBraces = path.join(root, 'braces', 'manifest.jsonl');
    await ingest({ input: path.join(pool, 'pool-{000000..000003}.tar'), out: viaBraces, clipSeconds: 1, minSeconds: 0.5, silent: true });
    expect(readFileSync(viaBraces, 'utf8')).toBe(ref);
    const list = path.join(root, 'tars.txt');
    await fsp.writeFile(list, `# the pool\npool/pool-{000000..000001}.tar\n\npool/pool-000002.tar\n${path.join(pool, 'pool-000003.tar')}\npool/pool-000009.tar\n`);
    const viaList = path.join(root, 'list', 'manifest.jsonl');
    const r = await ingest({ input: list, out: viaList, clipSeconds: 1, minSeconds: 0.5, silent: true });
    expect(readFileSync(viaList, 'utf8')).toBe(ref);
    expect(r.failures).toEqual([{ id: 'pool/pool-000009.tar', stage: 'ingest', file: path.join(pool, 'pool-000009.tar'), reason: 'tar not found' }]);
    const one = await ingest({ input: path.join(pool, 'pool-000003.tar'), out: path.join(root, 'one', 'manifest.jsonl'), clipSeconds: 1, minSeconds: 0.5, silent: true });
    expect(one.clips).toBe(3);
    await expect(ingest({ input: path.join(pool, 'x-{0..2000000}.tar'), out: path.join(root, 'x', 'manifest.jsonl'), silent: true })).rejects.toThrow(`names 2000001 tars; the limit is ${MAX_BRACE_TARS}`);
    await expect(ingest({ input: path.join(pool, 'x-{0..3}.tar'), out: path.join(root, 'x', 'manifest.jsonl'), silent: true })).rejects.toThrow(/none of its 4 tar\(s\) exists/);
    const mixed = path.join(root, 'mixed');
    await fsp.mkdir(mixed);
    await fsp.copyFile(path.join(pool, 'pool-000003.tar'), path.join(mixed, 'a.tar'));
    await fsp.copyFile(path.join(files, 'corpus', 'clip-00000.mp4'), path.join(mixed, 'b.mp4'));
    await expect(ingest({ input: mixed, out: path.join(root, 'x', 'manifest.jsonl'), silent: true })).rejects.toThrow(/holds both \.tar shards \(a\.tar, \.\.\.\) and media files \(b\.mp4/);
  }, 120_000);
});

describe('the commands a user types', () => {
  it('avcurate ingest with a brace list, and the launch ingest steps with the pool as corpus.source', async () => {
    const ref = await reference();
    const out = path.join(root, 'cli', 'manifest.jsonl');
    const r = await avcurate(['ingest', path.join(pool, 'pool-{000000..000003}.tar'), '--out', out, '--clip-seconds', '1', '--min-seconds', '0.5', '-q']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/wrote 24 clips from 24 files/);
    expect(readFileSync(out, 'utf8')).toBe(ref);
    const cfgDir = path.join(root, 'cli-cfg');
    await fsp.mkdir(cfgDir);
    const cfgFile = path.join(cfgDir, 'pool.yaml');
    await fsp.writeFile(cfgFile, JSON.stringify({ ...tinyConfig('run'), corpus: { source: '../pool/pool-{000000..000003}.tar' } }));
    for (const i of [0, 1]) {
      const t = await avcurate(['launch', 'ingest-shard', '--config', cfgFile, '--shard', `${i}/2`, '-q']);
      expect(t.code, t.stderr).toBe(0);
      expect(t.stdout).toContain(`ingest ${i}/2: ${i === 0 ? 14 : 10} inputs`); // whole tars: 7 + 7 | 7 + 3
    }
    const m = await avcurate(['launch', 'ingest-merge', '--config', cfgFile, '--shards', '2']);
    expect(m.code, m.stderr).toBe(0);
    expect(readFileSync(path.join(cfgDir, 'run', 'manifest.jsonl'), 'utf8')).toBe(ref);
    const bad = await avcurate(['ingest', path.join(pool, 'nope-{0..1}.tar'), '--out', out, '-q']);
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toMatch(/none of its 2 tar\(s\) exists \(first: .*nope-0\.tar\)/);
  }, 180_000);
});

describe("curate's ingest key", () => {
  it('follows the tars of a brace list or a text file, which are not under the corpus path', async () => {
    const copy = path.join(root, 'pool-copy');
    await fsp.cp(pool, copy, { recursive: true });
    const list = path.join(root, 'copy.txt');
    await fsp.writeFile(list, 'pool-copy/pool-{000000..000003}.tar\n');
    for (const source of [path.join(copy, 'pool-{000000..000003}.tar'), list]) {
      const cfg = config(path.join(root, 'key-run'), source);
      const before = await ingestKey(cfg);
      expect(await ingestKey(cfg)).toBe(before);
      const t = path.join(copy, 'pool-000002.tar');
      await fsp.appendFile(t, Buffer.alloc(1024));
      expect(await ingestKey(cfg)).not.toBe(before);
    }
  });
});

describe('hostile tars', () => {
  it('are refused sample by sample with the tar named, and the good samples stay', async () => {
    const dir = path.join(root, 'hostile');
    await fsp.mkdir(dir);
    const clip = (n: number) => readFileSync(path.join(files, 'corpus', `clip-${String(n).padStart(5, '0')}.mp4`));
    const meta = (o: unknown) => Buffer.from(JSON.stringify(o));
    // a: good sample, then a sample whose member is cut off by the end of the file (truncated tar)
    const a = await tarBytes([['s1.mp4', clip(1)], ['s1.json', meta({ caption: 'one' })], ['s2.mp4', clip(2)]]);
    await fsp.writeFile(path.join(dir, 'a-truncated.tar'), a.subarray(0, a.length - 1024 - 3000));
    // b: a header whose size claims more bytes than the tar holds
    await fsp.writeFile(path.join(dir, 'b-beyond.tar'), Buffer.concat([await tarBytes([['s3.mp4', clip(3)]]).then((t) => t.subarray(0, t.length - 1024)), rawTarHeader('s4.mp4', 1 << 30), Buffer.alloc(2048)]));
    // c: a sample whose only members are not media, a "video" that is text, a non-JSON json,
    //    a duplicate member, an unsafe name, and the key s1 again (also in tar a)
    await fsp.writeFile(path.join(dir, 'c-members.tar'), await tarBytes([
      ['s5.txt', Buffer.from('hello')], ['s5.json', meta({ caption: 'no video' })],
      ['s6.mp4', Buffer.from('this is not a video at all, just some text in a member called mp4\n'.repeat(10))],
      ['s7.mp4', clip(7)], ['s7.json', Buffer.from('{not json')],
      ['s8.mp4', clip(8)], ['s8.json', meta({})], ['s8.mp4', clip(9)],
      ['../s9.mp4', clip(9)],
      ['s1.mp4', clip(10)],
      ['s11.mp4', clip(11)],
    ]));
    // d: a corrupt header (checksum) after one good sample
    const d = await tarBytes([['s12.mp4', clip(12)], ['s13.mp4', clip(13)]]);
    const at = 512 + Math.ceil(clip(12).length / 512) * 512;
    d[at + 10] ^= 0xff;
    await fsp.writeFile(path.join(dir, 'd-corrupt.tar'), d);
    const r = await ingest({ input: dir, out: path.join(root, 'hostile-run', 'manifest.jsonl'), clipSeconds: 1, minSeconds: 0.5, silent: true });
    const recs = await readManifest(r.manifest);
    expect(recs.map((x) => x.id)).toEqual(['s1', 's3', 's11', 's12']);
    expect(recs[0].meta).toEqual({ caption: 'one' });
    const why = (re: RegExp) => r.failures.filter((f) => re.test(`${f.file} ${f.reason}`));
    const one = (re: RegExp) => {
      const hits = why(re);
      expect(hits, `${re} in ${JSON.stringify(r.failures, null, 1)}`).toHaveLength(1);
      return hits[0];
    };
    expect(one(/a-truncated\.tar.*sample "s2": member s2\.mp4 .* reaches past the end of the tar .*truncated tar/).id).toBe('s2');
    expect(one(/b-beyond\.tar.*sample "s4": member s4\.mp4 \(1073741824 bytes at byte \d+\) reaches past the end/).id).toBe('s4');
    expect(one(/b-beyond\.tar: truncated tar: member data has \d+ of 1073741824 bytes/).id).toBe('b-beyond.tar');
    expect(one(/c-members\.tar: sample "s5" has no video or audio member \(members: txt, json\)/).id).toBe('s5');
    expect(one(/c-members\.tar#s6\.mp4@\d+\+\d+ not a media file/).id).toBe('s6');
    expect(one(/c-members\.tar: sample "s7": metadata member s7\.json is not valid JSON/).id).toBe('s7');
    expect(one(/c-members\.tar: sample "s8": duplicate member s8\.mp4 \(at bytes \d+ and \d+\)/).id).toBe('s8');
    expect(one(/c-members\.tar: sample "\.\.\/s9": unsafe member name "\.\.\/s9\.mp4"/)).toBeTruthy();
    expect(one(/c-members\.tar#s1\.mp4.* duplicate clip id \(also used by .*a-truncated\.tar#s1\.mp4/).id).toBe('s1');
    expect(one(/d-corrupt\.tar: .*corrupt tar header \(checksum mismatch\) \(byte \d+\); the samples after it are not read/).id).toBe('d-corrupt.tar');
    const lines = readFileSync(r.failuresFile, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { stage: string });
    expect(lines.filter((l) => l.stage === 'ingest')).toHaveLength(r.failures.length);
    expect(r.failures).toHaveLength(11);
  }, 120_000);
});
