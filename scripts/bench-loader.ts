/**
 * npm run bench:loader — loader figures measured side by side in one run:
 *  (a) clips/s decoding shard samples through the loader (tar read, temp file, ffmpeg, ordered
 *      parallel pool) against the plain ffmpeg command decoding the same clips from files at the
 *      same concurrency (the exact argument list decodeClip uses, outputs piped and discarded),
 *      and the CPU per clip of each arm (Node's own and its ffmpeg children's; Linux) with their ratio;
 *  (b) GB/s reading pre-decoded .npy shards through shuffle and batch (bytes of array data in the
 *      batches per second), against plain positional reads of the same files (the I/O floor), with
 *      CPU-seconds per GB and the GCs of each run (docs/loaders.md "Performance": GC is what moves
 *      this figure);
 *  (c) time to restore a mid-epoch state (iterator(state) to the first batch), against the time to
 *      the first batch of a fresh iterator, and the state's size;
 *  (d) the path the experiment's arms train on: a decoded-tensor cache (frames.npy + spec.npy) →
 *      the arm's rows → shuffle → SpecAugment → batch → normalised model inputs (ssl/data.ts
 *      sslTrainingBatches, as arm-worker.ts runs it), in batches/s, against the same batches
 *      gathered from arrays held in memory (a seeded permutation, row copies, the same masking
 *      and normalisation: what the arms did before the cache became a loaders source). The ratio
 *      is cache-path batches/s over in-memory batches/s for the same batches.
 * Options: --clips N (default 24), --concurrency C (default: cores), --seconds S (clip length, 4),
 * --npy-samples N (default 192), --epochs E (for b, default 4, after 2 warm-up passes), --cache-rows N (for d,
 * default 560, the demo's pool), --cases LETTERS (which of a-d to run, default abcd), --dir DIR (work folder, default a
 * temp folder, removed at the end unless --keep).
 */
import { promises as fsp, mkdtempSync } from 'node:fs';
import { spawn } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import { synthesize } from '../src/media/synth.js';
import { probe } from '../src/media/probe.js';
import { decodeArgs } from '../src/media/decode.js';
import { ffmpegPath } from '../src/media/ffmpeg.js';
import { Pool, defaultConcurrency } from '../src/runtime/pool.js';
import { PerformanceObserver, constants as perfConstants } from 'node:perf_hooks';
import { fromShards, parseSample, ShardWriter, encodeNpy, type NdArray, type ParsedSample, type DecodeSpec, type Dataset, type Collated, type ShardInfo } from '../src/loaders/index.js';
import { exportShards } from '../src/loaders/export/export.js';
import { Rng } from '../src/runtime/random.js';
import { fromArray, writeTensorCache, augmentItem, framesToFloat32 } from '../src/loaders/index.js';
import { sslTrainingBatches } from '../src/ssl/data.js';
import { SslSchema } from '../src/config/sections/ssl.js';
import { LoaderSchema } from '../src/config/sections/loader.js';
import { childCpu } from './lib/child-cpu.js';

function arg(name: string, def: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : def;
}
const strArg = (name: string): string | undefined => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : undefined;
};

const clips = arg('clips', 24);
const c = arg('concurrency', defaultConcurrency());
const seconds = arg('seconds', 4);
const npySamples = arg('npy-samples', 192);
const epochs = arg('epochs', 4);
const cacheRows = arg('cache-rows', 560);
const keep = process.argv.includes('--keep');
/** Which cases to run (letters a-d; default all). */
const cases = strArg('cases') ?? 'abcd';
const work = strArg('dir') ?? mkdtempSync(path.join(os.tmpdir(), 'avcurate-bench-loader-'));
const spec: DecodeSpec = { fps: 8, size: 112, seconds: 2, sampleRate: 16000, sampling: 'center', fit: 'cover', audio: 'optional' };

const now = () => performance.now();

/** The plain ffmpeg command, outputs piped and drained; resolves with the bytes read. */
function plainFfmpeg(args: string[]): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = spawn(ffmpegPath(), args, { stdio: ['ignore', 'pipe', 'pipe', 'pipe'] });
    let bytes = 0;
    child.stdout!.on('data', (b: Buffer) => (bytes += b.length));
    (child.stdio[3] as NodeJS.ReadableStream).on('data', (b: Buffer) => (bytes += b.length));
    let err = '';
    child.stderr!.on('data', (b: Buffer) => (err += b.toString()));
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve(bytes) : reject(new Error(`ffmpeg exit ${code}: ${err.slice(-300)}`))));
  });
}

