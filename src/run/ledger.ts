/**
 * The stage ledger of a run: the one place where "this stage (or this shard of it) is finished,
 * skip it" is decided, for every curation stage and every experiment stage.
 *
 * A record `stages/<stage>.json` (a stage of one piece) or `stages/<stage>/<shard>.json` (one
 * shard or part of a stage, e.g. one feature shard) says that the stage finished, and with what:
 *
 *   config    a hash per config section (or part of one) the output depends on
 *   inputs    a fingerprint per input (an upstream file's digest, the ids of the clips, the
 *             fingerprint of another stage's output)
 *   key       the hash of both: the stage's fingerprint
 *   outputs   the files it produced, relative to the run folder; when one is gone the record is void
 *   stamps    (where asked for) size and time of each output: the record is void when one changed
 *   seconds, finishedAt, summary (a small JSON value the stage wants back when it is skipped)
 *
 * `stageDone` says whether a stage is finished for a fingerprint and, when it is not although a
 * record exists, what changed (a config section, an input, a lost or modified output, a record of
 * an older version); `redoNote` turns that into the one message every stage prints. `markDone`
 * writes the record atomically after the outputs are complete, so a stage killed mid-way has no
 * record and runs again (resuming from whatever it checkpointed itself), and a kill between its
 * last output and the record only redoes the stage, never mixes two runs. Records of an older
 * version (no fingerprint parts) are never trusted: that stage is redone.
 *
 * The fingerprints are of contents (config values, clip ids, the attributes or digests of input
 * files), not of times, so a stage whose upstream reran with the same result is still finished,
 * and a change in one config section reruns that stage and, through their input fingerprints,
 * exactly the stages downstream of it. See docs/run-folder.md.
 */
