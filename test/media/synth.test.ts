import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import {
  AUDIO_FAMILIES, AUDIO_FAMILY_RMS_DB, BACKGROUND_FAMILIES, DISTRACTOR_FAMILIES, VISUAL_FAMILIES, planCorpus, planScenesClip, synthGenerator, synthesize, type ClipPlan,
} from '../../src/media/synth.js';
import { ffmpegPath } from '../../src/media/ffmpeg.js';
import { Rng } from '../../src/runtime/random.js';
import { probe } from '../../src/media/probe.js';
import { decodeClip } from '../../src/media/decode.js';
import { tempDir } from '../helpers/media.js';


/**
 * The parts of a scenes clip's graphs: background, foreground and overlay of the picture; the
 * concept's sound and the distractor of the track. Each part as a template (numbers replaced by
 * #) and its numbers.
 */
function sceneParts(p: ClipPlan): Record<'bg' | 'fg' | 'motion' | 'main' | 'distractor', { template: string; values: number[] }> {
  const cut = (g: string, label: string): [string, string] => {
    const at = g.indexOf(label);
    if (at < 0) throw new Error(`no ${label} in ${g}`);
    return [g.slice(0, at), g.slice(at + label.length)];
  };
  const [bg, v1] = cut(p.videoGraph, '[bout]');
  const [fg, motion] = cut(v1, '[fout]');
  const [main, a1] = cut(p.audioGraph, '[mout]');
  const [distractor] = cut(a1, '[dout]');
  const part = (g: string) => ({ template: g.replace(/\d+(\.\d+)?/g, '#'), values: (g.match(/-?\d+(\.\d+)?/g) ?? []).map(Number) });
  return { bg: part(bg), fg: part(fg), motion: part(motion), main: part(main), distractor: part(distractor) };
}

function pearson(a: number[], b: number[]): number {
  const n = a.length;
  if (a.every((x) => x === a[0]) || b.every((x) => x === b[0])) return 0;
  const ma = a.reduce((s, x) => s + x, 0) / n;
  const mb = b.reduce((s, x) => s + x, 0) / n;
  let sab = 0;
  let saa = 0;
  let sbb = 0;
  for (let i = 0; i < n; i++) {
    sab += (a[i] - ma) * (b[i] - mb);
    saa += (a[i] - ma) ** 2;
    sbb += (b[i] - mb) ** 2;
  }
  return saa > 0 && sbb > 0 ? sab / Math.sqrt(saa * sbb) : 0;
}

const small = { clips: 6, classes: 3, mismatch: 0.5, seconds: 1, seed: 5, width: 48, height: 32, fps: 6, silent: true } as const;

