/**
 * decodeClip: one ffmpeg process turns a window of a media file into RGB frames on stdout and mono
 * float PCM on fd 3, both through pipes. The result has exactly the requested lengths: short
 * streams are padded (last frame repeated, audio zero-filled), long ones trimmed, and the result
 * says how many of each.
 */
import { ffmpegPath } from './ffmpeg.js';
import { probe as probeFile } from './probe.js';
import { ffmpegInput } from './source.js';
import { MediaError, reasonFromStderr, runTool } from './process.js';
import type { DecodedClip, DecodeOptions, ProbeInfo } from './types.js';
import { CONFIG_DEFAULTS } from '../config/defaults.js';

function fmt(x: number): string {
  return Number(x.toFixed(6)).toString();
}

export function expectedFrames(seconds: number, fps: number): number {
  return Math.max(1, Math.round(seconds * fps));
}

export function expectedSamples(seconds: number, sampleRate: number): number {
  return Math.max(1, Math.round(seconds * sampleRate));
}

function checkOptions(file: string, start: number, seconds: number, o: DecodeOptions): void {
  const bad = (what: string) => {
    throw new MediaError(file, `invalid decode options: ${what}`);
  };
  if (!(Number.isFinite(start) && start >= 0)) bad(`start must be >= 0, got ${start}`);
  if (!(Number.isFinite(seconds) && seconds > 0)) bad(`seconds must be > 0, got ${seconds}`);
  if (!(o.fps > 0 && o.fps <= 240)) bad(`fps must be in (0, 240], got ${o.fps}`);
  if (!(Number.isInteger(o.width) && o.width >= 2 && o.width <= 8192)) bad(`width must be an integer in [2, 8192], got ${o.width}`);
  if (!(Number.isInteger(o.height) && o.height >= 2 && o.height <= 8192)) bad(`height must be an integer in [2, 8192], got ${o.height}`);
  if (!(Number.isInteger(o.sampleRate) && o.sampleRate >= 1000 && o.sampleRate <= 384000)) bad(`sampleRate must be an integer in [1000, 384000], got ${o.sampleRate}`);
}

/** The ffmpeg argument list decodeClip runs (exported so benchmarks can run the same command). */
export function decodeArgs(file: string, start: number, seconds: number, o: DecodeOptions, streams: { video: boolean; audio: boolean }, outputs: { video: string; audio: string } = { video: 'pipe:1', audio: 'pipe:3' }): string[] {
  const args = ['-nostdin', '-hide_banner', '-v', 'error', '-threads', String(o.threads ?? 1)];
  if (start > 0) args.push('-ss', fmt(start));
  args.push('-t', fmt(seconds), '-i', ffmpegInput(file));
  if (streams.video) {
    const T = expectedFrames(seconds, o.fps);
    const scale = o.fit === 'cover'
      ? `scale=${o.width}:${o.height}:force_original_aspect_ratio=increase:flags=bilinear,crop=${o.width}:${o.height}`
      : `scale=${o.width}:${o.height}:flags=bilinear`;
    args.push('-map', '0:v:0', '-vf', `fps=${fmt(o.fps)},${scale}`, '-frames:v', String(T), '-pix_fmt', 'rgb24', '-f', 'rawvideo', '-y', outputs.video);
  }
  if (streams.audio) {
    args.push('-map', '0:a:0', '-ac', '1', '-ar', String(o.sampleRate), '-f', 'f32le', '-y', outputs.audio);
  }
  return args;
}

/**
 * Decode `seconds` of `file` from `start` to frames [T,H,W,3] (T = round(seconds*fps)) and mono
 * audio of round(seconds*sampleRate) samples. Throws MediaError naming the file and the reason,
 * with the tail of ffmpeg's stderr.
 */
