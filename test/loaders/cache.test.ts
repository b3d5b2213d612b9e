import { afterAll, describe, expect, it } from 'vitest';
import { promises as fsp, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { fromArray, decodeNpy, type NdArray } from '../../src/loaders/index.js';
import { fromTensorCache, readTensorCacheIndex, writeTensorCache } from '../../src/loaders/cache/tensor-cache.js';
import { checkStateContract } from './helpers/state.js';

const tmp = mkdtempSync(path.join(os.tmpdir(), 'avcurate-cache-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
const hasNumpy = spawnSync('/usr/bin/python3', ['-c', 'import numpy'], { encoding: 'utf8' }).status === 0;

function items(n: number) {
  return Array.from({ length: n }, (_, i) => ({
    key: `k${i}`,
    frames: { dtype: 'uint8', shape: [2, 3, 4, 3], data: Uint8Array.from({ length: 72 }, (_, j) => (i * 7 + j) % 256) } as NdArray<Uint8Array>,
    spec: { dtype: 'float32', shape: [5, 2], data: Float32Array.from({ length: 10 }, (_, j) => i + j / 10) } as NdArray<Float32Array>,
    note: `not stored ${i}`,
  }));
}

const view = (x: Record<string, unknown>) => ({ key: x.key, frames: Array.from((x.frames as NdArray).data as Uint8Array), spec: Array.from((x.spec as NdArray).data as Float32Array) });

describe('tensor cache', () => {
  it('writes the array fields as .npy files with an index and reads every row back exactly', async () => {
    const dir = path.join(tmp, 'a');
    const src = items(9);
    const r = await writeTensorCache(fromArray(src), dir, { fingerprint: 'x' });
    expect(r.reused).toBe(false);
    expect(r.index).toMatchObject({ format: 'avcurate-tensor-cache', count: 9, fingerprint: 'x', fields: { frames: { dtype: 'uint8', shape: [2, 3, 4, 3] }, spec: { dtype: 'float32', shape: [5, 2] } } });
    expect((await fsp.readdir(dir)).sort()).toEqual(['frames.npy', 'index.json', 'spec.npy']);
    // The files are plain .npy arrays [count, ...row shape].
    const frames = decodeNpy(await fsp.readFile(path.join(dir, 'frames.npy')));
    expect(frames.shape).toEqual([9, 2, 3, 4, 3]);
    expect(Array.from(frames.data.subarray(72, 144) as Uint8Array)).toEqual(Array.from(src[1].frames.data));
    const back = await (await fromTensorCache(dir)).toArray();
    expect(back.map(view)).toEqual(src.map(view));
    // reuse with the same fingerprint, rewrite with another
    expect((await writeTensorCache(fromArray(src), dir, { fingerprint: 'x', reuse: true })).reused).toBe(true);
    expect((await writeTensorCache(fromArray(src.slice(0, 4)), dir, { fingerprint: 'y', reuse: true })).index.count).toBe(4);
  });

  it.skipIf(!hasNumpy)('NumPy reads the files with mmap (Debian python3-numpy)', async () => {
    const dir = path.join(tmp, 'np');
    await writeTensorCache(fromArray(items(3)), dir);
    const r = spawnSync('/usr/bin/python3', ['-c', `import numpy as np; a = np.load(${JSON.stringify(path.join(dir, 'spec.npy'))}, mmap_mode="r"); print(a.shape, round(float(a[2, 4, 1]), 4))`], { encoding: 'utf8' });
    expect(r.stdout.trim()).toBe('(3, 5, 2) 2.9');
  });

  it('selects rows by key in the given order, and names unknown keys', async () => {
    const dir = path.join(tmp, 'b');
    await writeTensorCache(fromArray(items(5)), dir);
    const rows = await (await fromTensorCache(dir, { keys: ['k3', 'k0', 'k3'], fields: ['spec'] })).toArray();
    expect(rows.map((x) => x.key)).toEqual(['k3', 'k0', 'k3']);
    expect(Object.keys(rows[0]).sort()).toEqual(['key', 'spec']);
    await expect(fromTensorCache(dir, { keys: ['k1', 'zz'] })).rejects.toThrow(/1 key\(s\) not in the cache, e\.g\. zz/);
    await expect(fromTensorCache(dir, { fields: ['audio'] })).rejects.toThrow(/no field "audio"/);
  });

  it('keeps the state contract (save anywhere, restore, identical continuation), alone and under shuffle/batch/repeat', async () => {
    const dir = path.join(tmp, 'c');
    await writeTensorCache(fromArray(items(11)), dir);
    const ds = await fromTensorCache(dir);
    await checkStateContract(ds, { view, minItems: 11 });
    // the same rows read from disk row by row (a cache larger than memoryBytes)
    const fromDisk = await fromTensorCache(dir, { memoryBytes: 0 });
    await checkStateContract(fromDisk, { view, minItems: 11 });
    expect((await fromDisk.toArray()).map(view)).toEqual((await ds.toArray()).map(view));
    const pipe = ds.shuffle(4, 7).batch(3, { dropRemainder: true }).repeat(2);
    await checkStateContract(pipe, { view: (b) => b.key, minItems: 6 });
  });

  it('refuses a damaged cache with the file and the reason; writes nothing half', async () => {
    const dir = path.join(tmp, 'd');
    await writeTensorCache(fromArray(items(4)), dir);
    const spec = path.join(dir, 'spec.npy');
    const full = await fsp.readFile(spec);
    await fsp.writeFile(spec, full.subarray(0, full.length - 8));
    await expect(fromTensorCache(dir, { memoryBytes: 0 })).rejects.toThrow(/truncated/);
    await expect(fromTensorCache(dir)).rejects.toThrow(new RegExp(`${spec.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}: truncated`));
    await fsp.rm(path.join(dir, 'index.json'));
    await expect(readTensorCacheIndex(dir)).rejects.toThrow(/index\.json: cannot read the tensor cache index \(no such file/);
    // An item whose shape differs stops the write; no index, no temporary files.
    const bad = items(3);
    bad[2].spec = { dtype: 'float32', shape: [4, 2], data: new Float32Array(8) };
    const e = path.join(tmp, 'e');
    await expect(writeTensorCache(fromArray(bad), e)).rejects.toThrow(/item k2: field "spec" is float32 \[4, 2\], the cache holds float32 \[5, 2\]/);
    expect(await fsp.readdir(e)).toEqual([]);
  });
});
