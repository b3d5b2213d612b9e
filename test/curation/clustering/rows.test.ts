/** readClustersRows: a clusters file in row blocks equals readClusters of the whole file (the streaming merge reads parts this way). */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { readClusters, readClustersRows, writeClusters } from '../../../src/curation/clustering/store.js';

const dir = mkdtempSync(path.join(os.tmpdir(), 'avc-rows-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('readClustersRows', () => {
  it('visits the rows in blocks (a last short block, a block of one) with the ids, labels and inertia of the file', async () => {
    const n = 10;
    const d = 3;
    const file = path.join(dir, 'c.h5');
    const ids = Array.from({ length: n }, (_, i) => `clip-${i}`);
    const labels = Int32Array.from({ length: n * d }, (_, i) => (i * 7) % 5);
    const clusterings = [0, 1, 2].map((j) => ({ modality: (j ? 'visual' : 'audio') as 'audio' | 'visual', layer: `l${j}`, k: 5, dim: 1, centroids: new Float32Array(5), inertia: 1.5 * (j + 1), iterations: 1 }));
    await writeClusters(file, { ids, labels, n, d, clusterings });
    const whole = await readClusters(file);
    for (const block of [1, 3, 4, 10, 64]) {
      const seenIds: string[] = [];
      const seenLabels: number[] = [];
      const sizes: number[] = [];
      const r = await readClustersRows(file, (i, l) => {
        sizes.push(i.length);
        seenIds.push(...i);
        seenLabels.push(...l!);
      }, { block });
      expect(r).toEqual({ n, d, inertia: [1.5, 3, 4.5] });
      expect(seenIds).toEqual(whole.ids);
      expect(seenLabels).toEqual(Array.from(whole.labels));
      expect(sizes.every((s) => s <= block)).toBe(true);
    }
    const onlyIds: Array<Int32Array | null> = [];
    await readClustersRows(file, (_i, l) => void onlyIds.push(l), { idsOnly: true, block: 4 });
    expect(onlyIds).toEqual([null, null, null]);
    await expect(readClustersRows(path.join(dir, 'none.h5'), () => undefined)).rejects.toThrow(/no such clusters file/);
  });
});
