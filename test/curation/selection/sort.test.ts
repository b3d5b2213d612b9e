import { describe, expect, it } from 'vitest';
import { argsortDescending } from '../../../src/curation/selection/sort.js';
import { Rng } from '../../../src/runtime/random.js';

describe('argsortDescending (radix sort on float bits)', () => {
  it('orders like a stable comparator sort, highest first, over signs, zeros, ties and extremes', () => {
    const rng = new Rng(3);
    const keys = new Float64Array(5000);
    const pool = [0, -0, 1, -1, 1e-300, -1e-300, Number.MAX_VALUE, -Number.MAX_VALUE, Infinity, -Infinity, 0.5, 2.25];
    for (let i = 0; i < keys.length; i++) keys[i] = rng.next() < 0.3 ? pool[rng.int(pool.length)] : (rng.next() - 0.5) * 10 ** (rng.int(20) - 10);
    const got = Array.from(argsortDescending(keys));
    const want = Array.from(keys.keys()).sort((a, b) => keys[b] - keys[a] || a - b);
    expect(got).toEqual(want);
  });

  it('orders keys that agree in their top 32 bits by the rest, stably (short and long runs)', () => {
    const rng = new Rng(5);
    // 1 + j·2⁻⁴⁰: every key has the same high half; a few hundred distinct values, many repeats.
    const keys = new Float64Array(4000);
    for (let i = 0; i < keys.length; i++) keys[i] = rng.next() < 0.5 ? 1 + rng.int(300) * 2 ** -40 : rng.int(7) * 2 ** -30 - 1e-9 * rng.int(3);
    const got = Array.from(argsortDescending(keys));
    const want = Array.from(keys.keys()).sort((a, b) => keys[b] - keys[a] || a - b);
    expect(got).toEqual(want);
    // Short runs: pairs of keys that differ only in their last bits.
    const short = Float64Array.from({ length: 200 }, (_, i) => 0.25 + Math.floor(i / 4) * 2 ** -10 + (i % 4) * 2 ** -50);
    const wantShort = Array.from(short.keys()).sort((a, b) => short[b] - short[a] || a - b);
    expect(Array.from(argsortDescending(short))).toEqual(wantShort);
  });

  it('puts NaN last in position order and handles empty and single inputs', () => {
    expect(Array.from(argsortDescending(Float64Array.from([NaN, 1, NaN, 3, -2])))).toEqual([3, 1, 4, 0, 2]);
    expect(argsortDescending(new Float64Array(0)).length).toBe(0);
    expect(Array.from(argsortDescending(Float64Array.of(7)))).toEqual([0]);
  });
});
