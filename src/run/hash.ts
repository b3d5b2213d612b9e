/**
 * The one canonical-JSON hash of the project: object keys sorted, undefined members dropped, so
 * the same value always gives the same key whatever order its keys were built in. Used for the
 * stage ledger's keys and for every fingerprint a stage stores in its outputs.
 */
import { createHash } from 'node:crypto';
import { open } from 'node:fs/promises';

/** Canonical JSON text of a JSON-serialisable value (keys sorted, undefined members dropped). */
export function canonicalJson(value: unknown): string {
  const canon = (v: unknown): unknown => {
    if (v && typeof v === 'object' && typeof (v as { toJSON?: unknown }).toJSON === 'function') v = (v as { toJSON: () => unknown }).toJSON();
    if (Array.isArray(v)) return v.map(canon);
    if (v && typeof v === 'object') {
      const o = v as Record<string, unknown>;
      return Object.fromEntries(
        Object.keys(o)
          .sort()
          .filter((k) => o[k] !== undefined)
          .map((k) => [k, canon(o[k])]),
      );
    }
    return v;
  };
  return JSON.stringify(canon(value)) ?? 'null';
}

/** A stable 16-hex-digit hash of any JSON-serialisable value (SHA-256 of its canonical JSON). */
export function stableKey(value: unknown): string {
  return createHash('sha256').update(canonicalJson(value)).digest('hex').slice(0, 16);
}

/**
 * SHA-256 (hex) of a file's bytes, read in 1 MiB pieces; null when the file does not exist (also
 * when a folder on its path is a file: eval-selection asks about `<corpus.source>/labels.jsonl`,
 * and the experiment's corpus.source is a .jsonl file).
 */
export async function fileDigest(file: string): Promise<string | null> {
  let fh;
  try {
    fh = await open(file, 'r');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return null;
    throw err;
  }
  const h = createHash('sha256');
  try {
    const buf = Buffer.allocUnsafe(1 << 20);
    for (;;) {
      const { bytesRead } = await fh.read(buf, 0, buf.length, null);
      if (bytesRead === 0) break;
      h.update(buf.subarray(0, bytesRead));
    }
  } finally {
    await fh.close();
  }
  return h.digest('hex');
}

/** `fileDigest` of a file that must exist: a missing file is an error naming it. */
export async function requiredFileDigest(file: string): Promise<string> {
  const d = await fileDigest(file);
  if (d === null) throw new Error(`${file}: not found`);
  return d;
}
