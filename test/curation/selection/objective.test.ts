import { describe, expect, it } from 'vitest';
import { Rng } from '../../../src/runtime/random.js';
import {
  MIObjective,
  SelectionInputError,
  incrementTable,
  resolvePairs,
  xlogx,
  type Estimator,
  type LabelMatrix,
} from '../../../src/curation/selection/index.js';
import { objectiveFromScratch, randomMatrix } from './helpers.js';


const meta = (ks: number[], audio: number) => ks.map((k, i) => ({ modality: i < audio ? 'audio' : 'visual', layer: `l${i}`, k }));

describe('MI objective', () => {
  const ks = [3, 5, 4, 7, 2, 6];
  const m = randomMatrix(300, ks, 7);
  const clusterings = meta(ks, 3);

  for (const estimator of ['plugin', 'miller-madow'] as Estimator[]) {
    for (const pairing of ['bipartite', 'combination', 'diagonal'] as const) {
      it(`incremental F equals a from-scratch computation (${estimator}, ${pairing}) through adds, removes and swaps`, () => {
        const pairs = resolvePairs(clusterings, pairing);
        const obj = new MIObjective(m, pairs, { estimator });
        const rng = new Rng(3);
        const order = rng.permutation(m.n);
        const members: number[] = [];
        for (let s = 0; s < 150; s++) {
          const x = order[s];
          const predicted = obj.valueAfterAdd(x);
          obj.add(x);
          members.push(x);
          const exact = objectiveFromScratch(m, pairs, members, estimator);
          expect(Math.abs(predicted - exact)).toBeLessThan(1e-9);
          expect(Math.abs(obj.value() - exact)).toBeLessThan(1e-9);
        }
        // Removals and swaps.
        for (let t = 0; t < 60; t++) {
          const a = rng.int(members.length);
          const out = members[a];
          const inn = order[150 + t];
          const predictedSwap = obj.valueAfterSwap(out, inn);
          const predictedRemove = obj.valueAfterRemove(out);
          const without = members.filter((_, i) => i !== a);
          expect(Math.abs(predictedRemove - objectiveFromScratch(m, pairs, without, estimator))).toBeLessThan(1e-9);
          obj.remove(out);
          obj.add(inn);
          members[a] = inn;
          const exact = objectiveFromScratch(m, pairs, members, estimator);
          expect(Math.abs(predictedSwap - exact)).toBeLessThan(1e-9);
          expect(Math.abs(obj.value() - exact)).toBeLessThan(1e-9);
        }
        // Recomputing the summed term from the integer tables agrees with the running value.
        const running = obj.value();
        obj.resync();
        expect(Math.abs(obj.value() - running)).toBeLessThan(1e-12);
        expect(Math.abs(obj.value() - objectiveFromScratch(m, pairs, members, estimator))).toBeLessThan(1e-12);
      });
    }
  }

  it('compiled and generic kernels give bit-identical scores, tables and selections', () => {
    const pairs = resolvePairs(clusterings, 'combination');
    const a = new MIObjective(m, pairs, { compile: true });
    const b = new MIObjective(m, pairs, { compile: false });
    expect(a.kernels.compiled).toBe(true);
    expect(b.kernels.compiled).toBe(false);
    const order = new Rng(5).permutation(m.n);
    for (let s = 0; s < 200; s++) {
      const x = order[s];
      expect(a.gainScore(x)).toBe(b.gainScore(x));
      a.add(x);
      b.add(x);
      if (s > 10) {
        const out = order[s - 5];
        const inn = order[s + 1];
        expect(a.swapDelta(out, inn)).toBe(b.swapDelta(out, inn));
        expect(a.removalDelta(out)).toBe(b.removalDelta(out));
      }
    }
    expect(a.value()).toBe(b.value());
    expect(a.resync()).toBe(b.resync());
  });

  it('fused add/remove kernels return the bits of gain/removal and leave the tables of gain+update, compiled and generic', () => {
    const pairs = resolvePairs(clusterings, 'combination');
    for (const compile of [true, false]) {
      const fused = new MIObjective(m, pairs, { compile });
      const split = new MIObjective(m, pairs, { compile });
      const order = new Rng(9).permutation(m.n);
      for (let s = 0; s < 150; s++) {
        const x = order[s];
        const want = split.kernels.gain(x);
        split.kernels.update(x, 1);
        expect(fused.kernels.add(x)).toBe(want);
        if (s % 7 === 6) {
          const y = order[s - 3];
          const w = split.kernels.removal(y);
          split.kernels.update(y, -1);
          expect(fused.kernels.remove(y)).toBe(w);
          split.kernels.update(y, 1);
          fused.kernels.add(y);
        }
        // The same tables: every candidate scores the same.
        expect(fused.kernels.gain(order[s + 1])).toBe(split.kernels.gain(order[s + 1]));
      }
    }
  });

  it('objectives of one pair structure share compiled kernels but never their tables', () => {
    const pairs = resolvePairs(clusterings, 'bipartite');
    const a = new MIObjective(m, pairs);
    const b = new MIObjective(m, pairs);
    const order = new Rng(4).permutation(m.n);
    for (let s = 0; s < 100; s++) a.add(order[s]);
    expect(b.size).toBe(0);
    expect(b.resync()).toBe(0);
    expect(b.gainScore(order[0])).toBe(new MIObjective(m, pairs).gainScore(order[0]));
    expect(a.value()).toBeCloseTo(objectiveFromScratch(m, pairs, Array.from(order.subarray(0, 100))), 10);
  });

  it('the shared increment table grows for a larger pool after a smaller one', () => {
    const pairs = resolvePairs(clusterings, 'bipartite');
    const small = randomMatrix(12, ks, 3);
    const s1 = new MIObjective(small, pairs);
    for (let x = 0; x < small.n; x++) s1.add(x);
    // One concentrated pool of 3000 clips (two label rows), so that counts reach the thousands.
    const n = 3000;
    const labels = new Int32Array(n * ks.length);
    for (let x = 0; x < n; x++) for (let c = 0; c < ks.length; c++) labels[x * ks.length + c] = x % 2 === 0 ? 0 : 1;
    const big = { labels, n, d: ks.length, ks };
    for (const estimator of ['plugin', 'miller-madow'] as const) {
      const o = new MIObjective(big, pairs, { estimator });
      const all = Array.from({ length: n }, (_, x) => x);
      for (const x of all) o.add(x);
      expect(Number.isFinite(o.value())).toBe(true);
      expect(o.value()).toBeCloseTo(objectiveFromScratch(big, pairs, all, estimator), 9);
      expect(s1.value()).toBeCloseTo(objectiveFromScratch(small, pairs, Array.from({ length: small.n }, (_, x) => x)), 9);
    }
  });

  it('valuesAfterRemove equals valueAfterRemove bit for bit', () => {
    const pairs = resolvePairs(clusterings, 'bipartite');
    for (const estimator of ['plugin', 'miller-madow'] as const) {
      const o = new MIObjective(m, pairs, { estimator });
      const members = Int32Array.from(new Rng(2).permutation(m.n).subarray(0, 120));
      for (const x of members) o.add(x);
      const got = o.valuesAfterRemove(members, new Float64Array(members.length));
      members.forEach((x, s) => expect(got[s]).toBe(o.valueAfterRemove(x)));
    }
  });

  it('explicit pairs, unequal k, and a swap between clips sharing cells', () => {
    const labels = Int32Array.from([0, 0, 1, 0, 0, 1, 1, 1, 0, 1, 2, 0, 1, 1, 1]); // 5 clips x 3
    const mat: LabelMatrix = { labels, n: 5, d: 3, ks: [2, 3, 2] };
    const pairs = resolvePairs(meta([2, 3, 2], 1), [[0, 1], ['visual/l2', 0]]);
    expect(Array.from(pairs)).toEqual([0, 1, 2, 0]);
    for (const estimator of ['plugin', 'miller-madow'] as Estimator[]) {
      const obj = new MIObjective(mat, pairs, { estimator });
      obj.add(0);
      obj.add(2);
      obj.add(3);
      // Clips 0 and 1 share labels in clusterings 0 and 1: the swap must account for the shared cell.
      const predicted = obj.valueAfterSwap(0, 1);
      obj.remove(0);
      obj.add(1);
      expect(Math.abs(predicted - objectiveFromScratch(mat, pairs, [1, 2, 3], estimator))).toBeLessThan(1e-12);
    }
  });

  it('plug-in MI matches the textbook value on a perfectly dependent pair and Miller–Madow subtracts (K_uv − K_u − K_v + 1)/2n', () => {
    // 4 clips, two clusterings with identical labels 0,1,2,3 → MI = ln 4; K_uv = 4, K_u = K_v = 4 → correction −3/8.
    const mat: LabelMatrix = { labels: Int32Array.from([0, 0, 1, 1, 2, 2, 3, 3]), n: 4, d: 2, ks: [4, 4] };
    const plug = new MIObjective(mat, [0, 1], { estimator: 'plugin' });
    const mm = new MIObjective(mat, [0, 1], { estimator: 'miller-madow' });
    for (let x = 0; x < 4; x++) {
      plug.add(x);
      mm.add(x);
    }
    expect(plug.value()).toBeCloseTo(Math.log(4), 12);
    expect(mm.value()).toBeCloseTo(Math.log(4) - (4 - 4 - 4 + 1) / 8, 12);
    // Independent labels → plug-in MI 0.
    const ind: LabelMatrix = { labels: Int32Array.from([0, 0, 0, 1, 1, 0, 1, 1]), n: 4, d: 2, ks: [2, 2] };
    const o = new MIObjective(ind, [0, 1], { estimator: 'plugin' });
    for (let x = 0; x < 4; x++) o.add(x);
    expect(Math.abs(o.value())).toBeLessThan(1e-15);
  });

  it('tabulated increments are accurate at large counts', () => {
    const t = incrementTable(2_000_000, 'plugin');
    for (const c of [1, 2, 10, 12345, 1_999_999]) {
      const exact = xlogx(c + 1) - xlogx(c);
      expect(Math.abs(t[c] - exact)).toBeLessThan(1e-8 * Math.max(1, exact));
    }
    expect(incrementTable(10, 'miller-madow')[0]).toBe(-0.5);
  });

  it('labels out of range, bad shapes and bad pairs give clear errors', () => {
    const bad: LabelMatrix = { labels: Int32Array.from([0, 1, 0, 5]), n: 2, d: 2, ks: [2, 3] };
    expect(() => new MIObjective(bad, [0, 1])).toThrow(/label 5 of clip 1 in clustering 1 is out of range 0\.\.2/);
    const neg: LabelMatrix = { labels: Int32Array.from([0, -1, 0, 1]), n: 2, d: 2, ks: [2, 3] };
    expect(() => new MIObjective(neg, [0, 1])).toThrow(SelectionInputError);
    const shape: LabelMatrix = { labels: new Int32Array(5), n: 2, d: 2, ks: [2, 3] };
    expect(() => new MIObjective(shape, [0, 1])).toThrow(/5 entries, expected 2 clips x 2 clusterings/);
    const ok: LabelMatrix = { labels: new Int32Array(4), n: 2, d: 2, ks: [2, 3] };
    expect(() => new MIObjective(ok, [0, 2])).toThrow(/outside 0\.\.1/);
    expect(() => new MIObjective(ok, [1, 1])).toThrow(/with itself/);
    expect(() => new MIObjective(ok, [])).toThrow(/at least one clustering pair/);
    expect(() => new MIObjective({ ...ok, ks: [0, 3] }, [0, 1])).toThrow(/k = 0/);
  });
});

