/**
 * Continuing a selection on an enlarged pool (incremental curation; docs/selection.md "Adding
 * clips"). The previous selection is the start: its clips are put into the MI tables as they
 * are. The old clips left out of it were already examined and rejected by the previous search;
 * the new clips were never looked at. So:
 * - grow: the subset is grown to the new target by the batch greedy of a full run, drawing its
 *   candidates from the new clips plus as many old unselected clips drawn at random (all of them
 *   when fewer), so that half the candidates are new rather than one in ten;
 * - refine: swap refinement over the enlarged pool, where the clip swapped in is a new unselected
 *   clip half the time and any unselected clip otherwise (so a new clip can displace an old one
 *   that now fits worse, and old rejects still get their chance);
 * - order: the order of a full run (selection.order: greedy re-ordering, leave-one-out, or pick).
 * When the target is smaller than the start (a fixed size), the clips with the smallest
 * leave-one-out contribution leave first.
 *
 * Cost: O(n) to build the tables, O(|S| · |P|) to load the start, the greedy only for the clips
 * the target grew by, and a refinement budget proportional to the change (new clips + new
 * picks), not to the pool. A full rerun pays the greedy for every selected clip and a refinement
 * budget proportional to the selection.
 */
import type { Rng } from '../../runtime/random.js';
import { orderByLeaveOneOut, orderGreedy, replayObjective, targetSize, topByScore, type RankOrder, type RefineStats } from '../selection/algorithms.js';
import { MIObjective, SelectionInputError, type Estimator, type LabelMatrix } from '../selection/objective.js';
import { CONFIG_DEFAULTS } from '../../config/defaults.js';

export interface ContinueOptions {
  pairs: ArrayLike<number>;
  estimator: Estimator;
  ratio?: number;
  size?: number;
  /** Batch greedy: candidates drawn per step (B) and clips added per step (k). */
  batchSize: number;
  batchPick: number;
  /** Run the swap refinement (default true). */
  refine?: boolean;
  /**
   * Refinement budget: evaluated swaps in all and consecutive rejected swaps. Default for both:
   * max(5·10⁴, 2 × (new clips + clips the target grew by)).
   */
  maxEvaluations?: number;
  patience?: number;
  /** Wall-clock bound of the refinement in seconds (default: incremental.refine.seconds). */
  seconds?: number;
  /** Final order, as the selection stage's `selection.order` (its default lives in the config; docs/selection.md). */
  order: RankOrder;
  /** Evaluations of the greedy order (the selection's orderBudget). */
  orderBudget?: number;
  /** Share of the start with the smallest leave-one-out contribution that the refinement may swap out (default 0.25). */
  weakShare?: number;
  rng: Rng;
}

export interface ContinueResult {
  /** Pool indices of the selection in rank order. */
  order: Int32Array;
  gains: Float64Array;
  objectives: Float64Array;
  objective: number;
  /** F of the start on the enlarged pool, after the greedy growth, after refinement. */
  objectiveStart: number;
  objectiveGrown: number;
  /** Start clips that are not in the final selection. */
  left: number;
  /** Clips the greedy added and clips removed to meet a smaller target. */
  grown: number;
  shrunk: number;
  refine: RefineStats | null;
  seconds: { tables: number; grow: number; refine: number; order: number };
}

/**
 * Continue from `start` (pool indices of the previous selection, distinct) over `matrix`.
 * `isNew[x]` is 1 for the pool clips added since the start was selected. The labels must be
 * validated already.
 */
