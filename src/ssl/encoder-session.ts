/**
 * A pretrain checkpoint as a feature encoder: loads the model once, reports its input shape, its
 * per-tower layers (each stage's pooled output `s0`.., the pooled encoder output `features`, the
 * projection head `projection`) and a digest of the checkpoint files, and embeds batches in
 * inference mode (BatchNorm running statistics). The curation side sees it through its
 * EncoderSession interface (src/curation/features/encoder.ts), wired by src/experiments/encoders.ts.
 */
import { createHash } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import type { BackendChoice } from '../runtime/tfjs.js';
import { resolveCheckpoint } from './checkpoint.js';
import { loadModel } from './trainer.js';

export interface EncoderLayerInfo {
  name: string;
  dim: number;
  description: string;
}

export interface SslEncoder {
  readonly dir: string;
  readonly step: number;
  readonly digest: string;
  readonly inputs: { frames: number; height: number; width: number; audioFrames: number; mels: number };
  layers(tower: 'audio' | 'visual'): EncoderLayerInfo[];
  embed(tower: 'audio' | 'visual', input: Float32Array, count: number): Promise<Float32Array[]>;
  dispose(): void;
}

/** The step folder of a checkpoint given as a pretrain output folder, its checkpoints/ folder or a step folder. */
export async function checkpointStepDir(checkpoint: string): Promise<string> {
  const dir = (await resolveCheckpoint(checkpoint)) ?? (await resolveCheckpoint(path.join(checkpoint, 'checkpoints')));
  if (!dir) throw new Error(`no checkpoint in ${checkpoint} (no model.json, no latest.json, no checkpoints/)`);
  return dir;
}

/** sha256 over model.json and weights.bin of a step folder. */
export async function checkpointDigest(stepDir: string): Promise<string> {
  const h = createHash('sha256');
  for (const name of ['model.json', 'weights.bin']) h.update(await fsp.readFile(path.join(stepDir, name)));
  return h.digest('hex');
}

export async function openEncoder(checkpoint: string, opts: { backend: BackendChoice }): Promise<SslEncoder> {
  const dir = await checkpointStepDir(checkpoint);
  const digest = await checkpointDigest(dir);
  const { model, cfg, step } = await loadModel(dir, opts.backend);
  const m = cfg.model;
  const inputs = { frames: m.visual.frames, height: m.visual.height, width: m.visual.width, audioFrames: m.audio.frames, mels: m.audio.mels };
  const layerInfo = (tower: 'audio' | 'visual'): EncoderLayerInfo[] => {
    const stages = tower === 'audio' ? m.audio.stages : m.visual.stages;
    const out: EncoderLayerInfo[] = stages.slice(0, -1).map((st, i) => ({
      name: `s${i}`, dim: st.channels, description: `${tower} stage ${i} output, mean over positions${tower === 'visual' ? ' and frames' : ''}`,
    }));
    out.push({ name: 'features', dim: stages[stages.length - 1].channels, description: `pooled ${tower} encoder output (what linear probes read)` });
    out.push({ name: 'projection', dim: m.head.dim, description: `${tower} projection head output (the contrastive embedding, not normalised)` });
    return out;
  };
  let disposed = false;
  return {
    dir,
    step,
    digest,
    inputs,
    layers: layerInfo,
    async embed(tower, input, count) {
      if (disposed) throw new Error('encoder is disposed');
      const per = tower === 'audio' ? inputs.audioFrames * inputs.mels : inputs.frames * inputs.height * inputs.width * 3;
      if (input.length !== count * per) throw new Error(`${tower} input has ${input.length} values, expected ${count} x ${per}`);
      const outs = tf.tidy(() => {
        const x = tower === 'audio' ? tf.tensor3d(input, [count, inputs.audioFrames, inputs.mels]) : tf.tensor5d(input, [count, inputs.frames, inputs.height, inputs.width, 3]);
        const r = model.towerLayers(x, tower);
        return [...r.stages, r.features, r.projection];
      });
      try {
        return await Promise.all(outs.map(async (t) => (await t.data()) as Float32Array));
      } finally {
        for (const t of outs) t.dispose();
      }
    },
    dispose() {
      if (disposed) return;
      disposed = true;
      model.dispose();
    },
  };
}
