/** Shared by the benchmark scripts: CPU time of the processes a benchmark spawned. */
import { readFileSync } from 'node:fs';

/** CPU seconds of this process's waited-for children (Linux /proc; null elsewhere). */
export function childCpu(): number | null {
  try {
    const stat = readFileSync('/proc/self/stat', 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(f[13]) + Number(f[14])) / 100; // cutime + cstime, in USER_HZ (100 on Linux)
  } catch {
    return null;
  }
}
