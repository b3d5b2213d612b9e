import { describe, it, expect } from 'vitest';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { writeClusters, readClusters, type ClusterFile } from '../../../src/curation/clustering/store.js';

const dir = mkdtempSync(path.join(tmpdir(), 'avc-clusters-'));

function sample(): ClusterFile {
  return {
    ids: ['clip-a', 'clip-b', 'clip-ü'],
    labels: new Int32Array([0, 1, 1, 0, 2, 1]),
    n: 3,
    d: 2,
    clusterings: [
      { modality: 'audio', layer: 'mel_stats', k: 3, dim: 2, centroids: new Float32Array([1, 2, 3, 4, 5, 6.5]), inertia: 1.25, iterations: 7 },
      { modality: 'visual', layer: 'conv3', k: 2, dim: 1, centroids: new Float32Array([-1, 2]), inertia: 0.5, iterations: 3 },
    ],
  };
}

describe('clusters.h5 store', () => {
  it('round-trips ids, labels and every clustering', async () => {
    const file = path.join(dir, 'clusters.h5');
    const c = sample();
    await writeClusters(file, c);
    const back = await readClusters(file);
    expect(back.n).toBe(3);
    expect(back.d).toBe(2);
    expect(back.ids).toEqual(c.ids);
    expect(Array.from(back.labels)).toEqual(Array.from(c.labels));
    expect(back.clusterings.map((x) => ({ ...x, centroids: Array.from(x.centroids) }))).toEqual(
      c.clusterings.map((x) => ({ ...x, centroids: Array.from(x.centroids) })),
    );
  });

  it('handles an empty clip list', async () => {
    const file = path.join(dir, 'empty.h5');
    const c = sample();
    await writeClusters(file, { ...c, ids: [], labels: new Int32Array(0), n: 0 });
    const back = await readClusters(file);
    expect(back.n).toBe(0);
    expect(back.ids).toEqual([]);
    expect(back.clusterings).toHaveLength(2);
  });

  it('refuses inconsistent input and names bad files', async () => {
    const c = sample();
    await expect(writeClusters(path.join(dir, 'bad.h5'), { ...c, labels: new Int32Array([0, 5, 0, 0, 0, 0]) })).rejects.toThrow(/label 5/);
    await expect(writeClusters(path.join(dir, 'bad.h5'), { ...c, n: 4 })).rejects.toThrow(/ids/);
    const junk = path.join(dir, 'junk.h5');
    writeFileSync(junk, 'not hdf5');
    await expect(readClusters(junk)).rejects.toThrow(/junk\.h5/);
    await expect(readClusters(path.join(dir, 'missing.h5'))).rejects.toThrow(/missing\.h5/);
  });
});
