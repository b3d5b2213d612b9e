import { describe, expect, it } from 'vitest';
import { Rng, hashSeed } from '../../src/runtime/random.js';

describe('Rng', () => {
  it('is deterministic under a seed and differs across seeds', () => {
    const a = new Rng(42);
    const b = new Rng(42);
    const c = new Rng(43);
    const xa = Array.from({ length: 100 }, () => a.nextUint32());
    const xb = Array.from({ length: 100 }, () => b.nextUint32());
    const xc = Array.from({ length: 100 }, () => c.nextUint32());
    expect(xa).toEqual(xb);
    expect(xa).not.toEqual(xc);
  });

  it('draws uniform floats in [0,1) with the right mean and integers without bias', () => {
    const r = new Rng(7);
    let sum = 0;
    const counts = new Array(6).fill(0);
    const n = 60000;
    for (let i = 0; i < n; i++) {
      const x = r.next();
      expect(x).toBeGreaterThanOrEqual(0);
      expect(x).toBeLessThan(1);
      sum += x;
      counts[r.int(6)]++;
    }
    expect(Math.abs(sum / n - 0.5)).toBeLessThan(0.01);
    for (const c of counts) expect(Math.abs(c / n - 1 / 6)).toBeLessThan(0.01);
  });

  it('normal draws have mean 0 and variance 1', () => {
    const r = new Rng(3);
    let s = 0;
    let s2 = 0;
    const n = 50000;
    for (let i = 0; i < n; i++) {
      const z = r.normal();
      s += z;
      s2 += z * z;
    }
    expect(Math.abs(s / n)).toBeLessThan(0.02);
    expect(Math.abs(s2 / n - 1)).toBeLessThan(0.03);
  });

  it('restores state exactly mid-stream', () => {
    const r = new Rng(11);
    for (let i = 0; i < 17; i++) r.normal();
    const state = r.getState();
    const cont = Array.from({ length: 20 }, () => r.normal());
    const r2 = new Rng(999).setState(state);
    expect(Array.from({ length: 20 }, () => r2.normal())).toEqual(cont);
  });

  it('permutation is a permutation', () => {
    const p = new Rng(5).permutation(1000);
    expect(Array.from(p).sort((x, y) => x - y)).toEqual(Array.from({ length: 1000 }, (_, i) => i));
  });

  it('derives independent named sub-seeds', () => {
    expect(hashSeed(1, 'a')).not.toBe(hashSeed(1, 'b'));
    expect(Rng.derive(1, 'x').nextUint32()).toBe(Rng.derive(1, 'x').nextUint32());
  });
});
