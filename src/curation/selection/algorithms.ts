/**
 * Subset search over the incremental objective (docs/algorithms.md §5–6):
 * - `greedy`: each step adds the argmax over every remaining clip (exact; O(M·N·|P|));
 * - `batch-greedy`: each step draws B remaining clips (without replacement, without reshuffling
 *   the pool: a partial Fisher–Yates over a live index array), scores them against the same state,
 *   adds the top k; the other B − k stay in the pool;
 * - `stochastic-greedy`: each step draws (N/M)·ln(1/ε) remaining clips and adds the best;
 * - `random`: a uniform random subset (the baseline).
 * Then `refine`: random first-improvement swaps (a selected clip out, an unselected one in,
 * accepted when F rises), O(|P|) per evaluated swap on the same tables; and the final order:
 * greedy re-ordering of the subset from the empty set (every prefix a greedy subset of its own,
 * docs/selection.md "Ranking"), or by leave-one-out contribution F(S) − F(S − x).
 */
import type { Rng } from '../../runtime/random.js';
import { argsortDescending } from './sort.js';
import { MIObjective, SelectionInputError, type Estimator, type LabelMatrix } from './objective.js';
import { CONFIG_DEFAULTS } from '../../config/defaults.js';

export type Algorithm = 'greedy' | 'batch-greedy' | 'stochastic-greedy' | 'random';
export type RankOrder = 'greedy' | 'loo' | 'pick';

export interface RefineOptions {
  /** Run the swap refinement (default true for the greedy family, never for `random`). */
  enabled?: boolean;
  /** Stop after this many consecutive rejected swaps (default clamp(|S|·|U|, 1e4, 2e6)). */
  patience?: number;
  /** Stop after this many evaluated swaps in all (default max(1e6, 10 × |S|)). */
  maxEvaluations?: number;
  /** Wall-clock bound in seconds (default: selection.refine.seconds). Hitting it makes the result machine-dependent; it is reported. */
  seconds?: number;
  /** Called every 65,536 evaluated swaps. */
  onProgress?: (evaluations: number, accepted: number) => void;
}

export interface SearchOptions {
  algorithm?: Algorithm;
  /** Number of clips to select (1..pool). */
  target: number;
  /** Batch greedy: candidates drawn per step (B; default: selection.batchSize). */
  batchSize?: number;
  /** Batch greedy: clips added per step (k; default: selection.batchPick). */
  batchPick?: number;
  /** Stochastic greedy: ε (default: selection.epsilon). */
  epsilon?: number;
  refine?: RefineOptions | boolean;
  /**
   * Final order: `greedy` (default) re-orders the subset greedily from the empty set by marginal
   * gain plus leave-one-out contribution (see orderGreedy); `loo` by leave-one-out contribution;
   * `pick` the order clips were picked.
   */
  order?: RankOrder;
  /** Greedy order: at most this many candidate scores in all (default 4e6; beyond it each step scores a random sample). */
  orderBudget?: number;
  /**
   * Small budgets: when `target` is below this fraction of the pool, select this fraction
   * instead, rank it, and keep the first `target` clips (docs/selection.md "Small budgets"). Off
   * when undefined or 0.
   */
  overselect?: number;
  rng: Rng;
  /** Called now and then with the number of clips selected so far. */
  onProgress?: (selected: number, target: number) => void;
  /** Called now and then during refinement with the swaps evaluated and kept so far. */
  onRefineProgress?: (evaluations: number, accepted: number) => void;
}

export interface RefineStats {
  evaluations: number;
  accepted: number;
  stoppedBy: 'patience' | 'evaluations' | 'time' | 'nothing-to-swap';
  seconds: number;
  objectiveBefore: number;
  objectiveAfter: number;
}

export interface SearchResult {
  /** Pool indices of the selected clips in rank order. */
  order: Int32Array;
  /** F(prefix of r clips) − F(prefix of r − 1 clips) along the ranking. */
  gains: Float64Array;
  /** F(prefix of r clips) along the ranking. */
  objectives: Float64Array;
  /** F(S) of the final subset. */
  objective: number;
  /** The search's own pick order, with the true marginal gain and running objective at each pick. */
  pick: { order: Int32Array; gains: Float64Array; objectives: Float64Array };
  /** Leave-one-out contribution F(S) − F(S − x) for each clip of `order` (NaN when order = pick). */
  contributions: Float64Array;
  refine: RefineStats | null;
  seconds: { search: number; refine: number; order: number };
}

