/**
 * The contrastive selection baseline (docs/algorithms.md §8) (the learnt alternative to clustering MI):
 * linear projections of one audio and one visual feature layer to a shared space, trained with the
 * symmetric InfoNCE loss (temperature 0.1, AdamW lr 2e-4, 3 epochs, batch 128 by default); each clip
 * is then scored by the cosine of its own audio and visual projections. High score = the clip's
 * sound and picture agree. Features are standardised per dimension first (ours: makes the
 * reference's small learning rate usable whatever the feature scale).
 */
import * as tf from '@tensorflow/tfjs';
import { Rng } from '../runtime/random.js';
import { initTfjs, type BackendChoice } from '../runtime/tfjs.js';
import { range } from '../loaders/sources/array.js';
import type { ContrastiveSelectConfig } from '../config/sections/selection.js';
import { infoNce, l2Normalize } from './loss.js';
import { AdamW } from './optim.js';
import { CONFIG_DEFAULTS } from '../config/defaults.js';

export interface ContrastiveOptions {
  seed: number;
  epochs?: number;
  batchSize?: number;
  lr?: number;
  temperature?: number;
  projDim?: number;
  /** AdamW decoupled weight decay (default 0.01, PyTorch's AdamW default). */
  weightDecay?: number;
  backend?: BackendChoice;
  /** Called after every epoch with the mean training loss. */
  onEpoch?: (epoch: number, loss: number) => void;
}

function standardise(x: Float32Array, n: number, d: number): Float32Array {
  const out = new Float32Array(n * d);
  for (let k = 0; k < d; k++) {
    let mean = 0;
    for (let i = 0; i < n; i++) mean += x[i * d + k];
    mean /= n;
    let v = 0;
    for (let i = 0; i < n; i++) v += (x[i * d + k] - mean) ** 2;
    const inv = 1 / Math.sqrt(v / n + 1e-8);
    for (let i = 0; i < n; i++) out[i * d + k] = (x[i * d + k] - mean) * inv;
  }
  return out;
}

/** Cosine score per clip of its own learnt audio and visual projections (length n). */
export async function contrastiveScores(
  audio: Float32Array,
  audioDim: number,
  visual: Float32Array,
  visualDim: number,
  n: number,
  opts: ContrastiveOptions,
): Promise<Float32Array> {
  if (audio.length !== n * audioDim) throw new Error(`contrastiveScores: audio has ${audio.length} values, expected ${n} x ${audioDim}`);
  if (visual.length !== n * visualDim) throw new Error(`contrastiveScores: visual has ${visual.length} values, expected ${n} x ${visualDim}`);
  if (n < 2) throw new Error('contrastiveScores: needs at least 2 clips');
  await initTfjs(opts.backend ?? CONFIG_DEFAULTS.ssl.backend);
  const epochs = opts.epochs ?? CONFIG_DEFAULTS.selection.contrastive.epochs;
  const bs = Math.min(opts.batchSize ?? CONFIG_DEFAULTS.selection.contrastive.batchSize, n);
  const lr = opts.lr ?? CONFIG_DEFAULTS.selection.contrastive.lr;
  const scale = 1 / (opts.temperature ?? CONFIG_DEFAULTS.selection.contrastive.temperature);
  const p = opts.projDim ?? CONFIG_DEFAULTS.selection.contrastive.projDim;
  const rng = Rng.derive(opts.seed, 'contrastive-select');

  const A = standardise(audio, n, audioDim);
  const V = standardise(visual, n, visualDim);
  const init = (rows: number, cols: number) => {
    const w = new Float32Array(rows * cols);
    const std = 1 / Math.sqrt(rows);
    for (let i = 0; i < w.length; i++) w[i] = rng.normal(0, std);
    const t = tf.tensor2d(w, [rows, cols]);
    const v = tf.variable(t);
    t.dispose();
    return v;
  };
  const wa = init(audioDim, p);
  const wv = init(visualDim, p);
  const zeros = tf.zeros([p]);
  const ba = tf.variable(zeros);
  const bv = tf.variable(zeros);
  zeros.dispose();
  const params = [
    { name: 'wa', variable: wa, decay: true },
    { name: 'wv', variable: wv, decay: true },
    { name: 'ba', variable: ba, decay: false },
    { name: 'bv', variable: bv, decay: false },
  ];
  const opt = new AdamW(params, { beta1: 0.9, beta2: 0.999, epsilon: 1e-8, weightDecay: opts.weightDecay ?? 0.01, gradClip: 0 });
  const aAll = tf.tensor2d(A, [n, audioDim]);
  const vAll = tf.tensor2d(V, [n, visualDim]);
  try {
    // Clip order per epoch from the loaders (seeded buffer shuffle over all clips = a full
    // permutation, reshuffled per epoch), batches of `bs` (a last batch of one clip is skipped).
    const order = range(n).shuffle(n, Rng.derive(opts.seed, 'contrastive-select-order').int(2 ** 31)).batch(bs);
    for (let e = 0; e < epochs; e++) {
      let lossSum = 0;
      let batches = 0;
      for await (const idx of order.iterator(undefined, { epoch: e })) {
        if (idx.length < 2) break;
        const ix = tf.tensor1d(Int32Array.from(idx), 'int32');
        const xa = tf.gather(aAll, ix);
        const xv = tf.gather(vAll, ix);
        const { value, grads } = tf.variableGrads(() => {
          const za = tf.add(tf.matMul(xa, wa), ba) as tf.Tensor2D;
          const zv = tf.add(tf.matMul(xv, wv), bv) as tf.Tensor2D;
          return infoNce(za, zv, scale).loss;
        }, [wa, wv, ba, bv]);
        const norm = opt.step({ wa: grads[wa.name], wv: grads[wv.name], ba: grads[ba.name], bv: grads[bv.name] }, lr);
        lossSum += (await value.data())[0];
        batches++;
        for (const t of [ix, xa, xv, value, norm, ...Object.values(grads)]) t.dispose();
      }
      opts.onEpoch?.(e + 1, lossSum / Math.max(1, batches));
    }
    const scores = tf.tidy(() => {
      const za = l2Normalize(tf.add(tf.matMul(aAll, wa), ba) as tf.Tensor2D);
      const zv = l2Normalize(tf.add(tf.matMul(vAll, wv), bv) as tf.Tensor2D);
      return tf.sum(tf.mul(za, zv), 1);
    });
    const out = new Float32Array(await scores.data());
    scores.dispose();
    return out;
  } finally {
    opt.dispose();
    for (const t of [wa, wv, ba, bv, aAll, vAll]) t.dispose();
  }
}

