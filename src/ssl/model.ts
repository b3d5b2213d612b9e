/**
 * The two-tower audio-visual model: an audio encoder over log-mel patches [B, frames, mels], a
 * visual encoder over clips [B, T, H, W, 3] (per-frame 2D layers, then a temporal layer and mean
 * over time), each followed by a 2-layer MLP projection head with BatchNorm to `head.dim`.
 *
 * Parameters live in named tf.Variables (trainable weights and BatchNorm running statistics);
 * `forward` is a pure function of them and the batch, so gradients come from tf.variableGrads.
 * BatchNorm is written with broadcasting ops (y = x·scale + shift with per-channel scale, shift
 * from the batch moments): its gradient is reductions and elementwise products, never `tile`.
 */
import * as tf from '@tensorflow/tfjs';
// Loaded for its effect: tfjs quiet (no Node.js banner) even when a model is built before
// initTfjs. Our wasm kernels come with the backend choice itself (initTfjs).
import '../runtime/tfjs.js';
import { Rng } from '../runtime/random.js';
import type { SslModelConfig, StageConfig } from '../config/sections/ssl.js';
import { CONFIG_DEFAULTS } from '../config/defaults.js';

export interface TowerOutput {
  /** Pooled encoder features [B, C] (what linear probes read). */
  features: tf.Tensor2D;
  /** Projection head output [B, dim] (not normalised). */
  projection: tf.Tensor2D;
}

export interface ForwardOutput {
  audio: TowerOutput;
  visual: TowerOutput;
}

/** Running-statistics updates produced by a training forward pass (applied after the step). */
export interface BnUpdate {
  name: string;
  mean: tf.Tensor1D;
  variance: tf.Tensor1D;
}

interface ParamInfo {
  variable: tf.Variable;
  trainable: boolean;
  /** Weight decay applies (matrices and filters; not biases, norms, temperature). */
  decay: boolean;
}

let instanceCounter = 0;

/** Output spatial size of a layer with stride s: `patch` crops a remainder, `conv` (SAME) rounds up. */
function downsample(n: number, s: number, arch: 'patch' | 'conv'): number {
  return arch === 'patch' ? Math.floor(n / s) : Math.ceil(n / s);
}

export class AvModel {
  readonly spec: SslModelConfig;
  private readonly prefix: string;
  private readonly params = new Map<string, ParamInfo>();
  /** Learnable log(1/temperature), when the temperature is learnt. */
  readonly learnTemperature: boolean;
  private readonly initialTemperature: number;

  constructor(spec: SslModelConfig, opts: { seed: number; temperature?: number; learnTemperature?: boolean }) {
    this.spec = spec;
    this.prefix = `avm${++instanceCounter}_`;
    this.learnTemperature = opts.learnTemperature ?? CONFIG_DEFAULTS.ssl.learnTemperature;
    this.initialTemperature = opts.temperature ?? CONFIG_DEFAULTS.ssl.temperature;
    validateSpec(spec);
    const rng = Rng.derive(opts.seed, 'ssl-model-init');
    this.buildTower('audio', 1, spec.audio.stages, rng);
    this.buildTower('visual', 3, spec.visual.stages, rng);
    const cv = spec.visual.stages[spec.visual.stages.length - 1].channels;
    if (spec.visual.temporalKernel > 1) {
      this.addWeight('visual/temporal/w', [spec.visual.temporalKernel * cv, cv], rng, spec.visual.temporalKernel * cv);
      this.addConst('visual/temporal/b', [cv], 0, true, false);
    }
    for (const tower of ['audio', 'visual'] as const) {
      const stages = tower === 'audio' ? spec.audio.stages : spec.visual.stages;
      const c = stages[stages.length - 1].channels;
      this.addWeight(`${tower}/head/w1`, [c, spec.head.hidden], rng, c);
      this.addBn(`${tower}/head/bn`, spec.head.hidden);
      this.addWeight(`${tower}/head/w2`, [spec.head.hidden, spec.head.dim], rng, spec.head.hidden);
      this.addConst(`${tower}/head/b2`, [spec.head.dim], 0, true, false);
    }
    if (this.learnTemperature) {
      this.addConst('logit_scale', [], Math.log(1 / this.initialTemperature), true, false);
    }
  }