/**
 * The number of clips to select: `size` if given, else round(ratio × pool), clamped to 1..pool.
 * One of them is required (their defaults live in the config: selection.ratio).
 */
export function targetSize(pool: number, opts: { ratio?: number; size?: number }): number {
  if (pool < 1) return 0;
  let m: number;
  if (opts.size !== undefined) m = opts.size;
  else if (opts.ratio !== undefined) m = Math.round(opts.ratio * pool);
  else throw new SelectionInputError('give the number of clips to select (size) or a fraction of the pool (ratio)');
  return Math.max(1, Math.min(pool, Math.floor(m)));
}

/** A live array of the remaining pool indices; draws without replacement in O(draws). */
class RemainingPool {
  readonly idx: Int32Array;
  size: number;
  constructor(n: number) {
    this.idx = new Int32Array(n);
    for (let i = 0; i < n; i++) this.idx[i] = i;
    this.size = n;
  }
  /** Move `count` uniformly drawn remaining indices into positions 0..count-1 (partial Fisher–Yates). */
  draw(count: number, rng: Rng): number {
    const c = Math.min(count, this.size);
    const a = this.idx;
    for (let t = 0; t < c; t++) {
      const j = t + rng.int(this.size - t);
      const tmp = a[t];
      a[t] = a[j];
      a[j] = tmp;
    }
    return c;
  }
  /** Remove the entries at the given positions (any order; positions are distinct; reorders `positions`). */
  removePositions(positions: Int32Array): void {
    positions.sort();
    for (let q = positions.length - 1; q >= 0; q--) {
      this.idx[positions[q]] = this.idx[this.size - 1];
      this.size--;
    }
  }
}

/**
 * Select `target` clips maximising the objective. The objective must be empty; it ends holding
 * the final subset. Deterministic for a given rng state (unless the refine time bound is hit).
 */
