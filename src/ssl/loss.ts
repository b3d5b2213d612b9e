/**
 * Symmetric cross-modal InfoNCE. With L2-normalised embeddings a_i, v_j and logits
 * s_ij = a_i · v_j / τ, the loss is the mean of the two cross-entropies that pick the matching
 * pair: audio→visual (row i of s, target i) and visual→audio (column j, target j):
 *
 *     L = −(1/2B) Σ_i [ log softmax_j(s_ij)|_{j=i} + log softmax_i(s_ij)|_{i=j} ]
 */
import * as tf from '@tensorflow/tfjs';

export interface InfoNceOutput {
  loss: tf.Scalar;
  /** The logit matrix s [B, B] (audio rows, visual columns). */
  logits: tf.Tensor2D;
}

export function l2Normalize(x: tf.Tensor2D, eps = 1e-8): tf.Tensor2D {
  return tf.tidy(() => tf.mul(x, tf.rsqrt(tf.add(tf.sum(tf.square(x), 1, true), eps))) as tf.Tensor2D);
}

/**
 * InfoNCE of two embedding batches [B, d] (normalised here). `logitScale` is 1/τ, a number or a
 * scalar tensor (a learnt temperature).
 */
export function infoNce(audio: tf.Tensor2D, visual: tf.Tensor2D, logitScale: number | tf.Scalar): InfoNceOutput {
  const b = audio.shape[0];
  if (visual.shape[0] !== b) throw new Error(`infoNce: batch sizes differ (${b} audio, ${visual.shape[0]} visual)`);
  const a = l2Normalize(audio);
  const v = l2Normalize(visual);
  const logits = tf.mul(tf.matMul(a, v, false, true), logitScale) as tf.Tensor2D;
  const eye = tf.eye(b);
  const rowLoss = tf.neg(tf.mean(tf.sum(tf.mul(tf.logSoftmax(logits, 1), eye), 1)));
  const colLoss = tf.neg(tf.mean(tf.sum(tf.mul(tf.logSoftmax(tf.transpose(logits), 1), eye), 1)));
  const loss = tf.mul(tf.add(rowLoss, colLoss), 0.5) as tf.Scalar;
  return { loss, logits };
}

/**
 * In-batch retrieval top-1 from a logit (or similarity) matrix [B, B] in row-major order:
 * a→v = fraction of rows whose largest entry is on the diagonal; v→a the same for columns.
 * Ties count as misses unless the diagonal is the first maximum.
 */
export function retrievalAccuracy(sim: ArrayLike<number>, b: number): { a2v: number; v2a: number } {
  let a2v = 0;
  let v2a = 0;
  for (let i = 0; i < b; i++) {
    let best = -Infinity;
    let arg = -1;
    for (let j = 0; j < b; j++) {
      const s = sim[i * b + j];
      if (s > best) {
        best = s;
        arg = j;
      }
    }
    if (arg === i) a2v++;
    best = -Infinity;
    arg = -1;
    for (let j = 0; j < b; j++) {
      const s = sim[j * b + i];
      if (s > best) {
        best = s;
        arg = j;
      }
    }
    if (arg === i) v2a++;
  }
  return { a2v: a2v / b, v2a: v2a / b };
}

/** The same loss in float64 plain JS, for checking gradients by finite differences. */
export function infoNceReference(audio: Float64Array | Float32Array, visual: Float64Array | Float32Array, b: number, d: number, logitScale: number): number {
  const norm = (x: ArrayLike<number>) => {
    const out = new Float64Array(b * d);
    for (let i = 0; i < b; i++) {
      let s = 0;
      for (let k = 0; k < d; k++) s += x[i * d + k] ** 2;
      const r = 1 / Math.sqrt(s + 1e-8);
      for (let k = 0; k < d; k++) out[i * d + k] = x[i * d + k] * r;
    }
    return out;
  };
  const a = norm(audio);
  const v = norm(visual);
  const s = new Float64Array(b * b);
  for (let i = 0; i < b; i++) {
    for (let j = 0; j < b; j++) {
      let dot = 0;
      for (let k = 0; k < d; k++) dot += a[i * d + k] * v[j * d + k];
      s[i * b + j] = dot * logitScale;
    }
  }
  let total = 0;
  for (let i = 0; i < b; i++) {
    let mr = -Infinity;
    let mc = -Infinity;
    for (let j = 0; j < b; j++) {
      mr = Math.max(mr, s[i * b + j]);
      mc = Math.max(mc, s[j * b + i]);
    }
    let zr = 0;
    let zc = 0;
    for (let j = 0; j < b; j++) {
      zr += Math.exp(s[i * b + j] - mr);
      zc += Math.exp(s[j * b + i] - mc);
    }
    total += -(s[i * b + i] - mr - Math.log(zr)) - (s[i * b + i] - mc - Math.log(zc));
  }
  return total / (2 * b);
}
