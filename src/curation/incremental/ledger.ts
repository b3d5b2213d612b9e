/**
 * The additions ledger of a run folder (incremental curation, docs/selection.md "Adding clips"):
 *
 *   runDir/additions.json                 the batches added after the first curation, in order
 *   runDir/additions/<batch>/manifest.jsonl   the clips of one batch as ingested (+ failures.jsonl)
 *   runDir/features/<batch>/shard-*.h5    their features (the base shards stay untouched)
 *   runDir/clusters/<batch>.shard-*.h5    their cluster labels (assigned to the existing centroids)
 *
 * manifest.jsonl holds the base clips first, then each batch's clips in batch order; `firstRow`
 * of the first batch is where the base ends. The extract stage cuts only the base into its usual
 * shards, so adding clips never renames or invalidates a finished shard. `fit` says how many
 * batches the cluster model was fitted on (0: the base only; raised by a refit).
 *
 * This module imports nothing from the stages, so the stages can ask it where the base ends.
 */
import { createHash } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { writeJsonAtomic } from '../../runtime/atomic.js';
import { exists } from '../../runtime/jsonl.js';
import type { ClipRecord } from '../../run/manifest.js';

export const ADDITIONS_FORMAT = 'avcurate.additions';

export interface AdditionBatch {
  /** add-0001, add-0002, ... (a safe folder and file name). */
  name: string;
  /** The folder or CSV that was added (absolute). */
  input: string;
  /** Row of manifest.jsonl where this batch's clips start. */
  firstRow: number;
  /** Clips appended to manifest.jsonl. */
  clips: number;
  /** sha256 of the appended ids, one a line. */
  idsHash: string;
  /** Inputs that the ingest refused (see additions/<name>/failures.jsonl). */
  refused: number;
  /** Clips of the input already in the run (same source file and window): not appended again. */
  duplicates: number;
  /** Clips whose id was taken by another clip of the run: appended as <name>.<id>. */
  renamed: number;
  /** 'pending' while manifest.jsonl is being extended; 'appended' when done. */
  state: 'pending' | 'appended';
}

export interface AdditionsLedger {
  format: typeof ADDITIONS_FORMAT;
  version: 1;
  batches: AdditionBatch[];
  /** Number of batches (in order) the cluster model is fitted on; 0 = the base clips only. */
  fit: number;
}

export function additionsPaths(runDir: string) {
  return {
    ledger: path.join(runDir, 'additions.json'),
    dir: path.join(runDir, 'additions'),
    batchDir: (name: string) => path.join(runDir, 'additions', name),
    batchManifest: (name: string) => path.join(runDir, 'additions', name, 'manifest.jsonl'),
    featuresDir: (name: string) => path.join(runDir, 'features', name),
    report: path.join(runDir, 'selection.incremental.json'),
  };
}

export function idsHash(ids: readonly string[]): string {
  return createHash('sha256').update(ids.join('\n')).digest('hex').slice(0, 16);
}

/** The ledger of a run folder, or null when nothing was ever added. Errors name the file. */
export async function readLedger(runDir: string): Promise<AdditionsLedger | null> {
  const file = additionsPaths(runDir).ledger;
  if (!(await exists(file))) return null;
  let l: AdditionsLedger;
  try {
    l = JSON.parse(await fsp.readFile(file, 'utf8')) as AdditionsLedger;
  } catch (err) {
    throw new Error(`${file}: not valid JSON (${(err as Error).message}); it records the clips added to this run, restore it or delete the run folder`);
  }
  if (l.format !== ADDITIONS_FORMAT || !Array.isArray(l.batches)) throw new Error(`${file}: not an additions ledger (format ${String(l.format)})`);
  l.batches.forEach((b, i) => {
    if (typeof b.name !== 'string' || !/^add-\d{4}$/.test(b.name) || !Number.isInteger(b.firstRow) || !Number.isInteger(b.clips) || b.firstRow < 0 || b.clips < 0) {
      throw new Error(`${file}: batch ${i + 1} is malformed (needs name add-NNNN, firstRow, clips)`);
    }
    if (i > 0 && b.firstRow !== l.batches[i - 1].firstRow + l.batches[i - 1].clips) {
      throw new Error(`${file}: batch ${b.name} starts at row ${b.firstRow}, expected ${l.batches[i - 1].firstRow + l.batches[i - 1].clips} (batches must follow each other)`);
    }
  });
  if (!Number.isInteger(l.fit) || l.fit < 0 || l.fit > l.batches.length) l.fit = 0;
  return l;
}

export async function writeLedger(runDir: string, l: AdditionsLedger): Promise<void> {
  await writeJsonAtomic(additionsPaths(runDir).ledger, l);
}

/** Number of manifest rows that belong to the base (everything when nothing was added). */
export async function baseClipCount(runDir: string, manifestRows: number): Promise<number> {
  const l = await readLedger(runDir);
  if (!l || l.batches.length === 0) return manifestRows;
  return Math.min(manifestRows, l.batches[0].firstRow);
}

/** The base rows of a manifest (the extract stage cuts only these into its shards). */
export async function baseRecords(runDir: string, manifest: ClipRecord[]): Promise<ClipRecord[]> {
  const n = await baseClipCount(runDir, manifest.length);
  return n === manifest.length ? manifest : manifest.slice(0, n);
}

/** The batch a feature shard path belongs to (its folder under features/), or null for a base shard. */
export function batchOfShard(file: string): string | null {
  const parent = path.basename(path.dirname(file));
  return /^add-\d{4}$/.test(parent) ? parent : null;
}

/**
 * The feature shards the cluster model is fitted on: the base shards and those of the first
 * `fit` batches. Adding clips leaves this set, and so the model's fingerprint, unchanged.
 */
export async function fitShards(runDir: string, files: string[]): Promise<string[]> {
  const l = await readLedger(runDir);
  const fitted = new Set((l?.batches ?? []).slice(0, l?.fit ?? 0).map((b) => b.name));
  return files.filter((f) => {
    const b = batchOfShard(f);
    return b === null || fitted.has(b);
  });
}

/** A unique file name for a feature shard's cluster-label part (batch shards get their batch as prefix). */
export function partNameOf(file: string): string {
  const b = batchOfShard(file);
  return b ? `${b}.${path.basename(file)}` : path.basename(file);
}
