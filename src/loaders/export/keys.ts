/**
 * Sample keys for tar shards. A WebDataset key ends at the first dot of the member name and must
 * not be a path, so keys are limited to [A-Za-z0-9_-]. Ids that are not already such keys
 * (`../../x`, `a/b.c`, unicode) are sanitised: disallowed runs become '_', and a short hash of the
 * original id is appended so two different ids never share a key.
 */
import { createHash } from 'node:crypto';

const SAFE = /^[A-Za-z0-9_-]{1,128}$/;

export function isSafeKey(key: string): boolean {
  return SAFE.test(key);
}

export function sanitizeKey(id: string): string {
  if (typeof id !== 'string' || id.length === 0) throw new Error(`cannot make a shard key from the id ${JSON.stringify(id)}`);
  if (isSafeKey(id)) return id;
  const cleaned = id.replace(/[^A-Za-z0-9_-]+/g, '_').replace(/^[_-]+|[_-]+$/g, '').slice(0, 100);
  const hash = createHash('sha256').update(id).digest('hex').slice(0, 10);
  return cleaned ? `${cleaned}_${hash}` : `id_${hash}`;
}
