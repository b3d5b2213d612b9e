/**
 * decode(spec): clips to fixed-shape tensors, in parallel. Each item is either a shard sample with
 * a video member (`mp4`, `webm`, `mkv`, `mov`, `m4v`, `avi`; the `json` member supplies the clip's
 * duration and probe facts) or a clip record (`source`, `start`, `duration`, as in manifest.jsonl or
 * selection.csv). Member bytes are written to a private temporary file that the media layer's
 * decodeClip reads (MP4 needs a seekable input), and removed right after.
 *
 * A window of `seconds` is chosen inside the clip by `sampling`:
 *   'center'  the middle of the clip;
 *   'random'  uniform over the clip, from Rng.derive(seed, 'decode', epoch, position, key), where
 *             position counts the items this stage has seen (it is part of the state), so a
 *             clip seen again (repeat) gets a new window and restores are exact;
 *   'uniform' T = round(seconds·fps) frames spread evenly over the whole clip (as ACAV samples 32
 *             frames over 10 s), with the centre `seconds` of audio.
 * Output per item: key, frames uint8 [T, H, W, 3], audio float32 [S] (S = round(seconds·rate)),
 * the window, and meta (the json member or the record). Decodes run `concurrency` at a time as
 * separate ffmpeg processes; order is the input order; at most 2 × `concurrency` clips are held
 * (running, or finished and waiting for an earlier one), so the pool stays busy behind a slow clip.
 */
