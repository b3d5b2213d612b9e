/**
 * AdamW (decoupled weight decay, Loshchilov & Hutter) with bias correction, a linear warm-up then
 * cosine learning-rate schedule, and global-norm gradient clipping. Its state (first and second
 * moments, step count) is plain named tensors so checkpoints can save and restore it exactly.
 */
import * as tf from '@tensorflow/tfjs';

export interface ScheduleOptions {
  lr: number;
  warmupSteps: number;
  totalSteps: number;
  minLrRatio: number;
}

/**
 * Learning rate for optimiser step `step` (1-based): linear from lr/warmup up to lr over the
 * warm-up, then cosine from lr down to lr·minLrRatio at `totalSteps`.
 */
export function learningRate(step: number, o: ScheduleOptions): number {
  if (o.warmupSteps > 0 && step <= o.warmupSteps) return (o.lr * step) / o.warmupSteps;
  const span = Math.max(1, o.totalSteps - o.warmupSteps);
  const progress = Math.min(1, Math.max(0, (step - o.warmupSteps) / span));
  const floor = o.lr * o.minLrRatio;
  return floor + (o.lr - floor) * 0.5 * (1 + Math.cos(Math.PI * progress));
}

export interface AdamWOptions {
  beta1: number;
  beta2: number;
  epsilon: number;
  weightDecay: number;
  /** Clip the global gradient norm to this (0 = off). */
  gradClip: number;
}

export interface AdamWParam {
  name: string;
  variable: tf.Variable;
  decay: boolean;
}

export class AdamW {
  readonly opts: AdamWOptions;
  /** Optimiser steps taken (bias correction uses it). */
  t = 0;
  private readonly m = new Map<string, tf.Variable>();
  private readonly v = new Map<string, tf.Variable>();
  private readonly params: AdamWParam[];

  constructor(params: AdamWParam[], opts: AdamWOptions) {
    this.opts = opts;
    this.params = params;
    for (const p of params) {
      const zeros = tf.zerosLike(p.variable);
      this.m.set(p.name, tf.variable(zeros, false));
      this.v.set(p.name, tf.variable(zeros, false));
      zeros.dispose();
    }
  }

  /**
   * One update with gradients by parameter name. Returns the global gradient norm before
   * clipping (a scalar tensor the caller reads and disposes).
   */
  step(grads: Record<string, tf.Tensor>, lr: number): tf.Scalar {
    this.t += 1;
    const { beta1, beta2, epsilon, weightDecay, gradClip } = this.opts;
    const bc1 = 1 - Math.pow(beta1, this.t);
    const bc2 = 1 - Math.pow(beta2, this.t);
    return tf.tidy(() => {
      const sq = this.params.map((p) => {
        const g = grads[p.name];
        if (!g) throw new Error(`AdamW: no gradient for ${p.name}`);
        return tf.sum(tf.square(g));
      });
      const norm = tf.sqrt(tf.addN(sq)) as tf.Scalar;
      const clipScale = gradClip > 0 ? tf.minimum(1, tf.div(gradClip, tf.add(norm, 1e-6))) : tf.scalar(1);
      for (const p of this.params) {
        const g = tf.mul(grads[p.name], clipScale);
        const m = this.m.get(p.name)!;
        const v = this.v.get(p.name)!;
        const m1 = tf.add(tf.mul(m, beta1), tf.mul(g, 1 - beta1));
        const v1 = tf.add(tf.mul(v, beta2), tf.mul(tf.square(g), 1 - beta2));
        m.assign(m1);
        v.assign(v1);
        const update = tf.div(tf.div(m1, bc1), tf.add(tf.sqrt(tf.div(v1, bc2)), epsilon));
        let next = tf.sub(p.variable, tf.mul(update, lr));
        if (p.decay && weightDecay > 0) next = tf.sub(next, tf.mul(p.variable, lr * weightDecay));
        p.variable.assign(next);
      }
      return tf.keep(norm);
    });
  }

  /** Moments by name, for checkpoints: `m/<name>`, `v/<name>`. */
  stateTensors(): Record<string, tf.Tensor> {
    const out: Record<string, tf.Tensor> = {};
    for (const [n, t] of this.m) out[`m/${n}`] = t;
    for (const [n, t] of this.v) out[`v/${n}`] = t;
    return out;
  }

  restore(t: number, tensors: Record<string, tf.Tensor>): void {
    this.t = t;
    for (const [n, variable] of [...[...this.m].map(([k, x]) => [`m/${k}`, x] as const), ...[...this.v].map(([k, x]) => [`v/${k}`, x] as const)]) {
      const src = tensors[n];
      if (!src) throw new Error(`checkpoint lacks optimiser state ${n}`);
      variable.assign(src);
    }
  }

  dispose(): void {
    for (const t of this.m.values()) t.dispose();
    for (const t of this.v.values()) t.dispose();
    this.m.clear();
    this.v.clear();
  }
}
