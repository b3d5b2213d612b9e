/**
 * npm run bench:scale — the sharded selection path at scale, through the code the CLI runs:
 *
 *   planted cluster labels (5 audio + 5 visual clusterings, k = 32, 50 % corresponding, 20 % label
 *   noise) for --clips N clips, written as --label-shards per-shard label files (the files the
 *   `cluster --shard` array writes) plus manifest.jsonl
 *   → the streaming merge into clusters.h5 (the cluster-merge step's function, in its own process)
 *   → --shards S processes of `avcurate select --shard i/S --no-merge` (2 at a time: the cores here)
 *   → `avcurate select` (the merge: the whole pool once, selection.csv)
 *
 * Prints wall time per step, the peak RSS of every process (GNU time), the merge's peak RSS, and the
 * precision of the selection against the planted truth; and, as the baseline measured in the same
 * run, the one-process selection of the same pool (`avcurate select` with the same partitions).
 * Targets from the issue: peak RSS ≤ 1 GB per process, precision ≥ 0.97.
 *
 * Options: --clips N (default 10,000,000), --shards S (16), --label-shards P (64), --jobs J (2),
 * --dir DIR (default a temp folder, removed afterwards unless --keep), --no-baseline.
 */
import { spawn } from 'node:child_process';
import { createWriteStream, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import YAML from 'yaml';
import { plantedLabels } from '../src/curation/selection/planted.js';
import { writeClusters } from '../src/curation/clustering/store.js';
import type { ClusterModel } from '../src/curation/clustering/model.js';
import { shardName, shardRange } from '../src/runtime/shard.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const args = process.argv.slice(2);
const opt = (name: string, def: number) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? Number(args[i + 1]) : def;
};
const K = 32;
const A = 5;
const V = 5;

function modelOf(): ClusterModel {
  const clusterings = [];
  for (let j = 0; j < A + V; j++) {
    clusterings.push({
      modality: (j < A ? 'audio' : 'visual') as 'audio' | 'visual',
      layer: `layer${(j % A) + 1}`,
      k: K,
      dim: 1,
      transform: { l2: false, pca: null },
      centroidDim: 1,
      centroids: Float32Array.from({ length: K }, (_, i) => i),
      inertia: 0,
      iterations: 1,
      fitPoints: 0,
      history: [],
    });
  }
  return { fingerprint: 'bench-scale', seed: 1, clusterings };
}

const partPath = (runDir: string, p: number, P: number) => path.join(runDir, 'clusters', `${shardName(p, P)}.h5`);
const idOf = (i: number) => `c${String(i).padStart(9, '0')}`;
const PROBE = JSON.stringify({ duration: 10, width: 320, height: 240, fps: 25, sampleRate: 16000, videoCodec: 'h264', audioCodec: 'aac' });
const ROOT = path.resolve(here, '..');

/**
 * The measured processes run the compiled CLI (dist/): under tsx every process would also carry
 * the transpiler (h5wasm's 4 MB module alone costs ~600 MB RSS through it), which is not what a
 * deployed avcurate measures. dist/ is built first when it is missing or older than src/.
 */
async function ensureBuilt(): Promise<void> {
  const { statSync, readdirSync } = await import('node:fs');
  const newest = (dir: string): number => {
    let t = 0;
    for (const e of readdirSync(dir, { withFileTypes: true, recursive: true })) {
      if (e.isFile() && e.name.endsWith('.ts')) t = Math.max(t, statSync(path.join(e.parentPath, e.name)).mtimeMs);
    }
    return t;
  };
  const built = path.join(ROOT, 'dist', 'cli', 'main.js');
  if (existsSync(built) && statSync(built).mtimeMs >= newest(path.join(ROOT, 'src'))) return;
  line('  building dist/ (npm run build) so that the measured processes run compiled code ...');
  const t = performance.now();
  await measure('npm', ['run', 'build', '--silent'], { ...process.env }, ROOT);
  line(`  built in ${((performance.now() - t) / 1000).toFixed(0)} s`);
}

interface Measured {
  seconds: number;
  rssMB: number | null;
  stdout: string;
}

const hasGnuTime = existsSync('/usr/bin/time');