  private buildTower(tower: string, inChannels: number, stages: StageConfig[], rng: Rng): void {
    const { arch, kernel, mlpRatio } = this.spec;
    let cin = inChannels;
    stages.forEach((st, i) => {
      const p = `${tower}/s${i}`;
      if (arch === 'patch') {
        const fanIn = st.stride * st.stride * cin;
        this.addWeight(`${p}/down/w`, [fanIn, st.channels], rng, fanIn);
        this.addBn(`${p}/down/bn`, st.channels);
        const hidden = Math.max(1, Math.round(st.channels * mlpRatio));
        for (let b = 0; b < st.blocks; b++) {
          this.addWeight(`${p}/b${b}/w1`, [st.channels, hidden], rng, st.channels);
          this.addConst(`${p}/b${b}/b1`, [hidden], 0, true, false);
          // Residual branch starts small so the block begins near the identity.
          this.addWeight(`${p}/b${b}/w2`, [hidden, st.channels], rng, hidden, 0.25);
          this.addConst(`${p}/b${b}/b2`, [st.channels], 0, true, false);
        }
      } else {
        this.addWeight(`${p}/down/w`, [kernel, kernel, cin, st.channels], rng, kernel * kernel * cin);
        this.addBn(`${p}/down/bn`, st.channels);
        for (let b = 0; b < st.blocks; b++) {
          this.addWeight(`${p}/b${b}/w`, [kernel, kernel, st.channels, st.channels], rng, kernel * kernel * st.channels);
          this.addBn(`${p}/b${b}/bn`, st.channels, 0.25);
        }
      }
      cin = st.channels;
    });
  }

  private addWeight(name: string, shape: number[], rng: Rng, fanIn: number, gain = 1): void {
    const n = shape.reduce((a, b) => a * b, 1);
    const std = gain * Math.sqrt(2 / fanIn);
    const data = new Float32Array(n);
    for (let i = 0; i < n; i++) data[i] = rng.normal(0, std);
    this.register(name, tf.tensor(data, shape), true, true);
  }

  private addConst(name: string, shape: number[], value: number, trainable: boolean, decay: boolean): void {
    this.register(name, tf.fill(shape, value), trainable, decay);
  }

  private addBn(name: string, c: number, gammaInit = 1): void {
    this.addConst(`${name}/gamma`, [c], gammaInit, true, false);
    this.addConst(`${name}/beta`, [c], 0, true, false);
    this.addConst(`${name}/mean`, [c], 0, false, false);
    this.addConst(`${name}/var`, [c], 1, false, false);
  }

  private register(name: string, init: tf.Tensor, trainable: boolean, decay: boolean): void {
    const variable = tf.variable(init, trainable, this.prefix + name);
    init.dispose();
    this.params.set(name, { variable, trainable, decay });
  }

  /** A parameter by its checkpoint name. */
  p(name: string): tf.Variable {
    const info = this.params.get(name);
    if (!info) throw new Error(`model has no parameter ${name}`);
    return info.variable;
  }

  /** Names of all parameters (trainable and running statistics), in a fixed order. */
  names(): string[] {
    return [...this.params.keys()];
  }

  trainableNames(): string[] {
    return [...this.params.entries()].filter(([, i]) => i.trainable).map(([n]) => n);
  }

  decays(name: string): boolean {
    return this.params.get(name)?.decay ?? false;
  }

  /** The variable name tfjs knows (prefix + name), for mapping variableGrads output. */
  variableName(name: string): string {
    return this.prefix + name;
  }

  trainableVariables(): tf.Variable[] {
    return this.trainableNames().map((n) => this.p(n));
  }

  parameterCount(trainableOnly = true): number {
    let n = 0;
    for (const info of this.params.values()) if (!trainableOnly || info.trainable) n += info.variable.size;
    return n;
  }

  /** 1 / temperature as a scalar tensor (learnt or fixed). */
  logitScale(): tf.Scalar {
    if (!this.learnTemperature) return tf.scalar(1 / this.initialTemperature);
    return tf.exp(tf.minimum(this.p('logit_scale'), Math.log(100))) as tf.Scalar;
  }

  temperature(): number {
    if (!this.learnTemperature) return this.initialTemperature;
    const v = this.p('logit_scale').dataSync()[0];
    return 1 / Math.exp(Math.min(v, Math.log(100)));
  }

