/**
 * Sharded == single for every curation stage at 1, 3 and 4 shards, through the stage functions
 * the launch steps call (ingest by input range + merge, extract --shard, cluster --sample-only / --fit-only / --no-merge / merge,
 * select --shard with streamed pool rows, then the merge): features, labels and selection.csv
 * equal a one-process curation. Also: a select shard process computes the same fingerprint as the
 * one-process merge (the merge recomputes no partition), and the streaming clusters.h5 writer
 * gives the same data as the in-memory one.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/load.js';
import { runCuration } from '../../src/curation/pipeline.js';
import { runIngestMerge, runIngestShard } from '../../src/curation/manifest/sharded.js';
import { readFileSync } from 'node:fs';
import { runExtract } from '../../src/curation/features/stage.js';
import { runCluster, runClusterSample } from '../../src/curation/clustering/stage.js';
import { ClustersWriter, readClusters, writeClusters } from '../../src/curation/clustering/store.js';
import { runSelect } from '../../src/curation/selection/stage.js';
import { expectSameCuration, tinyConfig } from './helpers.js';
import { readStageRecord } from '../../src/run/ledger.js';
import { corpusDir, ingestStage } from '../../src/curation/manifest/stage.js';
import { h5Digest } from '../helpers/h5.js';

const root = mkdtempSync(path.join(os.tmpdir(), 'avc-sharded-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

const single = path.join(root, 'single');
const base = () => tinyConfig(single, { clips: 30, shardSize: 4, partitions: 4 });

describe('sharded == single', () => {
  beforeAll(async () => {
    await runCuration(parseConfig(base()), { silent: true, until: 'select' });
  }, 300_000);

  for (const shards of [1, 3, 4]) {
    it(`at ${shards} shard(s), every stage`, async () => {
      const runDir = path.join(root, `sharded-${shards}`);
      const raw = { ...base(), runDir, corpus: { source: path.join(single, 'corpus') } };
      const config = parseConfig(raw);
      const all = Array.from({ length: shards }, (_, i) => ({ index: i, count: shards }));
      for (const s of all) await runIngestShard(config, s, { silent: true });
      expect((await runIngestMerge(config, shards, { silent: true })).skipped).toBe(false);
      expect(readFileSync(path.join(runDir, 'manifest.jsonl'), 'utf8')).toBe(readFileSync(path.join(single, 'manifest.jsonl'), 'utf8'));
      // The merge is the run's ingest on the ledger: a rerun skips, and so does the one ingest code path (curate, avcurate ingest).
      expect((await readStageRecord(runDir, 'ingest'))!.outputs).toEqual(['manifest.jsonl']);
      expect((await runIngestMerge(config, shards, { silent: true })).skipped).toBe(true);
      expect((await ingestStage({ input: corpusDir(config), out: path.join(runDir, 'manifest.jsonl'), ingest: config.ingest, silent: true })).skipped).toBe(true);
      expect((await runIngestShard(config, all[0], { silent: true })).skipped).toBe(true);
      for (const s of all) await runExtract(config, s, { silent: true });
      for (const s of all) expect((await runClusterSample(config, s, { silent: true })).skipped).toBe(false);
      // The samples are on the stage ledger: a rerun skips; a lost sample is made again, same bytes.
      const last = all[all.length - 1];
      const again = await runClusterSample(config, last, { silent: true });
      expect(again.skipped).toBe(true);
      expect((await readStageRecord(runDir, 'cluster-sample', path.basename(again.file, '.h5')))!.outputs).toEqual([path.relative(runDir, again.file)]);
      // (the same data; not the same bytes: HDF5 object headers may carry times)
      const sampleData = await h5Digest(again.file);
      rmSync(again.file);
      expect((await runClusterSample(config, last, { silent: true })).skipped).toBe(false);
      expect(await h5Digest(again.file)).toEqual(sampleData);
      expect(Object.keys(sampleData).length).toBeGreaterThan(0);
      const fit = await runCluster(config, { index: 0, count: 1 }, { fitOnly: true, silent: true });
      expect(fit.fitted).toBe(true);
      for (const s of all) {
        const r = await runCluster(config, s, { merge: false, silent: true });
        expect(r.clustersPath).toBeNull();
      }
      const merged = await runCluster(config, { index: 0, count: 1 }, { silent: true });
      expect(merged.merged).toBe(true);
      expect(merged.assigned).toBe(0);
      for (const s of all) {
        const r = await runSelect(config, { shard: s, silent: true, merge: shards === 1 ? undefined : false });
        if (shards > 1) expect(r.csv).toBeNull();
      }
      const sel = await runSelect(config, { silent: true });
      if (shards > 1) expect(sel.computed).toEqual([]); // the shards' partition files were found: same fingerprint
      expect(sel.csv).not.toBeNull();
      await expectSameCuration(single, runDir);
    }, 300_000);
  }

  it('the streaming clusters writer equals the in-memory one; it refuses a wrong row count and leaves no file', async () => {
    const c = await readClusters(path.join(single, 'clusters.h5'));
    const a = path.join(root, 'mem.h5');
    const b = path.join(root, 'stream.h5');
    await writeClusters(a, c);
    const w = await ClustersWriter.open(b, { n: c.n, d: c.d, clusterings: c.clusterings, attrs: c.attrs }, Math.max(...c.ids.map((x) => x.length)));
    for (let s = 0; s < c.n; s += 7) w.append(c.ids.slice(s, s + 7), c.labels.subarray(s * c.d, Math.min(c.n, s + 7) * c.d));
    await w.finish();
    const x = await readClusters(a);
    const y = await readClusters(b);
    expect(y.ids).toEqual(x.ids);
    expect(Array.from(y.labels)).toEqual(Array.from(x.labels));
    expect(y.clusterings).toEqual(x.clusterings);
    const bad = path.join(root, 'short.h5');
    const w2 = await ClustersWriter.open(bad, { n: c.n, d: c.d, clusterings: c.clusterings }, 16);
    w2.append(c.ids.slice(0, 2), c.labels.subarray(0, 2 * c.d));
    await expect(w2.finish()).rejects.toThrow(/2 rows written/);
    const { readdirSync } = await import('node:fs');
    expect(readdirSync(root).filter((f) => f.includes('short'))).toEqual([]);
  });
});
