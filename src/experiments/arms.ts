/**
 * Building the experiment's pieces from the pool: the held-out split for the downstream task,
 * the training set of each pretraining arm, and precision curves of rankings against ground truth.
 */
import { Rng } from '../runtime/random.js';
import type { CurvePoint } from './results.js';

/** A corpus row with optional ground truth (labels.jsonl of `avcurate synth`, or a manifest row). */
export interface LabelledClip {
  id: string;
  file: string;
  visual_class?: string | number;
  audio_class?: string | number;
  corresponds?: boolean;
  [key: string]: unknown;
}

/**
 * Hold out `fraction` of the clips, stratified by visual class (and correspondence), for the
 * downstream probe; the rest form the curation pool. Deterministic for a seed.
 */
export function holdOut<T extends LabelledClip>(rows: T[], fraction: number, seed: number): { pool: T[]; heldOut: T[] } {
  if (fraction <= 0) return { pool: rows.slice(), heldOut: [] };
  const groups = new Map<string, number[]>();
  rows.forEach((r, i) => {
    const key = `${String(r.visual_class ?? '')}|${String(r.corresponds ?? '')}`;
    let g = groups.get(key);
    if (!g) groups.set(key, (g = []));
    g.push(i);
  });
  const rng = Rng.derive(seed, 'experiment-holdout');
  const held = new Set<number>();
  for (const key of [...groups.keys()].sort()) {
    const g = groups.get(key)!;
    rng.shuffle(g);
    const h = Math.round(g.length * fraction);
    for (let k = 0; k < h; k++) held.add(g[k]);
  }
  return { pool: rows.filter((_, i) => !held.has(i)), heldOut: rows.filter((_, i) => held.has(i)) };
}

/** `n` ids drawn without replacement (all of them, shuffled, when n >= ids.length). */
export function sampleIds(ids: readonly string[], n: number, rng: Rng): string[] {
  const copy = ids.slice();
  rng.shuffle(copy);
  return copy.slice(0, Math.min(n, copy.length));
}

/** Fraction of `ids` that truly correspond (undefined when none has ground truth). */
export function precisionOf(ids: readonly string[], truth: ReadonlyMap<string, boolean>): number | undefined {
  let known = 0;
  let hits = 0;
  for (const id of ids) {
    const t = truth.get(id);
    if (t === undefined) continue;
    known++;
    if (t) hits++;
  }
  return known > 0 ? hits / known : undefined;
}

/**
 * Precision and recall of every prefix of a ranking, thinned to at most `maxPoints` points
 * (always keeping the first, the last and the prefix of size `keep`, e.g. the positives count).
 */
export function precisionCurve(ranked: readonly string[], truth: ReadonlyMap<string, boolean>, opts: { maxPoints?: number; keep?: number[] } = {}): CurvePoint[] {
  let positives = 0;
  for (const t of truth.values()) if (t) positives++;
  const m = ranked.length;
  if (m === 0) return [];
  const maxPoints = opts.maxPoints ?? 200;
  const step = Math.max(1, Math.ceil(m / maxPoints));
  const keep = new Set((opts.keep ?? []).filter((k) => k >= 1 && k <= m));
  const out: CurvePoint[] = [];
  let hits = 0;
  for (let r = 1; r <= m; r++) {
    if (truth.get(ranked[r - 1])) hits++;
    if (r === 1 || r === m || r % step === 0 || keep.has(r)) {
      out.push({ size: r, precision: hits / r, ...(positives > 0 ? { recall: hits / positives } : {}) });
    }
  }
  return out;
}

/** Precision of the first `k` ids of a ranking (k clipped to the ranking's length). */
export function precisionAt(ranked: readonly string[], truth: ReadonlyMap<string, boolean>, k: number): number | undefined {
  if (k <= 0 || ranked.length === 0) return undefined;
  return precisionOf(ranked.slice(0, Math.min(k, ranked.length)), truth);
}
