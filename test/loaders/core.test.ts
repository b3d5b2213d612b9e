import { describe, expect, it } from 'vitest';
import { fromArray, range, mix, Dataset, type NdArray } from '../../src/loaders/index.js';
import { checkStateContract } from './helpers/state.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('sources and 1:1 stages', () => {
  it('array source: state contract', async () => {
    const { items } = await checkStateContract(fromArray(['a', 'b', 'c', 'd', 'e']));
    expect(items).toEqual(['a', 'b', 'c', 'd', 'e']);
  });

  it('datasets are immutable: transforms return new datasets and carry size', async () => {
    const base = range(10);
    const mapped = base.map((x) => x * 2);
    expect(base).not.toBe(mapped);
    expect(await base.toArray()).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(await mapped.toArray()).toEqual([0, 2, 4, 6, 8, 10, 12, 14, 16, 18]);
    expect(mapped.size).toBe(10);
    expect(base.filter((x) => x > 3).size).toBeNull();
    expect(base.batch(3).size).toBe(4);
    expect(base.batch(3, { dropRemainder: true }).size).toBe(3);
    expect(base.repeat(3).size).toBe(30);
    expect(base.repeat().size).toBe(Infinity);
    expect(base.splitByRank(1, 3, { policy: 'pad' }).size).toBe(4);
  });

  it('map and filter: state contract', async () => {
    await checkStateContract(range(20).map((x, i) => ({ x, i, sq: x * x })));
    const { items } = await checkStateContract(range(30).filter((x) => x % 3 === 0));
    expect(items).toEqual([0, 3, 6, 9, 12, 15, 18, 21, 24, 27]);
  });

  it('map onError skip counts and reports; raise throws naming the item', async () => {
    const ds = fromArray([{ id: 'a' }, { id: 'bad' }, { id: 'c' }]);
    const fn = (x: { id: string }) => {
      if (x.id === 'bad') throw new Error('broken');
      return x.id;
    };
    const it = ds.map(fn).iterator();
    await expect(async () => {
      for (;;) if ((await it.next()).done) break;
    }).rejects.toThrow(/bad: broken/);
    const { map } = await import('../../src/loaders/functions.js');
    const skipping = map(ds, fn, { onError: 'skip', name: 'parse' });
    const it2 = skipping.iterator();
    const out: string[] = [];
    for await (const v of it2) out.push(v);
    expect(out).toEqual(['a', 'c']);
    expect(it2.reports()).toEqual([{ stage: 'parse', skipped: 1, errors: ['bad: broken'] }]);
    await checkStateContract(skipping);
  });

  it('mapParallel keeps input order with out-of-order completion, bounded in flight', async () => {
    let inFlight = 0;
    let maxInFlight = 0;
    const ds = range(40).mapParallel(async (x) => {
      inFlight++;
      maxInFlight = Math.max(maxInFlight, inFlight);
      await sleep((x * 7) % 5);
      inFlight--;
      return x * 10;
    }, { concurrency: 4 });
    const { items } = await checkStateContract(ds);
    expect(items).toEqual(Array.from({ length: 40 }, (_, i) => i * 10));
    expect(maxInFlight).toBeLessThanOrEqual(4);
    expect(maxInFlight).toBeGreaterThan(1);
  });

  it('mapParallel keeps the pool busy behind a slow head item, holding at most 2 × concurrency', async () => {
    let headDone = false;
    const startedBeforeHead: number[] = [];
    let release!: () => void;
    const third = new Promise<void>((r) => (release = r));
    const ds = range(12).mapParallel(async (x) => {
      if (!headDone && x > 0) startedBeforeHead.push(x);
      if (x === 3) release();
      // the head waits until item 3 has started (or 2 s, so a broken pool fails instead of hanging)
      if (x === 0) await Promise.race([third, sleep(2000)]);
      await sleep(x === 0 ? 20 : 1);
      if (x === 0) headDone = true;
      return x;
    }, { concurrency: 2 });
    expect(await ds.toArray()).toEqual(Array.from({ length: 12 }, (_, i) => i));
    // while item 0 runs, items 1..3 run and wait (hold = 4); item 4 waits for item 0 to be taken
    expect(startedBeforeHead).toEqual([1, 2, 3]);
  });

  it('mapParallel onError: skip counts, raise throws, order kept', async () => {
    const fn = async (x: number) => {
      await sleep(x % 3);
      if (x % 5 === 2) throw new Error(`odd item ${x}`);
      return x;
    };
    const ds = range(20).mapParallel(fn, { concurrency: 3, onError: 'skip', name: 'decode' });
    const it = ds.iterator();
    const out: number[] = [];
    for await (const v of it) out.push(v);
    expect(out).toEqual([0, 1, 3, 4, 5, 6, 8, 9, 10, 11, 13, 14, 15, 16, 18, 19]);
    expect(it.reports()[0]).toMatchObject({ stage: 'decode', skipped: 4 });
    await checkStateContract(ds);
    await expect(range(20).mapParallel(fn, { concurrency: 3 }).toArray()).rejects.toThrow(/item 2: odd item 2/);
  });

  it('prefetch: state contract and order', async () => {
    const { items } = await checkStateContract(range(25).map((x) => x + 1).prefetch(3));
    expect(items).toEqual(Array.from({ length: 25 }, (_, i) => i + 1));
  });

  it('batch collates records and ndarrays; state contract', async () => {
    const ds = range(7).map((x): { id: string; v: NdArray } => ({ id: `k${x}`, v: { dtype: 'float32', shape: [2], data: new Float32Array([x, -x]) } }));
    const batches = await ds.batch(3).toArray();
    expect(batches.length).toBe(3);
    expect(batches[0].id).toEqual(['k0', 'k1', 'k2']);
    expect(batches[0].v.shape).toEqual([3, 2]);
    expect(Array.from(batches[0].v.data as Float32Array)).toEqual([0, -0, 1, -1, 2, -2]);
    expect(batches[2].v.shape).toEqual([1, 2]);
    expect((await ds.batch(3, { dropRemainder: true }).toArray()).length).toBe(2);
    await checkStateContract(ds.batch(3), { view: (b) => ({ id: b.id, v: Array.from(b.v.data as Float32Array) }) });
  });

  it('repeat and take: state contract across epochs', async () => {
    const { items } = await checkStateContract(range(4).repeat(3));
    expect(items).toEqual([0, 1, 2, 3, 0, 1, 2, 3, 0, 1, 2, 3]);
    await checkStateContract(range(5).repeat().take(13));
    expect(await range(0).repeat().toArray()).toEqual([]);
  });
});