export async function decodeClip(file: string, start: number, seconds: number, opts: DecodeOptions): Promise<DecodedClip> {
  checkOptions(file, start, seconds, opts);
  const timeoutMs = opts.timeoutMs ?? CONFIG_DEFAULTS.features.timeoutSeconds * 1000;
  const audioMode = opts.audio ?? 'require';
  const videoMode = opts.video ?? 'require';
  const info: ProbeInfo = opts.probe ?? (await probeFile(file, { timeoutMs, signal: opts.signal }));
  if (videoMode === 'require' && !info.hasVideo) throw new MediaError(file, 'no video stream');
  if (audioMode === 'require' && !info.hasAudio) throw new MediaError(file, 'no audio stream');
  const wantVideo = videoMode !== 'skip' && info.hasVideo;
  const wantAudio = audioMode !== 'skip' && info.hasAudio;
  const T = expectedFrames(seconds, opts.fps);
  const S = expectedSamples(seconds, opts.sampleRate);
  const frameBytes = opts.width * opts.height * 3;
  const frames = new Uint8Array(videoMode === 'skip' ? 0 : T * frameBytes);
  const audio = new Float32Array(audioMode === 'skip' ? 0 : S);
  let decodedFrames = 0;
  let decodedSamples = 0;
  if (wantVideo || wantAudio) {
    const args = decodeArgs(file, start, seconds, opts, { video: wantVideo, audio: wantAudio }, {
      video: 'pipe:1',
      audio: wantVideo ? 'pipe:3' : 'pipe:1',
    });
    // ffmpeg writes straight into the result arrays (one allocation per clip, no concatenation).
    const audioBytes = new Uint8Array(audio.buffer, audio.byteOffset, audio.byteLength);
    const sinks = wantVideo ? [frames, wantAudio ? audioBytes : undefined] : [audioBytes];
    const r = await runTool(ffmpegPath(), args, { extraOutputs: wantVideo && wantAudio ? 1 : 0, timeoutMs, signal: opts.signal, sinks });
    if (r.timedOut) throw new MediaError(file, `decode timed out after ${(timeoutMs / 1000).toFixed(1)} s`, r.stderrTail);
    if (r.aborted) throw new MediaError(file, 'decode aborted');
    if (r.code !== 0) throw new MediaError(file, reasonFromStderr(r.stderrTail, `ffmpeg failed to decode (exit ${r.code ?? r.signal})`), r.stderrTail);
    if (wantVideo) decodedFrames = Math.floor(r.outputBytes[0] / frameBytes);
    if (wantAudio) {
      const got = r.outputBytes[wantVideo ? 1 : 0];
      decodedSamples = Math.floor(got / 4);
      // a trailing partial sample is not a sample: keep the zero padding there
      const whole = Math.min(decodedSamples, S) * 4;
      audioBytes.fill(0, whole, Math.min(got, audioBytes.length));
    }
    if (wantVideo && decodedFrames === 0) throw new MediaError(file, `no video frames decoded in the window ${fmt(start)}–${fmt(start + seconds)} s`, r.stderrTail);
    if (wantAudio && audioMode === 'require' && decodedSamples === 0) throw new MediaError(file, `no audio decoded in the window ${fmt(start)}–${fmt(start + seconds)} s`, r.stderrTail);
  }
  // Pad video by repeating the last decoded frame.
  const keptFrames = Math.min(decodedFrames, T);
  if (videoMode !== 'skip' && keptFrames > 0) {
    const last = frames.subarray((keptFrames - 1) * frameBytes, keptFrames * frameBytes);
    for (let t = keptFrames; t < T; t++) frames.set(last, t * frameBytes);
  }
  return {
    file,
    start,
    seconds,
    frames,
    shape: [videoMode === 'skip' ? 0 : T, opts.height, opts.width, 3],
    fps: opts.fps,
    audio,
    sampleRate: opts.sampleRate,
    decodedFrames,
    decodedSamples,
    paddedFrames: videoMode === 'skip' ? 0 : T - keptFrames,
    paddedSamples: audioMode === 'skip' ? 0 : S - Math.min(decodedSamples, S),
    trimmedFrames: Math.max(0, decodedFrames - T),
    trimmedSamples: Math.max(0, decodedSamples - S),
    missingAudio: audioMode !== 'skip' && !info.hasAudio,
    missingVideo: videoMode !== 'skip' && !info.hasVideo,
  };
}
