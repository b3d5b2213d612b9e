import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import YAML from 'yaml';
import { parseConfig } from '../../src/config/load.js';
import { runCuration } from '../../src/curation/pipeline.js';
import { readSelectionCsv } from '../../src/curation/selection/index.js';
import { tinyCurateConfig } from '../helpers/tiny-config.js';

const run = promisify(execFile);
const root = mkdtempSync(path.join(os.tmpdir(), 'avc-curate-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

const raw = tinyCurateConfig({ name: 'tiny', runDir: path.join(root, 'run'), seed: 3, clips: 48, shardSize: 24 });

describe('curation pipeline', () => {
  it('runs synth → ingest → extract → cluster → select → eval, finds the corresponding clips, and a rerun skips finished work', async () => {
    const config = parseConfig(raw);
    const first = await runCuration(config, { silent: true });
    expect(first.stages.map((s) => s.stage)).toEqual(['synth', 'ingest', 'extract', 'cluster', 'select', 'explain', 'eval']);
    const rows = readSelectionCsv(path.join(raw.runDir, 'selection.csv'));
    expect(rows.length).toBe(24);
    // curate writes explain.json itself: the pairs with their permutation null, per-clip rows for
    // the selection in rank order, and the objective of the selection.csv it explains.
    const explain = JSON.parse(readFileSync(path.join(raw.runDir, 'explain.json'), 'utf8'));
    expect(explain.format).toBe('avcurate.explain');
    expect(explain.selected).toBe(24);
    expect(explain.permutations).toBeGreaterThan(0);
    expect(explain.pairs.length).toBeGreaterThan(0);
    expect(Number.isFinite(explain.pairs[0].selection.z)).toBe(true);
    expect(explain.clips.map((c: { id: string }) => c.id)).toEqual(rows.map((r) => r.id));
    expect(explain.objective).toBeCloseTo(rows[rows.length - 1].objective, 6);
    const ev = first.evaluation!.summary;
    expect(ev.pool).toBe(48);
    expect(ev.positives).toBe(24);
    expect(ev.atPositives.precision).toBeGreaterThanOrEqual(0.75);
    const evalJson = JSON.parse(readFileSync(path.join(raw.runDir, 'selection.eval.json'), 'utf8'));
    expect(evalJson.precision.length).toBe(24);

    const csvText = readFileSync(path.join(raw.runDir, 'selection.csv'), 'utf8');
    const again = await runCuration(parseConfig(raw), { silent: true });
    expect(again.selection!.skipped).toBe(true);
    expect(again.stages.find((s) => s.stage === 'synth')!.note).toMatch(/0 generated, 48 already there/);
    expect(again.stages.find((s) => s.stage === 'ingest')!.note).toMatch(/manifest\.jsonl is up to date \(48 clips/);
    expect(again.stages.find((s) => s.stage === 'extract')!.note).toMatch(/0 shard\(s\) written, 2 already complete/);
    expect(readFileSync(path.join(raw.runDir, 'selection.csv'), 'utf8')).toBe(csvText);
    expect(again.stages.find((s) => s.stage === 'explain')!.note).toMatch(/explain\.json is up to date/);
    // Without the null: explain.json is redone (its config changed), with MI but no z or p.
    const noNull = await runCuration(parseConfig({ ...raw, selection: { ...raw.selection, explain: { null: 'none' } } }), { silent: true });
    expect(noNull.stages.find((s) => s.stage === 'explain')!.note).toMatch(/no null/);
    const bare = JSON.parse(readFileSync(path.join(raw.runDir, 'explain.json'), 'utf8'));
    expect(bare.permutations).toBe(0);
    expect(bare.pairs[0].selection.z).toBeNull();
    expect(bare.pairs[0].selection.mi).toBeGreaterThan(0);
    expect(bare.clips.length).toBe(24);

    // The contrastive baseline (scores from src/ssl) writes its own selection.contrastive.csv in
    // the same format; the configured method's selection.csv stays as it was.
    const cfgFile = path.join(root, 'tiny.yaml');
    writeFileSync(cfgFile, YAML.stringify(raw));
    const res = await run(process.execPath, [path.resolve('bin/avcurate.js'), 'select', '--config', cfgFile, '--method', 'contrastive', '--set', 'selection.contrastive.epochs=1', '--quiet'], {
      cwd: path.resolve('.'),
    });
    expect(res.stdout).toMatch(/selected 24 of 48 clips → .*selection\.contrastive\.csv/);
    const meta = JSON.parse(readFileSync(path.join(raw.runDir, 'selection.contrastive.meta.json'), 'utf8'));
    expect(meta.method).toBe('contrastive');
    expect(JSON.parse(readFileSync(path.join(raw.runDir, 'selection.meta.json'), 'utf8')).method).toBe('mi');
    const contrastive = readSelectionCsv(path.join(raw.runDir, 'selection.contrastive.csv'));
    expect(contrastive.length).toBe(24);
    expect(new Set(contrastive.map((r) => r.id)).size).toBe(24);
    expect(readFileSync(path.join(raw.runDir, 'selection.csv'), 'utf8')).toBe(csvText);
    // eval-selection reads the ranking it is asked about and writes its evaluation beside it.
    const ev2 = await run(process.execPath, [path.resolve('bin/avcurate.js'), 'eval-selection', '--config', cfgFile, '--method', 'contrastive', '--quiet'], { cwd: path.resolve('.') });
    expect(ev2.stdout).toMatch(/selection\.contrastive\.eval\.json/);
    expect(JSON.parse(readFileSync(path.join(raw.runDir, 'selection.contrastive.eval.json'), 'utf8')).selection).toBe(path.join(raw.runDir, 'selection.contrastive.csv'));
  }, 120_000);
});
