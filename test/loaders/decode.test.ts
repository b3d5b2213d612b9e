import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fromManifest, fromSelection, fromArray, type DecodedItem } from '../../src/loaders/index.js';
import { checkStateContract } from './helpers/state.js';
import { makeCorpus, corruptRecord, type Corpus } from './helpers/corpus.js';
import { removeDir, tempDir } from './helpers/fixtures.js';

const dir = tempDir('decode');
let corpus: Corpus;
const spec = { fps: 5, size: [32, 24] as [number, number], seconds: 1, sampleRate: 8000, sampling: 'center' as const, concurrency: 2 };
const view = (d: DecodedItem) => ({ key: d.key, start: d.start, shape: d.frames.shape, sum: d.frames.data.reduce((a, b) => a + b, 0), a: d.audio.data.length });

beforeAll(async () => {
  corpus = await makeCorpus(dir, 6, 3, [await corruptRecord(dir, 'broken-1')]);
}, 60_000);
afterAll(() => removeDir(dir));

describe('sources: manifest and selection', () => {
  it('manifest records with resolved sources; selection joined in rank order', async () => {
    const m = await fromManifest(corpus.manifest);
    expect(m.size).toBe(7);
    const recs = await m.toArray();
    expect(recs[0].source).toBe(corpus.records[0].source);
    const sel = await fromSelection(corpus.selection);
    const rows = await sel.toArray();
    expect(rows.map((r) => r.rank)).toEqual([1, 2, 3, 4, 5, 6, 7]);
    expect(rows[0].id).toBe('clip-00000');
    expect(rows[0].duration).toBeCloseTo(2.5);
    expect(rows[2].gain).toBeCloseTo(0.1 / 3, 4);
    await checkStateContract(sel, { view: (r) => r.id });
  });

  it('refuses a selection id missing from the manifest, naming both files', async () => {
    const { promises: fsp } = await import('node:fs');
    const bad = `${dir}/bad-selection.csv`;
    await fsp.writeFile(bad, 'rank,id,video_id,start,end,gain,objective\n1,nope,v,0,1,0,0\n');
    await expect(fromSelection(bad, { manifest: corpus.manifest })).rejects.toThrow(/bad-selection\.csv: rank 1: clip id "nope" is not in .*manifest\.jsonl/);
  });
});

describe('decode', () => {
  it('fixed shapes, centre window, parallel and in order; a corrupt clip is skipped and reported', async () => {
    const ds = (await fromManifest(corpus.manifest)).decode({ ...spec, sampling: 'center' });
    const it = ds.iterator();
    const out: DecodedItem[] = [];
    for await (const d of it) out.push(d);
    expect(out.map((d) => d.key)).toEqual(corpus.records.slice(0, 6).map((r) => r.id));
    for (const d of out) {
      expect(d.frames.shape).toEqual([5, 24, 32, 3]);
      expect(d.frames.data.length).toBe(5 * 24 * 32 * 3);
      expect(d.audio.shape).toEqual([8000]);
      expect(d.start).toBeCloseTo(0.5 + 0.75);
    }
    // the synthetic pictures are not blank, and the audio is not silent
    expect(out[0].frames.data.some((v) => v > 0)).toBe(true);
    expect(Math.max(...Array.from(out[0].audio.data).map(Math.abs))).toBeGreaterThan(0.01);
    const rep = it.reports().find((r) => r.stage === 'decode')!;
    expect(rep.skipped).toBe(1);
    expect(rep.errors[0]).toMatch(/broken-1/);
  });

  it("onError 'raise' stops at the corrupt clip, naming it", async () => {
    const ds = (await fromManifest(corpus.manifest)).decode({ ...spec, onError: 'raise' });
    await expect(ds.toArray()).rejects.toThrow(/decode: broken-1: .*broken_1\.mp4: .*moov atom not found/);
  });

  it('random windows: per clip and epoch, reproducible; uniform spreads frames over the clip', async () => {
    const recs = (await fromManifest(corpus.manifest)).take(3);
    const a = await recs.decode({ ...spec, sampling: 'random', seed: 1 }).toArray();
    const b = await recs.decode({ ...spec, sampling: 'random', seed: 1 }).toArray();
    const c = await recs.repeat(2).decode({ ...spec, sampling: 'random', seed: 1 }).toArray();
    expect(a.map((d) => d.start)).toEqual(b.map((d) => d.start));
    expect(new Set(a.map((d) => d.start)).size).toBe(3);
    for (const d of a) expect(d.start >= 0.5 && d.start <= 2.0).toBe(true);
    expect(c.slice(0, 3).map((d) => d.start)).toEqual(a.map((d) => d.start));
    expect(c.slice(3).map((d) => d.start)).not.toEqual(a.map((d) => d.start));
    const u = await recs.decode({ ...spec, sampling: 'uniform' }).toArray();
    for (const d of u) {
      expect(d.frames.shape).toEqual([5, 24, 32, 3]);
      expect(d.audio.shape).toEqual([8000]);
      expect(d.start).toBe(0.5);
    }
    // uniform: frame 0 is at the clip start (0.5 s), frame 4 at 0.5 + 4 * 2.5 / 5 = 2.5 s
    const rec = (await recs.toArray())[0];
    const at = async (t: number) => (await fromArray([{ ...rec, start: t, duration: 1 }]).decode({ ...spec, sampling: 'center' }).toArray())[0];
    const [early, late] = [await at(0.5), await at(2.5)];
    const n = 24 * 32 * 3;
    const dist = (x: DecodedItem, i: number, y: DecodedItem) => {
      let d = 0;
      for (let k = 0; k < n; k++) d += Math.abs(x.frames.data[i * n + k] - y.frames.data[k]);
      return d / n;
    };
    expect(dist(u[0], 0, early)).toBeLessThan(dist(u[0], 0, late));
    expect(dist(u[0], 4, late)).toBeLessThan(dist(u[0], 4, early));
    expect(dist(u[0], 4, late)).toBeLessThan(3);
  });

  it('state contract: shuffle → decode (parallel) → augment → batch', async () => {
    const ds = (await fromManifest(corpus.manifest)).take(6).shuffle(3, 2).decode({ ...spec, sampling: 'random', seed: 3 }).augment({ seed: 4, crop: [16, 16], flip: 0.5, gainDb: [-6, 0] }).batch(2);
    const { items } = await checkStateContract(ds, {
      view: (b) => ({ key: b.key, start: b.start, shape: b.frames.shape, sum: (b.frames.data as Uint8Array).reduce((x, y) => x + y, 0) }),
      points: [0, 1, 2, 3],
    });
    expect((items[0] as { shape: number[] }).shape).toEqual([2, 5, 16, 16, 3]);
  });

  it('decode with an injected decoder (errors from a sample without a video member)', async () => {
    const ds = fromArray([{ __key__: 'a', __url__: 'x.tar', json: Buffer.from('{}') }]).decode({ ...spec, onError: 'raise' });
    await expect(ds.toArray()).rejects.toThrow(/sample a \(x\.tar\) has no video member/);
  });
});
