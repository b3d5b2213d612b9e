/**
 * How the CLI prints paths: relative to the working directory when every path of the line is
 * below it, else all absolute, so one output line never mixes the two forms.
 */
import path from 'node:path';

function below(p: string): string | null {
  const rel = path.relative(process.cwd(), path.resolve(p));
  return rel === '' ? '.' : rel.startsWith('..') || path.isAbsolute(rel) ? null : rel;
}

/** The paths of one output line, in one form (see above). */
export function displayPaths(...paths: string[]): string[] {
  const rel = paths.map(below);
  return rel.every((r) => r !== null) ? (rel as string[]) : paths.map((p) => path.resolve(p));
}

/** One path as the CLI prints it. */
export function displayPath(p: string): string {
  return displayPaths(p)[0];
}
