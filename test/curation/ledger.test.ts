/**
 * The stage ledger across the curation stages (src/run/ledger.ts): an unchanged rerun skips every
 * stage, a changed config section reruns exactly that stage and the stages downstream of it, a
 * deleted output redoes the stage that made it, a features config change is refused (never mixed)
 * unless asked to overwrite. Asserted through the ledger's records, not through timing.
 */
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, utimesSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/load.js';
import { runCuration } from '../../src/curation/pipeline.js';
import { listStageRecords, readStageRecord, redoNote, stageDone } from '../../src/run/ledger.js';
import { runIngestShard } from '../../src/curation/manifest/sharded.js';
import { tinyCurateConfig } from '../helpers/tiny-config.js';

const root = mkdtempSync(path.join(os.tmpdir(), 'avc-ledger-curate-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
const runDir = path.join(root, 'run');

const base = tinyCurateConfig({ name: 'ledger', runDir, seed: 5, clips: 32, shardSize: 16 });

type Raw = typeof base & { features: typeof base.features & { onConfigChange?: string } };

/** Every ledger record of the run: "stage[/shard]" → when it finished. */
async function records(): Promise<Record<string, string>> {
  return Object.fromEntries((await listStageRecords(runDir)).map((r) => [`${r.stage}${r.shard ? `/${r.shard}` : ''}`, `${r.finishedAt} ${r.key}`]));
}

/** The records that were written again since `before` (a stage ran), sorted. */
function rerun(before: Record<string, string>, after: Record<string, string>): string[] {
  return Object.keys(after).filter((k) => before[k] !== after[k]).sort();
}

const curate = (raw: Raw) => runCuration(parseConfig(raw), { silent: true });

const ALL = [
  'cluster',
  'cluster-part/clusters/shard-00000-of-00002',
  'cluster-part/clusters/shard-00001-of-00002',
  'eval-selection/selection.eval',
  'explain',
  'extract/features/shard-00000-of-00002',
  'extract/features/shard-00001-of-00002',
  'ingest',
  'select/selection',
  'synth',
];

describe('the stage ledger over the curation stages', () => {
  it('records every stage; an unchanged rerun skips them all; a changed section reruns that stage and its dependants; a lost output is redone', async () => {
    await curate(base);
    const first = await records();
    expect(Object.keys(first).sort()).toEqual(ALL);
    const csv = readFileSync(path.join(runDir, 'selection.csv'), 'utf8');

    // Unchanged: nothing runs again.
    const again = await curate(base);
    expect(rerun(first, await records())).toEqual([]);
    expect(again.selection!.skipped).toBe(true);
    expect(readFileSync(path.join(runDir, 'selection.csv'), 'utf8')).toBe(csv);

    // selection changed: select alone (and curate's explain.json and evaluation of it).
    let before = await records();
    await curate({ ...base, selection: { ratio: 0.25 } });
    expect(rerun(before, await records())).toEqual(['eval-selection/selection.eval', 'explain', 'select/selection']);

    // clustering changed: cluster (its parts and the whole) and select; not synth, ingest or extract.
    before = await records();
    await curate({ ...base, selection: { ratio: 0.25 }, clustering: { k: [3] } });
    expect(rerun(before, await records())).toEqual(['cluster', 'cluster-part/clusters/shard-00000-of-00002', 'cluster-part/clusters/shard-00001-of-00002', 'eval-selection/selection.eval', 'explain', 'select/selection']);

    // Back to the first config: cluster and select again, and the same bytes as the first run.
    before = await records();
    await curate(base);
    expect(rerun(before, await records())).toEqual(['cluster', 'cluster-part/clusters/shard-00000-of-00002', 'cluster-part/clusters/shard-00001-of-00002', 'eval-selection/selection.eval', 'explain', 'select/selection']);
    expect(readFileSync(path.join(runDir, 'selection.csv'), 'utf8')).toBe(csv);

    // A deleted feature shard: that shard is extracted again; its contents are the same, so the
    // clustering and the selection stay finished.
    before = await records();
    rmSync(path.join(runDir, 'features', 'shard-00001-of-00002.h5'));
    await curate(base);
    expect(rerun(before, await records())).toEqual(['extract/features/shard-00001-of-00002']);
    expect(existsSync(path.join(runDir, 'features', 'shard-00001-of-00002.h5'))).toBe(true);

    // A deleted selection.csv: select again, same bytes (so its evaluation, keyed on the
    // ranking's bytes, stays finished).
    before = await records();
    rmSync(path.join(runDir, 'selection.csv'));
    await curate(base);
    expect(rerun(before, await records())).toEqual(['explain', 'select/selection']);
    expect(readFileSync(path.join(runDir, 'selection.csv'), 'utf8')).toBe(csv);
  }, 240_000);

  it('a features change is refused (never mixed with the old shards) until asked to overwrite; then extract and everything after it rerun', async () => {
    const changed: Raw = { ...base, features: { ...base.features, visual: [{ type: 'builtin', frames: 3, maxSize: 32 }] } };
    const before = await records();
    await expect(curate(changed)).rejects.toThrow(/features\/shard-0000\d-of-00002\.h5: it was made with another features config .*onConfigChange: overwrite/);
    expect(rerun(before, await records())).toEqual([]);
    const poolBefore = (await readStageRecord(runDir, 'select', 'selection'))!.inputs.pool;
    await curate({ ...changed, features: { ...changed.features, onConfigChange: 'overwrite' } });
    const ran = rerun(before, await records());
    expect(ran.filter((k) => !k.startsWith('select') && k !== 'explain' && k !== 'eval-selection/selection.eval')).toEqual(ALL.filter((k) => !['synth', 'ingest', 'select/selection', 'explain', 'eval-selection/selection.eval'].includes(k)));
    // curate's explain.json follows the selection it explains.
    expect(ran.includes('explain')).toBe(ran.includes('select/selection'));
    // select follows its input: it reruns exactly when the clusters it reads changed (the pool
    // fingerprint covers the label columns; new features may still give the same labels).
    const poolAfter = (await readStageRecord(runDir, 'select', 'selection'))!.inputs.pool;
    expect(ran.includes('select/selection')).toBe(poolAfter !== poolBefore);
  }, 240_000);

  it('sharded ingest parts: a finished part is skipped, a part whose input changed is redone with the message', async () => {
    const config = parseConfig(base);
    const a = await runIngestShard(config, { index: 0, count: 2 }, { silent: true });
    expect(a.skipped).toBe(false);
    const rec = await readStageRecord(runDir, 'ingest-part', 'part-00000-of-00002');
    expect(rec?.outputs).toEqual(['ingest/part-00000-of-00002.jsonl']);
    expect((await runIngestShard(config, { index: 0, count: 2 }, { silent: true })).skipped).toBe(true);
    // another shard of the same count is not finished by shard 0's record
    expect((await runIngestShard(config, { index: 1, count: 2 }, { silent: true })).skipped).toBe(false);
    // an input of shard 0 touched: its part is redone, and the ledger says which input changed
    const first = readdirSync(path.join(runDir, 'corpus')).filter((n) => n.endsWith('.mp4')).sort()[0];
    utimesSync(path.join(runDir, 'corpus', first), new Date(2001, 1, 1), new Date(2001, 1, 1));
    const check = await stageDone(runDir, 'ingest-part', { config: { ingest: config.ingest }, inputs: { items: 'x' } }, { shard: 'part-00000-of-00002' });
    expect(redoNote(check, runDir)).toMatch(/^ingest-part part-00000-of-00002: stages\/ingest-part\/part-00000-of-00002\.json: input items changed .*; running it again$/);
    expect((await runIngestShard(config, { index: 0, count: 2 }, { silent: true })).skipped).toBe(false);
    expect((await runIngestShard(config, { index: 1, count: 2 }, { silent: true })).skipped).toBe(true);
  }, 120_000);
});

