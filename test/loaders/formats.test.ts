import { afterAll, describe, expect, it } from 'vitest';
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { TarReader, TarWriter, fileHeader, splitMemberName, isUnsafeMemberName, checksumOk } from '../../src/loaders/formats/tar.js';
import { FileByteReader } from '../../src/loaders/io/bytes.js';
import { decodeNpy, encodeNpy } from '../../src/loaders/formats/npy.js';
import { sanitizeKey, isSafeKey } from '../../src/loaders/export/keys.js';
import type { DType, NdArray } from '../../src/loaders/formats/ndarray.js';
import { pythonWithNumpy, removeDir, runPython, tempDir } from './helpers/fixtures.js';

const dir = tempDir('formats');
afterAll(() => removeDir(dir));
const py = pythonWithNumpy();

async function writeTar(file: string, members: Array<[string, Buffer]>): Promise<void> {
  const chunks: Buffer[] = [];
  const w = new TarWriter((c) => {
    chunks.push(Buffer.from(c));
  });
  for (const [n, d] of members) await w.add(n, d);
  await w.end();
  await fsp.writeFile(file, Buffer.concat(chunks));
}

async function readTar(file: string): Promise<Array<[string, Buffer]>> {
  const r = new TarReader(await FileByteReader.open(file));
  const out: Array<[string, Buffer]> = [];
  for (;;) {
    const e = await r.next();
    if (!e) break;
    out.push([e.name, await r.readData(e)]);
  }
  await r.close();
  return out;
}

describe('tar', () => {
  const long = `${'d'.repeat(60)}/${'k'.repeat(90)}.frames.npy`;
  const members: Array<[string, Buffer]> = [
    ['a.json', Buffer.from('{"x":1}')],
    ['a.mp4', Buffer.alloc(1000, 7)],
    [long, Buffer.alloc(513, 1)],
    ['ünï.txt', Buffer.from('unicode name')],
    ['empty.bin', Buffer.alloc(0)],
  ];

  it('writes ustar with pax for long and non-ASCII names; reads it back', async () => {
    const file = path.join(dir, 'a.tar');
    await writeTar(file, members);
    const st = await fsp.stat(file);
    expect(st.size % 512).toBe(0);
    expect(await readTar(file)).toEqual(members);
    // deterministic bytes
    const again = path.join(dir, 'b.tar');
    await writeTar(again, members);
    expect((await fsp.readFile(again)).equals(await fsp.readFile(file))).toBe(true);
    expect(checksumOk(fileHeader('x.json', 3))).toBe(true);
  });

  it.skipIf(!py)('python tarfile reads our tar, and we read python-written pax and GNU tars', async () => {
    const file = path.join(dir, 'a.tar');
    const listing = JSON.parse(runPython(py!, 'import tarfile,sys,json\nt=tarfile.open(sys.argv[1])\nprint(json.dumps([[m.name,m.size,t.extractfile(m).read().hex()] for m in t.getmembers()]))', [file]));
    expect(listing).toEqual(members.map(([n, d]) => [n, d.length, d.toString('hex')]));
    for (const fmt of ['PAX_FORMAT', 'GNU_FORMAT']) {
      const out = path.join(dir, `py-${fmt}.tar`);
      runPython(py!, `import tarfile,io,sys\nt=tarfile.open(sys.argv[1],'w',format=tarfile.${fmt})\nfor n,s in [('x'*150+'.bin',700),('dir/y.json',3)]:\n  i=tarfile.TarInfo(n); i.size=s; t.addfile(i,io.BytesIO(bytes([65])*s))\nt.close()`, [out]);
      const got = await readTar(out);
      expect(got.map(([n, d]) => [n, d.length])).toEqual([[`${'x'.repeat(150)}.bin`, 700], ['dir/y.json', 3]]);
    }
  });

  it('reports a truncated tar and a corrupt header with the byte offset', async () => {
    const file = path.join(dir, 'a.tar');
    const bytes = await fsp.readFile(file);
    const cut = path.join(dir, 'cut.tar');
    await fsp.writeFile(cut, bytes.subarray(0, 1700));
    await expect(readTar(cut)).rejects.toThrow(/truncated tar: member a.mp4 has \d+ of 1000 bytes/);
    const bad = Buffer.from(bytes);
    bad[1024 + 10] ^= 0xff; // inside the header of a.mp4
    const corrupt = path.join(dir, 'corrupt.tar');
    await fsp.writeFile(corrupt, bad);
    await expect(readTar(corrupt)).rejects.toThrow(/corrupt tar header \(checksum mismatch\) \(byte 1024\)/);
  });

  it('splits member names as WebDataset does and flags unsafe names', () => {
    expect(splitMemberName('abc.frames.npy')).toEqual({ key: 'abc', ext: 'frames.npy' });
    expect(splitMemberName('d/e/abc.MP4')).toEqual({ key: 'd/e/abc', ext: 'mp4' });
    expect(splitMemberName('noext')).toBeNull();
    expect(isUnsafeMemberName('../../x.json')).toBe(true);
    expect(isUnsafeMemberName('/etc/passwd.txt')).toBe(true);
    expect(isUnsafeMemberName('a/../b.json')).toBe(true);
    expect(isUnsafeMemberName('a/b..c.json')).toBe(false);
  });
});

