/**
 * Every key of the config schema is read by some code. The test walks the zod schema (objects,
 * lists, unions, defaults) to every key path, and looks in src/ outside src/config/ for a read of
 * the key: a property access (`.key`, `?.key`, `['key']`) or a destructuring (`{ key, ... } =`,
 * `({ key })`). Sections are handed on whole (`{ ...config.ingest }`, `cfg: OnnxExtractorConfig`),
 * so the read may be anywhere below; a key with no read at all is reported with its path: it is
 * either dead (delete it) or silently ignored by the code that should honour it (wire it).
 *
 * This is a static check, so it can be fooled by a generic name read for another reason; it cannot
 * miss a key nobody reads at all, which is the failure it exists for.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { ConfigSchema } from '../../src/config/schema.js';
import { defOf, listTs } from '../helpers/source-files.js';

const SRC = path.resolve('src');

/** Source without comments and string contents of comments (crude but enough for key names). */
function stripComments(text: string): string {
  return text.replace(/\/\*[\s\S]*?\*\//g, ' ').replace(/(^|[^:'"`\\])\/\/.*$/gm, '$1');
}


/** Every key path of the schema (object keys; '*' never appears: list elements share their key path). */
function keyPaths(schema: z.ZodType, prefix: string[] = [], out = new Map<string, string[]>()): Map<string, string[]> {
  const d = defOf(schema);
  switch (d.type) {
    case 'optional':
    case 'default':
    case 'nullable':
    case 'prefault':
    case 'readonly':
      return keyPaths(d.innerType!, prefix, out);
    case 'pipe':
      return keyPaths(d.in!, prefix, out);
    case 'array':
      return keyPaths(d.element!, prefix, out);
    case 'union':
      for (const o of d.options!) keyPaths(o, prefix, out);
      return out;
    case 'object':
      for (const [k, v] of Object.entries((schema as z.ZodObject).shape)) {
        const p = [...prefix, k];
        out.set(p.join('.'), p);
        keyPaths(v as z.ZodType, p, out);
      }
      return out;
    default:
      return out;
  }
}

function readsKey(text: string, key: string): boolean {
  const k = key.replace(/[$]/g, '\\$');
  return (
    new RegExp(`\\?*\\.${k}\\b`).test(text) ||
    new RegExp(`\\[['"\`]${k}['"\`]\\]`).test(text) ||
    new RegExp(`\\{[^{}]*\\b${k}\\b[^{}]*\\}\\s*(=[^=>]|:\\s*[A-Za-z])`).test(text) ||
    new RegExp(`\\(\\s*\\{[^{}]*\\b${k}\\b[^{}]*\\}`).test(text) ||
    // read through a computed index typed by a union of key names: v[provider], provider: 'cpu' | 'cuda'
    (new RegExp(`\\[[A-Za-z_$][\\w$]*\\]`).test(text) && new RegExp(`['"]${k}['"]\\s*\\||\\|\\s*['"]${k}['"]`).test(text))
  );
}

describe('config schema keys', () => {
  it('every key of the schema is read by code outside src/config', () => {
    const files = listTs(SRC)
      .filter((f) => !f.startsWith(path.join(SRC, 'config') + path.sep))
      .map((f) => ({ file: path.relative(SRC, f), text: stripComments(readFileSync(f, 'utf8')) }));
    const paths = [...keyPaths(ConfigSchema).values()];
    expect(paths.length).toBeGreaterThan(100);
    // Keys the loader itself consumes (set by loadConfig, read by everything through it).
    const byLoader = new Set(['configFile', 'name', 'runDir', 'seed']);
    const unread: string[] = [];
    for (const p of paths) {
      if (byLoader.has(p.join('.'))) continue;
      if (p.length === 1) continue; // a section: its keys are checked one by one
      const leaf = p[p.length - 1];
      const ok = files.some((f) => readsKey(f.text, leaf));
      if (!ok) unread.push(p.join('.'));
    }
    expect(unread, `config keys no code reads:\n  ${unread.join('\n  ')}`).toEqual([]);
  });

  it('the walk finds nested keys of unions and lists, and the check catches an unread key', () => {
    const paths = [...keyPaths(ConfigSchema).keys()];
    for (const p of ['selection.contrastive.epochs', 'features.audio.model', 'experiment.tasks.dataset.path', 'corpus.realPairs.root', 'evaluation.topRatio']) expect(paths).toContain(p);
    expect(readsKey('const x = cfg.topRatio;', 'topRatio')).toBe(true);
    expect(readsKey('const { topRatio, seed } = cfg;', 'topRatio')).toBe(true);
    expect(readsKey('const x = cfg.topRatios;', 'topRatio')).toBe(false);
    expect(readsKey('topRatio is documented only', 'topRatio')).toBe(false);
    expect(readsKey("function pick(v: X, p: 'cpu' | 'cuda') { return v[p]; }", 'cuda')).toBe(true);
  });
});
