/**
 * batch(n): group n consecutive items. Items that are records are collated field by field:
 * NdArray fields are stacked into one NdArray with a leading batch axis (all items must agree on
 * shape and dtype), other fields become arrays. Items that are NdArrays are stacked; anything else
 * is returned as an array. `dropRemainder` drops a final short batch.
 */
import { DONE, UpstreamNode, item, type NodeContext, type NodeFactory, type NodeState, type Stage } from '../core/node.js';
import { isNdArray, stack, type NdArray } from '../formats/ndarray.js';

export interface BatchOptions {
  dropRemainder?: boolean;
}

export type Collated<T> = T extends NdArray
  ? NdArray
  : T extends readonly unknown[]
    ? T[]
    : T extends ArrayBufferView
      ? T[]
      : T extends object
        ? { [K in keyof T]: T[K] extends NdArray ? NdArray : Array<T[K]> }
        : T[];

export function collate<T>(items: T[]): Collated<T> {
  const first = items[0] as unknown;
  if (isNdArray(first)) return stack(items as unknown as NdArray[]) as Collated<T>;
  if (first === null || typeof first !== 'object' || Array.isArray(first) || ArrayBuffer.isView(first) || Buffer.isBuffer(first)) {
    return items as unknown as Collated<T>;
  }
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(first as object)) {
    const values = items.map((x) => (x as Record<string, unknown>)[key]);
    out[key] = isNdArray(values[0]) ? stack(values as NdArray[], `field "${key}"`) : values;
  }
  return out as Collated<T>;
}

class BatchNode<T> extends UpstreamNode<T, Collated<T>> {
  private batches = 0;
  constructor(factory: NodeFactory<T>, ctx: NodeContext, private readonly n: number, private readonly drop: boolean) {
    super(factory, ctx, 'batch');
  }

  async next(): Promise<IteratorResult<Collated<T>, undefined>> {
    const items: T[] = [];
    while (items.length < this.n) {
      const r = await this.upstream.next();
      if (r.done) break;
      items.push(r.value);
    }
    if (items.length === 0 || (this.drop && items.length < this.n)) return DONE;
    this.batches++;
    return item(collate(items));
  }

  protected ownState(): Record<string, unknown> {
    return { batches: this.batches };
  }

  protected restoreOwn(state: NodeState): void {
    this.batches = Number(state.batches);
  }
}

export function batchStage<T>(n: number, opts: BatchOptions = {}): Stage<T, Collated<T>> {
  if (!Number.isInteger(n) || n < 1) throw new RangeError(`batch: size must be a positive integer, got ${n}`);
  const drop = opts.dropRemainder ?? false;
  return {
    make: (up, ctx) => new BatchNode(up, ctx, n, drop),
    size: (s) => (s === null || s === Infinity ? s : drop ? Math.floor(s / n) : Math.ceil(s / n)),
  };
}