export function searchSubset(obj: MIObjective, opts: SearchOptions): SearchResult {
  const pool = obj.pool;
  if (pool === 0) throw new SelectionInputError('the pool is empty: nothing to select from');
  if (pool === 1) throw new SelectionInputError('the pool holds a single clip: selection needs at least 2 clips');
  if (obj.size !== 0) throw new Error('searchSubset needs an empty objective state');
  let target = opts.target;
  if (!Number.isInteger(target) || target < 1 || target > pool) {
    throw new SelectionInputError(`cannot select ${target} clips from a pool of ${pool}`);
  }
  const algorithm = opts.algorithm ?? CONFIG_DEFAULTS.selection.algorithm;
  const rng = opts.rng;
  const final = target;
  const over = opts.overselect ?? 0;
  if (!(over >= 0 && over <= 1)) throw new SelectionInputError(`overselect must be in [0, 1], got ${over}`);
  // The search runs at the larger budget; the ranking is cut to `final` at the end.
  if (algorithm !== 'random' && over > 0) target = Math.max(target, Math.min(pool, Math.round(over * pool)));
  const pickOrder = new Int32Array(target);
  const pickGains = new Float64Array(target);
  const pickObjectives = new Float64Array(target);
  let picked = 0;
  let current = 0;
  const report = opts.onProgress;
  let nextReport = 0;
  const reportEvery = Math.max(1, Math.floor(target / 200));
  const addPick = (x: number): void => {
    obj.add(x);
    const value = obj.value();
    pickOrder[picked] = x;
    pickGains[picked] = value - current;
    pickObjectives[picked] = value;
    current = value;
    picked++;
    if (report && picked >= nextReport) {
      report(Math.round((picked * final) / target), final);
      nextReport = picked + reportEvery;
    }
  };

  const t0 = performance.now();
  switch (algorithm) {
    case 'greedy': {
      while (picked < target) {
        let best = -1;
        let bestScore = -Infinity;
        for (let x = 0; x < pool; x++) {
          if (obj.inSet[x]) continue;
          const s = obj.gainScore(x);
          if (s > bestScore) {
            bestScore = s;
            best = x;
          }
        }
        addPick(best);
      }
      break;
    }
    case 'batch-greedy':
    case 'stochastic-greedy': {
      let B: number;
      let k: number;
      if (algorithm === 'batch-greedy') {
        B = opts.batchSize ?? CONFIG_DEFAULTS.selection.batchSize;
        k = opts.batchPick ?? CONFIG_DEFAULTS.selection.batchPick;
        if (!Number.isInteger(B) || B < 1) throw new SelectionInputError(`batch size B must be a positive integer, got ${B}`);
        if (!Number.isInteger(k) || k < 1 || k > B) throw new SelectionInputError(`batch pick k must be an integer in 1..B (${B}), got ${k}`);
      } else {
        const eps = opts.epsilon ?? CONFIG_DEFAULTS.selection.epsilon;
        if (!(eps > 0 && eps < 1)) throw new SelectionInputError(`epsilon must be in (0, 1), got ${eps}`);
        B = Math.max(1, Math.ceil((pool / target) * Math.log(1 / eps)));
        k = 1;
      }
      const remaining = new RemainingPool(pool);
      const scores = new Float64Array(B);
      const taken = new Uint8Array(B);
      const chosen = new Int32Array(k);
      const idx = remaining.idx;
      while (picked < target) {
        const c = remaining.draw(B, rng);
        for (let t = 0; t < c; t++) scores[t] = obj.gainScore(idx[t]);
        const take = Math.min(k, c, target - picked);
        topByScore(scores, idx, c, take, taken, chosen);
        for (let q = 0; q < take; q++) addPick(idx[chosen[q]]);
        remaining.removePositions(chosen.subarray(0, take));
      }
      break;
    }
    case 'random': {
      const remaining = new RemainingPool(pool);
      remaining.draw(target, rng);
      for (let t = 0; t < target; t++) addPick(remaining.idx[t]);
      break;
    }
    default:
      throw new SelectionInputError(`unknown selection algorithm "${String(algorithm)}" (greedy, batch-greedy, stochastic-greedy, random)`);
  }
  const t1 = performance.now();

  const refineOpts: RefineOptions =
    typeof opts.refine === 'boolean' ? { enabled: opts.refine } : { enabled: CONFIG_DEFAULTS.selection.refine.enabled, ...(opts.refine ?? {}) };
  let refineStats: RefineStats | null = null;
  let selected: Int32Array = pickOrder;
  if (refineOpts.enabled !== false && algorithm !== 'random') {
    const out = refineSwaps(obj, pickOrder, rng, { ...refineOpts, onProgress: refineOpts.onProgress ?? opts.onRefineProgress });
    refineStats = out.stats;
    selected = out.selected;
  }
  obj.resync();
  const t2 = performance.now();

  let order: Int32Array;
  let contributions = new Float64Array(target);
  const orderKind = opts.order ?? CONFIG_DEFAULTS.selection.order;
  if (orderKind === 'loo') {
    order = orderByLeaveOneOut(obj, selected, contributions);
  } else if (orderKind === 'greedy' && target < meanCells(obj)) {
    // Fewer clips than a pair has cells: a prefix's tables are mostly empty or single clips and its
    // MI says nothing (measured: pool 200, k 32), so the order falls back to leave-one-out.
    order = orderByLeaveOneOut(obj, selected, contributions);
  } else if (orderKind === 'greedy') {
    order = orderGreedy(obj, selected, rng, { budget: opts.orderBudget, contributions });
  } else {
    // Keep the pick order; clips swapped in by refinement take the places of those swapped out.
    order = selected;
    contributions.fill(NaN);
  }
  if (final < target) {
    order = order.slice(0, final);
    contributions = contributions.slice(0, final);
  }
  const replayed = replayObjective(obj, order);
  const t3 = performance.now();
  return {
    order,
    gains: replayed.gains,
    objectives: replayed.objectives,
    objective: replayed.objectives[final - 1],
    pick: { order: pickOrder, gains: pickGains, objectives: pickObjectives },
    contributions,
    refine: refineStats,
    seconds: { search: (t1 - t0) / 1000, refine: (t2 - t1) / 1000, order: (t3 - t2) / 1000 },
  };
}

/**
 * Random first-improvement swap refinement of the subset held by `obj` (whose members are
 * `members`). Returns the refined members, each swapped-in clip in the slot of the one it replaced.
 */
