/** JSON Lines reading (the run folder's JSONL files have their schemas in src/run). */
import { promises as fsp, createReadStream } from 'node:fs';
import readline from 'node:readline';

export async function readJsonl<T = unknown>(file: string): Promise<T[]> {
  const out: T[] = [];
  for await (const row of iterJsonl<T>(file)) out.push(row);
  return out;
}

/**
 * Stream rows of a JSONL file; a malformed line is an error naming the file and line number.
 * `onLine` hears the 1-based line number of each row just before it is yielded. A line for which
 * `skip` (given the raw text) returns true is passed over without being parsed.
 */
export async function* iterJsonl<T = unknown>(file: string, onLine?: (line: number) => void, skip?: (line: string) => boolean): AsyncGenerator<T> {
  const rl = readline.createInterface({ input: createReadStream(file, { encoding: 'utf8' }), crlfDelay: Infinity });
  let lineNo = 0;
  for await (const line of rl) {
    lineNo++;
    if (line.trim() === '') continue;
    if (skip?.(line)) continue;
    let row: T;
    try {
      row = JSON.parse(line) as T;
    } catch (err) {
      throw new Error(`${file}:${lineNo}: not valid JSON (${(err as Error).message})`);
    }
    onLine?.(lineNo);
    yield row;
  }
}

export async function exists(file: string): Promise<boolean> {
  try {
    await fsp.access(file);
    return true;
  } catch {
    return false;
  }
}
