/**
 * Embeddings of a set of clips from frozen encoders, per modality, and probing them per modality
 * (audio, visual, and both concatenated).
 */
import { toMatrix, type Matrix } from './logreg.js';
import { linearProbe, type LinearProbeOptions, type ProbeResult } from './linear-probe.js';
import type { ProbeSplit } from './splits.js';

export type ProbeModality = 'audio' | 'visual' | 'both';
export const PROBE_MODALITIES: readonly ProbeModality[] = ['audio', 'visual', 'both'];

/** Row-major embeddings of `count` clips; either modality may be absent. */
export interface Embeddings {
  count: number;
  audio?: { dim: number; data: Float32Array };
  visual?: { dim: number; data: Float32Array };
}

/** The matrix to probe for one modality; 'both' concatenates audio then visual per row. */
export function modalityMatrix(emb: Embeddings, modality: ProbeModality): Matrix {
  const n = emb.count;
  const check = (name: string, m: { dim: number; data: Float32Array } | undefined) => {
    if (!m) throw new Error(`embeddings: no ${name} embeddings to probe`);
    if (m.data.length !== n * m.dim) throw new Error(`embeddings: ${name} has ${m.data.length} values, expected ${n} x ${m.dim}`);
    return m;
  };
  if (modality === 'audio') {
    const a = check('audio', emb.audio);
    return toMatrix(a.data, n, a.dim);
  }
  if (modality === 'visual') {
    const v = check('visual', emb.visual);
    return toMatrix(v.data, n, v.dim);
  }
  const a = check('audio', emb.audio);
  const v = check('visual', emb.visual);
  const d = a.dim + v.dim;
  const out = new Float32Array(n * d);
  for (let i = 0; i < n; i++) {
    out.set(a.data.subarray(i * a.dim, (i + 1) * a.dim), i * d);
    out.set(v.data.subarray(i * v.dim, (i + 1) * v.dim), i * d + a.dim);
  }
  return toMatrix(out, n, d);
}

/** Which of the requested modalities these embeddings can serve. */
export function availableModalities(emb: Embeddings, wanted: readonly ProbeModality[]): ProbeModality[] {
  return wanted.filter((m) => (m === 'audio' ? !!emb.audio : m === 'visual' ? !!emb.visual : !!emb.audio && !!emb.visual));
}

/** Probe every available requested modality; returns results keyed by modality. */
export function probeModalities(
  emb: Embeddings,
  labels: ArrayLike<number>,
  classes: number,
  splits: ProbeSplit[],
  modalities: readonly ProbeModality[],
  opts: LinearProbeOptions = {},
): Partial<Record<ProbeModality, ProbeResult>> {
  const out: Partial<Record<ProbeModality, ProbeResult>> = {};
  const usable = availableModalities(emb, modalities);
  if (usable.length === 0) throw new Error(`embeddings: none of the modalities ${modalities.join(', ')} is available`);
  for (const m of usable) out[m] = linearProbe(modalityMatrix(emb, m), labels, classes, splits, opts);
  return out;
}
