import { afterAll, describe, expect, it } from 'vitest';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync, utimesSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  StageLedger,
  forgetStage,
  listStageRecords,
  markDone,
  readStageRecord,
  redoNote,
  stageDone,
  stageFingerprint,
  stageRecordFile,
} from '../../src/run/ledger.js';

const dir = mkdtempSync(path.join(os.tmpdir(), 'avc-ledger-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('the stage ledger', () => {
  it('skips a finished stage with the same fingerprint and outputs, reruns on a new fingerprint or a lost output', async () => {
    const ledger = new StageLedger(dir, { silent: true });
    let runs = 0;
    const out = path.join(dir, 'out.txt');
    const stage = () =>
      ledger.run('make', { config: { a: 1, b: [1, 2] } }, async () => {
        runs++;
        writeFileSync(out, `run ${runs}`);
        return { summary: { runs }, outputs: [out] };
      });
    expect(await stage()).toEqual({ runs: 1 });
    expect(await stage()).toEqual({ runs: 1 });
    expect(runs).toBe(1);
    expect(ledger.timings.map((t) => t.status)).toEqual(['ran', 'skipped']);
    const rec = await ledger.record('make');
    expect(rec?.outputs).toEqual(['out.txt']);
    // same fingerprint spelled in another key order: still finished
    expect(await ledger.run('make', { config: { b: [1, 2], a: 1 } }, async () => ({ summary: { runs: -1 } }))).toEqual({ runs: 1 });
    rmSync(out);
    expect(await stage()).toEqual({ runs: 2 });
    expect(await ledger.run('make', { config: { a: 2, b: [1, 2] } }, async () => ({ summary: { runs: 3 }, outputs: [out] }))).toEqual({ runs: 3 });
    await ledger.invalidate('make');
    expect(await ledger.record('make')).toBeNull();
  });

  it('with stamped outputs, an output changed since the stage finished voids the record', async () => {
    const ledger = new StageLedger(dir, { silent: true });
    const out = path.join(dir, 'stamped.txt');
    let runs = 0;
    const stage = () =>
      ledger.runWithStatus('stamped', { inputs: { k: 1 } }, async () => {
        runs++;
        writeFileSync(out, 'x');
        utimesSync(out, 1000, 1000);
        return { summary: runs, outputs: [out], stampOutputs: true };
      });
    expect((await stage()).skipped).toBe(false);
    expect((await stage()).skipped).toBe(true);
    writeFileSync(out, 'changed');
    expect((await stage()).skipped).toBe(false);
    expect(runs).toBe(2);
  });

  it('ignores a record of another stage that shares the file name, and a malformed record', async () => {
    const ledger = new StageLedger(dir, { silent: true });
    await ledger.run('arm:x', { config: { v: 1 } }, async () => ({ summary: 'colon' }));
    expect(ledger.fileOf('arm:x')).toBe(ledger.fileOf('arm/x'));
    expect(await ledger.run('arm/x', { config: { v: 1 } }, async () => ({ summary: 'slash' }))).toBe('slash');
    writeFileSync(ledger.fileOf('broken'), '{"stage":"broken"');
    expect(await ledger.run('broken', { config: { v: 1 } }, async () => ({ summary: 'ran' }))).toBe('ran');
  });
});