async function main(): Promise<void> {
  console.log(`bench-loader: ${clips} clips of ${seconds} s, decode ${spec.size}x${spec.size} @ ${spec.fps} fps, ${spec.seconds} s windows, concurrency ${c}, cases ${cases}, work folder ${work}`);
  const shards = cases.includes('a') || cases.includes('c') ? await clipShards() : '';
  if (cases.includes('a')) await caseA(shards);
  const npy = cases.includes('b') || cases.includes('c') ? await npyShards() : null;
  if (cases.includes('b')) await caseB(npy!);
  if (cases.includes('c')) await caseC(npy!, shards);
  if (cases.includes('d')) await caseD();
  if (!keep && !strArg('dir')) await fsp.rm(work, { recursive: true, force: true });
}

const median = (x: number[]) => [...x].sort((p, q) => p - q)[Math.floor(x.length / 2)];
const size = spec.size as number;

/** Corpus → manifest → selection → shards (setup, not timed); the shard folder. */
async function clipShards(): Promise<string> {
  // Corpus → manifest → selection → shards (setup, not timed).
  const media = path.join(work, 'media');
  const synth = await synthesize({ out: media, clips, classes: 4, mismatch: 0, seconds, seed: 1, silent: true });
  const records = [];
  for (const l of synth.labels) {
    const file = path.join(media, l.file);
    const info = await probe(file);
    records.push({
      id: l.id, source: file, start: 0, duration: info.duration, video_id: l.id,
      probe: { duration: info.duration, width: info.video!.width, height: info.video!.height, fps: info.video!.fps, sampleRate: info.audio?.sampleRate ?? 0, videoCodec: info.video!.codec, audioCodec: info.audio?.codec ?? '' },
    });
  }
  await fsp.writeFile(path.join(work, 'manifest.jsonl'), records.map((r) => JSON.stringify(r)).join('\n') + '\n');
  await fsp.writeFile(path.join(work, 'selection.csv'), ['rank,id,video_id,start,end,gain,objective', ...records.map((r, i) => `${i + 1},${r.id},${r.video_id},0,${r.duration},0,0`)].join('\n') + '\n');
  const shards = path.join(work, 'shards');
  await exportShards({ selection: path.join(work, 'selection.csv'), out: shards, maxCount: 8, cut: { mode: 'copy' }, silent: true });

  return shards;
}


/** Run `fn`, adding the CPU milliseconds of this process and of its children to `into`. */
async function withCpu<R>(into: { node: number[]; tools: Array<number | null> }, fn: () => Promise<R>): Promise<R> {
  const c0 = process.cpuUsage();
  const k0 = childCpu();
  const r = await fn();
  const c = process.cpuUsage(c0);
  const k1 = childCpu();
  into.node.push((c.user + c.system) / 1000);
  into.tools.push(k0 === null || k1 === null ? null : (k1 - k0) * 1000);
  return r;
}

/** (a) Loader decode vs plain ffmpeg on the same clips (the mp4 members written out as files). */
async function caseA(shards: string): Promise<void> {
  const samples = await (await fromShards(shards)).toArray();
  const files: Array<{ file: string; duration: number }> = [];
  const plainDir = path.join(work, 'plain');
  await fsp.mkdir(plainDir, { recursive: true });
  for (const s of samples) {
    const file = path.join(plainDir, `${s.__key__}.mp4`);
    await fsp.writeFile(file, s.mp4 as Buffer);
    files.push({ file, duration: JSON.parse((s.json as Buffer).toString()).duration });
  }
  const runPlain = async () => {
    const pool = new Pool(c);
    const t0 = now();
    await pool.map(files, (f) => plainFfmpeg(decodeArgs(f.file, Math.max(0, (f.duration - spec.seconds) / 2), spec.seconds, { fps: spec.fps, width: size, height: size, sampleRate: spec.sampleRate, fit: 'cover' }, { video: true, audio: true })));
    return files.length / ((now() - t0) / 1000);
  };
  const runLoader = async () => {
    const ds = (await fromShards(shards)).decode({ ...spec, concurrency: c, onError: 'raise' });
    const t0 = now();
    let n = 0;
    for await (const d of ds) if (d.frames.data.length > 0) n++;
    if (n !== files.length) throw new Error(`loader decoded ${n} of ${files.length}`);
    return n / ((now() - t0) / 1000);
  };
  await runPlain(); // warm the page cache and ffmpeg
  await runLoader();
  const plain: number[] = [];
  const loader: number[] = [];
  const cpuPlain = { node: [] as number[], tools: [] as Array<number | null> };
  const cpuLoader = { node: [] as number[], tools: [] as Array<number | null> };
  for (let r = 0; r < 3; r++) {
    plain.push(await withCpu(cpuPlain, runPlain));
    loader.push(await withCpu(cpuLoader, runLoader));
  }
  console.log(`(a) decode from shards: loader ${median(loader).toFixed(1)} clips/s, plain ffmpeg ${median(plain).toFixed(1)} clips/s at concurrency ${c}: ratio ${(median(loader) / median(plain)).toFixed(2)} (target >= 0.9; median of 3 interleaved runs each; runs: loader ${loader.map((x) => x.toFixed(1)).join(' ')}, plain ${plain.map((x) => x.toFixed(1)).join(' ')})`);
  // With concurrency = cores the decode is CPU-bound: CPU per clip predicts the ratio on an idle
  // machine and hardly moves when other processes share the cores.
  const perClip = (x: { node: number[]; tools: Array<number | null> }) => {
    const node = median(x.node) / files.length;
    const tools = x.tools.every((t) => t !== null) ? median(x.tools as number[]) / files.length : null;
    return { node, tools, text: `Node ${node.toFixed(1)} ms${tools === null ? '' : ` + ffmpeg ${tools.toFixed(1)} ms`}` };
  };
  const pp = perClip(cpuPlain);
  const pl = perClip(cpuLoader);
  const cpuRatio = pp.tools !== null && pl.tools !== null ? ` (CPU ratio ${((pp.node + pp.tools) / (pl.node + pl.tools)).toFixed(2)})` : '';
  console.log(`(a) CPU per clip, median of 3 runs: plain ffmpeg ${pp.text}; loader ${pl.text}${cpuRatio}`);
}

