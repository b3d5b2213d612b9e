/**
 * Issue 13 items 2, 6, 11, 12 (ingest): symbolic-link loops, same-stem files, a picture that
 * flashes at a fixed period, non-UTF-8 names, audio-only .oga and still images.
 */
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { discoverInputs, ingest } from '../../../src/curation/manifest/ingest.js';
import { readManifest } from '../../../src/curation/manifest/read.js';
import { readJsonl } from '../../../src/runtime/jsonl.js';
import { ingestKey } from '../../../src/curation/pipeline.js';
import { parseConfig } from '../../../src/config/load.js';
import { ffmpegPath } from '../../../src/media/ffmpeg.js';
import { runTool } from '../../../src/media/process.js';
import { makeClip, tempDir } from '../../helpers/media.js';

type Failure = { id: string; file: string; reason: string; stage: string };

let root: string;

/** A 4 s clip whose picture is black except one white frame every second (frame 12 of each 25). */
async function flashClip(file: string): Promise<void> {
  const video = "color=c=black:s=64x48:r=25,drawbox=c=white:t=fill:enable='eq(mod(n\\,25)\\,12)'";
  const r = await runTool(ffmpegPath(), ['-nostdin', '-v', 'error', '-y', '-f', 'lavfi', '-i', video, '-f', 'lavfi', '-i', 'sine=f=440:sample_rate=16000', '-t', '4',
    '-c:v', 'libx264', '-preset', 'ultrafast', '-pix_fmt', 'yuv420p', '-g', '25', '-threads', '1', '-c:a', 'aac', '-ac', '1', '-f', 'mp4', file], { timeoutMs: 60_000 });
  if (r.code !== 0) throw new Error(r.stderrTail);
}

beforeAll(async () => {
  root = await tempDir('avc-hostile-ingest-');
}, 60_000);

