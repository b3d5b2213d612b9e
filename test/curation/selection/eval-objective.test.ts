/**
 * eval-selection's objective check: the selection's objective F (its own pairs and estimator, from
 * its meta.json) of the first #positives ranked clips against that of the true positives, which
 * says whether the search or the objective limits precision. Checked against the from-scratch
 * objective of the test oracle, on a selection and on a ranking that puts the negatives first.
 */
import { copyFileSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../../../src/config/load.js';
import { plantedLabels, runEvalSelection, runSelect } from '../../../src/curation/selection/index.js';
import { formatObjectiveCheck } from '../../../src/curation/selection/evaluate.js';
import { readSelectionCsv, writeSelectionCsv } from '../../../src/run/selection.js';
import { writePlantedRun } from '../../helpers/planted-run.js';
import { objectiveFromScratch } from './helpers.js';

const root = mkdtempSync(path.join(os.tmpdir(), 'avc-eval-objective-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

describe('eval-selection: objective of the ranked head against the true positives', () => {
  it('reports both objectives exactly, and which of search and objective limits precision', async () => {
    const p = plantedLabels({ n: 300, k: 6, concepts: 6, noise: 0.3, seed: 5 });
    const dir = path.join(root, 'run');
    const ids = await writePlantedRun(dir, p);
    const cfg = parseConfig({ name: 'eval-objective', runDir: dir, seed: 3, selection: { ratio: 0.5, pairing: 'bipartite' } });
    await runSelect(cfg, { silent: true });
    const meta = JSON.parse(readFileSync(path.join(dir, 'selection.meta.json'), 'utf8')) as { pairs: Array<[string, string]> };
    const names = p.clusterings.map((c) => `${c.modality}/${c.layer}/k${c.k}`);
    const pairs = meta.pairs.flatMap(([a, b]) => [names.indexOf(a), names.indexOf(b)]);
    expect(pairs.every((j) => j >= 0)).toBe(true);
    const row = new Map(ids.map((id, i) => [id, i]));
    const positives = ids.filter((_, i) => p.truth[i] === 1).map((id) => row.get(id)!);
    const matrix = { labels: p.labels, n: p.n, d: p.d, ks: Int32Array.from(p.clusterings, (c) => c.k) };

    const r = await runEvalSelection(cfg, { silent: true });
    const o = r.summary.objective!;
    expect(o).toBeDefined();
    expect(o.pairs).toBe(meta.pairs.length);
    expect(o.size).toBe(positives.length);
    const head = readSelectionCsv(path.join(dir, 'selection.csv')).slice(0, positives.length).map((x) => row.get(x.id)!);
    expect(o.ranked).toBeCloseTo(objectiveFromScratch(matrix, pairs, head), 9);
    expect(o.truth).toBeCloseTo(objectiveFromScratch(matrix, pairs, positives), 9);
    expect(o.limit).toBe(r.summary.atPositives.precision === 1 ? 'none' : o.truth > o.ranked + 1e-9 ? 'search' : 'objective');
    // Written to the evaluation file and printed.
    expect(JSON.parse(readFileSync(r.file, 'utf8')).summary.objective).toEqual(o);
    expect(r.text).toContain(formatObjectiveCheck(o));

    // A ranking with every negative first: the true positives score higher, so the search is the limit.
    const worst = [...ids].sort((a, b) => p.truth[row.get(a)!] - p.truth[row.get(b)!]);
    const bad = path.join(dir, 'selection.bad.csv');
    await writeSelectionCsv(bad, worst.map((id, i) => ({ rank: i + 1, id, video_id: id, start: 0, end: 2, gain: 0, objective: 0 })));
    copyFileSync(path.join(dir, 'selection.meta.json'), path.join(dir, 'selection.bad.meta.json'));
    const b = await runEvalSelection(cfg, { silent: true, selection: bad });
    expect(b.summary.atPositives.precision).toBe(0);
    const ob = b.summary.objective!;
    expect(ob.limit).toBe('search');
    expect(ob.truth).toBeCloseTo(o.truth, 12);
    expect(ob.ranked).toBeLessThan(ob.truth);
    expect(formatObjectiveCheck(ob)).toMatch(/the search fell short of them/);

    // A ranking with every positive first: its head is the true positives, so nothing limits precision.
    const good = path.join(dir, 'selection.good.csv');
    await writeSelectionCsv(good, [...worst].reverse().map((id, i) => ({ rank: i + 1, id, video_id: id, start: 0, end: 2, gain: 0, objective: 0 })));
    copyFileSync(path.join(dir, 'selection.meta.json'), path.join(dir, 'selection.good.meta.json'));
    const g = await runEvalSelection(cfg, { silent: true, selection: good });
    expect(g.summary.atPositives.precision).toBe(1);
    expect(g.summary.objective!.limit).toBe('none');
    expect(g.summary.objective!.ranked).toBeCloseTo(o.truth, 12);
    expect(formatObjectiveCheck(g.summary.objective!)).toMatch(/the ranked clips are the true positives/);

    // Without the ranking's meta.json there are no pairs to score: no check, nothing else changes.
    rmSync(path.join(dir, 'selection.bad.meta.json'));
    const c = await runEvalSelection(cfg, { silent: true, selection: bad });
    expect(c.summary.objective).toBeUndefined();
    expect(c.summary.atPositives).toEqual(b.summary.atPositives);
  }, 60_000);
});
