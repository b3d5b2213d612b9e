/** prefetch(n): pull up to n items ahead of the consumer in the background, in order. */
import type { Dataset } from '../core/dataset.js';
import { ReadAheadNode } from './map.js';

export function prefetchDataset<T>(ds: Dataset<T>, n: number): Dataset<T> {
  if (!Number.isInteger(n) || n < 1) throw new RangeError(`prefetch: n must be a positive integer, got ${n}`);
  return ds.derive((up, ctx) => new ReadAheadNode<T, T>(up, ctx, (x) => x, n, { kind: 'prefetch', name: 'prefetch' }), ds.size);
}
