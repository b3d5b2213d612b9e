import { describe, expect, it } from 'vitest';
import { Rng } from '../../../src/runtime/random.js';
import { MIObjective, plantedLabels, precisionOf, resolvePairs, searchSubset, type PlantedLabels } from '../../../src/curation/selection/index.js';
import { continueSelection, growLazyGreedy } from '../../../src/curation/incremental/continue.js';
import { objectiveFromScratch } from '../selection/helpers.js';

function slice(p: PlantedLabels, n: number): PlantedLabels {
  return { ...p, labels: p.labels.subarray(0, n * p.d), n, truth: p.truth.subarray(0, n) };
}
const flags = (n0: number, n: number) => {
  const f = new Uint8Array(n);
  f.fill(1, n0);
  return f;
};

describe('continuing a selection over an enlarged pool', () => {
  const n0 = 6000;
  const n = 6600;
  const all = plantedLabels({ n, audio: 3, visual: 3, k: 16, concepts: 16, noise: 0.2, seed: 4 });
  const pairs = resolvePairs(all.clusterings, 'bipartite');
  const opts = { pairs, estimator: 'miller-madow' as const, ratio: 0.2, batchSize: 20, batchPick: 4, order: 'loo' as const };
  const before = searchSubset(new MIObjective(slice(all, n0), pairs), { target: 0.2 * n0, rng: new Rng(1), refine: true, order: 'loo' });

  it('reaches the objective and precision of a full rerun, and reports what changed', () => {
    const full = searchSubset(new MIObjective(all, pairs), { target: 0.2 * n, rng: new Rng(1), refine: true, order: 'loo' });
    const inc = continueSelection(all, before.order, flags(n0, n), { ...opts, rng: new Rng(2) });
    expect(inc.order.length).toBe(0.2 * n);
    expect(new Set(inc.order).size).toBe(inc.order.length);
    // The reported objective is the objective of the subset, computed independently.
    expect(inc.objective).toBeCloseTo(objectiveFromScratch(all, pairs, inc.order), 9);
    expect(Math.abs(inc.objective - full.objective) / full.objective).toBeLessThan(0.01);
    expect(Math.abs(precisionOf(inc.order, all.truth) - precisionOf(full.order, all.truth))).toBeLessThanOrEqual(0.01);
    expect(inc.grown).toBe(0.2 * n - 0.2 * n0);
    expect(inc.objectiveStart).toBeCloseTo(objectiveFromScratch(all, pairs, before.order), 9);
    const inSel = new Set(inc.order);
    expect(inc.left).toBe(Array.from(before.order).filter((x) => !inSel.has(x)).length);
    // The objective column is F of each prefix.
    expect(inc.objectives[9]).toBeCloseTo(objectiveFromScratch(all, pairs, inc.order.subarray(0, 10)), 9);
    // New clips entered (they were never looked at before).
    expect(Array.from(inc.order).filter((x) => x >= n0).length).toBeGreaterThan(0);
    // Deterministic for a seed.
    const again = continueSelection(all, before.order, flags(n0, n), { ...opts, rng: new Rng(2) });
    expect(Array.from(again.order)).toEqual(Array.from(inc.order));
  });

  it('greedy order by merge: the clips that stay keep the previous ranking, the entered ones are merged in, and every prefix F is true', () => {
    const prev = searchSubset(new MIObjective(slice(all, n0), pairs), { target: 0.2 * n0, rng: new Rng(1), refine: true, order: 'greedy' });
    const merged = continueSelection(all, prev.order, flags(n0, n), { ...opts, order: 'greedy', reorder: 'merge', rng: new Rng(2) });
    const full = continueSelection(all, prev.order, flags(n0, n), { ...opts, order: 'greedy', reorder: 'full', rng: new Rng(2) });
    // The same set either way (the order comes after the search).
    expect(new Set(merged.order)).toEqual(new Set(full.order));
    // Clips of the previous ranking that stay are in their previous relative order.
    const prevRank = new Map(Array.from(prev.order, (x, r) => [x, r]));
    const stay = Array.from(merged.order).filter((x) => prevRank.has(x)).map((x) => prevRank.get(x)!);
    expect(stay.length).toBeGreaterThan(0.8 * prev.order.length);
    expect(stay.every((r, t) => t === 0 || r > stay[t - 1])).toBe(true);
    // The entered clips are spread through the ranking, not appended.
    const firstEntered = Array.from(merged.order).findIndex((x) => !prevRank.has(x));
    expect(firstEntered).toBeLessThan(merged.order.length - (merged.order.length - stay.length));
    // Gains and prefix objectives are those of the returned order.
    for (const m of [10, 200, merged.order.length]) expect(merged.objectives[m - 1]).toBeCloseTo(objectiveFromScratch(all, pairs, merged.order.subarray(0, m)), 9);
    expect(merged.objective).toBeCloseTo(full.objective, 9);
    // The head is as precise as the full re-ordering's (planted: 16 concepts, 50 % corresponding).
    const head = Math.round(0.05 * n);
    expect(precisionOf(merged.order, all.truth, head)).toBeGreaterThanOrEqual(precisionOf(full.order, all.truth, head) - 0.02);
  });

  it('shrinks to a smaller fixed size by dropping the weakest clips', () => {
    const inc = continueSelection(all, before.order, flags(n0, n), { ...opts, size: 1000, refine: false, rng: new Rng(3) });
    expect(inc.order.length).toBe(1000);
    expect(inc.shrunk).toBe(200);
    expect(inc.grown).toBe(0);
    expect(inc.left).toBe(200);
    expect(precisionOf(inc.order, all.truth)).toBeGreaterThanOrEqual(precisionOf(before.order, all.truth) - 0.01);
  });

  it('lazy greedy: the sorted front and the put-back heap choose exactly what one heap over every candidate chooses', () => {
    const start = () => {
      const o = new MIObjective(all, pairs);
      for (const x of before.order.subarray(0, 600)) o.add(x);
      return o;
    };
    // Candidates in a shuffled order (the greedy sorts them), new and old clips alike.
    const cand = Int32Array.from(new Rng(6).permutation(n).filter((x) => !before.order.subarray(0, 600).includes(x)).slice(0, 1500));
    const a = start();
    const b = start();
    const got = growLazyGreedy(a, cand, a.size + 300);
    const want = oneHeapLazyGreedy(b, cand, b.size + 300);
    expect(got.length).toBe(300);
    expect(Array.from(got)).toEqual(Array.from(want));
    expect(a.value()).toBe(b.value());
  });

  it('refuses a start outside the pool or with a clip twice', () => {
    expect(() => continueSelection(all, [1, 2, n + 5], flags(n0, n), { ...opts, rng: new Rng(1) })).toThrow(/outside the pool/);
    expect(() => continueSelection(all, [1, 2, 2], flags(n0, n), { ...opts, rng: new Rng(1) })).toThrow(/twice/);
    expect(() => continueSelection(all, [1], new Uint8Array(3), { ...opts, rng: new Rng(1) })).toThrow(/isNew/);
  });
});

