/** Reading manifest.jsonl back, with a clear error for a missing or malformed file. */
import path from 'node:path';
import { exists, readJsonl } from '../../runtime/jsonl.js';
import type { ClipRecord } from './types.js';

export function manifestPath(runDir: string): string {
  return path.join(runDir, 'manifest.jsonl');
}

export async function readManifest(file: string): Promise<ClipRecord[]> {
  if (!(await exists(file))) throw new Error(`${file}: manifest not found (run "avcurate ingest" first)`);
  const rows = await readJsonl<ClipRecord>(file);
  rows.forEach((r, i) => {
    if (typeof r.id !== 'string' || typeof r.source !== 'string' || typeof r.start !== 'number' || typeof r.duration !== 'number') {
      throw new Error(`${file}:${i + 1}: not a clip record (needs id, source, start, duration)`);
    }
  });
  return rows;
}