export function continueSelection(matrix: LabelMatrix, start: ArrayLike<number>, isNew: Uint8Array, opts: ContinueOptions): ContinueResult {
  const n = matrix.n;
  if (isNew.length !== n) throw new Error(`continueSelection: isNew has ${isNew.length} entries for a pool of ${n}`);
  let added = 0;
  for (let x = 0; x < n; x++) added += isNew[x] ? 1 : 0;
  if (n < 2) throw new SelectionInputError(`the pool holds ${n} clip(s): selection needs at least 2`);
  const t0 = performance.now();
  const obj = new MIObjective(matrix, opts.pairs, { estimator: opts.estimator, trusted: true });
  // Load the start straight into the tables (counts only; the summed term is recomputed once).
  for (let s = 0; s < start.length; s++) {
    const x = start[s];
    if (!Number.isInteger(x) || x < 0 || x >= n) throw new SelectionInputError(`start clip ${x} is outside the pool of ${n}`);
    if (obj.inSet[x]) throw new SelectionInputError(`start clip ${x} appears twice`);
    obj.kernels.update(x, 1);
    obj.inSet[x] = 1;
    obj.size++;
  }
  obj.resync();
  const objectiveStart = obj.value();
  const target = targetSize(n, { ratio: opts.ratio, size: opts.size });
  const t1 = performance.now();

  // Shrink (a smaller fixed size): drop the smallest leave-one-out contributions, a tenth of the
  // excess per round so that contributions are re-measured as the subset changes.
  let shrunk = 0;
  while (obj.size > target) {
    const members = membersOf(obj);
    const contrib = new Float64Array(members.length);
    const value = obj.value();
    for (let s = 0; s < members.length; s++) contrib[s] = value - obj.valueAfterRemove(members[s]);
    const idx = Array.from(members.keys()).sort((a, b) => contrib[a] - contrib[b] || members[a] - members[b]);
    const excess = obj.size - target;
    const drop = Math.max(1, Math.ceil(excess / 10));
    for (let q = 0; q < drop; q++) obj.remove(members[idx[q]]);
    shrunk += drop;
  }

  // Grow: batch greedy over every clip not selected (partial Fisher–Yates draws, as in a full run).
  let grown = 0;
  const grownClips: number[] = [];
  if (obj.size < target) {
    const B = opts.batchSize;
    const k = opts.batchPick;
    if (!Number.isInteger(B) || B < 1) throw new SelectionInputError(`batch size B must be a positive integer, got ${B}`);
    if (!Number.isInteger(k) || k < 1 || k > B) throw new SelectionInputError(`batch pick k must be an integer in 1..B (${B}), got ${k}`);
    const rng = opts.rng;
    // Candidates: every new unselected clip, and as many old unselected clips drawn at random.
    let nFresh = 0;
    let nOld = 0;
    for (let x = 0; x < n; x++) if (!obj.inSet[x]) isNew[x] ? nFresh++ : nOld++;
    const old = new Int32Array(nOld);
    const need = target - obj.size;
    const oldCount = Math.min(nOld, Math.max(nFresh, need - nFresh + B));
    const idx = new Int32Array(nFresh + oldCount);
    {
      let f = 0;
      let o = 0;
      for (let x = 0; x < n; x++) {
        if (obj.inSet[x]) continue;
        if (isNew[x]) idx[f++] = x;
        else old[o++] = x;
      }
      for (let t = 0; t < oldCount; t++) {
        const j = t + rng.int(nOld - t);
        const tmp = old[t];
        old[t] = old[j];
        old[j] = tmp;
      }
      idx.set(old.subarray(0, oldCount), nFresh);
    }
    let size = idx.length;
    const scores = new Float64Array(B);
    const taken = new Uint8Array(B);
    const chosen = new Int32Array(k);
    while (obj.size < target && size > 0) {
      const c = Math.min(B, size);
      for (let t = 0; t < c; t++) {
        const j = t + rng.int(size - t);
        const tmp = idx[t];
        idx[t] = idx[j];
        idx[j] = tmp;
        scores[t] = obj.gainScore(idx[t]);
      }
      const take = Math.min(k, c, target - obj.size);
      topByScore(scores, idx, c, take, taken, chosen);
      for (let q = 0; q < take; q++) {
        obj.add(idx[chosen[q]]);
        grownClips.push(idx[chosen[q]]);
      }
      const pos = Array.from(chosen.subarray(0, take)).sort((a, b) => b - a);
      for (const p of pos) idx[p] = idx[--size];
      grown += take;
    }
  }
  obj.resync();
  const objectiveGrown = obj.value();
  const t2 = performance.now();

  let refine: RefineStats | null = null;
  let members = membersOf(obj);
  if (opts.refine !== false) {
    // The clips that may be swapped out: the share of the previous selection with the smallest
    // leave-one-out contribution now (whatever order its ranking had) and the clips just grown;
    // the previous search kept the others for good reasons, and an exchange that raises F almost
    // always removes a weak clip.
    const weakCount = Math.min(start.length, Math.ceil(start.length * (opts.weakShare ?? CONFIG_DEFAULTS.incremental.refine.weakShare)));
    const weak = new Int32Array(weakCount + grownClips.length);
    let w = 0;
    const value = obj.value();
    const kept = new Int32Array(start.length);
    let nk = 0;
    for (let s = 0; s < start.length; s++) if (obj.inSet[start[s]]) kept[nk++] = start[s];
    const loo = new Float64Array(nk);
    for (let s = 0; s < nk; s++) loo[s] = value - obj.valueAfterRemove(kept[s]);
    // The weakCount-th smallest contribution (a native numeric sort of a copy), then the clips
    // below it and, for ties, those equal to it in start order: deterministic.
    const take = Math.min(weakCount, nk);
    if (take > 0) {
      const threshold = Float64Array.from(loo).sort()[take - 1];
      for (let s = 0; s < nk && w < take; s++) if (loo[s] < threshold) weak[w++] = kept[s];
      for (let s = 0; s < nk && w < take; s++) if (loo[s] === threshold) weak[w++] = kept[s];
    }
    for (const x of grownClips) weak[w++] = x;
    const budget = Math.max(50_000, 2 * (added + grown));
    const out = refineTowardNew(obj, members, weak.subarray(0, w), isNew, opts.rng, {
      maxEvaluations: opts.maxEvaluations ?? budget,
      patience: opts.patience ?? budget,
      seconds: opts.seconds ?? CONFIG_DEFAULTS.incremental.refine.seconds,
    });
    refine = out.stats;
    members = out.selected;
  }
  const t3 = performance.now();
  const kind = opts.order;
  const order = kind === 'loo' ? orderByLeaveOneOut(obj, members) : kind === 'greedy' ? orderGreedy(obj, members, opts.rng, { budget: opts.orderBudget }) : members;
  const { gains, objectives } = replayObjective(obj, order);
  let left = 0;
  for (let s = 0; s < start.length; s++) if (!obj.inSet[start[s]]) left++;
  const t4 = performance.now();
  return {
    order,
    gains,
    objectives,
    objective: objectives.length ? objectives[objectives.length - 1] : 0,
    objectiveStart,
    objectiveGrown,
    left,
    grown,
    shrunk,
    refine,
    seconds: { tables: (t1 - t0) / 1000, grow: (t2 - t1) / 1000, refine: (t3 - t2) / 1000, order: (t4 - t3) / 1000 },
  };
}


