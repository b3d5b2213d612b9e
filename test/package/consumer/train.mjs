// Run by test/package/pack.test.ts with plain `node` inside a fresh project that installed the
// packed avcurate tarball: a user's own training loop over the shards `avcurate export` wrote.
// Prints one JSON line with what it saw.
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { parseConfig } from 'avcurate';
import { readSelectionCsv } from 'avcurate/curation';
import { clipPipeline, fromShards } from 'avcurate/loaders';
import { modelInputs, pretrain, toSslBatch } from 'avcurate/ssl';

const runDir = path.resolve(process.argv[2]);
const cfg = parseConfig({
  name: 'consumer',
  loader: { decode: { seconds: 2 } },
  ssl: {
    batchSize: 4,
    steps: 3,
    checkpointEvery: 3,
    warmupSteps: 1,
    backend: 'cpu',
    model: { visual: { frames: 2, height: 32, width: 32, temporalKernel: 2 } },
  },
});

const selected = readSelectionCsv(path.join(runDir, 'selection.csv'));
// The loaders' pipeline over the shards: shuffle → decode (the model's frame shape) → log-mel
// patch → SpecAugment-free batches of 4, endless; each batch becomes the model's typed arrays.
const seen = new Set();
const pipeline = await clipPipeline(path.join(runDir, 'shards'), cfg.loader, { seed: 1, batchSize: cfg.ssl.batchSize, epochs: Infinity, ...modelInputs(cfg.ssl) });
const batches = pipeline.map((b) => {
  for (const key of b.key) seen.add(key);
  return toSslBatch(b, cfg.loader);
});

// The README's hand-built chain (Library section), one batch of it.
let readme = null;
const shards = await fromShards(path.join(runDir, 'shards'));
const chain = shards
  .shuffle(256, 0)
  .decode({ fps: 4, size: [112, 112], seconds: 2, sampleRate: 16000, sampling: 'random', seed: 0 })
  .batch(4, { dropRemainder: true });
for await (const batch of chain) {
  readme = { keys: batch.key.length, frames: batch.frames.shape, framesType: batch.frames.data.constructor.name, audio: batch.audio.shape, audioType: batch.audio.data.constructor.name };
  break;
}

const outDir = path.join(runDir, 'ssl', 'consumer');
const r = await pretrain({ outDir, config: cfg.ssl, seed: 1, data: batches, silent: true });
process.stdout.write(
  JSON.stringify({
    selected: selected.length,
    readme,
    seen: seen.size,
    steps: r.step,
    backend: r.backend,
    losses: r.metrics.map((m) => m.loss),
    checkpoints: readdirSync(path.join(outDir, 'checkpoints')),
  }) + '\n',
);