/** Major (mark-compact) and minor GCs and their time while `fn` runs. */
async function withGc<R>(fn: () => Promise<R>): Promise<{ result: R; major: number; minor: number; gcMs: number; cpuS: number }> {
  const counts = { major: 0, minor: 0, gcMs: 0 };
  const obs = new PerformanceObserver((list) => {
    for (const e of list.getEntries()) {
      const kind = (e as PerformanceEntry & { detail?: { kind?: number } }).detail?.kind;
      if (kind === perfConstants.NODE_PERFORMANCE_GC_MAJOR) counts.major++;
      else if (kind === perfConstants.NODE_PERFORMANCE_GC_MINOR) counts.minor++;
      counts.gcMs += e.duration;
    }
  });
  obs.observe({ entryTypes: ['gc'] });
  const c0 = process.cpuUsage();
  const result = await fn();
  const cpu = process.cpuUsage(c0);
  await new Promise((r) => setTimeout(r, 20)); // gc entries are delivered asynchronously
  obs.disconnect();
  return { result, ...counts, cpuS: (cpu.user + cpu.system) / 1e6 };
}

interface NpyShards {
  urls: ShardInfo[];
  tarBytes: number;
  pipeline: () => Promise<Dataset<Collated<{ key: string; frames: NdArray; audio: NdArray }>>>;
}

/** Pre-decoded .npy shards (setup, not timed) and the (b) pipeline over them. */
async function npyShards(): Promise<NpyShards> {
  const npyDir = path.join(work, 'npy');
  const T = Math.round(spec.fps * spec.seconds);
  const S = spec.seconds * spec.sampleRate;
  const w = new ShardWriter(npyDir, { maxCount: 48 });
  const rng = new Rng(7);
  const framesData = new Uint8Array(T * size * size * 3);
  for (let i = 0; i < framesData.length; i++) framesData[i] = rng.nextUint32() & 255;
  for (let i = 0; i < npySamples; i++) {
    framesData[0] = i & 255;
    await w.write(`s${String(i).padStart(6, '0')}`, {
      'frames.npy': encodeNpy({ dtype: 'uint8', shape: [T, size, size, 3], data: framesData }),
      'audio.npy': encodeNpy({ dtype: 'float32', shape: [S], data: new Float32Array(S).fill(i / npySamples) }),
      json: Buffer.from(JSON.stringify({ i })),
    });
  }
  const written = await w.finish();
  const urls = written.map((s) => ({ url: path.join(npyDir, s.name), count: s.count }));
  const pipeline = async () => (await fromShards(urls)).shuffle(64, 1).map(parseSample).map((s: ParsedSample) => ({ key: s.__key__, frames: s['frames.npy'] as NdArray, audio: s['audio.npy'] as NdArray })).batch(16, { dropRemainder: true });
  return { urls, tarBytes: written.reduce((a, s) => a + s.bytes, 0), pipeline };
}

