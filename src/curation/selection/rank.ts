/**
 * Selections from per-clip scores (the contrastive baseline, or any scorer): keep the top clips
 * by score. Deterministic: ties keep pool order; NaN scores rank last.
 */
import { SelectionInputError } from './objective.js';

/** Pool indices of the `target` highest-scoring clips, best first. */
export function rankToSelection(scores: ArrayLike<number>, target: number): Int32Array {
  const n = scores.length;
  if (n === 0) throw new SelectionInputError('no scores: nothing to select from');
  if (!Number.isInteger(target) || target < 1 || target > n) throw new SelectionInputError(`cannot select ${target} clips from ${n} scored clips`);
  const idx = Array.from({ length: n }, (_, i) => i);
  const key = (i: number): number => (Number.isNaN(scores[i]) ? -Infinity : scores[i]);
  idx.sort((a, b) => key(b) - key(a) || a - b);
  return Int32Array.from(idx.slice(0, target));
}

/** The clip's score as gain and the running mean score as objective, for a score-ranked selection. */
export function scoreColumns(scores: ArrayLike<number>, order: ArrayLike<number>): { gains: Float64Array; objectives: Float64Array } {
  const gains = new Float64Array(order.length);
  const objectives = new Float64Array(order.length);
  let sum = 0;
  for (let r = 0; r < order.length; r++) {
    gains[r] = scores[order[r]];
    sum += gains[r];
    objectives[r] = sum / (r + 1);
  }
  return { gains, objectives };
}
