import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { probe } from '../../src/media/probe.js';
import { decodeClip } from '../../src/media/decode.js';
import { cutClip } from '../../src/media/cut.js';
import { MediaError } from '../../src/media/process.js';
import { Pool } from '../../src/runtime/pool.js';
import { makeClip, tempDir } from '../helpers/media.js';

let dir: string;
let clip: string;
let silentVideo: string;
let audioOnly: string;

beforeAll(async () => {
  dir = await tempDir();
  [clip, silentVideo, audioOnly] = await Promise.all([
    makeClip(path.join(dir, 'tone 440.mp4'), { seconds: 3, freq: 440 }),
    makeClip(path.join(dir, 'no-audio.mp4'), { seconds: 2, audio: false }),
    makeClip(path.join(dir, 'audio-only.m4a'), { seconds: 2, video: false }),
  ]);
});

/** Frequency of a mono signal by counting zero crossings. */
function zeroCrossingHz(x: Float32Array, sr: number): number {
  let n = 0;
  for (let i = 1; i < x.length; i++) if ((x[i - 1] < 0) !== (x[i] < 0)) n++;
  return n / 2 / (x.length / sr);
}

describe('probe', () => {
  it('reports streams, codecs, sizes, fps and duration', async () => {
    const p = await probe(clip);
    expect(p.hasVideo).toBe(true);
    expect(p.hasAudio).toBe(true);
    expect(p.video).toMatchObject({ codec: 'h264', width: 96, height: 64, fps: 10 });
    expect(p.audio).toMatchObject({ codec: 'aac', sampleRate: 16000, channels: 1 });
    expect(p.duration).toBeGreaterThan(2.9);
    expect(p.duration).toBeLessThan(3.2);
    expect(p.sizeBytes).toBe((await fsp.stat(clip)).size);
  });

  it('tells video-only and audio-only files apart', async () => {
    const v = await probe(silentVideo);
    expect([v.hasVideo, v.hasAudio]).toEqual([true, false]);
    const a = await probe(audioOnly);
    expect([a.hasVideo, a.hasAudio]).toEqual([false, true]);
  });

  it('gives clear reasons for missing, empty, text and truncated files', async () => {
    const empty = path.join(dir, 'empty.mp4');
    await fsp.writeFile(empty, '');
    const text = path.join(dir, 'text.mp4');
    await fsp.writeFile(text, 'this is not a video\n'.repeat(20));
    const trunc = path.join(dir, 'trunc.mp4');
    const bytes = await fsp.readFile(clip);
    await fsp.writeFile(trunc, bytes.subarray(0, Math.floor(bytes.length / 3)));
    await expect(probe(path.join(dir, 'missing.mp4'))).rejects.toThrow(/file not found/);
    await expect(probe(empty)).rejects.toThrow(/empty file/);
    await expect(probe(text)).rejects.toThrow(/not a media file/);
    await expect(probe(text)).rejects.toThrow(/text\.mp4/);
    // A truncated MP4 either fails to probe or fails to decode; never hangs or lies.
    const truncOutcome = await probe(trunc).then(
      (p) => decodeClip(trunc, 0, 2, { fps: 5, width: 32, height: 32, sampleRate: 8000, probe: p }).then(() => 'decoded', (e: Error) => e.message),
      (e: Error) => e.message,
    );
    expect(truncOutcome).toMatch(/trunc\.mp4/);
  });
});

