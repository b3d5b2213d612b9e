import { afterAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync, writeFileSync, utimesSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { StageLedger } from '../../src/run/ledger.js';

const dir = mkdtempSync(path.join(os.tmpdir(), 'avc-ledger-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('the stage ledger', () => {
  it('skips a finished stage with the same key and outputs, reruns on a new key or a lost output', async () => {
    const ledger = new StageLedger(dir, { silent: true });
    let runs = 0;
    const out = path.join(dir, 'out.txt');
    const stage = () =>
      ledger.run('make', { a: 1, b: [1, 2] }, async () => {
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
    // same key spelled in another key order: still finished
    expect(await ledger.run('make', { b: [1, 2], a: 1 }, async () => ({ summary: { runs: -1 } }))).toEqual({ runs: 1 });
    rmSync(out);
    expect(await stage()).toEqual({ runs: 2 });
    expect(await ledger.run('make', { a: 2, b: [1, 2] }, async () => ({ summary: { runs: 3 }, outputs: [out] }))).toEqual({ runs: 3 });
    await ledger.invalidate('make');
    expect(await ledger.record('make')).toBeNull();
  });

  it('with stamped outputs, an output changed since the stage finished voids the record', async () => {
    const ledger = new StageLedger(dir, { silent: true });
    const out = path.join(dir, 'stamped.txt');
    let runs = 0;
    const stage = () =>
      ledger.runWithStatus('stamped', 'k', async () => {
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
    await ledger.run('arm:x', 1, async () => ({ summary: 'colon' }));
    expect(ledger.fileOf('arm:x')).toBe(ledger.fileOf('arm/x'));
    expect(await ledger.run('arm/x', 1, async () => ({ summary: 'slash' }))).toBe('slash');
    writeFileSync(ledger.fileOf('broken'), '{"stage":"broken"');
    expect(await ledger.run('broken', 1, async () => ({ summary: 'ran' }))).toBe('ran');
  });
});