/**
 * Random first-improvement swaps (as the selection's refinement, docs/selection.md) where the
 * clip swapped out is one of `weak` (members of the subset) and the clip swapped in is a new
 * unselected clip with probability 1/2 and any unselected clip otherwise. A clip swapped in
 * takes the place of the one it replaced in the weak list. Returns the refined members.
 */
export function refineTowardNew(
  obj: MIObjective,
  members: Int32Array,
  weak: Int32Array,
  isNew: Uint8Array,
  rng: Rng,
  opts: { maxEvaluations: number; patience: number; seconds: number },
): { selected: Int32Array; stats: RefineStats } {
  const sel = Int32Array.from(weak);
  const S = sel.length;
  const uns = new Int32Array(obj.pool - members.length);
  // The new unselected clips are kept in front of `uns`: [0, nNew).
  let nNew = 0;
  let u = 0;
  for (let x = 0; x < obj.pool; x++) if (!obj.inSet[x] && isNew[x]) uns[u++] = x;
  nNew = u;
  for (let x = 0; x < obj.pool; x++) if (!obj.inSet[x] && !isNew[x]) uns[u++] = x;
  const U = u;
  const before = obj.value();
  const start = performance.now();
  const finish = (evaluations: number, accepted: number, stoppedBy: RefineStats['stoppedBy']) => {
    obj.resync();
    return {
      selected: membersOf(obj),
      stats: { evaluations, accepted, stoppedBy, seconds: (performance.now() - start) / 1000, objectiveBefore: before, objectiveAfter: obj.value() },
    };
  };
  if (S === 0 || U === 0) return finish(0, 0, 'nothing-to-swap');
  const deadline = start + opts.seconds * 1000;
  const tolerance = 1e-9;
  let evaluations = 0;
  let accepted = 0;
  let since = 0;
  let stoppedBy: RefineStats['stoppedBy'] = 'evaluations';
  while (evaluations < opts.maxEvaluations) {
    const a = rng.int(S);
    // Half the draws from the new unselected clips (when any are left), half from all.
    const b = nNew > 0 && rng.next() < 0.5 ? rng.int(nNew) : rng.int(U);
    const out = sel[a];
    const inn = uns[b];
    evaluations++;
    if (obj.swapDelta(out, inn) > tolerance) {
      obj.remove(out);
      obj.add(inn);
      sel[a] = inn;
      // `out` takes the place of `inn`; keep the new unselected clips in front.
      if (b < nNew) {
        if (isNew[out]) uns[b] = out;
        else {
          uns[b] = uns[nNew - 1];
          uns[nNew - 1] = out;
          nNew--;
        }
      } else if (isNew[out]) {
        uns[b] = uns[nNew];
        uns[nNew] = out;
        nNew++;
      } else uns[b] = out;
      accepted++;
      since = 0;
    } else if (++since >= opts.patience) {
      stoppedBy = 'patience';
      break;
    }
    if ((evaluations & 4095) === 0 && performance.now() > deadline) {
      stoppedBy = 'time';
      break;
    }
  }
  return finish(evaluations, accepted, stoppedBy);
}

function membersOf(obj: MIObjective): Int32Array {
  const out = new Int32Array(obj.size);
  let s = 0;
  for (let x = 0; x < obj.pool; x++) if (obj.inSet[x]) out[s++] = x;
  return out;
}
