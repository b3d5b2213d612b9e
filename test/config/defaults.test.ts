/**
 * The config is the only source of defaults: no library code restates a schema default. The test
 * walks the zod schema to every key with a primitive default and greps src/ (outside src/config/)
 * for the ways code restates one (see `restated`): a fallback `<x>.key ?? <default>` (or `||`), a
 * default parameter or destructuring default, a `DEFAULT_KEY` constant, an object of defaults. A
 * function that needs a value takes it from its caller (who has the config), requires it, or reads
 * the schema's value from src/config/defaults.ts (CONFIG_DEFAULTS, SYNTH_DEFAULTS, defaultsOf(...)).
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { ConfigSchema } from '../../src/config/schema.js';
import { defOf, listTs } from '../helpers/source-files.js';
import { SynthSchema } from '../../src/config/sections/corpus.js';
import { MobileNetSchema, OnnxOutputSchema } from '../../src/config/sections/features.js';
import { CONFIG_DEFAULTS, MOBILENET_DEFAULTS, ONNX_OUTPUT_DEFAULTS, SYNTH_DEFAULTS } from '../../src/config/defaults.js';

const SRC = path.resolve('src');


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

type Value = string | number | boolean;

/** The value a literal token spells (`20`, `1e-4`, `20_000`, `1 << 30`, `2 ** 30`, `'auto'`, `true`), or undefined. */
function literalValue(token: string): Value | undefined {
  const t = token.trim();
  const str = /^(['"`])([^'"`\\$]*)\1$/.exec(t);
  if (str) return str[2];
  if (t === 'true' || t === 'false') return t === 'true';
  const num = (x: string) => (/^-?(\d[\d_]*)?\.?\d[\d_]*(e[-+]?\d+)?$/i.test(x) ? Number(x.replace(/_/g, '')) : NaN);
  const op = /^(.+?)\s*(<<|\*\*)\s*(.+)$/.exec(t);
  const v = op ? (op[2] === '<<' ? num(op[1]) * 2 ** num(op[3]) : num(op[1]) ** num(op[3])) : num(t);
  return Number.isNaN(v) ? undefined : v;
}

/** A literal token: a quoted string without interpolation, a boolean, or a number (with `<<` / `**` of two numbers). */
const LIT = String.raw`(?:'[^'\\]*'|"[^"\\]*"|\x60[^\x60\\$]*\x60|true|false|-?[\d.][\d_.]*(?:e[-+]?\d+)?(?:\s*(?:<<|\*\*)\s*[\d.][\d_.]*)?)(?![\w.])`;
const ID = String.raw`[A-Za-z_$][\w$]*`;

/**
 * Whether an identifier names `key`: the key itself, or the key with a word that says "default"
 * around it (`presetOpt`, `defaultBatchSize`, `DEFAULT_MAX_ROWS` for `maxRows`, `fallbackSeed`).
 * Other compounds are other things (`patchSeconds` is not `seconds`, `imageWidth` not `width`).
 */
const DEFAULT_WORDS = new Set(['default', 'defaults', 'def', 'fallback', 'initial', 'opt', 'opts', 'option', 'options']);
function namesKey(name: string, key: string): boolean {
  if (name === key) return true;
  const n = name.replace(/_/g, '').toLowerCase();
  const k = key.toLowerCase();
  if (n === k) return true;
  const at = n.indexOf(k);
  return at >= 0 && [n.slice(0, at), n.slice(at + k.length)].every((w) => w === '' || DEFAULT_WORDS.has(w));
}

/** Source with comments blanked (line numbers kept). */
function blankComments(text: string): string {
  return text.replace(/\/\*[\s\S]*?\*\//g, (c) => c.replace(/[^\n]/g, ' ')).replace(/(^|[^:'"`\\])\/\/.*$/gm, '$1');
}

/**
 * The object literals of a text that hold defaults: the entries before a spread at their top level
 * (`{ key: 20, ...opts }`; after it they override: `{ ...opts, key: 0 }`) and every entry of a
 * literal a `DEFAULT...` constant is set to. Yields those `name: literal` entries with their line numbers.
 */
function defaultObjectEntries(text: string): Array<{ line: number; name: string; token: string }> {
  const out: Array<{ line: number; name: string; token: string }> = [];
  const starts = [0];
  for (let i = 0; i < text.length; i++) if (text[i] === '\n') starts.push(i + 1);
  const lineOf = (at: number) => {
    let lo = 0;
    let hi = starts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (starts[mid] <= at) lo = mid;
      else hi = mid - 1;
    }
    return lo + 1;
  };
  const defaultConst = new RegExp(String.raw`\bconst\s+DEFAULT\w*\s*(?::[^=]+)?=\s*$`);
  const entry = new RegExp(String.raw`(?:^|[,\n])\s*(${ID})\s*:\s*(${LIT})\s*(?=,|\n|$)`, 'g');
  const stack: Array<{ open: number; depth: number }> = [];
  let quote: string | null = null;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quote) {
      if (c === '\\') i++;
      else if (c === quote) quote = null;
      continue;
    }
    if (c === "'" || c === '"' || c === '`') quote = c;
    else if (c === '{') stack.push({ open: i, depth: stack.length });
    else if (c === '}' && stack.length > 0) {
      const { open } = stack.pop()!;
      const body = text.slice(open + 1, i);
      // Top level of the literal only: blank nested braces, brackets and parentheses.
      let top = '';
      let d = 0;
      for (const ch of body) {
        if ('{[('.includes(ch)) d++;
        top += d > 0 ? (ch === '\n' ? '\n' : ' ') : ch;
        if ('}])'.includes(ch)) d--;
      }
      const before = text.slice(Math.max(0, open - 200), open);
      // Entries before a spread are defaults the spread may override; entries after it override.
      const spread = top.lastIndexOf('...');
      const isConst = defaultConst.test(before);
      if (spread < 0 && !isConst) continue;
      for (const m of top.matchAll(entry)) {
        if (!isConst && m.index! > spread) continue;
        const at = open + 1 + m.index! + m[0].indexOf(m[1]);
        out.push({ line: lineOf(at), name: m[1], token: m[2] });
      }
    }
  }
  return out;
}