import { promises as fsp, rmSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import os from 'node:os';
import path from 'node:path';
import type { NodeContext, OnError, Stage } from '../core/node.js';
import { ReadAheadNode } from '../stages/map.js';
import type { NdArray } from '../formats/ndarray.js';
import { decodeClip, expectedFrames, expectedSamples } from '../../media/decode.js';
import { probe as probeFile } from '../../media/probe.js';
import type { DecodedClip, DecodeOptions, ProbeInfo } from '../../media/types.js';
import { Rng } from '../../runtime/random.js';
import { defaultConcurrency } from '../../runtime/pool.js';
import { CONFIG_DEFAULTS } from '../../config/defaults.js';

export type ClipDecoder = (file: string, start: number, seconds: number, opts: DecodeOptions) => Promise<DecodedClip>;

export type Sampling = 'random' | 'center' | 'uniform';

export interface DecodeSpec {
  fps: number;
  /** Output size: a number for square frames, or [width, height]. */
  size: number | readonly [number, number];
  seconds: number;
  sampleRate: number;
  /** Where the window sits: random (training), center (evaluation), uniform (frames over the whole clip). */
  sampling: Sampling;
  /** Seed for 'random' sampling (default 0). */
  seed?: number;
  /** Default 'cover' (scale the short side, centre-crop). */
  fit?: 'cover' | 'stretch';
  /** Default 'optional': clips without audio get silence. */
  audio?: 'require' | 'optional' | 'skip';
  /** Parallel ffmpeg processes (default: cores). */
  concurrency?: number;
  /** Default 'skip': undecodable items are counted, reported and dropped. */
  onError?: OnError;
  timeoutMs?: number;
  /** Replace the media layer's decodeClip (tests, other backends). */
  decoder?: ClipDecoder;
}

export interface DecodedItem {
  key: string;
  /** uint8 [T, H, W, 3] */
  frames: NdArray<Uint8Array>;
  /** float32 [S], mono */
  audio: NdArray<Float32Array>;
  /** Window decoded, seconds from the start of the clip's file. */
  start: number;
  seconds: number;
  fps: number;
  sampleRate: number;
  meta: Record<string, unknown> | null;
}

const VIDEO_EXTS = ['mp4', 'webm', 'mkv', 'mov', 'm4v', 'avi'];

interface ClipInput {
  key: string;
  where: string;
  file?: string;
  bytes?: Buffer;
  ext: string;
  start: number;
  duration?: number;
  meta: Record<string, unknown> | null;
}

function asMeta(v: unknown): Record<string, unknown> | null {
  if (Buffer.isBuffer(v)) return JSON.parse(v.toString('utf8')) as Record<string, unknown>;
  if (v && typeof v === 'object') return v as Record<string, unknown>;
  return null;
}

/** What to decode for an item: a shard sample with a video member, or a clip record. */
export function clipInput(item: unknown): ClipInput {
  const o = item as Record<string, unknown>;
  if (o && typeof o.__key__ === 'string') {
    const key = o.__key__;
    const where = `${key} (${String(o.__url__)})`;
    const ext = Object.keys(o).find((k) => VIDEO_EXTS.includes(k.slice(k.lastIndexOf('.') + 1)) && Buffer.isBuffer(o[k]));
    if (!ext) throw new Error(`sample ${where} has no video member (${VIDEO_EXTS.join(', ')})`);
    const meta = o.json !== undefined ? asMeta(o.json) : null;
    const duration = typeof meta?.duration === 'number' ? meta.duration : undefined;
    return { key, where, bytes: o[ext] as Buffer, ext: ext.slice(ext.lastIndexOf('.') + 1), start: 0, duration, meta };
  }
  if (o && typeof o.source === 'string') {
    const key = typeof o.id === 'string' ? o.id : path.basename(o.source);
    const start = typeof o.start === 'number' ? o.start : 0;
    const duration = typeof o.duration === 'number' ? o.duration : undefined;
    return { key, where: `${key} (${o.source})`, file: o.source, ext: path.extname(o.source).slice(1), start, duration, meta: o };
  }
  throw new Error('decode: an item must be a shard sample with a video member or a clip record with a source path');
}

/** Probe facts from a ClipRecord-like meta (skips an ffprobe run per clip), or null. */
function probeFromMeta(file: string, meta: Record<string, unknown> | null, duration: number): ProbeInfo | null {
  const p = meta?.probe as Record<string, unknown> | undefined;
  if (!p || typeof p.width !== 'number' || typeof p.height !== 'number') return null;
  const hasAudio = typeof p.audioCodec === 'string' && p.audioCodec !== '' && Number(p.sampleRate) > 0;
  const hasVideo = typeof p.videoCodec === 'string' ? p.videoCodec !== '' : true;
  return {
    file,
    duration,
    format: 'mp4',
    sizeBytes: 0,
    hasVideo,
    hasAudio,
    video: hasVideo ? { index: 0, codec: String(p.videoCodec ?? ''), width: p.width, height: p.height, fps: Number(p.fps) || 0 } : undefined,
    audio: hasAudio ? { index: 1, codec: String(p.audioCodec), sampleRate: Number(p.sampleRate), channels: 1 } : undefined,
    streams: (hasVideo ? 1 : 0) + (hasAudio ? 1 : 0),
  };
}

let scratchCounter = 0;
/** Members up to this size are written to their scratch file synchronously (see decodeItem). */
const SYNC_SCRATCH_MAX = 8 << 20;

/** A unique temp file name for one member (removed right after its decode). */
function scratchFile(ext: string): string {
  return path.join(os.tmpdir(), `avcurate-decode-${process.pid}-${scratchCounter++}-${randomBytes(4).toString('hex')}.${ext || 'mp4'}`);
}

function sizeOf(spec: DecodeSpec): [number, number] {
  return typeof spec.size === 'number' ? [spec.size, spec.size] : [spec.size[0], spec.size[1]];
}

export function checkDecodeSpec(spec: DecodeSpec): void {
  const [w, h] = sizeOf(spec);
  const bad = (m: string) => {
    throw new RangeError(`decode: ${m}`);
  };
  if (!(spec.fps > 0)) bad(`fps must be > 0, got ${spec.fps}`);
  if (!(spec.seconds > 0)) bad(`seconds must be > 0, got ${spec.seconds}`);
  if (!(Number.isInteger(w) && Number.isInteger(h) && w >= 2 && h >= 2)) bad(`size must be integers >= 2, got ${w}x${h}`);
  if (!(Number.isInteger(spec.sampleRate) && spec.sampleRate >= 1000)) bad(`sampleRate must be an integer >= 1000, got ${spec.sampleRate}`);
  if (spec.sampling && !['random', 'center', 'uniform'].includes(spec.sampling)) bad(`sampling must be random, center or uniform, got ${spec.sampling}`);
}

/** Decode one item (exported for tools that decode outside a pipeline). */
export async function decodeItem(item: unknown, spec: DecodeSpec, epoch = 0, position = 0): Promise<DecodedItem> {
  const input = clipInput(item);
  const [width, height] = sizeOf(spec);
  const decoder = spec.decoder ?? decodeClip;
  let file = input.file;
  let tmp: string | null = null;
  if (input.bytes) {
    tmp = scratchFile(input.ext);
    // A member of a few MB is written and removed synchronously (a page-cache copy; three trips
    // through libuv's thread pool per clip cost more Node CPU); a larger one asynchronously.
    if (input.bytes.length <= SYNC_SCRATCH_MAX) writeFileSync(tmp, input.bytes);
    else await fsp.writeFile(tmp, input.bytes);
    file = tmp;
  }
  try {
    let duration = input.duration;
    let info: ProbeInfo | null = duration !== undefined ? probeFromMeta(file!, input.meta, duration) : null;
    if (!info) {
      info = await probeFile(file!, { timeoutMs: spec.timeoutMs });
      if (duration === undefined) duration = Math.max(0, info.duration - input.start);
    }
    const D = duration!;
    const sampling = spec.sampling;
    const opts: DecodeOptions = {
      fps: spec.fps, width, height, sampleRate: spec.sampleRate, fit: spec.fit ?? CONFIG_DEFAULTS.loader.decode.fit, audio: spec.audio ?? 'optional', timeoutMs: spec.timeoutMs, probe: info,
    };
    const T = expectedFrames(spec.seconds, spec.fps);
    const S = expectedSamples(spec.seconds, spec.sampleRate);
    let start: number;
    let clip: DecodedClip;
    let audio: Float32Array;
    if (sampling === 'uniform' && D > spec.seconds) {
      start = input.start;
      clip = await decoder(file!, input.start, D, { ...opts, fps: T / D });
      const off = Math.max(0, Math.floor((clip.audio.length - S) / 2));
      audio = clip.audio.length === 0 ? clip.audio : clip.audio.slice(off, off + S);
    } else {
      const slack = Math.max(0, D - spec.seconds);
      const u = sampling === 'random' ? Rng.derive(spec.seed ?? CONFIG_DEFAULTS.seed, 'decode', epoch, position, input.key).next() : 0.5;
      start = input.start + slack * u;
      clip = await decoder(file!, start, spec.seconds, opts);
      audio = clip.audio;
    }
    if (clip.shape[0] !== T && (opts.video ?? 'require') !== 'skip') throw new Error(`decoded ${clip.shape[0]} frames, expected ${T}`);
    return {
      key: input.key,
      frames: { dtype: 'uint8', shape: [T, height, width, 3], data: clip.frames },
      audio: { dtype: 'float32', shape: [audio.length], data: audio },
      start,
      seconds: spec.seconds,
      fps: spec.fps,
      sampleRate: spec.sampleRate,
      meta: input.meta,
    };
  } catch (err) {
    const msg = (err as Error).message ?? String(err);
    throw new Error(tmp ? msg.split(tmp).join(`${input.key}.${input.ext}`) : msg, { cause: err });
  } finally {
    if (tmp) rmSync(tmp, { force: true });
  }
}

export function decodeStage<T>(spec: DecodeSpec): Stage<T, DecodedItem> {
  checkDecodeSpec(spec);
  const limit = spec.concurrency ?? defaultConcurrency();
  const onError = spec.onError ?? CONFIG_DEFAULTS.loader.onError;
  return {
    make: (up, ctx: NodeContext) =>
      new ReadAheadNode<T, DecodedItem>(up, ctx, (x, i, c) => decodeItem(x, spec, c.epoch, i), limit, { kind: 'decode', name: 'decode', onError, hold: 2 * limit }),
    size: (n) => (onError === 'skip' ? null : n),
  };
}
