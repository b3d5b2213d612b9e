/**
 * Content pre-filters (ours, instead of the reference's metadata filters): a clip is refused when
 * its audio is silent or its picture frozen. Decodes the window small and fast.
 */
import { decodeClip } from '../../media/decode.js';
import type { ProbeInfo } from '../../media/types.js';

export interface ContentStats {
  /** Audio RMS in dBFS (-Infinity for digital silence). */
  rmsDb: number;
  /** Mean absolute difference between consecutive frames, 0..255. */
  motion: number;
}

export async function contentStats(file: string, start: number, seconds: number, probe: ProbeInfo, timeoutMs: number): Promise<ContentStats> {
  const fps = Math.min(4, Math.max(1, 16 / seconds));
  const clip = await decodeClip(file, start, seconds, { fps, width: 32, height: 24, sampleRate: 8000, probe, timeoutMs, audio: probe.hasAudio ? 'require' : 'skip', video: probe.hasVideo ? 'require' : 'skip' });
  let rmsDb = -Infinity;
  if (clip.audio.length > 0 && clip.decodedSamples > 0) {
    let s = 0;
    const n = Math.min(clip.decodedSamples, clip.audio.length);
    for (let i = 0; i < n; i++) s += clip.audio[i] * clip.audio[i];
    const rms = Math.sqrt(s / n);
    rmsDb = rms > 0 ? 20 * Math.log10(rms) : -Infinity;
  }
  let motion = 0;
  const [T, H, W] = clip.shape;
  const frameBytes = H * W * 3;
  const used = Math.min(T, clip.decodedFrames);
  if (used > 1) {
    let s = 0;
    for (let t = 1; t < used; t++) {
      const a = t * frameBytes;
      const b = (t - 1) * frameBytes;
      for (let i = 0; i < frameBytes; i++) s += Math.abs(clip.frames[a + i] - clip.frames[b + i]);
    }
    motion = s / ((used - 1) * frameBytes);
  }
  return { rmsDb, motion };
}