import { existsSync, promises as fsp, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { writeJsonAtomic } from '../runtime/atomic.js';
import { log } from '../runtime/progress.js';
import { stableKey } from './hash.js';
import { runLayout } from './layout.js';

export { stableKey } from './hash.js';

export const STAGE_RECORD_FORMAT = 'avcurate.stage';
export const STAGE_RECORD_VERSION = 2;

export const StageRecordSchema = z.object({
  format: z.literal(STAGE_RECORD_FORMAT),
  version: z.literal(STAGE_RECORD_VERSION),
  stage: z.string(),
  /** The shard or part of the stage this record is about; null for a stage of one piece. */
  shard: z.string().nullable(),
  /** The stage's fingerprint: the hash of `config` and `inputs`. */
  key: z.string(),
  /** Hash per config section (or part of one) the output depends on. */
  config: z.record(z.string(), z.string()),
  /** Fingerprint per input. */
  inputs: z.record(z.string(), z.string()),
  seconds: z.number(),
  finishedAt: z.string(),
  /** Files the stage produced, relative to the run folder; the record is void when any is gone. */
  outputs: z.array(z.string()),
  /** Size and mtime of each output when the stage finished ("size:mtimeMs"), where recorded: the record is void when an output changed since. */
  stamps: z.record(z.string(), z.string()).optional(),
  summary: z.unknown(),
});

export interface StageRecord<T = unknown> extends Omit<z.infer<typeof StageRecordSchema>, 'summary'> {
  summary: T;
}

/** What a stage's output depends on, as plain values (each is hashed on its own). */
export interface StageInputs {
  /** The config sections (or parts of them) the stage reads, by name: `{ features: config.features, seed: config.seed }`. */
  config?: Record<string, unknown>;
  /** Its inputs by name: file digests, clip ids, fingerprints of upstream outputs. */
  inputs?: Record<string, unknown>;
}

/** A stage's fingerprint: one hash per config part and per input, and the key of them all. */
export interface StageFingerprint {
  key: string;
  config: Record<string, string>;
  inputs: Record<string, string>;
}

/** Hash each config part and input of a stage (undefined members are left out) and the whole. */
export function stageFingerprint(x: StageInputs | StageFingerprint): StageFingerprint {
  if (isFingerprint(x)) return x;
  const hashAll = (o: Record<string, unknown> | undefined) =>
    Object.fromEntries(
      Object.keys(o ?? {})
        .sort()
        .filter((k) => o![k] !== undefined)
        .map((k) => [k, stableKey(o![k])]),
    );
  const config = hashAll(x.config);
  const inputs = hashAll(x.inputs);
  return { key: stableKey({ config, inputs }), config, inputs };
}

function isFingerprint(x: StageInputs | StageFingerprint): x is StageFingerprint {
  return typeof (x as StageFingerprint).key === 'string';
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

/** The answer of `stageDone`. */
export interface StageCheck<T = unknown> {
  /** Finished with this fingerprint, outputs present (and unchanged where stamped). */
  done: boolean;
  /** The stage's valid record when done; the record found (if valid) otherwise. */
  record: StageRecord<T> | null;
  /** The record file. */
  file: string;
  /** Why the stage is not finished although a record exists; null when done or never recorded. */
  reason: string | null;
  stage: string;
  shard: string | null;
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

/** The record file of a stage (or of one shard of it). */
export function stageRecordFile(runDir: string, stage: string, shard?: string | null): string {
  const layout = runLayout(runDir);
  return shard == null ? layout.stage(stage) : layout.stageShard(stage, shard);
}

type RawRecord = { ok: true; record: StageRecord } | { ok: false; why: string | null };

async function readRaw(file: string, stage: string, shard: string | null): Promise<RawRecord> {
  let text: string | null;
  try {
    text = await fsp.readFile(file, 'utf8');
  } catch {
    text = null;
  }
  return parseRaw(text, stage, shard);
}

function readRawSync(file: string, stage: string, shard: string | null): RawRecord {
  let text: string | null;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    text = null;
  }
  return parseRaw(text, stage, shard);
}

/** A record file's text (null: absent) as a valid record of this stage and shard, or why it is not one. */
function parseRaw(text: string | null, stage: string, shard: string | null): RawRecord {
  if (text === null) return { ok: false, why: null };
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    return { ok: false, why: `the record is unreadable (${(err as Error).message})` };
  }
  const o = raw as { format?: unknown; version?: unknown; stage?: unknown; shard?: unknown };
  // Another stage or shard whose name maps to the same file name: not ours, as if absent.
  if (o && typeof o === 'object' && typeof o.stage === 'string' && o.stage !== stage) return { ok: false, why: null };
  if (o && typeof o === 'object' && o.format === STAGE_RECORD_FORMAT && (o.shard ?? null) !== shard) return { ok: false, why: null };
  if (!o || typeof o !== 'object' || o.format !== STAGE_RECORD_FORMAT) return { ok: false, why: 'the record was written by an older avcurate (no fingerprint parts)' };
  if (o.version !== STAGE_RECORD_VERSION) return { ok: false, why: `the record has version ${String(o.version)}, this avcurate writes ${STAGE_RECORD_VERSION}` };
  const r = StageRecordSchema.safeParse(raw);
  if (!r.success) return { ok: false, why: `the record is malformed (${r.error.issues[0]?.path.join('.') || 'value'}: ${r.error.issues[0]?.message})` };
  return { ok: true, record: r.data as StageRecord };
}

/** The valid record of a stage (or shard) as stored, whatever its fingerprint; null when absent, older or malformed. */
export async function readStageRecord<T = unknown>(runDir: string, stage: string, shard?: string | null): Promise<StageRecord<T> | null> {
  const r = await readRaw(stageRecordFile(runDir, stage, shard), stage, shard ?? null);
  return r.ok ? (r.record as StageRecord<T>) : null;
}

/** What differs between two hash maps, in words ("config section features", "input clips"). */
function changedParts(what: string, before: Record<string, string>, now: Record<string, string>): string[] {
  const names = [...new Set([...Object.keys(before), ...Object.keys(now)])].sort();
  const out: string[] = [];
  for (const n of names) {
    if (before[n] === now[n]) continue;
    if (before[n] === undefined) out.push(`${what} ${n} is new`);
    else if (now[n] === undefined) out.push(`${what} ${n} is gone`);
    else out.push(`${what} ${n} changed (${before[n].slice(0, 8)} → ${now[n].slice(0, 8)})`);
  }
  return out;
}

/**
 * Is `stage` (or its `shard`) finished with this fingerprint? Finished means: a valid record with
 * the same key whose outputs all exist (and, where stamped, are unchanged). Otherwise `reason`
 * says what changed, or is null when the stage never finished.
 */
export async function stageDone<T = unknown>(runDir: string, stage: string, fp: StageInputs | StageFingerprint, opts: { shard?: string | null } = {}): Promise<StageCheck<T>> {
  const shard = opts.shard ?? null;
  const file = stageRecordFile(runDir, stage, shard);
  return judge<T>(await readRaw(file, stage, shard), stageFingerprint(fp), runDir, file, stage, shard);
}

/** `stageDone` without awaiting (for synchronous status views such as `avcurate status`). */
export function stageDoneSync<T = unknown>(runDir: string, stage: string, fp: StageInputs | StageFingerprint, opts: { shard?: string | null } = {}): StageCheck<T> {
  const shard = opts.shard ?? null;
  const file = stageRecordFile(runDir, stage, shard);
  return judge<T>(readRawSync(file, stage, shard), stageFingerprint(fp), runDir, file, stage, shard);
}

function judge<T>(raw: RawRecord, f: StageFingerprint, runDir: string, file: string, stage: string, shard: string | null): StageCheck<T> {
  const base = { file, stage, shard };
  if (!raw.ok) return { ...base, done: false, record: null, reason: raw.why };
  const rec = raw.record as StageRecord<T>;
  if (rec.key !== f.key) {
    const changes = [...changedParts('config section', rec.config, f.config), ...changedParts('input', rec.inputs, f.inputs)];
    return { ...base, done: false, record: rec, reason: changes.length ? changes.join('; ') : `its fingerprint changed (${rec.key} → ${f.key})` };
  }
  const root = runLayout(runDir).root;
  for (const out of rec.outputs) {
    const abs = path.resolve(root, out);
    if (!existsSync(abs)) return { ...base, done: false, record: rec, reason: `output ${out} is missing` };
    const stamp = rec.stamps?.[out];
    if (stamp !== undefined && fileStamp(abs) !== stamp) return { ...base, done: false, record: rec, reason: `output ${out} was modified after the stage finished` };
  }
  return { ...base, done: true, record: rec, reason: null };
}

/**
 * The one message a stage prints when a record exists but does not hold any more: names the
 * stage (and shard), the record file and what changed. Null when there is nothing to say (the
 * stage is finished, or never finished).
 */
export function redoNote(check: StageCheck, runDir: string, action = 'running it again'): string | null {
  if (check.done || check.reason === null) return null;
  const rel = path.relative(runLayout(runDir).root, check.file);
  return `${check.stage}${check.shard !== null ? ` ${check.shard}` : ''}: ${rel}: ${check.reason}; ${action}`;
}

export interface MarkDoneOptions<T> {
  shard?: string | null;
  /** Files the stage produced (absolute, or relative to the run folder). */
  outputs?: string[];
  /** Record each output's size and time: the record is void when one is modified later. */
  stamp?: boolean;
  summary?: T;
  seconds?: number;
}

/** Record that `stage` (or its `shard`) finished with this fingerprint (atomically; call after the outputs are complete). */
export async function markDone<T = unknown>(runDir: string, stage: string, fp: StageInputs | StageFingerprint, o: MarkDoneOptions<T> = {}): Promise<StageRecord<T>> {
  const root = runLayout(runDir).root;
  const f = stageFingerprint(fp);
  const outputs = (o.outputs ?? []).map((p) => (path.isAbsolute(p) ? path.relative(root, p) : p));
  for (const out of outputs) if (!existsSync(path.resolve(root, out))) throw new Error(`stage ${stage}${o.shard ? ` ${o.shard}` : ''}: output ${out} does not exist, so it cannot be recorded as finished`);
  const rec: StageRecord<T> = {
    format: STAGE_RECORD_FORMAT,
    version: STAGE_RECORD_VERSION,
    stage,
    shard: o.shard ?? null,
    key: f.key,
    config: f.config,
    inputs: f.inputs,
    seconds: o.seconds ?? 0,
    finishedAt: new Date().toISOString(),
    outputs,
    ...(o.stamp ? { stamps: Object.fromEntries(outputs.map((p) => [p, fileStamp(path.resolve(root, p))])) } : {}),
    summary: (o.summary ?? null) as T,
  };
  await writeJsonAtomic(stageRecordFile(runDir, stage, o.shard), rec);
  return rec;
}

/** Forget a stage's record (or one shard's): it runs again next time. */
export async function forgetStage(runDir: string, stage: string, shard?: string | null): Promise<void> {
  await fsp.rm(stageRecordFile(runDir, stage, shard), { force: true });
}

/** The shards (or parts) of a stage that have a valid record, whatever its fingerprint, sorted. */
export async function stageShards(runDir: string, stage: string): Promise<string[]> {
  const dir = path.dirname(stageRecordFile(runDir, stage, '_'));
  let names: string[];
  try {
    names = await fsp.readdir(dir);
  } catch {
    return [];
  }
  const out: string[] = [];
  for (const n of names.filter((x) => x.endsWith('.json')).sort()) {
    try {
      const r = StageRecordSchema.safeParse(JSON.parse(await fsp.readFile(path.join(dir, n), 'utf8')));
      if (r.success && r.data.stage === stage && r.data.shard !== null) out.push(r.data.shard);
    } catch {
      /* not a record (a temp file, a torn write): as if absent */
    }
  }
  return out.sort();
}

/** Record the current size and time of a finished stage's outputs (after the caller changed them on purpose), so the change does not void the record. */
export async function restampStage(runDir: string, stage: string, shard?: string | null): Promise<void> {
  const rec = await readStageRecord(runDir, stage, shard);
  if (!rec) return;
  const root = runLayout(runDir).root;
  const stamps = Object.fromEntries(rec.outputs.map((o) => [o, fileStamp(path.resolve(root, o))]));
  await writeJsonAtomic(stageRecordFile(runDir, stage, shard), { ...rec, stamps });
}

/** Every valid record of a run folder (stage and shard records), sorted by file: for status views and tests. */
export async function listStageRecords(runDir: string): Promise<StageRecord[]> {
  const dir = runLayout(runDir).stagesDir;
  const out: Array<[string, StageRecord]> = [];
  const walk = async (d: string): Promise<void> => {
    let entries;
    try {
      entries = await fsp.readdir(d, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) await walk(p);
      else if (e.name.endsWith('.json')) {
        try {
          const r = StageRecordSchema.safeParse(JSON.parse(await fsp.readFile(p, 'utf8')));
          if (r.success) out.push([p, r.data as StageRecord]);
        } catch {
          /* not a record */
        }
      }
    }
  };
  await walk(dir);
  return out.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0)).map((x) => x[1]);
}

