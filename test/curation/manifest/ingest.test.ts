import { promises as fsp } from 'node:fs';
import { execFileSync, spawnSync } from 'node:child_process';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { ingest, videoIdFor, discoverInputs } from '../../../src/curation/manifest/ingest.js';
import { clipWindows } from '../../../src/curation/manifest/windows.js';
import { readManifest } from '../../../src/curation/manifest/read.js';
import { parseCsvRecords } from '../../../src/runtime/csv.js';
import { readJsonl } from '../../../src/runtime/jsonl.js';
import { synthesize } from '../../../src/media/synth.js';
import { makeClip, tempDir } from '../../helpers/media.js';

const WEIRD_NAMES = ['with space.mp4', `quote'and"dq.mp4`, '$(touch pwned).mp4', 'semi;colon.mp4', 'ünïcødé-名前.mp4', 'new\nline.mp4'];

let root: string;
let corpus: string;

beforeAll(async () => {
  root = await tempDir('avc-ingest-');
  corpus = path.join(root, 'corpus');
  await synthesize({ out: corpus, clips: 8, classes: 4, mismatch: 0.5, seconds: 1.5, seed: 3, width: 64, height: 48, fps: 8, silent: true });
  // The bad inputs of the foundation issue, mixed into the corpus folder.
  await fsp.writeFile(path.join(corpus, 'zero.mp4'), '');
  await fsp.writeFile(path.join(corpus, 'text.mp4'), 'hello, I am not a video\n');
  const good = await fsp.readFile(path.join(corpus, 'clip-00000.mp4'));
  await fsp.writeFile(path.join(corpus, 'truncated.mp4'), good.subarray(0, Math.floor(good.length / 4)));
  await makeClip(path.join(corpus, 'video-no-audio.mp4'), { audio: false, seconds: 2 });
  await makeClip(path.join(corpus, 'audio-only.m4a'), { video: false, seconds: 2 });
  await makeClip(path.join(corpus, 'silent.mp4'), { audio: 'silent', seconds: 2 });
  await makeClip(path.join(corpus, 'frozen.mp4'), { video: 'frozen', seconds: 2 });
  await makeClip(path.join(corpus, 'short.mp4'), { seconds: 0.4 });
  execFileSync('mkfifo', [path.join(corpus, 'hang.mp4')]);
  const locked = path.join(corpus, 'locked');
  await fsp.mkdir(locked);
  await makeClip(path.join(locked, 'inside.mp4'));
  await fsp.chmod(locked, 0o000);
  await fsp.mkdir(path.join(corpus, 'names'));
  for (const name of WEIRD_NAMES) await fsp.copyFile(path.join(corpus, 'clip-00001.mp4'), path.join(corpus, 'names', name));
}, 120_000);

describe('clipWindows', () => {
  it('cuts non-overlapping windows, the middle one when only one fits', () => {
    expect(clipWindows(4, 10, 3)).toEqual([{ start: 0, duration: 4 }]);
    expect(clipWindows(15, 10, 3)).toEqual([{ start: 2.5, duration: 10 }]);
    const w = clipWindows(100, 10, 3);
    expect(w).toHaveLength(3);
    for (let i = 1; i < w.length; i++) expect(w[i].start).toBeGreaterThanOrEqual(w[i - 1].start + w[i - 1].duration);
    expect(w[2].start + w[2].duration).toBeLessThanOrEqual(100);
    expect(clipWindows(25, 10, 3)).toHaveLength(2);
    expect(clipWindows(0, 10, 3)).toEqual([]);
  });
});

describe('ids and CSV', () => {
  it('makes safe, stable, distinct ids', () => {
    expect(videoIdFor('clip-1.mp4')).toBe('clip-1');
    for (const n of WEIRD_NAMES) expect(videoIdFor(n)).toMatch(/^[A-Za-z0-9][A-Za-z0-9_-]*$/);
    expect(videoIdFor('a b.mp4')).not.toBe(videoIdFor('a_b.mp4'));
    expect(videoIdFor('x/a.mp4')).not.toBe(videoIdFor('y/a.mp4'));
  });
  it('parses quoted CSV fields', () => {
    expect(parseCsvRecords('path,label\n"a, b.mp4","say ""hi"""\r\nc.mp4,x\n')).toEqual([
      { path: 'a, b.mp4', label: 'say "hi"' },
      { path: 'c.mp4', label: 'x' },
    ]);
  });
});

