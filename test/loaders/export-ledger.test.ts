/**
 * export on the stage ledger (src/run/ledger.ts): stages/export/<out>.json for the whole export and
 * stages/export-block/<out>_<b>.json per rank block. An unchanged rerun skips (nothing written, the
 * records untouched); a changed setting redoes it with the ledger's message naming what changed;
 * a changed rank redoes only the block that holds it; a deleted tar or shards.json is made again
 * with the same bytes; a size-rolled export is on the same stage record.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { promises as fsp, statSync } from 'node:fs';
import path from 'node:path';
import { exportShards } from '../../src/loaders/export/export.js';
import { listStageRecords, readStageRecord } from '../../src/run/ledger.js';
import { makeCorpus, type Corpus } from './helpers/corpus.js';
import { removeDir, tempDir } from './helpers/fixtures.js';
import { logged } from '../helpers/logged.js';

const dir = tempDir('export-ledger');
let corpus: Corpus;
beforeAll(async () => {
  corpus = await makeCorpus(dir, 5, 2);
}, 60_000);
afterAll(() => removeDir(dir));

async function tarBytes(out: string): Promise<Record<string, string>> {
  const o: Record<string, string> = {};
  for (const n of (await fsp.readdir(out)).filter((x) => x.endsWith('.tar')).sort()) o[n] = (await fsp.readFile(path.join(out, n))).toString('base64');
  return o;
}

/** "stage/shard" → finishedAt of every export record in the run folder. */
async function exportRecords(runDir: string): Promise<Record<string, string>> {
  return Object.fromEntries((await listStageRecords(runDir)).filter((r) => r.stage.startsWith('export')).map((r) => [`${r.stage}/${r.shard}`, r.finishedAt]));
}
const changedSince = (a: Record<string, string>, b: Record<string, string>) => Object.keys(b).filter((k) => a[k] !== b[k]).sort();

