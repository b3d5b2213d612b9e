/**
 * manifest.jsonl: one clip a line (the ClipRecord), its schema, its reader and writer, and the one
 * join of clip ids with the manifest that every stage uses (one set of error messages).
 */
import path from 'node:path';
import { z } from 'zod';
import { writeFileAtomic } from '../runtime/atomic.js';
import { exists, iterJsonl } from '../runtime/jsonl.js';

/** Probe summary of the source file (so later stages need not run ffprobe again). */
export const ClipProbeSchema = z.object({
  duration: z.number().nonnegative(),
  width: z.number().int().nonnegative(),
  height: z.number().int().nonnegative(),
  fps: z.number().nonnegative(),
  sampleRate: z.number().int().nonnegative(),
  videoCodec: z.string(),
  audioCodec: z.string(),
});

/**
 * A clip id as the manifest stores it. Ingest makes every id follow the id rule of ./ids.ts; a
 * manifest made by other tools may hold other strings (they are mapped to shard keys by
 * `shardKey`), but never an empty one or one with control characters.
 */
// eslint-disable-next-line no-control-regex
export const ClipIdSchema = z.string().min(1, 'an empty id').max(1024).regex(/^[^\u0000-\u001f\u007f]+$/, 'no control characters');

const ClassSchema = z.union([z.string(), z.number()]);

/** One line of manifest.jsonl. Fields the schema does not know are kept as they are. */
export const ClipRecordSchema = z
  .object({
    /** Unique, stable clip id (see ids.ts for the rule ingest applies). */
    id: ClipIdSchema,
    /** Absolute path of the source video, or a path relative to the manifest's folder. */
    source: z.string().min(1),
    /** Clip window in the source, seconds. */
    start: z.number().nonnegative(),
    duration: z.number().positive(),
    /** Id of the source video (several clips can share one). */
    video_id: z.string(),
    probe: ClipProbeSchema,
    /** Optional label (class name) carried from the input. */
    label: z.string().optional(),
    /** Ground truth of synthetic or controlled corpora. */
    visual_class: ClassSchema.optional(),
    audio_class: ClassSchema.optional(),
    /** True when the audio truly belongs with the picture. */
    corresponds: z.boolean().optional(),
    /** Optional fold/split from a CSV input. */
    fold: ClassSchema.optional(),
  })
  .loose();

export type ClipProbe = z.infer<typeof ClipProbeSchema>;
export type ClipRecord = z.infer<typeof ClipRecordSchema>;

function issueText(issues: z.core.$ZodIssue[]): string {
  return issues.map((i) => `${i.path.length ? i.path.join('.') : '(record)'}: ${i.message}`).join('; ');
}

/** Validate one parsed manifest line; `where` is "file:line". */
export function parseClipRecord(value: unknown, where: string): ClipRecord {
  const r = ClipRecordSchema.safeParse(value);
  if (!r.success) throw new Error(`${where}: not a clip record (${issueText(r.error.issues)})`);
  return r.data;
}

/**
 * Read manifest.jsonl: every line validated, errors name the file and line; a missing file says
 * which command makes it. Ids must be unique. `root` (default: the manifest's folder) resolves
 * relative source paths when `resolveSources` is set.
 */
export async function readManifest(file: string, opts: { resolveSources?: boolean; root?: string } = {}): Promise<ClipRecord[]> {
  if (!(await exists(file))) throw new Error(`${file}: manifest not found (run "avcurate ingest" first)`);
  const rows: ClipRecord[] = [];
  const seen = new Map<string, number>();
  const root = opts.root ?? path.dirname(path.resolve(file));
  let line = 0;
  for await (const raw of iterJsonl<unknown>(file, (n) => (line = n))) {
    const rec = parseClipRecord(raw, `${file}:${line}`);
    const prev = seen.get(rec.id);
    if (prev !== undefined) throw new Error(`${file}:${line}: clip id "${rec.id}" is already used on line ${prev}`);
    seen.set(rec.id, line);
    rows.push(opts.resolveSources && !path.isAbsolute(rec.source) ? { ...rec, source: path.resolve(root, rec.source) } : rec);
  }
  return rows;
}

/** Write manifest.jsonl atomically (one record a line). */
export async function writeManifest(file: string, records: Iterable<ClipRecord>): Promise<void> {
  let text = '';
  for (const r of records) text += JSON.stringify(r) + '\n';
  await writeFileAtomic(file, text);
}

/**
 * The manifest by id: the one join of clip ids (from clusters, features, a selection) with their
 * records. Every miss is reported the same way, naming both files.
 */
