/**
 * The pool of clusters.h5 read in row blocks, for `select --shard i/n` processes: they need the
 * pool size, the fingerprint and their own partitions' rows, never the whole label matrix or the
 * ids in memory. Everything here equals what poolFromClusters + selectionFingerprint compute from
 * the whole file (same pool rows, same columns, same hash), so partition files written by a shard
 * process are found by a one-process merge, and the other way round.
 */
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { loadH5 } from '../../runtime/h5.js';
import { CLUSTERS_FORMAT, hasHdf5Signature } from '../clustering/store.js';
import type { SelectionConfig } from '../../config/sections/selection.js';
import { SelectionInputError, validateLabels, type Estimator, type LabelMatrix } from './objective.js';
import { clusteringName, resolvePairs, type ClusteringMeta } from './pairs.js';
import type { SelectionParams } from './partitions.js';
import { IdTable } from './id-table.js';
import { DEFAULT_AUTO, poolPairs, strideSample, type AutoPairing, type AutoPairingOptions, type PairingConfig } from './evidence.js';

/** Rows per block read from the file. */
const BLOCK = 1 << 16;

type H5 = Awaited<ReturnType<typeof loadH5>>;

function num(v: unknown): number {
  if (typeof v === 'bigint') return Number(v);
  if (typeof v === 'number') return v;
  if (ArrayBuffer.isView(v) || Array.isArray(v)) return num((v as unknown as ArrayLike<unknown>)[0]);
  return NaN;
}
function str(v: unknown): string {
  if (typeof v === 'string') return v;
  if (Array.isArray(v)) return String(v[0]);
  return String(v);
}

export interface PoolScan {
  file: string;
  /** Clips in the pool (rows of the file without a −1 label in a clustering in use). */
  n: number;
  /** Rows of the file. */
  fileRows: number;
  clusterings: ClusteringMeta[];
  pairs: Int32Array;
  /** `pairing: auto`: the evidence of the kept and dropped pairs. */
  autoPairing?: AutoPairing;
  /** File rows left out (ascending). */
  excludedRows: number[];
  /** Ids of the first few left-out rows, for the message. */
  excludedFirst: string | null;
  /** The selection fingerprint (the same as selectionFingerprint of the whole pool). */
  fingerprint(params: SelectionParams, extra: Record<string, unknown>): Promise<string>;
  /** Pool rows [start, end) as a label matrix of the clusterings in use (validated). */
  rows(start: number, end: number): Promise<LabelMatrix>;
  /** The ids of the given pool rows, in the given order (one pass over the ids in blocks). */
  idsOf(rows: ArrayLike<number>): Promise<string[]>;
  /**
   * The label rows of the given pool rows (strictly ascending) as a matrix of the clusterings in
   * use, row i = pool row rows[i] (validated); one pass in blocks from the first of them.
   */
  rowsAt(rows: Int32Array): Promise<LabelMatrix>;
  /** The ids of the given pool rows (strictly ascending) in a compact table, position i = rows[i]. */
  idTable(rows: Int32Array): Promise<IdTable>;
}