describe('hostile folders', () => {
  it('a folder symlink loop is walked once and reported once (ingest and the ingest key)', async () => {
    const corpus = path.join(root, 'loop');
    await fsp.mkdir(path.join(corpus, 'sub'), { recursive: true });
    await makeClip(path.join(corpus, 'a.mp4'), { seconds: 1.5 });
    await makeClip(path.join(corpus, 'sub', 'b.mp4'), { seconds: 1.5, freq: 660 });
    await fsp.symlink('.', path.join(corpus, 'selfdir'));
    await fsp.symlink('..', path.join(corpus, 'sub', 'up'));
    const { items, failures } = await discoverInputs(corpus);
    expect(items.map((i) => i.rel).sort()).toEqual(['a.mp4', path.join('sub', 'b.mp4')]);
    expect(failures.map((f) => [f.id, f.reason])).toEqual([
      ['selfdir', 'same folder as . (a link loop or second link); not read twice'],
      [path.join('sub', 'up'), 'same folder as . (a link loop or second link); not read twice'],
    ]);
    const out = path.join(root, 'loop-run', 'manifest.jsonl');
    await ingest({ input: corpus, out, silent: true });
    expect((await readManifest(out)).map((m) => m.id).sort()).toHaveLength(2);
    const lines = await readJsonl<Failure>(path.join(root, 'loop-run', 'failures.jsonl'));
    expect(lines.filter((l) => /same folder/.test(l.reason))).toHaveLength(2);
    // the ingest key of the curation pipeline terminates and hashes each folder once
    const key = await ingestKey(parseConfig({ name: 'loop', corpus: { source: corpus } }));
    expect(key).toMatch(/^[0-9a-f]{16}$/); // the ledger key of the run's ingest
  }, 120_000);

  it('same-stem files get distinct ids by extension; all are real clips, none refused as a duplicate', async () => {
    const corpus = path.join(root, 'stems');
    await fsp.mkdir(corpus, { recursive: true });
    for (const [i, ext] of ['avi', 'mkv', 'mov', 'webm'].entries()) await makeClip(path.join(corpus, `x.${ext}`), { seconds: 1.5, freq: 300 + 100 * i });
    await makeClip(path.join(corpus, 'y.mp4'), { seconds: 1.5 });
    const out = path.join(root, 'stems-run', 'manifest.jsonl');
    const r = await ingest({ input: corpus, out, silent: true });
    expect(r.failures).toEqual([]);
    expect((await readManifest(out)).map((m) => m.id).sort()).toEqual(['x_avi', 'x_mkv', 'x_mov', 'x_webm', 'y']);
  }, 120_000);

  it('a same-stem file added later renames the first one\'s id on the rerun (the resume cache is keyed by id too)', async () => {
    const corpus = path.join(root, 'stems-later');
    await fsp.mkdir(corpus, { recursive: true });
    await makeClip(path.join(corpus, 'z.avi'), { seconds: 1.5 });
    const out = path.join(root, 'stems-later-run', 'manifest.jsonl');
    await ingest({ input: corpus, out, silent: true });
    expect((await readManifest(out)).map((m) => m.id)).toEqual(['z']);
    await makeClip(path.join(corpus, 'z.mkv'), { seconds: 1.5, freq: 550 });
    const r = await ingest({ input: corpus, out, silent: true });
    expect(r.failures).toEqual([]);
    expect((await readManifest(out)).map((m) => m.id).sort()).toEqual(['z_avi', 'z_mkv']);
  }, 120_000);

  it('non-UTF-8 names, audio-only .oga, still images and FIFOs each get a failures line', async () => {
    const corpus = path.join(root, 'odd');
    await fsp.mkdir(corpus, { recursive: true });
    await makeClip(path.join(corpus, 'good.mp4'), { seconds: 1.5 });
    const bad = Buffer.concat([Buffer.from(corpus + '/'), Buffer.from([0x62, 0xff, 0xfe]), Buffer.from('.mp4')]);
    await fsp.copyFile(path.join(corpus, 'good.mp4'), bad);
    const r0 = await runTool(ffmpegPath(), ['-nostdin', '-v', 'error', '-y', '-f', 'lavfi', '-i', 'sine=f=440:sample_rate=16000', '-t', '1.5', '-c:a', 'libvorbis', path.join(corpus, 'voice.oga')], { timeoutMs: 60_000 });
    expect(r0.code, r0.stderrTail).toBe(0);
    await fsp.writeFile(path.join(corpus, 'photo.jpg'), Buffer.from([0xff, 0xd8, 0xff, 0xd9]));
    const out = path.join(root, 'odd-run', 'manifest.jsonl');
    const r = await ingest({ input: corpus, out, silent: true });
    expect((await readManifest(out)).map((m) => m.id)).toEqual(['good']);
    const reason = (suffix: string) => r.failures.find((f) => f.file?.endsWith(suffix))?.reason;
    expect(reason('b\\xff\\xfe.mp4')).toBe('file name is not valid UTF-8 (rename it to open it)');
    expect(reason('voice.oga')).toBe('no video stream');
    expect(reason('photo.jpg')).toBe('still image, not a clip (no audio, one picture)');
    expect(r.failures).toHaveLength(3);
  }, 120_000);
});

describe('frozen-picture pre-filter (item 11)', () => {
  it('keeps a picture that flashes once a second (the few-frame sampling read it as frozen); still refuses a frozen one', async () => {
    const corpus = path.join(root, 'flash');
    await fsp.mkdir(corpus, { recursive: true });
    await flashClip(path.join(corpus, 'flash.mp4'));
    await makeClip(path.join(corpus, 'frozen.mp4'), { video: 'frozen', seconds: 2 });
    const out = path.join(root, 'flash-run', 'manifest.jsonl');
    const r = await ingest({ input: corpus, out, silent: true });
    expect((await readManifest(out)).map((m) => m.id)).toEqual(['flash']);
    expect(r.failures).toHaveLength(1);
    expect(r.failures[0].reason).toMatch(/^frozen picture \(largest frame-to-frame difference 0\.\d{3} over \d+ frames < 0\.5\)$/);
    expect(r.failures[0].id).toBe('frozen');
  }, 120_000);
});
