import { afterAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { synthesize } from '../../src/media/synth.js';
import { SslSchema } from '../../src/config/sections/ssl.js';
import { LoaderSchema } from '../../src/config/sections/loader.js';
import { fromArray } from '../../src/loaders/sources/array.js';
import { buildModelCache, sslEmbeddingBatches, sslTrainingBatches } from '../../src/ssl/data.js';
import { embed, pretrain } from '../../src/ssl/trainer.js';

const tmp = mkdtempSync(path.join(os.tmpdir(), 'avcurate-ssl-synth-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('pretraining on the synthetic audio-visual corpus', () => {
  it('learns the correspondence: held-out audio retrieves frames of its own class far above chance', async () => {
    const classes = 4;
    const corpus = await synthesize({ out: path.join(tmp, 'corpus'), clips: 96, classes, mismatch: 0, seconds: 2, seed: 5, width: 64, height: 48, fps: 8, silent: true });
    const cfg = SslSchema.parse({
      backend: 'wasm',
      batchSize: 16,
      steps: 60,
      lr: 3e-3,
      warmupSteps: 5,
      checkpointEvery: 60,
      model: {
        audio: { stages: [{ channels: 32, stride: 4, blocks: 1 }, { channels: 64, stride: 4, blocks: 1 }] },
        visual: { frames: 2, height: 32, width: 32, temporalKernel: 2, stages: [{ channels: 32, stride: 4, blocks: 1 }, { channels: 64, stride: 2, blocks: 1 }] },
        head: { hidden: 64, dim: 32 },
      },
    });
    const records = corpus.labels.map((l) => ({ id: l.id, source: path.join(corpus.out, l.file), start: 0, duration: 2 }));
    const classOf = new Map(corpus.labels.map((l) => [l.id, l.visual_class]));
    // The experiment's path: every clip decoded once into a loaders tensor cache, then training
    // and embedding batches from the cache through the loaders' pipeline.
    const data = { ssl: cfg, loader: LoaderSchema.parse({ decode: { seconds: 1, sampling: 'center' } }) };
    const cache = path.join(tmp, 'tensors');
    const built = await buildModelCache({ dataset: fromArray(records) }, cache, data, { seed: 0 });
    expect(built.index.count).toBe(96);
    expect(built.index.fields).toEqual({ frames: { dtype: 'uint8', shape: [2, 32, 32, 3] }, spec: { dtype: 'float32', shape: [96, 64] } });
    const trainIds = records.slice(0, 64).map((r) => r.id);
    const testIds = records.slice(64).map((r) => r.id);

    const r = await pretrain({ outDir: path.join(tmp, 'ssl'), config: cfg, seed: 2, data: await sslTrainingBatches(cache, data, { seed: 1, keys: trainIds }), silent: true });
    expect(r.step).toBe(60);
    const e = await embed(r.checkpointDir, await sslEmbeddingBatches(cache, data, { seed: 0, batchSize: 16, keys: testIds }), { layer: 'head' });
    expect(e.ids).toEqual(testIds);
    // a→v: for each held-out audio, the nearest held-out clip's frames.
    let sameClass = 0;
    let exact = 0;
    for (let i = 0; i < e.count; i++) {
      let best = -Infinity;
      let arg = -1;
      for (let j = 0; j < e.count; j++) {
        let s = 0;
        for (let k = 0; k < e.dim; k++) s += e.audio[i * e.dim + k] * e.visual[j * e.dim + k];
        if (s > best) {
          best = s;
          arg = j;
        }
      }
      if (classOf.get(e.ids[arg]) === classOf.get(e.ids[i])) sameClass++;
      if (arg === i) exact++;
    }
    const classAcc = sameClass / e.count;
    console.log(`synthetic corpus, 32 held-out clips of ${classes} classes: a→v top-1 same class ${classAcc.toFixed(3)} (chance ${1 / classes}), exact clip ${(exact / e.count).toFixed(3)} (chance ${(1 / 32).toFixed(3)})`);
    expect(classAcc).toBeGreaterThan(0.6);
    expect(exact / e.count).toBeGreaterThan(2 / 32); // within a class, clips differ independently per modality
  }, 180_000);
});