describe('ingest', () => {
  it('routes every bad input to failures.jsonl with its reason and keeps every good clip', async () => {
    const out = path.join(root, 'run', 'manifest.jsonl');
    const r = await ingest({ input: corpus, out, silent: true, timeoutSeconds: 5 });
    const manifest = await readManifest(out);
    const failures = await readJsonl<{ id: string; file: string; reason: string; stage: string }>(path.join(root, 'run', 'failures.jsonl'));
    const reasonOf = (name: string) => failures.find((f) => f.file === path.join(corpus, name) || f.id === name)?.reason;
    expect(reasonOf('zero.mp4')).toMatch(/empty file/);
    expect(reasonOf('text.mp4')).toMatch(/not a media file/);
    expect(reasonOf('truncated.mp4')).toMatch(/truncated|moov|invalid|undecodable/);
    expect(reasonOf('video-no-audio.mp4')).toBe('no audio stream');
    expect(reasonOf('audio-only.m4a')).toBe('no video stream');
    expect(reasonOf('silent.mp4')).toMatch(/silent audio/);
    expect(reasonOf('frozen.mp4')).toMatch(/frozen picture/);
    expect(reasonOf('short.mp4')).toMatch(/too short/);
    expect(reasonOf('hang.mp4')).toMatch(/not a regular file/);
    const isRoot = process.getuid?.() === 0;
    if (!isRoot) expect(reasonOf('locked')).toMatch(/permission denied/);
    expect(failures.every((f) => f.stage === 'ingest')).toBe(true);
    // Good clips: the 8 synthetic ones with ground truth, plus the oddly named copies.
    const ids = manifest.map((m) => m.id);
    for (let i = 0; i < 8; i++) expect(ids).toContain(`clip-${String(i).padStart(5, '0')}`);
    const sources = new Set(manifest.map((m) => path.basename(m.source)));
    for (const n of WEIRD_NAMES) expect(sources.has(n)).toBe(true);
    expect(new Set(ids).size).toBe(ids.length);
    for (const id of ids) expect(id).toMatch(/^[A-Za-z0-9._-]+$/);
    const labelled = manifest.filter((m) => m.id.startsWith('clip-'));
    expect(labelled).toHaveLength(8);
    for (const m of labelled) {
      expect(typeof m.corresponds).toBe('boolean');
      expect(m.corresponds).toBe(m.visual_class === m.audio_class);
      expect(m.duration).toBeCloseTo(1.5, 1);
      expect(m.probe.videoCodec).toBe('h264');
    }
    expect(labelled.filter((m) => m.corresponds)).toHaveLength(4);
    expect(r.clips).toBe(manifest.length);
    // Nothing was executed from a file name.
    await expect(fsp.access(path.join(process.cwd(), 'pwned'))).rejects.toThrow();
  }, 120_000);

  it('reports an unreadable folder when not running as root', async () => {
    const locked = path.join(root, 'corpus', 'locked');
    if (process.getuid?.() !== 0) {
      const { failures } = await discoverInputs(path.join(root, 'corpus'));
      expect(failures.find((f) => f.file === locked)?.reason).toMatch(/permission denied/);
      return;
    }
    // As root permissions do not apply: list the folder as an unprivileged user in a child process.
    await fsp.chmod(root, 0o755);
    await fsp.chmod(path.join(root, 'corpus'), 0o755);
    const script = `import { discoverInputs } from ${JSON.stringify(path.resolve('src/curation/manifest/ingest.ts'))};\n` +
      `const r = await discoverInputs(${JSON.stringify(path.join(root, 'corpus'))});\nconsole.log(JSON.stringify(r.failures));`;
    const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { uid: 65534, gid: 65534, encoding: 'utf8', cwd: process.cwd(), env: { ...process.env, HOME: '/tmp' } });
    if (r.status !== 0 && /EACCES|permission/i.test(r.stderr) && !r.stdout) {
      // the project folder itself is not readable by the unprivileged user: nothing to check here
      console.warn(`unprivileged check could not run: ${r.stderr.split('\n')[0]}`);
      return;
    }
    expect(r.status, r.stderr).toBe(0);
    const failures = JSON.parse(r.stdout.trim().split('\n').pop()!) as Array<{ file: string; reason: string }>;
    expect(failures.find((f) => f.file === locked)?.reason).toMatch(/permission denied/);
  }, 60_000);

  it('is resumable and gives the same manifest on a rerun', async () => {
    const out = path.join(root, 'run2', 'manifest.jsonl');
    await ingest({ input: path.join(corpus, 'labels.jsonl'), out, silent: true });
    const first = await fsp.readFile(out, 'utf8');
    // A half-written cache from a killed run is picked up and its cut last line ignored.
    const cache = path.join(root, 'run2', '.manifest.jsonl.ingest-cache.jsonl');
    await fsp.writeFile(cache, '{"key":"broken');
    const r = await ingest({ input: path.join(corpus, 'labels.jsonl'), out, silent: true });
    expect(await fsp.readFile(out, 'utf8')).toBe(first);
    expect(r.clips).toBe(8);
    expect(r.resumed).toBe(0);
    // The compacted cache makes a third run probe nothing, with the same output.
    const cached = (await fsp.readFile(cache, 'utf8')).trim().split('\n');
    expect(cached).toHaveLength(8);
    const again = await ingest({ input: path.join(corpus, 'labels.jsonl'), out, silent: true });
    expect(again.resumed).toBe(8);
    expect(await fsp.readFile(out, 'utf8')).toBe(first);
  }, 60_000);

  it('times out on a hanging ffprobe and records it', async () => {
    const fake = path.join(root, 'fake-ffprobe.sh');
    await fsp.writeFile(fake, '#!/bin/sh\nsleep 30\n', { mode: 0o755 });
    const { resetToolCache } = await import('../../../src/media/ffmpeg.js');
    process.env.AVCURATE_FFPROBE = fake;
    resetToolCache();
    try {
      const out = path.join(root, 'run3', 'manifest.jsonl');
      const t0 = Date.now();
      await ingest({ input: path.join(corpus, 'clip-00000.mp4').replace(/clip-00000\.mp4$/, 'labels.jsonl'), out, silent: true, timeoutSeconds: 0.5, concurrency: 8 });
      expect(Date.now() - t0).toBeLessThan(20_000);
      const failures = await readJsonl<{ reason: string }>(path.join(root, 'run3', 'failures.jsonl'));
      expect(failures).toHaveLength(8);
      for (const f of failures) expect(f.reason).toMatch(/timed out/);
    } finally {
      delete process.env.AVCURATE_FFPROBE;
      resetToolCache();
    }
  }, 60_000);
});
