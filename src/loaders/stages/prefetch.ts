/** prefetch(n): pull up to n items ahead of the consumer in the background, in order. */
import type { Stage } from '../core/node.js';
import { ReadAheadNode } from './map.js';

export function prefetchStage<T>(n: number): Stage<T, T> {
  if (!Number.isInteger(n) || n < 1) throw new RangeError(`prefetch: n must be a positive integer, got ${n}`);
  return { make: (up, ctx) => new ReadAheadNode<T, T>(up, ctx, (x) => x, n, { kind: 'prefetch', name: 'prefetch' }), size: (s) => s };
}