/**
 * The ledger as a runner of whole stages: `run(stage, inputs, fn)` runs `fn` unless the stage
 * finished with the same fingerprint, records it when it completes, and returns its summary
 * either way. Used by the experiment's stages and curate's ingest step.
 */
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
    return stageRecordFile(this.runDir, stage);
  }

  /** The record of a stage as stored (whatever its fingerprint), or null when absent, older or unreadable. */
  async record<T>(stage: string): Promise<StageRecord<T> | null> {
    return readStageRecord<T>(this.runDir, stage);
  }

  /** The finished record of a stage, when it exists, matches the fingerprint and its outputs exist (unchanged, where stamped). */
  async finished<T>(stage: string, inputs: StageInputs | StageFingerprint): Promise<StageRecord<T> | null> {
    const c = await stageDone<T>(this.runDir, stage, inputs);
    return c.done ? c.record : null;
  }

  /** Run `fn` unless the stage already finished with this fingerprint; record it when it completes. Returns the stage's summary either way. */
  async run<T>(stage: string, inputs: StageInputs, fn: () => Promise<StageResult<T>>): Promise<T> {
    return (await this.runWithStatus(stage, inputs, fn)).summary;
  }

  /** As `run`, and says whether the stage ran or was skipped. */
  async runWithStatus<T>(stage: string, inputs: StageInputs, fn: () => Promise<StageResult<T>>): Promise<{ summary: T; skipped: boolean; seconds: number }> {
    const fp = stageFingerprint(inputs);
    const check = await stageDone<T>(this.runDir, stage, fp);
    if (check.done) {
      const done = check.record!;
      this.timings.push({ stage, seconds: done.seconds, status: 'skipped' });
      if (!this.silent) log(`[${stage}] finished earlier (${done.seconds.toFixed(1)} s), skipped`);
      return { summary: done.summary, skipped: true, seconds: done.seconds };
    }
    const note = redoNote(check, this.runDir);
    if (!this.silent) log(note ? `[${stage}] ${note}` : `[${stage}] running`);
    const t0 = performance.now();
    const result = await fn();
    const seconds = (performance.now() - t0) / 1000;
    await markDone(this.runDir, stage, fp, { outputs: result.outputs, stamp: result.stampOutputs, summary: result.summary, seconds });
    this.timings.push({ stage, seconds, status: 'ran' });
    if (!this.silent) log(`[${stage}] done in ${seconds.toFixed(1)} s`);
    return { summary: result.summary, skipped: false, seconds };
  }

  /** Record the current size and time of a finished stage's outputs (after the caller changed them on purpose, e.g. appended to the manifest), so the change does not void the record. */
  async restamp(stage: string): Promise<void> {
    await restampStage(this.runDir, stage);
  }

  /** Forget a stage (and so everything keyed on its output reruns). */
  async invalidate(stage: string): Promise<void> {
    await forgetStage(this.runDir, stage);
  }
}
