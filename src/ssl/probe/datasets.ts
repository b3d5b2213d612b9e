/**
 * Downstream datasets for linear probes, read from their published layouts:
 *   - folder per class:      <root>/<class>/<file>
 *   - CSV:                   path,label[,fold][,split]  (header optional; paths relative to the CSV)
 *   - ESC-50:                <root>/meta/esc50.csv + <root>/audio/<filename>  (5 folds)
 *   - UCF101:                classInd.txt + trainlist0N.txt / testlist0N.txt, videos under <videoDir>
 *   - Kinetics-Sounds style: youtube_id,start,end,label[,split]  resolved to local files
 *   - synthetic:             labels.jsonl written by `avcurate synth`
 * Each returns the same ProbeDataset: items with a class index, optional folds, optional predefined
 * splits, and the entries whose media file was not found (never silently dropped).
 */
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { headerIndex, parseCsv } from '../../runtime/csv.js';
import type { ProbeSplit } from './splits.js';

export interface ProbeItem {
  /** Unique key of the item within the dataset. */
  id: string;
  /** Absolute path of the media file. */
  file: string;
  /** Class index into ProbeDataset.classes. */
  label: number;
  className: string;
  /** Window within the file, seconds (whole file when absent). */
  start?: number;
  duration?: number;
  /** Fold number, when the dataset defines folds. */
  fold?: number;
}

export interface ProbeDataset {
  name: string;
  classes: string[];
  items: ProbeItem[];
  /** Per-item folds (aligned with items) when the dataset defines them. */
  folds?: number[];
  /** Splits the dataset defines (indices into items). */
  splits?: ProbeSplit[];
  /** Entries listed by the metadata whose file could not be found. */
  missing: Array<{ entry: string; reason: string }>;
}

export const MEDIA_EXTENSIONS = ['.mp4', '.mkv', '.webm', '.avi', '.mov', '.m4v', '.mpg', '.mpeg', '.ogv', '.wav', '.flac', '.mp3', '.ogg', '.oga', '.m4a', '.aac', '.opus'];

function isMedia(name: string, extensions: string[]): boolean {
  return extensions.includes(path.extname(name).toLowerCase());
}

