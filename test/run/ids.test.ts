import { describe, expect, it } from 'vitest';
import { assertId, isId, isShardKey, shardKey, toId } from '../../src/run/ids.js';

describe('the id rule', () => {
  it('accepts letters, digits, "_" and "-" starting with a letter or digit, up to 128 characters', () => {
    for (const ok of ['clip-00000', 'a', 'A_b-9', 'dQw4w9WgXcQ_00', '9'.repeat(128)]) expect(isId(ok)).toBe(true);
    for (const bad of ['', 'a.b', '../x', 'a/b', '-a', '_a', 'a b', 'é', '9'.repeat(129), 'a\u0000']) expect(isId(bad)).toBe(false);
    expect(() => assertId('a.b', 'm.jsonl:3')).toThrow(/m\.jsonl:3: id "a\.b" is not valid/);
  });

  it('toId keeps ids and gives distinct ids to distinct outside names', () => {
    expect(toId('clip-1')).toBe('clip-1');
    const names = ['a.b', 'a_b', 'a b', 'a/b', 'a..b', '../../a', 'é', '.hidden', 'x'.repeat(300), 'x'.repeat(301)];
    const ids = names.map((n) => toId(n));
    for (const id of ids) expect(isId(id)).toBe(true);
    expect(new Set(ids).size).toBe(names.length);
    expect(toId('a.b')).toMatch(/^a_b-[0-9a-f]{10}$/);
    expect(() => toId('')).toThrow(/cannot make an id/);
  });

  it('shardKey is the identity on ids, escapes anything else into keys no id can be, and is injective', () => {
    expect(shardKey('clip-00000')).toBe('clip-00000');
    const strings = ['a.b', 'a_b', '../../x', 'x/y.z', 'é', '_a', '-a', 'a b', 'a.b.c', 'a_b_c', 'clip.v2'];
    const keys = strings.map(shardKey);
    expect(new Set(keys).size).toBe(strings.length);
    for (const [i, k] of keys.entries()) {
      expect(isShardKey(k)).toBe(true);
      expect(k).not.toMatch(/[./]/);
      if (!isId(strings[i])) {
        expect(k.startsWith('_')).toBe(true);
        expect(isId(k)).toBe(false);
      }
    }
    expect(shardKey('../../x')).toMatch(/^_x_[0-9a-f]{24}$/);
    expect(isShardKey('a.b')).toBe(false);
    expect(() => shardKey('')).toThrow(/cannot make a shard key/);
  });
});
