import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { StageLedger, readStageRecord } from '../../src/run/ledger.js';
import { validateResults } from '../../src/experiments/results.js';
import { formatResultsTable, runExperiment } from '../../src/experiments/runner.js';
import { holdOut, precisionCurve, sampleIds } from '../../src/experiments/arms.js';
import { Rng } from '../../src/runtime/random.js';
import { ARMS } from '../../src/experiments/arms/registry.js';
import { ArmNameSchema } from '../../src/config/sections/experiment.js';
import { oracleCurate, runTiny, tinyConfig } from './tiny-experiment.js';

const here = path.dirname(fileURLToPath(import.meta.url));
let tmp: string;
beforeAll(() => {
  tmp = mkdtempSync(path.join(os.tmpdir(), 'avcurate-runner-'));
});
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('stage ledger', () => {
  it('runs a stage once, skips it with the same key, reruns on a new key or a lost output', async () => {
    const dir = path.join(tmp, 'ledger');
    let calls = 0;
    const stage = (key: Record<string, unknown>, out = path.join(dir, 'out.txt')) =>
      new StageLedger(dir, { silent: true }).run('s', { config: key }, async () => {
        calls++;
        const { writeFileSync, mkdirSync } = await import('node:fs');
        mkdirSync(dir, { recursive: true });
        writeFileSync(out, 'x');
        return { summary: { calls }, outputs: [out] };
      });
    expect(await stage({ a: 1, b: 2 })).toEqual({ calls: 1 });
    expect(await stage({ b: 2, a: 1 })).toEqual({ calls: 1 }); // key order does not matter
    expect(calls).toBe(1);
    expect(await stage({ a: 2, b: 2 })).toEqual({ calls: 2 });
    rmSync(path.join(dir, 'out.txt'));
    expect(await stage({ a: 2, b: 2 })).toEqual({ calls: 3 });
    const ledger = new StageLedger(dir, { silent: true });
    await ledger.run('s', { config: { a: 2, b: 2 } }, async () => ({ summary: {} }));
    expect(ledger.timings.map((t) => t.status)).toEqual(['skipped']);
  });

  it('a stage that throws leaves no record', async () => {
    const dir = path.join(tmp, 'ledger2');
    const ledger = new StageLedger(dir, { silent: true });
    await expect(ledger.run('bad', { config: { v: 1 } }, async () => { throw new Error('boom'); })).rejects.toThrow('boom');
    expect(await ledger.finished('bad', { config: { v: 1 } })).toBeNull();
    expect(existsSync(ledger.fileOf('bad'))).toBe(false);
  });
});

describe('arms', () => {
  it('the registry has one named function per arm the config accepts', () => {
    expect(Object.keys(ARMS).sort()).toEqual([...ArmNameSchema.options].sort());
    for (const a of Object.values(ARMS)) expect(a.description.length).toBeGreaterThan(10);
  });

  it('holds out a stratified fraction deterministically', () => {
    const rows = Array.from({ length: 60 }, (_, i) => ({ id: `c${i}`, file: `${i}.mp4`, visual_class: i % 3, corresponds: i % 2 === 0 }));
    const a = holdOut(rows, 0.3, 5);
    const b = holdOut(rows, 0.3, 5);
    expect(a.heldOut.map((r) => r.id)).toEqual(b.heldOut.map((r) => r.id));
    expect(a.heldOut.length).toBe(18);
    expect(a.pool.length + a.heldOut.length).toBe(60);
    for (let c = 0; c < 3; c++) expect(a.heldOut.filter((r) => r.visual_class === c && r.corresponds).length).toBe(3);
  });

  it('precision curves count hits per prefix and keep the requested sizes', () => {
    const truth = new Map([['a', true], ['b', false], ['c', true], ['d', false]]);
    expect(precisionCurve(['a', 'b', 'c', 'd'], truth)).toEqual([
      { size: 1, precision: 1, recall: 0.5 },
      { size: 2, precision: 0.5, recall: 0.5 },
      { size: 3, precision: 2 / 3, recall: 1 },
      { size: 4, precision: 0.5, recall: 1 },
    ]);
    const long = Array.from({ length: 1000 }, (_, i) => `x${i}`);
    const curve = precisionCurve(long, new Map(long.map((id, i) => [id, i % 2 === 0])), { maxPoints: 50, keep: [333] });
    expect(curve.length).toBeLessThanOrEqual(52);
    expect(curve.some((p) => p.size === 333)).toBe(true);
    expect(sampleIds(['a', 'b', 'c'], 5, new Rng(1)).sort()).toEqual(['a', 'b', 'c']);
  });
});

