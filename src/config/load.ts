/**
 * Config loading: YAML → zod validation with defaults → a typed, resolved config. An invalid
 * config stops before any work with every bad key listed.
 */
import { closeSync, constants, fstatSync, openSync, readSync } from 'node:fs';
import path from 'node:path';
import YAML from 'yaml';
import { ConfigError, formatIssues } from './errors.js';
import { ConfigSchema, type Config } from './schema.js';
import { writeFileAtomic, cleanStaleTemps } from '../runtime/atomic.js';
import { resolveConfigPaths } from './paths.js';
import { runLayout } from '../run/layout.js';

export { ConfigError } from './errors.js';

/** Largest config file read (bytes); a config is a few KB. AVCURATE_MAX_CONFIG_BYTES overrides. */
export const MAX_CONFIG_BYTES = 1 << 20;
/** Most YAML alias expansions in one config (anchors and `*alias` references: "billion laughs" stops here). */
export const MAX_YAML_ALIASES = 1000;

/**
 * Read a config file with limits: a regular file only (a FIFO would block, /dev/zero never ends),
 * at most MAX_CONFIG_BYTES. Opened non-blocking and checked with fstat on the open descriptor.
 */
export function readConfigText(file: string, maxBytes = Number(process.env.AVCURATE_MAX_CONFIG_BYTES ?? MAX_CONFIG_BYTES)): string {
  let fd: number;
  try {
    fd = openSync(file, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch (err) {
    throw new ConfigError(file, [`cannot read the file: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`]);
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) {
      const kind = st.isDirectory() ? 'a folder' : st.isFIFO() ? 'a FIFO' : st.isCharacterDevice() || st.isBlockDevice() ? 'a device' : st.isSocket() ? 'a socket' : 'not a regular file';
      throw new ConfigError(file, [`cannot read the file: it is ${kind}; a config must be a regular file`]);
    }
    if (st.size > maxBytes) throw new ConfigError(file, [`the file is ${st.size} bytes, over the limit of ${maxBytes} for a config (AVCURATE_MAX_CONFIG_BYTES)`]);
    const buf = Buffer.alloc(Math.min(st.size, maxBytes) + 1);
    let got = 0;
    for (;;) {
      const n = readSync(fd, buf, got, buf.length - got, null);
      if (n === 0) break;
      got += n;
      if (got > maxBytes) throw new ConfigError(file, [`the file grew over the limit of ${maxBytes} bytes while being read`]);
    }
    return buf.toString('utf8', 0, got);
  } finally {
    closeSync(fd);
  }
}

/** Parse and validate a config object (already read from YAML). `file` names it in errors. */
export function parseConfig(raw: unknown, file = '<config>'): Config {
  const result = ConfigSchema.safeParse(raw ?? {}, { reportInput: true });
  if (!result.success) throw new ConfigError(file, formatIssues(result.error.issues));
  const config = result.data;
  if (!config.runDir) config.runDir = path.join('runs', config.name);
  else if (config.runDir.split(/[\\/]/).includes('..')) {
    // '..' in a run folder is where a careless path escapes: resolve it, and say so (reliab).
    const resolved = path.resolve(config.runDir);
    process.stderr.write(`config ${file}: runDir "${config.runDir}" has a '..' part; using ${resolved}\n`);
    config.runDir = resolved;
  }
  return config;
}

/** Set a dotted key (e.g. "selection.ratio=0.1") in a raw config object; values are parsed as YAML. */
export function applyOverride(raw: Record<string, unknown>, assignment: string): void {
  const eq = assignment.indexOf('=');
  if (eq <= 0) throw new ConfigError('--set', [`"${assignment}": expected key.path=value`]);
  setKey(raw, assignment.slice(0, eq).split('.'), YAML.parse(assignment.slice(eq + 1)));
}

function setKey(raw: Record<string, unknown>, keys: string[], value: unknown): void {
  let node: Record<string, unknown> = raw;
  for (const key of keys.slice(0, -1)) {
    if (typeof node[key] !== 'object' || node[key] === null) node[key] = {};
    node = node[key] as Record<string, unknown>;
  }
  node[keys[keys.length - 1]] = value;
}

/** Read a YAML config file, apply `--set` overrides, validate. */
export function loadConfig(file: string, overrides: string[] = []): Config {
  const text = readConfigText(file);
  let raw: unknown;
  try {
    const doc = YAML.parseDocument(text, { prettyErrors: true });
    if (doc.errors.length > 0) throw new Error(doc.errors.map((e) => e.message).join('; '));
    raw = doc.toJS({ maxAliasCount: MAX_YAML_ALIASES }) ?? {};
  } catch (err) {
    throw new ConfigError(file, [`not valid YAML: ${(err as Error).message}`]);
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    throw new ConfigError(file, ['(top level): expected a mapping of sections']);
  }
  const experiment = (raw as Record<string, unknown>).experiment as Record<string, unknown> | undefined;
  if (experiment && typeof experiment === 'object' && 'realPairs' in experiment) {
    throw new ConfigError(file, ['experiment.realPairs: moved to corpus.realPairs (one of corpus.synth, corpus.source, corpus.realPairs)']);
  }
  // Paths in the file are relative to its folder; paths given with --set to the working directory.
  const givenRunDir = (raw as Record<string, unknown>).runDir;
  resolveConfigPaths(raw as Record<string, unknown>, path.dirname(path.resolve(file)));
  if (typeof givenRunDir === 'string' && givenRunDir.split(/[\\/]/).includes('..')) {
    // '..' in a run folder is where a careless path escapes: say where it resolved (reliab).
    process.stderr.write(`config ${file}: runDir "${givenRunDir}" has a '..' part; using ${(raw as Record<string, unknown>).runDir}\n`);
  }
  for (const o of overrides) {
    const own: Record<string, unknown> = {};
    applyOverride(own, o);
    resolveConfigPaths(own, process.cwd());
    const keys = o.slice(0, o.indexOf('=')).split('.');
    let value: unknown = own;
    for (const k of keys) value = (value as Record<string, unknown>)[k];
    setKey(raw as Record<string, unknown>, keys, value);
  }
  const config = parseConfig(raw, file);
  config.configFile = path.resolve(file);
  return config;
}

/** Write the resolved config (defaults filled in, seed included) into the run folder. */
export async function snapshotConfig(config: Config, runDir = config.runDir!): Promise<string> {
  const target = runLayout(runDir).configResolved;
  const { configFile: _ignored, ...rest } = config;
  // Stages that lock a subfolder (export locks its shards folder) never sweep the run folder's top
  // level, so a snapshot cut short by a kill would outlive every rerun: clear dead writers' here.
  await cleanStaleTemps(path.dirname(target));
  await writeFileAtomic(target, `# resolved by avcurate; defaults filled in\n${YAML.stringify(rest)}`);
  return target;
}
