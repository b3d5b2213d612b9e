/**
 * The stage ledger of a run: `<runDir>/stages/<stage>.json` records that a stage finished, with
 * the key of its inputs (config section, upstream outputs, file fingerprints), how long it took,
 * the files it produced and a small JSON summary. A rerun skips a stage whose record exists with
 * the same key and whose outputs still exist (and, where recorded, are unchanged), and returns
 * the recorded summary; a stage killed mid-way has no record (records are written atomically
 * after the work), so it runs again and resumes from whatever the stage itself checkpointed.
 */
import { existsSync, promises as fsp, statSync } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { writeJsonAtomic } from '../runtime/atomic.js';
import { log } from '../runtime/progress.js';
import { stableKey } from './hash.js';
import { runLayout } from './layout.js';

export { stableKey } from './hash.js';

export const StageRecordSchema = z.object({
  stage: z.string(),
  key: z.string(),
  seconds: z.number(),
  finishedAt: z.string(),
  /** Files the stage produced, relative to the run folder; the record is void when any is gone. */
  outputs: z.array(z.string()).default([]),
  /** Size and mtime of each output when the stage finished ("size:mtimeMs"), where recorded: the record is void when an output changed since. */
  stamps: z.record(z.string(), z.string()).optional(),
  summary: z.unknown(),
});

export interface StageRecord<T = unknown> extends Omit<z.infer<typeof StageRecordSchema>, 'summary'> {
  summary: T;
}

export interface StageTiming {
  stage: string;
  seconds: number;
  /** 'skipped' when a finished output was found and the stage did not run again. */
  status: 'ran' | 'skipped';
}

export interface StageResult<T> {
  summary: T;
  /** Files the stage produced (checked on the next run). */
  outputs?: string[];
  /** Also void the record when one of the outputs is modified later (size or time differ). */
  stampOutputs?: boolean;
}

/** Size and modification time of a file ('' when missing). */
export function fileStamp(file: string): string {
  try {
    const st = statSync(file);
    return `${st.size}:${st.mtimeMs}`;
  } catch {
    return '';
  }
}

export class StageLedger {
  readonly runDir: string;
  readonly dir: string;
  readonly timings: StageTiming[] = [];
  private readonly silent: boolean;

  constructor(runDir: string, opts: { silent?: boolean } = {}) {
    const layout = runLayout(runDir);
    this.runDir = layout.root;
    this.dir = layout.stagesDir;
    this.silent = opts.silent ?? false;
  }

  fileOf(stage: string): string {
    return runLayout(this.runDir).stage(stage);
  }

  /** The record of a stage as stored (whatever its key), or null when absent or unreadable. */
  async record<T>(stage: string): Promise<StageRecord<T> | null> {
    let raw: unknown;
    try {
      raw = JSON.parse(await fsp.readFile(this.fileOf(stage), 'utf8'));
    } catch {
      return null;
    }
    const r = StageRecordSchema.safeParse(raw);
    if (!r.success || r.data.stage !== stage) return null;
    return r.data as StageRecord<T>;
  }

  /** The finished record of a stage, when it exists, matches `key` and its outputs exist (unchanged, where stamped). */
  async finished<T>(stage: string, key: string): Promise<StageRecord<T> | null> {
    const rec = await this.record<T>(stage);
    if (!rec || rec.key !== key) return null;
    for (const out of rec.outputs) {
      const file = path.resolve(this.runDir, out);
      if (!existsSync(file)) return null;
      const stamp = rec.stamps?.[out];
      if (stamp !== undefined && fileStamp(file) !== stamp) return null;
    }
    return rec;
  }

  /**
   * Run `fn` unless the stage already finished with this key; record it when it completes.
   * Returns the stage's summary either way.
   */
  async run<T>(stage: string, keyInput: unknown, fn: () => Promise<StageResult<T>>): Promise<T> {
    return (await this.runWithStatus(stage, keyInput, fn)).summary;
  }

  /** As `run`, and says whether the stage ran or was skipped. */
  async runWithStatus<T>(stage: string, keyInput: unknown, fn: () => Promise<StageResult<T>>): Promise<{ summary: T; skipped: boolean; seconds: number }> {
    const key = stableKey(keyInput);
    const done = await this.finished<T>(stage, key);
    if (done) {
      this.timings.push({ stage, seconds: done.seconds, status: 'skipped' });
      if (!this.silent) log(`[${stage}] finished earlier (${done.seconds.toFixed(1)} s), skipped`);
      return { summary: done.summary, skipped: true, seconds: done.seconds };
    }
    if (!this.silent) log(`[${stage}] running`);
    const t0 = performance.now();
    const result = await fn();
    const seconds = (performance.now() - t0) / 1000;
    const outputs = (result.outputs ?? []).map((o) => (path.isAbsolute(o) ? path.relative(this.runDir, o) : o));
    const rec: StageRecord<T> = {
      stage,
      key,
      seconds,
      finishedAt: new Date().toISOString(),
      outputs,
      ...(result.stampOutputs ? { stamps: Object.fromEntries(outputs.map((o) => [o, fileStamp(path.resolve(this.runDir, o))])) } : {}),
      summary: result.summary,
    };
    await writeJsonAtomic(this.fileOf(stage), rec);
    this.timings.push({ stage, seconds, status: 'ran' });
    if (!this.silent) log(`[${stage}] done in ${seconds.toFixed(1)} s`);
    return { summary: result.summary, skipped: false, seconds };
  }

  /**
   * Record the current size and time of a finished stage's outputs (after the caller changed them
   * on purpose, e.g. appended to the manifest), so the change does not void the record.
   */
  async restamp(stage: string): Promise<void> {
    const rec = await this.record(stage);
    if (!rec) return;
    const stamps = Object.fromEntries(rec.outputs.map((o) => [o, fileStamp(path.resolve(this.runDir, o))]));
    await writeJsonAtomic(this.fileOf(stage), { ...rec, stamps });
  }

  /** Forget a stage (and so everything keyed on its output reruns). */
  async invalidate(stage: string): Promise<void> {
    await fsp.rm(this.fileOf(stage), { force: true });
  }
}
