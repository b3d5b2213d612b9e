/**
 * shards.json: the index written beside WebDataset tar shards by `avcurate export`: every shard's
 * name (relative to the index), sample count, bytes and SHA-256, the member extensions, and the
 * export settings. Readers check its schema; fields it does not know are kept.
 */
import { z } from 'zod';
import { writeJsonAtomic } from '../runtime/atomic.js';

export const SHARD_INDEX_FORMAT = 'avcurate-shards';

export const ShardEntrySchema = z
  .object({
    name: z.string().min(1),
    count: z.number().int().nonnegative(),
    bytes: z.number().int().nonnegative(),
    sha256: z.string().regex(/^[0-9a-f]{64}$/, 'a SHA-256 in hex'),
    first: z.string().optional(),
    last: z.string().optional(),
  });

export const ShardIndexSchema = z
  .object({
    format: z.literal(SHARD_INDEX_FORMAT),
    version: z.literal(1),
    shards: z.array(ShardEntrySchema),
    total: z.object({ count: z.number().int().nonnegative(), bytes: z.number().int().nonnegative() }),
    members: z.array(z.string()),
  })
  .loose();

export type ShardEntry = z.infer<typeof ShardEntrySchema>;
export type ShardIndex = z.infer<typeof ShardIndexSchema>;

/** Parse the text of a shards.json; `where` (its path or URL) names it in errors. */
export function parseShardIndex(text: string, where: string): ShardIndex {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new Error(`${where}: not valid JSON (${(err as Error).message})`);
  }
  if ((raw as { format?: unknown } | null)?.format !== SHARD_INDEX_FORMAT) throw new Error(`${where} is not a shard index (format "${SHARD_INDEX_FORMAT}")`);
  const r = ShardIndexSchema.safeParse(raw);
  if (!r.success) throw new Error(`${where}: not a valid shard index (${r.error.issues.map((i) => `${i.path.join('.') || '(index)'}: ${i.message}`).join('; ')})`);
  return r.data;
}

export async function writeShardIndex(file: string, index: ShardIndex): Promise<void> {
  ShardIndexSchema.parse(index);
  await writeJsonAtomic(file, index);
}
