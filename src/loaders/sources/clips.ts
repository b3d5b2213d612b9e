/**
 * Clip sources from the run folder: manifest.jsonl (one ClipRecord a line) and selection.csv
 * (rank,id,video_id,start,end,gain,objective) joined with the manifest by id for source paths and
 * probe facts. Relative source paths are resolved against the manifest's folder (the run folder).
 */
import path from 'node:path';
import { Dataset } from '../core/dataset.js';
import { fromArray } from './array.js';
import { ManifestIndex, readManifest, type ClipRecord } from '../../run/manifest.js';
import { joinSelection, readSelectionCsv, type SelectedClip } from '../../run/selection.js';
import { MANIFEST_NAME } from '../../run/layout.js';

export type { ClipRecord, SelectedClip };

export interface ClipSourceOptions {
  /** Folder that relative source paths are relative to (default: the manifest's folder). */
  root?: string;
}

export async function loadManifest(file: string, opts: ClipSourceOptions = {}): Promise<ClipRecord[]> {
  return readManifest(file, { resolveSources: true, root: opts.root });
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
  const manifestFile = opts.manifest ?? path.join(path.dirname(path.resolve(csv)), MANIFEST_NAME);
  const manifest = await ManifestIndex.read(manifestFile, { resolveSources: true, root: opts.root });
  return joinSelection(rows, manifest, csv, opts.limit ?? rows.length);
}

/** A dataset of the manifest's clip records, in file order. */
export async function fromManifest(file: string, opts: ClipSourceOptions = {}): Promise<Dataset<ClipRecord>> {
  return fromArray(await loadManifest(file, opts));
}

/** A dataset of the selected clips, in rank order. */
export async function fromSelection(csv: string, opts: SelectionSourceOptions = {}): Promise<Dataset<SelectedClip>> {
  return fromArray(await loadSelection(csv, opts));
}
