/**
 * ONNX extractor: a user's model (VGGish, SlowFast, CLIP... exported to ONNX) run with
 * onnxruntime-node, keeping several of its outputs as layers. Each output is reduced to one vector
 * per input item (mean over every axis except the batch and the channel axis), then the items of
 * a clip (frames, log-mel examples) are pooled (mean by default).
 *
 * Inputs the extractor can build from a decoded clip:
 * - visual, layout NCHW / NHWC: `frames` frames sampled evenly, each an item [3,S,S] / [S,S,3];
 * - visual, layout NCTHW / NTHWC: one item per clip, [3,T,S,S] / [T,S,S,3] (video models);
 * - audio, `audioInput: logmel`: VGGish log-mel examples of 96 x 64, shaped [1,96,64] (NCHW),
 *   [96,64] (NHW) or [96,64,1] (NHWC) per item;
 * - audio, `audioInput: waveform`: the clip's samples at the decode rate, one item [samples].
 */
import { createHash } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import type { DecodedClip } from '../../media/types.js';
import { logMelExamples, logMelSpectrogram, VGGISH_LOGMEL } from '../../media/logmel.js';
import { resample } from '../../media/fft.js';
import type { Extractor, LayerSpec, Pooling } from './extractor.js';
import { poolRows } from './extractor.js';
import { prepareFrames, normalisePreset, type Layout, type NormalisePresetName } from './preprocess.js';
import type { FeatureModality } from './store.js';

type Ort = typeof import('onnxruntime-node');
let ortPromise: Promise<Ort> | null = null;

/** Load onnxruntime-node once (a clear error when it cannot load). */
export async function loadOnnxRuntime(): Promise<Ort> {
  if (!ortPromise) {
    ortPromise = import('onnxruntime-node').then(
      (m) => ((m as unknown as { default?: Ort }).default?.InferenceSession ? (m as unknown as { default: Ort }).default : m),
      (err) => {
        ortPromise = null;
        throw new Error(`onnxruntime-node could not be loaded (${(err as Error).message}); install it with "npm install onnxruntime-node"`);
      },
    );
  }
  return ortPromise;
}

export interface OnnxOutputSpec {
  /** Output name in the graph. */
  output: string;
  /** Layer (dataset) name; default: the output name with other characters replaced by "_". */
  layer?: string;
  /** Pooling over the items of a clip (frames, examples). Default mean. */
  pool?: Pooling;
  /** Channel axis of the output (negative counts from the end). Default: 1 for channels-first inputs, -1 otherwise. */
  channelAxis?: number;
}

export interface OnnxExtractorOptions {
  /** Extractor name (stored in the shard attributes). */
  name: string;
  modality: FeatureModality;
  /** Path of the .onnx file. */
  model: string;
  /** Input name; default the model's first input. */
  input?: string;
  outputs: OnnxOutputSpec[];
  // visual
  layout?: Layout;
  frames?: number;
  crop?: number;
  short?: number;
  preset?: NormalisePresetName;
  // audio
  audioInput?: 'logmel' | 'waveform';
  logmelLayout?: 'NCHW' | 'NHW' | 'NHWC';
  /** Waveform sample rate the model expects (default 16000). */
  sampleRate?: number;
  /** Scale applied to waveform samples (e.g. 32768 for int16-scaled models). Default 1. */
  waveformScale?: number;
  /** Most items in one session.run (default 32). */
  maxBatchItems?: number;
  /** onnxruntime intra-op threads (default: onnxruntime's choice). */
  threads?: number;
}

/** A prepared clip: its items, each `itemSize` floats of shape `itemShape`. */
export interface OnnxPrepared {
  items: Float32Array;
  count: number;
  itemShape: number[];
}

export function sanitiseLayerName(name: string): string {
  return name.replace(/[^A-Za-z0-9._-]/g, '_');
}

