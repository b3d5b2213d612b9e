/** probe(file): what a media file holds, through ffprobe's JSON output. */
import { promises as fsp } from 'node:fs';
import { ffprobePath } from './ffmpeg.js';
import { ffmpegInput, parseTarMemberSource } from './source.js';
import { MediaError, reasonFromStderr, runTool } from './process.js';
import type { AudioStreamInfo, ProbeInfo, VideoStreamInfo } from './types.js';
import { CONFIG_DEFAULTS } from '../config/defaults.js';

function parseRate(text: string | undefined): number {
  if (!text) return 0;
  const [a, b] = text.split('/').map(Number);
  if (!Number.isFinite(a)) return 0;
  if (b === undefined) return a;
  return b > 0 ? a / b : 0;
}

function num(x: unknown): number | undefined {
  const v = typeof x === 'string' ? Number(x) : typeof x === 'number' ? x : NaN;
  return Number.isFinite(v) ? v : undefined;
}

interface FfprobeStream {
  index: number;
  codec_type?: string;
  codec_name?: string;
  width?: number;
  height?: number;
  avg_frame_rate?: string;
  r_frame_rate?: string;
  nb_frames?: string;
  pix_fmt?: string;
  duration?: string;
  sample_rate?: string;
  channels?: number;
  disposition?: { attached_pic?: number };
}

export interface ProbeOptions {
  timeoutMs?: number;
  signal?: AbortSignal;
}

/** Probe a file. Throws MediaError with a clear reason for anything unreadable. */
export async function probe(file: string, opts: ProbeOptions = {}): Promise<ProbeInfo> {
  // A tar member (src/media/source.ts) is checked on its tar, and its byte range against the tar's size.
  const member = parseTarMemberSource(file);
  const onDisk = member ? member.tar : file;
  let stat;
  try {
    stat = await fsp.stat(onDisk);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new MediaError(file, code === 'ENOENT' ? `${member ? 'tar ' : ''}file not found` : code === 'EACCES' ? 'permission denied' : `cannot stat (${code})`);
  }
  if (stat.isDirectory()) throw new MediaError(file, 'is a directory, not a media file');
  if (!stat.isFile()) throw new MediaError(file, 'not a regular file');
  if (member && member.offset + member.size > stat.size) throw new MediaError(file, `tar member ${member.member} (bytes ${member.offset}–${member.offset + member.size}) reaches past the end of ${member.tar} (${stat.size} bytes)`);
  const size = member ? member.size : stat.size;
  if (size === 0) throw new MediaError(file, 'empty file (0 bytes)');
  try {
    const fh = await fsp.open(onDisk, 'r');
    await fh.close();
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new MediaError(file, code === 'EACCES' ? 'permission denied' : `cannot open (${code})`);
  }
  // ffprobe takes the input as a plain argument ("--" is not special to it): ffmpegInput gives the
  // URL form ("file:", or "subfile" for a tar member) so names that look like options or
  // protocols ("-x.mp4", "http:...") are never misparsed.
  const args = ['-v', 'error', '-print_format', 'json', '-show_format', '-show_streams', ffmpegInput(file)];
  const timeoutMs = opts.timeoutMs ?? CONFIG_DEFAULTS.ingest.timeoutSeconds * 1000;
  const r = await runTool(ffprobePath(), args, { timeoutMs, signal: opts.signal });
  if (r.timedOut) throw new MediaError(file, `ffprobe timed out after ${(timeoutMs / 1000).toFixed(0)} s`, r.stderrTail);
  if (r.aborted) throw new MediaError(file, 'probe aborted');
  if (r.code !== 0) {
    const head = await readHead(onDisk, Math.min(512, size), member?.offset ?? 0);
    const reason = looksLikeText(head) ? 'not a media file (the content is text)' : reasonFromStderr(r.stderrTail, `ffprobe failed (exit ${r.code})`);
    throw new MediaError(file, reason, r.stderrTail);
  }
  let json: { format?: Record<string, unknown>; streams?: FfprobeStream[] };
  try {
    json = JSON.parse(r.outputs[0].toString('utf8'));
  } catch {
    throw new MediaError(file, 'ffprobe printed unreadable output', r.stderrTail);
  }
  const streams = json.streams ?? [];
  const format = json.format ?? {};
  if (streams.length === 0) throw new MediaError(file, 'no audio or video streams', r.stderrTail);
  const vs = streams.find((s) => s.codec_type === 'video' && !s.disposition?.attached_pic);
  const as = streams.find((s) => s.codec_type === 'audio');
  let video: VideoStreamInfo | undefined;
  if (vs) {
    const fps = parseRate(vs.avg_frame_rate) || parseRate(vs.r_frame_rate);
    video = {
      index: vs.index,
      codec: vs.codec_name ?? 'unknown',
      width: vs.width ?? 0,
      height: vs.height ?? 0,
      fps,
      frames: num(vs.nb_frames),
      pixelFormat: vs.pix_fmt,
      duration: num(vs.duration),
    };
  }
  let audio: AudioStreamInfo | undefined;
  if (as) {
    audio = {
      index: as.index,
      codec: as.codec_name ?? 'unknown',
      sampleRate: num(as.sample_rate) ?? 0,
      channels: as.channels ?? 0,
      duration: num(as.duration),
    };
  }
  const duration = num(format.duration) ?? Math.max(video?.duration ?? 0, audio?.duration ?? 0);
  return {
    file,
    duration,
    format: String(format.format_name ?? 'unknown'),
    sizeBytes: num(format.size) ?? size,
    bitRate: num(format.bit_rate),
    hasVideo: Boolean(video),
    hasAudio: Boolean(audio),
    video,
    audio,
    streams: streams.length,
  };
}

async function readHead(file: string, n: number, at = 0): Promise<Uint8Array> {
  try {
    const fh = await fsp.open(file, 'r');
    try {
      const buf = new Uint8Array(n);
      const { bytesRead } = await fh.read(buf, 0, n, at);
      return buf.subarray(0, bytesRead);
    } finally {
      await fh.close();
    }
  } catch {
    return new Uint8Array(0);
  }
}

/** True when the bytes are printable text (UTF-8 or ASCII), which no media container is. */
function looksLikeText(head: Uint8Array): boolean {
  if (head.length === 0) return false;
  let printable = 0;
  for (const b of head) if (b === 9 || b === 10 || b === 13 || (b >= 32 && b < 127) || b >= 0xc2) printable++;
  return printable / head.length > 0.97;
}
