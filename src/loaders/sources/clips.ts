/**
 * Clip sources from the run folder: manifest.jsonl (one ClipRecord a line) and selection.csv
 * (rank,id,video_id,start,end,gain,objective) joined with the manifest by id for source paths and
 * probe facts. Relative source paths are resolved against the manifest's folder (the run folder).
 */
import path from 'node:path';
import { Dataset } from '../core/dataset.js';
import { fromArray } from './array.js';
import { readManifest } from '../../curation/manifest/read.js';
import { readSelectionCsv } from '../../curation/selection/csv.js';
import type { ClipRecord } from '../../curation/manifest/types.js';

export type { ClipRecord };

/** A selected clip: its manifest record, with the window and scores from selection.csv. */
export interface SelectedClip extends ClipRecord {
  rank: number;
  gain: number;
  objective: number;
}

export interface ClipSourceOptions {
  /** Folder that relative source paths are relative to (default: the manifest's folder). */
  root?: string;
}

export async function loadManifest(file: string, opts: ClipSourceOptions = {}): Promise<ClipRecord[]> {
  const rows = await readManifest(file);
  const root = opts.root ?? path.dirname(path.resolve(file));
  return rows.map((r) => (path.isAbsolute(r.source) ? r : { ...r, source: path.resolve(root, r.source) }));
}

export interface SelectionSourceOptions extends ClipSourceOptions {
  /** manifest.jsonl to join with (default: manifest.jsonl next to the selection). */
  manifest?: string;
  /** Only the first `limit` ranks. */
  limit?: number;
}

/** Read selection.csv and join each row with its manifest record; rows come in rank order. */
export async function loadSelection(csv: string, opts: SelectionSourceOptions = {}): Promise<SelectedClip[]> {
  const rows = readSelectionCsv(csv);
  const manifestFile = opts.manifest ?? path.join(path.dirname(path.resolve(csv)), 'manifest.jsonl');
  const records = await loadManifest(manifestFile, opts);
  const byId = new Map(records.map((r) => [r.id, r]));
  const out: SelectedClip[] = [];
  const seen = new Set<string>();
  for (const row of rows.slice(0, opts.limit ?? rows.length)) {
    const rec = byId.get(row.id);
    if (!rec) throw new Error(`${csv}: rank ${row.rank}: clip id "${row.id}" is not in ${manifestFile}`);
    if (seen.has(row.id)) throw new Error(`${csv}: rank ${row.rank}: clip id "${row.id}" is listed twice`);
    seen.add(row.id);
    const start = Number.isFinite(row.start) ? row.start : rec.start;
    const end = Number.isFinite(row.end) ? row.end : rec.start + rec.duration;
    if (!(end > start)) throw new Error(`${csv}: rank ${row.rank}: empty window ${start}–${end} s for "${row.id}"`);
    out.push({ ...rec, start, duration: end - start, rank: row.rank, gain: row.gain, objective: row.objective });
  }
  return out;
}

/** A dataset of the manifest's clip records, in file order. */
export async function fromManifest(file: string, opts: ClipSourceOptions = {}): Promise<Dataset<ClipRecord>> {
  return fromArray(await loadManifest(file, opts));
}

/** A dataset of the selected clips, in rank order. */
export async function fromSelection(csv: string, opts: SelectionSourceOptions = {}): Promise<Dataset<SelectedClip>> {
  return fromArray(await loadSelection(csv, opts));
}