/** One feature layer of the clips (as the feature store reads it): row i belongs to clip i. */
export interface ContrastiveLayer {
  modality: 'audio' | 'visual';
  layer: string;
  dim: number;
  data: Float32Array;
}

/**
 * The input of one modality for the contrastive baseline: the layer named in config
 * (selection.contrastive.audioLayer / visualLayer), or by default every layer of the modality
 * concatenated per clip (in the order of the feature store), so no layer is picked by its name.
 */
export function contrastiveInput(layers: readonly ContrastiveLayer[], modality: 'audio' | 'visual', n: number, name: string | undefined): { data: Float32Array; dim: number; layers: string[] } {
  const all = layers.filter((l) => l.modality === modality);
  if (all.length === 0) throw new Error(`contrastive baseline: the features hold no ${modality} layer`);
  let chosen = all;
  if (name !== undefined) {
    const found = all.find((l) => l.layer === name);
    if (!found) throw new Error(`selection.contrastive.${modality}Layer: no ${modality} layer "${name}" (found ${all.map((l) => l.layer).join(', ')})`);
    chosen = [found];
  }
  const dim = chosen.reduce((a, l) => a + l.dim, 0);
  const data = new Float32Array(n * dim);
  for (let i = 0; i < n; i++) {
    let off = 0;
    for (const l of chosen) {
      data.set(l.data.subarray(i * l.dim, (i + 1) * l.dim), i * dim + off);
      off += l.dim;
    }
  }
  return { data, dim, layers: chosen.map((l) => l.layer) };
}

/**
 * The contrastive baseline as `select --method contrastive` and the experiment's contrastive arm
 * both run it: inputs by `contrastiveInput`, training settings from selection.contrastive.
 */
export async function contrastiveClipScores(
  features: { ids: readonly string[]; layers: readonly ContrastiveLayer[] },
  cfg: ContrastiveSelectConfig,
  opts: { seed: number; backend?: BackendChoice; onStart?: (audio: string[], visual: string[]) => void; onEpoch?: (epoch: number, loss: number) => void },
): Promise<Float32Array> {
  const n = features.ids.length;
  const a = contrastiveInput(features.layers, 'audio', n, cfg.audioLayer);
  const v = contrastiveInput(features.layers, 'visual', n, cfg.visualLayer);
  opts.onStart?.(a.layers, v.layers);
  return contrastiveScores(a.data, a.dim, v.data, v.dim, n, {
    seed: opts.seed,
    epochs: cfg.epochs,
    batchSize: cfg.batchSize,
    lr: cfg.lr,
    temperature: cfg.temperature,
    projDim: cfg.projDim,
    backend: opts.backend,
    onEpoch: opts.onEpoch,
  });
}