async function fileDigest(file: string): Promise<string> {
  let buf: Buffer;
  try {
    buf = await fsp.readFile(file);
  } catch (err) {
    throw new Error(`ONNX model ${file}: cannot read the file (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
  return createHash('sha256').update(buf).digest('hex').slice(0, 16);
}

/** Reduce one output tensor [N, ...] to [N, C]: mean over all axes except 0 and the channel axis. */
export function reduceToChannels(data: ArrayLike<number>, dims: readonly number[], channelAxis: number): { values: Float32Array; channels: number } {
  const N = dims[0];
  if (dims.length === 1) return { values: Float32Array.from(data as ArrayLike<number>), channels: 1 };
  const rank = dims.length;
  const ca = channelAxis < 0 ? rank + channelAxis : channelAxis;
  if (ca < 1 || ca >= rank) throw new Error(`channel axis ${channelAxis} is out of range for an output of shape [${dims.join(', ')}]`);
  const C = dims[ca];
  const inner = dims.slice(ca + 1).reduce((a, b) => a * b, 1);
  const outer = dims.slice(1, ca).reduce((a, b) => a * b, 1);
  const per = dims.slice(1).reduce((a, b) => a * b, 1);
  const values = new Float32Array(N * C);
  const count = outer * inner;
  for (let n = 0; n < N; n++) {
    for (let o = 0; o < outer; o++) {
      for (let c = 0; c < C; c++) {
        const base = n * per + (o * C + c) * inner;
        let s = 0;
        for (let i = 0; i < inner; i++) s += data[base + i];
        values[n * C + c] += s;
      }
    }
    for (let c = 0; c < C; c++) values[n * C + c] /= count;
  }
  return { values, channels: C };
}

export class OnnxExtractor implements Extractor<OnnxPrepared> {
  readonly name: string;
  readonly version = '1';
  readonly modality: FeatureModality;
  layers: LayerSpec[] = [];
  settings: Record<string, unknown> = {};
  private readonly o: Required<Pick<OnnxExtractorOptions, 'layout' | 'frames' | 'crop' | 'preset' | 'audioInput' | 'logmelLayout' | 'sampleRate' | 'waveformScale' | 'maxBatchItems'>> & OnnxExtractorOptions;
  private session: import('onnxruntime-node').InferenceSession | null = null;
  private ort: Ort | null = null;
  private inputName = '';
  private channelAxes: number[] = [];

  private constructor(options: OnnxExtractorOptions) {
    this.name = options.name;
    this.modality = options.modality;
    this.o = {
      layout: 'NCHW',
      frames: 8,
      crop: 224,
      preset: 'imagenet',
      audioInput: 'logmel',
      logmelLayout: 'NCHW',
      sampleRate: 16000,
      waveformScale: 1,
      maxBatchItems: 32,
      ...options,
    };
    if (options.outputs.length === 0) throw new Error(`ONNX extractor ${options.name}: list at least one output to keep`);
    normalisePreset(this.o.preset);
  }

  /** Load the model, check the input and outputs, and find each output's dimension with a probe run. */
  static async create(options: OnnxExtractorOptions): Promise<OnnxExtractor> {
    const ex = new OnnxExtractor(options);
    await ex.init();
    return ex;
  }

  private async init(): Promise<void> {
    const o = this.o;
    const digest = await fileDigest(o.model);
    const ort = await loadOnnxRuntime();
    this.ort = ort;
    try {
      this.session = await ort.InferenceSession.create(o.model, {
        graphOptimizationLevel: 'all',
        ...(o.threads ? { intraOpNumThreads: o.threads, interOpNumThreads: 1 } : {}),
      });
    } catch (err) {
      throw new Error(`ONNX model ${o.model}: onnxruntime could not load it (${(err as Error).message})`);
    }
    const s = this.session;
    this.inputName = o.input ?? s.inputNames[0];
    if (!s.inputNames.includes(this.inputName)) throw new Error(`ONNX model ${o.model}: no input "${this.inputName}" (inputs: ${s.inputNames.join(', ')})`);
    for (const out of o.outputs) {
      if (!s.outputNames.includes(out.output)) throw new Error(`ONNX model ${o.model}: no output "${out.output}" (outputs: ${s.outputNames.join(', ')})`);
    }
    const channelsFirst = this.modality === 'visual' ? o.layout === 'NCHW' || o.layout === 'NCTHW' : o.audioInput === 'logmel' && o.logmelLayout === 'NCHW';
    this.channelAxes = o.outputs.map((out) => out.channelAxis ?? (channelsFirst ? 1 : -1));
    // Probe with one item of zeros to learn every output's channel count.
    const probe = this.probeItem();
    const res = await this.runItems(probe.items, 1, probe.itemShape);
    this.layers = o.outputs.map((out, j) => {
      const pool = out.pool ?? 'mean';
      const c = res[j].channels;
      return {
        name: out.layer ?? sanitiseLayerName(out.output),
        dim: pool === 'meanstd' ? 2 * c : c,
        description: `ONNX output ${out.output} of ${o.model}, reduced over all but the channel axis, ${pool} over items`,
      };
    });
    this.settings = {
      model: digest,
      input: this.inputName,
      outputs: o.outputs.map((out, j) => ({ ...out, channelAxis: this.channelAxes[j] })),
      ...(this.modality === 'visual'
        ? { layout: o.layout, frames: o.frames, crop: o.crop, short: o.short ?? o.crop, preset: o.preset }
        : { audioInput: o.audioInput, logmelLayout: o.logmelLayout, sampleRate: o.sampleRate, waveformScale: o.waveformScale }),
    };
  }

  private probeItem(): OnnxPrepared {
    const o = this.o;
    let shape: number[];
    if (this.modality === 'visual') {
      const S = o.crop;
      shape = o.layout === 'NCHW' ? [3, S, S] : o.layout === 'NHWC' ? [S, S, 3] : o.layout === 'NCTHW' ? [3, o.frames, S, S] : [o.frames, S, S, 3];
    } else if (o.audioInput === 'logmel') {
      shape = o.logmelLayout === 'NCHW' ? [1, 96, 64] : o.logmelLayout === 'NHW' ? [96, 64] : [96, 64, 1];
    } else {
      shape = [o.sampleRate];
    }
    return { items: new Float32Array(shape.reduce((a, b) => a * b, 1)), count: 1, itemShape: shape };
  }

  prepare(clip: DecodedClip): OnnxPrepared {
    const o = this.o;
    if (this.modality === 'visual') {
      const { data, shape } = prepareFrames(clip, { frames: o.frames, crop: o.crop, short: o.short, preset: o.preset, layout: o.layout });
      return { items: data, count: shape[0], itemShape: shape.slice(1) };
    }
    if (o.audioInput === 'logmel') {
      const mel = logMelSpectrogram(clip.audio, clip.sampleRate, VGGISH_LOGMEL);
      const ex = logMelExamples(mel, 96, 96, true);
      if (ex.examples === 0) throw new Error('audio shorter than one 25 ms window: no log-mel frames');
      const shape = o.logmelLayout === 'NCHW' ? [1, 96, 64] : o.logmelLayout === 'NHW' ? [96, 64] : [96, 64, 1];
      return { items: ex.data, count: ex.examples, itemShape: shape };
    }
    let x = resample(clip.audio, clip.sampleRate, o.sampleRate);
    if (o.waveformScale !== 1) x = Float32Array.from(x, (v) => v * o.waveformScale);
    return { items: x, count: 1, itemShape: [x.length] };
  }

  /** Run `count` items; per kept output, [count, channels] values. */
  private async runItems(items: Float32Array, count: number, itemShape: number[]): Promise<Array<{ values: Float32Array; channels: number }>> {
    const ort = this.ort!;
    const s = this.session!;
    const feeds = { [this.inputName]: new ort.Tensor('float32', items, [count, ...itemShape]) };
    let res: Record<string, import('onnxruntime-node').Tensor>;
    try {
      res = await s.run(feeds, this.o.outputs.map((x) => x.output));
    } catch (err) {
      throw new Error(`ONNX model ${this.o.model}: inference failed on input [${[count, ...itemShape].join(', ')}] (${(err as Error).message})`);
    }
    return this.o.outputs.map((out, j) => {
      const t = res[out.output];
      const dims = t.dims as number[];
      if (dims[0] !== count) throw new Error(`ONNX model ${this.o.model}: output ${out.output} has batch ${dims[0]}, expected ${count} (the first axis must be the batch)`);
      return reduceToChannels(t.data as Float32Array, dims, this.channelAxes[j]);
    });
  }

  async run(batch: OnnxPrepared[]): Promise<Float32Array[][]> {
    const results: Float32Array[][] = batch.map(() => []);
    // Group clips whose items have the same shape; run them in chunks of at most maxBatchItems items.
    const groups = new Map<string, number[]>();
    batch.forEach((p, i) => {
      const key = p.itemShape.join('x');
      const g = groups.get(key);
      if (g) g.push(i);
      else groups.set(key, [i]);
    });
    const perClip: Array<Array<Float32Array[]>> = batch.map(() => this.o.outputs.map(() => []));
    for (const members of groups.values()) {
      const itemShape = batch[members[0]].itemShape;
      const itemSize = itemShape.reduce((a, b) => a * b, 1);
      // flatten (clip, item) pairs
      const pairs: Array<[number, number]> = [];
      for (const ci of members) for (let k = 0; k < batch[ci].count; k++) pairs.push([ci, k]);
      for (let start = 0; start < pairs.length; start += this.o.maxBatchItems) {
        const chunk = pairs.slice(start, start + this.o.maxBatchItems);
        const data = new Float32Array(chunk.length * itemSize);
        chunk.forEach(([ci, k], j) => data.set(batch[ci].items.subarray(k * itemSize, (k + 1) * itemSize), j * itemSize));
        const outs = await this.runItems(data, chunk.length, itemShape);
        outs.forEach((o, oi) => {
          chunk.forEach(([ci], j) => perClip[ci][oi].push(o.values.subarray(j * o.channels, (j + 1) * o.channels)));
        });
      }
    }
    batch.forEach((_, ci) => {
      results[ci] = this.o.outputs.map((out, oi) => {
        const rows = perClip[ci][oi];
        const C = rows[0]?.length ?? 0;
        const flat = new Float32Array(rows.length * C);
        rows.forEach((r, j) => flat.set(r, j * C));
        return poolRows(flat, rows.length, C, out.pool ?? 'mean');
      });
    });
    return results;
  }

  async dispose(): Promise<void> {
    await this.session?.release();
    this.session = null;
  }
}
