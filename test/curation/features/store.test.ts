import { describe, it, expect } from 'vitest';
import { mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { writeFeatureShard, readFeatureShard, listFeatureShards, featureShardPath, readAllFeatures } from '../../../src/curation/features/store.js';

function tmp(): string {
  return mkdtempSync(path.join(os.tmpdir(), 'avc-store-'));
}

describe('feature store', () => {
  it('round-trips ids, layers and attributes', async () => {
    const dir = tmp();
    const file = featureShardPath(dir, 0, 2);
    const a = Float32Array.from({ length: 3 * 4 }, (_, i) => i * 0.5 - 1);
    const v = Float32Array.from({ length: 3 * 2 }, (_, i) => Math.sin(i));
    await writeFeatureShard(file, {
      ids: ['c-0', 'c-1', 'clip_ü'],
      layers: [
        { modality: 'audio', layer: 'melstats', dim: 4, data: a },
        { modality: 'visual', layer: 'colour', dim: 2, data: v },
      ],
      attrs: { extractors: 'builtin-audio,builtin-visual', config_hash: 'abc123', shard_index: 0, shard_count: 2, ratio: 0.25 },
    });
    const back = await readFeatureShard(file);
    expect(back.ids).toEqual(['c-0', 'c-1', 'clip_ü']);
    expect(back.layers.map((l) => `${l.modality}/${l.layer}:${l.dim}`)).toEqual(['audio/melstats:4', 'visual/colour:2']);
    expect(Array.from(back.layers[0].data)).toEqual(Array.from(a));
    expect(Array.from(back.layers[1].data)).toEqual(Array.from(v));
    expect(back.attrs.config_hash).toBe('abc123');
    expect(back.attrs.shard_count).toBe(2);
    expect(back.attrs.ratio).toBeCloseTo(0.25);
    // no temp files left, and the shard is listed
    expect(readdirSync(path.dirname(file))).toEqual(['shard-00000-of-00002.h5']);
    writeFileSync(path.join(dir, 'features', '.shard-00001-of-00002.h5.tmp-1-deadbeef'), 'partial');
    expect(await listFeatureShards(dir)).toEqual([file]);
  });

  it('writes and reads an empty shard', async () => {
    const dir = tmp();
    const file = featureShardPath(dir, 1, 2);
    await writeFeatureShard(file, { ids: [], layers: [{ modality: 'audio', layer: 'x', dim: 3, data: new Float32Array(0) }], attrs: {} });
    const back = await readFeatureShard(file);
    expect(back.ids).toEqual([]);
    expect(back.layers[0].dim).toBe(3);
    expect(back.layers[0].data.length).toBe(0);
  });

  it('refuses mismatched sizes and concatenates shards', async () => {
    const dir = tmp();
    await expect(writeFeatureShard(featureShardPath(dir, 0, 1), { ids: ['a'], layers: [{ modality: 'audio', layer: 'x', dim: 3, data: new Float32Array(2) }], attrs: {} })).rejects.toThrow(/expected 1 ids x 3/);
    expect(await listFeatureShards(dir)).toEqual([]);
    await writeFeatureShard(featureShardPath(dir, 0, 2), { ids: ['a'], layers: [{ modality: 'audio', layer: 'x', dim: 2, data: Float32Array.of(1, 2) }], attrs: {} });
    await writeFeatureShard(featureShardPath(dir, 1, 2), { ids: ['b', 'c'], layers: [{ modality: 'audio', layer: 'x', dim: 2, data: Float32Array.of(3, 4, 5, 6) }], attrs: {} });
    const all = await readAllFeatures(dir);
    expect(all.ids).toEqual(['a', 'b', 'c']);
    expect(Array.from(all.layers[0].data)).toEqual([1, 2, 3, 4, 5, 6]);
  });
});