type SourceFile = { file: string; text: string };
type Candidate = { line: number; name: string; value: Value };

// Lookaheads, so that overlapping candidates on one line are all tried.
const LINE_PATTERNS = [
  // x.key ?? v, key || v, pick(o.key, p) ?? v
  String.raw`(?<![\w$])(?=(${ID})(?:\s*\([^()]*\)|\b[^()\n;]*\))?\s*(?:\?\?|\|\|)\s*(${LIT}))`,
  // (key = v), { key = v }, key: Type = v (parameters, destructuring, class fields)
  String.raw`(?:^|[({,])\s*(?:readonly\s+)?(?=(${ID})\??\s*(?::\s*[^=;(){}]+?)?\s*=\s*(${LIT})\s*(?:[,)}]|$))`,
  // const DEFAULT_KEY = v, const keyDefault: number = v
  String.raw`\b(?:const|let|var)\s+(?=(${ID})\s*(?::\s*[^=;]+?)?\s*=\s*(${LIT})\s*;)`,
  // a CLI option's default: .option('sample-rate', { type: 'number', default: 16000 })
  String.raw`\.(?:option|positional)\(\s*['"]([\w-]+)['"]\s*,\s*\{[^{}]*?\bdefault:\s*(${LIT})`,
].map((p) => new RegExp(p, 'g'));
/** `sample-rate` → `sampleRate` (CLI options are the config keys in kebab case). */
const camel = (name: string) => name.replace(/-(\w)/g, (_, c: string) => c.toUpperCase());

const scanned = new WeakMap<SourceFile, Candidate[]>();