describe('decodeClip', () => {
  it('returns exactly T frames and S samples with the right content', async () => {
    const c = await decodeClip(clip, 0.5, 2, { fps: 8, width: 32, height: 24, sampleRate: 16000 });
    expect(c.shape).toEqual([16, 24, 32, 3]);
    expect(c.frames.length).toBe(16 * 24 * 32 * 3);
    expect(c.audio.length).toBe(32000);
    expect(c.paddedFrames).toBe(0);
    expect(c.paddedSamples).toBe(0);
    expect(zeroCrossingHz(c.audio, 16000)).toBeGreaterThan(430);
    expect(zeroCrossingHz(c.audio, 16000)).toBeLessThan(450);
    // testsrc2 moves: consecutive frames differ.
    const fb = 24 * 32 * 3;
    let diff = 0;
    for (let i = 0; i < fb; i++) diff += Math.abs(c.frames[i] - c.frames[fb + i]);
    expect(diff).toBeGreaterThan(0);
  });

  it('pads past the end and says so', async () => {
    const c = await decodeClip(clip, 2, 2, { fps: 10, width: 16, height: 16, sampleRate: 8000 });
    expect(c.shape[0]).toBe(20);
    expect(c.audio.length).toBe(16000);
    expect(c.decodedFrames).toBeGreaterThan(5);
    expect(c.decodedFrames).toBeLessThan(14);
    expect(c.paddedFrames).toBe(20 - c.decodedFrames);
    expect(c.paddedSamples).toBeGreaterThan(6000);
    // padded frames repeat the last decoded one; padded audio is zero
    const fb = 16 * 16 * 3;
    const last = c.frames.subarray((c.decodedFrames - 1) * fb, c.decodedFrames * fb);
    expect(Array.from(c.frames.subarray(19 * fb, 20 * fb))).toEqual(Array.from(last));
    expect(c.audio[15999]).toBe(0);
  });

  it('handles missing audio by policy', async () => {
    await expect(decodeClip(silentVideo, 0, 1, { fps: 5, width: 16, height: 16, sampleRate: 8000 })).rejects.toThrow(/no audio stream/);
    const c = await decodeClip(silentVideo, 0, 1, { fps: 5, width: 16, height: 16, sampleRate: 8000, audio: 'optional' });
    expect(c.missingAudio).toBe(true);
    expect(c.audio.length).toBe(8000);
    expect(c.audio.every((x) => x === 0)).toBe(true);
    await expect(decodeClip(audioOnly, 0, 1, { fps: 5, width: 16, height: 16, sampleRate: 8000 })).rejects.toThrow(/no video stream/);
  });

  it('refuses bad options with the file named', async () => {
    await expect(decodeClip(clip, -1, 1, { fps: 5, width: 16, height: 16, sampleRate: 8000 })).rejects.toThrow(/tone 440\.mp4.*start/);
    await expect(decodeClip(clip, 0, 1, { fps: 5, width: 0, height: 16, sampleRate: 8000 })).rejects.toThrow(/width/);
  });

  it('kills a hanging ffmpeg at the timeout (reading a FIFO nobody writes)', async () => {
    const fifo = path.join(dir, 'hang.mp4');
    const { execFileSync } = await import('node:child_process');
    execFileSync('mkfifo', [fifo]);
    const fakeProbe = await probe(clip);
    const t0 = Date.now();
    await expect(decodeClip(fifo, 0, 1, { fps: 5, width: 16, height: 16, sampleRate: 8000, probe: fakeProbe, timeoutMs: 800 })).rejects.toThrow(/timed out/);
    expect(Date.now() - t0).toBeLessThan(10_000);
    await expect(probe(fifo)).rejects.toThrow(/not a regular file/);
  });

  it('decodes concurrently in a bounded pool with identical results', async () => {
    const pool = new Pool(2);
    let peak = 0;
    const windows = [0, 0.5, 1, 0, 0.5, 1];
    const out = await pool.map(windows, async (s) => {
      peak = Math.max(peak, pool.running);
      return decodeClip(clip, s, 1, { fps: 4, width: 16, height: 16, sampleRate: 8000 });
    });
    expect(peak).toBeLessThanOrEqual(2);
    expect(Buffer.from(out[0].frames).equals(Buffer.from(out[3].frames))).toBe(true);
    expect(Buffer.from(out[2].audio.buffer).equals(Buffer.from(out[5].audio.buffer))).toBe(true);
  });
});

describe('cutClip', () => {
  it('cuts an exact window into a playable file', async () => {
    const out = path.join(dir, 'cut', 'part.mp4');
    const size = await cutClip(clip, 1, 1.5, out);
    expect(size).toBeGreaterThan(0);
    const p = await probe(out);
    expect(p.hasVideo && p.hasAudio).toBe(true);
    expect(p.duration).toBeGreaterThan(1.4);
    expect(p.duration).toBeLessThan(1.7);
  });
});
