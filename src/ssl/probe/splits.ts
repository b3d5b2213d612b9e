/**
 * Evaluation protocols as lists of train/test index sets: k folds (ESC-50 style, from the
 * dataset's own fold column or stratified at random), the dataset's predefined splits (UCF101
 * trainlist/testlist files, a CSV split column), one stratified hold-out, or few-shot episodes.
 */
import { Rng } from '../../runtime/random.js';

export interface ProbeSplit {
  name: string;
  train: number[];
  test: number[];
}

export type SplitProtocol =
  /** k folds: the items' own folds when every item has one, else stratified random folds. */
  | { kind: 'folds'; k: number }
  /** The splits the dataset defines (UCF101 lists, a train/test column). */
  | { kind: 'predefined' }
  /** One stratified random hold-out of `testFraction` of each class. */
  | { kind: 'holdout'; testFraction: number }
  /**
   * Few-shot episodes: in each of `episodes` episodes, `shots` random items of every class are the
   * training rows and all the other items are the test rows.
   */
  | { kind: 'fewshot'; shots: number; episodes: number };

/** Group indices by label, in index order. */
function byLabel(labels: ArrayLike<number>, indices: ArrayLike<number>): Map<number, number[]> {
  const groups = new Map<number, number[]>();
  for (let i = 0; i < indices.length; i++) {
    const idx = indices[i];
    const y = labels[idx];
    let g = groups.get(y);
    if (!g) groups.set(y, (g = []));
    g.push(idx);
  }
  return new Map([...groups.entries()].sort((a, b) => a[0] - b[0]));
}

/**
 * Assign each item to one of k folds (0..k-1) so every class is spread as evenly as possible:
 * within each class the items are shuffled and dealt round-robin, starting where the previous
 * class stopped so fold sizes stay balanced.
 */
export function stratifiedFolds(labels: ArrayLike<number>, k: number, rng: Rng): Int32Array {
  if (!Number.isInteger(k) || k < 2) throw new Error(`stratifiedFolds: k must be an integer >= 2, got ${k}`);
  const n = labels.length;
  if (n < k) throw new Error(`stratifiedFolds: ${n} items cannot fill ${k} folds`);
  const folds = new Int32Array(n);
  const all = Array.from({ length: n }, (_, i) => i);
  let next = 0;
  for (const group of byLabel(labels, all).values()) {
    rng.shuffle(group);
    for (const idx of group) {
      folds[idx] = next;
      next = (next + 1) % k;
    }
  }
  return folds;
}

/** One split per distinct fold value: that fold is the test set, the others train. */
export function foldsToSplits(folds: ArrayLike<number>, prefix = 'fold'): ProbeSplit[] {
  const values = [...new Set(Array.from(folds))].sort((a, b) => a - b);
  if (values.length < 2) throw new Error(`foldsToSplits: need at least 2 folds, found ${values.length}`);
  return values.map((f) => {
    const train: number[] = [];
    const test: number[] = [];
    for (let i = 0; i < folds.length; i++) (folds[i] === f ? test : train).push(i);
    return { name: `${prefix}${f}`, train, test };
  });
}

/**
 * Split `indices` into (train, held) with about `fraction` of every class held out; classes with a
 * single item stay in train. Deterministic for a given rng state.
 */
export function stratifiedHoldout(labels: ArrayLike<number>, indices: ArrayLike<number>, fraction: number, rng: Rng): { train: number[]; held: number[] } {
  if (!(fraction > 0 && fraction < 1)) throw new Error(`stratifiedHoldout: fraction must be in (0, 1), got ${fraction}`);
  const train: number[] = [];
  const held: number[] = [];
  for (const group of byLabel(labels, indices).values()) {
    rng.shuffle(group);
    const h = group.length < 2 ? 0 : Math.min(group.length - 1, Math.max(1, Math.round(group.length * fraction)));
    for (let i = 0; i < group.length; i++) (i < h ? held : train).push(group[i]);
  }
  train.sort((a, b) => a - b);
  held.sort((a, b) => a - b);
  return { train, held };
}

/** Items with optional folds and predefined splits, as the dataset adapters produce them. */
export interface SplittableDataset {
  labels: ArrayLike<number>;
  /** Per-item fold, when the dataset defines folds (ESC-50, a CSV fold column). */
  folds?: ArrayLike<number>;
  /** Splits the dataset defines itself. */
  splits?: ProbeSplit[];
}

/** Resolve a protocol on a dataset into concrete splits. */
export function resolveSplits(ds: SplittableDataset, protocol: SplitProtocol, rng: Rng): ProbeSplit[] {
  const n = ds.labels.length;
  switch (protocol.kind) {
    case 'predefined':
      if (ds.splits && ds.splits.length > 0) return ds.splits;
      if (ds.folds) return foldsToSplits(ds.folds);
      throw new Error('protocol "predefined": the dataset defines no splits or folds (use "folds" or "holdout")');
    case 'folds': {
      if (ds.folds) {
        const distinct = new Set(Array.from(ds.folds)).size;
        if (distinct !== protocol.k) {
          throw new Error(`protocol "folds" with k = ${protocol.k}, but the dataset defines ${distinct} folds`);
        }
        return foldsToSplits(ds.folds);
      }
      return foldsToSplits(stratifiedFolds(ds.labels, protocol.k, rng));
    }
    case 'holdout': {
      const all = Array.from({ length: n }, (_, i) => i);
      const { train, held } = stratifiedHoldout(ds.labels, all, protocol.testFraction, rng);
      return [{ name: 'holdout', train, test: held }];
    }
    case 'fewshot':
      return fewShotSplits(ds.labels, protocol.shots, protocol.episodes, rng);
  }
}

/**
 * `episodes` few-shot splits: in each, `shots` items of every class drawn at random are the
 * training rows and every other item is a test row. Every class needs more than `shots` items.
 */
export function fewShotSplits(labels: ArrayLike<number>, shots: number, episodes: number, rng: Rng): ProbeSplit[] {
  if (!(Number.isInteger(shots) && shots >= 1)) throw new Error(`few-shot protocol: shots must be a positive integer, got ${shots}`);
  if (!(Number.isInteger(episodes) && episodes >= 1)) throw new Error(`few-shot protocol: episodes must be a positive integer, got ${episodes}`);
  const all = Array.from({ length: labels.length }, (_, i) => i);
  const groups = byLabel(labels, all);
  for (const [label, g] of groups) {
    if (g.length <= shots) throw new Error(`few-shot protocol: class ${label} has ${g.length} item(s); ${shots}-shot episodes need more than ${shots} per class`);
  }
  const out: ProbeSplit[] = [];
  for (let e = 0; e < episodes; e++) {
    const train: number[] = [];
    const test: number[] = [];
    for (const g of groups.values()) {
      const order = rng.shuffle(g.slice());
      train.push(...order.slice(0, shots));
      test.push(...order.slice(shots));
    }
    train.sort((a, b) => a - b);
    test.sort((a, b) => a - b);
    out.push({ name: `episode${e}`, train, test });
  }
  return out;
}
