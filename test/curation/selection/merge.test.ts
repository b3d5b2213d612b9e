/**
 * The merge of a partitioned selection without the whole pool: the heap interleave equals the
 * sort by relative rank, the replay on the selected rows alone equals the replay on the pool bit
 * for bit, and the streaming merge of the select stage (ids and manifest fields of the selected
 * clips only, selection.csv in chunks) writes the bytes the whole-pool merge writes, with rows left
 * out of the pool, video ids that differ from clip ids, a manifest in another order, and more rows
 * than one chunk.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../../../src/config/load.js';
import { readClusters, writeClusters } from '../../../src/curation/clustering/store.js';
import {
  formatSelectionCsv,
  mergeByRelativeRank,
  mergePartitions,
  mergePartitionsSelected,
  planPartitions,
  plantedLabels,
  runSelect,
  selectPartition,
  sliceRows,
  type LabelMatrix,
  type SelectionRow,
} from '../../../src/curation/selection/index.js';
import { poolFromClusters, selectionParams } from '../../../src/curation/selection/stage.js';
import { ManifestIndex } from '../../../src/run/manifest.js';
import { IdTable } from '../../../src/curation/selection/id-table.js';
import { Rng } from '../../../src/runtime/random.js';

const root = mkdtempSync(path.join(os.tmpdir(), 'avc-select-merge-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

function sortMerge(lists: number[][]): number[] {
  const e: Array<[number, number, number]> = [];
  lists.forEach((l, li) => l.forEach((v, r) => e.push([(r + 0.5) / l.length, li, v])));
  e.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  return e.map((x) => x[2]);
}

describe('mergeByRelativeRank', () => {
  it('equals sorting every entry by (relative rank, list), empty and equal-length lists included', () => {
    const rng = new Rng(3);
    for (let trial = 0; trial < 200; trial++) {
      const L = 1 + Math.floor(rng.next() * 9);
      let v = 0;
      const lists = Array.from({ length: L }, () => {
        const m = trial % 3 === 0 ? 6 : Math.floor(rng.next() * 12);
        return Array.from({ length: m }, () => v++);
      });
      expect(Array.from(mergeByRelativeRank(lists))).toEqual(sortMerge(lists));
    }
    expect(Array.from(mergeByRelativeRank([]))).toEqual([]);
  });
});

describe('IdTable', () => {
  it('holds ids compactly and finds them: growth past its estimate, non-ASCII ids, absent ids', () => {
    const t = new IdTable(4);
    const ids = Array.from({ length: 5000 }, (_, i) => (i % 7 === 0 ? `clip-é${i}-视频` : `c${String(i).padStart(9, '0')}`));
    for (const id of ids) t.push(id);
    expect(t.size).toBe(5000);
    ids.forEach((id, i) => {
      expect(t.get(i)).toBe(id);
      expect(t.indexOf(id)).toBe(i);
    });
    expect(t.indexOf('c999999999')).toBe(-1);
    expect(t.has('clip-é7-视频')).toBe(true);
    expect(t.has('clip-é8-视频')).toBe(false);
    t.push('late');
    expect(t.indexOf('late')).toBe(5000); // the index is rebuilt after a push
    expect(() => t.get(5001)).toThrow(RangeError);
  });
});

describe('mergePartitionsSelected', () => {
  it('replays F on the selected rows alone: the same order, gains and objectives as on the whole pool', async () => {
    const p = plantedLabels({ n: 3000, k: 8, concepts: 8, noise: 0.2, seed: 11 });
    const matrix: LabelMatrix = { labels: p.labels, n: p.n, d: p.d, ks: Int32Array.from(p.clusterings, (c) => c.k) };
    const pairs = [0, 5, 1, 6, 2, 7, 3, 8, 4, 9];
    for (const estimator of ['miller-madow', 'plugin'] as const) {
      const params = { ...selectionParams(parseConfig({ name: 'x', selection: { ratio: 0.3, estimator } }).selection, 7, Int32Array.from(pairs)) };
      const parts = planPartitions(p.n, { count: 5, ratio: 0.3 }).map((part) => selectPartition(matrix, params, part));
      const whole = mergePartitions(matrix, params, parts);
      let asked: Int32Array | null = null;
      const sel = await mergePartitionsSelected(params, [...parts].reverse(), async (rows) => {
        asked = rows;
        const labels = new Int32Array(rows.length * matrix.d);
        rows.forEach((r, i) => labels.set(sliceRows(matrix, r, r + 1).labels, i * matrix.d));
        return { labels, n: rows.length, d: matrix.d, ks: matrix.ks };
      });
      expect(asked!.length).toBe(whole.order.length);
      expect(Array.from(sel.order)).toEqual(Array.from(whole.order));
      expect(Array.from(sel.gains)).toEqual(Array.from(whole.gains));
      expect(Array.from(sel.objectives)).toEqual(Array.from(whole.objectives));
      expect(sel.objective).toBe(whole.objective);
      for (let r = 0; r < sel.order.length; r++) expect(sel.rows[sel.at[r]]).toBe(sel.order[r]);
    }
  });

  it('refuses partition results that select a row twice', async () => {
    const part = { index: 0, start: 0, end: 4, target: 2, order: Int32Array.from([1, 2]), objective: 0, searchObjective: 0, refine: null, seconds: { search: 0, refine: 0, order: 0 } };
    await expect(mergePartitionsSelected({ pairs: [0, 1], estimator: 'plugin' }, [part, { ...part, index: 1 }], async () => ({ labels: new Int32Array(0), n: 0, d: 2, ks: Int32Array.from([2, 2]) }))).rejects.toThrow(
      /select pool row 1 twice/,
    );
  });
});

describe('select: the streaming merge', () => {
  it('writes the bytes of the whole-pool merge: excluded rows, other video ids, manifest in another order, more rows than a chunk', async () => {
    const n = 21_000;
    const p = plantedLabels({ n, k: 8, concepts: 8, noise: 0.2, seed: 4 });
    // Rows left out of the pool (label −1 in a clustering in use).
    for (const r of [0, 17, 5000, 5001, n - 1]) p.labels[r * p.d + 3] = -1;
    const dir = path.join(root, 'stream');
    const ids = Array.from({ length: n }, (_, i) => `clip-${String(i).padStart(6, '0')}`);
    const clustersFile = path.join(dir, 'clusters.h5');
    await writeClusters(clustersFile, {
      ids,
      labels: p.labels,
      n,
      d: p.d,
      clusterings: p.clusterings.map((c) => ({ ...c, modality: c.modality as 'audio' | 'visual', dim: 1, centroids: new Float32Array(c.k), inertia: 0, iterations: 1 })),
    });
    const probe = { duration: 9, width: 32, height: 32, fps: 8, sampleRate: 16000, videoCodec: 'h264', audioCodec: 'aac' };
    const records = ids.map((id, i) => ({
      id,
      source: `/data/${id}.mp4`,
      start: (i % 7) * 0.25,
      duration: 1 + (i % 3),
      video_id: i % 2 === 1 ? `vid-${Math.floor(i / 4)}` : id,
      probe,
    }));
    writeFileSync(path.join(dir, 'manifest.jsonl'), [...records].reverse().map((r) => JSON.stringify(r)).join('\n') + '\n');
    const selection = { ratio: 0.5, partitions: 3 };
    const config = parseConfig({ name: 'stream', runDir: dir, seed: 7, selection });
    const r = await runSelect(config, { silent: true });
    expect(r.pool).toBe(n - 5);
    expect(r.selected).toBeGreaterThan(8192);

    // The reference: the whole pool in memory, merged and joined as before the streaming merge.
    const pool = poolFromClusters(await readClusters(clustersFile), config.selection, clustersFile, config.seed);
    const params = selectionParams(config.selection, config.seed, pool.pairs);
    const parts = planPartitions(pool.matrix.n, { count: 3, ratio: 0.5 }).map((part) => selectPartition(pool.matrix, params, part));
    const whole = mergePartitions(pool.matrix, params, parts);
    const manifest = new ManifestIndex(records as never, 'manifest.jsonl');
    const rows: SelectionRow[] = Array.from(whole.order, (x, rank) => {
      const rec = manifest.get(pool.ids[x], 'clusters.h5');
      return { rank: rank + 1, id: rec.id, video_id: rec.video_id ?? rec.id, start: rec.start, end: rec.start + rec.duration, gain: whole.gains[rank], objective: whole.objectives[rank] };
    });
    expect(readFileSync(path.join(dir, 'selection.csv'), 'utf8')).toBe(formatSelectionCsv(rows));
    const meta = JSON.parse(readFileSync(path.join(dir, 'selection.meta.json'), 'utf8'));
    expect(meta).toMatchObject({ pool: n - 5, excluded: 5, selected: whole.order.length, objective: whole.objective });

    // A selected clip missing from the manifest: a clear error naming both files, selection.csv untouched.
    const before = readFileSync(path.join(dir, 'selection.csv'), 'utf8');
    const first = rows[0].id;
    writeFileSync(path.join(dir, 'manifest.jsonl'), records.filter((x) => x.id !== first).map((x) => JSON.stringify(x)).join('\n') + '\n');
    await expect(runSelect(config, { silent: true, force: true })).rejects.toThrow(new RegExp(`clusters\\.h5: clip id "${first}" is not in .*manifest\\.jsonl`));
    expect(readFileSync(path.join(dir, 'selection.csv'), 'utf8')).toBe(before);
  }, 120_000);
});
