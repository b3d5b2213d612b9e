/**
 * A corpus.realPairs corpus on the stage ledger (stages/real-pairs.json, like synth): built once,
 * an unchanged rerun skips; changed settings or a changed source file redo it with the ledger's
 * message; a deleted clip is made again with the same bytes.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../../../src/config/load.js';
import { runCorpus } from '../../../src/curation/manifest/stage.js';
import { stageDone, readStageRecord } from '../../../src/run/ledger.js';
import { ffmpegPath } from '../../../src/media/ffmpeg.js';
import { runTool } from '../../../src/media/process.js';

const tmp = mkdtempSync(path.join(os.tmpdir(), 'avc-realpairs-ledger-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
const qabcs = path.join(tmp, 'qabcs');

beforeAll(async () => {
  // A tiny qabcs-like tree: pics/<category>/<name>.png with noises/<name>.ogg.
  const make = async (args: string[]) => {
    const r = await runTool(ffmpegPath(), ['-v', 'error', '-y', ...args]);
    if (r.code !== 0) throw new Error(r.stderrTail);
  };
  mkdirSync(path.join(qabcs, 'noises'), { recursive: true });
  for (const [cat, name, hz] of [['animals', 'cat', 440], ['animals', 'dog', 550], ['toys', 'ball', 660], ['toys', 'drum', 770]] as const) {
    mkdirSync(path.join(qabcs, 'pics', cat), { recursive: true });
    await make(['-f', 'lavfi', '-i', 'testsrc2=s=64x48:d=1', '-frames:v', '1', path.join(qabcs, 'pics', cat, `${name}.png`)]);
    await make(['-f', 'lavfi', '-i', `sine=f=${hz}:d=0.5`, '-c:a', 'libvorbis', path.join(qabcs, 'noises', `${name}.ogg`)]);
  }
}, 60_000);

describe('a real-pairs corpus on the stage ledger', () => {
  it('skips when finished, redoes changed settings or sources naming them, remakes a deleted clip identically', async () => {
    const runDir = path.join(tmp, 'run');
    const cfg = (seconds = 1) => parseConfig({ name: 'rp', runDir, seed: 3, corpus: { realPairs: { root: qabcs, mismatch: 0.5, seconds, width: 64, height: 48, fps: 8 } } });
    const first = await runCorpus(cfg(), { silent: true });
    expect(first).toMatchObject({ kind: 'realPairs', clips: 4, generated: 4 });
    const rec = await readStageRecord(runDir, 'real-pairs');
    expect(rec!.outputs).toEqual(['corpus/labels.jsonl', 'corpus/real-pairs.json', 'corpus/clip-00000.mp4', 'corpus/clip-00001.mp4', 'corpus/clip-00002.mp4', 'corpus/clip-00003.mp4']);
    const clip = readFileSync(path.join(runDir, 'corpus', 'clip-00001.mp4'));

    const again = await runCorpus(cfg(), { silent: true });
    expect(again.generated).toBe(0);
    expect((await readStageRecord(runDir, 'real-pairs'))!.finishedAt).toBe(rec!.finishedAt);

    // Changed settings: redone (the ledger names the config section), every clip made again.
    const longer = await runCorpus(cfg(1.5), { silent: true });
    expect(longer.generated).toBe(4);
    // A changed source sound: the input is named.
    writeFileSync(path.join(qabcs, 'noises', 'extra.txt'), 'not a sound\n');
    const check = await stageDone(runDir, 'real-pairs', { config: { realPairs: cfg(1.5).corpus.realPairs, seed: 3 }, inputs: { sources: 'changed' } });
    expect(check.reason).toMatch(/^input sources changed/);
    expect((await runCorpus(cfg(1.5), { silent: true })).generated).toBe(0); // clips of these settings kept (the builder's own checkpoint)
    expect((await readStageRecord(runDir, 'real-pairs'))!.finishedAt).not.toBe(rec!.finishedAt);

    // Back to 1 s, then a deleted clip: that clip is made again, same bytes.
    await runCorpus(cfg(), { silent: true });
    rmSync(path.join(runDir, 'corpus', 'clip-00001.mp4'));
    const lost = await runCorpus(cfg(), { silent: true });
    expect(lost.generated).toBe(1);
    expect(readFileSync(path.join(runDir, 'corpus', 'clip-00001.mp4')).equals(clip)).toBe(true);
  }, 120_000);
});
