// Run by test/package/pack.test.ts with plain `node` inside a fresh project that installed the
// packed avcurate tarball: a user's own training loop over the shards `avcurate export` wrote.
// Prints one JSON line with what it saw.
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { parseConfig } from 'avcurate';
import { readSelectionCsv } from 'avcurate/curation';
import { fromShards } from 'avcurate/loaders';
import { pretrain, toTrainItem } from 'avcurate/ssl';

const runDir = path.resolve(process.argv[2]);
const cfg = parseConfig({
  name: 'consumer',
  ssl: {
    batchSize: 4,
    steps: 3,
    checkpointEvery: 3,
    warmupSteps: 1,
    backend: 'cpu',
    data: { seconds: 2 },
    model: { visual: { frames: 2, height: 32, width: 32, temporalKernel: 2 } },
  },
}).ssl;

const concat = (parts) => {
  const out = new Float32Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
};

const selected = readSelectionCsv(path.join(runDir, 'selection.csv'));
const shards = await fromShards(path.join(runDir, 'shards'));
const seen = new Set();
const batches = shards
  .shuffle(16, 1)
  .decode({ fps: cfg.model.visual.frames / cfg.data.seconds, size: [cfg.model.visual.width, cfg.model.visual.height], seconds: cfg.data.seconds, sampleRate: 16000, sampling: 'center', seed: 1 })
  .map((d) => {
    seen.add(d.key);
    return toTrainItem(d, cfg);
  })
  .repeat()
  .batch(cfg.batchSize, { dropRemainder: true })
  .map((b) => ({ audio: concat(b.audio), frames: concat(b.frames), size: b.key.length }));

const outDir = path.join(runDir, 'ssl', 'consumer');
const r = await pretrain({ outDir, config: cfg, seed: 1, data: batches, silent: true });
process.stdout.write(
  JSON.stringify({
    selected: selected.length,
    shardSamples: shards.size,
    seen: seen.size,
    steps: r.step,
    backend: r.backend,
    losses: r.metrics.map((m) => m.loss),
    checkpoints: readdirSync(path.join(outDir, 'checkpoints')),
  }) + '\n',
);
