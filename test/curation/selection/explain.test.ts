import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import YAML from 'yaml';
import { parseConfig } from '../../../src/config/load.js';
import { writeClusters } from '../../../src/curation/clustering/store.js';
import {
  explainSelection,
  MIObjective,
  plantedLabels,
  resolvePairs,
  runEvalSelection,
  runSelect,
  searchSubset,
  type ExplainFile,
  type PlantedLabels,
  type SelectionPool,
} from '../../../src/curation/selection/index.js';
import { explainSection } from '../../../src/experiments/explain-section.js';
import { Rng } from '../../../src/runtime/random.js';
import { objectiveFromScratch } from './helpers.js';

const run = promisify(execFile);
const root = mkdtempSync(path.join(os.tmpdir(), 'avc-explain-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

const isNull = (name: string) => name.includes('/null');
const ids = (n: number) => Array.from({ length: n }, (_, i) => `clip-${String(i).padStart(4, '0')}`);
function poolOf(p: PlantedLabels, pairing: 'bipartite' = 'bipartite'): SelectionPool {
  return { ids: ids(p.n), matrix: p, clusterings: p.clusterings, pairs: resolvePairs(p.clusterings, pairing), excluded: [] };
}

describe('explain', () => {
  it('on planted labels every signal pair ranks above every null pair, on the pool and on the selection', () => {
    for (const seed of [11, 12]) {
      const p = plantedLabels({ n: 1200, k: 16, concepts: 8, noise: 0.15, audio: 3, visual: 3, nullAudio: 2, nullVisual: 2, seed });
      const pool = poolOf(p);
      const r = searchSubset(new MIObjective(p, pool.pairs), { target: 600, rng: new Rng(seed) });
      const e = explainSelection(pool, r.order, { seed: 3, permutations: 100 }).file;
      expect(e.pairs).toHaveLength(25);
      for (const set of ['pool', 'selection'] as const) {
        const signal = e.pairs.filter((q) => !isNull(q.a) && !isNull(q.b)).map((q) => q[set].z);
        const nulls = e.pairs.filter((q) => isNull(q.a) || isNull(q.b)).map((q) => q[set].z);
        expect(Math.min(...signal)).toBeGreaterThan(Math.max(...nulls));
      }
      // Sorted by selection z: the nine signal pairs come first.
      expect(e.pairs.slice(0, 9).every((q) => !isNull(q.a) && !isNull(q.b))).toBe(true);
      expect(e.objective).toBeCloseTo(objectiveFromScratch(p, pool.pairs, r.order), 9);
    }
  });

  it('per clip: the contribution split by pair adds up to F(S) − F(S − x) (selected) or F(S + x) − F(S) (left out); cells hold their members', () => {
    const p = plantedLabels({ n: 400, k: 8, concepts: 8, noise: 0.15, audio: 2, visual: 2, seed: 4 });
    const pool = poolOf(p);
    const r = searchSubset(new MIObjective(p, pool.pairs), { target: 200, rng: new Rng(1) });
    const ex = explainSelection(pool, r.order, { seed: 1, permutations: 20, cellsPerPair: 4 });
    const S = Array.from(r.order);
    const fS = objectiveFromScratch(p, pool.pairs, S);
    const P = pool.pairs.length / 2;
    for (const rank of [0, 57, 199]) {
      const c = ex.file.clips[rank];
      expect(c.id).toBe(pool.ids[S[rank]]);
      expect(c.rank).toBe(rank + 1);
      const without = objectiveFromScratch(p, pool.pairs, S.filter((_, t) => t !== rank));
      expect(c.contribution).toBeCloseTo(fS - without, 9);
      expect(c.cells).toHaveLength(P);
      // Each pair's delta is that pair's own MI change.
      for (let q = 0; q < P; q++) {
        const pair = [pool.pairs[2 * q], pool.pairs[2 * q + 1]];
        const d = objectiveFromScratch(p, pair, S) - objectiveFromScratch(p, pair, S.filter((_, t) => t !== rank));
        expect(c.cells[q][3]).toBeCloseTo(d, 5);
        const [u, v] = c.cells[q];
        expect(u).toBe(p.labels[S[rank] * p.d + pair[0]]);
        expect(v).toBe(p.labels[S[rank] * p.d + pair[1]]);
      }
    }
    const out = Array.from({ length: p.n }, (_, x) => x).find((x) => !S.includes(x))!;
    const left = ex.clip(out);
    expect(left.selected).toBe(false);
    expect(left.contribution).toBeCloseTo(objectiveFromScratch(p, pool.pairs, [...S, out]) - fS, 9);
    // Cells: counts and members agree with the labels.
    expect(ex.file.cells.length).toBeGreaterThan(0);
    for (const cell of ex.file.cells) {
      const pi = ex.file.pairs[cell.pair];
      const [i, j] = [p.clusterings.findIndex((c) => `${c.modality}/${c.layer}/k${c.k}` === pi.a), p.clusterings.findIndex((c) => `${c.modality}/${c.layer}/k${c.k}` === pi.b)];
      const inCell = S.filter((x) => p.labels[x * p.d + i] === cell.u && p.labels[x * p.d + j] === cell.v);
      expect(cell.count).toBe(inCell.length);
      expect(cell.members.map((m) => m.id)).toEqual(inCell.slice(0, cell.members.length).map((x) => pool.ids[x]));
      expect(cell.lift).toBeGreaterThan(1);
    }
  });

  it('avcurate explain writes explain.json and explain.html, explains one clip with --id, and the report section renders', async () => {
    const p = plantedLabels({ n: 600, k: 8, concepts: 8, noise: 0.1, audio: 2, visual: 2, nullAudio: 1, seed: 8 });
    const dir = path.join(root, 'run');
    const list = ids(p.n);
    await writeClusters(path.join(dir, 'clusters.h5'), {
      ids: list, labels: p.labels, n: p.n, d: p.d,
      clusterings: p.clusterings.map((c) => ({ ...c, modality: c.modality as 'audio' | 'visual', dim: 1, centroids: new Float32Array(c.k), inertia: 0, iterations: 1 })),
    });
    writeFileSync(path.join(dir, 'manifest.jsonl'), list.map((id, i) => JSON.stringify({
      id, source: `/data/${id}.mp4`, start: 0, duration: 2, video_id: id,
      probe: { duration: 2, width: 32, height: 32, fps: 8, sampleRate: 16000, videoCodec: 'h264', audioCodec: 'aac' },
      corresponds: p.truth[i] === 1, visual_class: p.visualConcept[i],
    })).join('\n') + '\n');
    const cfgFile = path.join(dir, 'config.yaml');
    writeFileSync(cfgFile, YAML.stringify({ name: 'x', runDir: dir, seed: 2, selection: { ratio: 0.5, auto: { permutations: 100 } } }));
    const bin = path.resolve('bin/avcurate.js');
    const cwd = path.resolve('.');
    const config = parseConfig({ name: 'x', runDir: dir, seed: 2, selection: { ratio: 0.5, auto: { permutations: 100 } } });
    await runSelect(config, { silent: true });
    await runEvalSelection(config, { silent: true });
    const text = await run(process.execPath, [bin, 'explain', '--config', cfgFile, '--no-images', '--quiet'], { cwd });
    expect(text.stdout).toMatch(/explain: 300 of 600 clips selected/);
    expect(text.stdout).toMatch(/strongest cells/);
    const e = JSON.parse(readFileSync(path.join(dir, 'explain.json'), 'utf8')) as ExplainFile;
    expect(e.format).toBe('avcurate.explain');
    expect(e.clips).toHaveLength(300);
    expect(e.pairs.filter((q) => !q.inUse)).toHaveLength(0);
    const last = e.pairs.slice(-2);
    for (const q of last) expect(isNull(q.a)).toBe(true);
    expect(existsSync(path.join(dir, 'explain.html'))).toBe(true);
    const html = readFileSync(path.join(dir, 'explain.html'), 'utf8');
    expect(html).toMatch(/<svg/);
    expect(html).toMatch(/id="explain-head"/);
    const one = await run(process.execPath, [bin, 'explain', '--config', cfgFile, '--id', e.clips[5].id, '--json', '--no-html', '--quiet'], { cwd });
    const clip = JSON.parse(one.stdout);
    expect(clip).toMatchObject({ id: e.clips[5].id, rank: 6, selected: true });
    expect(clip.cells).toHaveLength(e.pairsInUse.length);
    await expect(run(process.execPath, [bin, 'explain', '--config', cfgFile, '--id', 'nope', '--no-html', '--quiet'], { cwd })).rejects.toMatchObject({ stderr: expect.stringMatching(/clip "nope" is not in the pool/) });
    const section = await explainSection(path.join(dir, 'explain.json'), { images: false });
    expect(section).toMatch(/Why this selection/);
    expect(section).toMatch(/id="explain-pairs"/);
    expect(await explainSection(path.join(dir, 'missing.json'))).toBe('');
  }, 180_000);
});
