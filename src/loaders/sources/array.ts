/** A dataset over an in-memory list: state is the index of the next item; skipping is O(1). */
import { Dataset } from '../core/dataset.js';
import { DONE, expectKind, item, type Node, type NodeState, type StageReport } from '../core/node.js';

export class ArrayNode<T> implements Node<T> {
  private index = 0;
  constructor(private readonly items: readonly T[]) {}

  async next(): Promise<IteratorResult<T, undefined>> {
    if (this.index >= this.items.length) return DONE;
    return item(this.items[this.index++]);
  }

  async skip(n: number): Promise<number> {
    const k = Math.max(0, Math.min(n, this.items.length - this.index));
    this.index += k;
    return k;
  }

  getState(): NodeState {
    return { kind: 'array', index: this.index, length: this.items.length };
  }

  restore(state: NodeState): void {
    expectKind(state, 'array');
    if (state.length !== this.items.length) {
      throw new Error(`cannot restore array source: the state is for ${String(state.length)} items, this source has ${this.items.length}`);
    }
    this.index = Number(state.index);
  }

  reports(): StageReport[] {
    return [];
  }
}

/** A dataset of the given items (the list is copied, so later changes to it do not leak in). */
export function fromArray<T>(items: readonly T[]): Dataset<T> {
  const copy = [...items];
  return new Dataset<T>(() => new ArrayNode(copy), copy.length);
}

/** Integers start..end-1 (handy for tests and index-based pipelines). */
export function range(start: number, end?: number): Dataset<number> {
  const [a, b] = end === undefined ? [0, start] : [start, end];
  const n = Math.max(0, b - a);
  return new Dataset<number>(() => new RangeNode(a, n), n);
}

class RangeNode implements Node<number> {
  private index = 0;
  constructor(private readonly start: number, private readonly n: number) {}
  async next(): Promise<IteratorResult<number, undefined>> {
    if (this.index >= this.n) return DONE;
    return item(this.start + this.index++);
  }
  async skip(n: number): Promise<number> {
    const k = Math.max(0, Math.min(n, this.n - this.index));
    this.index += k;
    return k;
  }
  getState(): NodeState {
    return { kind: 'range', index: this.index };
  }
  restore(state: NodeState): void {
    expectKind(state, 'range');
    this.index = Number(state.index);
  }
  reports(): StageReport[] {
    return [];
  }
}