describe('shuffle', () => {
  it('same seed same order, other seed other order, a permutation of the input', async () => {
    const a = await range(200).shuffle(32, 7).toArray();
    const b = await range(200).shuffle(32, 7).toArray();
    const c = await range(200).shuffle(32, 8).toArray();
    expect(a).toEqual(b);
    expect(a).not.toEqual(c);
    expect([...a].sort((x, y) => x - y)).toEqual(Array.from({ length: 200 }, (_, i) => i));
    expect(a).not.toEqual(Array.from({ length: 200 }, (_, i) => i));
  });

  it('state contract (buffer rebuilt from positions; state stays small)', async () => {
    await checkStateContract(range(120).shuffle(16, 3), { maxStateBytes: 4096 });
    await checkStateContract(range(30).shuffle(64, 3));
    // Shuffle over a stage without cheap skip, over prefetch, and per epoch reshuffled.
    await checkStateContract(range(60).filter((x) => x % 2 === 0).prefetch(2).shuffle(8, 1));
    const epochs = await checkStateContract(range(10).shuffle(4, 5).repeat(3));
    expect(epochs.items.slice(0, 10)).not.toEqual(epochs.items.slice(10, 20));
  });

  it('a shuffle over a shuffle over a parallel map', async () => {
    await checkStateContract(range(80).mapParallel(async (x) => x * 3, { concurrency: 3 }).shuffle(10, 1).shuffle(5, 2).batch(4));
  });
});

