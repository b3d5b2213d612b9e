/**
 * Buffer shuffle (as in WebDataset / tf.data): keep `bufferSize` items, hand out a random one,
 * refill from upstream. The random stream is Rng.derive(seed, 'shuffle', epoch), so each epoch made
 * by `repeat` gets its own order and the same seed always gives the same order.
 *
 * State without serialising items: which random slot is drawn never depends on item values, so
 * the buffer is fully described by the upstream positions of the items in it. The state holds the
 * upstream state just before the oldest buffered item, the positions of the buffered items relative
 * to it (in slot order) and the generator state. Restoring re-reads upstream from that point,
 * keeping the buffered positions and skipping the others (cheap for sources and 1:1 maps, which
 * skip without decoding). Put the shuffle before decode, as WebDataset does, to keep that cheap.
 */
import { DONE, StateError, UpstreamNode, expectKind, item, skipItems, type NodeContext, type NodeFactory, type NodeState, type Stage } from '../core/node.js';
import { Rng, type RngState } from '../../runtime/random.js';

interface Entry<T> {
  value: T;
  pos: number;
  /** Upstream state just before this item was pulled. */
  before: NodeState;
}

export class BufferShuffleNode<T> extends UpstreamNode<T, T> {
  private buf: Array<Entry<T>> = [];
  private nextPos = 0;
  private lastSnap: NodeState;
  private done = false;
  private readonly rng: Rng;
  private emitted = 0;
  private pending: NodeState | null = null;

  constructor(factory: NodeFactory<T>, ctx: NodeContext, private readonly bufferSize: number, seed: number) {
    super(factory, ctx, 'shuffle');
    this.lastSnap = this.upstream.getState();
    this.rng = Rng.derive(seed, 'shuffle', ctx.epoch);
  }

  private async pull(): Promise<void> {
    const before = this.lastSnap;
    const r = await this.upstream.next();
    if (r.done) {
      this.done = true;
      return;
    }
    this.lastSnap = this.upstream.getState();
    this.buf.push({ value: r.value, pos: this.nextPos++, before });
  }

  async next(): Promise<IteratorResult<T, undefined>> {
    if (this.pending) await this.replay();
    while (!this.done && this.buf.length < this.bufferSize) await this.pull();
    if (this.buf.length === 0) return DONE;
    const j = this.rng.int(this.buf.length);
    const out = this.buf[j];
    const last = this.buf.pop()!;
    if (j < this.buf.length) this.buf[j] = last;
    this.emitted++;
    return item(out.value);
  }

  protected ownState(): Record<string, unknown> {
    return {};
  }

  protected restoreOwn(): void {}

  /** Not the forwarded form: the upstream state kept is the one before the oldest buffered item. */
  override getState(): NodeState {
    if (this.pending) return this.pending;
    const base = { kind: 'shuffle', bufferSize: this.bufferSize, rng: this.rng.getState(), done: this.done, emitted: this.emitted };
    if (this.buf.length === 0) return { ...base, upstream: this.lastSnap, slots: [], pulled: 0 };
    let oldest = this.buf[0];
    for (const e of this.buf) if (e.pos < oldest.pos) oldest = e;
    const p0 = oldest.pos;
    return { ...base, upstream: oldest.before, slots: this.buf.map((e) => e.pos - p0), pulled: this.nextPos - p0 };
  }

  override restore(state: NodeState): void {
    expectKind(state, 'shuffle');
    if (state.bufferSize !== this.bufferSize) throw new StateError('shuffle', `the state has buffer size ${String(state.bufferSize)}, this stage ${this.bufferSize}`);
    this.upstream.restore(state.upstream as NodeState);
    this.lastSnap = state.upstream as NodeState;
    this.rng.setState(state.rng as { s: RngState; spare: number | null });
    this.done = Boolean(state.done);
    this.emitted = Number(state.emitted);
    this.buf = [];
    this.nextPos = 0;
    this.pending = state;
  }

  /** Rebuild the buffer of a restored state by re-reading upstream from the oldest buffered item. */
  private async replay(): Promise<void> {
    const s = this.pending!;
    this.pending = null;
    const slots = s.slots as number[];
    const pulled = Number(s.pulled);
    const slotOf = new Map<number, number>();
    slots.forEach((rel, slot) => slotOf.set(rel, slot));
    const entries = new Array<Entry<T>>(slots.length);
    let rel = 0;
    while (rel < pulled) {
      const slot = slotOf.get(rel);
      if (slot !== undefined) {
        const before = this.lastSnap;
        const r = await this.upstream.next();
        if (r.done) throw new StateError('shuffle', `upstream ended at position ${rel} while rebuilding a buffer of ${pulled} positions (is the source the same?)`);
        this.lastSnap = this.upstream.getState();
        entries[slot] = { value: r.value, pos: rel, before };
        rel++;
      } else {
        let run = 1;
        while (rel + run < pulled && !slotOf.has(rel + run)) run++;
        const k = await skipItems(this.upstream, run);
        if (k < run) throw new StateError('shuffle', `upstream ended at position ${rel + k} while rebuilding the buffer (is the source the same?)`);
        this.lastSnap = this.upstream.getState();
        rel += run;
      }
    }
    this.buf = entries;
    this.nextPos = pulled;
  }

}

export function shuffleStage<T>(bufferSize: number, seed: number): Stage<T, T> {
  if (!Number.isInteger(bufferSize) || bufferSize < 1) throw new RangeError(`shuffle: bufferSize must be a positive integer, got ${bufferSize}`);
  if (!Number.isInteger(seed)) throw new RangeError(`shuffle: seed must be an integer, got ${seed}`);
  return { make: (up, ctx) => new BufferShuffleNode(up, ctx, bufferSize, seed), size: (n) => n };
}
