/**
 * The loaders' zero-copy paths (docs/loaders.md "Performance"): large tar members are views of the
 * file reader's 4 MiB read buffers, and clipPipeline's tensor-cache rows are views of the cache in
 * memory. Views must stay valid (a viewed read buffer is never reused), small members must stay
 * copies, and no reader of a default source may see another's writes.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import { promises as fsp, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { FileByteReader } from '../../src/loaders/io/bytes.js';
import { TarReader, TarWriter, VIEW_MIN_BYTES } from '../../src/loaders/formats/tar.js';
import { fromShards, fromArray, parseSample, stack, type NdArray, type ParsedSample } from '../../src/loaders/index.js';
import { ShardWriter } from '../../src/loaders/export/shardWriter.js';
import { encodeNpy } from '../../src/loaders/formats/npy.js';
import { fromTensorCache, writeTensorCache } from '../../src/loaders/cache/tensor-cache.js';
import { clipPipeline } from '../../src/loaders/pipeline.js';
import { LoaderSchema } from '../../src/config/sections/loader.js';
import { Rng } from '../../src/runtime/random.js';

const tmp = mkdtempSync(path.join(os.tmpdir(), 'avcurate-zero-copy-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** Seeded bytes: a random 256 KiB block, shifted differently in every block (cheap for tens of MB). */
function randomBytes(n: number, seed: number): Buffer {
  const rng = new Rng(seed);
  const block = Uint8Array.from({ length: 1 << 18 }, () => rng.nextUint32() & 255);
  const b = Buffer.allocUnsafe(n);
  for (let i = 0; i < n; i++) b[i] = (block[i & ((1 << 18) - 1)] + (i >>> 18) * 31) & 255;
  return b;
}

const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

describe('FileByteReader.view', () => {
  it('hands out views that stay valid across later reads (a viewed chunk is never reused), copies across chunk boundaries; readInto and skip interleaved', async () => {
    const file = path.join(tmp, 'bytes.bin');
    const data = randomBytes(25 * (1 << 20) + 12345, 1); // six whole 4 MiB chunks and a part: the reader would reuse early chunks
    await fsp.writeFile(file, data);
    const r = await FileByteReader.open(file);
    const kept: Array<{ at: number; buf: Buffer }> = [];
    const rng = new Rng(2);
    let views = 0;
    while (r.position < data.length) {
      const at = r.position;
      const n = 1 + rng.int(900_000);
      const op = rng.int(4);
      if (op === 2) {
        expect(await r.skip(n)).toBe(Math.min(n, data.length - at));
        continue;
      }
      if (op === 3) {
        // readInto: into the caller's buffer, no allocation
        const scratch = Buffer.alloc(Math.min(n, 4096));
        const k = await r.readInto(scratch);
        expect(k).toBe(Math.min(scratch.length, data.length - at));
        expect(scratch.subarray(0, k).equals(data.subarray(at, at + k))).toBe(true);
        continue;
      }
      const buf = op === 0 ? await r.view(n) : await r.read(n);
      expect(buf.length).toBe(Math.min(n, data.length - at));
      if (op === 0 && buf.buffer.byteLength > buf.length) views++;
      kept.push({ at, buf });
    }
    await r.close();
    expect(views).toBeGreaterThan(3); // the view path ran, not only its copy fallback
    // Every buffer handed out still holds the file's bytes, after all the reads that followed.
    for (const k of kept) expect(k.buf.equals(data.subarray(k.at, k.at + k.buf.length))).toBe(true);
  });
});

describe('tar members as views', () => {
  it('reads large members as views and small ones as copies, with every byte right after a whole shard is held', async () => {
    const dir = path.join(tmp, 'shards');
    const w = new ShardWriter(dir, { maxCount: 40 });
    const expected = new Map<string, { big: string; small: string }>();
    for (let i = 0; i < 40; i++) {
      const big = randomBytes(VIEW_MIN_BYTES + 4000 * i + 7, 10 + i); // 5.7 MB in all: one straddles the 4 MiB chunk boundary
      const small = Buffer.from(JSON.stringify({ i }));
      const key = `s${String(i).padStart(3, '0')}`;
      await w.write(key, { bin: big, json: small });
      expected.set(key, { big: sha(big), small: sha(small) });
    }
    await w.finish();
    const all = await (await fromShards(dir)).toArray(); // every sample held at once
    expect(all.length).toBe(40);
    let viewed = 0;
    for (const s of all) {
      const e = expected.get(s.__key__)!;
      const big = s.bin as Buffer;
      const small = s.json as Buffer;
      expect(sha(big)).toBe(e.big);
      expect(sha(small)).toBe(e.small);
      if (big.buffer.byteLength > big.length) viewed++;
      // A small member owns no read buffer: keeping it alone keeps no 4 MiB chunk alive.
      expect(small.buffer.byteLength).toBeLessThan(1 << 20);
    }
    expect(viewed).toBeGreaterThan(30);
  });

  it('refuses a member cut short by the end of the file (view path) with the shard and offset', async () => {
    const file = path.join(tmp, 'cut.tar');
    const chunks: Buffer[] = [];
    const tw = new TarWriter((c) => void chunks.push(Buffer.from(c)));
    await tw.add('a.bin', randomBytes(VIEW_MIN_BYTES * 2, 3));
    await tw.end();
    const whole = Buffer.concat(chunks);
    await fsp.writeFile(file, whole.subarray(0, 512 + VIEW_MIN_BYTES)); // header + half the data
    const tr = new TarReader(await FileByteReader.open(file));
    const e = (await tr.next())!;
    await expect(tr.readData(e)).rejects.toThrow(/cut\.tar: truncated tar: member a\.bin has 65536 of 131072 bytes \(byte 512\)/);
    await tr.close();
  });

  it('parses .npy members that are views (aligned, no copy) through parseSample', async () => {
    const dir = path.join(tmp, 'npy');
    const w = new ShardWriter(dir, { maxCount: 8 });
    const arrays: NdArray[] = [];
    for (let i = 0; i < 8; i++) {
      const a: NdArray = { dtype: 'float32', shape: [200, 100], data: Float32Array.from({ length: 20000 }, (_, k) => i + k / 1e4) };
      arrays.push(a);
      await w.write(`k${i}`, { 'x.npy': encodeNpy(a) });
    }
    await w.finish();
    const got = await (await fromShards(dir)).map(parseSample).toArray();
    got.forEach((s: ParsedSample, i) => {
      const x = s['x.npy'] as NdArray;
      expect(x.shape).toEqual([200, 100]);
      expect(Array.from(x.data as Float32Array)).toEqual(Array.from(arrays[i].data as Float32Array));
    });
  });
});

