/**
 * npm run bench:train — training throughput of the default SSL model.
 *
 * For every TensorFlow.js backend present: samples/s of full training steps (forward, backward,
 * AdamW, BatchNorm statistics) on a fixed random batch, the achieved GFLOP/s (forward + backward
 * counted as 3 x the forward FLOPs of the matrix products and convolutions) next to the backend's
 * plain matmul GFLOP/s measured in the same run; then, when Debian's /usr/bin/python3 has torch
 * (python3-torch), the same architecture in PyTorch on CPU with the same batch and thread count
 * (scripts/bench_train_torch.py), and the ratio.
 *
 * With --procs N (N > 1) it also runs N wasm trainings as parallel processes (how the experiment
 * runner uses several cores: wasm has no threads in Node) against PyTorch with N threads.
 *
 * Options: --batch 32 --steps 7 --backends wasm,cpu --arch patch|conv --threads 1 --cpu-steps 1 --procs 2
 *          --set key=value (an ssl.model override, e.g. --set visual.height=112)
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs';
import YAML from 'yaml';
import { SslSchema } from '../src/config/sections/ssl.js';
import { initTfjs, matmulGflops, probeTfjsBackends, type BackendChoice } from '../src/runtime/tfjs.js';
import { AvModel } from '../src/ssl/model.js';
import { AdamW } from '../src/ssl/optim.js';
import { lossAndGrads, modelDims } from '../src/ssl/trainer.js';
import { Rng } from '../src/runtime/random.js';

function arg(name: string, def: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && i + 1 < process.argv.length ? process.argv[i + 1] : def;
}
function args(name: string): string[] {
  const out: string[] = [];
  process.argv.forEach((a, i) => {
    if (a === `--${name}` && i + 1 < process.argv.length) out.push(process.argv[i + 1]);
  });
  return out;
}

const batch = Number(arg('batch', '32'));
const steps = Number(arg('steps', '7'));
const cpuSteps = Number(arg('cpu-steps', '1'));
const threads = Number(arg('threads', '1'));
const procs = Number(arg('procs', '1'));
const worker = process.argv.includes('--worker');
const wanted = arg('backends', 'tfjs-node-gpu,tfjs-node,wasm,cpu').split(',');
const modelOverrides: Record<string, unknown> = { arch: arg('arch', 'patch') };
for (const s of args('set')) {
  const eq = s.indexOf('=');
  const keys = s.slice(0, eq).split('.');
  let node = modelOverrides;
  for (const k of keys.slice(0, -1)) node = (node[k] ??= {}) as Record<string, unknown>;
  node[keys[keys.length - 1]] = YAML.parse(s.slice(eq + 1));
}
const cfg = SslSchema.parse({ batchSize: batch, model: modelOverrides });
const dims = modelDims(cfg);

function randomBatch(): { audio: Float32Array; frames: Float32Array } {
  const rng = new Rng(1);
  const audio = new Float32Array(batch * dims.audioFrames * dims.mels);
  const frames = new Float32Array(batch * dims.frames * dims.height * dims.width * 3);
  for (let i = 0; i < audio.length; i++) audio[i] = rng.normal();
  for (let i = 0; i < frames.length; i++) frames[i] = rng.normal();
  return { audio, frames };
}

async function benchBackend(choice: Exclude<BackendChoice, 'auto'>, timed: number) {
  await initTfjs(choice);
  const mm = matmulGflops(512, 512, 512, choice === 'cpu' ? 2 : 5);
  const model = new AvModel(cfg.model, { seed: 0 });
  const opt = new AdamW(
    model.trainableNames().map((n) => ({ name: n, variable: model.p(n), decay: model.decays(n) })),
    { beta1: 0.9, beta2: 0.999, epsilon: 1e-8, weightDecay: cfg.weightDecay, gradClip: cfg.gradClip },
  );
  const data = randomBatch();
  const step = async () => {
    const a = tf.tensor3d(data.audio, [batch, dims.audioFrames, dims.mels]);
    const f = tf.tensor5d(data.frames, [batch, dims.frames, dims.height, dims.width, 3]);
    const r = lossAndGrads(model, a, f);
    const norm = opt.step(r.grads, 1e-4);
    model.applyBnUpdates(r.updates);
    await r.loss.data();
    await r.logits.data();
    tf.dispose([a, f, r.loss, r.logits, norm, ...Object.values(r.grads)]);
  };
  await step(); // warm-up (kernel setup, XNNPACK operator caches)
  if (timed > 1) await step();
  // Median over steps of wall and CPU time (the machine may be shared: medians resist outliers).
  const walls: number[] = [];
  const cpus: number[] = [];
  for (let i = 0; i < timed; i++) {
    const t0 = performance.now();
    const c0 = process.cpuUsage();
    await step();
    const cu = process.cpuUsage(c0);
    walls.push((performance.now() - t0) / 1000);
    cpus.push((cu.user + cu.system) / 1e6);
  }
  const median = (x: number[]) => [...x].sort((a, b) => a - b)[Math.floor(x.length / 2)];
  const secs = median(walls);
  const cpuSecs = median(cpus);
  const fwd = model.flopsPerSample().total;
  opt.dispose();
  model.dispose();
  const sps = batch / secs;
  return { choice, samplesPerSec: sps, samplesPerCpuSec: batch / cpuSecs, stepSec: secs, trainGflops: (3 * fwd * sps) / 1e9, matmulGflops: mm, fwdFlops: fwd };
}

function torchBench(threads: number): { samplesPerSec: number; samplesPerCpuSec: number; version: string; threads: number } | { missing: string } {
  const py = '/usr/bin/python3';
  if (!existsSync(py)) return { missing: `${py} not found` };
  const probe = spawnSync(py, ['-c', 'import torch; print(torch.__version__)'], { encoding: 'utf8', timeout: 60_000 });
  if (probe.status !== 0) return { missing: `${py} has no torch (apt install python3-torch)` };
  const dir = mkdtempSync(path.join(os.tmpdir(), 'bench-train-'));
  try {
    const spec = path.join(dir, 'spec.json');
    writeFileSync(spec, JSON.stringify(cfg.model));
    const script = path.join(path.dirname(fileURLToPath(import.meta.url)), 'bench_train_torch.py');
    const r = spawnSync(py, [script, spec, '--batch', String(batch), '--threads', String(threads), '--steps', String(Math.max(steps, 7))], {
      encoding: 'utf8',
      timeout: 600_000,
      env: { ...process.env, OMP_NUM_THREADS: String(threads), MKL_NUM_THREADS: String(threads) },
    });
    if (r.status !== 0) return { missing: `bench_train_torch.py failed: ${(r.stderr || r.error?.message || '').trim().split('\n').slice(-1)[0]}` };
    const j = JSON.parse(r.stdout.trim().split('\n').slice(-1)[0]) as { samples_per_s: number; samples_per_cpu_s: number; torch: string; threads: number };
    return { samplesPerSec: j.samples_per_s, samplesPerCpuSec: j.samples_per_cpu_s, version: j.torch, threads: j.threads };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

if (worker) {
  // A child of --procs: one wasm benchmark, one JSON line.
  await initTfjs('wasm');
  const r = await benchBackend('wasm', steps);
  console.log(JSON.stringify(r));
} else {
  await main();
}

/** N wasm trainings at once as separate processes: total samples/s. */
async function parallelWasm(n: number): Promise<number> {
  const { spawn } = await import('node:child_process');
  const self = fileURLToPath(import.meta.url);
  const childArgs = process.argv.slice(2).filter((a, i, all) => a !== '--procs' && all[i - 1] !== '--procs');
  const runs = Array.from({ length: n }, () =>
    new Promise<number>((resolve, reject) => {
      const c = spawn(process.execPath, [...process.execArgv, self, ...childArgs, '--worker'], { stdio: ['ignore', 'pipe', 'inherit'] });
      let out = '';
      c.stdout.on('data', (d: Buffer) => (out += d.toString()));
      c.on('error', reject);
      c.on('close', (code) => {
        if (code !== 0) return reject(new Error(`bench worker exited with ${code}`));
        resolve((JSON.parse(out.trim().split('\n').slice(-1)[0]) as { samplesPerSec: number }).samplesPerSec);
      });
    }),
  );
  return (await Promise.all(runs)).reduce((a, b) => a + b, 0);
}

