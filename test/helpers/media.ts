/** Test fixtures made with the bundled ffmpeg: small clips with or without streams, broken files. */
import { promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ffmpegPath } from '../../src/media/ffmpeg.js';
import { runTool } from '../../src/media/process.js';

export async function tempDir(prefix = 'avc-test-'): Promise<string> {
  return fsp.mkdtemp(path.join(os.tmpdir(), prefix));
}

export interface FixtureOptions {
  seconds?: number;
  video?: 'moving' | 'frozen' | false;
  audio?: 'tone' | 'silent' | false;
  freq?: number;
  width?: number;
  height?: number;
  fps?: number;
}

/** Write a small MP4 (or, with video=false, an M4A) with the streams asked for. */
export async function makeClip(file: string, o: FixtureOptions = {}): Promise<string> {
  const seconds = o.seconds ?? 2;
  const w = o.width ?? 96;
  const h = o.height ?? 64;
  const fps = o.fps ?? 10;
  const args = ['-nostdin', '-v', 'error', '-y'];
  const video = o.video ?? 'moving';
  const audio = o.audio ?? 'tone';
  if (video) args.push('-f', 'lavfi', '-i', video === 'moving' ? `testsrc2=s=${w}x${h}:r=${fps}` : `color=c=0x336699:s=${w}x${h}:r=${fps}`);
  if (audio) args.push('-f', 'lavfi', '-i', audio === 'tone' ? `sine=f=${o.freq ?? 440}:sample_rate=16000` : 'anullsrc=r=16000:cl=mono');
  args.push('-t', String(seconds));
  if (video) args.push('-c:v', 'libx264', '-preset', 'ultrafast', '-pix_fmt', 'yuv420p', '-threads', '1');
  if (audio) args.push('-c:a', 'aac', '-ac', '1');
  args.push('-f', video ? 'mp4' : 'ipod', file);
  const r = await runTool(ffmpegPath(), args, { timeoutMs: 60_000 });
  if (r.code !== 0) throw new Error(`fixture ${file}: ${r.stderrTail}`);
  return file;
}