describe('stack without a zero fill', () => {
  it('writes every element of the batch and owns its buffer', () => {
    const a: NdArray = { dtype: 'int16', shape: [3], data: Int16Array.from([1, -2, 3]) };
    const b: NdArray = { dtype: 'int16', shape: [3], data: Int16Array.from([-4, 5, -6]) };
    const s = stack([a, b]);
    expect(s.shape).toEqual([2, 3]);
    expect(Array.from(s.data as Int16Array)).toEqual([1, -2, 3, -4, 5, -6]);
    expect(s.data.byteOffset).toBe(0);
    expect(s.data.buffer.byteLength).toBe(12);
  });
});

describe('tensor-cache rows as views', () => {
  const rows = (n: number) => Array.from({ length: n }, (_, i) => ({
    key: `c${i}`,
    frames: { dtype: 'uint8', shape: [1, 2, 2, 3], data: Uint8Array.from({ length: 12 }, (_, j) => (i * 13 + j) % 256) } as NdArray,
    spec: { dtype: 'float32', shape: [4, 2], data: Float32Array.from({ length: 8 }, (_, j) => i + j / 8) } as NdArray,
  }));

  it('copies by default (an item written to does not change the cache), views only when asked, with the same values', async () => {
    const dir = path.join(tmp, 'cache');
    await writeTensorCache(fromArray(rows(6)), dir);
    const first = await (await fromTensorCache(dir)).toArray();
    (first[0].spec as NdArray).data[0] = 999;
    const again = await (await fromTensorCache(dir)).toArray();
    expect((again[0].spec as NdArray).data[0]).toBe(0);
    const viewed = await (await fromTensorCache(dir, { views: true })).toArray();
    expect(viewed.map((r) => Array.from((r.spec as NdArray).data as Float32Array))).toEqual(again.map((r) => Array.from((r.spec as NdArray).data as Float32Array)));
    expect(viewed.map((r) => Array.from((r.frames as NdArray).data as Uint8Array))).toEqual(again.map((r) => Array.from((r.frames as NdArray).data as Uint8Array)));
    // Views share one buffer (the cache in memory); copies each own theirs.
    expect((viewed[0].spec as NdArray).data.buffer).toBe((viewed[5].spec as NdArray).data.buffer);
    expect((again[0].spec as NdArray).data.buffer).not.toBe((again[5].spec as NdArray).data.buffer);
  });

  it('clipPipeline (which uses the views) gives the same batches over epochs as the same pipeline over copied rows', async () => {
    const dir = path.join(tmp, 'cache2');
    const big = (n: number) => Array.from({ length: n }, (_, i) => ({
      key: `c${i}`,
      frames: { dtype: 'uint8', shape: [1, 2, 2, 3], data: Uint8Array.from({ length: 12 }, (_, j) => (i * 13 + j) % 256) } as NdArray,
      spec: { dtype: 'float32', shape: [20, 10], data: Float32Array.from({ length: 200 }, (_, j) => i + j / 200) } as NdArray,
    }));
    await writeTensorCache(fromArray(big(8)), dir);
    const loader = LoaderSchema.parse({ shuffleBuffer: 4, prefetch: 0 });
    const opts = {
      seed: 1, batchSize: 4, training: true, epochs: 3,
      shape: { frames: 1, height: 2, width: 2 }, spectrogram: { frames: 20, mels: 10 },
      augment: { seed: 1, specMask: { field: 'spec', freq: 3, time: 4, count: 1 } },
    };
    const collect = async (source: Parameters<typeof clipPipeline>[0]) => {
      const out: number[][] = [];
      for await (const b of await clipPipeline(source, loader, opts)) out.push([...(b.key as unknown as string[]).map((k) => Number(k.slice(1))), ...Array.from((b.spec as unknown as NdArray).data as Float32Array)]);
      return out;
    };
    const viaViews = await collect(dir);
    // The reference: the same stages over a source of copied rows, which masking could not write into.
    const viaCopies = await collect({ dataset: await fromTensorCache(dir), decoded: true });
    expect(viaViews.length).toBe(6);
    expect(viaViews).toEqual(viaCopies);
    // The masking ran (the batches are not the cached rows) and the cache files are unchanged.
    const rowsNow = await (await fromTensorCache(dir)).toArray();
    const raw = viaViews[0].slice(4);
    const cached = viaViews[0].slice(0, 4).flatMap((r) => Array.from((rowsNow[r].spec as NdArray).data as Float32Array));
    expect(raw).not.toEqual(cached);
    expect(Array.from((rowsNow[3].spec as NdArray).data as Float32Array)).toEqual(Array.from((big(8)[3].spec as NdArray).data as Float32Array));
  });
});