describe('synthetic corpus', () => {
  it('plans exactly round(R*N) mismatched clips, each with audio of another class', () => {
    const plans = planCorpus({ out: '/unused', clips: 101, classes: 7, mismatch: 0.3, seconds: 1, seed: 2 });
    const mis = plans.filter((p) => !p.label.corresponds);
    expect(mis).toHaveLength(30);
    for (const p of mis) expect(p.label.audio_class).not.toBe(p.label.visual_class);
    for (const p of plans.filter((q) => q.label.corresponds)) expect(p.label.audio_class).toBe(p.label.visual_class);
    expect(new Set(plans.map((p) => p.label.visual_class)).size).toBe(7);
    expect(planCorpus({ out: '/x', clips: 101, classes: 7, mismatch: 0.3, seconds: 1, seed: 3 }).map((p) => p.videoGraph)).not.toEqual(plans.map((p) => p.videoGraph));
  });

  it('writes byte-identical clips and labels for the same seed', async () => {
    const a = await tempDir();
    const b = await tempDir();
    await synthesize({ ...small, out: a, concurrency: 2 });
    await synthesize({ ...small, out: b, concurrency: 1 });
    const names = (await fsp.readdir(a)).sort();
    expect(names).toEqual((await fsp.readdir(b)).sort());
    expect(names).toContain('labels.jsonl');
    for (const n of names) expect((await fsp.readFile(path.join(a, n))).equals(await fsp.readFile(path.join(b, n)))).toBe(true);
    const labels = (await fsp.readFile(path.join(a, 'labels.jsonl'), 'utf8')).trim().split('\n').map((l) => JSON.parse(l));
    expect(labels).toHaveLength(6);
    expect(Object.keys(labels[0]).sort()).toEqual(expect.arrayContaining(['id', 'file', 'visual_class', 'audio_class', 'corresponds']));
    const p = await probe(path.join(a, labels[0].file));
    expect(p.hasAudio && p.hasVideo).toBe(true);
    expect(p.duration).toBeGreaterThan(0.9);
    // Rerun resumes: nothing regenerated.
    const again = await synthesize({ ...small, out: a });
    expect(again.generated).toBe(0);
    expect(again.skipped).toBe(6);
    await expect(synthesize({ ...small, seed: 6, out: a })).rejects.toThrow(/other settings/);
  }, 60_000);

  it('temporal family: the click follows the flash in corresponding clips and is shifted otherwise', async () => {
    const dir = await tempDir();
    const r = await synthesize({ ...small, out: dir, clips: 4, classes: 2, seconds: 2, fps: 20, family: 'temporal' });
    for (const l of r.labels) {
      const c = await decodeClip(path.join(dir, l.file), 0, 2, { fps: 20, width: 8, height: 8, sampleRate: 8000 });
      const fb = 8 * 8 * 3;
      const bright: number[] = [];
      for (let t = 0; t < 40; t++) {
        let s = 0;
        for (let i = 0; i < fb; i++) s += c.frames[t * fb + i];
        bright.push(s / fb);
      }
      const flashT = bright.indexOf(Math.max(...bright)) / 20;
      let loudest = 0;
      let loudAt = 0;
      for (let i = 0; i < c.audio.length; i++) if (Math.abs(c.audio[i]) > loudest) [loudest, loudAt] = [Math.abs(c.audio[i]), i / 8000];
      const period = 0.5 + 0.25 * l.visual_class;
      const phase = (((loudAt - flashT) % period) + period) % period;
      const dist = Math.min(phase, period - phase);
      if (l.corresponds) expect(dist).toBeLessThan(0.08);
      else expect(dist).toBeGreaterThan(period / 2 - 0.1);
    }
  }, 60_000);

  it('scenes family: a class foreground over class-independent backgrounds, with distractor sounds', async () => {
    const plans = planCorpus({ out: '/unused', clips: 200, classes: 10, mismatch: 0.5, seconds: 1, seed: 4, family: 'scenes' });
    expect(plans.filter((p) => !p.label.corresponds)).toHaveLength(100);
    // No concept shows a background or plays a distractor, so neither can make a clip show or sound
    // like a concept: a mismatched clip's picture holds nothing of its sound's concept, nor its
    // track anything of its picture's.
    const concepts = new Set([...VISUAL_FAMILIES.map((f) => f.name), ...AUDIO_FAMILIES.map((f) => f.name)]);
    for (const f of [...BACKGROUND_FAMILIES, ...DISTRACTOR_FAMILIES]) expect(concepts.has(f.name), f.name).toBe(false);
    for (const p of plans) {
      expect(BACKGROUND_FAMILIES.map((f) => f.name)).toContain(p.label.background);
      expect(DISTRACTOR_FAMILIES.map((f) => f.name)).toContain(p.label.distractor);
      expect(p.label.audio_family).toBe(AUDIO_FAMILIES[Number(p.label.audio_class)].name);
      expect(p.videoGraph).toMatch(/overlay=/);
      expect(p.audioGraph).toMatch(/amix=inputs=2/);
    }
    // Backgrounds and distractors do not follow the class: each class sees every one of them.
    for (let c = 0; c < 10; c++) {
      const mine = plans.filter((p) => p.label.visual_class === c);
      expect(new Set(mine.map((p) => p.label.background)).size).toBe(BACKGROUND_FAMILIES.length);
      expect(new Set(mine.map((p) => p.label.distractor)).size).toBe(DISTRACTOR_FAMILIES.length);
    }
    const dir = await tempDir();
    const r = await synthesize({ ...small, out: dir, clips: 3, classes: 3, family: 'scenes' });
    for (const l of r.labels) {
      const c = await decodeClip(path.join(dir, l.file), 0, 1, { fps: 6, width: 16, height: 16, sampleRate: 8000 });
      expect(c.frames.length).toBe(6 * 16 * 16 * 3);
      expect(Math.max(...c.audio.map(Math.abs))).toBeGreaterThan(0.01);
    }
  }, 60_000);

  it('scenes family: a mismatched clip\'s sound shares no draw with its picture', () => {
    // Every numeric parameter of the picture's parts (background, foreground, motion) against every
    // one of the track's parts (concept sound, distractor), over the mismatched clips that have the
    // same pair of part templates. A shared draw (the old generator drove the background and the
    // distractor, and the foreground motion and an FM sound, from the same variation) correlates
    // near 1; independent draws stay near 0 (|r| < 0.3 at this size).
    const plans = planCorpus({ out: '/unused', clips: 40_000, classes: 10, mismatch: 0.5, seconds: 1, seed: 11, family: 'scenes' });
    const mis = plans.filter((p) => !p.label.corresponds).map(sceneParts);
    let tested = 0;
    let worst = { r: 0, what: '' };
    for (const vp of ['bg', 'fg', 'motion'] as const) {
      for (const ap of ['main', 'distractor'] as const) {
        const groups = new Map<string, typeof mis>();
        for (const m of mis) {
          const key = `${m[vp].template}|${m[ap].template}`;
          const g = groups.get(key);
          if (g) g.push(m);
          else groups.set(key, [m]);
        }
        for (const g of groups.values()) {
          if (g.length < 50) continue;
          const vCols = g[0][vp].values.map((_, i) => g.map((m) => m[vp].values[i]));
          const aCols = g[0][ap].values.map((_, j) => g.map((m) => m[ap].values[j]));
          for (let i = 0; i < vCols.length; i++) {
            for (let j = 0; j < aCols.length; j++) {
              const r = pearson(vCols[i], aCols[j]);
              tested++;
              if (Math.abs(r) > Math.abs(worst.r)) worst = { r, what: `${vp} ${g[0][vp].template} #${i} vs ${ap} ${g[0][ap].template} #${j} (${g.length} clips)` };
            }
          }
        }
      }
    }
    expect(tested).toBeGreaterThan(1000);
    expect(Math.abs(worst.r), worst.what).toBeLessThan(0.5);
    // Families: given the visual class, the background family says nothing about the distractor's.
    const byBgAndDistractor = new Map<string, number>();
    const misLabels = plans.filter((p) => !p.label.corresponds).map((p) => p.label);
    for (const l of misLabels) byBgAndDistractor.set(`${l.visual_class}|${l.background}|${l.distractor}`, (byBgAndDistractor.get(`${l.visual_class}|${l.background}|${l.distractor}`) ?? 0) + 1);
    let mi = 0;
    for (let c = 0; c < 10; c++) {
      const mine = misLabels.filter((l) => l.visual_class === c);
      const pb = new Map<string, number>();
      const pd = new Map<string, number>();
      for (const l of mine) {
        pb.set(l.background!, (pb.get(l.background!) ?? 0) + 1 / mine.length);
        pd.set(l.distractor!, (pd.get(l.distractor!) ?? 0) + 1 / mine.length);
      }
      for (const [b, qb] of pb) for (const [d, qd] of pd) {
        const q = (byBgAndDistractor.get(`${c}|${b}|${d}`) ?? 0) / mine.length;
        if (q > 0) mi += (q * Math.log(q / (qb * qd))) / 10;
      }
    }
    // Plug-in MI of independent 3 x 3 families over ~2000 clips per class: about 4/(2*2000) nats.
    expect(mi).toBeLessThan(0.03);
  });

  it('scenes family: the picture is a function of the visual draws only, the sound of the audio draws only', () => {
    const size = { w: 64, h: 48, fps: 8, sr: 16000 };
    for (const mismatched of [true, false]) {
      for (let k = 0; k < 20; k++) {
        const a = planScenesClip('c', 'c.mp4', k % 10, mismatched, 10, size, new Rng(100 + k), new Rng(200 + k));
        const otherPicture = planScenesClip('c', 'c.mp4', k % 10, mismatched, 10, size, new Rng(300 + k), new Rng(200 + k));
        const otherSound = planScenesClip('c', 'c.mp4', k % 10, mismatched, 10, size, new Rng(100 + k), new Rng(400 + k));
        expect(otherPicture.audioGraph).toBe(a.audioGraph);
        expect(otherPicture.videoGraph).not.toBe(a.videoGraph);
        expect(otherSound.videoGraph).toBe(a.videoGraph);
        expect(otherSound.audioGraph).not.toBe(a.audioGraph);
        expect(a.label.corresponds).toBe(!mismatched);
      }
    }
  });

  it('scenes family: the loudness table holds each audio family\'s measured RMS level', () => {
    // Rendered over the scenes family's range of variation; a distractor's level is relative to
    // the concept sound's loudness only when this table is right.
    for (const f of [...AUDIO_FAMILIES, ...DISTRACTOR_FAMILIES]) {
      for (const [u, jitter, seed] of [[0.1, 0.8, 3], [0.9, 1.25, 11]] as const) {
        const r = spawnSync(ffmpegPath(), ['-nostdin', '-v', 'error', '-f', 'lavfi', '-i', f.graph(16000, { hue: 0, jitter, seedA: seed, seedB: seed, u, v: u }), '-t', '2', '-f', 'f32le', '-ac', '1', '-'], { maxBuffer: 1 << 24 });
        expect(r.status, String(r.stderr)).toBe(0);
        const x = new Float32Array(r.stdout.buffer, r.stdout.byteOffset, r.stdout.byteLength / 4);
        let ss = 0;
        for (let i = 0; i < x.length; i++) ss += x[i] * x[i];
        const db = 10 * Math.log10(ss / x.length);
        expect(Math.abs(db - AUDIO_FAMILY_RMS_DB[f.name]), `${f.name} at u ${u}, jitter ${jitter}: ${db.toFixed(1)} dB`).toBeLessThan(2.5);
      }
    }
  }, 60_000);

  it('a corpus made by another version of the generator is refused, and regenerated with force', async () => {
    const dir = await tempDir();
    const opts = { ...small, out: dir, clips: 2, classes: 2, family: 'scenes' as const };
    await synthesize(opts);
    const settingsFile = path.join(dir, 'synth.json');
    const settings = JSON.parse(await fsp.readFile(settingsFile, 'utf8'));
    expect(settings.generator).toBe(synthGenerator('scenes'));
    expect(synthGenerator('scenes')).not.toBe(synthGenerator('concepts'));
    await fsp.writeFile(settingsFile, JSON.stringify({ ...settings, generator: 'avcurate-synth/1' }, null, 2) + '\n');
    await expect(synthesize(opts)).rejects.toThrow(/other settings/);
    const again = await synthesize({ ...opts, force: true });
    expect(again.generated).toBe(2);
    expect(JSON.parse(await fsp.readFile(settingsFile, 'utf8')).generator).toBe(synthGenerator('scenes'));
  }, 60_000);

  it('the CLI refuses bad arguments with exit code 2', () => {
    const r = spawnSync(process.execPath, ['bin/avcurate.js', 'synth', '--out', '/tmp/never', '--classes', '99'], { encoding: 'utf8' });
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/--classes must be an integer in \[2, 10\]/);
    const u = spawnSync(process.execPath, ['bin/avcurate.js', 'no-such-command'], { encoding: 'utf8' });
    expect(u.status).toBe(2);
  });
});
