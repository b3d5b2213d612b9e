/**
 * Paths in a config mean one thing: every path written in a config file is relative to that
 * file's folder, and every path given with `--set` is relative to the working directory. Both are
 * made absolute when the config is loaded, so no stage has to know where a path came from.
 *
 * The path-valued keys are listed here (`*` = every element of a list); a test checks that each
 * one exists in the schema. The default run folder (`runs/<name>`, when `runDir` is not set) is
 * not a path written in the config: it stays relative to the working directory.
 */
import path from 'node:path';

const DATASET_PATHS = ['path', 'root', 'splitsDir', 'videoDir'];

export const CONFIG_PATH_KEYS: readonly string[][] = [
  ['runDir'],
  ['corpus', 'source'],
  ['corpus', 'realPairs', 'root'],
  ...['audio', 'visual'].flatMap((m) => [
    ['features', m, '*', 'model'],
    ['features', m, '*', 'packageDir'],
  ]),
  ['loader', 'export', 'out'],
  ...DATASET_PATHS.map((k) => ['probe', 'dataset', k]),
  ...DATASET_PATHS.map((k) => ['experiment', 'tasks', '*', 'dataset', k]),
];

function isUrl(s: string): boolean {
  return /^[a-z][a-z0-9+.-]*:\/\//i.test(s);
}

/** Make every path-valued key of a raw (not yet validated) config object absolute against `base`. */
export function resolveConfigPaths(raw: Record<string, unknown>, base: string): void {
  const walk = (node: unknown, keys: string[]): void => {
    if (node === null || typeof node !== 'object') return;
    const [k, ...rest] = keys;
    if (k === '*') {
      if (Array.isArray(node)) for (const item of node) walk(item, rest);
      return;
    }
    const o = node as Record<string, unknown>;
    if (rest.length > 0) return walk(o[k], rest);
    const v = o[k];
    if (typeof v === 'string' && v !== '' && !path.isAbsolute(v) && !isUrl(v)) o[k] = path.resolve(base, v);
  };
  for (const keys of CONFIG_PATH_KEYS) walk(raw, keys);
}
