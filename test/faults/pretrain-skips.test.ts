/** Issue 13 item 7: pretrain says which shards the loader skipped (stderr) and keeps them in run.json. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { promises as fsp, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fromShards } from '../../src/loaders/sources/shards.js';
import { pretrain, modelDims } from '../../src/ssl/trainer.js';
import { SslSchema } from '../../src/config/sections/ssl.js';
import type { SslBatch } from '../../src/ssl/data.js';
import { buildTar, json } from '../helpers/hostile-tar.js';

let dir: string;
beforeAll(async () => {
  dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'avc-skips-'));
});
afterAll(async () => {
  await fsp.rm(dir, { recursive: true, force: true });
});

describe('pretrain skip reports (item 7)', () => {
  it('12 bad shard files of 15: each named on stderr and in run.json; training goes on with the 3 good ones', async () => {
    const files: string[] = [];
    const good = buildTar([0, 1, 2, 3].map((i) => ({ name: `s${i}.json`, data: json({ i }) })));
    for (let i = 0; i < 15; i++) {
      const f = path.join(dir, `shard-${String(i).padStart(2, '0')}.tar`);
      if (i >= 12) await fsp.writeFile(f, good);
      else if (i % 3 === 0) await fsp.writeFile(f, good.subarray(0, 300)); // truncated in its first header
      else if (i % 3 === 1) await fsp.writeFile(f, Buffer.alloc(2048, 0x41)); // not a tar
      // i % 3 === 2: missing file
      files.push(f);
    }
    const cfg = SslSchema.parse({ batchSize: 2, steps: 3, checkpointEvery: 3, warmupSteps: 1, model: { visual: { frames: 2, height: 32, width: 32, temporalKernel: 2 } } });
    const d = modelDims(cfg);
    const data = (await fromShards(files, { onError: 'skip' })).map((s): SslBatch => {
      const k = Number((JSON.parse((s.json as Buffer).toString()) as { i: number }).i) + 1;
      const audio = new Float32Array(2 * d.audioFrames * d.mels).map((_, j) => Math.sin(j * 0.01 * k));
      const frames = new Float32Array(2 * d.frames * d.height * d.width * 3).map((_, j) => Math.cos(j * 0.003 * k));
      return { audio, frames, size: 2 };
    });
    const writes: string[] = [];
    const orig = process.stderr.write.bind(process.stderr);
    process.stderr.write = ((c: string) => (writes.push(String(c)), true)) as typeof process.stderr.write;
    let r;
    try {
      r = await pretrain({ outDir: path.join(dir, 'arm'), config: cfg, seed: 1, data, silent: true });
    } finally {
      process.stderr.write = orig;
    }
    expect(r.step).toBe(3);
    const stderr = writes.join('');
    expect(stderr).toMatch(/pretrain: the shards stage skipped 12 item\(s\)/);
    for (let i = 0; i < 12; i++) expect(stderr).toContain(`shard-${String(i).padStart(2, '0')}.tar`);
    const run = JSON.parse(readFileSync(path.join(dir, 'arm', 'run.json'), 'utf8')) as { skips: Array<{ stage: string; skipped: number; errors: string[] }> };
    expect(run.skips).toHaveLength(1);
    expect(run.skips[0].skipped).toBe(12);
    expect(run.skips[0].errors.some((e) => /truncated tar/.test(e))).toBe(true);
    expect(run.skips[0].errors.some((e) => /ENOENT/.test(e))).toBe(true);
  }, 120_000);
});
