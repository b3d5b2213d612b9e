/**
 * batch(n): group n consecutive items. Items that are records are collated field by field:
 * NdArray fields are stacked into one NdArray with a leading batch axis (all items must agree on
 * shape and dtype), other fields become arrays. Items that are NdArrays are stacked; anything else
 * is returned as an array. `dropRemainder` drops a final short batch.
 */
import type { Dataset } from '../core/dataset.js';
import { DONE, expectKind, item, type Node, type NodeContext, type NodeFactory, type NodeState, type StageReport } from '../core/node.js';
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

class BatchNode<T> implements Node<Collated<T>> {
  private readonly upstream: Node<T>;
  private batches = 0;
  constructor(factory: NodeFactory<T>, ctx: NodeContext, private readonly n: number, private readonly drop: boolean) {
    this.upstream = factory(ctx);
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

  getState(): NodeState {
    return { kind: 'batch', batches: this.batches, upstream: this.upstream.getState() };
  }

  restore(state: NodeState): void {
    expectKind(state, 'batch');
    this.batches = Number(state.batches);
    this.upstream.restore(state.upstream as NodeState);
  }

  reports(): StageReport[] {
    return this.upstream.reports();
  }

  async close(): Promise<void> {
    await this.upstream.close?.();
  }
}

export function batchDataset<T>(ds: Dataset<T>, n: number, opts: BatchOptions = {}): Dataset<Collated<T>> {
  if (!Number.isInteger(n) || n < 1) throw new RangeError(`batch: size must be a positive integer, got ${n}`);
  const drop = opts.dropRemainder ?? false;
  const size = ds.size === null || ds.size === Infinity ? ds.size : drop ? Math.floor(ds.size / n) : Math.ceil(ds.size / n);
  return ds.derive((up, ctx) => new BatchNode(up, ctx, n, drop), size);
}
