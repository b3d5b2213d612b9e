/**
 * The one id rule of a run folder, for clip ids, video ids and the keys of tar shard members.
 *
 *     an id is 1 to 128 characters of [A-Za-z0-9_-], and starts with a letter or a digit
 *
 * No dots: WebDataset splits a member name at its first dot into key and extension
 * ("clip.v2.mp4" is the key "clip" with the extension "v2.mp4"), so an id with a dot could not be
 * a key. No slashes and no leading "-" or "_": an id is never a path, never an option, and never
 * starts like the escaped keys below. Because every id is already a valid shard key, the mapping
 * id → shard key is the identity, injective by construction.
 *
 * Names from outside the run folder (file stems, ids in a user's CSV or labels.jsonl) become ids
 * once, at ingest, through `toId` (a `video_id` given by the input is kept as it is: it groups
 * clips and is never a key or a file name): a name that is already an id is kept; any other name becomes
 * its cleaned form plus "-" and a hash of the original, so two different names get different ids
 * (ingest also refuses a duplicate id, so a collision could never pass silently).
 *
 * `shardKey` is the mapping for the shard writer, which a training loop may also call with
 * strings that are not ids: an id is its own key; anything else becomes "_" + cleaned prefix +
 * "_" + 24 hex digits of its SHA-256. Escaped keys start with "_", which no id does, so an escaped
 * key never equals an id, and two different non-ids share a key only on a 96-bit hash collision.
 */
import { createHash } from 'node:crypto';

export const ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_-]{0,127}$/;
export const ID_RULE = '1-128 characters of letters, digits, "_" or "-", starting with a letter or digit';
export const ID_MAX_LENGTH = 128;

export function isId(value: unknown): value is string {
  return typeof value === 'string' && ID_PATTERN.test(value);
}

/** Throw a clear error when `value` is not an id; `where` names the file and line or field. */
export function assertId(value: unknown, where: string): string {
  if (!isId(value)) throw new Error(`${where}: id ${JSON.stringify(value)} is not valid (${ID_RULE})`);
  return value;
}

function hashHex(s: string, digits: number): string {
  return createHash('sha256').update(s).digest('hex').slice(0, digits);
}

/** Runs of characters outside the id alphabet become "_"; leading/trailing "_"/"-" go. */
function clean(s: string, max: number): string {
  return s
    .replace(/[^A-Za-z0-9_-]+/g, '_')
    .replace(/^[_-]+/, '')
    .slice(0, max)
    .replace(/[_-]+$/, '');
}

/**
 * An id for a name from outside: itself when it is an id, else cleaned + "-" + 10 hex digits of
 * the hash of `unique` (default: the name itself; e.g. a file's path relative to the corpus when
 * the name is its stem, so that equal stems in different folders get different ids). With
 * `forceHash`, the hash is added even to a name that is an id.
 */
export function toId(name: string, unique: string = name, forceHash = false): string {
  if (typeof name !== 'string' || name.length === 0) throw new Error(`cannot make an id from ${JSON.stringify(name)}`);
  if (isId(name) && !forceHash) return name;
  const c = clean(name, 80);
  return `${c || 'id'}-${hashHex(unique, 10)}`;
}

/** Key of a tar shard member (WebDataset-safe): an id is its own key; any other string is escaped (see above). */
export function shardKey(id: string): string {
  if (typeof id !== 'string' || id.length === 0) throw new Error(`cannot make a shard key from the id ${JSON.stringify(id)}`);
  if (isId(id)) return id;
  const c = clean(id, 60);
  return `_${c ? `${c}_` : ''}${hashHex(id, 24)}`;
}

/** True for a string `shardKey` can return: an id, or an escaped key. */
export function isShardKey(key: string): boolean {
  return typeof key === 'string' && (ID_PATTERN.test(key) || /^_(?:[A-Za-z0-9][A-Za-z0-9_-]{0,59}_)?[0-9a-f]{24}$/.test(key));
}
