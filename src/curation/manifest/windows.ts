/** Clip windows of a video: non-overlapping, at most `maxClips`, centred in equal parts. */
export interface ClipWindow {
  start: number;
  duration: number;
}

const round3 = (x: number) => Math.round(x * 1000) / 1000;

/**
 * Windows of `clipSeconds` in a video of `duration` seconds. A video shorter than one window
 * gives one clip of its whole length; when only one window fits, it is the middle one; else
 * n = min(maxClips, floor(duration / clipSeconds)) windows, each centred in one of n equal parts.
 */
export function clipWindows(duration: number, clipSeconds: number, maxClips: number): ClipWindow[] {
  if (!(duration > 0)) return [];
  if (duration <= clipSeconds) return [{ start: 0, duration: round3(duration) }];
  const n = Math.max(1, Math.min(maxClips, Math.floor(duration / clipSeconds)));
  const part = duration / n;
  const out: ClipWindow[] = [];
  for (let j = 0; j < n; j++) out.push({ start: round3(j * part + (part - clipSeconds) / 2), duration: clipSeconds });
  return out;
}
