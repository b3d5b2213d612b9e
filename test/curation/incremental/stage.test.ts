import { existsSync, promises as fsp, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../../../src/config/load.js';
import { synthesize } from '../../../src/media/synth.js';
import { runCuration } from '../../../src/curation/pipeline.js';
import { readSelectionCsv } from '../../../src/curation/selection/index.js';
import { runSelect } from '../../../src/curation/selection/stage.js';
import { readClusters } from '../../../src/curation/clustering/store.js';
import { readLedger } from '../../../src/curation/incremental/ledger.js';
import { addClips, batchId, measureDrift } from '../../../src/curation/incremental/stage.js';
import { isId } from '../../../src/run/ids.js';

const root = mkdtempSync(path.join(os.tmpdir(), 'avc-incr-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

/** A 60-clip corpus split into a 48-clip base folder and a 12-clip folder added later (labels joined by file name). */
async function corpora(): Promise<{ base: string; extra: string }> {
  const all = path.join(root, 'all');
  const r = await synthesize({ out: all, clips: 60, classes: 4, mismatch: 0.5, seconds: 1, seed: 9, width: 32, height: 32, fps: 6, silent: true });
  const base = path.join(root, 'base');
  const extra = path.join(root, 'extra');
  for (const [dir, labels] of [[base, r.labels.slice(0, 48)], [extra, r.labels.slice(48)]] as const) {
    await fsp.mkdir(dir, { recursive: true });
    for (const l of labels) await fsp.copyFile(path.join(all, l.file), path.join(dir, l.file));
    await fsp.writeFile(path.join(dir, 'labels.jsonl'), labels.map((l) => JSON.stringify(l)).join('\n') + '\n');
  }
  return { base, extra };
}

const raw = (source: string, runDir: string, extra: Record<string, unknown> = {}) => ({
  name: 'incr',
  runDir,
  seed: 3,
  corpus: { source },
  ingest: { clipSeconds: 1, minSeconds: 0.5 },
  features: { shardSize: 24, decode: { fps: 6, width: 32, height: 32 }, audio: [{ type: 'builtin' }], visual: [{ type: 'builtin', frames: 4, maxSize: 32 }] },
  clustering: { k: [4] },
  selection: { ratio: 0.5 },
  ...extra,
});

describe('incremental curation (curate --add)', () => {
  it('appends, extracts only the new clips, assigns them to the existing centroids and continues the selection', async () => {
    const { base, extra } = await corpora();
    const runDir = path.join(root, 'run');
    // refit: drift (refit only when the drift measure says so), as the default auto would refit a
    // pool this small (the test below).
    const only = { incremental: { refit: 'drift' } };
    const config = parseConfig(raw(base, runDir, only));
    const first = await runCuration(config, { silent: true });
    // (a clip or two may be refused by the pre-filters: the sizes below follow the pools)
    const pool0 = first.selection!.pool;
    expect(pool0).toBeGreaterThanOrEqual(44);
    expect(first.selection!.selected).toBe(Math.round(pool0 / 2));
    const n0 = (readFileSync(path.join(runDir, 'manifest.jsonl'), 'utf8').trim().split('\n')).length;
    const baseShards = ['shard-00000-of-00002.h5', 'shard-00001-of-00002.h5'].map((n) => path.join(runDir, 'features', n));
    const stamps = baseShards.map((f) => statSync(f).mtimeMs);
    const model = readFileSync(path.join(runDir, 'clusters.model.h5'));
    const previous = readSelectionCsv(path.join(runDir, 'selection.csv'));

    const r = await runCuration(parseConfig(raw(base, runDir, only)), { silent: true, add: extra });
    // ingest appended 12 clips after the 48 of the base, recorded as a batch.
    const manifest = readFileSync(path.join(runDir, 'manifest.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    const ledger = (await readLedger(runDir))!;
    const added = ledger.batches[0].clips;
    expect(added).toBeGreaterThanOrEqual(10);
    expect(manifest).toHaveLength(n0 + added);
    expect(manifest.slice(n0).every((m: { id: string }) => Number(m.id.slice(5)) >= 48)).toBe(true);
    expect(ledger.batches).toEqual([expect.objectContaining({ name: 'add-0001', firstRow: n0, clips: added, state: 'appended' })]);
    // extract wrote one new shard and left the base shards alone.
    expect(baseShards.map((f) => statSync(f).mtimeMs)).toEqual(stamps);
    expect(statSync(path.join(runDir, 'features', 'add-0001', 'shard-00000-of-00001.h5')).isFile()).toBe(true);
    expect(r.stages.find((s) => s.stage === 'extract')!.note).toMatch(new RegExp(`^1 shard\\(s\\) written, 2 already complete; ${added} clips`));
    // cluster: same model (no refit), every clip labelled.
    expect(readFileSync(path.join(runDir, 'clusters.model.h5')).equals(model)).toBe(true);
    const clusters = await readClusters(path.join(runDir, 'clusters.h5'));
    expect(clusters.n).toBe(pool0 + added);
    expect(clusters.ids.slice(pool0)).toEqual(manifest.slice(n0).map((m: { id: string }) => m.id));
    const drift = (await measureDrift(config))!;
    expect(drift.addedClips).toBe(added);
    expect(drift.fittedClips).toBe(pool0);
    expect(drift.drift).toBeGreaterThan(0);
    expect(drift.drift).toBeLessThan(config.incremental.driftThreshold);
    // select continued from the previous 24 clips to 30.
    const inc = r.incremental!;
    const target = Math.round((pool0 + added) / 2);
    expect(inc).toMatchObject({ pool: pool0 + added, added, previous: previous.length, selected: target });
    const rows = readSelectionCsv(path.join(runDir, 'selection.csv'));
    expect(rows).toHaveLength(target);
    const now = new Set(rows.map((x) => x.id));
    expect(inc.left).toBe(previous.filter((p) => !now.has(p.id)).length);
    expect(inc.enteredNew + inc.enteredOld).toBe(target - (previous.length - inc.left));
    const report = JSON.parse(readFileSync(path.join(runDir, 'selection.incremental.json'), 'utf8'));
    expect(report.left).toBe(inc.left);
    expect(r.evaluation!.summary.pool).toBe(pool0 + added);

    // A plain rerun keeps everything (the continued selection stands for this config and clusters).
    const csv = readFileSync(path.join(runDir, 'selection.csv'), 'utf8');
    const again = await runCuration(parseConfig(raw(base, runDir, only)), { silent: true });
    expect(again.selection!.skipped).toBe(true);
    expect(again.stages.find((s) => s.stage === 'extract')!.note).toMatch(/^0 shard\(s\) written, 3 already complete/);
    expect(readFileSync(path.join(runDir, 'selection.csv'), 'utf8')).toBe(csv);
    // Adding the same folder again adds nothing.
    const twice = await addClips(parseConfig(raw(base, runDir, only)), extra, { silent: true });
    expect(twice.already).toBe(true);
    expect(twice.total).toBe(n0 + added);

    // A refit on request fits on every clip (60) and relabels; the selection continues again.
    const refit = await runCuration(parseConfig(raw(base, runDir, only)), { silent: true, add: extra, refit: true });
    expect(refit.stages.find((s) => s.stage === 'cluster')!.note).toMatch(/refit requested/);
    expect(readFileSync(path.join(runDir, 'clusters.model.h5')).equals(model)).toBe(false);
    expect((await readLedger(runDir))!.fit).toBe(1);
    expect(readSelectionCsv(path.join(runDir, 'selection.csv'))).toHaveLength(target);
  }, 240_000);

  it('refit: auto refits when the fitting sample holds every clip, and assigns when it does not', async () => {
    const base = path.join(root, 'base');
    const extra = path.join(root, 'extra');
    const run = async (name: string, extraCfg: Record<string, unknown>) => {
      const runDir = path.join(root, name);
      await runCuration(parseConfig(raw(base, runDir, extraCfg)), { silent: true });
      const model = readFileSync(path.join(runDir, 'clusters.model.h5'));
      const r = await runCuration(parseConfig(raw(base, runDir, extraCfg)), { silent: true, add: extra });
      return { runDir, model, r, note: r.stages.find((s) => s.stage === 'cluster')!.note };
    };
    // 4 × 1024 sample points hold the 60 clips: a full run would fit on every clip, so the refit does.
    const covered = await run('run-auto', {});
    expect(covered.note).toMatch(/the fitting sample holds every clip \(\d+ clips ≤ 4096\): refit/);
    expect(readFileSync(path.join(covered.runDir, 'clusters.model.h5')).equals(covered.model)).toBe(false);
    expect((await readLedger(covered.runDir))!.fit).toBe(1);
    expect(covered.r.incremental!.pool).toBe((await readClusters(path.join(covered.runDir, 'clusters.h5'))).n);
    // 4 × 8 sample points do not: the new clips are assigned to the existing centroids.
    const sampled = await run('run-sampled', { clustering: { k: [4], fitPointsPerCentroid: 8 } });
    expect(sampled.note).toMatch(/new clips assigned to the existing centroids/);
    expect(readFileSync(path.join(sampled.runDir, 'clusters.model.h5')).equals(sampled.model)).toBe(true);
    expect((await readLedger(sampled.runDir))!.fit).toBe(0);
  }, 240_000);

  it('with pairing: auto the continued selection tests its pairs with the run seed, as select does', async () => {
    // Every pair passes the thresholds; at most 2 are kept (without the seed, auto would resolve
    // to all 20 candidate pairs).
    const cfg = { selection: { ratio: 0.5, pairing: 'auto', auto: { maxPairs: 2, minZ: -1e9, alpha: 1 } } };
    const runDir = path.join(root, 'run-pairs');
    await runCuration(parseConfig(raw(path.join(root, 'base'), runDir, cfg)), { silent: true });
    const r = await runCuration(parseConfig(raw(path.join(root, 'base'), runDir, cfg)), { silent: true, add: path.join(root, 'extra') });
    expect(r.incremental).not.toBeNull();
    const pairsOf = () => (JSON.parse(readFileSync(path.join(runDir, 'selection.meta.json'), 'utf8')) as { pairs: string[][] }).pairs;
    const continued = pairsOf();
    expect(continued).toHaveLength(2);
    await runSelect(parseConfig(raw(path.join(root, 'base'), runDir, cfg)), { silent: true, force: true });
    expect(pairsOf()).toEqual(continued);
  }, 240_000);

  it('a clip whose id is taken gets the batch name as prefix, and stays a valid id (no dot)', async () => {
    const runDir = path.join(root, 'clash-run');
    // The corpora of the first test (made here when this test runs alone).
    const { base } = existsSync(path.join(root, 'extra', 'labels.jsonl')) ? { base: path.join(root, 'base') } : await corpora();
    await runCuration(parseConfig(raw(base, runDir)), { silent: true, until: 'ingest' });
    const ids0 = readFileSync(path.join(runDir, 'manifest.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l).id as string);
    // Another video under a file name the base already uses: same id, another clip.
    const clash = path.join(root, 'clash');
    await fsp.mkdir(clash, { recursive: true });
    const taken = (await fsp.readdir(base)).filter((f) => f.endsWith('.mp4')).sort()[0];
    const other = (await fsp.readdir(path.join(root, 'extra'))).filter((f) => f.endsWith('.mp4')).sort()[0];
    await fsp.copyFile(path.join(root, 'extra', other), path.join(clash, taken));
    const r = await addClips(parseConfig(raw(base, runDir)), clash, { silent: true });
    expect(r.batch.renamed).toBe(1);
    const ids = readFileSync(path.join(runDir, 'manifest.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l).id as string);
    const added = ids.slice(ids0.length);
    expect(added).toHaveLength(1);
    expect(ids0).toContain(taken.replace(/\.mp4$/, ''));
    expect(added[0]).toBe(`add-0001-${taken.replace(/\.mp4$/, '')}`);
    expect(isId(added[0])).toBe(true);
    expect(batchId('add-0002', 'x'.repeat(128))).toMatch(/^add-0002-x+-[0-9a-f]{10}$/);
    expect(isId(batchId('add-0002', 'x'.repeat(128)))).toBe(true);
  }, 120_000);

  it('refuses to add to a run that was never curated, and an input that does not exist', async () => {
    const config = parseConfig(raw(path.join(root, 'base'), path.join(root, 'empty-run')));
    await expect(addClips(config, path.join(root, 'extra'))).rejects.toThrow(/no manifest to add to/);
    await fsp.mkdir(path.join(root, 'empty-run'), { recursive: true });
    await fsp.writeFile(path.join(root, 'empty-run', 'manifest.jsonl'), '');
    await expect(addClips(config, path.join(root, 'nope'))).rejects.toThrow(/does not exist/);
  });
});
