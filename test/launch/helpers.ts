/** Shared by the launch tests: a tiny curation config, CLI runner, and result comparison. */
import { execFile } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { expect } from 'vitest';
import { readFeatureShard } from '../../src/curation/features/store.js';
import { readClusters } from '../../src/curation/clustering/store.js';

const exec = promisify(execFile);
export const BIN = path.resolve('bin/avcurate.js');

/** A curation config of `clips` synthetic clips cut into feature shards of `shardSize`. */
export function tinyConfig(runDir: string, opts: { clips?: number; shardSize?: number; partitions?: number; extra?: Record<string, unknown> } = {}): Record<string, unknown> {
  return {
    name: 'tiny',
    runDir,
    seed: 3,
    corpus: { synth: { clips: opts.clips ?? 48, classes: 4, mismatch: 0.5, seconds: 1, width: 32, height: 32, fps: 6 } },
    ingest: { clipSeconds: 1, minSeconds: 0.5 },
    features: {
      shardSize: opts.shardSize ?? 12,
      descriptorWorkers: 0,
      decode: { fps: 6, width: 32, height: 32 },
      audio: [{ type: 'builtin' }],
      visual: [{ type: 'builtin', frames: 4, maxSize: 32 }],
    },
    clustering: { k: [4], fitPointsPerCentroid: 6, backend: 'js' },
    selection: { ratio: 0.5, partitions: opts.partitions ?? 4 },
    ...opts.extra,
  };
}

export async function avcurate(args: string[], env: NodeJS.ProcessEnv = process.env, cwd = process.cwd()): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const r = await exec(process.execPath, [BIN, ...args], { env, cwd, maxBuffer: 64 << 20 });
    return { code: 0, stdout: r.stdout, stderr: r.stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof e.code === 'number' ? e.code : 1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
  }
}

/** Features, cluster labels and selection.csv of two run folders are the same (selection byte for byte, HDF5 data-equal). */
export async function expectSameCuration(a: string, b: string): Promise<void> {
  const names = (d: string) => readdirSync(path.join(d, 'features')).filter((f) => f.endsWith('.h5')).sort();
  expect(names(b)).toEqual(names(a));
  expect(names(a).length).toBeGreaterThan(0);
  for (const f of names(a)) {
    const x = await readFeatureShard(path.join(a, 'features', f));
    const y = await readFeatureShard(path.join(b, 'features', f));
    expect(y.ids).toEqual(x.ids);
    expect(y.layers.map((l) => `${l.modality}/${l.layer}:${l.dim}`)).toEqual(x.layers.map((l) => `${l.modality}/${l.layer}:${l.dim}`));
    x.layers.forEach((l, j) => expect(Buffer.from(y.layers[j].data.buffer).equals(Buffer.from(l.data.buffer))).toBe(true));
  }
  const ca = await readClusters(path.join(a, 'clusters.h5'));
  const cb = await readClusters(path.join(b, 'clusters.h5'));
  expect(cb.ids).toEqual(ca.ids);
  expect(Array.from(cb.labels)).toEqual(Array.from(ca.labels));
  ca.clusterings.forEach((c, j) => expect(Array.from(cb.clusterings[j].centroids)).toEqual(Array.from(c.centroids)));
  expect(readFileSync(path.join(b, 'selection.csv'), 'utf8')).toBe(readFileSync(path.join(a, 'selection.csv'), 'utf8'));
}
