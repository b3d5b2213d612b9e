import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseConfig } from '../../../src/config/load.js';
import { synthesize } from '../../../src/media/synth.js';
import { pretrain } from '../../../src/ssl/trainer.js';
import { SslSchema } from '../../../src/config/sections/ssl.js';
import { buildModelCache, sslTrainingBatches } from '../../../src/ssl/data.js';
import { LoaderSchema } from '../../../src/config/sections/loader.js';
import { fromArray } from '../../../src/loaders/sources/array.js';
import { fromTensorCache } from '../../../src/loaders/cache/tensor-cache.js';
import { Rng } from '../../../src/runtime/random.js';
import { main } from '../../../src/cli/main.js';
import { formatProbe, runProbe, type ProbeFile } from '../../../src/ssl/probe/stage.js';

const ssl = {
  backend: 'wasm' as const,
  steps: 2,
  batchSize: 4,
  warmupSteps: 1,
  model: {
    audio: { frames: 96, mels: 64, stages: [{ channels: 8, stride: 8, blocks: 0 }] },
    visual: { frames: 2, height: 32, width: 32, temporalKernel: 1, stages: [{ channels: 8, stride: 8, blocks: 0 }] },
    head: { hidden: 16, dim: 8 },
  },
};

let tmp: string;
let labelsFile: string;
let checkpoint: string;
beforeAll(async () => {
  tmp = mkdtempSync(path.join(os.tmpdir(), 'avcurate-probe-stage-'));
  const corpus = await synthesize({ out: path.join(tmp, 'corpus'), clips: 12, classes: 2, mismatch: 0, seconds: 1, width: 48, height: 48, fps: 6, seed: 2, silent: true });
  labelsFile = corpus.labelsFile;
  checkpoint = path.join(tmp, 'ssl', 'tiny');
  const rng = new Rng(1);
  const n = 8;
  const items = Array.from({ length: n }, (_, i) => ({
    key: `r${i}`,
    spec: { dtype: 'float32' as const, shape: [96, 64], data: new Float32Array(96 * 64).map(() => rng.normal()) },
    frames: { dtype: 'float32' as const, shape: [2, 32, 32, 3], data: new Float32Array(2 * 32 * 32 * 3).map(() => rng.normal()) },
  }));
  const cfg = SslSchema.parse(ssl);
  const data = await sslTrainingBatches({ dataset: fromArray(items), decoded: true }, { ssl: cfg, loader: LoaderSchema.parse({}) }, { seed: 0 });
  await pretrain({ outDir: checkpoint, config: cfg, seed: 0, data, silent: true });
}, 60_000);
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('model tensor cache', () => {
  it('decodes clips into the model shapes once, leaves out undecodable ones, and reads rows by key', async () => {
    const cfg = { ssl: SslSchema.parse(ssl), loader: LoaderSchema.parse({ decode: { sampling: 'center' } }) };
    const clips = [0, 1, 2].map((i) => ({ id: `c${i}`, source: path.join(tmp, 'corpus', `clip-0000${i}.mp4`), start: 0, duration: 1 }));
    const all = [...clips, { id: 'bad', source: path.join(tmp, 'nope.mp4'), start: 0, duration: 1 }];
    const dir = path.join(tmp, 'tensors');
    const r = await buildModelCache({ dataset: fromArray(all) }, dir, cfg, { seed: 0, fingerprint: 'f1' });
    expect(r.reused).toBe(false);
    expect(r.index.keys).toEqual(['c0', 'c1', 'c2']);
    expect(r.index.skipped.map((s) => s.stage)).toEqual(['decode']);
    expect(r.index.skipped[0].errors[0]).toMatch(/^bad: /);
    expect((await buildModelCache({ dataset: fromArray(all) }, dir, cfg, { seed: 0, fingerprint: 'f1' })).reused).toBe(true);
    const rows = await (await fromTensorCache(dir, { keys: ['c2', 'c0'] })).toArray();
    expect(rows.map((x) => x.key)).toEqual(['c2', 'c0']);
    const all3 = await (await fromTensorCache(dir)).toArray();
    const spec = (x: (typeof rows)[number]) => Array.from((x.spec as { data: Float32Array }).data);
    expect(spec(rows[0])).toEqual(spec(all3[2]));
    expect(rows[0].frames).toMatchObject({ dtype: 'uint8', shape: [2, 32, 32, 3] });
    expect(rows[0].spec).toMatchObject({ dtype: 'float32', shape: [96, 64] });
    await expect(fromTensorCache(dir, { keys: ['bad'] })).rejects.toThrow(/1 key\(s\) not in the cache, e\.g\. bad/);
  });
});

describe('probe stage', () => {
  it('embeds a dataset with a checkpoint and writes probe/<arm>.json', async () => {
    const config = parseConfig({ runDir: path.join(tmp, 'run'), ssl, probe: { dataset: { kind: 'synth', path: labelsFile }, protocol: { kind: 'folds', k: 3 }, lambdas: [1, 0.01], clipSeconds: 1 } });
    const { file, probe } = await runProbe(config, { checkpoint, silent: true });
    expect(file).toBe(path.join(tmp, 'run', 'probe', 'tiny.json'));
    expect(probe).toMatchObject({ arm: 'tiny', step: 2, items: 12, classes: ['0', '1'], missing: 0, undecodable: 0 });
    expect(Object.keys(probe.results).sort()).toEqual(['audio', 'both', 'cross', 'visual']);
    for (const r of Object.values(probe.results)) {
      expect(r!.splits).toHaveLength(3);
      expect(r!.top1).toBeGreaterThanOrEqual(0);
      expect(r!.top1).toBeLessThanOrEqual(1);
    }
    expect(JSON.parse(readFileSync(file, 'utf8')).results.audio.top1).toBe(probe.results.audio!.top1);
    expect(formatProbe(probe)).toMatch(/audio\s+top-1 \d+\.\d %/);
  }, 60_000);

  it('the CLI refuses a config without probe.dataset (exit 2)', async () => {
    const cfg = path.join(tmp, 'noprobe.yaml');
    (await import('node:fs')).writeFileSync(cfg, `runDir: ${path.join(tmp, 'run2')}\n`);
    const errs: string[] = [];
    const orig = process.stderr.write.bind(process.stderr);
    process.stderr.write = ((c: string) => (errs.push(String(c)), true)) as typeof process.stderr.write;
    try {
      expect(await main(['probe', '--config', cfg, '--checkpoint', checkpoint, '--quiet'])).toBe(2);
    } finally {
      process.stderr.write = orig;
    }
    expect(errs.join('')).toMatch(/set probe.dataset/);
    expect(existsSync(path.join(tmp, 'run2', 'probe'))).toBe(false);
  });
});
