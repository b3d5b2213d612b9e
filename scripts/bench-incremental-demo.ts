/**
 * The demo part of `npm run bench:incremental`: the demo corpus (configs/demo.yaml's synthetic
 * settings) grown by 10 %. The corpus of 1.1 × N clips is synthesised once; a run curates the
 * first N (not timed), then `curate --add` adds the rest (timed: ingest of the new clips only,
 * their extraction into new shards, the cluster stage with its refit rule (the default
 * incremental.refit: auto refits a pool its fitting sample holds, as the demo's), the continued
 * selection, the evaluation); a fresh run curates all 1.1 × N clips (timed: the full rerun).
 * Then the same addition with incremental.refit: drift (assigned to the existing centroids), and
 * full reruns with other seeds: how much full reruns differ among themselves.
 */
import { promises as fsp, readFileSync } from 'node:fs';
import path from 'node:path';
import YAML from 'yaml';
import { parseConfig } from '../src/config/load.js';
import { synthesize } from '../src/media/synth.js';
import { runCuration, type CurationResult } from '../src/curation/pipeline.js';
import { poolFromClusters, runSelect } from '../src/curation/selection/stage.js';
import { runEvalSelection } from '../src/curation/selection/eval-stage.js';
import { readSelectionCsv } from '../src/curation/selection/index.js';
import { MIObjective } from '../src/curation/selection/objective.js';
import { readClusters } from '../src/curation/clustering/store.js';
import { runCluster } from '../src/curation/clustering/stage.js';

/**
 * CPU seconds of this process and of its finished child processes (ffmpeg): the machine these
 * figures are measured on is shared, so wall-clock time depends on the other load; the selection
 * is single-threaded, so on a quiet machine its CPU time is its wall time.
 */