function waitFor(file: string, timeoutMs: number): Promise<void> {
  const t0 = Date.now();
  return new Promise((resolve, reject) => {
    const tick = () => {
      if (existsSync(file)) resolve();
      else if (Date.now() - t0 > timeoutMs) reject(new Error(`timed out waiting for ${file}`));
      else setTimeout(tick, 50);
    };
    tick();
  });
}

describe('experiment runner', () => {
  it('resumes after a kill, skips finished stages, and a rerun reproduces results.json', async () => {
    const runDir = path.join(tmp, 'tiny');
    // 1. Start the run in its own process group and kill it (SIGKILL, workers included) once the
    //    clips are decoded, while the arms are pretraining.
    const child = spawn(process.execPath, ['--import', 'tsx', path.join(here, 'tiny-experiment.ts'), runDir], { stdio: 'ignore', detached: true });
    const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()));
    await waitFor(path.join(runDir, 'stages', 'tensors.json'), 60_000);
    process.kill(-child.pid!, 'SIGKILL');
    await exited;
    expect(existsSync(path.join(runDir, 'results.json'))).toBe(false);
    const doneBefore = readdirSync(path.join(runDir, 'stages')).sort();
    expect(doneBefore).toEqual(expect.arrayContaining(['arms.json', 'corpus.json', 'curate.json', 'split.json', 'tensors.json']));

    // 2. Rerun: the finished stages are skipped, the arms complete.
    const second = await runTiny(runDir);
    const status = Object.fromEntries(second.results.timings.map((t) => [t.stage, t.status]));
    for (const s of ['corpus', 'split', 'curate', 'arms', 'tensors']) expect(status[s], s).toBe('skipped');
    for (const arm of ['curated', 'random', 'clean', 'pool']) expect(['ran', 'skipped']).toContain(status[`arm-${arm}-s0`]);
    const results = validateResults(JSON.parse(readFileSync(second.resultsFile, 'utf8')));
    expect(results.arms.map((a) => a.arm)).toEqual(['curated', 'random', 'clean', 'pool']);
    // equal-size arms, the pool its own size; precision from ground truth
    const size = results.arms[0].size;
    expect(results.arms.map((a) => a.size)).toEqual([size, size, size, results.pool.clips]);
    expect(results.arms.find((a) => a.arm === 'clean')!.precision).toBe(1);
    expect(results.arms.find((a) => a.arm === 'curated')!.precision).toBe(1);
    expect(results.arms.every((a) => a.steps === 6)).toBe(true);
    expect(results.probes).toHaveLength(4 * 4); // 4 arms x 1 seed x 4 modalities (audio, visual, both, cross)
    expect(results.probes.every((p) => p.task === 'heldout-visual' && p.top1 >= 0 && p.top1 <= 1)).toBe(true);
    expect(results.selection.map((s) => s.method)).toEqual(['mi', 'random']);
    expect(results.selection[0].precision).toBe(1);
    expect(readFileSync(second.reportFile, 'utf8')).toContain('<figure class="plot" id="plot-probe-heldout-visual">');
    expect(second.table).toMatch(/curated\s+8\s+1\.000/);
    expect(formatResultsTable(results)).toBe(second.table);

    // 3. A third run does nothing new and reproduces the same figures.
    const third = await runTiny(runDir);
    expect(third.results.timings.every((t) => t.status === 'skipped')).toBe(true);
    expect(third.results.probes).toEqual(second.results.probes);

    // 4. Changing only probe settings re-probes every arm without retraining it.
    const metrics = readFileSync(path.join(runDir, 'ssl', 'curated-s0', 'metrics.jsonl'), 'utf8');
    const owner = await readStageRecord(runDir, 'arm-checkpoints', 'curated-s0');
    expect(owner?.outputs).toEqual(['ssl/curated-s0']);
    const cfg = tinyConfig(runDir);
    cfg.probe.lambdas = [0.1];
    const fourth = await runExperiment(cfg, { silent: true, curate: oracleCurate, inProcess: true });
    const st4 = Object.fromEntries(fourth.results.timings.map((t) => [t.stage, t.status]));
    expect(st4['arm-curated-s0']).toBe('ran');
    expect(st4.tensors).toBe('skipped');
    expect(readFileSync(path.join(runDir, 'ssl', 'curated-s0', 'metrics.jsonl'), 'utf8')).toBe(metrics);
    expect(metrics.trim().split('\n')).toHaveLength(6);
    // the checkpoint folder still belongs to the same training (its ledger record was not rewritten)
    expect(await readStageRecord(runDir, 'arm-checkpoints', 'curated-s0')).toEqual(owner);

    // 5. The untrained diagnostic and a 1-shot task. The tiny held-out set has a class with one
    //    corresponding clip: the 1-shot task is skipped with a note, and nothing is retrained.
    const cfg5 = tinyConfig(runDir);
    cfg5.experiment.arms = ['curated', 'untrained'];
    cfg5.experiment.fewShot = { shots: [1], episodes: 3 };
    const skipped = await runExperiment(cfg5, { silent: true, curate: oracleCurate, inProcess: true });
    expect((skipped.results.notes ?? []).some((n) => /^1-shot task skipped: class \S+ has 1 corresponding held-out clip/.test(n))).toBe(true);
    expect(Object.fromEntries(skipped.results.timings.map((t) => [t.stage, t.status])).tensors).toBe('skipped');
    expect(readFileSync(path.join(runDir, 'ssl', 'curated-s0', 'metrics.jsonl'), 'utf8')).toBe(metrics);
    //    With half the corpus held out every class has enough clips: the untrained arm is the
    //    seed's initialisation (0 steps, no training clips); the 1-shot task probes the same
    //    held-out clips with one labelled clip per class.
    cfg5.experiment.heldOut = 0.5;
    const fifth = await runExperiment(cfg5, { silent: true, curate: oracleCurate, inProcess: true });
    const untrained = fifth.results.arms.find((a) => a.arm === 'untrained')!;
    expect(untrained.size).toBe(0);
    expect(untrained.steps).toBe(0);
    expect(existsSync(path.join(runDir, 'ssl', 'untrained-s0', 'metrics.jsonl'))).toBe(false);
    const tasks5 = [...new Set(fifth.results.probes.map((p) => p.task))];
    expect(tasks5).toEqual(['heldout-visual', 'heldout-visual-1shot']);
    expect(fifth.results.probes).toHaveLength(2 * 2 * 4); // 2 arms x 2 tasks x 4 modalities
    const oneShot = JSON.parse(readFileSync(path.join(runDir, 'probe', 'untrained-s0.json'), 'utf8')).tasks['heldout-visual-1shot'].audio;
    expect(oneShot.splits).toHaveLength(3);
    expect(oneShot.splits.every((s: { trainSize: number }) => s.trainSize === 3)).toBe(true); // 1 clip x 3 classes
    expect(fifth.table).toContain('probe task "heldout-visual-1shot"');
  }, 120_000);
});
