import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { AUDIO_FAMILIES, planCorpus, synthesize } from '../../src/media/synth.js';
import { probe } from '../../src/media/probe.js';
import { decodeClip } from '../../src/media/decode.js';
import { tempDir } from '../helpers/media.js';

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
    for (const p of plans) {
      expect(p.label.background).not.toBe(p.label.visual_family);
      expect(p.label.distractor).not.toBe(p.label.audio_family);
      // A mismatched clip never carries its picture's own sound as the distractor.
      expect(p.label.distractor).not.toBe(AUDIO_FAMILIES[Number(p.label.visual_class)].name);
      expect(p.videoGraph).toMatch(/overlay=/);
      expect(p.audioGraph).toMatch(/amix=inputs=2/);
    }
    // Backgrounds and distractors do not follow the class: each class sees several of each.
    for (let c = 0; c < 10; c++) {
      const mine = plans.filter((p) => p.label.visual_class === c);
      expect(new Set(mine.map((p) => p.label.background)).size).toBeGreaterThanOrEqual(4);
      expect(new Set(mine.map((p) => p.label.distractor)).size).toBeGreaterThanOrEqual(4);
    }
    const dir = await tempDir();
    const r = await synthesize({ ...small, out: dir, clips: 3, classes: 3, family: 'scenes' });
    for (const l of r.labels) {
      const c = await decodeClip(path.join(dir, l.file), 0, 1, { fps: 6, width: 16, height: 16, sampleRate: 8000 });
      expect(c.frames.length).toBe(6 * 16 * 16 * 3);
      expect(Math.max(...c.audio.map(Math.abs))).toBeGreaterThan(0.01);
    }
  }, 60_000);

  it('the CLI refuses bad arguments with exit code 2', () => {
    const r = spawnSync(process.execPath, ['bin/avcurate.js', 'synth', '--out', '/tmp/never', '--classes', '99'], { encoding: 'utf8' });
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/--classes must be an integer in \[2, 10\]/);
    const u = spawnSync(process.execPath, ['bin/avcurate.js', 'no-such-command'], { encoding: 'utf8' });
    expect(u.status).toBe(2);
  });
});
