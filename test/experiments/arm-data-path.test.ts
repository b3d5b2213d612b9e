/**
 * One data path: an experiment arm gets every training and every probing batch from the loaders'
 * tensor-cache source. A spy wraps the source: it records every row it hands out and replaces the
 * row's tensors by zeros. If any batch reached the trainer by another way, its loss would differ
 * from ln(B) (identical inputs give identical embeddings, uniform logits, loss exactly ln B), and
 * the probe's clips would not all have passed through the spy.
 */
import { afterAll, describe, expect, it, vi } from 'vitest';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Dataset, NdArray } from '../../src/loaders/index.js';

const delivered: string[] = [];
const opened: Array<{ dir: string; keys?: readonly string[] }> = [];

vi.mock('../../src/loaders/cache/tensor-cache.js', async (importOriginal) => {
  const real = await importOriginal<typeof import('../../src/loaders/cache/tensor-cache.js')>();
  return {
    ...real,
    fromTensorCache: vi.fn(async (dir: string, opts: { keys?: readonly string[] } = {}) => {
      opened.push({ dir, keys: opts.keys });
      const ds = await real.fromTensorCache(dir, opts);
      return (ds as Dataset<Record<string, unknown>>).map((x) => {
        delivered.push(x.key as string);
        const zero = (a: NdArray) => ({ dtype: a.dtype, shape: [...a.shape], data: new (a.data.constructor as new (n: number) => NdArray['data'])(a.data.length) });
        return { ...x, frames: zero(x.frames as NdArray), spec: zero(x.spec as NdArray) };
      });
    }),
  };
});

const { runArmJob } = await import('../../src/experiments/arm-worker.js');
const { writeTensorCache } = await import('../../src/loaders/cache/tensor-cache.js');
const { fromArray } = await import('../../src/loaders/sources/array.js');
const { SslSchema } = await import('../../src/config/sections/ssl.js');
const { LoaderSchema } = await import('../../src/config/sections/loader.js');
const { resolveSplits } = await import('../../src/ssl/probe/splits.js');
const { Rng } = await import('../../src/runtime/random.js');

const tmp = mkdtempSync(path.join(os.tmpdir(), 'avcurate-arm-path-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('experiment arm data path', () => {
  it('trains and probes only on batches from the loaders tensor-cache source', async () => {
    const rng = new Rng(3);
    const n = 24;
    const items = Array.from({ length: n }, (_, i) => ({
      key: `c${i}`,
      frames: { dtype: 'uint8' as const, shape: [2, 32, 32, 3], data: Uint8Array.from({ length: 2 * 32 * 32 * 3 }, () => rng.int(256)) },
      spec: { dtype: 'float32' as const, shape: [96, 64], data: Float32Array.from({ length: 96 * 64 }, () => rng.normal()) },
    }));
    const cacheDir = path.join(tmp, 'tensors');
    await writeTensorCache(fromArray(items), cacheDir);
    const ssl = SslSchema.parse({
      backend: 'wasm',
      steps: 5,
      batchSize: 6,
      warmupSteps: 1,
      checkpointEvery: 5,
      model: {
        audio: { frames: 96, mels: 64, stages: [{ channels: 8, stride: 8, blocks: 0 }] },
        visual: { frames: 2, height: 32, width: 32, temporalKernel: 1, stages: [{ channels: 8, stride: 8, blocks: 0 }] },
        head: { hidden: 16, dim: 8 },
      },
    });
    const trainIds = items.slice(0, 12).map((x) => x.key);
    const taskIds = items.slice(12).map((x) => x.key);
    const labels = taskIds.map((_, i) => i % 2);
    const job = {
      arm: 'curated',
      seed: 0,
      cacheDir,
      trainIds,
      outDir: path.join(tmp, 'ssl', 'curated-s0'),
      ssl,
      loader: LoaderSchema.parse({}),
      tasks: [{ name: 'task', cacheDir, ids: taskIds, labels, classes: 2, splits: resolveSplits({ labels }, { kind: 'folds', k: 3 }, new Rng(1)) }],
      probe: { modalities: ['audio', 'visual', 'both', 'cross'] as Array<'audio' | 'visual' | 'both' | 'cross'>, layer: 'encoder' as const, lambdas: [1], valFraction: 0.2, maxIter: 50, topK: 1, batchSize: 5 },
      resultFile: path.join(tmp, 'probe', 'curated-s0.json'),
      silent: true,
    };
    const result = await runArmJob(job);
    expect(result.steps).toBe(5);

    // Training: the source was opened on the arm's clips, and every step's loss is ln(6) exactly
    // as for the zeroed rows the spy handed out.
    expect(opened[0]).toEqual({ dir: cacheDir, keys: trainIds });
    const trainDelivered = delivered.filter((k) => trainIds.includes(k));
    expect(new Set(trainDelivered)).toEqual(new Set(trainIds));
    const losses = readFileSync(path.join(job.outDir, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l).loss as number);
    expect(losses).toHaveLength(5);
    for (const l of losses) expect(l).toBeCloseTo(Math.log(6), 5);

    // Probing: two embedding passes (encoder features, and the shared head for the cross probe),
    // each reading every task clip once, in order, through the same source.
    expect(opened.slice(1)).toEqual([{ dir: cacheDir, keys: taskIds }, { dir: cacheDir, keys: taskIds }]);
    expect(delivered.filter((k) => taskIds.includes(k))).toEqual([...taskIds, ...taskIds]);
    expect(Object.keys(result.tasks.task).sort()).toEqual(['audio', 'both', 'cross', 'visual']);
  }, 60_000);
});
