/** A clip record: one line of manifest.jsonl (schema and reader in src/run/manifest.ts). */
export type { ClipRecord, ClipProbe } from '../../run/manifest.js';