describe('stageDone / markDone', () => {
  const run = path.join(dir, 'run');
  mkdirSync(path.join(run, 'features'), { recursive: true });

  it('says what changed: a config section, an input, a lost output, each in one message naming the record file', async () => {
    const out = path.join(run, 'features', 'shard-00000-of-00002.h5');
    writeFileSync(out, 'data');
    const fp = { config: { features: { fps: 4 }, seed: 7 }, inputs: { clips: ['a', 'b'] } };
    const first = await stageDone(run, 'extract', fp, { shard: 'shard-00000-of-00002' });
    expect(first).toMatchObject({ done: false, reason: null, record: null });
    expect(redoNote(first, run)).toBeNull(); // never finished: nothing to explain
    await markDone(run, 'extract', fp, { shard: 'shard-00000-of-00002', outputs: [out], summary: { clips: 2 }, seconds: 1.5 });
    expect(existsSync(path.join(run, 'stages', 'extract', 'shard-00000-of-00002.json'))).toBe(true);

    const again = await stageDone<{ clips: number }>(run, 'extract', fp, { shard: 'shard-00000-of-00002' });
    expect(again.done).toBe(true);
    expect(again.record?.summary).toEqual({ clips: 2 });
    expect(again.record?.outputs).toEqual(['features/shard-00000-of-00002.h5']);
    // another shard of the same stage is not finished
    expect((await stageDone(run, 'extract', fp, { shard: 'shard-00001-of-00002' })).done).toBe(false);

    const cfg = await stageDone(run, 'extract', { ...fp, config: { features: { fps: 8 }, seed: 7 } }, { shard: 'shard-00000-of-00002' });
    expect(cfg.done).toBe(false);
    expect(cfg.reason).toMatch(/^config section features changed \([0-9a-f]{8} → [0-9a-f]{8}\)$/);
    expect(redoNote(cfg, run)).toMatch(/^extract shard-00000-of-00002: stages\/extract\/shard-00000-of-00002\.json: config section features changed .*; running it again$/);

    const inp = await stageDone(run, 'extract', { ...fp, inputs: { clips: ['a', 'c'] } }, { shard: 'shard-00000-of-00002' });
    expect(inp.reason).toMatch(/^input clips changed/);
    const added = await stageDone(run, 'extract', { ...fp, inputs: { clips: ['a', 'b'], model: 'x' } }, { shard: 'shard-00000-of-00002' });
    expect(added.reason).toBe('input model is new');

    rmSync(out);
    const lost = await stageDone(run, 'extract', fp, { shard: 'shard-00000-of-00002' });
    expect(lost.reason).toBe('output features/shard-00000-of-00002.h5 is missing');
  });

  it('never trusts a record of the older format (no fingerprint parts): the stage is redone', async () => {
    const out = path.join(run, 'selection.csv');
    writeFileSync(out, 'rank,id\n');
    const file = stageRecordFile(run, 'select');
    mkdirSync(path.dirname(file), { recursive: true });
    writeFileSync(file, JSON.stringify({ stage: 'select', key: stageFingerprint({ config: { s: 1 } }).key, seconds: 1, finishedAt: 'x', outputs: ['selection.csv'], summary: null }));
    const c = await stageDone(run, 'select', { config: { s: 1 } });
    expect(c.done).toBe(false);
    expect(c.reason).toMatch(/older avcurate/);
    expect(await readStageRecord(run, 'select')).toBeNull();
    await markDone(run, 'select', { config: { s: 1 } }, { outputs: ['selection.csv'] });
    expect((await stageDone(run, 'select', { config: { s: 1 } })).done).toBe(true);
  });

  it('refuses to record an output that does not exist, and lists and forgets records', async () => {
    await expect(markDone(run, 'cluster', { config: { k: 4 } }, { outputs: ['clusters.h5'] })).rejects.toThrow(/output clusters\.h5 does not exist/);
    writeFileSync(path.join(run, 'clusters.h5'), 'x');
    await markDone(run, 'cluster', { config: { k: 4 } }, { outputs: ['clusters.h5'] });
    const all = await listStageRecords(run);
    expect(all.map((r) => `${r.stage}${r.shard ? `/${r.shard}` : ''}`)).toEqual(['cluster', 'extract/shard-00000-of-00002', 'select']);
    await forgetStage(run, 'cluster');
    expect((await stageDone(run, 'cluster', { config: { k: 4 } })).done).toBe(false);
    // the record is plain JSON naming its parts
    const rec = JSON.parse(readFileSync(stageRecordFile(run, 'select'), 'utf8')) as Record<string, unknown>;
    expect(Object.keys(rec).sort()).toEqual(['config', 'finishedAt', 'format', 'inputs', 'key', 'outputs', 'seconds', 'shard', 'stage', 'summary', 'version']);
  });
});
