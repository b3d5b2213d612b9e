/** JSON Lines reading and appending, and the run folder's failures log. */
import { promises as fsp, createReadStream, appendFileSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import readline from 'node:readline';

export async function readJsonl<T = unknown>(file: string): Promise<T[]> {
  const out: T[] = [];
  for await (const row of iterJsonl<T>(file)) out.push(row);
  return out;
}

/** Stream rows of a JSONL file; a malformed line is an error naming the file and line number. */
export async function* iterJsonl<T = unknown>(file: string): AsyncGenerator<T> {
  const rl = readline.createInterface({ input: createReadStream(file, { encoding: 'utf8' }), crlfDelay: Infinity });
  let lineNo = 0;
  for await (const line of rl) {
    lineNo++;
    if (line.trim() === '') continue;
    try {
      yield JSON.parse(line) as T;
    } catch (err) {
      throw new Error(`${file}:${lineNo}: not valid JSON (${(err as Error).message})`);
    }
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

export interface FailureRecord {
  id: string;
  stage: string;
  reason: string;
  file?: string;
  [key: string]: unknown;
}

/**
 * failures.jsonl: one line per clip a stage could not use. Appends are single write calls of one
 * line (O_APPEND), so concurrent shard processes can share the file without interleaving lines.
 */
export class FailureLog {
  readonly file: string;
  count = 0;
  constructor(file: string) {
    this.file = file;
  }

  record(failure: FailureRecord): void {
    mkdirSync(path.dirname(this.file), { recursive: true });
    appendFileSync(this.file, JSON.stringify({ ...failure, time: new Date().toISOString() }) + '\n');
    this.count++;
  }

  /** Failures recorded so far (all stages, or one stage). */
  async read(stage?: string): Promise<FailureRecord[]> {
    if (!(await exists(this.file))) return [];
    const rows = await readJsonl<FailureRecord>(this.file);
    return stage ? rows.filter((r) => r.stage === stage) : rows;
  }
}
