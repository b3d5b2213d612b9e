/**
 * The import graph of a TypeScript source tree, for the architecture tests: every relative
 * import of every file — static, type-only (`import type`, `export type ... from`), side-effect
 * (`import './x.js'`) and dynamic with a literal specifier (`import('./x.js')`) — resolved to a
 * file. Comments are blanked first, so a commented-out import is not an edge; string contents are
 * kept only where a specifier can stand.
 */
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';

export type ImportGraph = Map<string, Set<string>>;

/** The text with // and /* *\/ comments replaced by spaces (newlines kept), strings and templates untouched. */
export function blankComments(text: string): string {
  let out = '';
  let i = 0;
  const n = text.length;
  while (i < n) {
    const c = text[i];
    const next = text[i + 1];
    if (c === '/' && next === '/') {
      while (i < n && text[i] !== '\n') {
        out += ' ';
        i++;
      }
    } else if (c === '/' && next === '*') {
      const end = text.indexOf('*/', i + 2);
      const stop = end < 0 ? n : end + 2;
      for (; i < stop; i++) out += text[i] === '\n' ? '\n' : ' ';
    } else if (c === '"' || c === "'" || c === '`') {
      // Copy the literal as is, honouring escapes (template ${} nesting holds no quotes of concern
      // in specifier positions, so a flat scan to the closing quote is enough here).
      out += c;
      i++;
      while (i < n && text[i] !== c) {
        if (text[i] === '\\') {
          out += text[i];
          i++;
        }
        if (i < n) out += text[i];
        i++;
      }
      if (i < n) out += text[i];
      i++;
    } else {
      out += c;
      i++;
    }
  }
  return out;
}

/** Every module specifier a file imports or re-exports, in order of appearance. */
export function importSpecifiers(text: string): string[] {
  const code = blankComments(text);
  const specs: Array<{ at: number; spec: string }> = [];
  // import ... from 'x' / export ... from 'x' (also `import type`, `export type`, `export *`), at a statement start.
  for (const m of code.matchAll(/(?:^|[;}\n])\s*(?:import|export)\s+(?!\()[^;'"`]*?\bfrom\s*(['"])([^'"\n]+)\1/g)) specs.push({ at: m.index!, spec: m[2] });
  // import 'x' (side effects only).
  for (const m of code.matchAll(/(?:^|[;}\n])\s*import\s*(['"])([^'"\n]+)\1/g)) specs.push({ at: m.index!, spec: m[2] });
  // import('x') with a literal specifier, anywhere in an expression (also inside `typeof import('x')`).
  for (const m of code.matchAll(/\bimport\s*\(\s*(['"])([^'"\n]+)\1\s*[,)]/g)) specs.push({ at: m.index!, spec: m[2] });
  return specs.sort((a, b) => a.at - b.at).map((s) => s.spec);
}

/** The .ts file a relative specifier names (`./x.js` → x.ts, a folder → its index.ts), or null. */
export function resolveSpecifier(fromFile: string, spec: string): string | null {
  if (!spec.startsWith('.')) return null; // a package or node: builtin
  const base = path.resolve(path.dirname(fromFile), spec);
  const candidates = [base.replace(/\.js$/, '.ts'), base.replace(/\.mjs$/, '.mts'), base, `${base}.ts`, path.join(base, 'index.ts')];
  for (const c of candidates) if (existsSync(c) && statSync(c).isFile()) return c;
  return null;
}

/** The graph of every .ts file under `root` (declaration files and tests excluded). Unresolvable relative imports are listed. */
export function importGraph(root: string): { graph: ImportGraph; unresolved: string[] } {
  const graph: ImportGraph = new Map();
  const unresolved: string[] = [];
  const walk = (dir: string) => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const p = path.join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else if (/\.m?ts$/.test(e.name) && !e.name.endsWith('.d.ts') && !e.name.endsWith('.test.ts')) graph.set(p, new Set());
    }
  };
  walk(root);
  for (const [file, deps] of graph) {
    for (const spec of importSpecifiers(readFileSync(file, 'utf8'))) {
      const target = resolveSpecifier(file, spec);
      if (target) deps.add(target);
      else if (spec.startsWith('.')) unresolved.push(`${path.relative(root, file)}: ${spec}`);
    }
  }
  return { graph, unresolved };
}

/** Strongly connected components with more than one file, or a file importing itself: the import cycles. */
export function importCycles(graph: ImportGraph): string[][] {
  // Tarjan's algorithm, iterative (no recursion limit on deep graphs).
  let counter = 0;
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const onStack = new Set<string>();
  const stack: string[] = [];
  const cycles: string[][] = [];
  for (const start of graph.keys()) {
    if (index.has(start)) continue;
    const work: Array<{ v: string; it: Iterator<string> }> = [];
    const visit = (v: string) => {
      index.set(v, counter);
      low.set(v, counter++);
      stack.push(v);
      onStack.add(v);
      work.push({ v, it: (graph.get(v) ?? new Set<string>()).values() });
    };
    visit(start);
    while (work.length > 0) {
      const top = work[work.length - 1];
      const next = top.it.next();
      if (!next.done) {
        const w = next.value;
        if (!graph.has(w)) continue;
        if (!index.has(w)) visit(w);
        else if (onStack.has(w)) low.set(top.v, Math.min(low.get(top.v)!, index.get(w)!));
        continue;
      }
      work.pop();
      if (work.length > 0) {
        const parent = work[work.length - 1].v;
        low.set(parent, Math.min(low.get(parent)!, low.get(top.v)!));
      }
      if (low.get(top.v) === index.get(top.v)) {
        const component: string[] = [];
        let w: string;
        do {
          w = stack.pop()!;
          onStack.delete(w);
          component.push(w);
        } while (w !== top.v);
        if (component.length > 1 || graph.get(top.v)!.has(top.v)) cycles.push(component.sort());
      }
    }
  }
  return cycles;
}

/** Imports from files under `fromDir` into files under any of `forbidden` (folders relative to root). */
export function forbiddenImports(graph: ImportGraph, root: string, fromDir: string, forbidden: readonly string[]): string[] {
  const inside = (file: string, dir: string) => {
    const rel = path.relative(path.join(root, dir), file);
    return rel !== '' && !rel.startsWith('..') && !path.isAbsolute(rel);
  };
  const out: string[] = [];
  for (const [file, deps] of graph) {
    if (!inside(file, fromDir)) continue;
    for (const d of deps) if (forbidden.some((f) => inside(d, f))) out.push(`${path.relative(root, file)} -> ${path.relative(root, d)}`);
  }
  return out.sort();
}