/** The I/O floor for (b): the same files read front to back with plain positional reads into one reused 4 MiB buffer; bytes read. */
async function rawRead(files: readonly string[]): Promise<number> {
  const buf = Buffer.allocUnsafeSlow(4 << 20);
  let total = 0;
  for (const f of files) {
    const fh = await fsp.open(f, 'r');
    try {
      for (;;) {
        const { bytesRead } = await fh.read(buf, 0, buf.length, null);
        if (bytesRead === 0) break;
        total += bytesRead;
      }
    } finally {
      await fh.close();
    }
  }
  return total;
}

/** (b) Pre-decoded .npy shards through shuffle and batch, against plain reads of the same files. */
async function caseB(npy: NpyShards): Promise<void> {
  for (let w = 0; w < 2; w++) for await (const b of await npy.pipeline()) if (b.frames.data.length === 0) throw new Error('empty batch'); // warm-up passes (JIT, page cache)
  const files = npy.urls.map((u) => u.url);
  const runs: Array<{ arr: number; tar: number; raw: number; major: number; minor: number; gcMs: number; cpuPerGb: number }> = [];
  for (let r = 0; r < 3; r++) {
    const t0 = now();
    const g = await withGc(async () => {
      let bytes = 0;
      for await (const b of (await npy.pipeline()).repeat(epochs)) bytes += b.frames.data.byteLength + b.audio.data.byteLength;
      return bytes;
    });
    const secs = (now() - t0) / 1000;
    // 4x the pipeline's passes, so that this short loop is timed over a useful interval.
    const t1 = now();
    let rawBytes = 0;
    for (let e = 0; e < 4 * epochs; e++) rawBytes += await rawRead(files);
    const rawSecs = (now() - t1) / 1000;
    runs.push({ arr: g.result / secs / 1e9, tar: (npy.tarBytes * epochs) / secs / 1e9, raw: rawBytes / rawSecs / 1e9, major: g.major, minor: g.minor, gcMs: g.gcMs, cpuPerGb: g.cpuS / (g.result / 1e9) });
  }
  const m = (f: (x: (typeof runs)[number]) => number) => median(runs.map(f));
  const list = (f: (x: (typeof runs)[number]) => number, d = 2) => runs.map((x) => f(x).toFixed(d)).join(' ');
  console.log(`(b) .npy shards → shuffle(64) → batch(16): ${m((x) => x.arr).toFixed(2)} GB/s of array data (${m((x) => x.tar).toFixed(2)} GB/s of tar; plain reads of the same files ${m((x) => x.raw).toFixed(2)} GB/s: ratio ${m((x) => x.tar / x.raw).toFixed(2)}) (target >= 1 GB/s; median of 3 interleaved runs of ${epochs} epochs of ${npySamples} samples; runs: ${list((x) => x.arr)} GB/s, ratio ${list((x) => x.tar / x.raw)}; ${list((x) => x.cpuPerGb)} CPU-s per GB; GC per run: ${runs.map((x) => `${x.major} major + ${x.minor} minor, ${x.gcMs.toFixed(0)} ms`).join('; ')})`);
}

/** (c) Restore a mid-epoch state, of the (b) pipeline and of a decode pipeline. */
async function caseC(npy: NpyShards, shards: string): Promise<void> {
  const ds = await npy.pipeline();
  const it = ds.iterator();
  const half = Math.floor(npySamples / 16 / 2);
  for (let i = 0; i < half; i++) await it.next();
  const state = JSON.stringify(it.getState());
  const expected = await it.next();
  await it.close();
  const t1 = now();
  const fresh = ds.iterator();
  await fresh.next();
  const freshMs = now() - t1;
  await fresh.close();
  const t2 = now();
  const restored = ds.iterator(JSON.parse(state));
  const got = await restored.next();
  const restoreMs = now() - t2;
  await restored.close();
  const same = !expected.done && !got.done && JSON.stringify(expected.value.key) === JSON.stringify(got.value.key);
  console.log(`(c) restore mid-epoch (after ${half} of ${Math.floor(npySamples / 16)} batches; shuffle buffer 64 rebuilt from shard offsets): ${restoreMs.toFixed(1)} ms to the next batch (fresh iterator: ${freshMs.toFixed(1)} ms); state ${state.length} bytes of JSON; continuation ${same ? 'identical' : 'DIFFERENT'}`);

  // Decode pipeline restore: shuffle before decode, so a restore decodes only the next batch.
  const dsd = (await fromShards(shards)).shuffle(8, 2).decode({ ...spec, concurrency: c }).batch(4);
  const itd = dsd.iterator();
  await itd.next();
  const stated = JSON.stringify(itd.getState());
  await itd.close();
  const t3 = now();
  const rd = dsd.iterator(JSON.parse(stated));
  await rd.next();
  const restoreDecodeMs = now() - t3;
  await rd.close();
  console.log(`(c) restore a decode pipeline (shards → shuffle(8) → decode → batch(4)) after 1 batch: ${restoreDecodeMs.toFixed(0)} ms to the next batch (includes decoding its 4 clips); state ${stated.length} bytes`);

}

