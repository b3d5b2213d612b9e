/**
 * Continuing a selection on an enlarged pool (incremental curation; docs/selection.md "Adding
 * clips"). The previous selection is the start: its clips are put into the MI tables as they
 * are. The old clips left out of it were already examined and rejected by the previous search;
 * the new clips were never looked at. So:
 * - grow: the subset is grown to the new target by a lazy greedy over the new clips plus as many
 *   old unselected clips drawn at random (all of them when fewer), so that half the candidates
 *   are new rather than one in ten: each candidate is scored once, then the best is re-scored
 *   and taken while it stays ahead of the next stale score. It fills few places from many
 *   candidates, where a batch greedy step (k of B random candidates) takes many clips a full
 *   greedy would not; measured on the 1M planted benchmark, the lazy greedy reaches a higher F
 *   than batch greedy with k of 80 and costs half its evaluations;
 * - refine: swap refinement over the enlarged pool, where the clip swapped in is a new unselected
 *   clip half the time and any unselected clip otherwise (so a new clip can displace an old one
 *   that now fits worse, and old rejects still get their chance);
 * - order: the order of a full run (selection.order: greedy re-ordering, leave-one-out, or pick).
 * When the target is smaller than the start (a fixed size), the clips with the smallest
 * leave-one-out contribution leave first.
 *
 * Cost: O(n) to build the tables, O(|S| · |P|) to load the start (in pool order), one score per
 * candidate plus the re-scorings of the lazy greedy, a refinement budget proportional to the change (new
 * clips + new picks), not to the pool, and the order (leave-one-out: O(|S| · |P|) and a radix
 * sort). A full rerun pays the greedy for every selected clip and a refinement
 * budget proportional to the selection.
 */
import type { Rng } from '../../runtime/random.js';
import { orderByLeaveOneOut, orderGreedy, replayObjective, targetSize, type RankOrder, type RefineStats } from '../selection/algorithms.js';
import { argsortDescending } from '../selection/sort.js';
import { MIObjective, SelectionInputError, type Estimator, type LabelMatrix } from '../selection/objective.js';
import { CONFIG_DEFAULTS } from '../../config/defaults.js';

