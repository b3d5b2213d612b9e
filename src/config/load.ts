/**
 * Config loading: YAML → zod validation with defaults → a typed, resolved config. An invalid
 * config stops before any work with every bad key listed.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import YAML from 'yaml';
import { ConfigError, formatIssues } from './errors.js';
import { ConfigSchema, type Config } from './schema.js';
import { writeFileAtomic } from '../runtime/atomic.js';

export { ConfigError } from './errors.js';

/** Parse and validate a config object (already read from YAML). `file` names it in errors. */
export function parseConfig(raw: unknown, file = '<config>'): Config {
  const result = ConfigSchema.safeParse(raw ?? {}, { reportInput: true });
  if (!result.success) throw new ConfigError(file, formatIssues(result.error.issues));
  const config = result.data;
  if (!config.runDir) config.runDir = path.join('runs', config.name);
  return config;
}

/** Set a dotted key (e.g. "selection.ratio=0.1") in a raw config object; values are parsed as YAML. */
export function applyOverride(raw: Record<string, unknown>, assignment: string): void {
  const eq = assignment.indexOf('=');
  if (eq <= 0) throw new ConfigError('--set', [`"${assignment}": expected key.path=value`]);
  const keys = assignment.slice(0, eq).split('.');
  const value = YAML.parse(assignment.slice(eq + 1));
  let node: Record<string, unknown> = raw;
  for (const key of keys.slice(0, -1)) {
    if (typeof node[key] !== 'object' || node[key] === null) node[key] = {};
    node = node[key] as Record<string, unknown>;
  }
  node[keys[keys.length - 1]] = value;
}

/** Read a YAML config file, apply `--set` overrides, validate. */
export function loadConfig(file: string, overrides: string[] = []): Config {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigError(file, [`cannot read the file: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`]);
  }
  let raw: unknown;
  try {
    const doc = YAML.parseDocument(text, { prettyErrors: true });
    if (doc.errors.length > 0) throw new Error(doc.errors.map((e) => e.message).join('; '));
    raw = doc.toJS() ?? {};
  } catch (err) {
    throw new ConfigError(file, [`not valid YAML: ${(err as Error).message}`]);
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    throw new ConfigError(file, ['(top level): expected a mapping of sections']);
  }
  for (const o of overrides) applyOverride(raw as Record<string, unknown>, o);
  const config = parseConfig(raw, file);
  config.configFile = path.resolve(file);
  return config;
}

/** Write the resolved config (defaults filled in, seed included) into the run folder. */
export async function snapshotConfig(config: Config, runDir = config.runDir!): Promise<string> {
  const target = path.join(runDir, 'config.resolved.yaml');
  const { configFile: _ignored, ...rest } = config;
  await writeFileAtomic(target, `# resolved by avcurate; defaults filled in\n${YAML.stringify(rest)}`);
  return target;
}