describe('pairing modes', () => {
  const c = [
    { modality: 'audio', layer: 'a1', k: 8 },
    { modality: 'audio', layer: 'a2', k: 8 },
    { modality: 'visual', layer: 'v1', k: 8 },
    { modality: 'visual', layer: 'v2', k: 16 },
    { modality: 'visual', layer: 'v3', k: 8 },
  ];
  it('bipartite, combination, diagonal', () => {
    expect(Array.from(resolvePairs(c, 'bipartite'))).toEqual([0, 2, 0, 3, 0, 4, 1, 2, 1, 3, 1, 4]);
    expect(resolvePairs(c, 'combination').length / 2).toBe(10);
    expect(Array.from(resolvePairs(c, 'diagonal'))).toEqual([0, 2, 1, 3]);
  });
  it('explicit pairs by index and by name; errors name the problem', () => {
    expect(Array.from(resolvePairs(c, [['audio/a1', 'visual/v2/k16'], [1, 4]]))).toEqual([0, 3, 1, 4]);
    expect(() => resolvePairs(c, [['audio/zz', 2]])).toThrow(/names no clustering; known: audio\/a1\/k8/);
    expect(() => resolvePairs(c, [[0, 2], [2, 0]])).toThrow(/listed twice/);
    expect(() => resolvePairs(c.slice(0, 2), 'bipartite')).toThrow(/needs at least one audio and one visual/);
  });
});