export interface ContinueOptions {
  pairs: ArrayLike<number>;
  estimator: Estimator;
  ratio?: number;
  size?: number;
  /** The selection's batch greedy parameters (B, k); checked here, the growth itself is a lazy greedy. */
  batchSize: number;
  batchPick: number;
  /** Run the swap refinement (default true). */
  refine?: boolean;
  /**
   * Refinement budget: evaluated swaps in all and consecutive rejected swaps. Default for both:
   * max(5·10⁴, (new clips + clips the target grew by) / 2).
   */
  maxEvaluations?: number;
  patience?: number;
  /** Wall-clock bound of the refinement in seconds (default: incremental.refine.seconds). */
  seconds?: number;
  /** Final order, as the selection stage's `selection.order` (its default lives in the config; docs/selection.md). */
  order: RankOrder;
  /**
   * With the greedy order: `merge` (default: incremental.reorder) keeps the previous ranking for the clips that stay
   * and merges the clips that entered into it by the greedy criterion (two scores per rank, see
   * mergeGreedyOrder); `full` re-orders the whole selection from the empty set as a full run does
   * (|S| × 20 scores at the default budget: 2.5 s CPU of a 1.1M-clip pool's 220k selected clips).
   */
  reorder?: 'merge' | 'full';
  /** Evaluations of the greedy order (the selection's orderBudget). */
  orderBudget?: number;
  /** Share of the start, the end of its ranking, that the refinement may swap out (default: incremental.refine.weakShare). */
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
 * Continue from `start` (pool indices of the previous selection, distinct, in its rank order) over `matrix`.
 * `isNew[x]` is 1 for the pool clips added since the start was selected. The labels must be
 * validated already.
 */
export function continueSelection(matrix: LabelMatrix, start: ArrayLike<number>, isNew: Uint8Array, opts: ContinueOptions): ContinueResult {
  const n = matrix.n;
  if (isNew.length !== n) throw new Error(`continueSelection: isNew has ${isNew.length} entries for a pool of ${n}`);
  const added = countOnes(isNew);
  if (n < 2) throw new SelectionInputError(`the pool holds ${n} clip(s): selection needs at least 2`);
  const t0 = performance.now();
  const obj = new MIObjective(matrix, opts.pairs, { estimator: opts.estimator, trusted: true });
  loadStart(obj, start);
  const objectiveStart = obj.value();
  const target = targetSize(n, { ratio: opts.ratio, size: opts.size });
  const t1 = performance.now();

  // Shrink (a smaller fixed size): drop the smallest leave-one-out contributions, a tenth of the
  // excess per round so that contributions are re-measured as the subset changes.
  let shrunk = 0;
  while (obj.size > target) shrunk += shrinkStep(obj, target);

  // Grow: lazy greedy over the new unselected clips and as many old unselected clips drawn at
  // random (a partial Fisher–Yates draw).
  let grownClips: Int32Array = new Int32Array(0);
  if (obj.size < target) {
    const B = opts.batchSize;
    const k = opts.batchPick;
    if (!Number.isInteger(B) || B < 1) throw new SelectionInputError(`batch size B must be a positive integer, got ${B}`);
    if (!Number.isInteger(k) || k < 1 || k > B) throw new SelectionInputError(`batch pick k must be an integer in 1..B (${B}), got ${k}`);
    const candidates = growCandidates(obj, isNew, target - obj.size, opts.rng);
    grownClips = growLazyGreedy(obj, candidates, target);
  }
  const grown = grownClips.length;
  obj.resync();
  const objectiveGrown = obj.value();
  const t2 = performance.now();

  let refine: RefineStats | null = null;
  let members = membersOf(obj);
  if (opts.refine !== false) {
    // The clips that may be swapped out: the share of the previous selection its ranking put last
    // (`start` is in rank order) and the clips just grown; the previous search kept the others
    // for good reasons, and an exchange that raises F almost always removes a weak clip.
    const weakStart = tailOf(obj, start, Math.min(start.length, Math.ceil(start.length * (opts.weakShare ?? CONFIG_DEFAULTS.incremental.refine.weakShare))));
    const weak = new Int32Array(weakStart.length + grown);
    weak.set(weakStart);
    weak.set(grownClips, weakStart.length);
    const budget = Math.max(50_000, Math.ceil((added + grown) / 2));
    const out = refineTowardNew(obj, members, weak, isNew, opts.rng, {
      maxEvaluations: opts.maxEvaluations ?? budget,
      patience: opts.patience ?? budget,
      seconds: opts.seconds ?? CONFIG_DEFAULTS.incremental.refine.seconds,
    });
    refine = out.stats;
    members = out.selected;
  }
  const t3 = performance.now();
  const kind = opts.order;
  const left = countLeft(obj.inSet, start);
  let order: Int32Array;
  let gains: Float64Array;
  let objectives: Float64Array;
  if (kind === 'greedy' && (opts.reorder ?? CONFIG_DEFAULTS.incremental.reorder) === 'merge') ({ order, gains, objectives } = mergeGreedyOrder(obj, members, start));
  else {
    order = kind === 'loo' ? orderByLeaveOneOut(obj, members) : kind === 'greedy' ? orderGreedy(obj, members, opts.rng, { budget: opts.orderBudget }) : members;
    ({ gains, objectives } = replayObjective(obj, order));
  }
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



// The steps of continueSelection are small functions of their own: each runs once per call over
// up to the whole pool, and V8 compiles a hot loop together with the function around it (on-stack
// replacement), so loops inside one large function cost a compile of all of it, several times
// (measured: ~0.15 s CPU of a 0.8 s incremental run on 1.1M clips).

function countOnes(flags: Uint8Array): number {
  let c = 0;
  for (let x = 0; x < flags.length; x++) c += flags[x] ? 1 : 0;
  return c;
}

function countLeft(inSet: Uint8Array, start: ArrayLike<number>): number {
  let c = 0;
  for (let s = 0; s < start.length; s++) c += inSet[start[s]] ^ 1;
  return c;
}

/**
 * Put the start clips into the tables (counts only; the summed term is recomputed once), checked:
 * in the pool, no repeats. They are marked first and then added in pool order, so that the pass
 * reads the label matrix forward, not at random (~3x fewer cache misses on a 1M-clip pool than
 * in rank order), without sorting them.
 */
function loadStart(obj: MIObjective, start: ArrayLike<number>): void {
  const n = obj.pool;
  const inSet = obj.inSet;
  for (let s = 0; s < start.length; s++) {
    const x = start[s];
    if (!Number.isInteger(x) || x < 0 || x >= n) throw new SelectionInputError(`start clip ${x} is outside the pool of ${n}`);
    if (inSet[x]) throw new SelectionInputError(`start clip ${x} appears twice`);
    inSet[x] = 1;
  }
  const update = obj.kernels.update;
  for (let x = 0; x < n; x++) if (inSet[x]) update(x, 1);
  obj.size += start.length;
  obj.resync();
}

/** One round of shrinking toward `target`: drop the weakest tenth of the excess. Returns how many left. */
function shrinkStep(obj: MIObjective, target: number): number {
  const members = membersOf(obj);
  const contrib = new Float64Array(members.length);
  const value = obj.value();
  for (let s = 0; s < members.length; s++) contrib[s] = value - obj.valueAfterRemove(members[s]);
  const idx = Array.from(members.keys()).sort((a, b) => contrib[a] - contrib[b] || members[a] - members[b]);
  const drop = Math.max(1, Math.ceil((obj.size - target) / 10));
  for (let q = 0; q < drop; q++) obj.remove(members[idx[q]]);
  return drop;
}

/**
 * The greedy's candidates, in pool order: every new unselected clip, and as many old unselected
 * clips drawn at random (at least enough to fill `need`; all of them when fewer). Pool order
 * makes the first scoring pass read the label matrix forward; the greedy's choices do not depend
 * on the order of its candidates (ties go to the lower pool index).
 */
function growCandidates(obj: MIObjective, isNew: Uint8Array, need: number, rng: Rng): Int32Array {
  const n = obj.pool;
  const inSet = obj.inSet;
  let nFresh = 0;
  let nOld = 0;
  for (let x = 0; x < n; x++) {
    const free = inSet[x] ^ 1;
    const fresh = isNew[x] ? free : 0;
    nFresh += fresh;
    nOld += free - fresh;
  }
  const old = new Int32Array(nOld);
  const oldCount = Math.min(nOld, Math.max(nFresh, need - nFresh));
  let o = 0;
  for (let x = 0; x < n; x++) if (!inSet[x] && !isNew[x]) old[o++] = x;
  // A partial Fisher–Yates draw of oldCount old clips, marked.
  const drawn = new Uint8Array(n);
  for (let t = 0; t < oldCount; t++) {
    const j = t + rng.int(nOld - t);
    const tmp = old[t];
    old[t] = old[j];
    old[j] = tmp;
    drawn[old[t]] = 1;
  }
  const idx = new Int32Array(nFresh + oldCount);
  let c = 0;
  for (let x = 0; x < n; x++) if (!inSet[x] && (isNew[x] || drawn[x])) idx[c++] = x;
  return idx;
}

/**
 * Lazy greedy from the current subset up to `target` over the candidates `idx`: every candidate is
 * scored once; then the best by (possibly stale) score is re-scored and added when it is still
 * within LAZY_SLACK (relative) of the next best stale score, else put back with its new score.
 * Ties go to the lower pool index. At most 4 × candidates re-scorings; after that the best stale
 * score is taken as it is. Returns the clips added, in order.
 *
 * The MI gain is not submodular: adding a clip raises the gain of the clips in its cells and
 * lowers that of the clips sharing only its clusters by a little, so with no slack nearly every
 * re-scored top falls just below a stale score and is put back (measured on the 1M planted
 * benchmark: 718,000 re-scorings for 20,000 picks). A slack of 10⁻³ of the score takes 56,000
 * re-scorings there and the same F to 4 digits (also with 10⁻⁴ and 10⁻²).
 *
 * The candidates are kept in two places: those never re-scored in one array sorted by their first
 * score (a radix sort), those re-scored and put back in a max-heap. The best candidate is the
 * better of the two fronts, the next best the better of what follows it; the choices are those
 * of one heap over every candidate, but the heap holds only the clips put back (~36,000 of the
 * 200,000 candidates on the 1M planted benchmark), so each step costs a few comparisons instead
 * of a sift through the whole heap.
 */
const LAZY_SLACK = 1e-3;

export function growLazyGreedy(obj: MIObjective, idx: Int32Array, target: number): Int32Array {
  const m = idx.length;
  const added = new Int32Array(Math.max(0, Math.min(m, target - obj.size)));
  if (added.length === 0) return added;
  // Candidates in pool order, so that equal scores keep the lower pool index first.
  let ascending = true;
  for (let t = 1; t < m && ascending; t++) ascending = idx[t] > idx[t - 1];
  const clips = ascending ? idx : Int32Array.from(idx).sort();
  const first = new Float64Array(m);
  for (let t = 0; t < m; t++) first[t] = obj.gainScore(clips[t]);
  // The never re-scored: positions into clips by first score, highest first (stable: ties in pool order).
  const sorted = argsortDescending(first);
  let head = 0;
  // The put-back heap: max on (score, −clip).
  const hScore = new Float64Array(m);
  const hClip = new Int32Array(m);
  let hSize = 0;
  const push = (score: number, clip: number) => {
    let i = hSize++;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!(score > hScore[p] || (score === hScore[p] && clip < hClip[p]))) break;
      hScore[i] = hScore[p];
      hClip[i] = hClip[p];
      i = p;
    }
    hScore[i] = score;
    hClip[i] = clip;
  };
  const popTop = () => {
    const score = hScore[--hSize];
    const clip = hClip[hSize];
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= hSize) break;
      let c = l;
      if (l + 1 < hSize && (hScore[l + 1] > hScore[l] || (hScore[l + 1] === hScore[l] && hClip[l + 1] < hClip[l]))) c = l + 1;
      if (!(hScore[c] > score || (hScore[c] === score && hClip[c] < clip))) break;
      hScore[i] = hScore[c];
      hClip[i] = hClip[c];
      i = c;
    }
    hScore[i] = score;
    hClip[i] = clip;
  };
  let rescored = 0;
  const maxRescored = 4 * m;
  let grown = 0;
  while (obj.size < target && m - head + hSize > 0) {
    // The best candidate: the front of the sorted array or the heap's root.
    const fromSorted = hSize === 0 || (head < m && before(first[sorted[head]], clips[sorted[head]], hScore[0], hClip[0]));
    const x = fromSorted ? clips[sorted[head]] : hClip[0];
    if (rescored < maxRescored && m - head + hSize > 1) {
      const fresh = obj.gainScore(x);
      rescored++;
      // The next best: the better of what is left at the two fronts.
      let next: number;
      if (fromSorted) {
        const s = head + 1 < m ? first[sorted[head + 1]] : -Infinity;
        next = hSize === 0 || (head + 1 < m && before(s, clips[sorted[head + 1]], hScore[0], hClip[0])) ? s : hScore[0];
      } else {
        let c = hSize > 1 ? 1 : -1;
        if (hSize > 2 && (hScore[2] > hScore[1] || (hScore[2] === hScore[1] && hClip[2] < hClip[1]))) c = 2;
        const s = head < m ? first[sorted[head]] : -Infinity;
        next = c < 0 || (head < m && before(s, clips[sorted[head]], hScore[c], hClip[c])) ? s : hScore[c];
      }
      if (fresh < next - LAZY_SLACK * Math.abs(next)) {
        if (fromSorted) head++;
        else popTop();
        push(fresh, x);
        continue;
      }
    }
    obj.add(x);
    added[grown++] = x;
    if (fromSorted) head++;
    else popTop();
  }
  return added.subarray(0, grown);
}