export class ManifestIndex {
  readonly file: string;
  readonly records: ClipRecord[];
  private readonly byId: Map<string, ClipRecord>;
  private readonly order: Map<string, number>;

  constructor(records: ClipRecord[], file: string) {
    this.file = file;
    this.records = records;
    this.byId = new Map(records.map((r) => [r.id, r]));
    this.order = new Map(records.map((r, i) => [r.id, i]));
  }

  static async read(file: string, opts: { resolveSources?: boolean; root?: string } = {}): Promise<ManifestIndex> {
    return new ManifestIndex(await readManifest(file, opts), file);
  }

  get size(): number {
    return this.records.length;
  }

  has(id: string): boolean {
    return this.byId.has(id);
  }

  /** The record of `id`, or undefined. */
  find(id: string): ClipRecord | undefined {
    return this.byId.get(id);
  }

  /** Position of `id` in manifest order, or undefined. */
  indexOf(id: string): number | undefined {
    return this.order.get(id);
  }

  /**
   * The record of `id`; a missing id is an error naming where the id came from (`from`, e.g.
   * "clusters.h5" or "selection.csv: rank 3") and the manifest.
   */
  get(id: string, from: string): ClipRecord {
    const r = this.byId.get(id);
    if (!r) throw new ManifestJoinError(`${from}: clip id "${id}" is not in ${this.file} (the run folder mixes files of different runs, or the manifest changed: rerun the stages after ingest)`);
    return r;
  }
}

/** A clip id that a run file names but the manifest does not hold. */
export class ManifestJoinError extends Error {
  override name = 'ManifestJoinError';
}

/** The clip ids of a manifest in file order, streamed (for stages that need only the order). */
export async function readManifestIds(file: string): Promise<string[]> {
  if (!(await exists(file))) throw new Error(`${file}: manifest not found (run "avcurate ingest" first)`);
  const ids: string[] = [];
  const seen = new Set<string>();
  let line = 0;
  for await (const raw of iterJsonl<{ id?: unknown }>(file, (n) => (line = n))) {
    const id = ClipIdSchema.safeParse(raw?.id);
    if (!id.success) throw new Error(`${file}:${line}: not a clip record (id: ${id.error.issues[0]?.message ?? 'not a string'})`);
    if (seen.has(id.data)) throw new Error(`${file}:${line}: clip id "${id.data}" is used twice`);
    seen.add(id.data);
    ids.push(id.data);
  }
  return ids;
}

/**
 * Stream manifest.jsonl record by record, in file order, memory independent of its size. With
 * `only`, lines of other ids are skipped unparsed (cheap joins of a few ids against a large pool);
 * every record yielded is validated, and errors name the file and line.
 */
export async function* iterManifest(file: string, opts: { only?: { has(id: string): boolean } } = {}): AsyncGenerator<ClipRecord> {
  if (!(await exists(file))) throw new Error(`${file}: manifest not found (run "avcurate ingest" first)`);
  let line = 0;
  const only = opts.only;
  // A line that starts with a plain id (the way writeManifest and ingest write records) is
  // skipped on that id alone; any other line is parsed and judged on its parsed id.
  const skip = only
    ? (text: string) => {
        const id = leadingId(text);
        return id !== undefined && !only.has(id);
      }
    : undefined;
  for await (const raw of iterJsonl<{ id?: unknown }>(file, (n) => (line = n), skip)) {
    if (only && !(raw && typeof raw.id === 'string' && only.has(raw.id))) continue;
    yield parseClipRecord(raw, `${file}:${line}`);
  }
}

const ID_PREFIX = '{"id":"';

/** The id of a JSONL line that begins `{"id":"<id without escapes>"`, else undefined. */
export function leadingId(text: string): string | undefined {
  if (!text.startsWith(ID_PREFIX)) return undefined;
  const end = text.indexOf('"', ID_PREFIX.length);
  if (end < 0) return undefined;
  const id = text.slice(ID_PREFIX.length, end);
  return id.includes('\\') ? undefined : id;
}

/** Stream the clip ids of manifest.jsonl in file order (each checked as an id). */
export async function* iterManifestIds(file: string): AsyncGenerator<string> {
  if (!(await exists(file))) throw new Error(`${file}: manifest not found (run "avcurate ingest" first)`);
  let line = 0;
  for await (const raw of iterJsonl<{ id?: unknown }>(file, (n) => (line = n))) {
    const id = ClipIdSchema.safeParse(raw?.id);
    if (!id.success) throw new Error(`${file}:${line}: not a clip record (id: ${id.error.issues[0]?.message ?? 'not a string'})`);
    yield id.data;
  }
}