  /** Copy values in (from a checkpoint): every parameter must be present with its shape. */
  assign(values: Record<string, tf.Tensor>): void {
    for (const [name, info] of this.params) {
      const v = values[name];
      if (!v) throw new Error(`checkpoint lacks parameter ${name}`);
      if (v.shape.join('x') !== info.variable.shape.join('x')) {
        throw new Error(`checkpoint parameter ${name} has shape [${v.shape}], the model expects [${info.variable.shape}]`);
      }
      info.variable.assign(v);
    }
  }

  dispose(): void {
    for (const info of this.params.values()) info.variable.dispose();
    this.params.clear();
  }

  // -------------------------------------------------------------------------------------------
  // forward

  private bn(x: tf.Tensor, name: string, training: boolean, updates: BnUpdate[] | null): tf.Tensor {
    const c = x.shape[x.shape.length - 1];
    const x2 = x.reshape([-1, c]);
    const gamma = this.p(`${name}/gamma`);
    const beta = this.p(`${name}/beta`);
    let scale: tf.Tensor;
    let shift: tf.Tensor;
    if (training) {
      const m = x2.shape[0];
      const mean = tf.mean(x2, 0);
      const meanSq = tf.mean(tf.square(x2), 0);
      const variance = tf.relu(tf.sub(meanSq, tf.square(mean)));
      scale = tf.mul(gamma, tf.rsqrt(tf.add(variance, this.spec.bnEpsilon)));
      shift = tf.sub(beta, tf.mul(mean, scale));
      if (updates) {
        updates.push({
          name,
          mean: tf.keep(mean.clone() as tf.Tensor1D),
          variance: tf.keep(tf.mul(variance, m / Math.max(1, m - 1)) as tf.Tensor1D),
        });
      }
    } else {
      scale = tf.mul(gamma, tf.rsqrt(tf.add(this.p(`${name}/var`), this.spec.bnEpsilon)));
      shift = tf.sub(beta, tf.mul(this.p(`${name}/mean`), scale));
    }
    return tf.add(tf.mul(x2, scale), shift).reshape(x.shape);
  }

  /** Non-overlapping s x s patches: [N,H,W,C] → [N, H/s, W/s, s·s·C] (remainder cropped). */
  private patchify(x: tf.Tensor4D, s: number): tf.Tensor4D {
    if (s === 1) return x;
    const [n, h0, w0, c] = x.shape;
    const h = Math.floor(h0 / s) * s;
    const w = Math.floor(w0 / s) * s;
    if (h === 0 || w === 0) throw new Error(`input ${h0}x${w0} is smaller than a ${s}x${s} patch`);
    const xc = h !== h0 || w !== w0 ? tf.slice(x, [0, 0, 0, 0], [n, h, w, c]) : x;
    const r = xc.reshape([n * (h / s), s, w / s, s * c]);
    return tf.transpose(r, [0, 2, 1, 3]).reshape([n, h / s, w / s, s * s * c]);
  }

  /** `taps`, when given, receives each stage's output pooled over positions [N, C] (encoder layers as features). */
  private tower(x: tf.Tensor4D, tower: 'audio' | 'visual', training: boolean, updates: BnUpdate[] | null, taps?: tf.Tensor2D[]): tf.Tensor2D {
    const stages = tower === 'audio' ? this.spec.audio.stages : this.spec.visual.stages;
    const { arch } = this.spec;
    let h: tf.Tensor4D = x;
    stages.forEach((st, i) => {
      const p = `${tower}/s${i}`;
      if (arch === 'patch') {
        const patches = this.patchify(h, st.stride);
        const [n, ph, pw, k] = patches.shape;
        let y: tf.Tensor = tf.matMul(patches.reshape([n * ph * pw, k]), this.p(`${p}/down/w`));
        y = tf.relu(this.bn(y, `${p}/down/bn`, training, updates));
        for (let b = 0; b < st.blocks; b++) {
          const hid = tf.fused.matMul({ a: y as tf.Tensor2D, b: this.p(`${p}/b${b}/w1`) as tf.Tensor2D, bias: this.p(`${p}/b${b}/b1`), activation: 'relu' });
          const out = tf.fused.matMul({ a: hid, b: this.p(`${p}/b${b}/w2`) as tf.Tensor2D, bias: this.p(`${p}/b${b}/b2`) });
          y = tf.add(y, out);
        }
        h = y.reshape([n, ph, pw, st.channels]);
      } else {
        let y: tf.Tensor4D = tf.conv2d(h, this.p(`${p}/down/w`) as tf.Tensor4D, st.stride, 'same');
        y = tf.relu(this.bn(y, `${p}/down/bn`, training, updates)) as tf.Tensor4D;
        for (let b = 0; b < st.blocks; b++) {
          const c = tf.conv2d(y, this.p(`${p}/b${b}/w`) as tf.Tensor4D, 1, 'same');
          y = tf.add(y, tf.relu(this.bn(c, `${p}/b${b}/bn`, training, updates))) as tf.Tensor4D;
        }
        h = y;
      }
      if (taps && i < stages.length - 1) taps.push(tf.mean(h, [1, 2]) as tf.Tensor2D);
    });
    const pooled = tf.mean(h, [1, 2]) as tf.Tensor2D;
    taps?.push(pooled);
    return pooled;
  }