export function refineSwaps(
  obj: MIObjective,
  members: Int32Array,
  rng: Rng,
  opts: RefineOptions = {},
): { selected: Int32Array; stats: RefineStats } {
  const pool = obj.pool;
  const sel = Int32Array.from(members);
  const S = sel.length;
  const U = pool - S;
  const uns = new Int32Array(U);
  {
    let u = 0;
    for (let x = 0; x < pool; x++) if (!obj.inSet[x]) uns[u++] = x;
  }
  const before = obj.value();
  const start = performance.now();
  if (S === 0 || U === 0) {
    return {
      selected: sel,
      stats: { evaluations: 0, accepted: 0, stoppedBy: 'nothing-to-swap', seconds: 0, objectiveBefore: before, objectiveAfter: before },
    };
  }
  const patience = opts.patience ?? Math.min(2_000_000, Math.max(10_000, S * U));
  const maxEvaluations = opts.maxEvaluations ?? Math.max(1_000_000, 10 * S);
  const deadline = start + (opts.seconds ?? CONFIG_DEFAULTS.selection.refine.seconds) * 1000;
  // Improvements smaller than this (in summed-term units) are rounding noise, not progress.
  const tolerance = 1e-9;
  let evaluations = 0;
  let accepted = 0;
  let sinceImprovement = 0;
  let stoppedBy: RefineStats['stoppedBy'] = 'evaluations';
  while (evaluations < maxEvaluations) {
    const a = rng.int(S);
    const b = rng.int(U);
    const out = sel[a];
    const inn = uns[b];
    evaluations++;
    if (obj.swapDelta(out, inn) > tolerance) {
      obj.remove(out);
      obj.add(inn);
      sel[a] = inn;
      uns[b] = out;
      accepted++;
      sinceImprovement = 0;
    } else if (++sinceImprovement >= patience) {
      stoppedBy = 'patience';
      break;
    }
    if ((evaluations & 4095) === 0) {
      if (performance.now() > deadline) {
        stoppedBy = 'time';
        break;
      }
      if ((evaluations & 65535) === 0) opts.onProgress?.(evaluations, accepted);
    }
  }
  obj.resync();
  return {
    selected: sel,
    stats: {
      evaluations,
      accepted,
      stoppedBy,
      seconds: (performance.now() - start) / 1000,
      objectiveBefore: before,
      objectiveAfter: obj.value(),
    },
  };
}

/**
 * Order the subset held by `obj` by leave-one-out contribution F(S) − F(S − x), highest first
 * (ties keep the given order). Fills `contributions` (aligned with the returned order).
 */
export function orderByLeaveOneOut(obj: MIObjective, members: Int32Array, contributions?: Float64Array): Int32Array {
  const S = members.length;
  const value = obj.value();
  const contrib = obj.valuesAfterRemove(members, new Float64Array(S));
  for (let s = 0; s < S; s++) contrib[s] = value - contrib[s];
  // A stable radix sort on the float bits, not a comparator sort (sort.ts).
  const positions = argsortDescending(contrib);
  const order = new Int32Array(S);
  for (let r = 0; r < S; r++) {
    order[r] = members[positions[r]];
    if (contributions) contributions[r] = contrib[positions[r]];
  }
  return order;
}

/** Mean number of cells k_i·k_j of the objective's pairs. */
export function meanCells(obj: MIObjective): number {
  let sum = 0;
  for (let p = 0; p < obj.pairs.length; p += 2) sum += obj.ks[obj.pairs[p]] * obj.ks[obj.pairs[p + 1]];
  return sum / Math.max(1, obj.pairCount);
}

export interface GreedyOrderOptions {
  /**
   * At most this many candidate scores in all (default 4e6). Exact greedy costs |S|(|S|+1)/2
   * scores; beyond the budget each step scores a uniform sample of the remaining clips
   * (at least 20) and adds the best of them.
   */
  budget?: number;
  /** Filled with each ranked clip's leave-one-out contribution in the full subset. */
  contributions?: Float64Array;
}

/**
 * Order the subset held by `obj` (members `members`) greedily from the empty set. Rank r + 1 goes to
 * the clip x that maximises
 *
 *     (r + 1) · (F(R + x) − F(R))  +  |S| · (F(S) − F(S − x))
 *
 * over the clips not yet ranked (R = the r clips ranked so far): its per-clip gain on the prefix
 * plus its per-clip leave-one-out contribution in the whole subset, both in nats, equal weights;
 * ties go to the larger leave-one-out contribution, then to the position in `members`. The first
 * term opens concepts one after another and fills them in balance, so every prefix is a good
 * subset on its own and F rises from the second row; the second term holds back clips that
 * disagree with the audio-visual mapping of the whole subset, which a small prefix cannot see (a
 * mismatched clip that opens unseen clusters looks like a new concept to the prefix alone).
 * Leaves `obj` holding the subset again.
 */
