/**
 * Sharded export (`export --shard i/n`): rank blocks of maxCount written by separate processes
 * give the tars and shards.json of a one-process export byte for byte, at 1, 3 and 4 shards; a
 * block whose clips were all skipped has no tar; shard processes and the merge keep finished
 * blocks; size-rolled exports refuse to shard.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { promises as fsp } from 'node:fs';
import { execFile, spawnSync } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { exportShards, ExportShardError, verifyShards } from '../../src/loaders/export/export.js';
import { stageShards } from '../../src/run/ledger.js';
import { makeCorpus, corruptRecord, type Corpus } from './helpers/corpus.js';
import { removeDir, tempDir } from './helpers/fixtures.js';

const dir = tempDir('export-shard');
let corpus: Corpus;

beforeAll(async () => {
  corpus = await makeCorpus(dir, 7, 2);
  // Ranks 8 and 9 cannot be cut: with maxCount 2 block 3 holds rank 7 and 8, block 4 only rank 9 (all skipped).
  const b1 = await corruptRecord(dir, 'broken-1');
  const b2 = await corruptRecord(dir, 'broken-2');
  await fsp.appendFile(corpus.manifest, JSON.stringify(b1) + '\n' + JSON.stringify(b2) + '\n');
  await fsp.appendFile(corpus.selection, `8,broken-1,b,0,2,0.01,0.9\n9,broken-2,b,0,2,0.01,0.9\n`);
}, 60_000);
afterAll(() => removeDir(dir));

const run = promisify(execFile);
/** `avcurate export` of the test selection with maxCount 2 into `out`, plus `extra` arguments. */
const cli = (out: string, extra: string[] = []) =>
  run(process.execPath, ['bin/avcurate.js', 'export', '--selection', corpus.selection, '--out', out, '--max-count', '2', '-j', '1', '--quiet', ...extra], { encoding: 'utf8', env: { ...process.env, AVCURATE_QUIET: '1' } });

async function tars(out: string): Promise<Map<string, Buffer>> {
  const m = new Map<string, Buffer>();
  for (const n of (await fsp.readdir(out)).filter((x) => x.endsWith('.tar')).sort()) m.set(n, await fsp.readFile(path.join(out, n)));
  return m;
}

describe('export --shard i/n', () => {
  let single: string;
  it('one process: blocks of maxCount ranks, one tar each; a block with every clip skipped has none', async () => {
    single = path.join(dir, 'out-1');
    const r = await exportShards({ selection: corpus.selection, out: single, maxCount: 2, concurrency: 2, silent: true, failures: path.join(dir, 'f.jsonl') });
    expect(r.missing).toEqual([]);
    expect(r.index!.shards.map((s) => [s.name, s.count])).toEqual([
      ['shard-000000.tar', 2],
      ['shard-000001.tar', 2],
      ['shard-000002.tar', 2],
      ['shard-000003.tar', 1],
    ]);
    expect(r.skipped.map((s) => s.id)).toEqual(['broken-1', 'broken-2']);
    expect(JSON.parse(await fsp.readFile(path.join(single, 'shards.json'), 'utf8')).skipped.map((s: { id: string }) => s.id)).toEqual(['broken-1', 'broken-2']);
    expect(await verifyShards(single)).toEqual({ ok: true, problems: [] });
  });

  for (const n of [1, 3, 4]) {
    it(`${n} shard process(es) of the CLI, side by side, and the merge write the tars and shards.json of one process byte for byte`, async () => {
      const ref = path.join(dir, 'cli-single');
      if (n === 1) await cli(ref);
      const out = path.join(dir, `cli-${n}`);
      await Promise.all(Array.from({ length: n }, (_, i) => cli(out, ['--shard', `${i}/${n}`, '--no-merge'])));
      await expect(fsp.stat(path.join(out, 'shards.json'))).rejects.toThrow();
      // The merge: every block done, nothing cut again.
      const merged = await cli(out);
      expect(merged.stderr).toBe('');
      expect(await fsp.readFile(path.join(out, 'shards.json'), 'utf8')).toBe(await fsp.readFile(path.join(ref, 'shards.json'), 'utf8'));
      const a = await tars(ref);
      const b = await tars(out);
      expect([...a.keys()]).toEqual(['shard-000000.tar', 'shard-000001.tar', 'shard-000002.tar', 'shard-000003.tar']);
      expect([...b.keys()]).toEqual([...a.keys()]);
      for (const [name, bytes] of a) expect(b.get(name)!.equals(bytes), name).toBe(true);
      expect(await verifyShards(out)).toEqual({ ok: true, problems: [] });
    }, 120_000);
  }

  it('the shard process that finishes last writes shards.json; a lost tar is rebuilt by its shard alone', async () => {
    const out = path.join(dir, 'out-last');
    const opts = { selection: corpus.selection, out, maxCount: 2, concurrency: 2, silent: true, failures: path.join(dir, 'f.jsonl') };
    const first = await exportShards({ ...opts, shard: { index: 1, count: 2 } });
    expect(first.index).toBeNull();
    expect(first.missing).toEqual([0, 2, 4]);
    const last = await exportShards({ ...opts, shard: { index: 0, count: 2 } });
    expect(last.missing).toEqual([]);
    expect(await fsp.readFile(path.join(out, 'shards.json'), 'utf8')).toBe(await fsp.readFile(path.join(single, 'shards.json'), 'utf8'));
    await fsp.rm(path.join(out, 'shard-000001.tar'));
    const other = await exportShards({ ...opts, shard: { index: 0, count: 2 } });
    expect(other.written).toBe(0); // block 1 is shard 1's
    expect(other.missing).toEqual([1]);
    const again = await exportShards({ ...opts, shard: { index: 1, count: 2 } });
    expect(again.written).toBe(2);
    expect(again.missing).toEqual([]);
    expect((await fsp.readFile(path.join(out, 'shard-000001.tar'))).equals((await tars(single)).get('shard-000001.tar')!)).toBe(true);
    // Other settings (maxCount 3): the old blocks' tars and records go when the new export completes.
    const wider = await exportShards({ ...opts, maxCount: 3 });
    expect(wider.index!.shards.map((s) => s.name)).toEqual(['shard-000000.tar', 'shard-000001.tar', 'shard-000002.tar']);
    expect((await fsp.readdir(out)).filter((x) => x.endsWith('.tar')).sort()).toEqual(['shard-000000.tar', 'shard-000001.tar', 'shard-000002.tar']);
    expect(await stageShards(dir, 'export-block').then((s) => s.filter((x) => x.startsWith('out-last/')))).toEqual(['out-last/000000', 'out-last/000001', 'out-last/000002']);
  }, 120_000);

  it('refuses to shard an export rolled over by size, before writing anything', async () => {
    const out = path.join(dir, 'out-bytes');
    await expect(exportShards({ selection: corpus.selection, out, maxBytes: 40_000, silent: true, shard: { index: 0, count: 2 } })).rejects.toThrow(ExportShardError);
    await expect(fsp.stat(out)).rejects.toThrow();
    const r = spawnSync(process.execPath, ['bin/avcurate.js', 'export', '--selection', corpus.selection, '--out', out, '--max-bytes', '40K', '--shard', '0/2', '--quiet'], { encoding: 'utf8' });
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/maxBytes.*cannot be cut in separate processes/);
  });
});
