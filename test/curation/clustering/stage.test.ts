import { describe, it, expect } from 'vitest';
import { mkdtempSync, writeFileSync, existsSync, readdirSync, readFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Rng } from '../../../src/runtime/random.js';
import { parseConfig } from '../../../src/config/load.js';
import { writeFeatureShard, featureShardPath } from '../../../src/curation/features/store.js';
import { runCluster, ClusterStageError, JOINT_LAYER } from '../../../src/curation/clustering/stage.js';
import { readClusters } from '../../../src/curation/clustering/store.js';
import { readClusterModel } from '../../../src/curation/clustering/model.js';
import { plantedClusters, adjustedRandIndex } from '../../../src/curation/clustering/synthetic.js';

const root = mkdtempSync(path.join(tmpdir(), 'avc-cluster-stage-'));

interface Corpus {
  runDir: string;
  ids: string[];
  /** Ground truth per id: audio and visual concept. */
  truthA: Map<string, number>;
  truthV: Map<string, number>;
  manifestIds: string[];
}

/** Three feature shards: audio 'mel' (6-d, 4 concepts) and visual 'conv' (10-d, 5 concepts), plus a shuffled manifest. */
async function makeCorpus(name: string, opts: { nanAt?: string } = {}): Promise<Corpus> {
  const runDir = path.join(root, name);
  const n = 600;
  const audio = plantedClusters(n, 6, 4, new Rng(1), { separation: 5 });
  const visual = plantedClusters(n, 10, 5, new Rng(2), { separation: 5 });
  const ids = Array.from({ length: n }, (_, i) => `clip-${String(i).padStart(4, '0')}`);
  const truthA = new Map(ids.map((id, i) => [id, audio.truth[i]]));
  const truthV = new Map(ids.map((id, i) => [id, visual.truth[i]]));
  const bounds = [0, 250, 420, n];
  for (let s = 0; s < 3; s++) {
    const [a, b] = [bounds[s], bounds[s + 1]];
    const mel = audio.X.slice(a * 6, b * 6);
    const conv = visual.X.slice(a * 10, b * 10);
    const shardIds = ids.slice(a, b);
    if (opts.nanAt) {
      const r = shardIds.indexOf(opts.nanAt);
      if (r >= 0) conv[r * 10 + 3] = NaN;
    }
    await writeFeatureShard(featureShardPath(runDir, s, 3), {
      ids: shardIds,
      layers: [
        { modality: 'audio', layer: 'mel', dim: 6, data: mel },
        { modality: 'visual', layer: 'conv', dim: 10, data: conv },
      ],
      attrs: { extractor: 'test' },
    });
  }
  const manifestIds = new Rng(3).shuffle([...ids, 'clip-without-features']);
  writeFileSync(path.join(runDir, 'manifest.jsonl'), manifestIds.map((id) => JSON.stringify({ id, source: `${id}.mp4` })).join('\n') + '\n');
  return { runDir, ids, truthA, truthV, manifestIds };
}

function config(runDir: string, clustering: Record<string, unknown> = {}) {
  return parseConfig({ name: 'stage-test', runDir, seed: 7, clustering: { k: [4], fitPointsPerCentroid: 64, ...clustering } });
}

