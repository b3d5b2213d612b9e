/**
 * selection.restarts: independent searches per partition, the highest objective kept. One search
 * (restarts: 1) is the stream a partition always used; with more, each restart is its own derived
 * stream, the kept one is the first of the highest, and the partition's result is that search's.
 */
import { describe, expect, it } from 'vitest';
import {
  MIObjective, partitionRestarts, partitionRng, planPartitions, plantedLabels, searchSubset, selectPartition, type SelectionParams,
} from '../../../src/curation/selection/index.js';
import { AUTO_RESTART_MAX_CLIPS, AUTO_RESTARTS } from '../../../src/curation/selection/partitions.js';
import { parseConfig } from '../../../src/config/load.js';

function planted(seed: number) {
  const p = plantedLabels({ n: 600, k: 10, concepts: 10, noise: 0.3, seed });
  const matrix = { labels: p.labels, n: p.n, d: p.d, ks: Int32Array.from(p.clusterings, (c) => c.k) };
  const pairs: number[] = [];
  for (let i = 0; i < 5; i++) for (let j = 5; j < 10; j++) pairs.push(i, j);
  return { matrix, pairs };
}

function params(pairs: number[], seed: number, restarts: SelectionParams['restarts']): SelectionParams {
  return { algorithm: 'batch-greedy', pairs, estimator: 'miller-madow', ratio: 0.5, batchSize: 20, batchPick: 4, epsilon: 0.1, refine: { enabled: true }, order: 'greedy', seed, overselect: 0, restarts };
}

describe('selection restarts', () => {
  it('keeps the best of independent searches; one search is the partition stream of before', () => {
    let improved = 0;
    for (let seed = 0; seed < 8; seed++) {
      const { matrix, pairs } = planted(seed);
      const part = planPartitions(matrix.n, { count: 1, ratio: 0.5 })[0];
      const single = selectPartition(matrix, params(pairs, seed, 1), part);
      const three = selectPartition(matrix, params(pairs, seed, 3), part);
      expect(single.restarts).toBeUndefined();
      // Each restart is searchSubset on its own derived stream; restart 0 is the single search.
      const runs = [0, 1, 2].map((r) =>
        searchSubset(new MIObjective(matrix, pairs, { estimator: 'miller-madow' }), {
          algorithm: 'batch-greedy', target: part.target, batchSize: 20, batchPick: 4, epsilon: 0.1, refine: { enabled: true }, order: 'greedy', overselect: 0, rng: partitionRng(seed, 0, r),
        }),
      );
      expect(Array.from(single.order)).toEqual(Array.from(runs[0].order));
      expect(single.objective).toBe(runs[0].objective);
      expect(three.restarts!.objectives).toEqual(runs.map((r) => r.objective));
      const best = Math.max(...runs.map((r) => r.objective));
      const kept = runs.findIndex((r) => r.objective === best);
      expect(three.restarts!.kept).toBe(kept);
      expect(three.objective).toBe(best);
      expect(Array.from(three.order)).toEqual(Array.from(runs[kept].order));
      expect(three.objective).toBeGreaterThanOrEqual(single.objective);
      if (three.objective > single.objective) improved++;
    }
    // On these planted pools another start beats the first one more often than not.
    expect(improved).toBeGreaterThan(0);
  });

  it('auto: several searches for small partitions, one for large ones and for random', () => {
    expect(parseConfig({ name: 'r' }).selection.restarts).toBe('auto');
    expect(partitionRestarts({ algorithm: 'batch-greedy', restarts: 'auto' }, 800)).toBe(AUTO_RESTARTS);
    expect(partitionRestarts({ algorithm: 'batch-greedy', restarts: 'auto' }, AUTO_RESTART_MAX_CLIPS)).toBe(AUTO_RESTARTS);
    expect(partitionRestarts({ algorithm: 'batch-greedy', restarts: 'auto' }, AUTO_RESTART_MAX_CLIPS + 1)).toBe(1);
    expect(partitionRestarts({ algorithm: 'greedy', restarts: 5 }, 10_000_000)).toBe(5);
    expect(partitionRestarts({ algorithm: 'random', restarts: 5 }, 100)).toBe(1);
    expect(() => parseConfig({ name: 'r', selection: { restarts: 0 } })).toThrow(/restarts/);
  });
});