/** (score a, clip a) comes before (score b, clip b): the higher score, then the lower clip. */
function before(sa: number, ca: number, sb: number, cb: number): boolean {
  return sa > sb || (sa === sb && ca < cb);
}

/**
 * The last `count` clips of the previous ranking `start` that are still selected: the clips it
 * ranked weakest (the leave-one-out and greedy orders rank by contribution; the pick order puts
 * the last greedy picks last). Measured on the 1M planted benchmark: the same F to 4 digits as
 * the clips with the smallest leave-one-out contribution recomputed on the enlarged pool, without
 * the |S| removal scores that took 0.05 s CPU.
 */
function tailOf(obj: MIObjective, start: ArrayLike<number>, count: number): Int32Array {
  const out = new Int32Array(count);
  let w = 0;
  for (let s = start.length - 1; s >= 0 && w < count; s--) if (obj.inSet[start[s]]) out[w++] = start[s];
  return out.subarray(0, w);
}


/**
 * The greedy order of the subset held by `obj` (its `members`), reusing the previous ranking
 * `start`: the clips of `start` still selected keep their relative order, the clips that entered
 * are taken in order of leave-one-out contribution, and each rank goes to whichever of the two
 * next clips scores higher by the greedy order's criterion (algorithms.ts orderGreedy):
 *
 *     (r + 1) · (F(R + x) − F(R))  +  |S| · (F(S) − F(S − x))
 *
 * (ties to the previous ranking). Two scores per rank instead of orderGreedy's sample of 20: the
 * previous ranking was itself made by this criterion, so its order among the clips that stay is
 * kept; what is new is where the entered clips go. Returns the order with the gain and F of every
 * prefix (no replay needed); leaves `obj` holding the subset.
 */