/** Every (line, name, literal value) of a file that would restate a default if the name named its key. */
function candidates(f: SourceFile): Candidate[] {
  let out = scanned.get(f);
  if (out) return out;
  out = [];
  const text = blankComments(f.text);
  text.split('\n').forEach((line, i) => {
    for (const p of LINE_PATTERNS) {
      for (const m of line.matchAll(p)) {
        const value = literalValue(m[2]);
        if (value !== undefined) out!.push({ line: i + 1, name: camel(m[1]), value });
      }
    }
  });
  for (const e of defaultObjectEntries(text)) {
    const value = literalValue(e.token);
    // Object entries name their key exactly (`{ batchSize: 20, ...opts }`).
    if (value !== undefined) out.push({ line: e.line, name: `=${e.name}`, value });
  }
  scanned.set(f, out);
  return out;
}

/**
 * Places that restate `key`'s default `value`: "file:line: text". Caught: a fallback
 * `<x>.key ?? v`, `key || v`, `pick(o.key, p) ?? v`; a default parameter or destructuring default
 * `(key = v)`, `{ key = v }`, `key: Type = v`; a CLI option's `default: v` (`--sample-rate` is
 * `sampleRate`); a constant `const DEFAULT_KEY = v`; and an entry
 * `key: v` of an object literal of defaults (one with a spread, or a `DEFAULT...` constant).
 * Numbers match however they are written (`1e-4` is `0.0001`, `1 << 30` is `2 ** 30`).
 */
function restated(files: SourceFile[], key: string, value: Value): string[] {
  const out: string[] = [];
  for (const f of files) {
    const lines = new Set<number>();
    for (const c of candidates(f)) {
      if (c.value === value && (c.name.startsWith('=') ? c.name.slice(1) === key : namesKey(c.name, key))) lines.add(c.line);
    }
    const text = f.text.split('\n');
    for (const n of [...lines].sort((a, b) => a - b)) out.push(`${f.file}:${n}: ${text[n - 1].trim()}`);
  }
  return out;
}

