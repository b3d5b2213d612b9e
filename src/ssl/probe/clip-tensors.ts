/**
 * The experiment's tensor cache: every clip the arms train on or the probe embeds is decoded once
 * into the SSL model's input shapes (log-mel patch [frames, mels], frames [T, H, W, 3] normalised),
 * and stored as two float32 files plus an index, so the arm processes load arrays instead of
 * running ffmpeg again for every seed.
 *
 *   <dir>/index.json    { version, ids[], dims, failed[{id, reason}] }
 *   <dir>/audio.f32     [n, audioFrames, mels] little-endian float32
 *   <dir>/frames.f32    [n, T, H, W, 3]
 */
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { decodeClip } from '../../media/decode.js';
import { logMelExamples, logMelSpectrogram } from '../../media/logmel.js';
import { Pool, defaultConcurrency } from '../../runtime/pool.js';
import { Progress } from '../../runtime/progress.js';
import { writeFileAtomic, writeJsonAtomic } from '../../runtime/atomic.js';
import { exists } from '../../runtime/jsonl.js';

export interface TensorDims {
  audioFrames: number;
  mels: number;
  frames: number;
  height: number;
  width: number;
}

export interface ClipRef {
  id: string;
  file: string;
  start?: number;
  duration?: number;
}

export interface ClipTensors {
  ids: string[];
  dims: TensorDims;
  /** [n, audioFrames, mels] */
  audio: Float32Array;
  /** [n, T, H, W, 3] */
  frames: Float32Array;
  failed: Array<{ id: string; reason: string }>;
}

const VERSION = 1;
const KINETICS_MEAN = 0.45;
const KINETICS_STD = 0.225;

/** Decode one clip into the model's input shapes. */
export async function clipToTensors(clip: ClipRef, dims: TensorDims, fallbackSeconds = 4): Promise<{ audio: Float32Array; frames: Float32Array }> {
  if (dims.width !== dims.height) throw new Error(`clip tensors: square frames only (got ${dims.width} x ${dims.height})`);
  const seconds = clip.duration ?? fallbackSeconds;
  const start = clip.start ?? 0;
  // Enough frames to sample T evenly; audio at VGGish's 16 kHz.
  const fps = Math.max(1, Math.ceil((dims.frames * 2) / seconds));
  const decoded = await decodeClip(clip.file, start, seconds, {
    fps,
    width: dims.width,
    height: dims.height,
    sampleRate: 16000,
    fit: 'cover',
    audio: 'optional',
    video: 'optional',
  });
  // T frames evenly over the decoded ones (centre of each of T segments), Kinetics normalisation.
  const available = decoded.shape[0];
  if (available < 1) throw new Error(`${clip.file}: no frames decoded`);
  const per = dims.height * dims.width * 3;
  const frames = new Float32Array(dims.frames * per);
  for (let t = 0; t < dims.frames; t++) {
    const src = Math.min(available - 1, Math.floor(((t + 0.5) * available) / dims.frames)) * per;
    for (let k = 0; k < per; k++) frames[t * per + k] = (decoded.frames[src + k] / 255 - KINETICS_MEAN) / KINETICS_STD;
  }
  const mel = logMelSpectrogram(decoded.audio, decoded.sampleRate, { nMels: dims.mels });
  // The centre window of `audioFrames` frames (padded by repetition when the clip is shorter).
  const all = logMelExamples(mel, mel.frames >= dims.audioFrames ? mel.frames : dims.audioFrames, 1, true);
  const total = all.frames;
  const from = Math.max(0, Math.floor((total - dims.audioFrames) / 2));
  const audio = all.data.slice(from * dims.mels, (from + dims.audioFrames) * dims.mels);
  return { audio, frames };
}

function sameDims(a: TensorDims, b: TensorDims): boolean {
  return a.audioFrames === b.audioFrames && a.mels === b.mels && a.frames === b.frames && a.height === b.height && a.width === b.width;
}

/**
 * Decode `clips` into `dir` (skipped when the cache there already holds exactly these ids and
 * dims). Clips that fail to decode are listed in `failed` and left out.
 */
