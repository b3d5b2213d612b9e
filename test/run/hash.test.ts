import { describe, expect, it } from 'vitest';
import { promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { canonicalJson, fileDigest, stableKey } from '../../src/run/hash.js';

describe('canonical JSON and stableKey', () => {
  it('ignores key order and undefined members, keeps array order', () => {
    expect(canonicalJson({ b: 1, a: { d: [2, 1], c: undefined } })).toBe('{"a":{"d":[2,1]},"b":1}');
    expect(stableKey({ x: 1, y: [1, 2] })).toBe(stableKey({ y: [1, 2], x: 1, z: undefined }));
    expect(stableKey({ y: [2, 1], x: 1 })).not.toBe(stableKey({ y: [1, 2], x: 1 }));
    expect(stableKey({ a: 1 })).toMatch(/^[0-9a-f]{16}$/);
    expect(canonicalJson(new Date(0))).toBe('"1970-01-01T00:00:00.000Z"');
    expect(canonicalJson(undefined)).toBe('null');
  });

  it('fileDigest: a file that does not exist, also under a path through a file, is null', async () => {
    const dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'avc-hash-'));
    const file = path.join(dir, 'pool.jsonl');
    await fsp.writeFile(file, '{}\n');
    expect(await fileDigest(file)).toMatch(/^[0-9a-f]{64}$/);
    expect(await fileDigest(path.join(dir, 'missing.jsonl'))).toBeNull();
    expect(await fileDigest(path.join(file, 'labels.jsonl'))).toBeNull();
    await fsp.rm(dir, { recursive: true, force: true });
  });
});
