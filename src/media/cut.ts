/** Cut a window of a media file into its own file (re-encoded for frame-exact cuts, or stream copy). */
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { ffmpegPath } from './ffmpeg.js';
import { MediaError, reasonFromStderr, runTool } from './process.js';
import { ffmpegInput } from './source.js';
import { tempPathFor } from '../runtime/atomic.js';
import { CONFIG_DEFAULTS } from '../config/defaults.js';

export interface CutOptions {
  /** 'reencode' (default): exact window, H.264 + AAC; 'copy': stream copy (fast, cuts at keyframes). */
  mode?: 'reencode' | 'copy';
  /** Scale the picture to this height (keeping aspect, even width) when re-encoding. */
  height?: number;
  crf?: number;
  timeoutMs?: number;
  signal?: AbortSignal;
}

/** Write `seconds` of `file` from `start` to `outPath` (atomically). Returns the output size in bytes. */
export async function cutClip(file: string, start: number, seconds: number, outPath: string, opts: CutOptions = {}): Promise<number> {
  if (!(start >= 0 && seconds > 0)) throw new MediaError(file, `invalid cut window start=${start} seconds=${seconds}`);
  await fsp.mkdir(path.dirname(outPath), { recursive: true });
  const tmp = tempPathFor(outPath);
  const args = ['-nostdin', '-hide_banner', '-v', 'error', '-y'];
  if (start > 0) args.push('-ss', String(start));
  args.push('-t', String(seconds), '-i', ffmpegInput(file), '-map', '0:v:0?', '-map', '0:a:0?');
  if ((opts.mode ?? CONFIG_DEFAULTS.loader.export.cut) === 'copy') {
    args.push('-c', 'copy');
  } else {
    if (opts.height) args.push('-vf', `scale=-2:${opts.height}`);
    args.push('-c:v', 'libx264', '-preset', 'veryfast', '-crf', String(opts.crf ?? 23), '-pix_fmt', 'yuv420p', '-threads', '1', '-c:a', 'aac', '-b:a', '96k');
  }
  args.push('-fflags', '+bitexact', '-flags:v', '+bitexact', '-flags:a', '+bitexact', '-map_metadata', '-1', '-movflags', '+faststart', '-f', 'mp4', tmp);
  const timeoutMs = opts.timeoutMs ?? 120_000;
  const r = await runTool(ffmpegPath(), args, { timeoutMs, signal: opts.signal });
  if (r.code !== 0) {
    await fsp.rm(tmp, { force: true });
    if (r.timedOut) throw new MediaError(file, `cut timed out after ${(timeoutMs / 1000).toFixed(0)} s`, r.stderrTail);
    throw new MediaError(file, reasonFromStderr(r.stderrTail, `ffmpeg could not cut the clip (exit ${r.code})`), r.stderrTail);
  }
  await fsp.rename(tmp, outPath);
  return (await fsp.stat(outPath)).size;
}
