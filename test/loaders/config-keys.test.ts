/**
 * Every key of the sections that decide how clips become batches and models (loader, ssl, probe,
 * experiment) is read somewhere outside src/config: a key no code reads is a key a user sets in
 * vain. The check walks each zod schema and looks for the key read as a property (`.key`, `key:`
 * in a destructuring or object pattern of a reader) in src/ (config/ excluded).
 */
import { describe, expect, it } from 'vitest';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { LoaderSchema } from '../../src/config/sections/loader.js';
import { SslSchema } from '../../src/config/sections/ssl.js';
import { ProbeSchema } from '../../src/config/sections/probe.js';
import { ExperimentSchema } from '../../src/config/sections/experiment.js';

const src = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../src');

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((n) => {
    const p = path.join(dir, n);
    if (statSync(p).isDirectory()) return n === 'config' ? [] : sources(p);
    return p.endsWith('.ts') ? [readFileSync(p, 'utf8')] : [];
  });
}

type Zod = { def: { type: string; innerType?: Zod; element?: Zod; options?: Zod[] }; shape?: Record<string, Zod> };

/** Key paths of an object schema (through defaults, optionals, arrays of objects). */
function keyPaths(schema: Zod, prefix: string): string[] {
  let s = schema;
  while (s.def.innerType) s = s.def.innerType;
  if (s.def.type === 'array' && s.def.element) return keyPaths(s.def.element, prefix);
  if (s.def.type !== 'object' || !s.shape) return [];
  return Object.entries(s.shape).flatMap(([k, v]) => [`${prefix}.${k}`, ...keyPaths(v, `${prefix}.${k}`)]);
}

describe('config keys are read', () => {
  const text = sources(src).join('\n');
  const sections: Array<[string, Zod]> = [
    ['loader', LoaderSchema as unknown as Zod],
    ['ssl', SslSchema as unknown as Zod],
    ['probe', ProbeSchema as unknown as Zod],
    ['experiment', ExperimentSchema as unknown as Zod],
  ];
  for (const [name, schema] of sections) {
    it(`every ${name}.* key is read by some code outside src/config`, () => {
      const keys = keyPaths(schema, name);
      expect(keys.length).toBeGreaterThan(3);
      const unread = keys.filter((k) => {
        const leaf = k.slice(k.lastIndexOf('.') + 1);
        return !new RegExp(`(\\.|\\?\\.)${leaf}\\b|[{,]\\s*${leaf}\\s*[,}:]`).test(text);
      });
      expect(unread).toEqual([]);
    });
  }

  it('the walker sees nested keys (and so would report an unread one)', () => {
    expect(keyPaths(LoaderSchema as unknown as Zod, 'loader')).toEqual(expect.arrayContaining(['loader.decode.sampling', 'loader.normalize.std', 'loader.export.absolutePaths']));
    const fake = { def: { type: 'object' }, shape: { neverReadAnywhereXyz: { def: { type: 'number' } } } } as unknown as Zod;
    const leaf = keyPaths(fake, 'x')[0].split('.').pop()!;
    expect(new RegExp(`(\\.|\\?\\.)${leaf}\\b|[{,]\\s*${leaf}\\s*[,}:]`).test(text)).toBe(false);
  });
});
