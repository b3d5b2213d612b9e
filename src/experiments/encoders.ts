/**
 * The wiring between curation and ssl that curation may not do itself (DESIGN.md: curation never
 * imports ssl): the model behind the `type: encoder` extractor (a pretrain checkpoint, through
 * curation's EncoderProvider registry) and the pretraining of the bootstrap rounds
 * (curate.bootstrap, through curation's BootstrapTrainer).
 */
import path from 'node:path';
import { promises as fsp } from 'node:fs';
import type { Config } from '../config/schema.js';
import { registerEncoderProvider } from '../curation/features/encoder.js';
import { runBootstrap, usesEncoders, type BootstrapOptions, type BootstrapResult, type BootstrapTrainer } from '../curation/bootstrap.js';
import { openEncoder } from '../ssl/encoder-session.js';
import { resolveCheckpoint } from '../ssl/checkpoint.js';
import { pretrain } from '../ssl/trainer.js';
import { buildModelCache, sslTrainingBatches } from '../ssl/data.js';
import { stableKey } from '../run/hash.js';

let registered = false;

/** Register the ssl checkpoint loader behind `type: encoder` (idempotent). */
export function registerSslEncoders(): void {
  if (registered) return;
  registerEncoderProvider({ open: (checkpoint, opts) => openEncoder(checkpoint, { backend: opts.backend }) });
  registered = true;
}

export { usesEncoders };

/** Pretraining for the bootstrap rounds: the trainer of src/ssl on a selection through the loaders. */
export const sslBootstrapTrainer: BootstrapTrainer = {
  async trained(outDir) {
    const root = path.join(outDir, 'checkpoints');
    const dir = await resolveCheckpoint(root);
    if (!dir) return null;
    const latest = JSON.parse(await fsp.readFile(path.join(root, 'latest.json'), 'utf8')) as { step: number };
    return { checkpoint: outDir, step: latest.step };
  },
  async pretrain({ selection, outDir, config, silent }) {
    // Each selected clip is decoded once into a tensor cache of the model's inputs (one window per
    // clip, drawn from the seed), as the experiment's arms train, instead of once per step.
    const cache = path.join(outDir, 'cache');
    const cfg = { ssl: config.ssl, loader: config.loader };
    const fingerprint = stableKey({ selection: await fsp.readFile(selection, 'utf8'), model: config.ssl.model, decode: config.loader.decode, seed: config.seed });
    await buildModelCache(selection, cache, cfg, { seed: config.seed, fingerprint });
    const data = await sslTrainingBatches(cache, cfg, { seed: config.seed });
    const r = await pretrain({ outDir, config: config.ssl, seed: config.seed, data, resume: true, silent });
    const last = r.metrics[r.metrics.length - 1];
    return { checkpoint: outDir, step: r.step, ...(last ? { loss: last.loss } : {}) };
  },
};

/** The bootstrap rounds of a curated run folder with the ssl model (curate.bootstrap.rounds). */
export async function runSslBootstrap(config: Config, opts: BootstrapOptions = {}): Promise<BootstrapResult> {
  registerSslEncoders();
  return runBootstrap(config, sslBootstrapTrainer, opts);
}
