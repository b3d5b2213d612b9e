/**
 * A tar member read in place: its source string, the ffmpeg input it becomes (the subfile
 * protocol over its byte range), and probe / decode / cut / the loaders' decode of a member giving
 * exactly what they give for the same bytes as a file of their own. Every ffmpeg and ffprobe this
 * machine offers (bundled and on the PATH) must have the subfile protocol.
 */
import { spawnSync } from 'node:child_process';
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { ffmpegLocation, ffprobeLocation } from '../../src/media/ffmpeg.js';
import { ffmpegInput, parseTarMemberSource, sourceFile, sourceLabel, tarMemberSource } from '../../src/media/source.js';
import { probe } from '../../src/media/probe.js';
import { decodeClip } from '../../src/media/decode.js';
import { cutClip } from '../../src/media/cut.js';
import { MediaError } from '../../src/media/process.js';
import { TarWriter, fileHeader } from '../../src/loaders/formats/tar.js';
import { decodeItem } from '../../src/loaders/decode/decode.js';
import { makeClip, tempDir } from '../helpers/media.js';

let dir: string;
let clip: string;
let tar: string;
let member: string;

beforeAll(async () => {
  dir = await tempDir('avc-source-');
  clip = await makeClip(path.join(dir, 'a.mp4'), { seconds: 2 });
  const bytes = await fsp.readFile(clip);
  const chunks: Buffer[] = [];
  const w = new TarWriter((b) => void chunks.push(Buffer.from(b)));
  await w.add('a.json', Buffer.from('{"caption":"x"}'));
  await w.add('sub dir/a #1.mp4', bytes);
  await w.end();
  tar = path.join(dir, 'pool, one.tar');
  await fsp.writeFile(tar, Buffer.concat(chunks));
  // the member's data follows the json member (header + 1 block) and its own header
  const offset = 512 + 512 + fileHeader('sub dir/a #1.mp4', bytes.length).length;
  member = tarMemberSource(tar, 'sub dir/a #1.mp4', offset, bytes.length);
  expect((await fsp.readFile(tar)).subarray(offset, offset + bytes.length).equals(bytes)).toBe(true);
});

describe('tar member sources', () => {
  it('round-trip through their string form, whatever the names hold', () => {
    const s = tarMemberSource('/data/a#b/pool.tar', 'x/y@z+1#2.mp4', 1536, 2048);
    expect(s).toBe('/data/a#b/pool.tar#x%2Fy%40z%2B1%232.mp4@1536+2048');
    expect(parseTarMemberSource(s)).toEqual({ tar: '/data/a#b/pool.tar', member: 'x/y@z+1#2.mp4', offset: 1536, size: 2048 });
    expect(sourceFile(s)).toBe('/data/a#b/pool.tar');
    expect(sourceLabel(s)).toBe('pool.tar#x/y@z+1#2.mp4');
    expect(ffmpegInput(s)).toBe('subfile,,start,1536,end,3584,,:file:/data/a#b/pool.tar');
  });

  it('leave plain files alone (names with # or @ included)', () => {
    for (const f of ['/v/clip#1@2+3.mp4', '/v/a.tar', 'rel/x.mp4', '/v/b.tar#c@1+0', '/v/b.tar#c@x+1']) {
      expect(parseTarMemberSource(f)).toBeNull();
      expect(sourceFile(f)).toBe(f);
      expect(ffmpegInput(f)).toBe(`file:${f}`);
    }
  });

  it('refuse a bad range or a path that is not a tar', () => {
    expect(() => tarMemberSource('/a/b.zip', 'x.mp4', 0, 1)).toThrow(/ending in \.tar/);
    expect(() => tarMemberSource('/a/b.tar', 'x.mp4', 512, 0)).toThrow(/bad byte range/);
    expect(() => tarMemberSource('/a/b.tar', 'x.mp4', -1, 10)).toThrow(/bad byte range/);
  });

  it('every ffmpeg and ffprobe found here has the subfile protocol', () => {
    const tools = [ffmpegLocation(), ffprobeLocation()].flatMap((l) => [{ path: l.path }, ...(l.others ?? [])]);
    expect(tools.length).toBeGreaterThanOrEqual(2);
    for (const t of tools) {
      const r = spawnSync(t.path, ['-hide_banner', '-protocols'], { encoding: 'utf8', timeout: 20_000 });
      expect(r.stdout.split('\n').map((l) => l.trim()), t.path).toContain('subfile');
    }
  });
});

describe('reading a member in place', () => {
  it('probe, decode and cut give what the same bytes as a file give', async () => {
    const [pm, pf] = [await probe(member), await probe(clip)];
    expect({ ...pm, file: '', format: '' }).toEqual({ ...pf, file: '', format: '' });
    const opts = { fps: 10, width: 32, height: 24, sampleRate: 16000 };
    const [dm, df] = [await decodeClip(member, 0.5, 1, opts), await decodeClip(clip, 0.5, 1, opts)];
    expect(dm.decodedFrames).toBe(10);
    expect(Buffer.from(dm.frames).equals(Buffer.from(df.frames))).toBe(true);
    expect(Buffer.from(dm.audio.buffer).equals(Buffer.from(df.audio.buffer))).toBe(true);
    const [cm, cf] = [path.join(dir, 'cut-m.mp4'), path.join(dir, 'cut-f.mp4')];
    await cutClip(member, 0.5, 1, cm);
    await cutClip(clip, 0.5, 1, cf);
    expect((await fsp.readFile(cm)).equals(await fsp.readFile(cf))).toBe(true);
  });

  it("the loaders' decode of a clip record whose source is a member", async () => {
    const spec = { fps: 5, size: 16, sampleRate: 8000, seconds: 1, sampling: 'center' } as const;
    const a = await decodeItem({ id: 'a', source: member, start: 0, duration: 2 }, spec);
    const b = await decodeItem({ id: 'a', source: clip, start: 0, duration: 2 }, spec);
    expect(Buffer.from(a.frames.data as Uint8Array).equals(Buffer.from(b.frames.data as Uint8Array))).toBe(true);
  });

  it('a range past the end of the tar, a missing tar and a member that is not media are clear errors', async () => {
    const size = (await fsp.stat(tar)).size;
    const past = tarMemberSource(tar, 'a.mp4', size - 100, 1000);
    await expect(probe(past)).rejects.toThrow(/reaches past the end of .*pool, one\.tar/);
    await expect(probe(tarMemberSource(path.join(dir, 'gone.tar'), 'a.mp4', 512, 10))).rejects.toThrow(/tar file not found/);
    const json = tarMemberSource(tar, 'a.json', 512, 15);
    const err = await probe(json).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(MediaError);
    expect(String((err as Error).message)).toMatch(/pool, one\.tar#a\.json@512\+15.*not a media file \(the content is text\)/);
  });
});
