/**
 * Content pre-filters (ours, instead of the reference's metadata filters): a clip is refused when
 * its audio is silent or its picture frozen. Decodes the window small (32x24) and fast.
 *
 * The frozen-picture test cannot alias: it decodes every frame of the window at the source's own
 * rate (capped at 60 fps and MAX_FRAMES frames, so for windows up to 10 s at up to 60 fps no frame
 * is skipped) and takes the largest frame-to-frame difference over the window, so a short event
 * (a flash, a cut) at any period counts as motion. Sampling a few frames (the old rule) read a
 * picture that flashes at a fixed period as frozen.
 */
import { decodeClip } from '../../media/decode.js';
import type { ProbeInfo } from '../../media/types.js';

export interface ContentStats {
  /** Audio RMS in dBFS (-Infinity for digital silence). */
  rmsDb: number;
  /** Largest (over the window) mean absolute difference between consecutive frames, 0..255. */
  motion: number;
  /** Mean over the window of the same differences. */
  meanMotion: number;
  /** Frames compared. */
  frames: number;
}

/** Most frames the frozen-picture test decodes per window. */
export const MAX_FRAMES = 600;

/** The decode rate of the frozen-picture test: the source's rate, capped at 60 fps and MAX_FRAMES per window. */
export function prefilterFps(seconds: number, sourceFps: number | undefined): number {
  const native = sourceFps && Number.isFinite(sourceFps) && sourceFps > 0 ? sourceFps : 30;
  return Math.max(1, Math.min(native, 60, MAX_FRAMES / Math.max(seconds, 1e-3)));
}

export async function contentStats(file: string, start: number, seconds: number, probe: ProbeInfo, timeoutMs: number): Promise<ContentStats> {
  const fps = prefilterFps(seconds, probe.video?.fps);
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
  let meanMotion = 0;
  const [T, H, W] = clip.shape;
  const frameBytes = H * W * 3;
  const used = Math.min(T, clip.decodedFrames);
  if (used > 1) {
    let total = 0;
    for (let t = 1; t < used; t++) {
      const a = t * frameBytes;
      const b = (t - 1) * frameBytes;
      let s = 0;
      for (let i = 0; i < frameBytes; i++) s += Math.abs(clip.frames[a + i] - clip.frames[b + i]);
      const d = s / frameBytes;
      total += d;
      if (d > motion) motion = d;
    }
    meanMotion = total / (used - 1);
  }
  return { rmsDb, motion, meanMotion, frames: used };
}