describe('keys', () => {
  it('sanitises path-like ids into unique safe keys', () => {
    expect(sanitizeKey('clip-001_a')).toBe('clip-001_a');
    const k = sanitizeKey('../../x');
    expect(isSafeKey(k)).toBe(true);
    expect(k).not.toContain('.');
    expect(k).not.toContain('/');
    expect(k.startsWith('_x_')).toBe(true); // escaped keys start with '_', which no clip id does (src/run/ids.ts)
    expect(sanitizeKey('a/b')).not.toBe(sanitizeKey('a_b'));
    expect(sanitizeKey('a.b')).not.toBe(sanitizeKey('a/b'));
    expect(isSafeKey(sanitizeKey('..'))).toBe(true);
    expect(() => sanitizeKey('')).toThrow();
  });
});

describe('npy', () => {
  const cases: Array<[DType, number[]]> = [
    ['uint8', [2, 3, 4, 3]], ['int8', [5]], ['uint16', [2, 2]], ['int16', [3]], ['uint32', [1]], ['int32', [2, 5]],
    ['float32', [4, 4]], ['float64', [3, 1]], ['int64', [2]], ['uint64', [2]], ['bool', [3]], ['float32', []], ['float32', [0, 3]],
  ];
  function sample(dtype: DType, shape: number[]): NdArray {
    const n = shape.reduce((a, b) => a * b, 1);
    const vals = Array.from({ length: n }, (_, i) => (i * 37) % 11);
    const data = dtype === 'int64' ? BigInt64Array.from(vals.map((v) => BigInt(v - 5))) : dtype === 'uint64' ? BigUint64Array.from(vals.map(BigInt))
      : dtype === 'float32' ? Float32Array.from(vals.map((v) => v / 3)) : dtype === 'float64' ? Float64Array.from(vals.map((v) => v / 7))
        : dtype === 'int8' ? Int8Array.from(vals.map((v) => v - 5)) : dtype === 'int16' ? Int16Array.from(vals.map((v) => v - 5)) : dtype === 'int32' ? Int32Array.from(vals.map((v) => v - 5))
          : dtype === 'uint16' ? Uint16Array.from(vals) : dtype === 'uint32' ? Uint32Array.from(vals) : Uint8Array.from(vals.map((v) => (dtype === 'bool' ? v % 2 : v)));
    return { dtype, shape, data };
  }

  it('round-trips every dtype; header is a multiple of 64 bytes', () => {
    for (const [dtype, shape] of cases) {
      const a = sample(dtype, shape);
      const bytes = encodeNpy(a);
      expect(bytes.readUInt16LE(8) + 10).toBe(bytes.length - a.data.byteLength);
      expect((bytes.length - a.data.byteLength) % 64).toBe(0);
      const b = decodeNpy(bytes);
      expect(b.dtype).toBe(dtype);
      expect(b.shape).toEqual(shape);
      expect(Array.from(b.data as ArrayLike<unknown>)).toEqual(Array.from(a.data as ArrayLike<unknown>));
    }
  });

  it('refuses corrupt files with a reason', () => {
    const bytes = encodeNpy(sample('float32', [4, 4]));
    expect(() => decodeNpy(bytes.subarray(0, 150), 'x.npy')).toThrow(/x.npy: not a valid .npy \(truncated data/);
    const bad = Buffer.from(bytes);
    bad[1] = 0;
    expect(() => decodeNpy(bad)).toThrow(/bad magic/);
  });

  it.skipIf(!py)('numpy reads ours and we read numpy (incl. big-endian)', async () => {
    const a = sample('float32', [2, 3]);
    const file = path.join(dir, 'a.npy');
    await fsp.writeFile(file, encodeNpy(a));
    const out = JSON.parse(runPython(py!, 'import numpy as np,sys,json\na=np.load(sys.argv[1])\nprint(json.dumps([str(a.dtype), list(a.shape), a.ravel().tolist()]))', [file]));
    expect(out).toEqual(['float32', [2, 3], Array.from(a.data as Float32Array)]);
    const be = path.join(dir, 'be.npy');
    runPython(py!, "import numpy as np,sys\nnp.save(sys.argv[1], np.arange(6, dtype='>i4').reshape(2,3))", [be]);
    const b = decodeNpy(await fsp.readFile(be));
    expect(b.shape).toEqual([2, 3]);
    expect(Array.from(b.data as Int32Array)).toEqual([0, 1, 2, 3, 4, 5]);
  });
});