export function cpuSeconds(): number {
  const c = process.cpuUsage();
  let children = 0;
  try {
    const stat = readFileSync('/proc/self/stat', 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // Fields after the command: state is fields[0]; cutime and cstime are fields 13 and 14.
    children = (Number(fields[13]) + Number(fields[14])) / 100;
  } catch {
    /* not Linux: own CPU only */
  }
  return (c.user + c.system) / 1e6 + children;
}

interface Outcome {
  objective: number;
  precision: number;
  seconds: number;
}

export interface DemoBenchOptions {
  quick: boolean;
  keep: boolean;
  tmp: string;
  line: (s?: string) => void;
  verdict: (label: string, full: Outcome, inc: Outcome, left: number, previous: number) => void;
}

export async function benchDemo(o: DemoBenchOptions): Promise<void> {
  const { line } = o;
  const raw = YAML.parse(readFileSync(path.resolve('configs/demo.yaml'), 'utf8')) as Record<string, any>;
  const synth = raw.corpus.synth as Record<string, unknown> & { clips: number };
  const n0 = o.quick ? Math.round(synth.clips / 2) : synth.clips;
  const n = Math.round(n0 * 1.1);
  line(`== demo corpus: ${n0} clips curated, ${n - n0} added (configs/demo.yaml: ${synth.family ?? 'concepts'} family, ${synth.classes} classes, ${raw.clustering?.k ? `k ${raw.clustering.k.join('/')}` : ''}, ratio ${raw.selection?.ratio})`);
  const all = path.join(o.tmp, 'corpus');
  const s = await synthesize({ out: all, seed: raw.seed ?? 0, ...(synth as object), clips: n, silent: true } as Parameters<typeof synthesize>[0]);
  // The base folder holds the first n0 clips, the added folder the rest (links, with their labels).
  const base = path.join(o.tmp, 'base');
  const added = path.join(o.tmp, 'added');
  for (const [dir, labels] of [[base, s.labels.slice(0, n0)], [added, s.labels.slice(n0)]] as const) {
    await fsp.mkdir(dir, { recursive: true });
    for (const l of labels) await fsp.symlink(path.join(all, l.file), path.join(dir, l.file));
    await fsp.writeFile(path.join(dir, 'labels.jsonl'), labels.map((l) => JSON.stringify(l)).join('\n') + '\n');
  }
  const configFor = (source: string, runDir: string) => {
    const { corpus: _c, experiment: _e, ...rest } = raw;
    return parseConfig({ ...rest, name: path.basename(runDir), runDir, corpus: { source } });
  };
  const quiet = { silent: true };

  const incDir = path.join(o.tmp, 'incremental');
  const before = await runCuration(configFor(base, incDir), quiet);
  line(`  the curated run: ${before.selection?.selected} of ${before.selection?.pool} clips selected, F ${before.selection?.objective.toFixed(4)}, precision ${before.evaluation?.summary.atPositives.precision.toFixed(3)} (not timed)`);

  // The same curated run copied before the addition (run folders hold relative paths only), for
  // the addition with incremental.refit: drift (the new clips assigned to the existing centroids
  // unless the drift measure says refit; the default auto also refits a pool the fitting sample
  // holds, as this one).
  const refitDir = path.join(o.tmp, 'incremental-assign');
  await fsp.cp(incDir, refitDir, { recursive: true });

  const timed = async (f: () => Promise<CurationResult>) => {
    const c0 = cpuSeconds();
    const w0 = performance.now();
    const r = await f();
    return { r, cpu: cpuSeconds() - c0, wall: (performance.now() - w0) / 1000 };
  };
  const inc = await timed(() => runCuration(configFor(base, incDir), { ...quiet, add: added }));
  const full = await timed(() => runCuration(configFor(all, path.join(o.tmp, 'full')), quiet));
  const assignConfig = (source: string, runDir: string) => {
    const { corpus: _c, experiment: _e, ...rest } = raw;
    return parseConfig({ ...rest, name: path.basename(runDir), runDir, corpus: { source }, incremental: { ...(rest.incremental ?? {}), refit: 'drift' } });
  };
  const refit = await timed(() => runCuration(assignConfig(base, refitDir), { ...quiet, add: added }));
  const stages = (r: CurationResult) => r.stages.map((x) => `${x.stage} ${x.seconds.toFixed(1)}`).join(', ');
  line(
    `  incremental stages (wall s): ${stages(inc.r)}; ${inc.r.stages.find((x) => x.stage === 'cluster')?.note}; ` +
      `clusters ${(await sameClusters(path.join(o.tmp, 'full', 'clusters.h5'), path.join(incDir, 'clusters.h5'))) ? 'identical to' : 'not identical to'} the full rerun's; ` +
      (await pairsNote(path.join(o.tmp, 'full'), incDir)),
  );
  line(`  full rerun stages (wall s):  ${stages(full.r)}`);
  line(`  wall clock (the machine may be shared): full ${full.wall.toFixed(1)} s, incremental ${inc.wall.toFixed(1)} s, ratio ${(inc.wall / full.wall).toFixed(3)}`);
  const report = inc.r.incremental;
  if (!report || !inc.r.evaluation || !full.r.evaluation || !full.r.selection) throw new Error('bench: a curation run produced no selection or evaluation');
  o.verdict(
    'demo',
    { objective: full.r.selection.objective, precision: full.r.evaluation.summary.atPositives.precision, seconds: full.cpu },
    { objective: report.objective, precision: inc.r.evaluation.summary.atPositives.precision, seconds: inc.cpu },
    report.left,
    report.previous,
  );
  line(`  (precision at the number of true positives of each pool; F of each run on its own clusterings: the full rerun refits k-means on every clip)`);
  // Like for like across the two clusterings: each run's selection scored on each run's clusters
  // (the F of a set depends on the labels it is measured with).
  {
    const fullDir = path.join(o.tmp, 'full');
    const scoreOn = async (clustersDir: string, csvDir: string) => {
      const cfgC = configFor(base, clustersDir);
      const pool = poolFromClusters(await readClusters(path.join(clustersDir, 'clusters.h5')), cfgC.selection, 'clusters.h5', cfgC.seed);
      const index = new Map(pool.ids.map((id, i) => [id, i]));
      const obj = new MIObjective(pool.matrix, pool.pairs, { estimator: cfgC.selection.estimator });
      for (const r of readSelectionCsv(path.join(csvDir, 'selection.csv'))) {
        const x = index.get(r.id);
        if (x !== undefined) obj.add(x);
      }
      obj.resync();
      return obj.value();
    };
    const incOnFull = await scoreOn(fullDir, incDir);
    const fullOnFull = await scoreOn(fullDir, fullDir);
    const incOnInc = await scoreOn(incDir, incDir);
    const fullOnInc = await scoreOn(incDir, fullDir);
    const pct = (a: number, b: number) => `${a >= b ? '+' : ''}${(((a - b) / Math.abs(b)) * 100).toFixed(2)} %`;
    line(
      `  both selections on the full rerun's clusters: full F ${fullOnFull.toFixed(4)}, incremental F ${incOnFull.toFixed(4)} (${pct(incOnFull, fullOnFull)}); ` +
        `on the incremental run's clusters: full F ${fullOnInc.toFixed(4)}, incremental F ${incOnInc.toFixed(4)} (${pct(incOnInc, fullOnInc)})`,
    );
  }
  // The selection alone, on the same clusters: a selection from scratch on the incremental run's
  // clusters.h5 (what the continued selection replaces), against the continued one.
  const cfg = configFor(base, incDir);
  const c0 = cpuSeconds();
  const scratch = await runSelect(cfg, { silent: true, force: true });
  const scratchCpu = cpuSeconds() - c0;
  const scratchEval = await runEvalSelection(cfg, { silent: true });
  const dF = (report.objective - scratch.objective) / Math.abs(scratch.objective);
  line(
    `  same clusters, selection from scratch: F ${scratch.objective.toFixed(4)}, precision ${scratchEval.summary.atPositives.precision.toFixed(3)}, ${scratchCpu.toFixed(2)} CPU s; ` +
      `continued: F ${report.objective.toFixed(4)} (ΔF ${(dF * 100).toFixed(2)} %, target ≤ 1 %: ${Math.abs(dF) <= 0.01 ? 'met' : 'NOT met'}), precision Δ ${(inc.r.evaluation.summary.atPositives.precision - scratchEval.summary.atPositives.precision).toFixed(3)}, ${report.seconds.toFixed(2)} s`,
  );
  // refit: drift: the new clips assigned to the centroids fitted on the first clips (no drift
  // here), the selection continued.
  {
    const r = refit.r.incremental;
    if (!r || !refit.r.evaluation) throw new Error('bench: the refit: drift run produced no continued selection');
    const fullDir = path.join(o.tmp, 'full');
    const same = await sameClusters(path.join(fullDir, 'clusters.h5'), path.join(refitDir, 'clusters.h5'));
    const dF = (r.objective - full.r.selection.objective) / Math.abs(full.r.selection.objective);
    const dP = refit.r.evaluation.summary.atPositives.precision - full.r.evaluation.summary.atPositives.precision;
    line(
      `  with incremental.refit: drift: ${refit.r.stages.find((x) => x.stage === 'cluster')?.note}; clusters ${same ? 'identical to' : 'not identical to'} the full rerun's; ` +
        `F ${r.objective.toFixed(4)} (ΔF ${dF >= 0 ? '+' : ''}${(dF * 100).toFixed(2)} %), precision ${refit.r.evaluation.summary.atPositives.precision.toFixed(3)} (Δ ${dP >= 0 ? '+' : ''}${dP.toFixed(3)}), ` +
        `${refit.cpu.toFixed(2)} CPU s (ratio ${(refit.cpu / full.cpu).toFixed(3)}); ${r.left} of ${r.previous} previously selected clips left`,
    );
  }
  // How much full reruns differ among themselves: the full rerun's clips clustered and selected
  // again with other seeds (k-means and selection), on its own features.
  {
    const seeds = o.quick ? [1, 2] : [1, 2, 3, 4, 5, 6, 7];
    const base0 = raw.seed ?? 0;
    const Fs: number[] = [full.r.selection.objective];
    const Ps: number[] = [full.r.evaluation.summary.atPositives.precision];
    for (const k of seeds) {
      const seed = base0 + k;
      const dir = path.join(o.tmp, `full-seed-${seed}`);
      await fsp.mkdir(dir, { recursive: true });
      await fsp.symlink(path.join(o.tmp, 'full', 'features'), path.join(dir, 'features'));
      await fsp.copyFile(path.join(o.tmp, 'full', 'manifest.jsonl'), path.join(dir, 'manifest.jsonl'));
      const { corpus: _c, experiment: _e, ...rest } = raw;
      const cfgS = parseConfig({ ...rest, seed, name: path.basename(dir), runDir: dir, corpus: { source: all } });
      await runCluster(cfgS, { index: 0, count: 1 }, { silent: true });
      const sel = await runSelect(cfgS, { silent: true });
      const ev = await runEvalSelection(cfgS, { silent: true });
      Fs.push(sel.objective);
      Ps.push(ev.summary.atPositives.precision);
    }
    const mean = Fs.reduce((a, b) => a + b, 0) / Fs.length;
    const sd = Math.sqrt(Fs.reduce((a, b) => a + (b - mean) ** 2, 0) / (Fs.length - 1));
    const pct = (x: number) => `${x >= 0 ? '+' : ''}${(x * 100).toFixed(2)} %`;
    line(
      `  full reruns with seeds ${base0}..${base0 + seeds[seeds.length - 1]} (same ${full.r.selection.pool} clips, k-means and selection reseeded): F ${Math.min(...Fs).toFixed(4)}–${Math.max(...Fs).toFixed(4)}, ` +
        `mean ${mean.toFixed(4)}, sd ${((sd / mean) * 100).toFixed(2)} %; the seed-${base0} rerun is ${pct((Fs[0] - mean) / mean)} from the mean, the incremental run ${pct((report.objective - mean) / mean)}; ` +
        `precision ${Math.min(...Ps).toFixed(3)}–${Math.max(...Ps).toFixed(3)} (mean ${(Ps.reduce((a, b) => a + b, 0) / Ps.length).toFixed(3)})`,
    );
  }
  if (o.keep) line(`  run folders: ${incDir}, ${path.join(o.tmp, 'full')}, ${refitDir}`);
  else await fsp.rm(o.tmp, { recursive: true, force: true });
}

/** True when two clusters.h5 files hold the same clusterings and the same label of every clip (by id). */
async function sameClusters(a: string, b: string): Promise<boolean> {
  const [x, y] = [await readClusters(a), await readClusters(b)];
  if (x.n !== y.n || x.d !== y.d) return false;
  const names = (c: typeof x) => c.clusterings.map((q) => `${q.modality}/${q.layer}/${q.k}`).join(',');
  if (names(x) !== names(y)) return false;
  const row = new Map(y.ids.map((id, i) => [id, i]));
  for (let i = 0; i < x.n; i++) {
    const j = row.get(x.ids[i]);
    if (j === undefined) return false;
    for (let c = 0; c < x.d; c++) if (x.labels[i * x.d + c] !== y.labels[j * y.d + c]) return false;
  }
  return true;
}

/** The clustering pairs each selection used (selection.meta.json), compared. */
async function pairsNote(fullDir: string, incDir: string): Promise<string> {
  const pairs = async (dir: string) => (JSON.parse(await fsp.readFile(path.join(dir, 'selection.meta.json'), 'utf8')) as { pairs: string[][] }).pairs.map((p) => p.join('~'));
  const [a, b] = [await pairs(fullDir), await pairs(incDir)];
  const same = a.length === b.length && a.every((p, i) => p === b[i]);
  return `${b.length} clustering pairs, ${same ? 'the same as' : 'NOT the same as'} the full rerun's ${a.length}`;
}