  private head(features: tf.Tensor2D, tower: 'audio' | 'visual', training: boolean, updates: BnUpdate[] | null): tf.Tensor2D {
    const p = `${tower}/head`;
    const h1 = tf.matMul(features, this.p(`${p}/w1`));
    const h2 = tf.relu(this.bn(h1, `${p}/bn`, training, updates)) as tf.Tensor2D;
    return tf.fused.matMul({ a: h2, b: this.p(`${p}/w2`) as tf.Tensor2D, bias: this.p(`${p}/b2`) }) as tf.Tensor2D;
  }

  /** Audio features from log-mel [B, frames, mels]. */
  audioTower(audio: tf.Tensor3D, training: boolean, updates: BnUpdate[] | null): TowerOutput {
    const [b, t, m] = audio.shape;
    const features = this.tower(audio.reshape([b, t, m, 1]), 'audio', training, updates);
    return { features, projection: this.head(features, 'audio', training, updates) };
  }

  /** Visual features from frames [B, T, H, W, 3]. */
  visualTower(frames: tf.Tensor5D, training: boolean, updates: BnUpdate[] | null): TowerOutput {
    const [b, t, h, w, c] = frames.shape;
    const perFrame = this.tower(frames.reshape([b * t, h, w, c]), 'visual', training, updates); // [B·T, C]
    const features = this.overTime(perFrame, b, t);
    return { features, projection: this.head(features, 'visual', training, updates) };
  }

  /** Per-frame visual features [B·T, C] → clip features [B, C]: the temporal layer (kernel > 1), then the mean over time. */
  private overTime(perFrame: tf.Tensor2D, b: number, t: number): tf.Tensor2D {
    const cv = perFrame.shape[1];
    const k = this.spec.visual.temporalKernel;
    if (k > 1) {
      const groups = Math.floor(t / k);
      const grouped = perFrame.reshape([b * groups, k * cv]) as tf.Tensor2D;
      const tmp = tf.fused.matMul({ a: grouped, b: this.p('visual/temporal/w') as tf.Tensor2D, bias: this.p('visual/temporal/b'), activation: 'relu' });
      return tf.mean(tmp.reshape([b, groups, cv]), 1) as tf.Tensor2D;
    }
    return tf.mean(perFrame.reshape([b, t, cv]), 1) as tf.Tensor2D;
  }

  /**
   * Inference-mode layers of one tower for a batch (audio [B, frames, mels] or frames
   * [B, T, H, W, 3]): each stage's output pooled over positions (and, for the visual tower, over
   * frames), the pooled encoder output `features`, and the projection head output.
   */
  towerLayers(input: tf.Tensor3D | tf.Tensor5D, tower: 'audio' | 'visual'): { stages: tf.Tensor2D[]; features: tf.Tensor2D; projection: tf.Tensor2D } {
    const taps: tf.Tensor2D[] = [];
    let features: tf.Tensor2D;
    if (tower === 'audio') {
      const [b, t, m] = input.shape;
      features = this.tower(input.reshape([b, t, m, 1]), 'audio', false, null, taps);
    } else {
      const [b, t, h, w, c] = input.shape as [number, number, number, number, number];
      const perFrame = this.tower(input.reshape([b * t, h, w, c]), 'visual', false, null, taps);
      // Stage outputs per frame [B·T, C] → mean over the frames [B, C]; the last stage goes through the temporal layer as in visualTower.
      for (let i = 0; i < taps.length; i++) taps[i] = tf.mean(taps[i].reshape([b, t, taps[i].shape[1]]), 1) as tf.Tensor2D;
      features = this.overTime(perFrame, b, t);
    }
    return { stages: taps.slice(0, -1), features, projection: this.head(features, tower, false, null) };
  }

