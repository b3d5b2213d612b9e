/**
 * The fault-injection harness: runs the stages through the CLI as separate processes (as an
 * operator or a cluster scheduler would), kills them with SIGKILL at seeded random points, and
 * fingerprints a run folder's outputs so reruns can be compared with an uninterrupted run.
 */
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, promises as fsp, readdirSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { h5Digest } from '../helpers/h5.js';
import { pidAlive } from '../../src/runtime/atomic.js';

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const bin = path.join(repoRoot, 'bin', 'avcurate.js');

export const FAULT_CONFIG = `name: faults
seed: 7
runDir: run
corpus:
  source: corpus
ingest:
  clipSeconds: 2
  minSeconds: 1
features:
  shardSize: 16
  decode: { fps: 4, width: 32, height: 32 }
  audio:
    - type: builtin
  visual:
    - type: builtin
      frames: 4
      maxSize: 32
clustering:
  k: [4]
  restarts: 1
selection:
  method: mi
  ratio: 0.5
ssl:
  batchSize: 8
  steps: 6
  checkpointEvery: 2
  warmupSteps: 1
  model:
    visual: { frames: 2, height: 32, width: 32, temporalKernel: 2 }
`;

export type StageName = 'synth' | 'ingest' | 'extract' | 'cluster' | 'select' | 'export' | 'pretrain';
export const STAGES: StageName[] = ['synth', 'ingest', 'extract', 'cluster', 'select', 'export', 'pretrain'];

/** The CLI arguments of a stage in a work folder holding cfg.yaml. */
export function stageArgs(stage: StageName, extra: string[] = []): string[] {
  switch (stage) {
    case 'synth':
      return ['synth', '--out', 'corpus', '--clips', '48', '--classes', '4', '--seconds', '2', '--width', '64', '--height', '48', '--fps', '8', '--seed', '7', '-q', ...extra];
    case 'ingest':
      return ['ingest', 'corpus', '--out', 'run/manifest.jsonl', '--config', 'cfg.yaml', '-q', ...extra];
    case 'pretrain':
      return ['pretrain', '--config', 'cfg.yaml', '--data', 'run/shards', '--resume', '-q', ...extra];
    default:
      return [stage, '--config', 'cfg.yaml', '-q', ...extra];
  }
}

export interface StageRun {
  code: number | null;
  signal: NodeJS.Signals | null;
  stderr: string;
  stdout: string;
  ms: number;
  killed: boolean;
  pid: number;
}

/**
 * Run the CLI in `cwd`; with `killAfterMs`, SIGKILL its whole process group (node, ffmpeg, workers:
 * what a scheduler's kill does) at that time if it is still running.
 */
export function runCli(cwd: string, args: string[], opts: { killAfterMs?: number; env?: NodeJS.ProcessEnv } = {}): Promise<StageRun> {
  return new Promise((resolve) => {
    const t0 = performance.now();
    const child = spawn(process.execPath, [bin, ...args], { cwd, detached: true, env: { ...process.env, CI: '1', ...opts.env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    let stdout = '';
    let killed = false;
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    const timer = opts.killAfterMs === undefined ? null : setTimeout(() => {
      if (child.exitCode === null && child.signalCode === null) {
        killed = true;
        try {
          process.kill(-child.pid!, 'SIGKILL');
        } catch {
          /* already gone */
        }
      }
    }, opts.killAfterMs);
    child.on('close', (code, signal) => {
      if (timer) clearTimeout(timer);
      resolve({ code, signal, stderr, stdout, ms: performance.now() - t0, killed: killed && signal === 'SIGKILL', pid: child.pid! });
    });
  });
}

export async function newWorkDir(tag: string): Promise<string> {
  const dir = await fsp.mkdtemp(path.join(os.tmpdir(), `avc-faults-${tag}-`));
  await fsp.writeFile(path.join(dir, 'cfg.yaml'), FAULT_CONFIG);
  return dir;
}

function sha(data: Uint8Array | string): string {
  return createHash('sha256').update(data).digest('hex');
}


/** Loss curve of a pretraining arm: every step's loss, lr and accuracies (not timings). */
export function lossCurve(metricsFile: string): string[] {
  return readFileSync(metricsFile, 'utf8')
    .trim()
    .split('\n')
    .map((l) => {
      const m = JSON.parse(l) as Record<string, number>;
      return JSON.stringify([m.step, m.loss, m.lr, m.acc_a2v, m.acc_v2a, m.grad_norm]);
    });
}

/** What must be identical between an interrupted and an uninterrupted run, per stage. */
export async function fingerprint(dir: string, stage: StageName): Promise<Record<string, unknown>> {
  const run = path.join(dir, 'run');
  switch (stage) {
    case 'synth': {
      const corpus = path.join(dir, 'corpus');
      const names = readdirSync(corpus).filter((n) => !n.startsWith('.')).sort();
      return Object.fromEntries(names.map((n) => [n, sha(readFileSync(path.join(corpus, n)))]));
    }
    case 'ingest':
      return { manifest: sha(readFileSync(path.join(run, 'manifest.jsonl'))) };
    case 'extract': {
      const feat = path.join(run, 'features');
      const out: Record<string, unknown> = {};
      for (const n of readdirSync(feat).filter((x) => x.endsWith('.h5')).sort()) out[n] = await h5Digest(path.join(feat, n));
      return out;
    }
    case 'cluster':
      return { clusters: await h5Digest(path.join(run, 'clusters.h5')) };
    case 'select':
      return { selection: readFileSync(path.join(run, 'selection.csv'), 'utf8') };
    case 'export': {
      const shards = path.join(run, 'shards');
      const out: Record<string, unknown> = {};
      for (const n of readdirSync(shards).filter((x) => x.endsWith('.tar')).sort()) out[n] = sha(readFileSync(path.join(shards, n)));
      out['shards.json'] = (JSON.parse(readFileSync(path.join(shards, 'shards.json'), 'utf8')) as { shards: unknown }).shards;
      return out;
    }
    case 'pretrain':
      return { loss: lossCurve(path.join(run, 'ssl', 'main', 'metrics.jsonl')) };
  }
}

/** Temporary files (tempPathFor names, checkpoint step temps) anywhere under a folder. */
export function tempFilesUnder(root: string): string[] {
  const out: string[] = [];
  const visit = (d: string): void => {
    if (!existsSync(d)) return;
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const full = path.join(d, e.name);
      if (/\.tmp-\d+/.test(e.name)) out.push(full);
      if (e.isDirectory()) visit(full);
    }
  };
  visit(root);
  return out;
}

/** Decode scratch files of dead processes left in the OS temp folder. */
export function deadDecodeScratch(): string[] {
  return readdirSync(os.tmpdir()).filter((n) => {
    const m = /^avcurate-decode-(\d+)-/.exec(n);
    return m !== null && !pidAlive(Number(m[1]));
  });
}

/** Mount a tmpfs of `bytes` at `dir` (root only); false when mounting is not possible here. */
export function mountTmpfs(dir: string, bytes: number): boolean {
  const r = spawnSync('mount', ['-t', 'tmpfs', '-o', `size=${bytes}`, 'tmpfs', dir], { encoding: 'utf8' });
  return r.status === 0;
}

export function remountTmpfs(dir: string, bytes: number): void {
  const r = spawnSync('mount', ['-o', `remount,size=${bytes}`, dir], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`remount ${dir}: ${r.stderr}`);
}

export function umount(dir: string): void {
  spawnSync('umount', [dir]);
}
