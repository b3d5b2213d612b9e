/**
 * Issue 13 items 1, 4, 10, 12 (shards.json): hostile tar shards and shard indexes. Each case is a
 * reproduction of a defect: it failed (stalled, crashed, polluted a sample or read silently) before
 * the fix.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { fromShards, readShardIndex, type Sample } from '../../src/loaders/sources/shards.js';
import { parseSample } from '../../src/loaders/sources/members.js';
import { MAX_MEMBER_NAME_BYTES, splitMemberName } from '../../src/loaders/formats/tar.js';
import { LoaderSchema } from '../../src/config/sections/loader.js';
import { buildTar, json, writeSparseShard } from '../helpers/hostile-tar.js';
import { removeDir, tempDir } from './helpers/fixtures.js';

let dir: string;
beforeAll(() => {
  dir = tempDir('hostile');
});
afterAll(async () => {
  await removeDir(dir);
});

async function readAll(files: string[], opts: Parameters<typeof fromShards>[1] = {}): Promise<{ samples: Sample[]; errors: string[] }> {
  const ds = await fromShards(files, { onError: 'skip', ...opts });
  const it = ds.iterator();
  const samples: Sample[] = [];
  for await (const s of it) samples.push(s);
  const rep = it.reports().find((r) => r.stage === 'shards')!;
  await it.close?.();
  return { samples, errors: rep.errors };
}

async function shard(name: string, bytes: Buffer): Promise<string> {
  const f = path.join(dir, name);
  await fsp.writeFile(f, bytes);
  return f;
}

describe('member names (item 1)', () => {
  it('splits names in linear time: a 4 MB name with no dot in its file part and one with many slashes', () => {
    // the old regex backtracked over every split point (quadratic): these never returned
    expect(splitMemberName('a/'.repeat(1 << 20) + 'b')).toBeNull();
    expect(splitMemberName('x'.repeat(4 << 20) + '/y')).toBeNull();
    const long = 'd/'.repeat(1 << 20) + 'k.mp4';
    expect(splitMemberName(long)).toEqual({ key: long.slice(0, -4), ext: 'mp4' });
    expect(splitMemberName('a/b.c.JSON')).toEqual({ key: 'a/b', ext: 'c.json' });
    expect(splitMemberName('a/.hidden')).toBeNull();
    expect(splitMemberName('a.')).toBeNull();
  });

  it('a 100 KB pax name is refused with the limit as the reason; the samples around it are read', async () => {
    const f = await shard('longname.tar', buildTar([
      { name: 'a.json', data: json(1) },
      { name: 'b.json', data: json(2), pax: { path: 'n'.repeat(100_000) + '.json' } },
      { name: 'c.json', data: json(3) },
    ]));
    const { samples, errors } = await readAll([f]);
    expect(samples.map((s) => s.__key__)).toEqual(['a', 'c']);
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatch(new RegExp(`member name of 100005 bytes .* over the limit of ${MAX_MEMBER_NAME_BYTES}`));
  });

  it('an extended header over 1 MiB is a corrupt header; reading resynchronises', async () => {
    const f = await shard('bigpax.tar', buildTar([
      { name: 'a.json', data: json(1) },
      { name: 'b.json', data: json(2), pax: { comment: 'z'.repeat(1_100_000) } },
      { name: 'c.json', data: json(3) },
    ]));
    const { samples, errors } = await readAll([f]);
    expect(samples.map((s) => s.__key__)).toEqual(['a', 'b', 'c']);
    expect(errors[0]).toMatch(/extended header of \d+ bytes; the limit is 1048576/);
  });
});

describe('reserved, prototype and duplicate members (item 10)', () => {
  it('refuses __proto__, __key__, __url__, constructor and toString members; samples have no prototype', async () => {
    const f = await shard('proto.tar', buildTar([
      { name: 'p.json', data: json(1) },
      { name: 'p.__proto__', data: json({ polluted: true }) },
      { name: 'k.json', data: json(1) },
      { name: 'k.__key__', data: Buffer.from('other') },
      { name: 'u.__url__', data: Buffer.from('http://evil') },
      { name: 'c.constructor', data: json(1) },
      { name: 't.tostring', data: json(1) },
      { name: 'ok.json', data: json({ fine: 1 }) },
    ]));
    const { samples, errors } = await readAll([f]);
    expect(samples.map((s) => s.__key__)).toEqual(['t', 'ok']); // "tostring" lower-cased is not toString
    expect(errors).toEqual([
      expect.stringMatching(/sample "p": member extension "__proto__" is reserved/),
      expect.stringMatching(/sample "k": member extension "__key__" is reserved/),
      expect.stringMatching(/sample "u": member extension "__url__" is reserved/),
      expect.stringMatching(/sample "c": member extension "constructor" is an object property name/),
    ]);
    const ok = samples[1];
    expect(Object.getPrototypeOf(ok)).toBeNull();
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    const parsed = parseSample(ok);
    expect(Object.getPrototypeOf(parsed)).toBeNull();
    expect(parsed.json).toEqual({ fine: 1 });
  });

  it('a duplicate member refuses its sample with a reason instead of overwriting', async () => {
    const f = await shard('dup.tar', buildTar([
      { name: 'd.json', data: json(1) },
      { name: 'd.json', data: json(2) },
      { name: 'e.json', data: json(3) },
    ]));
    const { samples, errors } = await readAll([f]);
    expect(samples.map((s) => s.__key__)).toEqual(['e']);
    expect(errors[0]).toMatch(/sample "d": duplicate member "d\.json"/);
    await expect((await fromShards([f], { onError: 'raise' })).toArray()).rejects.toThrow(/duplicate member/);
  });

  it('negative, fractional, exponent and NaN pax sizes are corrupt headers, not empty or misaligned members', async () => {
    for (const bad of ['-5', '1.5', 'NaN', '1e3', '', '0x10']) {
      const f = await shard(`pax-${bad || 'empty'}.tar`, buildTar([
        { name: 'a.json', data: json(1) },
        { name: 'b.json', data: json(22), pax: { size: bad } },
        { name: 'c.json', data: json(3) },
      ]));
      const { samples, errors } = await readAll([f]);
      expect(errors[0], bad).toMatch(/corrupt tar header \(bad pax size/);
      // the resync finds c (b's header is valid ustar, so it may come back whole with its ustar size)
      expect(samples.map((s) => s.__key__), bad).toContain('c');
      for (const s of samples) expect((s.json as Buffer).length, bad).toBeGreaterThan(0);
    }
  });

  it('a negative base-256 size field is a corrupt header', async () => {
    const field = Buffer.alloc(12, 0xff).toString('latin1');
    const tar = buildTar([{ name: 'a.json', data: json(1) }, { name: 'b.json', data: json(2) }, { name: 'c.json', data: json(3) }]);
    // patch b's size field to base-256 -1 and fix its checksum
    const at = 1024;
    tar.write(field, at + 124, 'latin1');
    tar.fill(0x20, at + 148, at + 156);
    let sum = 0;
    for (let i = 0; i < 512; i++) sum += tar[at + i];
    tar.write(sum.toString(8).padStart(6, '0') + '\0 ', at + 148, 'ascii');
    const { samples, errors } = await readAll([await shard('neg256.tar', tar)]);
    expect(errors[0]).toMatch(/bad size field/);
    expect(samples.map((s) => s.__key__)).toEqual(['a', 'c']);
  });
});

describe('member size cap (item 4)', () => {
  it('loader.maxMemberBytes exists with a default under 4 GiB', () => {
    expect(LoaderSchema.parse({}).maxMemberBytes).toBe(2 ** 30);
    expect(() => LoaderSchema.parse({ maxMemberBytes: 2 ** 33 })).toThrow();
  });

  it('a member over the cap refuses its sample without reading it; the next samples are read', async () => {
    const f = await shard('big.tar', buildTar([
      { name: 'a.json', data: json(1) },
      { name: 'b.json', data: json(2) },
      { name: 'b.mp4', data: Buffer.alloc(5000, 7) },
      { name: 'c.json', data: json(3) },
    ]));
    const { samples, errors } = await readAll([f], { maxMemberBytes: 4096 });
    expect(samples.map((s) => s.__key__)).toEqual(['a', 'c']);
    expect(errors[0]).toMatch(/sample "b": member "mp4" is 5000 bytes, over the limit of 4096 \(loader\.maxMemberBytes\)/);
  });

  it('a sparse 5 GiB member: reasoned skip under the default cap, no RangeError, the good sample after it survives', async () => {
    const f = path.join(dir, 'sparse.tar');
    await writeSparseShard(f, 'huge.mp4', 5 * 2 ** 30, [{ name: 'good.json', data: json({ ok: true }) }]);
    const { samples, errors } = await readAll([f]);
    expect(samples.map((s) => s.__key__)).toEqual(['good']);
    expect(errors[0]).toMatch(/sample "huge": member "mp4" is 5368709120 bytes, over the limit of 1073741824/);
    await fsp.rm(f);
  });
});

describe('shards.json (item 12)', () => {
  async function index(name: string, shards: unknown[]): Promise<string> {
    const f = path.join(dir, name);
    await fsp.writeFile(f, JSON.stringify({ format: 'avcurate-shards', version: 1, shards, total: { count: 0, bytes: 0 }, members: [] }));
    return f;
  }

  it('refuses absolute paths, .. parts and URLs unless allowed', async () => {
    await expect(readShardIndex(await index('abs.json', [{ name: '/etc/passwd', count: 1, bytes: 1, sha256: 'a'.repeat(64) }]))).rejects.toThrow(/shards\[0\]: the name "\/etc\/passwd" is an absolute path/);
    await expect(readShardIndex(await index('dots.json', [{ name: '../../x.tar', count: 1, bytes: 1, sha256: 'a'.repeat(64) }]))).rejects.toThrow(/is a '\.\.' part/);
    await expect(readShardIndex(await index('url.json', [{ name: 'http://example.com/x.tar', count: 1, bytes: 1, sha256: 'a'.repeat(64) }]))).rejects.toThrow(/is a URL/);
    await expect(readShardIndex(await index('file.json', [{ name: 'file:///etc/x.tar', count: 1, bytes: 1, sha256: 'a'.repeat(64) }]))).rejects.toThrow(/is a URL/);
    await expect(readShardIndex(await index('neg.json', [{ name: 'x.tar', count: -1, bytes: 1, sha256: 'a'.repeat(64) }]))).rejects.toThrow(/count -1 is not a non-negative integer/);
    const ok = await readShardIndex(await index('abs2.json', [{ name: '/data/x.tar', count: 1 }]), { allowExternal: true });
    expect(ok.shards[0].url).toBe('/data/x.tar');
  });

  it('checks size, sha256 and sample count against the index on read', async () => {
    const tar = buildTar([{ name: 'a.json', data: json(1) }, { name: 'b.json', data: json(2) }]);
    await fsp.writeFile(path.join(dir, 'v.tar'), tar);
    const sha = createHash('sha256').update(tar).digest('hex');
    const good = await index('v-good.json', [{ name: 'v.tar', count: 2, bytes: tar.length, sha256: sha }]);
    expect((await readAll([good])).errors).toEqual([]);
    const badCount = await index('v-count.json', [{ name: 'v.tar', count: 3, bytes: tar.length, sha256: sha }]);
    const r1 = await readAll([badCount]);
    expect(r1.samples).toHaveLength(2);
    expect(r1.errors[0]).toMatch(/v\.tar: 2 samples, its index says 3/);
    const badSha = await index('v-sha.json', [{ name: 'v.tar', count: 2, bytes: tar.length, sha256: 'b'.repeat(64) }]);
    const r2 = await readAll([badSha]);
    expect(r2.samples).toHaveLength(0);
    expect(r2.errors[0]).toMatch(/v\.tar: sha256 .* does not match its index/);
    expect((await readAll([badSha], { verify: false })).samples).toHaveLength(2);
    const badSize = await index('v-size.json', [{ name: 'v.tar', count: 2, bytes: tar.length + 1, sha256: sha }]);
    expect((await readAll([badSize])).errors[0]).toMatch(/shard is \d+ bytes, its index says \d+/);
  });
});
