import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../../../src/config/load.js';
import {
  autoPairs,
  DEFAULT_AUTO,
  labelMI,
  pairEvidence,
  plantedLabels,
  resolvePairs,
  runSelect,
  type PlantedLabels,
} from '../../../src/curation/selection/index.js';
import { scanPool } from '../../../src/curation/selection/pool-scan.js';
import { objectiveFromScratch, randomMatrix } from './helpers.js';
import { writePlantedRun } from '../../helpers/planted-run.js';
import { logged } from '../../helpers/logged.js';

const root = mkdtempSync(path.join(os.tmpdir(), 'avc-evidence-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

/** Planted labels with 3 signal + 2 null clusterings per modality. */
const planted = (n: number, seed: number) => plantedLabels({ n, k: 16, concepts: 8, noise: 0.15, audio: 3, visual: 3, nullAudio: 2, nullVisual: 2, seed });
const isNull = (name: string) => name.includes('/null');

describe('pair evidence against a permutation null', () => {
  it('labelMI equals the objective of a single pair computed from scratch', () => {
    const m = randomMatrix(300, [5, 7], 3);
    const u = Int32Array.from({ length: 300 }, (_, x) => m.labels[x * 2]);
    const v = Int32Array.from({ length: 300 }, (_, x) => m.labels[x * 2 + 1]);
    const all = Array.from({ length: 300 }, (_, x) => x);
    for (const est of ['plugin', 'miller-madow'] as const) expect(labelMI(u, v, 5, 7, est)).toBeCloseTo(objectiveFromScratch(m, [0, 1], all, est), 12);
  });

  it('on planted labels every signal pair ranks above every null pair, the same for the same seed', () => {
    for (const seed of [1, 2, 3]) {
      const p = planted(1500, seed);
      const ev = pairEvidence(p, resolvePairs(p.clusterings, 'bipartite'), p.clusterings, { seed: 9, permutations: 100 });
      expect(ev).toHaveLength(25);
      const signal = ev.filter((e) => !isNull(e.a) && !isNull(e.b));
      const nulls = ev.filter((e) => isNull(e.a) || isNull(e.b));
      expect(signal).toHaveLength(9);
      const minSignal = Math.min(...signal.map((e) => e.z));
      const maxNull = Math.max(...nulls.map((e) => e.z));
      expect(minSignal).toBeGreaterThan(maxNull);
      expect(minSignal).toBeGreaterThan(10);
      for (const e of signal) expect(e.p).toBeCloseTo(1 / 101, 12);
      // The null pairs look like the null: |z| small, p spread over (0, 1].
      expect(maxNull).toBeLessThan(4);
      expect(nulls.filter((e) => e.p > 0.05).length).toBeGreaterThan(nulls.length / 2);
      const again = pairEvidence(p, resolvePairs(p.clusterings, 'bipartite'), p.clusterings, { seed: 9, permutations: 100 });
      expect(again).toEqual(ev);
    }
  });

  it('pairing auto keeps the signal pairs, reports the dropped ones, and falls back to all pairs when nothing passes', () => {
    const p = planted(1500, 4);
    const auto = autoPairs(p, p.clusterings, { ...DEFAULT_AUTO, relativeZ: 0, permutations: 100 }, 5);
    expect(auto.fallback).toBe(false);
    expect(auto.kept).toHaveLength(9);
    for (const e of auto.kept) expect(isNull(e.a) || isNull(e.b)).toBe(false);
    expect(auto.dropped).toHaveLength(16);
    for (const d of auto.dropped) expect(d.why).toMatch(/p = |z = /);
    // maxPairs keeps the strongest.
    const capped = autoPairs(p, p.clusterings, { ...DEFAULT_AUTO, relativeZ: 0, maxPairs: 4, permutations: 100 }, 5);
    expect(capped.kept).toHaveLength(4);
    expect(capped.kept.map((e) => e.z)).toEqual(auto.kept.slice(0, 4).map((e) => e.z));
    expect(capped.dropped.filter((d) => /maxPairs/.test(d.why))).toHaveLength(5);
    // Only null clusterings: nothing passes, every candidate pair is used, and it says so.
    const onlyNull = plantedLabels({ n: 800, k: 8, audio: 0, visual: 0, nullAudio: 2, nullVisual: 2, seed: 6 });
    const fb = autoPairs(onlyNull, onlyNull.clusterings, { ...DEFAULT_AUTO, permutations: 50 }, 5);
    expect(fb.fallback).toBe(true);
    expect(Array.from(fb.pairs)).toEqual(Array.from(resolvePairs(onlyNull.clusterings, 'bipartite')));
  });

  it('select with pairing auto: the same pairs and selection in one process and in a shard process reading row blocks; meta records what was dropped', async () => {
    const p = planted(1200, 7);
    const dir = await makeRun('auto', p);
    const cfg = parseConfig({ name: 'auto', runDir: dir, seed: 3, selection: { pairing: 'auto', ratio: 0.5, auto: { permutations: 100 } } });
    expect(() => parseConfig({ name: 'x', selection: { pairing: 'auto', auto: { permutations: 60 } } })).toThrow(/cannot reach alpha/);
    // Silent: not a line on stderr (the pairs are in meta.json); not silent: the kept pairs are said.
    const quiet = await logged(() => runSelect(cfg, { silent: true }));
    expect(quiet.text).toBe('');
    const r = quiet.value;
    expect(r.selected).toBe(600);
    const loud = await logged(() => runSelect(cfg, { force: true }));
    expect(loud.text).toMatch(/select: pairing auto kept \d+ pair\(s\)/);
    const meta = JSON.parse(readFileSync(path.join(dir, 'selection.meta.json'), 'utf8'));
    expect(meta.autoPairing.fallback).toBe(false);
    expect(meta.pairs).toHaveLength(meta.autoPairing.kept.length);
    for (const [a, b] of meta.pairs as Array<[string, string]>) expect(isNull(a) || isNull(b)).toBe(false);
    expect(meta.autoPairing.dropped.length).toBeGreaterThanOrEqual(16);
    const scan = await scanPool(path.join(dir, 'clusters.h5'), cfg.selection, cfg.seed);
    const names = scan.clusterings.map((c) => `${c.modality}/${c.layer}/k${c.k}`);
    const scanned: Array<[string, string]> = [];
    for (let t = 0; t < scan.pairs.length; t += 2) scanned.push([names[scan.pairs[t]], names[scan.pairs[t + 1]]]);
    expect(scanned).toEqual(meta.pairs);
    const truth = new Map(Array.from(p.truth, (t, i) => [`clip-${String(i).padStart(4, '0')}`, t]));
    const ids = readFileSync(path.join(dir, 'selection.csv'), 'utf8').trim().split('\n').slice(1).map((l) => l.split(',')[1]);
    expect(ids.filter((id) => truth.get(id)).length / ids.length).toBeGreaterThanOrEqual(0.9);
  });
});

async function makeRun(name: string, p: PlantedLabels): Promise<string> {
  const dir = path.join(root, name);
  await writePlantedRun(dir, p, (_id, i) => ({ visual_class: p.visualConcept[i] }));
  return dir;
}