  forward(audio: tf.Tensor3D, frames: tf.Tensor5D, training: boolean, updates: BnUpdate[] | null = null): ForwardOutput {
    return { audio: this.audioTower(audio, training, updates), visual: this.visualTower(frames, training, updates) };
  }

  /** Blend BatchNorm running statistics towards this step's batch statistics, then free them. */
  applyBnUpdates(updates: BnUpdate[]): void {
    const m = this.spec.bnMomentum;
    tf.tidy(() => {
      for (const u of updates) {
        const rm = this.p(`${u.name}/mean`);
        const rv = this.p(`${u.name}/var`);
        rm.assign(tf.add(tf.mul(rm, m), tf.mul(u.mean, 1 - m)));
        rv.assign(tf.add(tf.mul(rv, m), tf.mul(u.variance, 1 - m)));
      }
    });
    for (const u of updates) {
      u.mean.dispose();
      u.variance.dispose();
    }
  }

  /** Forward FLOPs per sample (multiply-adds x 2) of the matrix products and convolutions. */
  flopsPerSample(): { audio: number; visual: number; total: number } {
    const s = this.spec;
    const towerFlops = (h0: number, w0: number, cin0: number, stages: StageConfig[]): { flops: number; c: number } => {
      let h = h0;
      let w = w0;
      let cin = cin0;
      let flops = 0;
      for (const st of stages) {
        h = downsample(h, st.stride, s.arch);
        w = downsample(w, st.stride, s.arch);
        const pos = h * w;
        if (s.arch === 'patch') {
          const hidden = Math.max(1, Math.round(st.channels * s.mlpRatio));
          flops += 2 * pos * st.stride * st.stride * cin * st.channels;
          flops += st.blocks * 2 * pos * 2 * st.channels * hidden;
        } else {
          flops += 2 * pos * s.kernel * s.kernel * cin * st.channels;
          flops += st.blocks * 2 * pos * s.kernel * s.kernel * st.channels * st.channels;
        }
        cin = st.channels;
      }
      return { flops, c: cin };
    };
    const headFlops = (c: number) => 2 * c * s.head.hidden + 2 * s.head.hidden * s.head.dim;
    const a = towerFlops(s.audio.frames, s.audio.mels, 1, s.audio.stages);
    const v = towerFlops(s.visual.height, s.visual.width, 3, s.visual.stages);
    let visual = v.flops * s.visual.frames + headFlops(v.c);
    if (s.visual.temporalKernel > 1) {
      visual += 2 * Math.floor(s.visual.frames / s.visual.temporalKernel) * s.visual.temporalKernel * v.c * v.c;
    }
    const audio = a.flops + headFlops(a.c);
    return { audio, visual, total: audio + visual };
  }
}

/** Refuse shapes the towers cannot process, naming the config key. */
export function validateSpec(spec: SslModelConfig): void {
  const check = (label: string, h0: number, w0: number, stages: StageConfig[]) => {
    let h = h0;
    let w = w0;
    stages.forEach((st, i) => {
      h = downsample(h, st.stride, spec.arch);
      w = downsample(w, st.stride, spec.arch);
      if (h < 1 || w < 1) {
        throw new Error(`ssl.model.${label}.stages[${i}]: stride ${st.stride} leaves no positions (input ${h0}x${w0})`);
      }
    });
  };
  check('audio', spec.audio.frames, spec.audio.mels, spec.audio.stages);
  check('visual', spec.visual.height, spec.visual.width, spec.visual.stages);
  if (spec.visual.frames % spec.visual.temporalKernel !== 0) {
    throw new Error(`ssl.model.visual.temporalKernel ${spec.visual.temporalKernel} must divide visual.frames ${spec.visual.frames}`);
  }
}