describe('export on the stage ledger', () => {
  it('count-rolled: skip when unchanged, redo a changed setting naming it, redo only the block of a changed rank, rebuild a lost tar identically', async () => {
    const runDir = path.join(dir, 'run');
    const out = path.join(runDir, 'shards');
    const opts = { selection: corpus.selection, manifest: corpus.manifest, out, maxCount: 2, concurrency: 2, silent: true, failures: path.join(dir, 'f.jsonl') };
    const first = await exportShards(opts);
    expect(first.upToDate).toBe(false);
    const recs = await exportRecords(runDir);
    expect(Object.keys(recs).sort()).toEqual(['export-block/shards/000000', 'export-block/shards/000001', 'export-block/shards/000002', 'export/shards']);
    const stage = await readStageRecord(runDir, 'export', 'shards');
    expect(stage!.outputs).toEqual(['shards/shards.json', 'shards/shard-000000.tar', 'shards/shard-000001.tar', 'shards/shard-000002.tar']);
    const bytes = await tarBytes(out);
    const index = await fsp.readFile(path.join(out, 'shards.json'), 'utf8');
    const mtime = statSync(path.join(out, 'shard-000000.tar')).mtimeMs;

    // Unchanged: skipped with the ledger's message; nothing written, no record touched.
    const again = await logged(() => exportShards({ ...opts, silent: false }));
    expect(again.value.upToDate).toBe(true);
    expect(again.value.written).toBe(0);
    expect(again.value.index!.total.count).toBe(5);
    expect(again.text).toMatch(/export: shards\/shards\.json is complete for this selection and these settings \(stages\/export\/shards\.json\); skipping/);
    expect(changedSince(recs, await exportRecords(runDir))).toEqual([]);
    expect(statSync(path.join(out, 'shard-000000.tar')).mtimeMs).toBe(mtime);

    // A changed setting (the cut height): redone, the message names the config section.
    const taller = await logged(() => exportShards({ ...opts, silent: false, cut: { height: 32 } }));
    expect(taller.value.upToDate).toBe(false);
    expect(taller.value.written).toBe(5);
    expect(taller.text).toMatch(/export: export shards: stages\/export\/shards\.json: config section export changed \([0-9a-f]{8} → [0-9a-f]{8}\); running it again/);
    expect(taller.text).toMatch(/export-block shards\/000000: stages\/export-block\/shards_000000\.json: config section export changed .*\(and 2 more block\(s\) to write again\)/);

    // Back: every block again, the first run's bytes.
    await exportShards(opts);
    expect(await tarBytes(out)).toEqual(bytes);
    expect(await fsp.readFile(path.join(out, 'shards.json'), 'utf8')).toBe(index);

    // A lost tar: the stage says which output is missing; that block alone is written, same bytes.
    let before = await exportRecords(runDir);
    await fsp.rm(path.join(out, 'shard-000001.tar'));
    const lost = await logged(() => exportShards({ ...opts, silent: false }));
    expect(lost.text).toMatch(/stages\/export\/shards\.json: output shards\/shard-000001\.tar is missing; running it again/);
    expect(lost.value.written).toBe(2);
    expect(changedSince(before, await exportRecords(runDir))).toEqual(['export-block/shards/000001', 'export/shards']);
    expect(await tarBytes(out)).toEqual(bytes);
    expect(await fsp.readFile(path.join(out, 'shards.json'), 'utf8')).toBe(index);

    // A modified tar (stamped): redone.
    await fsp.appendFile(path.join(out, 'shard-000002.tar'), Buffer.alloc(512));
    const modified = await logged(() => exportShards({ ...opts, silent: false }));
    expect(modified.text).toMatch(/output shards\/shard-000002\.tar was modified after the stage finished/);
    expect(await tarBytes(out)).toEqual(bytes);

    // The rank 5 clip's gain changed in the selection: the stage is redone, only block 2 (ranks 5) is written.
    before = await exportRecords(runDir);
    const sel = path.join(dir, 'selection-b.csv');
    const rows = (await fsp.readFile(corpus.selection, 'utf8')).trim().split('\n');
    await fsp.writeFile(sel, rows.map((l) => (l.startsWith('5,') ? l.replace(/,0\.0200,/, ',0.0300,') : l)).join('\n') + '\n');
    expect(await fsp.readFile(sel, 'utf8')).not.toBe(await fsp.readFile(corpus.selection, 'utf8'));
    const reranked = await exportShards({ ...opts, selection: sel });
    expect(reranked.written).toBe(1);
    expect(reranked.reusedShards).toBe(2);
    expect(changedSince(before, await exportRecords(runDir))).toEqual(['export-block/shards/000002', 'export/shards']);
  }, 120_000);

  it('with a run folder given (export --config), the run\'s ledger records an export written elsewhere; nothing is written beside it', async () => {
    const runDir = path.join(dir, 'cfg-run');
    const out = path.join(dir, 'elsewhere', 'shards');
    const opts = { selection: corpus.selection, manifest: corpus.manifest, out, maxCount: 2, concurrency: 2, silent: true, failures: path.join(dir, 'f.jsonl'), runDir };
    expect((await exportShards(opts)).upToDate).toBe(false);
    expect((await readStageRecord(runDir, 'export', '../elsewhere/shards'))!.outputs[0]).toBe('../elsewhere/shards/shards.json');
    expect(Object.keys(await exportRecords(runDir)).filter((k) => k.startsWith('export-block/'))).toHaveLength(3);
    await expect(fsp.stat(path.join(dir, 'elsewhere', 'stages'))).rejects.toThrow();
    expect((await exportShards(opts)).upToDate).toBe(true);
  }, 120_000);

  it('size-rolled: an unchanged rerun skips; a deleted shards.json is made again with the same bytes', async () => {
    const runDir = path.join(dir, 'run-bytes');
    const out = path.join(runDir, 'shards');
    const opts = { selection: corpus.selection, manifest: corpus.manifest, out, maxBytes: 40_000, concurrency: 2, silent: true, failures: path.join(dir, 'f.jsonl') };
    const first = await exportShards(opts);
    expect(first.upToDate).toBe(false);
    const index = await fsp.readFile(path.join(out, 'shards.json'), 'utf8');
    const bytes = await tarBytes(out);
    const rec = await readStageRecord(runDir, 'export', 'shards');
    expect((await exportShards(opts)).upToDate).toBe(true);
    expect((await readStageRecord(runDir, 'export', 'shards'))!.finishedAt).toBe(rec!.finishedAt);
    await fsp.rm(path.join(out, 'shards.json'));
    const redo = await logged(() => exportShards({ ...opts, silent: false }));
    expect(redo.value.upToDate).toBe(false);
    expect(redo.text).toMatch(/output shards\/shards\.json is missing; running it again/);
    expect(await fsp.readFile(path.join(out, 'shards.json'), 'utf8')).toBe(index);
    expect(await tarBytes(out)).toEqual(bytes);
  }, 120_000);
});
