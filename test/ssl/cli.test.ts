import { afterAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const bin = path.join(root, 'bin', 'avcurate.js');
const tmp = mkdtempSync(path.join(os.tmpdir(), 'avcurate-ssl-cli-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

function cli(...args: string[]) {
  const r = spawnSync(process.execPath, [bin, ...args], { cwd: tmp, encoding: 'utf8', timeout: 180_000, env: { ...process.env, CI: '1' } });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

describe('avcurate pretrain and doctor', () => {
  it('doctor lists ffmpeg, onnxruntime and the tfjs backends with reasons for the absent ones', () => {
    const r = cli('doctor', '--json');
    expect(r.code, r.err).toBe(0);
    const checks = (JSON.parse(r.out) as { checks: Array<{ name: string; ok: boolean; detail: string }> }).checks;
    const by = new Map(checks.map((c) => [c.name, c]));
    expect(by.get('ffmpeg')?.ok).toBe(true);
    expect(by.get('onnxruntime-node')?.ok).toBe(true);
    expect(by.get('tfjs wasm')?.ok).toBe(true);
    expect(by.get('tfjs cpu')?.ok).toBe(true);
    for (const name of ['tfjs tfjs-node-gpu', 'tfjs tfjs-node']) {
      const c = by.get(name);
      expect(c?.name).toBe(name);
      // present here or not: either it works, or the line says why (not installed, failed to load)
      if (!c!.ok) expect(c!.detail).toMatch(/not installed|failed to load|initialisation failed/);
    }
    expect(['wasm', 'tfjs-node', 'tfjs-node-gpu']).toContain(by.get('tfjs auto choice')?.detail);
  }, 60_000);

  it('pretrains on a synthetic corpus through the loader, then resumes to more steps', () => {
    expect(cli('synth', '--out', 'corpus', '--clips', '16', '--classes', '4', '--seconds', '2', '--seed', '3', '-q').code).toBe(0);
    expect(cli('ingest', 'corpus/labels.jsonl', '--out', 'run/manifest.jsonl', '--clip-seconds', '2', '-q').code).toBe(0);
    writeFileSync(
      path.join(tmp, 'cfg.yaml'),
      ['name: t', 'runDir: run', 'ssl:', '  batchSize: 8', '  steps: 4', '  checkpointEvery: 2', '  warmupSteps: 1', '  model:', '    visual: { frames: 2, height: 32, width: 32, temporalKernel: 2 }', ''].join('\n'),
    );
    const r = cli('pretrain', '--config', 'cfg.yaml', '--data', 'run/manifest.jsonl', '-q');
    expect(r.code, r.err).toBe(0);
    expect(r.out).toMatch(/trained 4 steps on wasm/);
    const dir = path.join(tmp, 'run', 'ssl', 'main');
    expect(readFileSync(path.join(dir, 'metrics.jsonl'), 'utf8').trim().split('\n')).toHaveLength(4);
    const meta = JSON.parse(readFileSync(path.join(dir, 'checkpoints', 'step-00000004', 'model.json'), 'utf8')).userDefinedMetadata;
    expect(meta.data.format).toBe('avcurate-loader-state');
    expect(meta.data.delivered).toBe(4);
    const r2 = cli('pretrain', '--config', 'cfg.yaml', '--data', 'run/manifest.jsonl', '--resume', '--steps', '6', '-q');
    expect(r2.code, r2.err).toBe(0);
    expect(r2.out).toMatch(/trained 6 steps/);
    expect(readFileSync(path.join(dir, 'metrics.jsonl'), 'utf8').trim().split('\n')).toHaveLength(6);
    expect(existsSync(path.join(dir, 'checkpoints', 'step-00000006', 'weights.bin'))).toBe(true);
  }, 180_000);

  it('refuses a missing --data path and a bad ssl key before any work', () => {
    writeFileSync(path.join(tmp, 'bad.yaml'), 'ssl:\n  batchSize: 1\n');
    const bad = cli('pretrain', '--config', 'bad.yaml', '--data', 'nowhere.csv');
    expect(bad.code).toBe(2);
    expect(bad.err).toMatch(/ssl\.batchSize/);
    writeFileSync(path.join(tmp, 'ok.yaml'), 'name: x\n');
    const missing = cli('pretrain', '--config', 'ok.yaml', '--data', 'nowhere.csv');
    expect(missing.code).toBe(1);
    expect(missing.err).toMatch(/nowhere\.csv: no such file/);
  }, 60_000);
});