export function mergeGreedyOrder(obj: MIObjective, members: Int32Array, start: ArrayLike<number>): { order: Int32Array; gains: Float64Array; objectives: Float64Array } {
  const S = members.length;
  const value = obj.value();
  const loo = new Float64Array(obj.pool);
  for (let s = 0; s < S; s++) loo[members[s]] = value - obj.valueAfterRemove(members[s]);
  const inStart = new Uint8Array(obj.pool);
  const kept = new Int32Array(S);
  let nKept = 0;
  for (let s = 0; s < start.length; s++) {
    const x = start[s];
    inStart[x] = 1;
    if (obj.inSet[x]) kept[nKept++] = x;
  }
  const enteredClips = new Int32Array(S - nKept);
  let nEnt = 0;
  for (let s = 0; s < S; s++) if (!inStart[members[s]]) enteredClips[nEnt++] = members[s];
  const enteredLoo = new Float64Array(nEnt);
  for (let t = 0; t < nEnt; t++) enteredLoo[t] = loo[enteredClips[t]];
  const byLoo = argsortDescending(enteredLoo);
  obj.clear();
  const order = new Int32Array(S);
  const gains = new Float64Array(S);
  const objectives = new Float64Array(S);
  let i = 0;
  let j = 0;
  let current = 0;
  for (let r = 0; r < S; r++) {
    let x: number;
    if (j >= nEnt) x = kept[i++];
    else if (i >= nKept) x = enteredClips[byLoo[j++]];
    else {
      const a = kept[i];
      const b = enteredClips[byLoo[j]];
      const size = obj.size;
      const term = obj.term;
      const sa = (r + 1) * (obj.valueOf(size + 1, term + obj.gainScore(a)) - current) + S * loo[a];
      const sb = (r + 1) * (obj.valueOf(size + 1, term + obj.gainScore(b)) - current) + S * loo[b];
      if (sb > sa) {
        x = b;
        j++;
      } else {
        x = a;
        i++;
      }
    }
    obj.add(x);
    const v = obj.value();
    order[r] = x;
    gains[r] = v - current;
    objectives[r] = v;
    current = v;
  }
  obj.resync();
  if (S > 0) objectives[S - 1] = obj.value();
  return { order, gains, objectives };
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
  // The new unselected clips are kept in front of `uns`: [0, nNew).
  const { uns, fresh } = unselectedNewFirst(obj, members.length, isNew);
  let nNew = fresh;
  const U = uns.length;
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

/** The unselected clips, the new ones first (in pool order), then the old ones; and how many are new. */
function unselectedNewFirst(obj: MIObjective, selected: number, isNew: Uint8Array): { uns: Int32Array; fresh: number } {
  const uns = new Int32Array(obj.pool - selected);
  const inSet = obj.inSet;
  let u = 0;
  for (let x = 0; x < obj.pool; x++) if (!inSet[x] && isNew[x]) uns[u++] = x;
  const fresh = u;
  for (let x = 0; x < obj.pool; x++) if (!inSet[x] && !isNew[x]) uns[u++] = x;
  return { uns: uns.subarray(0, u), fresh };
}

function membersOf(obj: MIObjective): Int32Array {
  const out = new Int32Array(obj.size);
  let s = 0;
  for (let x = 0; x < obj.pool; x++) if (obj.inSet[x]) out[s++] = x;
  return out;
}
