/** Config errors: every problem names the file, the key path, what was expected and what was found. */
import type { z } from 'zod';

export class ConfigError extends Error {
  readonly problems: string[];
  constructor(file: string, problems: string[]) {
    super(`invalid config ${file}:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
    this.problems = problems;
  }
}

export function formatPath(path: ReadonlyArray<PropertyKey>): string {
  let out = '';
  for (const part of path) {
    if (typeof part === 'number') out += `[${part}]`;
    else out += out === '' ? String(part) : `.${String(part)}`;
  }
  return out === '' ? '(top level)' : out;
}

function describeFound(input: unknown): string {
  if (input === undefined) return 'nothing (the key is missing)';
  if (input === null) return 'null';
  if (Array.isArray(input)) return `a list of ${input.length}`;
  if (typeof input === 'object') return 'a mapping';
  if (typeof input === 'number' && !Number.isFinite(input)) return `number ${Number.isNaN(input) ? '.nan (not a number)' : input > 0 ? '.inf' : '-.inf'}`;
  const text = JSON.stringify(input);
  return `${typeof input} ${text.length > 60 ? text.slice(0, 57) + '...' : text}`;
}

export function formatIssues(issues: ReadonlyArray<z.core.$ZodIssue>): string[] {
  const out: string[] = [];
  for (const issue of issues) {
    const where = formatPath(issue.path);
    const input = (issue as { input?: unknown }).input;
    if (issue.code === 'unrecognized_keys') {
      for (const key of issue.keys) {
        const at = formatPath([...issue.path, key]);
        out.push(`${at}: unknown key (expected one of the documented keys at ${where}), found ${describeFound((input as Record<string, unknown>)?.[key])}`);
      }
      continue;
    }
    out.push(`${where}: ${issue.message.replace(/^Invalid input: /, '')}; found ${describeFound(input)}`);
  }
  return out;
}