describe('cluster stage', () => {
  it('fits, assigns every shard and writes clusters.h5 in manifest order', async () => {
    const c = await makeCorpus('full');
    const cfg = config(c.runDir, { layers: [{ modality: 'audio', layer: 'mel' }, { modality: 'visual', layer: 'conv', k: [5, 3] }] });
    const r = await runCluster(cfg, { index: 0, count: 1 }, { silent: true });
    expect(r.fitted).toBe(true);
    expect(r.assigned).toBe(3);
    expect(r.clustersPath).toBe(path.join(c.runDir, 'clusters.h5'));
    const f = await readClusters(r.clustersPath!);
    expect(f.n).toBe(600);
    expect(f.d).toBe(3);
    expect(f.clusterings.map((x) => `${x.modality}/${x.layer}/${x.k}`)).toEqual(['audio/mel/4', 'visual/conv/5', 'visual/conv/3']);
    // Manifest order, without the clip that has no features.
    expect(f.ids).toEqual(c.manifestIds.filter((id) => id !== 'clip-without-features'));
    // Fitted on a sample (64 per centroid x largest k 5 = 320 clips), assigned all 600: clusters recovered.
    expect(r.clusterings[0].fitPoints).toBe(320);
    const col = (d: number) => f.ids.map((_, i) => f.labels[i * f.d + d]);
    expect(adjustedRandIndex(col(0), f.ids.map((id) => c.truthA.get(id)!))).toBeGreaterThanOrEqual(0.99);
    expect(adjustedRandIndex(col(1), f.ids.map((id) => c.truthV.get(id)!))).toBeGreaterThanOrEqual(0.99);
    for (const cl of f.clusterings) {
      expect(cl.centroids.length).toBe(cl.k * cl.dim);
      expect(cl.inertia).toBeGreaterThan(0);
      expect(cl.iterations).toBeGreaterThanOrEqual(1);
    }
    // A rerun does nothing new.
    const again = await runCluster(cfg, { index: 0, count: 1 }, { silent: true });
    expect(again.fitted).toBe(false);
    expect(again.assigned).toBe(0);
    expect(again.skipped).toBe(3);
    expect(again.n).toBe(600);
  });

  it('--shard i/n assigns only its shards with the one fitted model; the last shard merges', async () => {
    const whole = await makeCorpus('whole');
    const split = await makeCorpus('split');
    const full = await runCluster(config(whole.runDir), { index: 0, count: 1 }, { silent: true });
    const fitOnly = await runCluster(config(split.runDir), { index: 0, count: 2 }, { silent: true, fitOnly: true });
    expect(fitOnly.fitted).toBe(true);
    expect(existsSync(path.join(split.runDir, 'clusters', 'shard-00000-of-00003.h5'))).toBe(false);
    const s1 = await runCluster(config(split.runDir), { index: 1, count: 2 }, { silent: true });
    expect(s1.fitted).toBe(false); // reused the model
    expect(s1.assigned).toBe(1); // feature shard 1 of 3
    expect(s1.clustersPath).toBeNull();
    expect(s1.pending).toBe(2);
    expect(readdirSync(path.join(split.runDir, 'clusters'))).toEqual(['shard-00001-of-00003.h5']);
    const s0 = await runCluster(config(split.runDir), { index: 0, count: 2 }, { silent: true });
    expect(s0.assigned).toBe(2);
    expect(s0.clustersPath).not.toBeNull();
    const a = await readClusters(full.clustersPath!);
    const b = await readClusters(s0.clustersPath!);
    expect(b.ids).toEqual(a.ids);
    expect(Array.from(b.labels)).toEqual(Array.from(a.labels));
    expect(b.d).toBe(2); // one clustering per layer with the default single k
    expect(Array.from(b.clusterings[0].centroids)).toEqual(Array.from(a.clusterings[0].centroids));
    expect(b.clusterings[1].inertia).toBeCloseTo(a.clusterings[1].inertia, 6);
  });

  it('a config change refits; L2 normalisation and PCA whitening are applied at fit and assignment', async () => {
    const c = await makeCorpus('whiten');
    await runCluster(config(c.runDir), { index: 0, count: 1 }, { silent: true });
    const layers = [
      { modality: 'audio', layer: 'mel', k: [4] },
      { modality: 'visual', layer: 'conv', k: [5] },
    ];
    const r = await runCluster(config(c.runDir, { whiten: true, l2Normalize: true, whitenDim: 4, layers }), { index: 0, count: 1 }, { silent: true });
    expect(r.fitted).toBe(true);
    expect(r.assigned).toBe(3);
    const model = await readClusterModel(path.join(c.runDir, 'clusters.model.h5'));
    expect(model!.clusterings[0].transform.l2).toBe(true);
    expect(model!.clusterings[0].transform.pca?.dimOut).toBe(4);
    const f = await readClusters(r.clustersPath!);
    expect(f.clusterings.map((x) => x.dim)).toEqual([4, 4]);
    const col = (d: number) => f.ids.map((_, i) => f.labels[i * f.d + d]);
    expect(adjustedRandIndex(col(0), f.ids.map((id) => c.truthA.get(id)!))).toBeGreaterThanOrEqual(0.95);
    expect(adjustedRandIndex(col(1), f.ids.map((id) => c.truthV.get(id)!))).toBeGreaterThanOrEqual(0.95);
  });

  it('fitMaxShards draws the fitting sample from that many shards; fitPointsPerCentroid 0 takes all their clips', async () => {
    const c = await makeCorpus('fit-shards');
    const r = await runCluster(config(c.runDir, { fitMaxShards: 1, fitPointsPerCentroid: 0 }), { index: 0, count: 1 }, { silent: true });
    expect([250, 170, 180]).toContain(r.clusterings[0].fitPoints);
    expect(r.n).toBe(600);
    const all = await runCluster(config(c.runDir, { fitPointsPerCentroid: 0 }), { index: 0, count: 1 }, { silent: true });
    expect(all.fitted).toBe(true);
    expect(all.clusterings[0].fitPoints).toBe(600);
  });

  it('stops on a non-finite feature, naming the clip', async () => {
    const c = await makeCorpus('nan', { nanAt: 'clip-0433' });
    const p = runCluster(config(c.runDir), { index: 0, count: 1 }, { silent: true });
    await expect(p).rejects.toBeInstanceOf(ClusterStageError);
    await expect(runCluster(config(c.runDir), { index: 0, count: 1 }, { silent: true })).rejects.toThrow(/clip clip-0433 has a non-finite feature \(NaN\) in visual\/conv/);
    expect(existsSync(path.join(c.runDir, 'clusters.h5'))).toBe(false);
  });

  it('explains when k exceeds the clips or a layer is missing', async () => {
    const c = await makeCorpus('bad-k');
    await expect(runCluster(config(c.runDir, { k: [700], fitPointsPerCentroid: 0 }), { index: 0, count: 1 }, { silent: true })).rejects.toThrow(
      /cannot cluster audio\/mel with k = 700: k = 700 but there are only 600 points/,
    );
    await expect(
      runCluster(config(c.runDir, { layers: [{ modality: 'audio', layer: 'nope' }] }), { index: 0, count: 1 }, { silent: true }),
    ).rejects.toThrow(/audio\/nope.*available: audio\/mel, visual\/conv/);
  });

  it('clustering.joint clusters the layers of a modality together, standardised, at fit and assignment', async () => {
    // Four visual concepts (a, b): layer x (2-d, scale 1000) encodes a only, layer y (20-d, scale 0.01)
    // encodes b only. Neither layer alone can tell the four apart; together they can, but only
    // when the scales are evened out (concatenated raw, x's scale would drown y).
    const runDir = path.join(root, 'joint');
    const rng = new Rng(11);
    const n = 480;
    const ids = Array.from({ length: n }, (_, i) => `clip-${String(i).padStart(4, '0')}`);
    const truth = ids.map((_, i) => i % 4);
    const x = new Float32Array(n * 2);
    const y = new Float32Array(n * 20);
    const mel = new Float32Array(n * 3);
    truth.forEach((c, i) => {
      const a = c & 1;
      const b = c >> 1;
      x[i * 2] = 1000 * (10 * a + rng.normal());
      x[i * 2 + 1] = 1000 * rng.normal();
      for (let j = 0; j < 20; j++) y[i * 20 + j] = 0.01 * (4 * b + rng.normal());
      for (let j = 0; j < 3; j++) mel[i * 3 + j] = rng.normal() + 5 * (c % 2);
    });
    const bounds = [0, 200, n];
    for (let s = 0; s < 2; s++) {
      const [lo, hi] = [bounds[s], bounds[s + 1]];
      await writeFeatureShard(featureShardPath(runDir, s, 2), {
        ids: ids.slice(lo, hi),
        layers: [
          { modality: 'audio', layer: 'mel', dim: 3, data: mel.slice(lo * 3, hi * 3) },
          { modality: 'visual', layer: 'x', dim: 2, data: x.slice(lo * 2, hi * 2) },
          { modality: 'visual', layer: 'y', dim: 20, data: y.slice(lo * 20, hi * 20) },
        ],
        attrs: { extractor: 'test' },
      });
    }
    writeFileSync(path.join(runDir, 'manifest.jsonl'), ids.map((id) => JSON.stringify({ id, source: `${id}.mp4` })).join('\n') + '\n');
    const cfg = config(runDir, { joint: true, fitPointsPerCentroid: 0, restarts: 3 });
    const r = await runCluster(cfg, { index: 0, count: 1 }, { silent: true });
    const f = await readClusters(r.clustersPath!);
    // audio has one layer, so no joint clustering of its own; visual gets visual/joint/k4 after its layers.
    expect(f.clusterings.map((c) => `${c.modality}/${c.layer}/k${c.k}`)).toEqual(['audio/mel/k4', 'visual/x/k4', 'visual/y/k4', `visual/${JOINT_LAYER}/k4`]);
    const col = (d: number) => f.ids.map((_, i) => f.labels[i * f.d + d]);
    const t = f.ids.map((id) => truth[ids.indexOf(id)]);
    expect(adjustedRandIndex(col(1), t)).toBeLessThan(0.6);
    expect(adjustedRandIndex(col(2), t)).toBeLessThan(0.6);
    expect(adjustedRandIndex(col(3), t)).toBeGreaterThanOrEqual(0.95);
    // The model keeps the parts and the standardisation, so later clips are assigned the same way.
    const model = await readClusterModel(path.join(runDir, 'clusters.model.h5'));
    const joint = model!.clusterings[3];
    expect(joint.parts).toEqual(['x', 'y']);
    expect(joint.dim).toBe(22);
    expect(joint.transform.standardise?.mean.length).toBe(22);
    expect(joint.transform.standardise!.scale[0]).toBeCloseTo(1 / (Math.sqrt(2) * 1000 * Math.sqrt(1 + 25)), 5);
    expect(model!.clusterings[1].transform.standardise ?? null).toBeNull();
    // Assigning shard by shard gives the same labels as one process.
    const runDir2 = path.join(root, 'joint-sharded');
    mkdirSync(path.join(runDir2, 'features'), { recursive: true });
    for (const s of [0, 1]) {
      const src = featureShardPath(runDir, s, 2);
      writeFileSync(featureShardPath(runDir2, s, 2), readFileSync(src));
    }
    writeFileSync(path.join(runDir2, 'manifest.jsonl'), readFileSync(path.join(runDir, 'manifest.jsonl')));
    const cfg2 = config(runDir2, { joint: true, fitPointsPerCentroid: 0, restarts: 3 });
    await runCluster(cfg2, { index: 1, count: 2 }, { silent: true });
    const r2 = await runCluster(cfg2, { index: 0, count: 2 }, { silent: true });
    expect(Array.from((await readClusters(r2.clustersPath!)).labels)).toEqual(Array.from(f.labels));
    // Turning it off refits without the joint clustering.
    const off = await runCluster(config(runDir, { joint: false, fitPointsPerCentroid: 0, restarts: 3 }), { index: 0, count: 1 }, { silent: true });
    expect(off.fitted).toBe(true);
    expect(off.clusterings.map((c) => c.layer)).toEqual(['mel', 'x', 'y']);
  });

  it('clustering.joint refuses a feature layer already named "joint"', async () => {
    const runDir = path.join(root, 'joint-name');
    const rng = new Rng(12);
    const n = 40;
    const data = (d: number) => Float32Array.from({ length: n * d }, () => rng.normal());
    await writeFeatureShard(featureShardPath(runDir, 0, 1), {
      ids: Array.from({ length: n }, (_, i) => `c${i}`),
      layers: [
        { modality: 'visual', layer: 'joint', dim: 2, data: data(2) },
        { modality: 'visual', layer: 'other', dim: 2, data: data(2) },
      ],
      attrs: { extractor: 'test' },
    });
    await expect(runCluster(config(runDir, { joint: true }), { index: 0, count: 1 }, { silent: true })).rejects.toThrow(/visual feature layer named "joint".*clustering\.joint: false/);
    // Without clustering.joint the layer is an ordinary one.
    const ok = await runCluster(config(runDir, { k: [2] }), { index: 0, count: 1 }, { silent: true });
    expect(ok.clusterings.map((c) => c.layer)).toEqual(['joint', 'other']);
  });
});
