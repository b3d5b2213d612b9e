/**
 * The stage ledger of a run: `<runDir>/stages/<stage>.json` records that a stage finished, with
 * the key of its inputs (config section, upstream outputs), how long it took, and a small JSON
 * summary of what it produced. A rerun skips a stage whose record exists with the same key and
 * whose outputs still exist, and returns the recorded summary; a stage killed mid-way has no
 * record (records are written atomically after the work), so it runs again and resumes from
 * whatever the stage itself checkpointed.
 */
import { createHash } from 'node:crypto';
import { existsSync, promises as fsp } from 'node:fs';
import path from 'node:path';
import { writeJsonAtomic } from '../runtime/atomic.js';
import { log } from '../runtime/progress.js';
import type { StageTiming } from './results.js';

export interface StageRecord<T = unknown> {
  stage: string;
  key: string;
  seconds: number;
  finishedAt: string;
  /** Files the stage produced; the record is void when any is gone. */
  outputs: string[];
  summary: T;
}

/** A stable hash of any JSON-serialisable value (object keys sorted). */
export function stableKey(value: unknown): string {
  const canon = (v: unknown): unknown => {
    if (Array.isArray(v)) return v.map(canon);
    if (v && typeof v === 'object') {
      return Object.fromEntries(
        Object.keys(v as Record<string, unknown>)
          .sort()
          .filter((k) => (v as Record<string, unknown>)[k] !== undefined)
          .map((k) => [k, canon((v as Record<string, unknown>)[k])]),
      );
    }
    return v;
  };
  return createHash('sha256').update(JSON.stringify(canon(value))).digest('hex').slice(0, 16);
}

export interface StageResult<T> {
  summary: T;
  /** Files the stage produced (checked on the next run). */
  outputs?: string[];
}

export class StageLedger {
  readonly runDir: string;
  readonly dir: string;
  readonly timings: StageTiming[] = [];
  private readonly silent: boolean;

  constructor(runDir: string, opts: { silent?: boolean } = {}) {
    this.runDir = path.resolve(runDir);
    this.dir = path.join(this.runDir, 'stages');
    this.silent = opts.silent ?? false;
  }

  fileOf(stage: string): string {
    return path.join(this.dir, `${stage.replace(/[^A-Za-z0-9._-]+/g, '_')}.json`);
  }

  /** The finished record of a stage, when it exists, matches `key` and its outputs exist. */
  async finished<T>(stage: string, key: string): Promise<StageRecord<T> | null> {
    const file = this.fileOf(stage);
    let rec: StageRecord<T>;
    try {
      rec = JSON.parse(await fsp.readFile(file, 'utf8')) as StageRecord<T>;
    } catch {
      return null;
    }
    if (rec.key !== key) return null;
    for (const out of rec.outputs ?? []) if (!existsSync(path.resolve(this.runDir, out))) return null;
    return rec;
  }

  /**
   * Run `fn` unless the stage already finished with this key; record it when it completes.
   * Returns the stage's summary either way.
   */
  async run<T>(stage: string, keyInput: unknown, fn: () => Promise<StageResult<T>>): Promise<T> {
    const key = stableKey(keyInput);
    const done = await this.finished<T>(stage, key);
    if (done) {
      this.timings.push({ stage, seconds: done.seconds, status: 'skipped' });
      if (!this.silent) log(`[${stage}] finished earlier (${done.seconds.toFixed(1)} s), skipped`);
      return done.summary;
    }
    if (!this.silent) log(`[${stage}] running`);
    const t0 = performance.now();
    const result = await fn();
    const seconds = (performance.now() - t0) / 1000;
    const rec: StageRecord<T> = {
      stage,
      key,
      seconds,
      finishedAt: new Date().toISOString(),
      outputs: (result.outputs ?? []).map((o) => (path.isAbsolute(o) ? path.relative(this.runDir, o) : o)),
      summary: result.summary,
    };
    await writeJsonAtomic(this.fileOf(stage), rec);
    this.timings.push({ stage, seconds, status: 'ran' });
    if (!this.silent) log(`[${stage}] done in ${seconds.toFixed(1)} s`);
    return result.summary;
  }

  /** Forget a stage (and so everything keyed on its output reruns). */
  async invalidate(stage: string): Promise<void> {
    await fsp.rm(this.fileOf(stage), { force: true });
  }
}
