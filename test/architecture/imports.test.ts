/**
 * The dependency rules of DESIGN.md, checked on the source tree: `src/loaders` imports nothing
 * from `src/curation`, `src/ssl` or `src/experiments` (a training loop can import
 * `avcurate/loaders` alone), and no file of `src/` is part of an import cycle — type-only and
 * dynamic imports included. A fixture tree shows that the checks catch each kind of violation.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { blankComments, forbiddenImports, importCycles, importGraph, importSpecifiers } from './import-graph.js';

const src = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../src');
const fixture = mkdtempSync(path.join(os.tmpdir(), 'avcurate-imports-'));
afterAll(() => rmSync(fixture, { recursive: true, force: true }));

function write(rel: string, text: string): void {
  const file = path.join(fixture, rel);
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, text);
}

const rel = (root: string) => (files: string[]) => files.map((f) => path.relative(root, f));

describe('import rules', () => {
  it('finds every kind of import and ignores commented-out ones', () => {
    const text = [
      `import { a } from './a.js';`,
      `import type { B } from "./b.js";`,
      `import './side-effect.js';`,
      `export * from './c.js';`,
      `export type { D } from './d.js';`,
      `import {`,
      `  e,`,
      `  type E,`,
      `} from './e.js';`,
      `// import { no } from './commented.js';`,
      `/* export * from './block-commented.js'; */`,
      `const s = "see './not-an-import.js' here";`,
      `export async function f() { const m = await import('./dynamic.js'); return m; }`,
      `type T = typeof import('./type-query.js');`,
    ].join('\n');
    expect(importSpecifiers(text)).toEqual(['./a.js', './b.js', './side-effect.js', './c.js', './d.js', './e.js', './dynamic.js', './type-query.js']);
  });

  it('the checks catch a forbidden import and cycles in a fixture tree (type-only and dynamic edges count)', () => {
    write('loaders/source.ts', `import type { Row } from '../curation/rows.js';\nexport const x = 1;\n`);
    write('loaders/later.ts', `export async function f() { return import('../ssl/model.js'); }\n`);
    write('loaders/ok.ts', `import { x } from './source.js';\n// import '../experiments/runner.js';\nexport const y = x;\n`);
    write('curation/rows.ts', `export interface Row { id: string }\n`);
    write('ssl/model.ts', `export const m = 1;\n`);
    write('experiments/runner.ts', `export const r = 1;\n`);
    // A type-only circle of three files.
    write('core/a.ts', `import type { B } from './b.js';\nexport interface A { b?: B }\n`);
    write('core/b.ts', `import type { C } from './c.js';\nexport interface B { c?: C }\n`);
    write('core/c.ts', `import type { A } from './a.js';\nexport interface C { a?: A }\n`);
    // A two-file circle through a dynamic import.
    write('run/p.ts', `export async function p() { return (await import('./q.js')).q; }\n`);
    write('run/q.ts', `import { p } from './p.js';\nexport const q = p;\n`);
    const { graph, unresolved } = importGraph(fixture);
    expect(unresolved).toEqual([]);
    expect(forbiddenImports(graph, fixture, 'loaders', ['curation', 'ssl', 'experiments'])).toEqual([
      `${path.join('loaders', 'later.ts')} -> ${path.join('ssl', 'model.ts')}`,
      `${path.join('loaders', 'source.ts')} -> ${path.join('curation', 'rows.ts')}`,
    ]);
    const cycles = importCycles(graph).map(rel(fixture)).sort((a, b) => a[0].localeCompare(b[0]));
    expect(cycles).toEqual([
      [path.join('core', 'a.ts'), path.join('core', 'b.ts'), path.join('core', 'c.ts')],
      [path.join('run', 'p.ts'), path.join('run', 'q.ts')],
    ]);
  });

  it('every src/**/index.ts names what it exports (no `export * from`; `export * as name` namespaces are explicit)', () => {
    const { graph } = importGraph(src);
    const offenders: string[] = [];
    for (const file of graph.keys()) {
      if (path.basename(file) !== 'index.ts') continue;
      const text = blankComments(readFileSync(file, 'utf8'));
      for (const m of text.matchAll(/^\s*export\s+(?:type\s+)?\*\s+from\s*['"]([^'"]+)['"]/gm)) offenders.push(`${path.relative(src, file)}: export * from '${m[1]}'`);
    }
    expect(offenders).toEqual([]);
  });

  it('src/loaders imports nothing from src/curation, src/ssl or src/experiments', () => {
    const { graph, unresolved } = importGraph(src);
    expect(graph.size).toBeGreaterThan(50);
    expect(unresolved).toEqual([]);
    expect(forbiddenImports(graph, src, 'loaders', ['curation', 'ssl', 'experiments'])).toEqual([]);
  });

  it('src/curation imports nothing from src/ssl (the encoder extractor and the bootstrap reach ssl through interfaces wired in src/experiments)', () => {
    const { graph } = importGraph(src);
    expect(forbiddenImports(graph, src, 'curation', ['ssl'])).toEqual([]);
  });

  it('no file of src/ is part of an import cycle (type-only and dynamic imports included)', () => {
    const { graph } = importGraph(src);
    expect(importCycles(graph).map(rel(src))).toEqual([]);
  });
});
