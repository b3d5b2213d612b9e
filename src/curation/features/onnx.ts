/**
 * ONNX extractor: a user's model (VGGish, CLIP, SlowFast, AST... exported to ONNX) run with
 * onnxruntime-node, keeping several of its outputs as layers.
 *
 * Inputs the extractor builds from a decoded clip (items; several items of a clip go through the
 * model as one batch):
 * - visual, layout NCHW / NHWC: `views` windows of `frames` frames, each frame an item [3,H,W] / [H,W,3];
 * - visual, layout NCTHW / NTHWC: one item per view, [3,T,H,W] / [T,H,W,3] (video models);
 * - audio, `audioInput: logmel`: log-mel patches (VGGish: 0.96 s = 96 frames x 64 bands), shaped
 *   [1,F,B] (NCHW), [F,B] (NHW) or [F,B,1] (NHWC) per item;
 * - audio, `audioInput: waveform`: the samples at `sampleRate`, the whole clip as one item or
 *   patches of `patchSeconds`.
 *
 * Each kept output is reduced per item as its `axes` say (channels kept, space reduced, tokens
 * reduced to cls / mean / patches / both, time kept), and the time steps of a clip (items x the
 * output's own time axis, per view) are pooled with `pool` (docs/features.md).
 *
 * At load the model is checked before any clip is decoded: the input's declared shape against the
 * configured layout and sizes (a fixed batch axis is refused at once), then one run on a batch of
 * two dummy items, whose output shapes must fit the pooling. Every refusal names the config key.
 */
import { createHash } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import type { InferenceSession, Tensor } from 'onnxruntime-node';
import type { DecodedClip } from '../../media/types.js';
import { logMelExamples, logMelSpectrogram, VGGISH_LOGMEL } from '../../media/logmel.js';
import { resample } from '../../media/fft.js';
import { createOnnxSession, loadOnnxRuntime, readOnnxInputs, type OnnxDevice, type Ort } from '../../runtime/onnx.js';
import type { Extractor, LayerSpec, Pooling } from './extractor.js';
import { poolRows } from './extractor.js';
import { prepareFrames, resolvePreprocess, type FramePreprocess, type Layout, type PreprocessPresetName } from './preprocess.js';
import type { FeatureModality } from './store.js';
import { ONNX_EXTRACTOR_DEFAULTS, ONNX_OUTPUT_DEFAULTS } from '../../config/defaults.js';
import { EXTRACTOR_VERSIONS } from './versions.js';

export { loadOnnxRuntime };

export type TokenPooling = 'cls' | 'mean' | 'patches' | 'both';

export interface OnnxOutputSpec {
  /** Output name in the graph. */
  output: string;
  /** Layer (dataset) name; default: the output name with other characters replaced by "_". */
  layer?: string;
  /** Pooling over the time steps of a clip (items, the output's T axis, views). Default mean. */
  pool?: Pooling;
  /** Legacy: channel axis, every other axis but the batch averaged as space. */
  channelAxis?: number;
  /** One letter per axis: N batch (first), C channels, T time, L tokens, H W F S space/frequency. */
  axes?: string;
  tokens?: TokenPooling;
  /** Tokens before the patch tokens (default 1). */
  prefixTokens?: number;
  spatial?: 'mean' | 'max';
}

export type PerProvider<T> = T | { cpu?: T; cuda?: T };

export interface OnnxExtractorOptions {
  /** Extractor name (stored in the shard attributes). */
  name: string;
  modality: FeatureModality;
  /** Path of the .onnx file. */
  model: string;
  /** Input name; default the model's first input. */
  input?: string;
  outputs: OnnxOutputSpec[];
  /** Where this extractor sits in the config, for messages (e.g. "features.visual[1]"). */
  configKey?: string;
  device?: OnnxDevice;
  /** Most items in one session.run (default: the schema's maxBatchItems), optionally per provider. */
  maxBatchItems?: PerProvider<number>;
  /** onnxruntime intra-op threads (default: onnxruntime's choice), optionally per provider. */
  threads?: PerProvider<number>;
  // visual
  layout?: Layout;
  frames?: number;
  frameStride?: number;
  views?: number;
  viewPool?: 'mean' | 'concat';
  preset?: PreprocessPresetName;
  mean?: [number, number, number];
  std?: [number, number, number];
  scale?: number;
  interpolation?: FramePreprocess['interpolation'];
  resize?: FramePreprocess['resize'];
  short?: number;
  size?: [number, number];
  /** Square centre crop; 0 = none. */
  crop?: number;
  channels?: FramePreprocess['channels'];
  // audio
  audioInput?: 'logmel' | 'waveform';
  logmelLayout?: 'NCHW' | 'NHW' | 'NHWC';
  melBands?: number;
  /** Mel filter range in Hz (default VGGish's [125, 7500]). */
  melRange?: [number, number];
  melMean?: number;
  melStd?: number;
  patchSeconds?: number;
  hopSeconds?: number;
  /** Waveform sample rate the model expects (default: the schema's sampleRate). */
  sampleRate?: number;
  /** Scale applied to waveform samples (e.g. 32768 for int16-scaled models); default: the schema's waveformScale. */
  waveformScale?: number;
}