/** The lazy greedy as one max-heap on (score, −clip) over every candidate: the oracle. */
function oneHeapLazyGreedy(obj: MIObjective, idx: Int32Array, target: number): Int32Array {
  const slack = 1e-3;
  const heap = Array.from(idx, (clip) => ({ clip, score: obj.gainScore(clip) }));
  const above = (p: { clip: number; score: number }, q: { clip: number; score: number }) => p.score > q.score || (p.score === q.score && p.clip < q.clip);
  const down = (i: number) => {
    for (;;) {
      const l = 2 * i + 1;
      if (l >= heap.length) return;
      const c = l + 1 < heap.length && above(heap[l + 1], heap[l]) ? l + 1 : l;
      if (!above(heap[c], heap[i])) return;
      [heap[c], heap[i]] = [heap[i], heap[c]];
      i = c;
    }
  };
  for (let i = (heap.length >> 1) - 1; i >= 0; i--) down(i);
  const out: number[] = [];
  let rescored = 0;
  while (obj.size < target && heap.length > 0) {
    if (rescored < 4 * idx.length && heap.length > 1) {
      heap[0].score = obj.gainScore(heap[0].clip);
      rescored++;
      const next = heap.length > 2 && above(heap[2], heap[1]) ? heap[2] : heap[1];
      if (heap[0].score < next.score - slack * Math.abs(next.score)) {
        down(0);
        continue;
      }
    }
    obj.add(heap[0].clip);
    out.push(heap[0].clip);
    heap[0] = heap[heap.length - 1];
    heap.pop();
    down(0);
  }
  return Int32Array.from(out);
}
