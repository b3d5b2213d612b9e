/**
 * selection.csv: the ranked selection, ACAV-compatible columns
 *
 *     rank,id,video_id,start,end,gain,objective
 *
 * rank is 1-based; start/end are seconds in the source video; gain is F(prefix r) − F(prefix r−1)
 * and objective is F(prefix r) (for score-ranked methods without clusters: the clip's score and
 * the mean score of the prefix).
 */
import { readFileSync } from 'node:fs';
import { writeFileAtomic } from '../runtime/atomic.js';
import { csvField as quote, parseCsv } from '../runtime/csv.js';
import type { ClipRecord, ManifestIndex } from './manifest.js';

export const SELECTION_COLUMNS = ['rank', 'id', 'video_id', 'start', 'end', 'gain', 'objective'] as const;

export interface SelectionRow {
  rank: number;
  id: string;
  video_id: string;
  start: number;
  end: number;
  gain: number;
  objective: number;
}

function num(x: number, digits = 12): string {
  if (!Number.isFinite(x)) return '';
  // Rounding residue of a zero (e.g. ln 2 − ln 2 computed two ways) is written as 0.
  if (Math.abs(x) < 1e-12) return '0';
  return String(Number(x.toPrecision(digits)));
}

export function formatSelectionCsv(rows: Iterable<SelectionRow>): string {
  let out = SELECTION_COLUMNS.join(',') + '\n';
  for (const r of rows) {
    out += `${r.rank},${quote(r.id)},${quote(r.video_id)},${num(r.start, 10)},${num(r.end, 10)},${num(r.gain)},${num(r.objective)}\n`;
  }
  return out;
}

export async function writeSelectionCsv(file: string, rows: Iterable<SelectionRow>): Promise<void> {
  await writeFileAtomic(file, formatSelectionCsv(rows));
}

/** Parse selection.csv text; errors name the file and line. */
export function parseSelectionCsv(text: string, file = 'selection.csv'): SelectionRow[] {
  const lines = parseCsv(text, file).filter((r) => !(r.length === 1 && r[0].trim() === ''));
  if (lines.length === 0) throw new Error(`${file}: empty (expected the header ${SELECTION_COLUMNS.join(',')})`);
  const header = lines[0].map((h) => h.trim());
  const col = (name: string): number => {
    const i = header.indexOf(name);
    if (i < 0) throw new Error(`${file}: missing column "${name}" (header: ${lines[0].join(',')})`);
    return i;
  };
  const ci = { rank: col('rank'), id: col('id'), video_id: col('video_id'), start: col('start'), end: col('end'), gain: header.indexOf('gain'), objective: header.indexOf('objective') };
  const rows: SelectionRow[] = [];
  for (let l = 1; l < lines.length; l++) {
    const f = lines[l];
    const rank = Number(f[ci.rank]);
    if (!Number.isInteger(rank) || rank < 1) throw new Error(`${file}:${l + 1}: rank "${f[ci.rank]}" is not a positive integer`);
    const id = f[ci.id];
    if (!id) throw new Error(`${file}:${l + 1}: empty id`);
    const numOr = (i: number): number => (i < 0 || f[i] === undefined || f[i] === '' ? NaN : Number(f[i]));
    rows.push({ rank, id, video_id: f[ci.video_id] ?? '', start: numOr(ci.start), end: numOr(ci.end), gain: numOr(ci.gain), objective: numOr(ci.objective) });
  }
  rows.sort((a, b) => a.rank - b.rank);
  return rows;
}

export function readSelectionCsv(file: string): SelectionRow[] {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new Error(`${file}: cannot read the selection (${(err as NodeJS.ErrnoException).code ?? (err as Error).message}); run "avcurate select" first`);
  }
  return parseSelectionCsv(text, file);
}

/** A selected clip: its manifest record, with the window and scores of its selection row. */
export type SelectedClip = ClipRecord & { rank: number; gain: number; objective: number };

/**
 * Join selection rows with the manifest (the one join; see ManifestIndex): rows in rank order,
 * each with its record, the row's window (the record's when the row has none), and its scores.
 * `file` names the selection in errors; an id listed twice or an empty window is an error.
 */
export function joinSelection(rows: SelectionRow[], manifest: ManifestIndex, file: string, limit = rows.length): SelectedClip[] {
  const out: SelectedClip[] = [];
  const seen = new Set<string>();
  for (const row of rows.slice(0, limit)) {
    const rec = manifest.get(row.id, `${file}: rank ${row.rank}`);
    if (seen.has(row.id)) throw new Error(`${file}: rank ${row.rank}: clip id "${row.id}" is listed twice`);
    seen.add(row.id);
    const start = Number.isFinite(row.start) ? row.start : rec.start;
    const end = Number.isFinite(row.end) ? row.end : rec.start + rec.duration;
    if (!(end > start)) throw new Error(`${file}: rank ${row.rank}: empty window ${start}–${end} s for "${row.id}"`);
    out.push({ ...rec, start, duration: end - start, rank: row.rank, gain: row.gain, objective: row.objective });
  }
  return out;
}