/** (d) The experiment's cache path against the same batches from in-memory arrays. */
async function caseD(): Promise<void> {
  const ssl = SslSchema.parse({ batchSize: 32, model: { audio: { frames: 96, mels: 64 }, visual: { frames: 4, height: 32, width: 32 } } });
  const loaderCfg = LoaderSchema.parse({});
  const [A, M, TT, H, W] = [96, 64, 4, 32, 32];
  const cacheDir = path.join(work, 'tensors');
  const crng = new Rng(3);
  const specs = new Float32Array(cacheRows * A * M).map(() => crng.normal());
  const frames = new Uint8Array(cacheRows * TT * H * W * 3).map(() => crng.nextUint32() & 255);
  const perS = A * M;
  const perF = TT * H * W * 3;
  const rows = Array.from({ length: cacheRows }, (_, i) => ({
    key: `c${i}`,
    frames: { dtype: 'uint8' as const, shape: [TT, H, W, 3], data: frames.slice(i * perF, (i + 1) * perF) },
    spec: { dtype: 'float32' as const, shape: [A, M], data: specs.slice(i * perS, (i + 1) * perS) },
  }));
  await writeTensorCache(fromArray(rows), cacheDir);
  const armKeys = sampleKeys(cacheRows, Math.round(cacheRows / 2), 5);
  const steps = 200;
  const viaCache = async () => {
    const it = (await sslTrainingBatches(cacheDir, { ssl, loader: loaderCfg }, { seed: 1, keys: armKeys })).iterator();
    const t0 = now();
    for (let k = 0; k < steps; k++) if ((await it.next()).done) throw new Error('cache batches ended');
    const dt = now() - t0;
    await it.close();
    return steps / (dt / 1000);
  };
  // Baseline: arrays in memory, a seeded permutation per epoch, row copies, the same SpecAugment
  // and frame normalisation, no pipeline.
  const idx = armKeys.map((k) => Number(k.slice(1)));
  const inMemory = () => {
    const t0 = now();
    const B = 32;
    const perEpoch = Math.floor(idx.length / B);
    for (let k = 0; k < steps; k++) {
      const epoch = Math.floor(k / perEpoch);
      const order = Rng.derive(1, 'bench-perm', epoch).permutation(idx.length);
      const a = new Float32Array(B * perS);
      const f = new Uint8Array(B * perF);
      for (let j = 0; j < B; j++) {
        const i = idx[order[(k % perEpoch) * B + j]];
        const masked = augmentItem({ key: `c${i}`, spec: { dtype: 'float32', shape: [A, M], data: specs.subarray(i * perS, (i + 1) * perS) } }, { seed: 1, specMask: { field: 'spec', freq: 3, time: 4, count: 1 } }, epoch, j);
        a.set((masked.spec as NdArray).data as Float32Array, j * perS);
        f.set(frames.subarray(i * perF, (i + 1) * perF), j * perF);
      }
      const ff = framesToFloat32({ dtype: 'uint8', shape: [B, TT, H, W, 3], data: f }, { mean: 0.45, std: 0.225 });
      if (ff.data.length !== B * perF || a.length !== B * perS) throw new Error('bad batch');
    }
    return steps / ((now() - t0) / 1000);
  };
  await viaCache();
  inMemory();
  const cacheRates: number[] = [];
  const memRates: number[] = [];
  for (let r = 0; r < 3; r++) {
    cacheRates.push(await viaCache());
    memRates.push(inMemory());
  }
  const mc = median(cacheRates);
  const mm = median(memRates);
  console.log(`(d) tensor cache → arm rows → shuffle → SpecAugment → batch(32) → model inputs (the demo's arms): ${mc.toFixed(0)} batches/s (${((mc * 32 * (perS * 4 + perF)) / 1e9).toFixed(2)} GB/s read), in-memory arrays with the same work ${mm.toFixed(0)} batches/s: ratio ${(mc / mm).toFixed(2)} (${cacheRows} cached clips, ${armKeys.length} in the arm, median of 3 interleaved runs of ${steps} batches; the demo trains 100 steps per arm and seed)`);
}

/** n distinct cache keys drawn with a seed (an arm's training set). */
function sampleKeys(rows: number, n: number, seed: number): string[] {
  return Array.from(new Rng(seed).permutation(rows).slice(0, n), (i) => `c${i}`);
}

main().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
