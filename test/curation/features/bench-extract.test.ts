/**
 * bench:extract measures a user's config (--config): each phase alone, end to end, the share of the
 * shared-core ceiling and the bottleneck. Only the presence and consistency of the figures is
 * checked (no timing assertions).
 */
import { describe, it, expect } from 'vitest';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Rng } from '../../../src/runtime/random.js';
import { visualGraph, waveGraph } from './onnx-graphs.js';

describe('bench:extract --config', () => {
  it('measures decode, preprocess, inference and end-to-end for a config with ONNX models, and names the bottleneck', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'avc-bench-extract-'));
    const rng = new Rng(1);
    writeFileSync(path.join(dir, 'vis.onnx'), visualGraph(16, Array.from({ length: 6 }, () => rng.normal()), [0, 0], Array.from({ length: 15 }, () => rng.normal())));
    writeFileSync(path.join(dir, 'wave.onnx'), waveGraph());
    const cfg = path.join(dir, 'cfg.yaml');
    writeFileSync(cfg, [
      'name: bench-test',
      `runDir: ${JSON.stringify(path.join(dir, 'run'))}`,
      'features:',
      '  batchSize: 2',
      '  decodeConcurrency: 1',
      '  decode: { fps: 4, width: 32, height: 32 }',
      '  audio: [{ type: onnx, model: wave.onnx, audioInput: waveform, patchSeconds: 0.5, device: cpu, outputs: [{ output: level }] }]',
      '  visual: [{ type: onnx, model: vis.onnx, crop: 16, frames: 2, device: cpu, outputs: [{ output: emb }] }]',
      '',
    ].join('\n'));
    const root = fileURLToPath(new URL('../../../', import.meta.url));
    const r = spawnSync(process.execPath, ['--import', 'tsx', 'scripts/bench-extract.ts', '--config', cfg, '--clips', '3', '--seconds', '1', '--dir', path.join(dir, 'work')], { cwd: root, encoding: 'utf8', timeout: 120_000 });
    expect(r.status, r.stderr).toBe(0);
    const rate = (name: string) => Number(new RegExp(`${name}\\s+([0-9.]+) clips/s`).exec(r.stdout)?.[1]);
    for (const phase of ['decode-only', 'preprocess-only', 'inference-only', 'end-to-end']) expect(rate(phase), `${phase} in\n${r.stdout}`).toBeGreaterThan(0);
    expect(r.stdout).toMatch(/visual\/emb {2}dim 5/);
    expect(r.stdout).toMatch(/end-to-end .*\(3 clips, 0 failed, 1 shards\)/);
    const share = /end-to-end reaches ([0-9.]+) of it/.exec(r.stdout);
    expect(Number(share?.[1])).toBeGreaterThan(0);
    const slowest = [['decode', rate('decode-only')], ['preprocess', rate('preprocess-only')], ['inference', rate('inference-only')]].sort((a, b) => (a[1] as number) - (b[1] as number))[0][0];
    expect(r.stdout).toMatch(new RegExp(`bottleneck: ${slowest} `));
  }, 150_000);
});
