/** Reading manifest.jsonl back: the reader of the run folder module (src/run/manifest.ts). */
import { runLayout } from '../../run/layout.js';

export { readManifest, ManifestIndex } from '../../run/manifest.js';

export function manifestPath(runDir: string): string {
  return runLayout(runDir).manifest;
}