/** Scan clusters.h5 once (labels in blocks): pool size, columns in use, excluded rows. */
export async function scanPool(
  file: string,
  cfg: Pick<SelectionConfig, 'k' | 'pairing'> & { auto?: AutoPairingOptions; estimator?: Estimator },
  /** For `pairing: auto`: the seed of the permutation tests (select's; see poolFromClusters). */
  seed?: number,
): Promise<PoolScan> {
  const h5 = await loadH5();
  if (!existsSync(file)) throw new SelectionInputError(`${file}: no such clusters file`);
  if (!hasHdf5Signature(file)) throw new SelectionInputError(`${file}: not an HDF5 file (no HDF5 signature)`);
  const open = () => new h5.File(file, 'r');
  const f = open();
  let fileRows: number;
  let d: number;
  const all: ClusteringMeta[] = [];
  try {
    if (str(f.attrs['format']?.value) !== CLUSTERS_FORMAT) throw new SelectionInputError(`${file}: not a clusters file`);
    fileRows = num(f.attrs['n']?.value);
    d = num(f.attrs['d']?.value);
    for (let j = 0; j < d; j++) {
      const g = f.get(`clusterings/${j}`) as InstanceType<H5['Group']> | null;
      if (!g) throw new SelectionInputError(`${file}: clusterings/${j}: missing group`);
      all.push({ modality: str(g.attrs['modality'].value), layer: str(g.attrs['layer'].value), k: num(g.attrs['k'].value) });
    }
  } finally {
    f.close();
  }
  const keep: number[] = [];
  all.forEach((cl, j) => {
    if (!cfg.k || cfg.k.includes(cl.k)) keep.push(j);
  });
  if (keep.length === 0) {
    throw new SelectionInputError(`${file}: no clustering has k in [${cfg.k?.join(', ')}] (found ${all.map(clusteringName).join(', ') || 'none'})`);
  }
  const clusterings = keep.map((j) => all[j]);
  const dk = keep.length;
  const names = clusterings.map(clusteringName);
  const ks = Int32Array.from(clusterings, (c) => c.k);

  /** Visit the file in blocks: (first file row, labels block [m, d], ids block or null). */
  const blocks = (from: number, to: number, withIds: boolean, visit: (row0: number, labels: Int32Array, ids: string[] | null) => boolean | void) => {
    const g = open();
    try {
      const lab = g.get('labels') as InstanceType<H5['Dataset']>;
      const idDs = g.get('ids') as InstanceType<H5['Dataset']>;
      for (let a = from; a < to; a += BLOCK) {
        const b = Math.min(to, a + BLOCK);
        const labels = lab.slice([[a, b], [0, d]]) as Int32Array;
        if (!(labels instanceof Int32Array) || labels.length !== (b - a) * d) throw new SelectionInputError(`${file}: dataset 'labels' is not int32 [${fileRows}, ${d}]`);
        let ids: string[] | null = null;
        if (withIds) {
          const v = idDs.slice([[a, b]]);
          ids = Array.isArray(v) ? (v as unknown[]).map(String) : b - a === 1 ? [String(v)] : null;
          if (!ids || ids.length !== b - a) throw new SelectionInputError(`${file}: dataset 'ids' does not hold ${fileRows} strings`);
        }
        if (visit(a, labels, ids) === false) return;
      }
    } finally {
      g.close();
    }
  };

  const excludedRows: number[] = [];
  if (fileRows > 0) {
    blocks(0, fileRows, false, (row0, labels) => {
      const m = labels.length / d;
      for (let r = 0; r < m; r++) {
        for (const j of keep) {
          if (labels[r * d + j] === -1) {
            excludedRows.push(row0 + r);
            break;
          }
        }
      }
    });
  }
  let excludedFirst: string | null = null;
  if (excludedRows.length > 0) blocks(excludedRows[0], excludedRows[0] + 1, true, (_r, _l, ids) => void (excludedFirst = ids![0]));
  const n = fileRows - excludedRows.length;
  let pairs = resolvePairs(clusterings, (cfg.pairing === 'auto' ? 'bipartite' : cfg.pairing) as Parameters<typeof resolvePairs>[1]);
  let autoPairing: AutoPairing | undefined;

  /** The file row of pool row p (the p-th row not excluded). */
  const fileRowOf = (p: number): number => {
    // Smallest x with x - (excluded rows <= x) == p and x not excluded: walk the sorted exclusions.
    let x = p;
    for (const e of excludedRows) {
      if (e <= x) x++;
      else break;
    }
    return x;
  };
  const isExcluded = (row: number): boolean => {
    let lo = 0;
    let hi = excludedRows.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (excludedRows[mid] < row) lo = mid + 1;
      else hi = mid;
    }
    return lo < excludedRows.length && excludedRows[lo] === row;
  };

  /** Visit the ids of the given pool rows (strictly ascending), in order: a walk in step with the file, no per-row map. */
  const eachIdAt = (rows: ArrayLike<number>, visit: (id: string) => void): void => {
    if (rows.length === 0) return;
    for (let i = 0; i < rows.length; i++) {
      if (!(rows[i] >= 0 && rows[i] < n) || (i > 0 && rows[i] <= rows[i - 1])) throw new Error(`pool rows must be strictly ascending within 0..${n - 1} (row ${rows[i]} at ${i})`);
    }
    let p = rows[0];
    let w = 0;
    blocks(fileRowOf(rows[0]), fileRows, true, (row0, _labels, ids) => {
      for (let r = 0; r < ids!.length && w < rows.length; r++) {
        if (excludedRows.length && isExcluded(row0 + r)) continue;
        if (p === rows[w]) {
          visit(ids![r]);
          w++;
        }
        p++;
      }
      return w < rows.length;
    });
  };

  const scan: PoolScan = {
    file,
    n,
    fileRows,
    clusterings,
    pairs,
    excludedRows,
    excludedFirst,
    async fingerprint(params, extra) {
      // The same bytes, in the same order, as selectionFingerprint(pool, params, extra).
      const h = createHash('sha256');
      const { pairs: p, refine, ...rest } = params;
      const { seconds: _seconds, ...refineRest } = refine;
      h.update(JSON.stringify({ v: 1, ...rest, refine: refineRest, pairs: Array.from(p), clusterings, n, extra }));
      let first = true;
      if (fileRows > 0) {
        blocks(0, fileRows, true, (row0, _labels, ids) => {
          const kept = excludedRows.length ? ids!.filter((_, r) => !isExcluded(row0 + r)) : ids!;
          if (kept.length === 0) return;
          h.update((first ? '' : '\n') + kept.join('\n'));
          first = false;
        });
        blocks(0, fileRows, false, (row0, labels) => {
          const m = labels.length / d;
          const out = new Int32Array(m * dk);
          let w = 0;
          for (let r = 0; r < m; r++) {
            if (excludedRows.length && isExcluded(row0 + r)) continue;
            for (let t = 0; t < dk; t++) out[w * dk + t] = labels[r * d + keep[t]];
            w++;
          }
          h.update(new Uint8Array(out.buffer, 0, w * dk * 4));
        });
      }
      return h.digest('hex').slice(0, 32);
    },
    async idTable(rows) {
      const table = new IdTable(rows.length);
      eachIdAt(rows, (id) => table.push(id));
      return table;
    },
    async idsOf(rows) {
      let ascending = true;
      for (let i = 1; i < rows.length && ascending; i++) ascending = rows[i] > rows[i - 1];
      if (ascending) {
        const out: string[] = [];
        eachIdAt(rows, (id) => out.push(id));
        return out;
      }
      const want = new Uint8Array(n);
      for (let i = 0; i < rows.length; i++) {
        const r = rows[i];
        if (!(r >= 0 && r < n)) throw new Error(`pool row ${r} outside 0..${n - 1}`);
        want[r] = 1;
      }
      const found = new Map<number, string>();
      let p = 0;
      if (fileRows > 0 && rows.length > 0) {
        blocks(0, fileRows, true, (row0, _labels, ids) => {
          for (let r = 0; r < ids!.length; r++) {
            if (excludedRows.length && isExcluded(row0 + r)) continue;
            if (want[p]) found.set(p, ids![r]);
            p++;
          }
          return found.size < rows.length;
        });
      }
      return Array.from(rows, (r) => found.get(r)!);
    },
    async rowsAt(rows) {
      const count = rows.length;
      for (let i = 0; i < count; i++) {
        if (!(rows[i] >= 0 && rows[i] < n) || (i > 0 && rows[i] <= rows[i - 1])) throw new Error(`rowsAt: pool rows must be strictly ascending within 0..${n - 1} (row ${rows[i]} at ${i})`);
      }
      const out = new Int32Array(count * dk);
      if (count > 0) {
        let p = rows[0];
        let w = 0;
        blocks(fileRowOf(rows[0]), fileRows, false, (row0, labels) => {
          const m = labels.length / d;
          for (let r = 0; r < m && w < count; r++) {
            if (excludedRows.length && isExcluded(row0 + r)) continue;
            if (p === rows[w]) {
              for (let t = 0; t < dk; t++) out[w * dk + t] = labels[r * d + keep[t]];
              w++;
            }
            p++;
          }
          return w < count;
        });
      }
      const matrix: LabelMatrix = { labels: out, n: count, d: dk, ks };
      try {
        validateLabels(matrix, names);
      } catch (err) {
        throw new SelectionInputError(`${file}: ${(err as Error).message} (the selected rows)`);
      }
      return matrix;
    },
    async rows(start, end) {
      if (!(start >= 0 && end <= n && start <= end)) throw new Error(`pool rows [${start}, ${end}) outside 0..${n}`);
      const count = end - start;
      const out = new Int32Array(count * dk);
      let w = 0;
      if (count > 0) {
        blocks(fileRowOf(start), fileRows, false, (row0, labels) => {
          const m = labels.length / d;
          for (let r = 0; r < m && w < count; r++) {
            if (excludedRows.length && isExcluded(row0 + r)) continue;
            for (let t = 0; t < dk; t++) out[w * dk + t] = labels[r * d + keep[t]];
            w++;
          }
          return w < count;
        });
      }
      const matrix: LabelMatrix = { labels: out, n: count, d: dk, ks };
      try {
        validateLabels(matrix, names);
      } catch (err) {
        throw new SelectionInputError(`${file}: ${(err as Error).message} (pool rows ${start}..${end - 1})`);
      }
      return matrix;
    },
  };
  if (cfg.pairing === 'auto' && seed !== undefined) {
    // The same clips (an even stride through the pool) as poolFromClusters tests on, read in blocks.
    const positions = strideSample(n, cfg.auto?.maxRows ?? DEFAULT_AUTO.maxRows);
    const labels = new Int32Array(positions.length * dk);
    let t = 0;
    for (let a = 0; a < n && t < positions.length; a += BLOCK) {
      const b = Math.min(n, a + BLOCK);
      if (positions[t] >= b) continue;
      const block = await scan.rows(a, b);
      for (; t < positions.length && positions[t] < b; t++) labels.set(block.labels.subarray((positions[t] - a) * dk, (positions[t] - a + 1) * dk), t * dk);
    }
    const sample: LabelMatrix = { labels, n: positions.length, d: dk, ks };
    const r = poolPairs(clusterings, cfg as PairingConfig, { seed, estimator: cfg.estimator, sample: () => sample });
    pairs = r.pairs;
    autoPairing = r.auto;
    scan.pairs = pairs;
    scan.autoPairing = autoPairing;
  }
  return scan;
}
