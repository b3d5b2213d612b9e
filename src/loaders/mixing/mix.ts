/**
 * mix(datasets, weights, seed): at each step draw source i with probability weights[i] / sum and
 * take its next item. `stop: 'first'` (default) ends when any source is exhausted, keeping the
 * proportions; `stop: 'all'` drops exhausted sources and renormalises the rest. Sources that should
 * never end are `.repeat()`ed first. State: the generator and every source's state.
 */
import { Dataset } from '../core/dataset.js';
import { DONE, expectKind, type Node, type NodeContext, type NodeState, type StageReport } from '../core/node.js';
import { Rng, type RngState } from '../../runtime/random.js';

export interface MixOptions {
  stop?: 'first' | 'all';
}

class MixNode<T> implements Node<T> {
  private readonly children: Array<Node<T>>;
  private readonly alive: boolean[];
  private readonly rng: Rng;
  private finished = false;
  private drawn = 0;

  constructor(datasets: ReadonlyArray<Dataset<T>>, ctx: NodeContext, private readonly weights: number[], seed: number, private readonly stop: 'first' | 'all') {
    this.children = datasets.map((d) => d.makeNode(ctx));
    this.alive = datasets.map(() => true);
    this.rng = Rng.derive(seed, 'mix', ctx.epoch);
  }

  private pick(): number {
    let total = 0;
    for (let i = 0; i < this.weights.length; i++) if (this.alive[i]) total += this.weights[i];
    let u = this.rng.next() * total;
    let last = -1;
    for (let i = 0; i < this.weights.length; i++) {
      if (!this.alive[i] || this.weights[i] <= 0) continue;
      last = i;
      if (u < this.weights[i]) return i;
      u -= this.weights[i];
    }
    return last;
  }

  async next(): Promise<IteratorResult<T, undefined>> {
    while (!this.finished) {
      const i = this.pick();
      if (i < 0) break;
      const r = await this.children[i].next();
      if (!r.done) {
        this.drawn++;
        return r;
      }
      this.alive[i] = false;
      if (this.stop === 'first') break;
    }
    this.finished = true;
    return DONE;
  }

  getState(): NodeState {
    return {
      kind: 'mix',
      rng: this.rng.getState(),
      alive: [...this.alive],
      finished: this.finished,
      drawn: this.drawn,
      sources: this.children.map((c) => c.getState()),
    };
  }

  restore(state: NodeState): void {
    expectKind(state, 'mix');
    const sources = state.sources as NodeState[];
    if (sources.length !== this.children.length) throw new Error(`cannot restore mix: the state has ${sources.length} sources, this mix ${this.children.length}`);
    this.rng.setState(state.rng as { s: RngState; spare: number | null });
    (state.alive as boolean[]).forEach((a, i) => (this.alive[i] = a));
    this.finished = Boolean(state.finished);
    this.drawn = Number(state.drawn);
    sources.forEach((s, i) => this.children[i].restore(s));
  }

  reports(): StageReport[] {
    return this.children.flatMap((c) => c.reports());
  }

  async close(): Promise<void> {
    await Promise.all(this.children.map((c) => c.close?.()));
  }
}

export function mix<T>(datasets: ReadonlyArray<Dataset<T>>, weights: readonly number[], seed: number, opts: MixOptions = {}): Dataset<T> {
  if (datasets.length === 0) throw new RangeError('mix: give at least one dataset');
  if (weights.length !== datasets.length) throw new RangeError(`mix: ${datasets.length} datasets but ${weights.length} weights`);
  if (weights.some((w) => !(w >= 0) || !Number.isFinite(w)) || weights.every((w) => w === 0)) {
    throw new RangeError(`mix: weights must be finite, non-negative and not all zero, got [${weights.join(', ')}]`);
  }
  const stop = opts.stop ?? 'first';
  const ws = [...weights];
  const list = [...datasets];
  const sizes = list.map((d) => d.size);
  const size = sizes.every((s) => s === Infinity) ? Infinity : stop === 'all' && sizes.every((s) => s !== null && s !== Infinity) ? sizes.reduce((a, b) => a! + b!, 0) : null;
  return new Dataset<T>((ctx) => new MixNode(list, ctx, ws, seed, stop), size);
}
