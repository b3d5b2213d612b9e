/**
 * The one shared state test (after torchdata.nodes' test helper): run a dataset uninterrupted,
 * save the state after every item, then for several save points restore a fresh iterator from the
 * JSON-round-tripped state and check that it yields exactly the rest of the uninterrupted run.
 * It also restores a second time from a state taken after a restore (chained resume), checks that
 * getState() right after restore returns the saved state, and that states stay small. Every stage's
 * tests call it.
 */
import { expect } from 'vitest';
import type { Dataset, PipelineState } from '../../../src/loaders/index.js';

export interface StateCheckOptions<T> {
  /** Stop the uninterrupted run after this many items (for endless datasets). */
  maxItems?: number;
  /** Save points (item counts); default: 0, 1, 2, a few in the middle, the last two, the end. */
  points?: number[];
  /** Turn an item into something comparable with toEqual (default: the item). */
  view?: (item: T) => unknown;
  /** Largest allowed state, in bytes of JSON (default 64 KiB). */
  maxStateBytes?: number;
  /** Minimum number of items the run must produce (guards against vacuous passes; default 1). */
  minItems?: number;
}

async function collect<T>(ds: Dataset<T>, state: PipelineState | undefined, limit: number, view: (x: T) => unknown): Promise<{ items: unknown[]; states: string[] }> {
  const it = ds.iterator(state);
  const items: unknown[] = [];
  const states: string[] = [JSON.stringify(it.getState())];
  try {
    while (items.length < limit) {
      const r = await it.next();
      if (r.done) break;
      items.push(view(r.value));
      states.push(JSON.stringify(it.getState()));
    }
  } finally {
    await it.close();
  }
  return { items, states };
}

export async function checkStateContract<T>(ds: Dataset<T>, opts: StateCheckOptions<T> = {}): Promise<{ items: unknown[]; states: string[] }> {
  const view = opts.view ?? ((x: T) => x);
  const limit = opts.maxItems ?? Infinity;
  const full = await collect(ds, undefined, limit, view);
  const n = full.items.length;
  expect(n).toBeGreaterThanOrEqual(opts.minItems ?? 1);
  const maxBytes = opts.maxStateBytes ?? 65536;
  for (const s of full.states) expect(s.length).toBeLessThan(maxBytes);
  // The same dataset iterated again gives the same items (determinism).
  const again = await collect(ds, undefined, limit, view);
  expect(again.items).toEqual(full.items);

  const mid = Math.floor(n / 2);
  const points = opts.points ?? [...new Set([0, 1, 2, Math.floor(n / 3), mid, Math.floor((2 * n) / 3), n - 2, n - 1, n].filter((k) => k >= 0 && k <= n))];
  for (const k of points) {
    const saved = JSON.parse(full.states[k]) as PipelineState;
    // getState right after restore is the saved state.
    const probe = ds.iterator(saved);
    expect(JSON.parse(JSON.stringify(probe.getState()))).toEqual(saved);
    await probe.close();
    const rest = await collect(ds, saved, limit - k, view);
    expect(rest.items.length, `items after restoring at ${k}`).toBe(n - k);
    expect(rest.items, `continuation after restoring at ${k}`).toEqual(full.items.slice(k));
    // Chained: a state taken after a restore restores too.
    const j = Math.floor((n - k) / 2);
    if (j > 0) {
      const chained = JSON.parse(rest.states[j]) as PipelineState;
      const tail = await collect(ds, chained, limit - k - j, view);
      expect(tail.items, `continuation after restoring at ${k} then ${k + j}`).toEqual(full.items.slice(k + j));
    }
  }
  return full;
}
