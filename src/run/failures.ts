/**
 * failures.jsonl: one line per clip (or input file) a stage could not use, with the stage and the
 * reason. Appends are single write calls of one line (O_APPEND), so concurrent shard processes
 * share the file without interleaving lines.
 */
import { appendFileSync, mkdirSync, promises as fsp } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { writeFileAtomic } from '../runtime/atomic.js';
import { exists, iterJsonl } from '../runtime/jsonl.js';

export const FailureRecordSchema = z
  .object({
    /** The clip id, or the input's name when no clip was made. */
    id: z.string(),
    /** The stage that refused it: ingest, extract, export, ... */
    stage: z.string().min(1),
    reason: z.string(),
    /** The file involved, when there is one. */
    file: z.string().optional(),
    /** ISO time the line was written. */
    time: z.string().optional(),
  })
  .loose();

export type FailureRecord = z.infer<typeof FailureRecordSchema>;

/** Read failures.jsonl (all stages, or one); a missing file is no failures; a bad line names the file and line. */
export async function readFailures(file: string, stage?: string): Promise<FailureRecord[]> {
  if (!(await exists(file))) return [];
  const out: FailureRecord[] = [];
  let line = 0;
  for await (const raw of iterJsonl<unknown>(file, (n) => (line = n))) {
    const r = FailureRecordSchema.safeParse(raw);
    if (!r.success) throw new Error(`${file}:${line}: not a failure record (${r.error.issues.map((i) => `${i.path.join('.') || '(record)'}: ${i.message}`).join('; ')})`);
    if (stage === undefined || r.data.stage === stage) out.push(r.data);
  }
  return out;
}

/**
 * Rewrite failures.jsonl atomically with this stage's lines replaced by `failures` (other stages'
 * lines are kept as they are): what a stage that rebuilds its whole output, such as ingest, writes.
 */
export async function replaceStageFailures(file: string, stage: string, failures: readonly FailureRecord[]): Promise<void> {
  const marker = `"stage":${JSON.stringify(stage)}`;
  let kept = '';
  if (await exists(file)) {
    kept = (await fsp.readFile(file, 'utf8'))
      .split('\n')
      .filter((l) => l.trim() && !l.includes(marker))
      .map((l) => l + '\n')
      .join('');
  }
  const now = new Date().toISOString();
  await writeFileAtomic(file, kept + failures.map((f) => JSON.stringify({ ...f, time: now }) + '\n').join(''));
}

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
  read(stage?: string): Promise<FailureRecord[]> {
    return readFailures(this.file, stage);
  }
}
