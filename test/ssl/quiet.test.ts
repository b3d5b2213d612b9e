import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));

describe('tfjs stays quiet', () => {
  it('building and running a model before any backend choice prints no TensorFlow.js Node banner', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'avcurate-quiet-'));
    try {
      const tfjs = pathToFileURL(createRequire(import.meta.url).resolve('@tensorflow/tfjs')).href;
      const model = pathToFileURL(path.resolve(here, '../../src/ssl/model.ts')).href;
      const schema = pathToFileURL(path.resolve(here, '../../src/config/sections/ssl.ts')).href;
      const script = path.join(dir, 'run.mts');
      writeFileSync(
        script,
        [
          `const tf = await import(${JSON.stringify(tfjs)});`,
          `const { AvModel } = await import(${JSON.stringify(model)});`,
          `const { SslModelSchema } = await import(${JSON.stringify(schema)});`,
          `await tf.setBackend('cpu');`,
          `const m = new AvModel(SslModelSchema.parse({}), { seed: 0, temperature: 0.1, learnTemperature: false });`,
          `console.log('parameters', m.parameterCount());`,
        ].join('\n'),
      );
      const r = spawnSync(process.execPath, ['--import', 'tsx', script], { encoding: 'utf8', cwd: path.resolve(here, '../..') });
      expect(r.status, r.stderr).toBe(0);
      expect(r.stdout).toMatch(/^parameters \d+/);
      expect(r.stdout + r.stderr).not.toMatch(/looks like you are running TensorFlow\.js in Node/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);
});
