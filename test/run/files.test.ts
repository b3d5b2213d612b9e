import { afterAll, describe, expect, it } from 'vitest';
import { mkdtempSync, promises as fsp, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  FailureLog,
  ManifestIndex,
  iterManifest,
  leadingId,
  joinSelection,
  parseShardIndex,
  readFailures,
  readManifest,
  readManifestIds,
  readSelectionCsv,
  runLayout,
  writeManifest,
  writeSelectionCsv,
  writeShardIndex,
  type ClipRecord,
} from '../../src/run/index.js';

const dir = mkdtempSync(path.join(os.tmpdir(), 'avc-run-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const probe = { duration: 6, width: 32, height: 24, fps: 8, sampleRate: 16000, videoCodec: 'h264', audioCodec: 'aac' };
const rec = (id: string, extra: Partial<ClipRecord> = {}): ClipRecord => ({ id, source: `${id}.mp4`, start: 1, duration: 2, video_id: `v-${id}`, probe, ...extra });

describe('runLayout', () => {
  it('spells every path of the run folder once, absolute', () => {
    const L = runLayout('runs/x');
    const root = path.resolve('runs/x');
    expect(L.root).toBe(root);
    expect(L.manifest).toBe(path.join(root, 'manifest.jsonl'));
    expect(L.failures).toBe(path.join(root, 'failures.jsonl'));
    expect(L.featureShard(3, 16)).toBe(path.join(root, 'features', 'shard-00003-of-00016.h5'));
    expect(L.clusters).toBe(path.join(root, 'clusters.h5'));
    expect(L.selection()).toBe(path.join(root, 'selection.csv'));
    expect(L.selection('mi', 'mi')).toBe(path.join(root, 'selection.csv'));
    expect(L.selection('random', 'mi')).toBe(path.join(root, 'selection.random.csv'));
    expect(L.selectionEval('contrastive', 'mi')).toBe(path.join(root, 'selection.contrastive.eval.json'));
    expect(L.selectionEval()).toBe(path.join(root, 'selection.eval.json'));
    expect(() => L.selection('../x', 'mi')).toThrow(/selection method/);
    expect(L.shardsIndex).toBe(path.join(root, 'shards', 'shards.json'));
    expect(L.sslDir('curated-s0')).toBe(path.join(root, 'ssl', 'curated-s0'));
    expect(L.probe('curated-s0')).toBe(path.join(root, 'probe', 'curated-s0.json'));
    expect(L.stage('arm:curated-s0')).toBe(path.join(root, 'stages', 'arm_curated-s0.json'));
    for (const p of [L.launchDir, L.explain, L.results, L.report, L.configResolved]) expect(path.dirname(p) === root).toBe(true);
  });
});

describe('manifest.jsonl', () => {
  it('round-trips records (unknown fields kept) and resolves relative sources on request', async () => {
    const file = path.join(dir, 'm1', 'manifest.jsonl');
    await writeManifest(file, [rec('a', { corresponds: true, extra: 7 } as Partial<ClipRecord>), rec('b', { source: '/abs/b.mp4' })]);
    const rows = await readManifest(file);
    expect(rows.map((r) => r.id)).toEqual(['a', 'b']);
    expect((rows[0] as Record<string, unknown>).extra).toBe(7);
    expect(rows[0].source).toBe('a.mp4');
    const resolved = await readManifest(file, { resolveSources: true });
    expect(resolved[0].source).toBe(path.join(dir, 'm1', 'a.mp4'));
    expect(resolved[1].source).toBe('/abs/b.mp4');
    expect(await readManifestIds(file)).toEqual(['a', 'b']);
  });

  it('refuses a missing file, a bad record and a duplicate id, naming the file and line', async () => {
    await expect(readManifest(path.join(dir, 'none.jsonl'))).rejects.toThrow(/none\.jsonl: manifest not found \(run "avcurate ingest" first\)/);
    const bad = path.join(dir, 'bad.jsonl');
    writeFileSync(bad, JSON.stringify(rec('a')) + '\n\n' + JSON.stringify({ ...rec('b'), duration: -1 }) + '\n');
    await expect(readManifest(bad)).rejects.toThrow(/bad\.jsonl:3: not a clip record \(duration:/);
    writeFileSync(bad, JSON.stringify(rec('a')) + '\n' + JSON.stringify({ id: 'b', source: 'b.mp4' }) + '\n');
    await expect(readManifest(bad)).rejects.toThrow(/bad\.jsonl:2: not a clip record \(.*start/);
    writeFileSync(bad, JSON.stringify(rec('a')) + '\n' + JSON.stringify(rec('a')) + '\n');
    await expect(readManifest(bad)).rejects.toThrow(/bad\.jsonl:2: clip id "a" is already used on line 1/);
    await expect(readManifestIds(bad)).rejects.toThrow(/bad\.jsonl:2: clip id "a" is used twice/);
    writeFileSync(bad, '{"id": 5}\n');
    await expect(readManifestIds(bad)).rejects.toThrow(/bad\.jsonl:1: not a clip record/);
    writeFileSync(bad, '{"id": "a"\n');
    await expect(readManifest(bad)).rejects.toThrow(/bad\.jsonl:1: not valid JSON/);
  });

  it('iterManifest with `only` passes over other ids without parsing them, and validates what it yields', async () => {
    const file = path.join(dir, 'm3', 'manifest.jsonl');
    await writeManifest(file, [rec('a'), rec('b'), rec('c')]);
    // A line of another id that is not even JSON is skipped unparsed; one whose id has an escape
    // is parsed and judged on its parsed id; a wanted record is still validated.
    const lines = (await fsp.readFile(file, 'utf8')).trim().split('\n');
    const escaped = JSON.stringify(rec('q"x'));
    writeFileSync(file, [lines[0], '{"id":"zz", not json', lines[1], escaped, lines[2]].join('\n') + '\n');
    const got: string[] = [];
    for await (const r of iterManifest(file, { only: new Set(['a', 'c', 'q"x']) })) got.push(r.id);
    expect(got).toEqual(['a', 'q"x', 'c']);
    await expect(async () => {
      for await (const _ of iterManifest(file)) void _;
    }).rejects.toThrow(/m3.manifest\.jsonl:2: not valid JSON/);
    writeFileSync(file, JSON.stringify({ ...rec('a'), duration: -1 }) + '\n');
    await expect(async () => {
      for await (const _ of iterManifest(file, { only: new Set(['a']) })) void _;
    }).rejects.toThrow(/m3.manifest\.jsonl:1: not a clip record \(duration/);
    expect(leadingId('{"id":"clip-1","x":1}')).toBe('clip-1');
    expect(leadingId('{"id":"a\\"b"}')).toBeUndefined();
    expect(leadingId('{"source":"x","id":"a"}')).toBeUndefined();
  });

  it('joins a selection with the manifest through one index, one set of messages', async () => {
    const file = path.join(dir, 'm2', 'manifest.jsonl');
    await writeManifest(file, [rec('a'), rec('b'), rec('c')]);
    const csv = path.join(dir, 'm2', 'selection.csv');
    await writeSelectionCsv(csv, [
      { rank: 2, id: 'a', video_id: 'v-a', start: NaN, end: NaN, gain: 0.1, objective: 0.3 },
      { rank: 1, id: 'c', video_id: 'v-c', start: 1.5, end: 2.5, gain: 0.2, objective: 0.2 },
    ]);
    const index = await ManifestIndex.read(file);
    expect(index.size).toBe(3);
    expect(index.indexOf('c')).toBe(2);
    const joined = joinSelection(readSelectionCsv(csv), index, csv);
    expect(joined.map((j) => [j.id, j.rank, j.start, j.duration])).toEqual([['c', 1, 1.5, 1], ['a', 2, 1, 2]]);
    expect(() => index.get('zz', 'clusters.h5')).toThrow(/clusters\.h5: clip id "zz" is not in .*manifest\.jsonl/);
    const rows = readSelectionCsv(csv);
    expect(() => joinSelection([...rows, { ...rows[0], rank: 3 }], index, csv)).toThrow(/rank 3: clip id "c" is listed twice/);
    expect(() => joinSelection([{ ...rows[0], id: 'q' }], index, csv)).toThrow(/selection\.csv: rank 1: clip id "q" is not in/);
  });
});

describe('failures.jsonl', () => {
  it('appends one line per failure and reads them back by stage; a bad line names file and line', async () => {
    const file = path.join(dir, 'f', 'failures.jsonl');
    const log = new FailureLog(file);
    log.record({ id: 'a', stage: 'ingest', reason: 'no audio stream', file: 'a.mp4' });
    log.record({ id: 'b', stage: 'extract', reason: 'undecodable' });
    expect(log.count).toBe(2);
    expect((await log.read('extract')).map((f) => f.id)).toEqual(['b']);
    expect((await readFailures(file)).every((f) => typeof f.time === 'string')).toBe(true);
    expect(await readFailures(path.join(dir, 'f', 'none.jsonl'))).toEqual([]);
    await fsp.appendFile(file, '{"id":"c"}\n');
    await expect(readFailures(file)).rejects.toThrow(/failures\.jsonl:3: not a failure record \(stage:/);
  });
});

describe('shards.json', () => {
  it('writes and parses the index; refuses other JSON with the reason', async () => {
    const index = {
      format: 'avcurate-shards' as const,
      version: 1 as const,
      shards: [{ name: 'shard-000000.tar', count: 2, bytes: 2048, sha256: 'a'.repeat(64) }],
      total: { count: 2, bytes: 2048 },
      members: ['json', 'mp4'],
      settings: { maxCount: 2 },
    };
    const file = path.join(dir, 's', 'shards.json');
    await writeShardIndex(file, index);
    expect(parseShardIndex(await fsp.readFile(file, 'utf8'), file)).toEqual(index);
    expect(() => parseShardIndex('{"format":"x"}', 'u')).toThrow(/u is not a shard index/);
    expect(() => parseShardIndex('{', 'u')).toThrow(/u: not valid JSON/);
    expect(() => parseShardIndex(JSON.stringify({ ...index, shards: [{ ...index.shards[0], count: -1 }] }), 'u')).toThrow(/u: not a valid shard index \(shards\.0\.count/);
  });
});
