/**
 * The extractor contract. An extractor turns decoded clips into one float vector per layer:
 * `prepare` does the per-clip CPU work (sampling, resizing, log-mel) and may run while other clips
 * decode; `run` computes a batch. Pooling over time, frames or patches happens inside the
 * extractor (mean by default), so every layer is a fixed-length vector per clip.
 */
import type { DecodedClip } from '../../media/types.js';
import type { FeatureModality } from './store.js';

/**
 * An error that is not about one clip (a crashed worker, a lost model session): the stage stops
 * instead of recording every remaining clip as failed.
 */
export class ExtractorFatalError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ExtractorFatalError';
  }
}

export interface LayerSpec {
  /** Dataset name under audio/ or visual/ (letters, digits, ".", "_", "-"). */
  name: string;
  dim: number;
  /** One line on what the layer measures. */
  description: string;
}

export interface Extractor<P = unknown> {
  /** Short, stable name, e.g. "builtin-audio", "onnx:vggish". */
  readonly name: string;
  /** Bumped whenever the numbers an extractor produces change. */
  readonly version: string;
  readonly modality: FeatureModality;
  readonly layers: readonly LayerSpec[];
  /** Everything that changes the numbers (model file digest, preset, sizes): part of the config hash. */
  readonly settings: Record<string, unknown>;
  /** Where and how it runs (provider, items per run), printed with the layers; not hashed. */
  readonly info?: string;
  /** Per-clip preparation from a decoded clip. */
  prepare(clip: DecodedClip): P;
  /** Features of a batch: result[i][l] is layer l of clip i, length layers[l].dim. */
  run(batch: P[]): Promise<Float32Array[][]>;
  /** Free models and sessions. */
  dispose?(): Promise<void> | void;
}

export type AnyExtractor = Extractor<any>; // eslint-disable-line @typescript-eslint/no-explicit-any

/** Pooling of per-frame / per-patch / per-example vectors into one. */
export type Pooling = 'mean' | 'max' | 'meanstd';

/**
 * Pool `rows` vectors of `dim` values (row-major in `data`) into one: mean, max, or mean then std
 * (2 * dim values). Zero rows give zeros.
 */
export function poolRows(data: ArrayLike<number>, rows: number, dim: number, pooling: Pooling): Float32Array {
  const outDim = pooling === 'meanstd' ? 2 * dim : dim;
  const out = new Float32Array(outDim);
  if (rows === 0) return out;
  if (pooling === 'max') {
    for (let d = 0; d < dim; d++) {
      let m = -Infinity;
      for (let r = 0; r < rows; r++) m = Math.max(m, data[r * dim + d]);
      out[d] = m;
    }
    return out;
  }
  const mean = new Float64Array(dim);
  for (let r = 0; r < rows; r++) for (let d = 0; d < dim; d++) mean[d] += data[r * dim + d];
  for (let d = 0; d < dim; d++) {
    mean[d] /= rows;
    out[d] = mean[d];
  }
  if (pooling === 'meanstd') {
    for (let d = 0; d < dim; d++) {
      let v = 0;
      for (let r = 0; r < rows; r++) v += (data[r * dim + d] - mean[d]) ** 2;
      out[dim + d] = Math.sqrt(v / rows);
    }
  }
  return out;
}

/** Check that a batch result has the promised layers and dims. */
export function checkBatchResult(ex: Pick<Extractor, 'name' | 'layers'>, batchSize: number, result: Float32Array[][]): void {
  if (result.length !== batchSize) throw new Error(`extractor ${ex.name}: returned ${result.length} results for a batch of ${batchSize}`);
  for (const row of result) {
    if (row.length !== ex.layers.length) throw new Error(`extractor ${ex.name}: returned ${row.length} layers, declares ${ex.layers.length}`);
    for (let l = 0; l < row.length; l++) {
      if (row[l].length !== ex.layers[l].dim) throw new Error(`extractor ${ex.name}: layer ${ex.layers[l].name} has ${row[l].length} values, declares ${ex.layers[l].dim}`);
      // NaN or infinity would poison the clustering: the clip fails instead (a batch is retried clip by clip).
      const v = row[l];
      for (let i = 0; i < v.length; i++) {
        if (!Number.isFinite(v[i])) throw new Error(`extractor ${ex.name}: layer ${ex.layers[l].name} has a non-finite value (${v[i]}) at ${i}`);
      }
    }
  }
}
