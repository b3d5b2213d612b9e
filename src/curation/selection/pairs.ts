/**
 * Which clustering pairs make up the objective (docs/algorithms.md §2):
 * - `bipartite` (default): every audio clustering with every visual clustering;
 * - `combination`: every unordered pair of clusterings (the reference default);
 * - `diagonal`: the n-th audio clustering with the n-th visual clustering;
 * - an explicit list of pairs, each naming two clusterings by index or by name.
 */
import { SelectionInputError } from './objective.js';

export type PairingMode = 'bipartite' | 'combination' | 'diagonal';

/** What the selection needs to know about a clustering (clusters.h5 carries more). */
export interface ClusteringMeta {
  modality: string;
  layer: string;
  k: number;
}

/** A pair member: the clustering's index, or a name `modality/layer` or `modality/layer/k`. */
export type PairRef = number | string;

export type PairingSpec = PairingMode | ReadonlyArray<readonly [PairRef, PairRef]>;

/** `modality/layer/k`, the name used in messages and explicit pairs. */
export function clusteringName(c: ClusteringMeta): string {
  return `${c.modality}/${c.layer}/k${c.k}`;
}

function resolveRef(ref: PairRef, clusterings: readonly ClusteringMeta[]): number {
  if (typeof ref === 'number') {
    if (!Number.isInteger(ref) || ref < 0 || ref >= clusterings.length) {
      throw new SelectionInputError(`pair member ${ref} is not a clustering index (0..${clusterings.length - 1})`);
    }
    return ref;
  }
  const text = ref.trim();
  const matches: number[] = [];
  clusterings.forEach((c, i) => {
    const full = clusteringName(c);
    const short = `${c.modality}/${c.layer}`;
    if (text === full || text === `${short}/${c.k}` || text === short) matches.push(i);
  });
  if (matches.length === 0) {
    throw new SelectionInputError(
      `pair member "${ref}" names no clustering; known: ${clusterings.map(clusteringName).join(', ')}`,
    );
  }
  if (matches.length > 1) {
    throw new SelectionInputError(
      `pair member "${ref}" is ambiguous (${matches.map((i) => clusteringName(clusterings[i])).join(', ')}); add the k, e.g. "${clusteringName(clusterings[matches[0]])}"`,
    );
  }
  return matches[0];
}

/** Resolve a pairing spec to a flat [i0, j0, i1, j1, ...] list of clustering indices. */
export function resolvePairs(clusterings: readonly ClusteringMeta[], spec: PairingSpec): Int32Array {
  const out: number[] = [];
  if (typeof spec !== 'string') {
    const seen = new Set<string>();
    for (const [a, b] of spec) {
      const i = resolveRef(a, clusterings);
      const j = resolveRef(b, clusterings);
      if (i === j) throw new SelectionInputError(`pair (${a}, ${b}) pairs ${clusteringName(clusterings[i])} with itself`);
      const key = i < j ? `${i},${j}` : `${j},${i}`;
      if (seen.has(key)) throw new SelectionInputError(`pair (${a}, ${b}) is listed twice`);
      seen.add(key);
      out.push(i, j);
    }
    if (out.length === 0) throw new SelectionInputError('the explicit pair list is empty');
    return Int32Array.from(out);
  }
  const audio: number[] = [];
  const visual: number[] = [];
  clusterings.forEach((c, i) => {
    if (c.modality === 'audio') audio.push(i);
    else if (c.modality === 'visual') visual.push(i);
  });
  switch (spec) {
    case 'bipartite':
    case 'diagonal': {
      if (audio.length === 0 || visual.length === 0) {
        throw new SelectionInputError(
          `pairing "${spec}" needs at least one audio and one visual clustering; found ${audio.length} audio and ${visual.length} visual (${clusterings.map(clusteringName).join(', ') || 'none'})`,
        );
      }
      if (spec === 'bipartite') {
        for (const a of audio) for (const v of visual) out.push(a, v);
      } else {
        const m = Math.min(audio.length, visual.length);
        for (let t = 0; t < m; t++) out.push(audio[t], visual[t]);
      }
      break;
    }
    case 'combination': {
      if (clusterings.length < 2) throw new SelectionInputError(`pairing "combination" needs at least two clusterings, found ${clusterings.length}`);
      for (let i = 0; i < clusterings.length; i++) for (let j = i + 1; j < clusterings.length; j++) out.push(i, j);
      break;
    }
    default:
      throw new SelectionInputError(`unknown pairing "${String(spec)}" (bipartite, combination, diagonal or a list of pairs)`);
  }
  return Int32Array.from(out);
}