async function main(): Promise<void> {
  const m = cfg.model;
  console.log(
    `bench:train  model ${m.arch}: audio ${m.audio.frames}x${m.audio.mels} log-mel, visual ${m.visual.frames}x${m.visual.height}x${m.visual.width}x3, ` +
      `stages ${m.audio.stages.map((s) => s.channels).join('/')} | ${m.visual.stages.map((s) => s.channels).join('/')}, head ${m.head.hidden}→${m.head.dim}; batch ${batch}`,
  );
  const found = await probeTfjsBackends();
  const results: Awaited<ReturnType<typeof benchBackend>>[] = [];
  for (const b of found) {
    if (!wanted.includes(b.choice)) continue;
    if (!b.available) {
      console.log(`  ${b.choice.padEnd(14)} absent: ${b.reason}`);
      continue;
    }
    const r = await benchBackend(b.choice, b.choice === 'cpu' ? cpuSteps : steps);
    results.push(r);
    console.log(
      `  ${r.choice.padEnd(14)} ${r.samplesPerSec.toFixed(1).padStart(7)} samples/s  (${(r.stepSec * 1000).toFixed(0)} ms/step)  ` +
        `train ${r.trainGflops.toFixed(1)} GFLOP/s = ${((100 * r.trainGflops) / r.matmulGflops).toFixed(0)}% of its matmul ${r.matmulGflops.toFixed(1)} GFLOP/s  ` +
        `(${(r.fwdFlops / 1e6).toFixed(1)} MFLOP fwd/sample, x3 for fwd+bwd); ${r.samplesPerCpuSec.toFixed(1)} samples per CPU-second`,
    );
  }
  const t = torchBench(threads);
  if ('missing' in t) {
    console.log(`  pytorch-cpu    skipped: ${t.missing}`);
  } else {
    console.log(
      `  pytorch-cpu    ${t.samplesPerSec.toFixed(1).padStart(7)} samples/s  (torch ${t.version}, ${t.threads} thread${t.threads === 1 ? '' : 's'}, same model and batch); ` +
        `${t.samplesPerCpuSec.toFixed(1)} samples per CPU-second`,
    );
    const best = results.filter((r) => r.choice !== 'cpu').sort((a, b) => b.samplesPerSec - a.samplesPerSec)[0] ?? results[0];
    if (best) {
      const ratio = best.samplesPerSec / t.samplesPerSec;
      const cpuRatio = best.samplesPerCpuSec / t.samplesPerCpuSec;
      console.log(`  ratio ${best.choice}/pytorch-cpu: ${ratio.toFixed(2)}x wall-clock, ${cpuRatio.toFixed(2)}x per CPU-second (target >= 0.5x; the CPU-second ratio is the one to trust on a shared machine)`);
    }
  }
  if (procs > 1 && results.some((r) => r.choice === 'wasm')) {
    const total = await parallelWasm(procs);
    const tp = torchBench(procs);
    const torchLine = 'missing' in tp ? `pytorch-cpu with ${procs} threads skipped: ${tp.missing}` : `pytorch-cpu with ${procs} threads ${tp.samplesPerSec.toFixed(1)} samples/s → ratio ${(total / tp.samplesPerSec).toFixed(2)}x`;
    console.log(`  wasm x ${procs} processes: ${total.toFixed(1)} samples/s in total; ${torchLine}`);
  }
}
