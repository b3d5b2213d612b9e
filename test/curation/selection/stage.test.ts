import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync, rmSync, existsSync, readdirSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import YAML from 'yaml';
import { parseConfig } from '../../../src/config/load.js';
import { writePlantedRun } from '../../helpers/planted-run.js';
import {
  mergeByRelativeRank,
  parseSelectionCsv,
  planPartitions,
  plantedLabels,
  prefixCurves,
  readSelectionCsv,
  runEvalSelection,
  runSelect,
  summarizeRanking,
  formatSelectionCsv,
  rankToSelection,
  writeScoreSelection,
  type PlantedLabels,
} from '../../../src/curation/selection/index.js';

const run = promisify(execFile);
const root = mkdtempSync(path.join(os.tmpdir(), 'avc-select-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

async function makeRun(name: string, p: PlantedLabels, selection: Record<string, unknown>): Promise<{ dir: string; cfgFile: string }> {
  const dir = path.join(root, name);
  await writePlantedRun(dir, p, (_id, i) => ({ start: 1.5, video_id: `vid-${i}`, probe: { duration: 5, width: 32, height: 32, fps: 8, sampleRate: 16000, videoCodec: 'h264', audioCodec: 'aac' } }));
  const cfgFile = path.join(dir, 'config.yaml');
  writeFileSync(cfgFile, YAML.stringify({ name, runDir: dir, seed: 7, selection }));
  return { dir, cfgFile };
}
const cfgOf = (dir: string, selection: Record<string, unknown>) => parseConfig({ name: path.basename(dir), runDir: dir, seed: 7, selection });

describe('partitions', () => {
  it('plans contiguous partitions with the same ratio, or split an absolute size by partition size', () => {
    const parts = planPartitions(103, { count: 4, ratio: 0.2 });
    expect(parts.map((p) => [p.start, p.end])).toEqual([[0, 26], [26, 52], [52, 78], [78, 103]]);
    expect(parts.map((p) => p.target)).toEqual([5, 5, 5, 5]);
    const sized = planPartitions(101, { partitionSize: 50, size: 31 });
    expect(sized.map((p) => [p.start, p.end])).toEqual([[0, 50], [50, 101]]); // a 1-clip tail joins its neighbour
    expect(sized.reduce((a, p) => a + p.target, 0)).toBe(31);
    expect(() => planPartitions(5, { count: 4 })).toThrow(/holds 1 clip/);
  });
  it('merges ranked lists by relative rank', () => {
    expect(Array.from(mergeByRelativeRank([[1, 2, 3, 4], [10, 20]]))).toEqual([1, 10, 2, 3, 20, 4]);
  });
});

describe('select and eval-selection stages', () => {
  const p = plantedLabels({ n: 900, k: 8, concepts: 8, noise: 0.1, seed: 5 });
  const selection = { ratio: 0.5, partitions: 3 };

  it('partitions in one process equal separate --shard processes (the CLI), and reruns skip', async () => {
    const one = await makeRun('one', p, selection);
    const r1 = await runSelect(cfgOf(one.dir, selection), { silent: true });
    expect(r1.selected).toBe(450);
    const csvOne = readFileSync(path.join(one.dir, 'selection.csv'), 'utf8');

    const sharded = await makeRun('sharded', p, { ...selection, partitions: 'auto' });
    const bin = path.resolve('bin/avcurate.js');
    const outs = await Promise.all(
      [0, 1, 2].map((i) => run(process.execPath, [bin, 'select', '--config', sharded.cfgFile, '--shard', `${i}/3`, '--quiet'], { cwd: path.resolve('.') })),
    );
    // Whichever shard finished last merged; if two finished together both merged identically.
    expect(outs.some((o) => /selected 450 of 900/.test(o.stdout))).toBe(true);
    expect(readdirSync(path.join(sharded.dir, 'selection')).filter((f) => f.endsWith('.json')).sort()).toEqual([
      'part-00000-of-00003.json', 'part-00001-of-00003.json', 'part-00002-of-00003.json',
    ]);
    expect(readFileSync(path.join(sharded.dir, 'selection.csv'), 'utf8')).toBe(csvOne);

    // Shard processes that did not all finish: a run without --shard completes and merges their partitioning.
    const partial = await makeRun('partial', p, { ...selection, partitions: 'auto' });
    const r0 = await runSelect(cfgOf(partial.dir, { ...selection, partitions: 'auto' }), { silent: true, shard: { index: 1, count: 3 } });
    expect(r0).toMatchObject({ csv: null, computed: [1], missing: [0, 2] });
    const rest = await runSelect(cfgOf(partial.dir, { ...selection, partitions: 'auto' }), { silent: true });
    expect(rest.computed).toEqual([0, 2]);
    expect(readFileSync(path.join(partial.dir, 'selection.csv'), 'utf8')).toBe(csvOne);

    // A rerun with the same config and clusters skips; a changed parameter recomputes.
    const again = await runSelect(cfgOf(one.dir, selection), { silent: true });
    expect(again.skipped).toBe(true);
    const changed = await runSelect(cfgOf(one.dir, { ...selection, batchSize: 10 }), { silent: true });
    expect(changed.skipped).toBe(false);
  }, 60_000);

  it('writes ACAV-compatible selection.csv rows and an evaluation that matches the truth', async () => {
    const { dir } = await makeRun('eval', p, { ratio: 0.5 });
    const config = cfgOf(dir, { ratio: 0.5 });
    await runSelect(config, { silent: true });
    const rows = readSelectionCsv(path.join(dir, 'selection.csv'));
    expect(readFileSync(path.join(dir, 'selection.csv'), 'utf8').split('\n')[0]).toBe('rank,id,video_id,start,end,gain,objective');
    expect(rows.length).toBe(450);
    expect(rows[0]).toMatchObject({ rank: 1, start: 1.5, end: 3.5 });
    expect(rows[0].video_id).toBe(`vid-${Number(rows[0].id.slice(5))}`);
    expect(Math.abs(rows.reduce((a, r) => a + r.gain, 0) - rows[449].objective)).toBeLessThan(1e-6);

    const ev = await runEvalSelection(config, {});
    const truthOf = (id: string) => p.truth[Number(id.slice(5))];
    const hits = rows.map((r) => truthOf(r.id));
    const tp = hits.reduce((a, b) => a + b, 0);
    expect(ev.summary.positives).toBe(450);
    expect(ev.summary.atPositives.precision).toBeCloseTo(tp / 450, 12);
    expect(ev.summary.atPositives.precision).toBeGreaterThanOrEqual(0.95);
    expect(ev.summary.atRatio.size).toBe(180);
    expect(ev.summary.atRatio.precision).toBeCloseTo(hits.slice(0, 180).reduce((a, b) => a + b, 0) / 180, 12);
    expect(Math.abs(ev.summary.random.atPositives.precision - 0.5)).toBeLessThan(0.1);
    const json = JSON.parse(readFileSync(path.join(dir, 'selection.eval.json'), 'utf8'));
    expect(json.precision.length).toBe(450);
    expect(json.recall[449]).toBeCloseTo(tp / 450, 5);
    expect(ev.text).toMatch(/precision at the true-positive count \(450\): 0\.9\d\d {3}random: 0\.500 expected/);

    // The random method: a random subset, evaluated near the base rate.
    await runSelect(cfgOf(dir, { ratio: 0.5, method: 'random' }), { silent: true });
    const evr = await runEvalSelection(config, {});
    expect(Math.abs(evr.summary.atPositives.precision - 0.5)).toBeLessThan(0.1);
  }, 60_000);

  it('ground truth from a labels.jsonl (matched by file name) and clear errors', async () => {
    const { dir } = await makeRun('labels', p, {});
    const config = cfgOf(dir, {});
    await expect(runEvalSelection(config, {})).rejects.toThrow(/selection\.csv: cannot read the selection/);
    await runSelect(config, { silent: true });
    const labels = Array.from({ length: p.n }, (_, i) => ({ id: `x${i}`, file: `clip-${String(i).padStart(4, '0')}.mp4`, corresponds: p.truth[i] === 1 }));
    const truthFile = path.join(dir, 'truth.jsonl');
    writeFileSync(truthFile, labels.map((l) => JSON.stringify(l)).join('\n'));
    const ev = await runEvalSelection(config, { truth: truthFile });
    expect(ev.summary.pool).toBe(900);
    expect(ev.summary.selected).toBe(180);
    expect(ev.summary.atRatio.precision).toBeGreaterThanOrEqual(0.95);
    const missing = cfgOf(path.join(root, 'nowhere'), {});
    await expect(runSelect(missing, { silent: true })).rejects.toThrow(/clusters\.h5: not found \(run "avcurate cluster" first\)/);
    await expect(runSelect(cfgOf(dir, { k: [64] }), { silent: true })).rejects.toThrow(/no clustering has k in \[64\]/);
  }, 60_000);

  it('CLI errors are clear (no stack trace) for a clip missing from the manifest', async () => {
    const { dir, cfgFile } = await makeRun('broken', p, {});
    const lines = readFileSync(path.join(dir, 'manifest.jsonl'), 'utf8').trim().split('\n');
    writeFileSync(path.join(dir, 'manifest.jsonl'), lines.slice(0, 10).join('\n') + '\n');
    const res = await run(process.execPath, [path.resolve('bin/avcurate.js'), 'select', '--config', cfgFile, '--quiet'], { cwd: path.resolve('.') }).catch((e) => e);
    expect(res.code).toBe(1);
    expect(res.stderr).toMatch(/clusters\.h5: clip id "clip-\d{4}" is not in .*manifest\.jsonl/);
    expect(res.stderr).not.toMatch(/\n\s+at /);
    expect(existsSync(path.join(dir, 'selection.csv'))).toBe(false);
  }, 60_000);
});

describe('score-ranked selections', () => {
  it('rankToSelection keeps the top scores, ties in pool order, NaN last; writeScoreSelection writes the same CSV format', async () => {
    expect(Array.from(rankToSelection([0.1, NaN, 0.9, 0.5, 0.9], 4))).toEqual([2, 4, 3, 0]);
    expect(() => rankToSelection([1, 2], 3)).toThrow(/cannot select 3 clips from 2/);
    const file = path.join(root, 'scored', 'selection.csv');
    const clips = ['a', 'b', 'c', 'd'].map((id, i) => ({ id, video_id: `v${id}`, start: i, duration: 2 }));
    const rows = await writeScoreSelection(file, clips, [0.2, 0.8, 0.4, 0.6], { size: 2 });
    expect(rows.map((r) => r.id)).toEqual(['b', 'd']);
    expect(readSelectionCsv(file)).toEqual([
      { rank: 1, id: 'b', video_id: 'vb', start: 1, end: 3, gain: 0.8, objective: 0.8 },
      { rank: 2, id: 'd', video_id: 'vd', start: 3, end: 5, gain: 0.6, objective: 0.7 },
    ]);
  });
});

describe('selection.csv and prefix metrics', () => {
  it('round-trips, quoting fields that need it', () => {
    const text = formatSelectionCsv([{ rank: 1, id: 'a', video_id: 'v,"1"', start: 0, end: 10, gain: 0.125, objective: 0.125 }]);
    expect(text).toBe('rank,id,video_id,start,end,gain,objective\n1,a,"v,""1""",0,10,0.125,0.125\n');
    expect(parseSelectionCsv(text)[0]).toEqual({ rank: 1, id: 'a', video_id: 'v,"1"', start: 0, end: 10, gain: 0.125, objective: 0.125 });
    expect(() => parseSelectionCsv('rank,id\n1,a\n', 'x.csv')).toThrow(/x\.csv: missing column "video_id"/);
  });
  it('precision and recall of every prefix', () => {
    const c = prefixCurves([1, 0, 1, 1], 4);
    expect(Array.from(c.precision)).toEqual([1, 0.5, 2 / 3, 0.75]);
    expect(Array.from(c.recall)).toEqual([0.25, 0.25, 0.5, 0.75]);
    const s = summarizeRanking([1, 1, 0], [1, 1, 0, 0, 1, 0, 0, 0, 0, 0], { ratio: 0.2 });
    expect(s.positives).toBe(3);
    expect(s.atPositives).toMatchObject({ size: 3, evaluated: 3, precision: 2 / 3 });
    expect(s.atRatio).toMatchObject({ size: 2, precision: 1 });
    expect(s.baseRate).toBeCloseTo(0.3, 12);
  });
});
