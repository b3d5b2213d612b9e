/**
 * The config is the only source of defaults: no library code restates a schema default. The test
 * walks the zod schema to every key with a primitive default and greps src/ (outside src/config/)
 * for the patterns that restate one: `<x>.key ?? <default>`, `key ?? <default>` and a destructuring
 * default `{ key = <default> }`. A function that needs a value takes it from its caller (who has
 * the config), or requires it.
 */
import { readFileSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { ConfigSchema } from '../../src/config/schema.js';

const SRC = path.resolve('src');

function listTs(dir: string, out: string[] = []): string[] {
  for (const name of readdirSync(dir)) {
    const full = path.join(dir, name);
    if (statSync(full).isDirectory()) listTs(full, out);
    else if (name.endsWith('.ts')) out.push(full);
  }
  return out;
}

type Def = { type: string; innerType?: z.ZodType; options?: z.ZodType[]; in?: z.ZodType; element?: z.ZodType; defaultValue?: unknown };
const defOf = (s: z.ZodType): Def => (s as unknown as { def: Def }).def;

/** [key path, default] for every key whose schema has a primitive default. */
function defaults(schema: z.ZodType, prefix: string[] = [], out: Array<[string[], string | number | boolean]> = []): Array<[string[], string | number | boolean]> {
  const d = defOf(schema);
  if (d.type === 'default') {
    const v = typeof d.defaultValue === 'function' ? (d.defaultValue as () => unknown)() : d.defaultValue;
    if ((typeof v === 'number' || typeof v === 'string' || typeof v === 'boolean') && prefix.length > 0) out.push([prefix, v]);
    return defaults(d.innerType!, prefix, out);
  }
  if (d.type === 'optional' || d.type === 'nullable' || d.type === 'prefault' || d.type === 'readonly') return defaults(d.innerType!, prefix, out);
  if (d.type === 'pipe') return defaults(d.in!, prefix, out);
  if (d.type === 'array') return defaults(d.element!, prefix, out);
  if (d.type === 'union') {
    for (const o of d.options!) defaults(o, prefix, out);
    return out;
  }
  if (d.type === 'object') for (const [k, v] of Object.entries((schema as z.ZodObject).shape)) defaults(v as z.ZodType, [...prefix, k], out);
  return out;
}

function literal(v: string | number | boolean): string {
  if (typeof v === 'string') return `['"\`]${v.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}['"\`]`;
  const s = String(v).replace('.', '\\.');
  return `${s}(?![\\w.])`;
}

/** Places that restate a default: "file:line: text". */
function restated(files: Array<{ file: string; text: string }>, key: string, value: string | number | boolean): string[] {
  const v = literal(value);
  const patterns = [new RegExp(`\\b${key}\\s*\\?\\?\\s*${v}`), new RegExp(`[{,]\\s*${key}\\s*=\\s*${v}\\s*[,}]`)];
  const out: string[] = [];
  for (const f of files) {
    f.text.split('\n').forEach((line, i) => {
      if (patterns.some((p) => p.test(line))) out.push(`${f.file}:${i + 1}: ${line.trim()}`);
    });
  }
  return out;
}

/**
 * Restatements found when this test was written, in other owners' modules (file, key = value): a
 * ratchet. The test fails on any restatement not listed here, and on a listed one that is gone
 * (delete its line), so the list only shrinks. Each entry is to be fixed by taking the value from
 * the caller's config or requiring it.
 */
const KNOWN: readonly string[] = [];

describe('defaults live in the config schema only', () => {
  it('no code outside src/config restates a schema default (beyond the shrinking KNOWN list)', () => {
    const files = listTs(SRC)
      .filter((f) => !f.startsWith(path.join(SRC, 'config') + path.sep))
      .map((f) => ({ file: path.relative(path.resolve('.'), f), text: readFileSync(f, 'utf8') }));
    const found = new Map<string, string[]>();
    const all = defaults(ConfigSchema);
    expect(all.length).toBeGreaterThan(50);
    for (const [p, v] of all) {
      for (const hit of restated(files, p[p.length - 1], v)) {
        const id = `${hit.slice(0, hit.indexOf(':'))} ${p[p.length - 1]}=${JSON.stringify(v)}`;
        found.set(id, [...(found.get(id) ?? []), `${hit}   (schema: ${p.join('.')})`]);
      }
    }
    const fresh = [...found.keys()].filter((id) => !KNOWN.includes(id)).sort();
    expect(fresh, `schema defaults restated in code (take them from the config instead):\n  ${fresh.map((id) => `${id}\n      ${found.get(id)!.join("\n      ")}`).join("\n  ")}`).toEqual([]);
    const gone = KNOWN.filter((id) => !found.has(id));
    expect(gone, 'fixed: delete these lines from KNOWN').toEqual([]);
  });

  it('the check catches the patterns it is for', () => {
    const f = [{ file: 'x.ts', text: 'const r = opts.ratio ?? 0.2;\nconst { epochs = 3 } = o;\nconst q = ratio ?? 0.25;\nconst s = x.seed ?? 0;' }];
    expect(restated(f, 'ratio', 0.2)).toEqual(['x.ts:1: const r = opts.ratio ?? 0.2;']);
    expect(restated(f, 'epochs', 3)).toHaveLength(1);
    expect(restated(f, 'ratio', 0.25)).toHaveLength(1);
    expect(restated(f, 'seed', 0)).toHaveLength(1);
    expect(restated(f, 'seed', 0.5)).toHaveLength(0);
  });
});
