/**
 * k-means benchmark: 200,000 x 512 float32 points in 32 planted Gaussian clusters, k = 32, 25
 * Lloyd iterations (no early stop), against faiss (Debian python3-faiss on OpenBLAS) on the same
 * points in the same run. Prints seconds, inertia, and the ratios ours/faiss.
 *
 *   npm run bench:kmeans -- [--n 200000] [--dim 512] [--k 32] [--iters 25] [--threads 1]
 *                           [--seed 0] [--python /usr/bin/python3] [--no-baseline]
 *
 * --threads applies to both sides: onnxruntime intra-op threads, and OMP/OpenBLAS threads for
 * faiss. Both inertias are computed the same way: our kernel assigns every point to each side's
 * final centroids. faiss is given max_points_per_centroid = n so it trains on all points, as we do.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync, readFileSync, existsSync } from 'node:fs';
import { tmpdir, availableParallelism } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Rng } from '../src/runtime/random.js';
import { kmeans } from '../src/curation/clustering/kmeans.js';
import { NearestCentroid, releaseKernelSessions } from '../src/curation/clustering/kernel.js';
import { plantedClusters, adjustedRandIndex } from '../src/curation/clustering/synthetic.js';

function arg(name: string, def: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && i + 1 < process.argv.length ? process.argv[i + 1] : def;
}
const n = Number(arg('n', '200000'));
const dim = Number(arg('dim', '512'));
const k = Number(arg('k', '32'));
const iters = Number(arg('iters', '25'));
const threads = Number(arg('threads', '1'));
const seed = Number(arg('seed', '0'));
const python = arg('python', '/usr/bin/python3');
const noBaseline = process.argv.includes('--no-baseline');
const here = path.dirname(fileURLToPath(import.meta.url));

function fmt(x: number): string {
  return x.toExponential(6);
}

async function runPython(args: string[], env: NodeJS.ProcessEnv): Promise<{ code: number; out: string; err: string }> {
  return new Promise((resolve) => {
    const p = spawn(python, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    p.stdout.on('data', (d) => (out += d));
    p.stderr.on('data', (d) => (err += d));
    p.on('error', (e) => resolve({ code: -1, out, err: String(e) }));
    p.on('close', (code) => resolve({ code: code ?? -1, out, err }));
  });
}

async function main(): Promise<void> {
  console.log(`kmeans bench: ${n} x ${dim} float32, k = ${k}, ${iters} iterations (no early stop), threads = ${threads} (machine has ${availableParallelism()}), seed = ${seed}`);
  let t = performance.now();
  const data = plantedClusters(n, dim, k, Rng.derive(seed, 'bench-kmeans-data'));
  console.log(`data: ${k} planted Gaussian clusters (centres N(0,1), spread 1 per coordinate), made in ${((performance.now() - t) / 1000).toFixed(1)} s`);

  const kernel = { threads, backend: 'onnx' as const };
  t = performance.now();
  const ours = await kmeans(data.X, n, dim, { k, iterations: iters, tolerance: -1, rng: Rng.derive(seed, 'bench-kmeans-fit'), kernel });
  const oursS = (performance.now() - t) / 1000;
  const oursAri = adjustedRandIndex(ours.labels, data.truth);
  console.log(
    `avcurate kmeans (onnxruntime, k-means++ on ${Math.min(n, 256 * k)} points + ${ours.iterations} Lloyd iterations + final assignment): ` +
      `${oursS.toFixed(2)} s, inertia ${fmt(ours.inertia)}, ARI vs planted ${oursAri.toFixed(4)}`,
  );

  if (noBaseline) return;
  if (!existsSync(python)) {
    console.log(`baseline: ${python} not found; only our figures are printed`);
    return;
  }
  const dir = mkdtempSync(path.join(tmpdir(), 'avc-bench-kmeans-'));
  try {
    const dataFile = path.join(dir, 'points.f32');
    const centFile = path.join(dir, 'centroids.f32');
    writeFileSync(dataFile, new Uint8Array(data.X.buffer, data.X.byteOffset, data.X.byteLength));
    const env = { ...process.env, OMP_NUM_THREADS: String(threads), OPENBLAS_NUM_THREADS: String(threads), MKL_NUM_THREADS: String(threads) };
    const script = path.join(here, 'bench_kmeans_faiss.py');
    const res = await runPython([script, dataFile, String(n), String(dim), String(k), String(iters), String(seed), String(threads), centFile], env);
    const line = res.out.trim().split('\n').pop() ?? '';
    let info: { library: string | null; version?: string; blas?: Array<{ api: string; file: string; threads?: number; version?: string }>; train_s?: number; inertia?: number; error?: string };
    try {
      info = JSON.parse(line);
    } catch {
      console.log(`baseline: could not run ${python} ${script} (exit ${res.code}): ${res.err.trim().split('\n').slice(-3).join(' | ')}`);
      return;
    }
    if (!info.library) {
      console.log(`baseline: ${info.error ?? 'no baseline library'}; only our figures are printed`);
      return;
    }
    const blas = (info.blas ?? []).map((b) => `${b.api}${b.version ? ' ' + b.version : ''} (${b.file}${b.threads !== undefined ? `, ${b.threads} thread${b.threads === 1 ? '' : 's'}` : ''})`).join('; ') || 'unknown';
    console.log(`BLAS used by ${info.library}: ${blas}`);
    if (!/openblas/i.test(blas)) console.log(`warning: ${info.library} is not on OpenBLAS; the comparison flatters us (install libopenblas0-pthread)`);
    const cent = new Float32Array(readFileSync(centFile).buffer.slice(0));
    const assign = await new NearestCentroid(dim, k, kernel).assign(data.X, n, cent);
    const theirInertia = assign.inertia;
    const theirAri = adjustedRandIndex(assign.labels, data.truth);
    console.log(
      `${info.library} ${info.version} Kmeans (all ${n} points, ${iters} iterations, ${threads} thread${threads === 1 ? '' : 's'}): ${info.train_s!.toFixed(2)} s, ` +
        `inertia ${fmt(theirInertia)} (its own figure ${fmt(info.inertia!)}), ARI vs planted ${theirAri.toFixed(4)}`,
    );
    const tr = oursS / info.train_s!;
    const ir = ours.inertia / theirInertia;
    console.log(`time ratio ours/${info.library}: ${tr.toFixed(3)} (target <= 1.5) ${tr <= 1.5 ? 'OK' : 'MISSED'}`);
    console.log(`inertia ratio ours/${info.library}: ${ir.toFixed(4)} (target <= 1.01) ${ir <= 1.01 ? 'OK' : 'MISSED'}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
    await releaseKernelSessions();
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