describe('splitByRank / splitByWorker', () => {
  for (const n of [0, 1, 5, 12, 13, 17]) {
    for (const world of [1, 2, 3, 4]) {
      it(`n=${n}, world=${world}: disjoint, covering, equal under each policy`, async () => {
        const base = range(n);
        const drop = await Promise.all(Array.from({ length: world }, (_, r) => base.splitByRank(r, world, { policy: 'drop' }).toArray()));
        const pad = await Promise.all(Array.from({ length: world }, (_, r) => base.splitByRank(r, world, { policy: 'pad' }).toArray()));
        const none = await Promise.all(Array.from({ length: world }, (_, r) => base.splitByWorker(r, world).toArray()));
        // drop: equal floor(n/world), disjoint
        for (const part of drop) expect(part.length).toBe(Math.floor(n / world));
        expect(new Set(drop.flat()).size).toBe(drop.flat().length);
        // pad: equal ceil(n/world), covering all n
        for (const part of pad) expect(part.length).toBe(Math.ceil(n / world));
        expect(new Set(pad.flat())).toEqual(new Set(Array.from({ length: n }, (_, i) => i)));
        // pad without the padded tail is disjoint: only the last item of a rank may repeat
        expect(new Set(pad.map((p) => p.slice(0, Math.floor(n / world))).flat()).size).toBe(world * Math.floor(n / world));
        // none: disjoint and covering, counts differ by at most one
        expect(none.flat().sort((a, b) => a - b)).toEqual(Array.from({ length: n }, (_, i) => i));
        const counts = none.map((p) => p.length);
        expect(Math.max(...counts) - Math.min(...counts)).toBeLessThanOrEqual(1);
        // sizes carried forward match
        expect(base.splitByRank(world - 1, world, { policy: 'pad' }).size).toBe(pad[world - 1].length);
      });
    }
  }

  it('state contract for each policy and after a shuffle', async () => {
    await checkStateContract(range(23).splitByRank(2, 4, { policy: 'pad' }));
    await checkStateContract(range(23).splitByRank(3, 4, { policy: 'drop' }));
    await checkStateContract(range(23).shuffle(8, 4).splitByWorker(1, 3));
  });

  it('ranks sharing a seed split one global shuffled order', async () => {
    const global = await range(40).shuffle(10, 9).toArray();
    const parts = await Promise.all([0, 1, 2, 3].map((r) => range(40).shuffle(10, 9).splitByRank(r, 4).toArray()));
    expect(parts[1]).toEqual(global.filter((_, i) => i % 4 === 1));
  });
});

describe('mix', () => {
  it('proportions within 2 % of the weights over 10,000 draws; same seed same order', async () => {
    const weights = [0.5, 0.3, 0.2];
    const sources = ['a', 'b', 'c'].map((tag) => range(100).map((x) => `${tag}${x}`).repeat());
    const draws = await mix(sources, weights, 11).take(10_000).toArray();
    expect(draws.length).toBe(10_000);
    const counts = ['a', 'b', 'c'].map((tag) => draws.filter((d) => d.startsWith(tag)).length / 10_000);
    counts.forEach((c, i) => expect(Math.abs(c - weights[i])).toBeLessThan(0.02));
    // each source keeps its own order
    expect(draws.filter((d) => d.startsWith('b')).slice(0, 5)).toEqual(['b0', 'b1', 'b2', 'b3', 'b4']);
    const again = await mix(sources, weights, 11).take(10_000).toArray();
    expect(again).toEqual(draws);
    const other = await mix(sources, weights, 12).take(200).toArray();
    expect(other).not.toEqual(draws.slice(0, 200));
  });

  it('stop policies and state contract', async () => {
    const a = range(5).map((x) => `a${x}`);
    const b = range(50).map((x) => `b${x}`);
    const first = await mix([a, b], [1, 1], 3).toArray();
    expect(first.filter((x) => x.startsWith('a')).length).toBe(5);
    expect(first.length).toBeLessThan(55);
    const all = await mix([a, b], [1, 1], 3, { stop: 'all' }).toArray();
    expect(all.length).toBe(55);
    await checkStateContract(mix([a.shuffle(3, 1), b], [2, 1], 3, { stop: 'all' }));
  });

  it('rejects bad weights', () => {
    expect(() => mix([range(3)], [1, 2], 0)).toThrow(/weights/);
    expect(() => mix([range(3)], [-1], 0)).toThrow(/non-negative/);
  });
});

describe('Dataset iterator', () => {
  it('refuses a foreign state', () => {
    expect(() => range(3).iterator({ format: 'x' } as never)).toThrow(/not a loader state/);
    const st = range(3).iterator().getState();
    expect(() => range(3).map((x) => x).iterator(st)).toThrow(/state is for "range", not "map"/);
  });

  it('is a plain async iterable', async () => {
    const out: number[] = [];
    for await (const x of range(3) as Dataset<number>) out.push(x);
    expect(out).toEqual([0, 1, 2]);
  });
});