function readText(file: string, what: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (err) {
    throw new Error(`${what}: cannot read ${file} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
}

/** Sort class names: numerically when they are all integers, else by code point. */
function sortClassNames(names: Iterable<string>): string[] {
  const list = [...new Set(names)];
  if (list.every((s) => /^-?\d+$/.test(s))) return list.sort((a, b) => Number(a) - Number(b));
  return list.sort();
}

function requireClasses(name: string, classes: string[]): void {
  if (classes.length < 2) throw new Error(`${name}: a probe needs at least 2 classes, found ${classes.length}`);
}

function walkFiles(dir: string, extensions: string[], out: string[] = []): string[] {
  const entries = readdirSync(dir, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  for (const e of entries) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) walkFiles(p, extensions, out);
    else if ((e.isFile() || e.isSymbolicLink()) && isMedia(e.name, extensions)) out.push(p);
  }
  return out;
}

/** Split lists of item indices into train/test splits, dropping empty ones. */
function trainTestSplit(name: string, items: ProbeItem[], isTrain: (i: number) => boolean | undefined): ProbeSplit {
  const train: number[] = [];
  const test: number[] = [];
  for (let i = 0; i < items.length; i++) {
    const t = isTrain(i);
    if (t === true) train.push(i);
    else if (t === false) test.push(i);
  }
  return { name, train, test };
}

// ---------------------------------------------------------------------------------------------
/** <root>/<class>/**\/<media file>: one class per top-level folder. */
export function loadFolderDataset(root: string, opts: { extensions?: string[] } = {}): ProbeDataset {
  const abs = path.resolve(root);
  if (!existsSync(abs) || !statSync(abs).isDirectory()) throw new Error(`folder dataset: ${abs} is not a folder`);
  const extensions = opts.extensions ?? MEDIA_EXTENSIONS;
  const classDirs = readdirSync(abs, { withFileTypes: true })
    .filter((e) => e.isDirectory() && !e.name.startsWith('.'))
    .map((e) => e.name);
  const classes = sortClassNames(classDirs);
  requireClasses(`folder dataset ${abs}`, classes);
  const items: ProbeItem[] = [];
  classes.forEach((className, label) => {
    for (const file of walkFiles(path.join(abs, className), extensions)) {
      items.push({ id: path.relative(abs, file).split(path.sep).join('/'), file, label, className });
    }
  });
  const empty = classes.filter((_, c) => !items.some((it) => it.label === c));
  if (empty.length > 0) throw new Error(`folder dataset ${abs}: no media files in class folder(s) ${empty.join(', ')}`);
  return { name: path.basename(abs), classes, items, missing: [] };
}

// ---------------------------------------------------------------------------------------------
/**
 * CSV of path,label[,fold][,split]. With a header row the columns are found by name (path|file|
 * filename, label|class|category, fold, split); without one they are positional (path, label,
 * fold). Relative paths are resolved against `root` (default: the CSV's folder).
 */
export function loadCsvDataset(csvFile: string, opts: { root?: string } = {}): ProbeDataset {
  const abs = path.resolve(csvFile);
  const rows = parseCsv(readText(abs, 'CSV dataset'), abs);
  if (rows.length === 0) throw new Error(`CSV dataset: ${abs} is empty`);
  const header = headerIndex(
    rows[0],
    { path: ['path', 'file', 'filename', 'filepath'], label: ['label', 'class', 'category'], fold: ['fold'], split: ['split', 'subset'] },
    ['path', 'label'],
  );
  const cols = header ?? { path: 0, label: 1, ...(rows[0].length > 2 ? { fold: 2 } : {}) };
  const data = header ? rows.slice(1) : rows;
  const root = path.resolve(opts.root ?? path.dirname(abs));
  const parsed: Array<{ file: string; label: string; fold?: number; split?: string; line: number }> = [];
  data.forEach((r, i) => {
    const line = i + (header ? 2 : 1);
    const p = r[cols.path]?.trim();
    const label = r[cols.label]?.trim();
    if (!p || !label) throw new Error(`${abs}:${line}: expected path and label, got "${r.join(',')}"`);
    let fold: number | undefined;
    if (cols.fold !== undefined && r[cols.fold] !== undefined && r[cols.fold].trim() !== '') {
      fold = Number(r[cols.fold]);
      if (!Number.isInteger(fold)) throw new Error(`${abs}:${line}: fold "${r[cols.fold]}" is not an integer`);
    }
    const split = cols.split !== undefined ? r[cols.split]?.trim().toLowerCase() : undefined;
    parsed.push({ file: path.resolve(root, p), label, fold, split, line });
  });
  const classes = sortClassNames(parsed.map((p) => p.label));
  requireClasses(`CSV dataset ${abs}`, classes);
  const index = new Map(classes.map((c, i) => [c, i]));
  const items: ProbeItem[] = [];
  const splitOf: Array<string | undefined> = [];
  const missing: ProbeDataset['missing'] = [];
  const seen = new Set<string>();
  for (const p of parsed) {
    if (!existsSync(p.file)) {
      missing.push({ entry: `${abs}:${p.line}`, reason: `file not found: ${p.file}` });
      continue;
    }
    let id = path.relative(root, p.file).split(path.sep).join('/');
    if (seen.has(id)) id = `${id}#${p.line}`;
    seen.add(id);
    items.push({ id, file: p.file, label: index.get(p.label)!, className: p.label, ...(p.fold !== undefined ? { fold: p.fold } : {}) });
    splitOf.push(p.split);
  }
  const ds: ProbeDataset = { name: path.basename(abs, path.extname(abs)), classes, items, missing };
  const folded = items.filter((it) => it.fold !== undefined).length;
  if (folded > 0) {
    if (folded !== items.length) throw new Error(`CSV dataset ${abs}: the fold column is filled for ${folded} of ${items.length} rows`);
    ds.folds = items.map((it) => it.fold!);
  }
  if (splitOf.some((s) => s !== undefined && s !== '')) {
    ds.splits = [trainTestSplit('split', items, (i) => (splitOf[i] === 'train' ? true : splitOf[i] ? false : undefined))];
  }
  return ds;
}

// ---------------------------------------------------------------------------------------------
const ESC50_COLUMNS = ['filename', 'fold', 'target', 'category', 'esc10', 'src_file', 'take'];

/** ESC-50: <root>/meta/esc50.csv and <root>/audio/*.wav, 5 predefined folds. `esc10` keeps ESC-10. */
export function loadEsc50(root: string, opts: { esc10?: boolean } = {}): ProbeDataset {
  const abs = path.resolve(root);
  const meta = path.join(abs, 'meta', 'esc50.csv');
  const rows = parseCsv(readText(meta, 'ESC-50'), meta);
  const header = rows[0]?.map((c) => c.trim().toLowerCase()) ?? [];
  const col = Object.fromEntries(ESC50_COLUMNS.map((c) => [c, header.indexOf(c)]));
  const absent = ['filename', 'fold', 'target', 'category'].filter((c) => col[c] < 0);
  if (absent.length > 0) throw new Error(`ESC-50: ${meta} lacks column(s) ${absent.join(', ')} (header: ${rows[0]?.join(',')})`);
  const entries: Array<{ filename: string; fold: number; target: number; category: string; line: number }> = [];
  rows.slice(1).forEach((r, i) => {
    const line = i + 2;
    if (opts.esc10 && col.esc10 >= 0 && !/^(true|1)$/i.test(r[col.esc10]?.trim() ?? '')) return;
    const fold = Number(r[col.fold]);
    const target = Number(r[col.target]);
    if (!Number.isInteger(fold) || !Number.isInteger(target)) throw new Error(`${meta}:${line}: fold "${r[col.fold]}" or target "${r[col.target]}" is not an integer`);
    entries.push({ filename: r[col.filename].trim(), fold, target, category: r[col.category].trim(), line });
  });
  // Classes in target order; with esc10 only the present targets, re-indexed densely.
  const targets = [...new Set(entries.map((e) => e.target))].sort((a, b) => a - b);
  const nameOf = new Map<number, string>();
  for (const e of entries) {
    const prev = nameOf.get(e.target);
    if (prev !== undefined && prev !== e.category) throw new Error(`${meta}:${e.line}: target ${e.target} is "${prev}" elsewhere but "${e.category}" here`);
    nameOf.set(e.target, e.category);
  }
  const classes = targets.map((t) => nameOf.get(t)!);
  requireClasses(`ESC-50 ${abs}`, classes);
  const dense = new Map(targets.map((t, i) => [t, i]));
  const items: ProbeItem[] = [];
  const missing: ProbeDataset['missing'] = [];
  for (const e of entries) {
    const file = path.join(abs, 'audio', e.filename);
    if (!existsSync(file)) {
      missing.push({ entry: `${meta}:${e.line}`, reason: `file not found: ${file}` });
      continue;
    }
    items.push({ id: e.filename, file, label: dense.get(e.target)!, className: e.category, fold: e.fold });
  }
  return { name: opts.esc10 ? 'esc10' : 'esc50', classes, items, folds: items.map((it) => it.fold!), missing };
}

// ---------------------------------------------------------------------------------------------
/**
 * UCF101: `classInd.txt` ("1 ApplyEyeMakeup"), `trainlist0N.txt` ("Class/v_x.avi 1") and
 * `testlist0N.txt` ("Class/v_x.avi") in `splitsDir` (default <root>/ucfTrainTestlist, else <root>),
 * videos under `videoDir` (default <root>/UCF-101, else <root>). One predefined split per list pair.
 */
export function loadUcf101(root: string, opts: { splitsDir?: string; videoDir?: string; splits?: number[] } = {}): ProbeDataset {
  const abs = path.resolve(root);
  const pick = (explicit: string | undefined, sub: string) => (explicit ? path.resolve(abs, explicit) : existsSync(path.join(abs, sub)) ? path.join(abs, sub) : abs);
  const splitsDir = pick(opts.splitsDir, 'ucfTrainTestlist');
  const videoDir = pick(opts.videoDir, 'UCF-101');
  const classFile = path.join(splitsDir, 'classInd.txt');
  const classes: string[] = [];
  readText(classFile, 'UCF101').split(/\r?\n/).forEach((line, i) => {
    if (!line.trim()) return;
    const m = /^\s*(\d+)\s+(\S+)\s*$/.exec(line);
    if (!m) throw new Error(`${classFile}:${i + 1}: expected "<index> <ClassName>", got "${line}"`);
    const idx = Number(m[1]) - 1;
    if (classes[idx] !== undefined) throw new Error(`${classFile}:${i + 1}: class index ${m[1]} appears twice`);
    classes[idx] = m[2];
  });
  if (classes.some((c) => c === undefined) || classes.length !== Object.keys(classes).length) throw new Error(`${classFile}: class indices are not 1..${classes.length}`);
  requireClasses(`UCF101 ${classFile}`, classes);
  const classIndex = new Map(classes.map((c, i) => [c, i]));
  const splitNumbers = opts.splits ?? [1, 2, 3].filter((s) => existsSync(path.join(splitsDir, `trainlist0${s}.txt`)));
  if (splitNumbers.length === 0) throw new Error(`UCF101: no trainlist0N.txt in ${splitsDir}`);
  const items: ProbeItem[] = [];
  const itemIndex = new Map<string, number>();
  const missing: ProbeDataset['missing'] = [];
  const missingSeen = new Set<string>();
  const itemFor = (rel: string, label: number | undefined, where: string): number | undefined => {
    const known = itemIndex.get(rel);
    if (known !== undefined) return known;
    const className = rel.split('/')[0];
    const fromFolder = classIndex.get(className);
    const y = label ?? fromFolder;
    if (y === undefined) throw new Error(`${where}: "${rel}" has no label and its folder "${className}" is not in classInd.txt`);
    if (label !== undefined && fromFolder !== undefined && label !== fromFolder) throw new Error(`${where}: "${rel}" is labelled ${label + 1} but its folder is class ${fromFolder + 1}`);
    const file = path.join(videoDir, ...rel.split('/'));
    if (!existsSync(file)) {
      if (!missingSeen.has(rel)) missing.push({ entry: where, reason: `file not found: ${file}` });
      missingSeen.add(rel);
      return undefined;
    }
    const i = items.length;
    items.push({ id: rel, file, label: y, className: classes[y] });
    itemIndex.set(rel, i);
    return i;
  };
  const readList = (file: string, withLabel: boolean): number[] => {
    const out: number[] = [];
    readText(file, 'UCF101').split(/\r?\n/).forEach((line, i) => {
      const t = line.trim();
      if (!t) return;
      const parts = t.split(/\s+/);
      const where = `${file}:${i + 1}`;
      let label: number | undefined;
      if (withLabel) {
        if (parts.length < 2 || !/^\d+$/.test(parts[1])) throw new Error(`${where}: expected "<Class/file.avi> <label>", got "${t}"`);
        label = Number(parts[1]) - 1;
        if (label < 0 || label >= classes.length) throw new Error(`${where}: label ${parts[1]} is not in 1..${classes.length}`);
      }
      const idx = itemFor(parts[0].replace(/\\/g, '/'), label, where);
      if (idx !== undefined) out.push(idx);
    });
    return out;
  };
  const splits: ProbeSplit[] = splitNumbers.map((s) => {
    const train = readList(path.join(splitsDir, `trainlist0${s}.txt`), true);
    const test = readList(path.join(splitsDir, `testlist0${s}.txt`), false);
    return { name: `split${s}`, train, test };
  });
  return { name: 'ucf101', classes, items, splits, missing };
}

// ---------------------------------------------------------------------------------------------
function pad6(n: number): string {
  return String(Math.round(n)).padStart(6, '0');
}

/**
 * Kinetics-Sounds style CSV: youtube_id,start,end,label[,split] (header names youtube_id, start|
 * time_start, end|time_end, label, split; without a header the columns are positional).
 * Each row is resolved to a file under `videoDir` (searched recursively) named
 * `<id>_<start:06>_<end:06>.<ext>` or `<id>_<start>_<end>.<ext>` (a clip already cut: window 0..
 * end-start), or `<id>.<ext>` (the whole video: window start..end).
 */
export function loadKineticsCsv(csvFile: string, opts: { videoDir?: string } = {}): ProbeDataset {
  const abs = path.resolve(csvFile);
  const videoDir = path.resolve(opts.videoDir ?? path.dirname(abs));
  const rows = parseCsv(readText(abs, 'Kinetics CSV'), abs);
  if (rows.length === 0) throw new Error(`Kinetics CSV: ${abs} is empty`);
  const header = headerIndex(
    rows[0],
    { id: ['youtube_id', 'ytid', 'video_id', 'id'], start: ['time_start', 'start', 'start_seconds'], end: ['time_end', 'end', 'end_seconds'], label: ['label', 'class', 'category'], split: ['split', 'subset'] },
    ['id', 'start', 'end', 'label'],
  );
  const cols = header ?? { id: 0, start: 1, end: 2, label: 3, ...(rows[0].length > 4 ? { split: 4 } : {}) };
  const data = header ? rows.slice(1) : rows;
  if (!existsSync(videoDir)) throw new Error(`Kinetics CSV: video folder ${videoDir} does not exist`);
  const byStem = new Map<string, string>();
  for (const f of walkFiles(videoDir, MEDIA_EXTENSIONS)) {
    const stem = path.basename(f, path.extname(f));
    if (!byStem.has(stem)) byStem.set(stem, f);
  }
  const parsed = data.map((r, i) => {
    const line = i + (header ? 2 : 1);
    const id = r[cols.id]?.trim();
    const start = Number(r[cols.start]);
    const end = Number(r[cols.end]);
    const label = r[cols.label]?.trim();
    if (!id || !label || !Number.isFinite(start) || !Number.isFinite(end) || end <= start) {
      throw new Error(`${abs}:${line}: expected youtube_id,start,end,label with end > start, got "${r.join(',')}"`);
    }
    return { id, start, end, label, split: cols.split !== undefined ? r[cols.split]?.trim().toLowerCase() : undefined, line };
  });
  const classes = sortClassNames(parsed.map((p) => p.label));
  requireClasses(`Kinetics CSV ${abs}`, classes);
  const index = new Map(classes.map((c, i) => [c, i]));
  const items: ProbeItem[] = [];
  const splitOf: Array<string | undefined> = [];
  const missing: ProbeDataset['missing'] = [];
  for (const p of parsed) {
    const clipNames = [`${p.id}_${pad6(p.start)}_${pad6(p.end)}`, `${p.id}_${p.start}_${p.end}`];
    const clip = clipNames.map((n) => byStem.get(n)).find((f) => f !== undefined);
    const whole = byStem.get(p.id);
    const key = `${p.id}_${pad6(p.start)}_${pad6(p.end)}`;
    const base = { id: key, label: index.get(p.label)!, className: p.label, duration: p.end - p.start };
    if (clip) items.push({ ...base, file: clip, start: 0 });
    else if (whole) items.push({ ...base, file: whole, start: p.start });
    else {
      missing.push({ entry: `${abs}:${p.line}`, reason: `no file ${clipNames[0]}.*, ${clipNames[1]}.* or ${p.id}.* under ${videoDir}` });
      continue;
    }
    splitOf.push(p.split);
  }
  const ds: ProbeDataset = { name: path.basename(abs, path.extname(abs)), classes, items, missing };
  const values = new Set(splitOf.filter((s): s is string => !!s));
  if (values.size > 1) ds.splits = [trainTestSplit('split', items, (i) => (splitOf[i] === 'train' ? true : splitOf[i] ? false : undefined))];
  return ds;
}

// ---------------------------------------------------------------------------------------------
/** A row of labels.jsonl from `avcurate synth`. */
export interface SynthLabelRow {
  id: string;
  file: string;
  visual_class: number | string;
  audio_class: number | string;
  corresponds: boolean;
}

/**
 * The synthetic corpus as a probe task: the label is the visual (default) or audio class; only
 * clips whose audio corresponds are kept unless `includeMismatched`; `ids` restricts to a subset
 * (for example the held-out clips). Files are resolved against the labels file's folder.
 */
export function loadSynthDataset(
  labelsFile: string,
  opts: { label?: 'visual' | 'audio'; includeMismatched?: boolean; ids?: Iterable<string> } = {},
): ProbeDataset {
  const abs = path.resolve(labelsFile);
  const dir = path.dirname(abs);
  const keep = opts.ids ? new Set(opts.ids) : undefined;
  const rows: SynthLabelRow[] = [];
  readText(abs, 'synthetic labels').split(/\r?\n/).forEach((line, i) => {
    if (!line.trim()) return;
    let row: SynthLabelRow;
    try {
      row = JSON.parse(line) as SynthLabelRow;
    } catch (err) {
      throw new Error(`${abs}:${i + 1}: not valid JSON (${(err as Error).message})`);
    }
    if (typeof row.id !== 'string' || typeof row.file !== 'string') throw new Error(`${abs}:${i + 1}: expected id and file`);
    if (keep && !keep.has(row.id)) return;
    if (!opts.includeMismatched && !row.corresponds) return;
    rows.push(row);
  });
  const which = opts.label ?? 'visual';
  const classes = sortClassNames(rows.map((r) => String(which === 'visual' ? r.visual_class : r.audio_class)));
  requireClasses(`synthetic labels ${abs}`, classes);
  const index = new Map(classes.map((c, i) => [c, i]));
  const items: ProbeItem[] = [];
  const missing: ProbeDataset['missing'] = [];
  for (const r of rows) {
    const file = path.resolve(dir, r.file);
    if (!existsSync(file)) {
      missing.push({ entry: r.id, reason: `file not found: ${file}` });
      continue;
    }
    const className = String(which === 'visual' ? r.visual_class : r.audio_class);
    items.push({ id: r.id, file, label: index.get(className)!, className });
  }
  return { name: `synth-${which}`, classes, items, missing };
}

// ---------------------------------------------------------------------------------------------
export type DatasetSpec =
  | { kind: 'folder'; path: string; extensions?: string[] }
  | { kind: 'csv'; path: string; root?: string }
  | { kind: 'esc50'; path: string; esc10?: boolean }
  | { kind: 'ucf101'; path: string; splitsDir?: string; videoDir?: string; splits?: number[] }
  | { kind: 'kinetics'; path: string; videoDir?: string }
  | { kind: 'synth'; path: string; label?: 'visual' | 'audio'; includeMismatched?: boolean };

/** Load a dataset from its spec; relative paths resolve against `baseDir`. */
export function loadProbeDataset(spec: DatasetSpec, baseDir = process.cwd()): ProbeDataset {
  const p = path.resolve(baseDir, spec.path);
  const rel = (q: string | undefined) => (q === undefined ? undefined : path.resolve(baseDir, q));
  switch (spec.kind) {
    case 'folder':
      return loadFolderDataset(p, { extensions: spec.extensions });
    case 'csv':
      return loadCsvDataset(p, { root: rel(spec.root) });
    case 'esc50':
      return loadEsc50(p, { esc10: spec.esc10 });
    case 'ucf101':
      return loadUcf101(p, { splitsDir: rel(spec.splitsDir), videoDir: rel(spec.videoDir), splits: spec.splits });
    case 'kinetics':
      return loadKineticsCsv(p, { videoDir: rel(spec.videoDir) });
    case 'synth':
      return loadSynthDataset(p, { label: spec.label, includeMismatched: spec.includeMismatched });
  }
}