/** A prepared clip: `count` items of shape `itemShape`, in `views` equal groups. */
export interface OnnxPrepared {
  items: Float32Array;
  count: number;
  itemShape: number[];
  views: number;
}

export function sanitiseLayerName(name: string): string {
  return name.replace(/[^A-Za-z0-9._-]/g, '_');
}

async function readModelFile(file: string): Promise<Buffer> {
  try {
    return await fsp.readFile(file);
  } catch (err) {
    throw new Error(`ONNX model ${file}: cannot read the file (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
}

function pick<T>(v: PerProvider<T> | undefined, provider: 'cpu' | 'cuda'): T | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v === 'object') return (v as { cpu?: T; cuda?: T })[provider];
  return v;
}

const SPATIAL = new Set(['H', 'W', 'F', 'S']);

export interface OutputReduction {
  axes: string;
  tokens: TokenPooling;
  prefixTokens: number;
  spatial: 'mean' | 'max';
}

/**
 * Reduce one output tensor [N, ...] as its axes say: per item, rows = the T axis (1 when absent),
 * each row the C channels (1 when absent), space reduced by mean or max, tokens reduced to
 * cls / mean / patches / both (both doubles the width). Returns per item rows x width values.
 */
export function reduceOutput(data: ArrayLike<number>, dims: readonly number[], r: OutputReduction): { items: Float32Array[]; rows: number; width: number } {
  const rank = dims.length;
  if (r.axes.length !== rank) throw new Error(`axes "${r.axes}" name ${r.axes.length} axes, the output has ${rank}: [${dims.join(', ')}]`);
  const N = dims[0];
  const at = (ch: string) => r.axes.indexOf(ch);
  const C = at('C') >= 0 ? dims[at('C')] : 1;
  const L = at('L') >= 0 ? dims[at('L')] : 1;
  const T = at('T') >= 0 ? dims[at('T')] : 1;
  let spatialCount = 1;
  const ks = new Array<number>(rank).fill(0);
  for (let a = 1; a < rank; a++) {
    const ch = r.axes[a];
    if (ch === 'C') ks[a] = 1;
    else if (ch === 'L') ks[a] = C;
    else if (ch === 'T') ks[a] = L * C;
    else spatialCount *= dims[a];
  }
  const per = dims.slice(1).reduce((a, b) => a * b, 1);
  const useMax = r.spatial === 'max';
  const hasL = at('L') >= 0;
  const width = hasL && r.tokens === 'both' ? 2 * C : C;
  if (hasL && (r.tokens === 'patches' || r.tokens === 'both') && L <= r.prefixTokens) {
    throw new Error(`tokens: ${r.tokens} needs more than prefixTokens (${r.prefixTokens}) tokens, the output has ${L}`);
  }
  const items: Float32Array[] = [];
  const acc = new Float64Array(T * L * C);
  const coords = new Array<number>(rank).fill(0);
  for (let n = 0; n < N; n++) {
    acc.fill(useMax ? -Infinity : 0);
    coords.fill(0);
    let key = 0;
    const base = n * per;
    // The last axis in a tight loop, the others with an odometer.
    const last = rank - 1;
    const inner = rank > 1 ? dims[last] : 1;
    const kl = rank > 1 ? ks[last] : 0;
    for (let j = 0; j < per; j += inner) {
      const off = base + j;
      if (useMax) {
        for (let i = 0; i < inner; i++) {
          const v = data[off + i];
          if (v > acc[key + i * kl]) acc[key + i * kl] = v;
        }
      } else if (kl === 0) {
        let s = 0;
        for (let i = 0; i < inner; i++) s += data[off + i];
        acc[key] += s;
      } else {
        for (let i = 0; i < inner; i++) acc[key + i * kl] += data[off + i];
      }
      for (let a = last - 1; a >= 1; a--) {
        coords[a]++;
        key += ks[a];
        if (coords[a] < dims[a]) break;
        key -= ks[a] * dims[a];
        coords[a] = 0;
      }
    }
    if (!useMax && spatialCount > 1) for (let i = 0; i < acc.length; i++) acc[i] /= spatialCount;
    const out = new Float32Array(T * width);
    for (let t = 0; t < T; t++) {
      const row = t * L * C;
      if (!hasL) {
        for (let c = 0; c < C; c++) out[t * width + c] = acc[row + c];
        continue;
      }
      const meanFrom = (from: number, off: number) => {
        for (let c = 0; c < C; c++) {
          let s = 0;
          for (let l = from; l < L; l++) s += acc[row + l * C + c];
          out[t * width + off + c] = s / (L - from);
        }
      };
      if (r.tokens === 'cls' || r.tokens === 'both') for (let c = 0; c < C; c++) out[t * width + c] = acc[row + c];
      if (r.tokens === 'mean') meanFrom(0, 0);
      else if (r.tokens === 'patches') meanFrom(r.prefixTokens, 0);
      else if (r.tokens === 'both') meanFrom(r.prefixTokens, C);
    }
    items.push(out);
  }
  return { items, rows: T, width };
}

/** Legacy helper: [N, ...] to [N, C], mean over all axes but the batch and the channel axis. */
export function reduceToChannels(data: ArrayLike<number>, dims: readonly number[], channelAxis: number): { values: Float32Array; channels: number } {
  const rank = dims.length;
  if (rank === 1) return { values: Float32Array.from(data as ArrayLike<number>), channels: 1 };
  const ca = channelAxis < 0 ? rank + channelAxis : channelAxis;
  if (ca < 1 || ca >= rank) throw new Error(`channel axis ${channelAxis} is out of range for an output of shape [${dims.join(', ')}]`);
  const axes = Array.from({ length: rank }, (_, a) => (a === 0 ? 'N' : a === ca ? 'C' : 'S')).join('');
  const r = reduceOutput(data, dims, { axes, tokens: 'mean', prefixTokens: 0, spatial: 'mean' });
  const values = new Float32Array(dims[0] * r.width);
  r.items.forEach((it, n) => values.set(it, n * r.width));
  return { values, channels: r.width };
}

interface ResolvedOutput {
  spec: OnnxOutputSpec;
  reduction: OutputReduction;
  pool: Pooling;
  /** Width of one pooled row (channels, or 2 x channels for tokens: both). */
  width: number;
  /** Rows the output gives per item (its T axis). */
  rowsPerItem: number;
  probeDims: number[];
}

type ORequired = Required<Pick<OnnxExtractorOptions, 'layout' | 'frames' | 'views' | 'viewPool' | 'audioInput' | 'logmelLayout' | 'melBands' | 'sampleRate' | 'waveformScale' | 'device' | 'configKey'>>;

export class OnnxExtractor implements Extractor<OnnxPrepared> {
  readonly name: string;
  readonly version = EXTRACTOR_VERSIONS.onnx;
  readonly modality: FeatureModality;
  layers: LayerSpec[] = [];
  settings: Record<string, unknown> = {};
  /** Where the model runs, and with how many items per run. */
  info = '';
  /** The execution provider the session runs on. */
  provider: 'cpu' | 'cuda' = 'cpu';
  private readonly o: ORequired & OnnxExtractorOptions;
  private readonly pre: FramePreprocess | null;
  private session: InferenceSession | null = null;
  private ort: Ort | null = null;
  private inputName = '';
  private outs: ResolvedOutput[] = [];
  /** Items per session.run: maxBatchItems for the provider init() chose. */
  private maxItems!: number;
  private notes: string[] = [];

  private constructor(options: OnnxExtractorOptions) {
    this.name = options.name;
    this.modality = options.modality;
    const d = ONNX_EXTRACTOR_DEFAULTS;
    this.o = {
      layout: d.layout,
      frames: d.frames,
      views: d.views,
      viewPool: d.viewPool,
      audioInput: d.audioInput,
      logmelLayout: d.logmelLayout,
      melBands: d.melBands,
      sampleRate: d.sampleRate,
      waveformScale: d.waveformScale,
      // Not the config's `auto`: a library caller that names no device never probes CUDA.
      device: 'cpu',
      configKey: `features.${options.modality}[?]`,
      ...stripUndefined(options),
    } as ORequired & OnnxExtractorOptions;
    if (options.outputs.length === 0) throw new Error(`${this.o.configKey}: list at least one output to keep`);
    if (options.melRange && !(options.melRange[0] < options.melRange[1] && options.melRange[1] <= VGGISH_LOGMEL.sampleRate / 2)) {
      throw new Error(`${this.o.configKey}.melRange [${options.melRange.join(', ')}] must rise and end at or below half the log-mel rate (8000 Hz)`);
    }
    this.pre = this.modality === 'visual' ? onnxFramePreprocess(options) : null;
  }

  /** Load the model, check its input against the config, probe it with two dummy items, learn each layer's dimension. */
  static async create(options: OnnxExtractorOptions): Promise<OnnxExtractor> {
    const ex = new OnnxExtractor(options);
    try {
      await ex.init();
    } catch (err) {
      await ex.dispose();
      throw err;
    }
    return ex;
  }

  /** Notes from loading (a CPU fallback under device: auto). */
  get loadNotes(): readonly string[] {
    return this.notes;
  }

  /** The preprocessing of a visual extractor (null for audio). */
  get preprocess(): FramePreprocess | null {
    return this.pre;
  }

  private get key(): string {
    return this.o.configKey;
  }

  private async init(): Promise<void> {
    const o = this.o;
    const bytes = await readModelFile(o.model);
    // The declared input straight from the file: a fixed batch axis is refused before onnxruntime
    // spends seconds loading the weights of a large model.
    const declared = readOnnxInputs(bytes);
    const early = declared && (o.input ? declared.find((i) => i.name === o.input) : declared[0]);
    if (early && typeof early.dims[0] === 'number') {
      const allowsOne = [pick(o.maxBatchItems, 'cpu'), pick(o.maxBatchItems, 'cuda')].includes(1);
      if (!(early.dims[0] === 1 && allowsOne)) throw this.fixedBatchError(early.name, early.dims);
    }
    const digest = createHash('sha256').update(bytes).digest('hex').slice(0, 16);
    this.ort = await loadOnnxRuntime();
    const created = await createOnnxSession(bytes, {
      device: o.device,
      threads: o.threads,
      label: `ONNX model ${o.model}`,
      onNote: (m) => this.notes.push(m),
    });
    this.session = created.session;
    this.provider = created.provider;
    this.maxItems = pick(o.maxBatchItems, this.provider) ?? pick(ONNX_EXTRACTOR_DEFAULTS.maxBatchItems, this.provider)!;
    const s = this.session;
    this.inputName = o.input ?? s.inputNames[0];
    if (!s.inputNames.includes(this.inputName)) throw new Error(`ONNX model ${o.model}: no input "${this.inputName}" (inputs: ${s.inputNames.join(', ')}); set ${this.key}.input`);
    for (const out of o.outputs) {
      if (!s.outputNames.includes(out.output)) throw new Error(`ONNX model ${o.model}: no output "${out.output}" (outputs: ${s.outputNames.join(', ')}); fix ${this.key}.outputs`);
    }
    const itemShape = this.probeItemShape();
    const batch = this.checkInputShape(itemShape);
    // One run on a batch of dummy items (2 unless the model is fixed to one item per run).
    const items = new Float32Array(batch * itemShape.reduce((a, b) => a * b, 1));
    for (let i = 0; i < items.length; i++) items[i] = ((i * 7919) % 97) / 97 - 0.5;
    const fed = [batch, ...itemShape];
    let res: Record<string, Tensor>;
    try {
      res = await s.run({ [this.inputName]: new this.ort.Tensor('float32', items, fed) }, o.outputs.map((x) => x.output));
    } catch (err) {
      throw new Error(
        `ONNX model ${o.model}: a test run on ${batch} dummy input(s) [${fed.join(', ')}] failed (${(err as Error).message.split('\n')[0]}). ` +
          `The model declares input "${this.inputName}" [${this.declaredInput().join(', ')}]; ${this.shapeHint()}. ` +
          'If the batch is fixed inside the graph (e.g. x.view(1, -1)), export with x.flatten(1) and dynamic_axes (docs/models.md)',
      );
    }
    this.outs = o.outputs.map((out, j) => this.resolveOutput(out, j, res[out.output].dims as number[], batch));
    this.layers = this.outs.map((r) => {
      const viewsOut = o.viewPool === 'concat' && this.modality === 'visual' ? o.views : 1;
      const dim = (r.pool === 'meanstd' ? 2 : 1) * r.width * viewsOut;
      return { name: r.spec.layer ?? sanitiseLayerName(r.spec.output), dim, description: this.describe(r) };
    });
    this.info = `onnxruntime ${this.provider}${this.notes.length ? ' (CUDA unavailable)' : ''}, ${this.maxItems} items per run, input ${this.inputName} [n, ${itemShape.join(', ')}]`;
    this.settings = {
      model: digest,
      input: this.inputName,
      outputs: this.outs.map((r) => ({ output: r.spec.output, layer: r.spec.layer, pool: r.pool, ...r.reduction })),
      ...(this.modality === 'visual'
        ? { layout: o.layout, frames: o.frames, frameStride: o.frameStride, views: o.views, viewPool: o.viewPool, preprocess: this.pre }
        : {
            audioInput: o.audioInput, sampleRate: o.sampleRate,
            ...(o.audioInput === 'logmel'
              ? { logmelLayout: o.logmelLayout, melBands: o.melBands, melRange: o.melRange, melMean: o.melMean, melStd: o.melStd, patch: this.logmelPatch() }
              : { waveformScale: o.waveformScale, patchSeconds: o.patchSeconds, hopSeconds: o.hopSeconds }),
          }),
    };
  }

  private declaredInput(): Array<number | string> {
    const meta = this.session!.inputMetadata?.find((m) => m.name === this.inputName) as { shape?: Array<number | string> } | undefined;
    return meta?.shape ?? [];
  }

  /** Shape of one item the config feeds (probe length for whole-clip waveforms: one second). */
  private probeItemShape(): number[] {
    const o = this.o;
    if (this.modality === 'visual') {
      const size = this.frameSizeAfterCrop();
      const [H, W] = size;
      return o.layout === 'NCHW' ? [3, H, W] : o.layout === 'NHWC' ? [H, W, 3] : o.layout === 'NCTHW' ? [3, o.frames, H, W] : [o.frames, H, W, 3];
    }
    if (o.audioInput === 'logmel') {
      const { frames } = this.logmelPatch();
      const B = o.melBands;
      return o.logmelLayout === 'NCHW' ? [1, frames, B] : o.logmelLayout === 'NHW' ? [frames, B] : [frames, B, 1];
    }
    return [Math.round((o.patchSeconds ?? 1) * o.sampleRate)];
  }

  /** [H, W] of a prepared frame. */
  private frameSizeAfterCrop(): [number, number] {
    const p = this.pre!;
    if (p.crop) return [p.crop, p.crop];
    if (p.resize === 'exact') return [p.size![0], p.size![1]];
    const s = p.short;
    if (!s) throw new Error(`${this.key}: with crop 0 (no crop) and resize ${p.resize}, the frame size is not fixed; set crop, or resize: exact with size`);
    throw new Error(`${this.key}: with crop 0 (no crop), resize: short gives frames whose long side follows the video's aspect; set crop, or resize: exact with size`);
  }

  private logmelPatch(): { frames: number; hop: number } {
    const patch = this.o.patchSeconds ?? 0.96;
    const hop = this.o.hopSeconds ?? patch;
    return { frames: Math.max(1, Math.round(patch / VGGISH_LOGMEL.hopSeconds)), hop: Math.max(1, Math.round(hop / VGGISH_LOGMEL.hopSeconds)) };
  }

  /** What to change when the fed shape does not fit the model's input. */
  private shapeHint(): string {
    const o = this.o;
    if (this.modality === 'visual') return `check ${this.key}.layout (${o.layout}), ${this.key}.crop / size and ${this.key}.frames`;
    if (o.audioInput === 'logmel') return `check ${this.key}.logmelLayout (${o.logmelLayout}), ${this.key}.melBands (${o.melBands}) and ${this.key}.patchSeconds`;
    return `check ${this.key}.audioInput (waveform), ${this.key}.patchSeconds and ${this.key}.sampleRate`;
  }

  /**
   * Compare the model's declared input with the items the config makes, before any run: a fixed
   * batch axis, another rank, or a fixed size that differs is refused naming the key to change.
   * Returns the batch to probe with.
   */
  private checkInputShape(itemShape: number[]): number {
    const o = this.o;
    const declared = this.declaredInput();
    if (declared.length === 0) return 2;
    const fed = ['n', ...itemShape];
    const show = (d: Array<number | string>) => `[${d.join(', ')}]`;
    let batch = 2;
    if (typeof declared[0] === 'number') {
      if (declared[0] === 1 && this.maxItems === 1) batch = 1;
      else throw this.fixedBatchError(this.inputName, declared);
    }
    if (this.modality === 'audio' && o.audioInput === 'waveform' && o.patchSeconds === undefined && declared.length === 2 && typeof declared[1] === 'number') {
      throw new Error(`ONNX model ${o.model}: input "${this.inputName}" ${show(declared)} takes a fixed number of samples, but whole clips of any length would be fed; ${this.layoutSuggestion(declared)}`);
    }
    if (declared.length !== fed.length) {
      throw new Error(`ONNX model ${o.model}: input "${this.inputName}" has ${declared.length} axes ${show(declared)}, the config feeds ${fed.length}: ${show(fed)}; ${this.layoutSuggestion(declared) ?? this.shapeHint()}`);
    }
    const bad: string[] = [];
    for (let i = 1; i < declared.length; i++) {
      if (typeof declared[i] === 'number' && declared[i] !== itemShape[i - 1]) bad.push(`axis ${i}: model ${declared[i]}, config ${itemShape[i - 1]}`);
    }
    if (bad.length) {
      throw new Error(`ONNX model ${o.model}: input "${this.inputName}" is ${show(declared)}, the config feeds ${show(fed)} (${bad.join('; ')}); ${this.layoutSuggestion(declared) ?? this.shapeHint()}`);
    }
    return batch;
  }

  private fixedBatchError(input: string, declared: ReadonlyArray<number | string | null>): Error {
    const show = `[${declared.map((d) => d ?? '?').join(', ')}]`;
    return new Error(
      `ONNX model ${this.o.model}: input "${input}" has a fixed batch axis ${show}, so it cannot take several frames/clips per run. ` +
        `Re-export it with a dynamic batch axis (torch.onnx.export(..., dynamic_axes={"${input}": {0: "n"}, <each output>: {0: "n"}}); docs/models.md)` +
        `${declared[0] === 1 ? `, or set ${this.key}.maxBatchItems: 1 to run one item at a time (slow)` : ''}`,
    );
  }

  /** A concrete change of layout / sizes that makes the fed shape match the declared one, if one exists. */
  private layoutSuggestion(declared: Array<number | string>): string | null {
    const o = this.o;
    const d = declared.slice(1);
    const fits = (shape: number[]) => shape.length === d.length && shape.every((v, i) => typeof d[i] !== 'number' || d[i] === v);
    if (this.modality === 'visual') {
      const [H, W] = this.frameSizeAfterCrop();
      const cands: Array<[Layout, number[]]> = [
        ['NCHW', [3, H, W]], ['NHWC', [H, W, 3]], ['NCTHW', [3, o.frames, H, W]], ['NTHWC', [o.frames, H, W, 3]],
      ];
      for (const [layout, shape] of cands) if (layout !== o.layout && fits(shape)) return `set ${this.key}.layout: ${layout}`;
      // same layout, other sizes
      const idx = o.layout === 'NCHW' ? { h: 1, w: 2 } : o.layout === 'NHWC' ? { h: 0, w: 1 } : o.layout === 'NCTHW' ? { h: 2, w: 3, t: 1 } : { h: 1, w: 2, t: 0 };
      const parts: string[] = [];
      if (d.length === (o.layout.length - 1)) {
        const dh = d[idx.h];
        const dw = d[idx.w];
        if (typeof dh === 'number' && typeof dw === 'number' && (dh !== H || dw !== W)) parts.push(dh === dw ? `${this.key}.crop: ${dh}` : `${this.key}.resize: exact, size: [${dh}, ${dw}], crop: 0`);
        const t = (idx as { t?: number }).t;
        if (t !== undefined && typeof d[t] === 'number' && d[t] !== o.frames) parts.push(`${this.key}.frames: ${d[t]}`);
      }
      return parts.length ? `set ${parts.join(' and ')}` : null;
    }
    if (o.audioInput === 'logmel') {
      const { frames } = this.logmelPatch();
      for (const [layout, shape] of [['NCHW', [1, frames, o.melBands]], ['NHW', [frames, o.melBands]], ['NHWC', [frames, o.melBands, 1]]] as const) {
        if (layout !== o.logmelLayout && fits([...shape])) return `set ${this.key}.logmelLayout: ${layout}`;
      }
      return null;
    }
    if (d.length === 1 && typeof d[0] === 'number') return `set ${this.key}.patchSeconds: ${d[0] / o.sampleRate} (the model takes exactly ${d[0]} samples at ${o.sampleRate} Hz)`;
    return null;
  }

  /** Resolve an output's axes and check that the pooling can use its probed shape. */
  private resolveOutput(spec: OnnxOutputSpec, j: number, dims: number[], batch: number): ResolvedOutput {
    const o = this.o;
    const okey = `${this.key}.outputs[${j}]`;
    const show = `[${dims.join(', ')}]`;
    if (dims[0] !== batch) {
      throw new Error(
        `ONNX model ${o.model}: output "${spec.output}" is ${show} for a batch of ${batch}: its first axis must be the batch. ` +
          `Export with dynamic_axes={"${spec.output}": {0: "n"}} and keep the batch first (no x.view(1, -1)); see docs/models.md`,
      );
    }
    const rank = dims.length;
    let axes: string;
    if (spec.axes) {
      axes = spec.axes;
      if (axes.length !== rank) throw new Error(`ONNX model ${o.model}: ${okey}.axes "${axes}" names ${axes.length} axes, output "${spec.output}" has ${rank}: ${show}`);
      for (const ch of ['C', 'T', 'L']) if (axes.split(ch).length > 2) throw new Error(`ONNX model ${o.model}: ${okey}.axes "${axes}" has more than one ${ch}`);
    } else if (spec.channelAxis !== undefined) {
      const ca = spec.channelAxis < 0 ? rank + spec.channelAxis : spec.channelAxis;
      if (rank === 1) axes = 'N';
      else if (ca < 1 || ca >= rank) throw new Error(`ONNX model ${o.model}: ${okey}.channelAxis ${spec.channelAxis} is out of range for output "${spec.output}" ${show}`);
      else axes = Array.from({ length: rank }, (_, a) => (a === 0 ? 'N' : a === ca ? 'C' : 'S')).join('');
    } else {
      axes = this.defaultAxes(rank) ?? '';
      if (!axes) {
        throw new Error(
          `ONNX model ${o.model}: output "${spec.output}" is ${show}; say what its axes are with ${okey}.axes: ` +
            (rank === 3
              ? '"NLC" for tokens of a transformer (with tokens: cls | mean | patches | both) or "NCT" for channels over time'
              : `one letter per axis (N first; C channels, T time, L tokens, H/W/F/S space)`),
        );
      }
    }
    const hasL = axes.includes('L');
    if (spec.tokens && !hasL) throw new Error(`ONNX model ${o.model}: ${okey}.tokens is set but output "${spec.output}" ${show} has no token axis (axes ${axes}); set ${okey}.axes with an L`);
    const reduction: OutputReduction = { axes, tokens: spec.tokens ?? 'mean', prefixTokens: spec.prefixTokens ?? ONNX_OUTPUT_DEFAULTS.prefixTokens, spatial: spec.spatial ?? ONNX_OUTPUT_DEFAULTS.spatial };
    let width: number;
    let rowsPerItem: number;
    try {
      const r = reduceOutput(new Float32Array(dims.reduce((a, b) => a * b, 1)), dims, reduction);
      width = r.width;
      rowsPerItem = r.rows;
    } catch (err) {
      throw new Error(`ONNX model ${o.model}: ${okey}: ${(err as Error).message}`);
    }
    const pool = spec.pool ?? ONNX_OUTPUT_DEFAULTS.pool;
    if (pool === 'meanstd') {
      const itemsPerView = this.staticItemsPerView();
      if (itemsPerView !== null && itemsPerView * rowsPerItem < 2) {
        throw new Error(
          `ONNX model ${o.model}: ${okey}.pool meanstd needs several time steps per clip, but output "${spec.output}" ${show} (axes ${axes}) gives one per ` +
            `${this.modality === 'visual' ? `view (layout ${o.layout})` : 'clip'}: half its columns would be zeros. Use pool: mean or max, ` +
            `or an output with a time axis (axes with a T)`,
        );
      }
    }
    return { spec, reduction, pool, width, rowsPerItem, probeDims: dims };
  }

  /** Items per view when fixed by the config (null when the clip length decides). */
  private staticItemsPerView(): number | null {
    if (this.modality === 'visual') return this.o.layout === 'NCHW' || this.o.layout === 'NHWC' ? this.o.frames : 1;
    if (this.o.audioInput === 'waveform' && this.o.patchSeconds === undefined) return 1;
    return null;
  }

  private defaultAxes(rank: number): string | null {
    const o = this.o;
    if (rank === 1) return 'N';
    if (rank === 2) return 'NC';
    if (this.modality === 'visual') {
      if (rank === 4 && (o.layout === 'NCHW' || o.layout === 'NHWC')) return o.layout === 'NCHW' ? 'NCHW' : 'NHWC';
      if (rank === 5 && o.layout === 'NCTHW') return 'NCTHW';
      if (rank === 5 && o.layout === 'NTHWC') return 'NTHWC';
      return null;
    }
    if (rank === 4 && o.audioInput === 'logmel') return o.logmelLayout === 'NHWC' ? 'NHWC' : 'NCHW';
    return null;
  }

  private describe(r: ResolvedOutput): string {
    const o = this.o;
    const parts: string[] = [`output ${r.spec.output} [${['n', ...r.probeDims.slice(1)].join(',')}] axes ${r.reduction.axes}`];
    const sp = [...r.reduction.axes].filter((c) => SPATIAL.has(c));
    if (sp.length) parts.push(`${r.reduction.spatial} over ${sp.join(',')}`);
    if (r.reduction.axes.includes('L')) parts.push(`tokens ${r.reduction.tokens}${r.reduction.tokens === 'patches' || r.reduction.tokens === 'both' ? ` (after ${r.reduction.prefixTokens})` : ''}`);
    const steps = this.modality === 'visual' ? (o.layout === 'NCHW' || o.layout === 'NHWC' ? `${o.frames} frames` : '1 clip tensor') : o.audioInput === 'logmel' ? 'log-mel patches' : o.patchSeconds ? 'waveform patches' : '1 waveform';
    parts.push(`${r.pool} over ${steps}${r.rowsPerItem > 1 ? ` x ${r.rowsPerItem} time steps` : ''}`);
    if (this.modality === 'visual' && o.views > 1) parts.push(`${o.views} views ${o.viewPool === 'concat' ? 'side by side' : 'pooled together'}`);
    return parts.join('; ');
  }

  prepare(clip: DecodedClip): OnnxPrepared {
    const o = this.o;
    if (this.modality === 'visual') {
      const p = this.pre!;
      const { data, shape } = prepareFrames(clip, { frames: o.frames, stride: o.frameStride, views: o.views, layout: o.layout, ...p, crop: p.crop });
      return { items: data, count: shape[0], itemShape: shape.slice(1), views: o.views };
    }
    if (o.audioInput === 'logmel') {
      const mel = logMelSpectrogram(clip.audio, clip.sampleRate, { ...VGGISH_LOGMEL, nMels: o.melBands, ...(o.melRange ? { fMin: o.melRange[0], fMax: o.melRange[1] } : {}) });
      const { frames, hop } = this.logmelPatch();
      const ex = logMelExamples(mel, frames, hop, true);
      if (ex.examples === 0) throw new Error('audio shorter than one 25 ms window: no log-mel frames');
      if (o.melMean !== undefined || o.melStd !== undefined) {
        const m = o.melMean ?? 0;
        const sd = o.melStd ?? 1;
        for (let i = 0; i < ex.data.length; i++) ex.data[i] = (ex.data[i] - m) / sd;
      }
      const B = o.melBands;
      const shape = o.logmelLayout === 'NCHW' ? [1, frames, B] : o.logmelLayout === 'NHW' ? [frames, B] : [frames, B, 1];
      return { items: ex.data, count: ex.examples, itemShape: shape, views: 1 };
    }
    let x = resample(clip.audio, clip.sampleRate, o.sampleRate);
    if (o.waveformScale !== 1) x = Float32Array.from(x, (v) => v * o.waveformScale);
    if (o.patchSeconds === undefined) return { items: x, count: 1, itemShape: [x.length], views: 1 };
    const len = Math.round(o.patchSeconds * o.sampleRate);
    const hop = Math.max(1, Math.round((o.hopSeconds ?? o.patchSeconds) * o.sampleRate));
    const n = x.length < len ? 1 : 1 + Math.floor((x.length - len) / hop);
    const items = new Float32Array(n * len);
    for (let k = 0; k < n; k++) items.set(x.subarray(k * hop, Math.min(x.length, k * hop + len)), k * len);
    return { items, count: n, itemShape: [len], views: 1 };
  }

  /** Run `count` items; per kept output, the reduced rows of every item. */
  private async runItems(items: Float32Array, count: number, itemShape: number[]): Promise<Float32Array[][]> {
    const ort = this.ort!;
    const s = this.session!;
    const feeds = { [this.inputName]: new ort.Tensor('float32', items, [count, ...itemShape]) };
    let res: Record<string, Tensor>;
    try {
      res = await s.run(feeds, this.o.outputs.map((x) => x.output));
    } catch (err) {
      throw new Error(`ONNX model ${this.o.model}: inference failed on input [${[count, ...itemShape].join(', ')}] (${(err as Error).message})`);
    }
    return this.outs.map((r) => {
      const t = res[r.spec.output];
      const dims = t.dims as number[];
      if (dims[0] !== count) throw new Error(`ONNX model ${this.o.model}: output ${r.spec.output} has batch ${dims[0]}, expected ${count} (the first axis must be the batch)`);
      const red = reduceOutput(t.data as Float32Array, dims, r.reduction);
      if (red.width !== r.width) throw new Error(`ONNX model ${this.o.model}: output ${r.spec.output} is [${dims.join(', ')}], at load it was [${r.probeDims.join(', ')}] (width ${red.width}, expected ${r.width})`);
      return red.items;
    });
  }

  async run(batch: OnnxPrepared[]): Promise<Float32Array[][]> {
    // Group clips whose items have the same shape; run them in chunks of at most maxItems items.
    const groups = new Map<string, number[]>();
    batch.forEach((p, i) => {
      const key = p.itemShape.join('x');
      const g = groups.get(key);
      if (g) g.push(i);
      else groups.set(key, [i]);
    });
    // perClip[clip][output][item] = rows x width
    const perClip: Float32Array[][][] = batch.map((p) => this.outs.map(() => new Array<Float32Array>(p.count)));
    for (const members of groups.values()) {
      const itemShape = batch[members[0]].itemShape;
      const itemSize = itemShape.reduce((a, b) => a * b, 1);
      const pairs: Array<[number, number]> = [];
      for (const ci of members) for (let k = 0; k < batch[ci].count; k++) pairs.push([ci, k]);
      for (let start = 0; start < pairs.length; start += this.maxItems) {
        const chunk = pairs.slice(start, start + this.maxItems);
        const data = new Float32Array(chunk.length * itemSize);
        chunk.forEach(([ci, k], j) => data.set(batch[ci].items.subarray(k * itemSize, (k + 1) * itemSize), j * itemSize));
        const outs = await this.runItems(data, chunk.length, itemShape);
        outs.forEach((perItem, oi) => chunk.forEach(([ci, k], j) => (perClip[ci][oi][k] = perItem[j])));
      }
    }
    return batch.map((p, ci) =>
      this.outs.map((r, oi) => {
        const items = perClip[ci][oi];
        const V = Math.max(1, p.views);
        const perView = Math.floor(p.count / V);
        const rowsOf = (from: number, to: number) => {
          const flat = new Float32Array((to - from) * r.rowsPerItem * r.width);
          for (let k = from; k < to; k++) flat.set(items[k], (k - from) * r.rowsPerItem * r.width);
          return poolRows(flat, (to - from) * r.rowsPerItem, r.width, r.pool);
        };
        if (this.o.viewPool !== 'concat' || V === 1) return rowsOf(0, p.count);
        const parts = Array.from({ length: V }, (_, v) => rowsOf(v * perView, (v + 1) * perView));
        const out = new Float32Array(parts.reduce((a, x) => a + x.length, 0));
        let off = 0;
        for (const x of parts) {
          out.set(x, off);
          off += x.length;
        }
        return out;
      }),
    );
  }

  async dispose(): Promise<void> {
    await this.session?.release();
    this.session = null;
  }
}

/** The frame preprocessing an ONNX extractor's options describe (preset, then each key given). */
export function onnxFramePreprocess(o: Pick<OnnxExtractorOptions, 'preset' | 'mean' | 'std' | 'scale' | 'interpolation' | 'resize' | 'short' | 'size' | 'crop' | 'channels'>): FramePreprocess {
  return resolvePreprocess(o.preset ?? ONNX_EXTRACTOR_DEFAULTS.preset, {
    mean: o.mean, std: o.std, scale: o.scale, interpolation: o.interpolation,
    resize: o.resize ?? (o.size ? 'exact' : o.short ? 'short' : undefined), short: o.short, size: o.size,
    crop: o.crop === 0 ? null : o.crop, channels: o.channels,
  });
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}