describe('defaults live in the config schema only', () => {
  it('no code outside src/config restates a schema default', () => {
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
    const ids = [...found.keys()].sort();
    expect(ids, `schema defaults restated in code (take them from the caller's config, or from src/config/defaults.ts):\n  ${ids.map((id) => `${id}\n      ${found.get(id)!.join('\n      ')}`).join('\n  ')}`).toEqual([]);
  });

  it('src/config/defaults.ts holds the schema\'s own values, as frozen copies', () => {
    expect(CONFIG_DEFAULTS).toEqual(ConfigSchema.parse({}));
    expect(SYNTH_DEFAULTS).toEqual(SynthSchema.parse({}));
    const { output: _o, ...outputDefaults } = OnnxOutputSchema.parse({ output: 'x' });
    expect(ONNX_OUTPUT_DEFAULTS).toEqual(outputDefaults);
    const { type: _t, ...mobilenet } = MobileNetSchema.parse({ type: 'mobilenet-nsfwjs' });
    expect(MOBILENET_DEFAULTS).toEqual(mobilenet);
    expect(Object.isFrozen(CONFIG_DEFAULTS.selection.refine)).toBe(true);
    expect(() => {
      (CONFIG_DEFAULTS.selection as { batchSize: number }).batchSize = 1;
    }).toThrow(TypeError);
    // zod hands out its default objects by reference: a parsed config must stay writable.
    const parsed = ConfigSchema.parse({});
    expect(Object.isFrozen(parsed.selection.refine) || Object.isFrozen(parsed.experiment.arms)).toBe(false);
  });

  it('the check catches the patterns it is for', () => {
    const f = [{ file: 'x.ts', text: 'const r = opts.ratio ?? 0.2;\nconst { epochs = 3 } = o;\nconst q = ratio ?? 0.25;\nconst s = x.seed ?? 0;' }];
    expect(restated(f, 'ratio', 0.2)).toEqual(['x.ts:1: const r = opts.ratio ?? 0.2;']);
    expect(restated(f, 'epochs', 3)).toHaveLength(1);
    expect(restated(f, 'ratio', 0.25)).toHaveLength(1);
    expect(restated(f, 'seed', 0)).toHaveLength(1);
    expect(restated(f, 'seed', 0.5)).toHaveLength(0);
    const more = (text: string, key: string, value: Value) => restated([{ file: 'y.ts', text }], key, value).length;
    // The line the check exists for, and its spellings.
    expect(more('const B = opts.batchSize ?? 20;', 'batchSize', 20)).toBe(1);
    expect(more('const B = opts?.batchSize || 20;', 'batchSize', 20)).toBe(1);
    expect(more('const tol = opts.tolerance ?? 1e-4;', 'tolerance', 0.0001)).toBe(1);
    expect(more('const m = o.maxRows ?? 20_000;', 'maxRows', 20000)).toBe(1);
    expect(more("const b = opts.backend ?? `auto`;", 'backend', 'auto')).toBe(1);
    expect(more('this.maxItems = pick(o.maxBatchItems, this.provider) ?? 32;', 'maxBatchItems', 32)).toBe(1);
    expect(more("resolvePreprocess(presetOpt ?? 'imagenet', o);", 'preset', 'imagenet')).toBe(1);
    // Default parameters, destructuring and class fields.
    expect(more('export function f(x: number, batchSize = 20) {}', 'batchSize', 20)).toBe(1);
    expect(more("export function f(d: number[], pool: Pooling = 'mean') {}", 'pool', 'mean')).toBe(1);
    expect(more("function f(\n  estimator: Estimator = 'miller-madow',\n) {}", 'estimator', 'miller-madow')).toBe(1);
    expect(more('constructor(seed: number | string = 0) {}', 'seed', 0)).toBe(1);
    expect(more('const { batchSize = 20, ...rest } = opts;', 'batchSize', 20)).toBe(1);
    expect(more(".option('sample-rate', { type: 'number', default: 16000 })", 'sampleRate', 16000)).toBe(1);
    expect(more(".option('clips', { type: 'number', default: 200, describe: 'number of clips' })", 'clips', 200)).toBe(1);
    // Constants and objects of defaults.
    expect(more('const DEFAULT_MAX_ROWS = 20_000;', 'maxRows', 20000)).toBe(1);
    expect(more('export const DEFAULT_MAX_MEMBER_BYTES = 1 << 30;', 'maxMemberBytes', 2 ** 30)).toBe(1);
    expect(more("export const DEFAULT_AUTO: Auto = {\n  candidates: 'bipartite',\n  alpha: 0.01,\n};", 'alpha', 0.01)).toBe(1);
    expect(more("this.o = {\n  layout: 'NCHW',\n  frames: 8,\n  ...stripUndefined(options),\n};", 'frames', 8)).toBe(1);
    expect(more("const r = { enabled: true, ...(opts.refine ?? {}) };", 'enabled', true)).toBe(1);
    // Not restatements: another value, another name, a value taken from the config, a plain object.
    expect(more('const B = opts.batchSize ?? 21;', 'batchSize', 20)).toBe(0);
    expect(more('const B = opts.count ?? 20;', 'batchSize', 20)).toBe(0);
    expect(more('const n = (o.patchSeconds ?? 1) * rate;', 'seconds', 1)).toBe(0);
    expect(more('export const VGGISH_EXAMPLE_FRAMES = 96;', 'frames', 96)).toBe(0);
    expect(more('const B = opts.batchSize ?? CONFIG_DEFAULTS.selection.batchSize;', 'batchSize', 20)).toBe(0);
    expect(more("const p = { kind: 'folds', k: 5 };", 'k', 5)).toBe(0);
    expect(more('const frames = { frames: 8, width: 4 };', 'frames', 8)).toBe(0);
    expect(more('const round = { ...b, rounds: 0 };', 'rounds', 0)).toBe(0);
    expect(more('// const B = opts.batchSize ?? 20;\n/* batchSize = 20, */', 'batchSize', 20)).toBe(0);
    expect(more('if (opts.k > 5) return ok ?? 5;', 'k', 5)).toBe(0);
  });
});
