/**
 * bench:decode — decode 40 synthetic clips to 112x112 at 8 fps + 16 kHz mono through the media
 * layer (decodeClip) and through the plain ffmpeg command line writing the same raw formats to
 * files, at the same concurrency, in one run. Prints clips/s for both and the ratio (target >= 0.9).
 * The process loads and parses the config first, as every stage does (decodeClip's module reads
 * its timeout default from the schema anyway): V8's collections of the decoded arrays depend on how
 * much long-lived heap the process holds (docs/loaders.md "Performance"), so the figure is the one
 * a stage gets.
 *
 *   npm run bench:decode [-- --clips 40 --concurrency 2 --rounds 3]
 */
import { promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { synthesize } from '../src/media/synth.js';
import { decodeClip, decodeArgs } from '../src/media/decode.js';
import { probe } from '../src/media/probe.js';
import { ffmpegPath, ffmpegLocation, toolVersion } from '../src/media/ffmpeg.js';
import { runTool } from '../src/media/process.js';
import { Pool, defaultConcurrency } from '../src/runtime/pool.js';
import type { DecodeOptions, ProbeInfo } from '../src/media/types.js';
import { parseConfig } from '../src/config/index.js';
import { childCpu } from './lib/child-cpu.js';

function arg(name: string, def: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : def;
}

const nClips = arg('clips', 40);
const concurrency = arg('concurrency', defaultConcurrency());
const rounds = arg('rounds', 3);
const seconds = 4;
const opts: DecodeOptions = { fps: 8, width: 112, height: 112, sampleRate: 16000 };

const corpus = path.resolve('.cache', 'bench', `decode-${nClips}`);
await synthesize({ out: corpus, clips: nClips, classes: 10, mismatch: 0.5, seconds, seed: 7, width: 320, height: 240, fps: 25, silent: true });
const files = (await fsp.readdir(corpus)).filter((f) => f.endsWith('.mp4')).sort().map((f) => path.join(corpus, f));
const probes = new Map<string, ProbeInfo>();
for (const f of files) probes.set(f, await probe(f));
const scratch = await fsp.mkdtemp(path.join(os.tmpdir(), 'bench-decode-'));


/** CPU milliseconds per clip of one arm: this process (Node) and its ffmpeg children. */
interface Cpu { node: number; tools: number | null }
const cpuOf: Record<'cli' | 'layer', Cpu[]> = { cli: [], layer: [] };

async function timed(arm: 'cli' | 'layer' | null, fn: () => Promise<void>): Promise<number> {
  const c0 = process.cpuUsage();
  const k0 = childCpu();
  const t0 = performance.now();
  await fn();
  const secs = (performance.now() - t0) / 1000;
  const c = process.cpuUsage(c0);
  const k1 = childCpu();
  if (arm) cpuOf[arm].push({ node: (c.user + c.system) / 1000 / files.length, tools: k0 === null || k1 === null ? null : ((k1 - k0) * 1000) / files.length });
  return files.length / secs;
}

async function viaMediaLayer(withProbe: boolean): Promise<number> {
  const pool = new Pool(concurrency);
  let frames = 0;
  const rate = await timed(withProbe ? 'layer' : null, async () => {
    await pool.map(files, async (f) => {
      const c = await decodeClip(f, 0, seconds, { ...opts, probe: withProbe ? probes.get(f) : undefined });
      frames += c.shape[0];
    });
  });
  if (frames !== files.length * seconds * opts.fps) throw new Error(`media layer decoded ${frames} frames`);
  return rate;
}

async function viaFfmpegCli(): Promise<number> {
  const pool = new Pool(concurrency);
  return timed('cli', () => pool.map(files, async (f, i) => {
    const out = { video: path.join(scratch, `${i}.rgb`), audio: path.join(scratch, `${i}.f32`) };
    const r = await runTool(ffmpegPath(), decodeArgs(f, 0, seconds, opts, { video: true, audio: true }, out));
    if (r.code !== 0) throw new Error(`ffmpeg failed on ${f}: ${r.stderrTail}`);
    const st = await fsp.stat(out.video);
    if (st.size !== seconds * opts.fps * 112 * 112 * 3) throw new Error(`ffmpeg wrote ${st.size} bytes of video for ${f}`);
  }).then(() => undefined));
}

parseConfig({}, 'bench-decode'); // what a stage holds: the zod schemas and a parsed config
const loc = ffmpegLocation();
console.log(`ffmpeg: ${loc.path} (${loc.source}) — ${toolVersion('ffmpeg')}`);
console.log(`${files.length} clips of ${seconds} s (320x240 @ 25 fps H.264 + AAC) → 112x112 @ 8 fps RGB + 16 kHz mono f32, concurrency ${concurrency}, best of ${rounds} rounds; config schema loaded and parsed as in a stage (heap ${(process.memoryUsage().heapUsed / 2 ** 20).toFixed(1)} MiB)`);
await viaMediaLayer(true); // warm the page cache
const best = { cli: 0, layer: 0, cold: 0 };
for (let r = 0; r < rounds; r++) {
  best.cli = Math.max(best.cli, await viaFfmpegCli());
  best.layer = Math.max(best.layer, await viaMediaLayer(true));
  best.cold = Math.max(best.cold, await viaMediaLayer(false));
}
await fsp.rm(scratch, { recursive: true, force: true });
console.log(`plain ffmpeg CLI (raw files):          ${best.cli.toFixed(1)} clips/s`);
console.log(`media layer decodeClip (probe known):  ${best.layer.toFixed(1)} clips/s`);
console.log(`media layer decodeClip (probe first):  ${best.cold.toFixed(1)} clips/s`);
console.log(`ratio media layer / ffmpeg CLI: ${(best.layer / best.cli).toFixed(3)} (target >= 0.9); with a probe per clip: ${(best.cold / best.cli).toFixed(3)}`);
// With concurrency = cores the decode is CPU-bound, so CPU per clip predicts the ratio on an idle
// machine; unlike clips/s it hardly moves when other processes share the cores.
const med = (x: number[]) => [...x].sort((a, b) => a - b)[Math.floor(x.length / 2)];
const cpuLine = (arm: 'cli' | 'layer') => {
  const node = med(cpuOf[arm].map((c) => c.node));
  const tools = cpuOf[arm].every((c) => c.tools !== null) ? med(cpuOf[arm].map((c) => c.tools!)) : null;
  return { node, tools, text: `Node ${node.toFixed(1)} ms${tools === null ? '' : ` + ffmpeg ${tools.toFixed(1)} ms`}` };
};
const cc = cpuLine('cli');
const cl = cpuLine('layer');
const cpuRatio = cc.tools !== null && cl.tools !== null ? ` (CPU ratio ${((cc.node + cc.tools) / (cl.node + cl.tools)).toFixed(3)})` : '';
console.log(`CPU per clip, median of ${rounds} rounds: ffmpeg CLI arm ${cc.text}; media layer ${cl.text}${cpuRatio}`);
