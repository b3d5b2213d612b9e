/**
 * npm run bench:budget — small selection budgets (docs/selection.md, "Small budgets"): precision and
 * concept coverage when a pool is selected at 5 / 10 / 20 % of its size
 *
 *   direct      select that budget (batch greedy + refinement), ranked;
 *   overselect  select a larger budget (`selection.overselect`, default 0.5 of the pool), rank it
 *               greedily (the default order) and keep the head — the default for budgets below it;
 *   truncate 2x the same from twice the budget;
 *   restarts    select the budget directly from 4 seeds and keep the subset with the highest F;
 *
 * over 5 seeds, on planted labels that mimic the demo corpus (800 clips, 8 concepts, half of them
 * with mismatched audio spread over the other concepts, 5 audio + 5 visual clusterings) and, with
 * --demo RUN_DIR, on the real clusters of a demo run (clusters.h5 + manifest.jsonl ground truth).
 *
 * Options: --seeds N, --demo RUN_DIR, --quick.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { readClusters } from '../src/curation/clustering/store.js';
import {
  MIObjective,
  plantedLabels,
  poolFromClusters,
  precisionOf,
  resolvePairs,
  searchSubset,
  type LabelMatrix,
} from '../src/curation/selection/index.js';
import { Rng } from '../src/runtime/random.js';

const args = process.argv.slice(2);
const opt = (name: string) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
};
const quick = args.includes('--quick');
const SEEDS = Number(opt('--seeds') ?? (quick ? 2 : 5));
const demoDir = opt('--demo');
const BUDGETS = [0.05, 0.1, 0.2];

interface Pool {
  name: string;
  matrix: LabelMatrix;
  pairs: Int32Array;
  truth: Uint8Array;
  concept: Int32Array;
  concepts: number;
}

function line(s = ''): void {
  process.stdout.write(s + '\n');
}

function coverage(order: ArrayLike<number>, p: Pool, m: number): number {
  const seen = new Set<number>();
  for (let r = 0; r < Math.min(m, order.length); r++) if (p.truth[order[r]]) seen.add(p.concept[order[r]]);
  return seen.size;
}

type Method = (p: Pool, m: number, seed: number) => { order: Int32Array; seconds: number };

const select = (p: Pool, target: number, seed: number) => searchSubset(new MIObjective(p.matrix, p.pairs), { target, rng: new Rng(seed) });

const methods: Record<string, Method> = {
  direct: (p, m, seed) => {
    const t0 = performance.now();
    const r = select(p, m, seed);
    return { order: r.order, seconds: (performance.now() - t0) / 1000 };
  },
  // The default (selection.overselect: 0.5): select half the pool, rank greedily, keep the head.
  'overselect 0.5': (p, m, seed) => {
    const t0 = performance.now();
    const r = searchSubset(new MIObjective(p.matrix, p.pairs), { target: m, overselect: 0.5, rng: new Rng(seed) });
    return { order: r.order, seconds: (performance.now() - t0) / 1000 };
  },
  'truncate 2x': (p, m, seed) => {
    const t0 = performance.now();
    const r = select(p, Math.min(p.matrix.n, 2 * m), seed);
    return { order: r.order.slice(0, m), seconds: (performance.now() - t0) / 1000 };
  },
  'restarts 4': (p, m, seed) => {
    const t0 = performance.now();
    let best: ReturnType<typeof select> | null = null;
    for (let t = 0; t < 4; t++) {
      const r = select(p, m, seed * 101 + t);
      if (!best || r.objective > best.objective) best = r;
    }
    return { order: best!.order, seconds: (performance.now() - t0) / 1000 };
  },
};

function bench(pools: Pool[], label: string): void {
  line(`== ${label}`);
  line(`  precision at the budget, mean (min–max) over ${pools.length} pool(s) [concepts covered, mean of ${pools[0].concepts}]; seconds per selection`);
  line(`  ${'method'.padEnd(16)}${BUDGETS.map((b) => `${(b * 100).toFixed(0)} %`.padEnd(28)).join('')}seconds`);
  for (const [name, fn] of Object.entries(methods)) {
    const cols: string[] = [];
    let secs = 0;
    for (const b of BUDGETS) {
      const precs: number[] = [];
      let cov = 0;
      pools.forEach((p, s) => {
        const m = Math.round(b * p.matrix.n);
        const r = fn(p, m, s + 1);
        precs.push(precisionOf(r.order, p.truth, m));
        cov += coverage(r.order, p, m) / pools.length;
        secs += r.seconds / (pools.length * BUDGETS.length);
      });
      const mean = precs.reduce((a, c) => a + c, 0) / precs.length;
      cols.push(`${mean.toFixed(3)} (${Math.min(...precs).toFixed(2)}–${Math.max(...precs).toFixed(2)}) [${cov.toFixed(1)}]`.padEnd(28));
    }
    line(`  ${name.padEnd(16)}${cols.join('')}${secs.toFixed(3)}`);
  }
}

line(`bench:budget  node ${process.version}, one thread${quick ? ', --quick' : ''}`);
const planted: Array<[number, number, number]> = quick ? [[16, 0.15, 0.5]] : [[8, 0.15, 0.5], [16, 0.15, 0.5], [16, 0.3, 0.5], [16, 0.15, 0.2], [16, 0.15, 0.8]];
for (const [k, noise, positive] of planted) {
  const pools: Pool[] = [];
  for (let s = 0; s < SEEDS; s++) {
    const pl = plantedLabels({ n: 800, k, concepts: 8, noise, positiveFraction: positive, seed: 900 + s });
    pools.push({ name: `planted-${s}`, matrix: pl, pairs: resolvePairs(pl.clusterings, 'bipartite'), truth: pl.truth, concept: pl.visualConcept, concepts: 8 });
  }
  bench(pools, `planted: 800 clips, 8 concepts, ${Math.round((1 - positive) * 100)} % mismatched, 5 + 5 clusterings, k ${k}, ${noise * 100} % label noise; one pool per seed`);
}
if (demoDir) {
  const c = await readClusters(path.join(demoDir, 'clusters.h5'));
  const pool = poolFromClusters(c, { pairing: 'bipartite' });
  const recs = new Map(readFileSync(path.join(demoDir, 'manifest.jsonl'), 'utf8').trim().split('\n').map((l) => {
    const r = JSON.parse(l) as { id: string; corresponds?: boolean; visual_class?: number };
    return [r.id, r] as const;
  }));
  const truth = Uint8Array.from(pool.ids, (id) => (recs.get(id)?.corresponds ? 1 : 0));
  const concept = Int32Array.from(pool.ids, (id) => Number(recs.get(id)?.visual_class ?? -1));
  const concepts = new Set(concept).size;
  const p: Pool = { name: 'demo', matrix: pool.matrix, pairs: pool.pairs, truth, concept, concepts };
  bench(Array.from({ length: SEEDS }, () => p), `demo run ${demoDir}: ${pool.matrix.n} clips, ${pool.clusterings.length} clusterings, ${pool.pairs.length / 2} bipartite pairs (the same pool, ${SEEDS} selection seeds)`);
}