export async function buildClipTensors(
  clips: ClipRef[],
  dims: TensorDims,
  dir: string,
  opts: { concurrency?: number; silent?: boolean; fallbackSeconds?: number } = {},
): Promise<{ count: number; failed: Array<{ id: string; reason: string }>; skipped: boolean }> {
  const indexFile = path.join(dir, 'index.json');
  if (await exists(indexFile)) {
    const idx = JSON.parse(await fsp.readFile(indexFile, 'utf8')) as { version: number; requested: string[]; ids: string[]; dims: TensorDims; failed: ClipTensors['failed'] };
    if (idx.version === VERSION && sameDims(idx.dims, dims) && JSON.stringify(idx.requested) === JSON.stringify(clips.map((c) => c.id))) {
      return { count: idx.ids.length, failed: idx.failed, skipped: true };
    }
  }
  const perA = dims.audioFrames * dims.mels;
  const perF = dims.frames * dims.height * dims.width * 3;
  const progress = new Progress('decode clips', { total: clips.length, unit: 'clips', silent: opts.silent });
  const pool = new Pool(opts.concurrency ?? defaultConcurrency());
  const results = await pool.map(clips, async (clip) => {
    try {
      const t = await clipToTensors(clip, dims, opts.fallbackSeconds);
      progress.tick();
      return t;
    } catch (err) {
      progress.tick();
      return { error: (err as Error).message.split('\n')[0] };
    }
  });
  progress.finish();
  const ok: number[] = [];
  const failed: ClipTensors['failed'] = [];
  results.forEach((r, i) => ('error' in r ? failed.push({ id: clips[i].id, reason: r.error }) : ok.push(i)));
  const audio = new Float32Array(ok.length * perA);
  const frames = new Float32Array(ok.length * perF);
  ok.forEach((i, k) => {
    const r = results[i] as { audio: Float32Array; frames: Float32Array };
    audio.set(r.audio, k * perA);
    frames.set(r.frames, k * perF);
  });
  await writeFileAtomic(path.join(dir, 'audio.f32'), new Uint8Array(audio.buffer));
  await writeFileAtomic(path.join(dir, 'frames.f32'), new Uint8Array(frames.buffer));
  // The index last: its presence means the cache is complete.
  await writeJsonAtomic(indexFile, { version: VERSION, requested: clips.map((c) => c.id), ids: ok.map((i) => clips[i].id), dims, failed });
  return { count: ok.length, failed, skipped: false };
}

/** Load a cache written by buildClipTensors. */
export async function loadClipTensors(dir: string): Promise<ClipTensors> {
  const indexFile = path.join(dir, 'index.json');
  let idx: { ids: string[]; dims: TensorDims; failed: ClipTensors['failed'] };
  try {
    idx = JSON.parse(await fsp.readFile(indexFile, 'utf8'));
  } catch (err) {
    throw new Error(`clip tensors: cannot read ${indexFile} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
  const read = async (name: string, per: number) => {
    const buf = await fsp.readFile(path.join(dir, name));
    const arr = new Float32Array(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength));
    if (arr.length !== idx.ids.length * per) throw new Error(`clip tensors: ${path.join(dir, name)} has ${arr.length} values, expected ${idx.ids.length} x ${per}`);
    return arr;
  };
  const d = idx.dims;
  return {
    ids: idx.ids,
    dims: d,
    audio: await read('audio.f32', d.audioFrames * d.mels),
    frames: await read('frames.f32', d.frames * d.height * d.width * 3),
    failed: idx.failed,
  };
}

/** The rows of `t` for `ids` (in that order); unknown ids are an error naming them. */
export function selectRows(t: ClipTensors, ids: string[]): { audio: Float32Array; frames: Float32Array; ids: string[] } {
  const pos = new Map(t.ids.map((id, i) => [id, i]));
  const missing = ids.filter((id) => !pos.has(id));
  if (missing.length > 0) throw new Error(`clip tensors: no tensors for ${missing.length} clip(s), e.g. ${missing.slice(0, 3).join(', ')}`);
  const perA = t.dims.audioFrames * t.dims.mels;
  const perF = t.dims.frames * t.dims.height * t.dims.width * 3;
  const audio = new Float32Array(ids.length * perA);
  const frames = new Float32Array(ids.length * perF);
  ids.forEach((id, k) => {
    const i = pos.get(id)!;
    audio.set(t.audio.subarray(i * perA, (i + 1) * perA), k * perA);
    frames.set(t.frames.subarray(i * perF, (i + 1) * perF), k * perF);
  });
  return { audio, frames, ids };
}
