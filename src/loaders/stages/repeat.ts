/**
 * repeat(epochs) and take(n). `repeat` remakes its upstream for every pass with ctx.epoch set to the
 * pass number, so seeded stages upstream (shuffle, shard order, augment) change order per epoch yet
 * stay reproducible. Its state is the epoch and the upstream state within that epoch.
 */
import { DONE, UpstreamNode, expectKind, skipItems, type Node, type NodeContext, type NodeFactory, type NodeState, type Stage, type StageReport } from '../core/node.js';

function mergeReports(a: StageReport[], b: StageReport[]): StageReport[] {
  if (a.length === 0) return b;
  return b.map((r, i) => {
    const p = a[i];
    if (!p || p.stage !== r.stage) return r;
    return { stage: r.stage, skipped: p.skipped + r.skipped, errors: [...p.errors, ...r.errors].slice(0, 20) };
  });
}

class RepeatNode<T> implements Node<T> {
  private upstream: Node<T>;
  private epoch = 0;
  private inEpoch = 0;
  private finished = false;
  /** Skip reports of finished epochs, summed stage by stage (kept in the state). */
  private prior: StageReport[] = [];

  constructor(private readonly factory: NodeFactory<T>, private readonly ctx: NodeContext, private readonly epochs: number) {
    this.upstream = factory({ ...ctx, epoch: 0 });
  }

  private async advanceEpoch(): Promise<boolean> {
    if (this.inEpoch === 0 || this.epoch + 1 >= this.epochs) {
      this.finished = true;
      return false;
    }
    this.prior = mergeReports(this.prior, this.upstream.reports());
    await this.upstream.close?.();
    this.epoch++;
    this.inEpoch = 0;
    this.upstream = this.factory({ ...this.ctx, epoch: this.epoch });
    return true;
  }

  async next(): Promise<IteratorResult<T, undefined>> {
    while (!this.finished) {
      const r = await this.upstream.next();
      if (!r.done) {
        this.inEpoch++;
        return r;
      }
      if (!(await this.advanceEpoch())) break;
    }
    return DONE;
  }

  async skip(n: number): Promise<number> {
    let k = 0;
    while (k < n && !this.finished) {
      const s = await skipItems(this.upstream, n - k);
      k += s;
      this.inEpoch += s;
      if (k < n && !(await this.advanceEpoch())) break;
    }
    return k;
  }

  getState(): NodeState {
    return { kind: 'repeat', epoch: this.epoch, inEpoch: this.inEpoch, finished: this.finished, prior: this.prior, upstream: this.upstream.getState() };
  }

  restore(state: NodeState): void {
    expectKind(state, 'repeat');
    this.epoch = Number(state.epoch);
    this.inEpoch = Number(state.inEpoch);
    this.finished = Boolean(state.finished);
    this.prior = (state.prior as StageReport[] | undefined) ?? [];
    this.upstream = this.factory({ ...this.ctx, epoch: this.epoch });
    this.upstream.restore(state.upstream as NodeState);
  }

  reports(): StageReport[] {
    return mergeReports(this.prior, this.upstream.reports());
  }

  async close(): Promise<void> {
    await this.upstream.close?.();
  }
}

class TakeNode<T> extends UpstreamNode<T, T> {
  private taken = 0;
  constructor(factory: NodeFactory<T>, ctx: NodeContext, private readonly n: number) {
    super(factory, ctx, 'take');
  }
  async next(): Promise<IteratorResult<T, undefined>> {
    if (this.taken >= this.n) return DONE;
    const r = await this.upstream.next();
    if (!r.done) this.taken++;
    return r;
  }
  async skip(n: number): Promise<number> {
    const k = await skipItems(this.upstream, Math.min(n, this.n - this.taken));
    this.taken += k;
    return k;
  }
  protected ownState(): Record<string, unknown> {
    return { taken: this.taken };
  }
  protected restoreOwn(state: NodeState): void {
    this.taken = Number(state.taken);
  }
}

export function repeatStage<T>(epochs = Infinity): Stage<T, T> {
  if (!(epochs >= 1) || (epochs !== Infinity && !Number.isInteger(epochs))) throw new RangeError(`repeat: epochs must be a positive integer or Infinity, got ${epochs}`);
  return { make: (up, ctx) => new RepeatNode(up, ctx, epochs), size: (n) => (n === null ? (epochs === Infinity ? Infinity : null) : n === 0 ? 0 : n * epochs) };
}

export function takeStage<T>(n: number): Stage<T, T> {
  if (!Number.isInteger(n) || n < 0) throw new RangeError(`take: n must be a non-negative integer, got ${n}`);
  return { make: (up, ctx) => new TakeNode(up, ctx, n), size: (s) => (s === null ? null : Math.min(s, n)) };
}
