/** What ingest knows of one input before probing it (./ingest.ts, ./tar-pool.ts). */
import type { ClipWindow } from './windows.js';

/** One input file with what the input listing said about it. */
export interface InputItem {
  file: string;
  /** Path relative to the input root (for messages and ids). */
  rel: string;
  id?: string;
  video_id?: string;
  label?: string;
  visual_class?: string | number;
  audio_class?: string | number;
  corresponds?: boolean;
  fold?: string | number;
  /** A window given by the input (CSV start/end). */
  window?: ClipWindow;
  /** Fields added to each clip record (a tar member's `tar_member` and json `meta`). */
  extra?: Record<string, unknown>;
}
