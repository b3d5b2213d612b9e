/**
 * Embeddings of a set of clips from frozen encoders, per modality, and probing them per modality
 * (audio, visual, and both concatenated).
 */
import { toMatrix, type Matrix } from './logreg.js';
import { crossModalProbe, linearProbe, type LinearProbeOptions, type ProbeResult } from './linear-probe.js';
import type { ProbeSplit } from './splits.js';

/**
 * audio, visual: one modality's embeddings; both: the two concatenated; cross: cross-modal
 * transfer (trained on one modality, tested on the other) in the shared projection space.
 */
export type ProbeModality = 'audio' | 'visual' | 'both' | 'cross';
export const PROBE_MODALITIES: readonly ProbeModality[] = ['audio', 'visual', 'both', 'cross'];

/**
 * Row-major embeddings of `count` clips, [count, audioDim] and [count, visualDim]; either modality
 * may be absent (an audio-only dataset). The SSL `embed()` result has this shape.
 */
export interface ProbeEmbeddings {
  count: number;
  audio?: Float32Array;
  visual?: Float32Array;
  audioDim?: number;
  visualDim?: number;
}

/** The matrix to probe for one modality; 'both' concatenates audio then visual per row. */
export function modalityMatrix(emb: ProbeEmbeddings, modality: Exclude<ProbeModality, 'cross'>): Matrix {
  const n = emb.count;
  const check = (name: string, data: Float32Array | undefined, dim: number | undefined) => {
    if (!data || data.length === 0 || !dim) throw new Error(`embeddings: no ${name} embeddings to probe`);
    if (data.length !== n * dim) throw new Error(`embeddings: ${name} has ${data.length} values, expected ${n} x ${dim}`);
    return { data, dim };
  };
  if (modality === 'audio') {
    const a = check('audio', emb.audio, emb.audioDim);
    return toMatrix(a.data, n, a.dim);
  }
  if (modality === 'visual') {
    const v = check('visual', emb.visual, emb.visualDim);
    return toMatrix(v.data, n, v.dim);
  }
  const a = check('audio', emb.audio, emb.audioDim);
  const v = check('visual', emb.visual, emb.visualDim);
  const d = a.dim + v.dim;
  const out = new Float32Array(n * d);
  for (let i = 0; i < n; i++) {
    out.set(a.data.subarray(i * a.dim, (i + 1) * a.dim), i * d);
    out.set(v.data.subarray(i * v.dim, (i + 1) * v.dim), i * d + a.dim);
  }
  return toMatrix(out, n, d);
}

/** Which of the requested modalities these embeddings can serve. */
export function availableModalities(emb: ProbeEmbeddings, wanted: readonly ProbeModality[]): ProbeModality[] {
  const hasA = !!emb.audio && emb.audio.length > 0 && !!emb.audioDim;
  const hasV = !!emb.visual && emb.visual.length > 0 && !!emb.visualDim;
  const shared = hasA && hasV && emb.audioDim === emb.visualDim;
  return wanted.filter((m) => (m === 'audio' ? hasA : m === 'visual' ? hasV : m === 'both' ? hasA && hasV : shared));
}

/**
 * Probe every available requested modality; returns results keyed by modality. 'cross' uses
 * `shared` (embeddings in one space, e.g. the projection heads) when given, else `emb`.
 */
export function probeModalities(
  emb: ProbeEmbeddings,
  labels: ArrayLike<number>,
  classes: number,
  splits: ProbeSplit[],
  modalities: readonly ProbeModality[],
  opts: LinearProbeOptions = {},
  shared?: ProbeEmbeddings,
): Partial<Record<ProbeModality, ProbeResult>> {
  const out: Partial<Record<ProbeModality, ProbeResult>> = {};
  const usable = availableModalities(emb, modalities.filter((m) => m !== 'cross'));
  const crossEmb = shared ?? emb;
  const cross = modalities.includes('cross') && availableModalities(crossEmb, ['cross']).length === 1;
  if (usable.length === 0 && !cross) throw new Error(`embeddings: none of the modalities ${modalities.join(', ')} is available`);
  for (const m of usable) out[m as Exclude<ProbeModality, 'cross'>] = linearProbe(modalityMatrix(emb, m as Exclude<ProbeModality, 'cross'>), labels, classes, splits, opts);
  if (cross) {
    const d = crossEmb.audioDim!;
    out.cross = crossModalProbe(toMatrix(crossEmb.audio!, crossEmb.count, d), toMatrix(crossEmb.visual!, crossEmb.count, d), labels, classes, splits, opts);
  }
  return out;
}
