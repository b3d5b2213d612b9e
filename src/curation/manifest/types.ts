/** A clip record: one line of manifest.jsonl. */
export interface ClipRecord {
  /** Unique, stable clip id (safe as a file/tar key: [A-Za-z0-9._-]). */
  id: string;
  /** Absolute or run-relative path of the source video. */
  source: string;
  /** Clip window in the source, seconds. */
  start: number;
  duration: number;
  /** Id of the source video (several clips can share one). */
  video_id: string;
  /** Probe summary of the source. */
  probe: {
    duration: number;
    width: number;
    height: number;
    fps: number;
    sampleRate: number;
    videoCodec: string;
    audioCodec: string;
  };
  /** Optional label (class name) carried from the input. */
  label?: string;
  /** Ground truth of synthetic or controlled corpora. */
  visual_class?: string | number;
  audio_class?: string | number;
  /** True when the audio truly belongs with the picture. */
  corresponds?: boolean;
  /** Optional fold/split from a CSV input. */
  fold?: string | number;
}
