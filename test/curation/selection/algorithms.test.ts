import { describe, expect, it } from 'vitest';
import { Rng } from '../../../src/runtime/random.js';
import {
  MIObjective,
  SelectionInputError,
  plantedLabels,
  precisionOf,
  refineSwaps,
  resolvePairs,
  searchSubset,
  selectFromLabels,
  targetSize,
  type Estimator,
  type LabelMatrix,
} from '../../../src/curation/selection/index.js';
import { objectiveFromScratch, randomMatrix } from './helpers.js';

const pairsOf = (d: number, audio: number) =>
  resolvePairs(Array.from({ length: d }, (_, i) => ({ modality: i < audio ? 'audio' : 'visual', layer: `l${i}`, k: 2 })), 'bipartite');

describe('greedy family', () => {
  for (const estimator of ['plugin', 'miller-madow'] as Estimator[]) {
    it(`greedy's choice at every step equals the brute-force argmax of F(S + x) (${estimator})`, () => {
      const m = randomMatrix(40, [3, 4, 3, 5], 11);
      const pairs = pairsOf(4, 2);
      const obj = new MIObjective(m, pairs, { estimator });
      const r = searchSubset(obj, { algorithm: 'greedy', target: 15, rng: new Rng(1), refine: false, order: 'pick' });
      const chosen: number[] = [];
      for (let s = 0; s < 15; s++) {
        let best = -Infinity;
        for (let x = 0; x < m.n; x++) {
          if (chosen.includes(x)) continue;
          best = Math.max(best, objectiveFromScratch(m, pairs, [...chosen, x], estimator));
        }
        const pick = r.pick.order[s];
        expect(chosen).not.toContain(pick);
        chosen.push(pick);
        // The chosen clip achieves the brute-force maximum (ties may pick any maximiser).
        expect(Math.abs(objectiveFromScratch(m, pairs, chosen, estimator) - best)).toBeLessThan(1e-9);
        // The recorded gain and running objective are the true ones.
        expect(Math.abs(r.pick.objectives[s] - best)).toBeLessThan(1e-9);
        const prev = s === 0 ? 0 : objectiveFromScratch(m, pairs, chosen.slice(0, -1), estimator);
        expect(Math.abs(r.pick.gains[s] - (best - prev))).toBeLessThan(1e-9);
      }
    });
  }

  it('batch greedy with B = pool size and k = 1 equals greedy', () => {
    const m = randomMatrix(120, [4, 6, 5, 3, 4], 5);
    const pairs = pairsOf(5, 2);
    const greedy = searchSubset(new MIObjective(m, pairs), { algorithm: 'greedy', target: 50, rng: new Rng(1), refine: false, order: 'pick' });
    const batch = searchSubset(new MIObjective(m, pairs), {
      algorithm: 'batch-greedy', target: 50, batchSize: 120, batchPick: 1, rng: new Rng(99), refine: false, order: 'pick',
    });
    expect(Array.from(batch.order)).toEqual(Array.from(greedy.order));
    expect(batch.objective).toBe(greedy.objective);
  });

  it('same seed, same selection; another seed, another draw', () => {
    const p = plantedLabels({ n: 600, k: 8, concepts: 6, seed: 3 });
    const pairs = resolvePairs(p.clusterings, 'bipartite');
    for (const algorithm of ['batch-greedy', 'stochastic-greedy', 'random'] as const) {
      const run = (seed: number) => selectFromLabels(p, { pairs, algorithm, ratio: 0.3, rng: new Rng(seed) });
      const a = run(4);
      const b = run(4);
      const c = run(5);
      expect(Array.from(a.order)).toEqual(Array.from(b.order));
      expect(a.gains).toEqual(b.gains);
      expect(Array.from(a.pick.order)).not.toEqual(Array.from(c.pick.order));
      expect(a.order.length).toBe(180);
      expect(new Set(a.order).size).toBe(180);
    }
  });

  it('stops at a ratio or an absolute size; records gains that add up to the objective', () => {
    expect(targetSize(1000, { ratio: 0.2 })).toBe(200);
    expect(targetSize(1000, { size: 37, ratio: 0.9 })).toBe(37);
    expect(targetSize(10, { size: 50 })).toBe(10);
    const p = plantedLabels({ n: 300, k: 8, seed: 1 });
    const r = selectFromLabels(p, { pairs: resolvePairs(p.clusterings, 'bipartite'), size: 77, rng: new Rng(2) });
    expect(r.order.length).toBe(77);
    const total = r.gains.reduce((a, b) => a + b, 0);
    expect(Math.abs(total - r.objective)).toBeLessThan(1e-9);
    expect(Math.abs(r.objective - objectiveFromScratch(p, resolvePairs(p.clusterings, 'bipartite'), r.order))).toBeLessThan(1e-9);
    for (let s = 0; s < 77; s++) expect(r.objectives[s]).toBeCloseTo(r.gains.slice(0, s + 1).reduce((a, b) => a + b, 0), 9);
  });

  it('refinement never lowers the objective and keeps the subset size; the final order is by leave-one-out contribution', () => {
    const p = plantedLabels({ n: 800, k: 8, concepts: 8, noise: 0.1, seed: 9 });
    const pairs = resolvePairs(p.clusterings, 'bipartite');
    const obj = new MIObjective(p, pairs);
    const r = searchSubset(obj, { algorithm: 'batch-greedy', target: 400, rng: new Rng(1), order: 'loo' });
    expect(r.refine).not.toBeNull();
    expect(r.refine!.objectiveAfter).toBeGreaterThanOrEqual(r.refine!.objectiveBefore);
    expect(r.refine!.accepted).toBeGreaterThan(0);
    expect(new Set(r.order).size).toBe(400);
    for (let s = 1; s < 400; s++) expect(r.contributions[s]).toBeLessThanOrEqual(r.contributions[s - 1]);
    // The contributions are the true F(S) − F(S − x).
    const full = objectiveFromScratch(p, pairs, r.order);
    for (const s of [0, 199, 399]) {
      const without = Array.from(r.order).filter((_, i) => i !== s);
      expect(Math.abs(r.contributions[s] - (full - objectiveFromScratch(p, pairs, without)))).toBeLessThan(1e-9);
    }
    // On this planted pool the refined subset finds the corresponding clips.
    expect(precisionOf(r.order, p.truth)).toBeGreaterThanOrEqual(0.95);
    expect(precisionOf(r.order, p.truth, 160)).toBeGreaterThanOrEqual(0.98);
  });

  it('the greedy order re-ranks the subset from the empty set: each rank is the arg-max of prefix gain plus leave-one-out contribution', () => {
    const p = plantedLabels({ n: 600, k: 16, concepts: 8, noise: 0.15, seed: 4 });
    const pairs = resolvePairs(p.clusterings, 'bipartite');
    const r = searchSubset(new MIObjective(p, pairs), { target: 300, rng: new Rng(2) });
    const loo = searchSubset(new MIObjective(p, pairs), { target: 300, rng: new Rng(2), order: 'loo' });
    // The same subset, another order.
    expect(Array.from(r.order).sort((a, b) => a - b)).toEqual(Array.from(loo.order).sort((a, b) => a - b));
    // Each rank's clip has the highest (r + 1)·(F(R + x) − F(R)) + |S|·(F(S) − F(S − x)) among the
    // clips not yet ranked (checked from scratch).
    const all = Array.from(r.order);
    const fS = objectiveFromScratch(p, pairs, all);
    const looOf = new Map(all.map((x) => [x, fS - objectiveFromScratch(p, pairs, all.filter((y) => y !== x))]));
    for (const rank of [1, 2, 7, 40, 150]) {
      const prefix = all.slice(0, rank);
      const fR = objectiveFromScratch(p, pairs, prefix);
      const score = (x: number) => (rank + 1) * (objectiveFromScratch(p, pairs, [...prefix, x]) - fR) + 300 * looOf.get(x)!;
      const chosen = score(all[rank]);
      for (const x of all.slice(rank + 1)) expect(score(x)).toBeLessThanOrEqual(chosen + 1e-9);
    }
    // The objective column is F of each prefix, positive from the second row, and the head covers
    // every concept (the leave-one-out order puts one concept's clips first).
    expect(r.objectives[1]).toBeGreaterThan(0.5);
    expect(r.objectives[7]).toBeGreaterThan(Math.log(8) - 0.2);
    expect(Math.abs(r.objectives[40] - objectiveFromScratch(p, pairs, r.order.slice(0, 41)))).toBeLessThan(1e-9);
    const concepts = (order: Int32Array, m: number) => new Set(Array.from(order.slice(0, m)).map((x) => p.visualConcept[x])).size;
    expect(concepts(r.order, 16)).toBe(8);
    expect(concepts(loo.order, 16)).toBeLessThan(8);
    // Precision of the head is at least that of the leave-one-out order.
    for (const m of [30, 60, 120]) expect(precisionOf(r.order, p.truth, m)).toBeGreaterThanOrEqual(precisionOf(loo.order, p.truth, m));
  });

  it('the greedy order samples candidates beyond its budget, deterministically', () => {
    const p = plantedLabels({ n: 2000, k: 16, concepts: 8, noise: 0.15, seed: 5 });
    const pairs = resolvePairs(p.clusterings, 'bipartite');
    const run = () => searchSubset(new MIObjective(p, pairs), { target: 1000, rng: new Rng(3), orderBudget: 50_000, refine: { maxEvaluations: 20_000 } });
    const a = run();
    const b = run();
    expect(Array.from(a.order)).toEqual(Array.from(b.order));
    expect(new Set(a.order).size).toBe(1000);
    expect(new Set(Array.from(a.order.slice(0, 24)).map((x) => p.visualConcept[x])).size).toBe(8);
    expect(precisionOf(a.order, p.truth, 200)).toBeGreaterThanOrEqual(0.97);
  });

  it('overselect: a small target is the head of the ranking of a larger selection', () => {
    const p = plantedLabels({ n: 800, k: 8, concepts: 8, noise: 0.15, seed: 12 });
    const pairs = resolvePairs(p.clusterings, 'bipartite');
    const big = searchSubset(new MIObjective(p, pairs), { target: 400, rng: new Rng(4) });
    const small = searchSubset(new MIObjective(p, pairs), { target: 40, overselect: 0.5, rng: new Rng(4) });
    expect(Array.from(small.order)).toEqual(Array.from(big.order.slice(0, 40)));
    expect(small.objective).toBeCloseTo(objectiveFromScratch(p, pairs, small.order), 9);
    expect(small.objectives).toHaveLength(40);
    expect(new Set(Array.from(small.order).map((x) => p.visualConcept[x])).size).toBe(8);
    // A target above the overselect fraction is selected directly.
    const direct = searchSubset(new MIObjective(p, pairs), { target: 400, overselect: 0.3, rng: new Rng(4) });
    expect(Array.from(direct.order)).toEqual(Array.from(big.order));
    expect(() => searchSubset(new MIObjective(p, pairs), { target: 40, overselect: 2, rng: new Rng(4) })).toThrow(/overselect/);
  });

  it('refinement on its own climbs from a random subset', () => {
    const p = plantedLabels({ n: 400, k: 8, seed: 2 });
    const pairs = resolvePairs(p.clusterings, 'bipartite');
    const obj = new MIObjective(p, pairs);
    const start = new Rng(1).permutation(400).slice(0, 200);
    for (const x of start) obj.add(x);
    const before = precisionOf(Int32Array.from(start), p.truth);
    const { selected, stats } = refineSwaps(obj, Int32Array.from(start), new Rng(2), { patience: 20_000 });
    expect(stats.objectiveAfter).toBeGreaterThan(stats.objectiveBefore + 0.1);
    expect(Math.abs(stats.objectiveAfter - objectiveFromScratch(p, pairs, selected))).toBeLessThan(1e-9);
    expect(precisionOf(selected, p.truth)).toBeGreaterThan(before + 0.3);
    expect(stats.stoppedBy).toBe('patience');
  });

  it('empty and single-clip pools, and impossible sizes, give clear errors', () => {
    const empty: LabelMatrix = { labels: new Int32Array(0), n: 0, d: 2, ks: [2, 2] };
    expect(() => selectFromLabels(empty, { pairs: [0, 1], rng: new Rng(1) })).toThrow(/pool is empty/);
    const one: LabelMatrix = { labels: new Int32Array(2), n: 1, d: 2, ks: [2, 2] };
    expect(() => selectFromLabels(one, { pairs: [0, 1], ratio: 0.5, rng: new Rng(1) })).toThrow(/single clip/);
    expect(() => targetSize(10, {})).toThrow(/size\) or a fraction/);
    const m = randomMatrix(10, [2, 2], 1);
    expect(() => searchSubset(new MIObjective(m, [0, 1]), { target: 11, rng: new Rng(1) })).toThrow(SelectionInputError);
    expect(() => searchSubset(new MIObjective(m, [0, 1]), { target: 3, batchSize: 2, batchPick: 3, rng: new Rng(1) })).toThrow(/batch pick k/);
  });
});