/** Run a command, measuring wall time and (with GNU time) peak RSS. */
function measure(cmd: string, argv: string[], env: NodeJS.ProcessEnv = process.env, cwd?: string): Promise<Measured> {
  return new Promise((resolve, reject) => {
    const rssFile = path.join(os.tmpdir(), `bench-scale-rss-${process.pid}-${Math.random().toString(36).slice(2)}`);
    const full = hasGnuTime ? ['/usr/bin/time', ['-f', '%M', '-o', rssFile, cmd, ...argv]] : [cmd, argv];
    const t0 = performance.now();
    const child = spawn(full[0] as string, full[1] as string[], { env, cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (b) => (out += b));
    child.stderr.on('data', (b) => (err = (err + b).slice(-4000)));
    child.on('close', (code) => {
      const seconds = (performance.now() - t0) / 1000;
      let rssMB: number | null = null;
      if (hasGnuTime && existsSync(rssFile)) {
        rssMB = Number(readFileSync(rssFile, 'utf8').trim().split('\n').pop()) / 1024;
        rmSync(rssFile, { force: true });
      }
      if (code !== 0) reject(new Error(`${cmd} ${argv.join(' ')} exited with ${code}:\n${err}`));
      else resolve({ seconds, rssMB, stdout: out });
    });
  });
}

/** `avcurate ARGS` on the compiled CLI (dist/), whatever happens to src/ while the benchmark runs. */
function cli(argv: string[]): string[] {
  const main = JSON.stringify(path.join(ROOT, 'dist', 'cli', 'main.js'));
  return ['--input-type=module', '-e', `const { main } = await import(${main}); process.exitCode = await main(process.argv.slice(1));`, ...argv];
}

const fmtMB = (x: number | null) => (x === null ? 'n/a' : `${x.toFixed(0)} MB`);
const line = (s: string) => process.stdout.write(s + '\n');

async function main(): Promise<void> {
  const N = opt('clips', 10_000_000);
  const S = opt('shards', 16);
  const P = opt('label-shards', 64);
  const J = opt('jobs', 2);
  const baseline = !args.includes('--no-baseline');
  const dirIdx = args.indexOf('--dir');
  const dir = dirIdx >= 0 ? path.resolve(args[dirIdx + 1]) : mkdtempSync(path.join(os.tmpdir(), 'bench-scale-'));
  const runDir = path.join(dir, 'run');
  mkdirSync(path.join(runDir, 'clusters'), { recursive: true });
  line(`bench:scale: ${N.toLocaleString('en')} clips, ${A} audio + ${V} visual clusterings, k = ${K}; ${P} label files; ${S} select shards, ${J} at a time; ${os.cpus().length} cores`);
  if (!hasGnuTime) line('  (GNU time is not installed: peak RSS of child processes is not measured; apt-get install time)');

  await ensureBuilt();

  // 0. Planted labels as per-shard label files + manifest (setup, not a measured step).
  let t = performance.now();
  const p = plantedLabels({ n: N, audio: A, visual: V, k: K, concepts: K, noise: 0.2, positiveFraction: 0.5, seed: 7 });
  const D = A + V;
  const model = modelOf();
  for (let part = 0; part < P; part++) {
    const [a, b] = shardRange(N, part, P);
    const ids = Array.from({ length: b - a }, (_, i) => idOf(a + i));
    await writeClusters(partPath(runDir, part, P), {
      ids,
      labels: p.labels.subarray(a * D, b * D),
      n: b - a,
      d: D,
      clusterings: model.clusterings.map((c) => ({ modality: c.modality, layer: c.layer, k: c.k, dim: 1, centroids: c.centroids, inertia: 0, iterations: 1 })),
      attrs: { fingerprint: model.fingerprint, source: `part-${part}` },
    });
  }
  await new Promise<void>((resolve, reject) => {
    const w = createWriteStream(path.join(runDir, 'manifest.jsonl'));
    w.on('error', reject);
    let i = 0;
    const pump = () => {
      while (i < N) {
        const id = idOf(i);
        const ok = w.write(`{"id":"${id}","source":"/pool/${id}.mp4","start":0,"duration":10,"video_id":"${id}","probe":${PROBE}}\n`);
        i++;
        if (!ok) return void w.once('drain', pump);
      }
      w.end(resolve);
    };
    pump();
  });
  const truth = p.truth;
  line(`  setup: planted labels, ${P} label files and manifest.jsonl written in ${((performance.now() - t) / 1000).toFixed(1)} s (not a measured step)`);

  const config = {
    name: 'bench-scale',
    runDir,
    seed: 1,
    selection: { ratio: 0.2, partitions: S },
  };
  const cfgFile = path.join(dir, 'bench-scale.yaml');
  writeFileSync(cfgFile, YAML.stringify(config));
  const env = { ...process.env, AVCURATE_QUIET: '1' };

  // 1. Streaming merge of the label files → clusters.h5.
  const worker = [
    `import { mergePartsStreaming } from ${JSON.stringify(path.join(ROOT, 'dist', 'curation', 'clustering', 'stage.js'))};`,
    `const [runDir, P, model] = [process.argv[1], Number(process.argv[2]), JSON.parse(process.argv[3])];`,
    `for (const c of model.clusterings) c.centroids = Float32Array.from(c.centroids);`,
    `const parts = Array.from({ length: P }, (_, p) => runDir + '/clusters/shard-' + String(p).padStart(5, '0') + '-of-' + String(P).padStart(5, '0') + '.h5');`,
    `const r = await mergePartsStreaming(runDir, parts, model, runDir + '/clusters.h5', true);`,
    `if (!r) { console.error('the streaming merge refused the parts'); process.exit(1); }`,
  ].join('\n');
  const m0 = modelOf();
  const modelJson = JSON.stringify({ ...m0, clusterings: m0.clusterings.map((c) => ({ ...c, centroids: Array.from(c.centroids) })) });
  const merge = await measure(process.execPath, ['--input-type=module', '-e', worker, runDir, String(P), modelJson], env);
  line(`  1. streaming merge of ${P} label files → clusters.h5: ${merge.seconds.toFixed(1)} s wall, peak RSS ${fmtMB(merge.rssMB)}`);

  // 2. S select shard processes, J at a time.
  t = performance.now();
  const shardRuns: Measured[] = new Array(S);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(J, S) }, async () => {
      while (next < S) {
        const i = next++;
        shardRuns[i] = await measure(process.execPath, cli(['select', '--config', cfgFile, '--shard', `${i}/${S}`, '--no-merge', '--quiet']), env);
      }
    }),
  );
  const shardWall = (performance.now() - t) / 1000;
  const rss = shardRuns.map((r) => r.rssMB ?? NaN);
  const secs = shardRuns.map((r) => r.seconds);
  line(
    `  2. ${S} × select --shard i/${S} --no-merge: ${shardWall.toFixed(1)} s wall for all (${J} at a time); per process ${Math.min(...secs).toFixed(1)}–${Math.max(...secs).toFixed(1)} s, ` +
      `peak RSS ${hasGnuTime ? `${Math.min(...rss).toFixed(0)}–${Math.max(...rss).toFixed(0)} MB` : 'n/a'}`,
  );

  // 3. The merge: the whole pool once → selection.csv.
  const sel = await measure(process.execPath, cli(['select', '--config', cfgFile]), env);
  line(`  3. select (merge of ${S} partitions → selection.csv): ${sel.seconds.toFixed(1)} s wall, peak RSS ${fmtMB(sel.rssMB)}`);
  const rows = readFileSync(path.join(runDir, 'selection.csv'), 'utf8').trim().split('\n').slice(1);
  let hits = 0;
  for (const r of rows) hits += truth[Number(r.split(',')[1].slice(1))];
  const precision = hits / rows.length;
  line(`     selected ${rows.length.toLocaleString('en')} of ${N.toLocaleString('en')}; precision on the planted truth ${precision.toFixed(4)} (random ${(truth.reduce((a, b) => a + b, 0) / N).toFixed(3)})`);
  const sharded = readFileSync(path.join(runDir, 'selection.csv'), 'utf8');

  // Baseline: the same selection in one process.
  if (baseline) {
    rmSync(path.join(runDir, 'selection'), { recursive: true, force: true });
    rmSync(path.join(runDir, 'selection.csv'), { force: true });
    rmSync(path.join(runDir, 'selection.meta.json'), { force: true });
    const one = await measure(process.execPath, cli(['select', '--config', cfgFile, '--force']), env);
    const same = readFileSync(path.join(runDir, 'selection.csv'), 'utf8') === sharded;
    line(`  baseline: one process, the same ${S} partitions: ${one.seconds.toFixed(1)} s wall, peak RSS ${fmtMB(one.rssMB)}; selection.csv ${same ? 'byte-identical to' : 'DIFFERS from'} the sharded one`);
    line(`  ratios: sharded wall (step 2 + 3) / one process ${((shardWall + sel.seconds) / one.seconds).toFixed(2)}; max shard RSS / one-process RSS ${hasGnuTime && one.rssMB ? (Math.max(...rss) / one.rssMB).toFixed(2) : 'n/a'}`);
  }
  const worst = Math.max(merge.rssMB ?? 0, ...rss.filter(Number.isFinite), sel.rssMB ?? 0);
  line(`  targets: peak RSS ≤ 1024 MB per process: ${hasGnuTime ? (worst <= 1024 ? `met (max ${worst.toFixed(0)} MB)` : `NOT met (max ${worst.toFixed(0)} MB)`) : 'not measured'}; precision ≥ 0.97: ${precision >= 0.97 ? 'met' : 'NOT met'} (${precision.toFixed(4)})`);
  if (!args.includes('--keep') && dirIdx < 0) rmSync(dir, { recursive: true, force: true });
}

main().catch((err) => {
  process.stderr.write(`bench:scale: ${(err as Error).stack ?? err}\n`);
  process.exit(1);
});
