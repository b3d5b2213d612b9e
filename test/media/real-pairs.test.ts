/**
 * The real-pairs corpus builder gives the same bytes however many builds run at once (video and
 * sound made by separate ffmpeg runs of one input each, then copied into one file): what reaches
 * the encoder does not depend on how ffmpeg's threads were scheduled.
 */
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { createHash } from 'node:crypto';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildRealPairs } from '../../src/media/real-pairs.js';
import { probe } from '../../src/media/probe.js';

const tmp = mkdtempSync(path.join(os.tmpdir(), 'avc-realpairs-bytes-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
const root = path.join(tmp, 'qabcs');
// Real recorded pictures and sounds (Debian qabcs-data, installed by .ci/run): with generated
// test pictures the race this guards against did not show; with these (tiger, cat) it did, in
// about half of the builds.
const QABCS = '/usr/share/qabcs/abcs/all';
const PAIRS = [['animals', 'tiger'], ['animals', 'cat'], ['toys', 'balloons'], ['toys', 'bicycle']] as const;
const haveQabcs = PAIRS.every(([c, n]) => existsSync(path.join(QABCS, 'pics', c, `${n}.png`)) && existsSync(path.join(QABCS, 'noises', `${n}.ogg`)));
if (!haveQabcs) console.warn(`real-pairs bytes test: ${QABCS} lacks the qabcs-data pictures (apt-get install qabcs-data); skipped`);

beforeAll(() => {
  if (!haveQabcs) return;
  mkdirSync(path.join(root, 'noises'), { recursive: true });
  for (const [cat, name] of PAIRS) {
    mkdirSync(path.join(root, 'pics', cat), { recursive: true });
    copyFileSync(path.join(QABCS, 'pics', cat, `${name}.png`), path.join(root, 'pics', cat, `${name}.png`));
    copyFileSync(path.join(QABCS, 'noises', `${name}.ogg`), path.join(root, 'noises', `${name}.ogg`));
  }
});

const digests = (dir: string) =>
  Object.fromEntries(
    readdirSync(dir)
      .filter((f) => f.endsWith('.mp4'))
      .sort()
      .map((f) => [f, createHash('sha256').update(readFileSync(path.join(dir, f))).digest('hex')]),
  );

describe('real-pairs corpus bytes', () => {
  it.skipIf(!haveQabcs)('six builds of the same corpus at once write identical clips of exactly seconds × fps frames', async () => {
    const opts = { root, mismatch: 0.5, seconds: 4, width: 160, height: 120, fps: 8, seed: 2, silent: true, concurrency: 4 };
    const outs = Array.from({ length: 6 }, (_, i) => path.join(tmp, `build-${i}`));
    await Promise.all(outs.map((out) => buildRealPairs({ ...opts, out })));
    const first = digests(outs[0]);
    expect(Object.keys(first)).toHaveLength(4);
    for (const out of outs.slice(1)) expect(digests(out)).toEqual(first);
    for (const f of Object.keys(first)) {
      const p = await probe(path.join(outs[0], f));
      expect(p.video?.frames, f).toBe(32);
    }
  }, 180_000);
});