export function orderGreedy(obj: MIObjective, members: Int32Array, rng: Rng, opts: GreedyOrderOptions = {}): Int32Array {
  const S = members.length;
  const value = obj.value();
  const loo = new Float64Array(S);
  for (let s = 0; s < S; s++) loo[s] = value - obj.valueAfterRemove(members[s]);
  const budget = opts.budget ?? 4e6;
  const exact = (S * (S + 1)) / 2 <= budget;
  const sample = exact ? S : Math.max(20, Math.floor(budget / S));
  obj.clear();
  // Remaining positions into `members`, compacted as clips are ranked.
  const rem = new Int32Array(S);
  for (let s = 0; s < S; s++) rem[s] = s;
  let left = S;
  const order = new Int32Array(S);
  for (let r = 0; r < S; r++) {
    const c = Math.min(left, sample);
    if (c < left) {
      // Partial Fisher–Yates: a uniform sample of c remaining positions at rem[0..c).
      for (let t = 0; t < c; t++) {
        const j = t + rng.int(left - t);
        const tmp = rem[t];
        rem[t] = rem[j];
        rem[j] = tmp;
      }
    }
    const current = obj.value();
    const size = obj.size;
    const term = obj.term;
    let best = -1;
    let bestScore = -Infinity;
    for (let t = 0; t < c; t++) {
      const s = rem[t];
      const score = (r + 1) * (obj.valueOf(size + 1, term + obj.gainScore(members[s])) - current) + S * loo[s];
      if (best < 0) {
        best = t;
        bestScore = score;
        continue;
      }
      const b = rem[best];
      const eps = 1e-12 * Math.max(1, Math.abs(bestScore));
      if (score > bestScore + eps || (Math.abs(score - bestScore) <= eps && (loo[s] > loo[b] || (loo[s] === loo[b] && s < b)))) {
        best = t;
        bestScore = score;
      }
    }
    const s = rem[best];
    obj.add(members[s]);
    order[r] = members[s];
    if (opts.contributions) opts.contributions[r] = loo[s];
    rem[best] = rem[left - 1];
    left--;
  }
  obj.resync();
  return order;
}

/**
 * Replay a ranking on the objective: F of every prefix and the marginal gain of each clip. Leaves
 * `obj` holding exactly the ranked clips.
 */
export function replayObjective(obj: MIObjective, order: ArrayLike<number>): { gains: Float64Array; objectives: Float64Array } {
  obj.clear();
  const gains = new Float64Array(order.length);
  const objectives = new Float64Array(order.length);
  let current = 0;
  for (let r = 0; r < order.length; r++) {
    obj.add(order[r]);
    const v = obj.value();
    gains[r] = v - current;
    objectives[r] = v;
    current = v;
  }
  obj.resync();
  if (order.length > 0) objectives[order.length - 1] = obj.value();
  return { gains, objectives };
}

export interface SelectLabelsOptions extends Omit<SearchOptions, 'target'> {
  /** Pairs as a flat [i0, j0, ...] list of clustering indices. */
  pairs: ArrayLike<number>;
  estimator?: Estimator;
  /** Number of clips, or a ratio of the pool (one of them is required). */
  size?: number;
  ratio?: number;
}

/** One call: build the objective over a label matrix and search. */
export function selectFromLabels(matrix: LabelMatrix, opts: SelectLabelsOptions): SearchResult & { objectiveState: MIObjective } {
  const obj = new MIObjective(matrix, opts.pairs, { estimator: opts.estimator });
  if (matrix.n === 0) throw new SelectionInputError('the pool is empty: nothing to select from');
  const target = targetSize(matrix.n, { ratio: opts.ratio, size: opts.size });
  const result = searchSubset(obj, { ...opts, target });
  return { ...result, objectiveState: obj };
}

/**
 * The positions of the `take` highest of scores[0..c) into chosen[0..take); ties go to the lowest
 * pool index idx[t], as in exact greedy (so B = pool size with k = 1 is exact greedy). k is small:
 * repeated arg-max. `taken` is scratch of at least c entries.
 */
export function topByScore(scores: Float64Array, idx: ArrayLike<number>, c: number, take: number, taken: Uint8Array, chosen: Int32Array): void {
  taken.fill(0, 0, c);
  for (let q = 0; q < take; q++) {
    let best = -1;
    for (let t = 0; t < c; t++) {
      if (taken[t]) continue;
      if (best < 0 || scores[t] > scores[best] || (scores[t] === scores[best] && idx[t] < idx[best])) best = t;
    }
    taken[best] = 1;
    chosen[q] = best;
  }
}
