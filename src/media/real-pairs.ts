/**
 * A small real corpus from Debian's `qabcs-data` (apt-get install qabcs-data): pictures of
 * animals, toys, instruments and other things, each with the real recorded sound of that thing
 * (`pics/<category>/<name>.png` + `noises/<name>.ogg`, 241 pairs in 4 categories). Each pair
 * becomes a clip: the picture drifting slowly over a white background (so the frozen-picture
 * pre-filter keeps it) with its sound looped to the clip length. A fraction `mismatch` of the clips
 * get the sound of a thing from another category instead. Output: clip-NNNNN.mp4, labels.jsonl
 * (id, file, visual_class, audio_class, corresponds, picture, sound) and real-pairs.json.
 */
import { existsSync, promises as fsp, readdirSync } from 'node:fs';
import path from 'node:path';
import { ffmpegPath } from './ffmpeg.js';
import { MediaError, runTool } from './process.js';
import { Rng } from '../runtime/random.js';
import { Pool, defaultConcurrency } from '../runtime/pool.js';
import { Progress } from '../runtime/progress.js';
import { cleanStaleTemps, tempPathFor, writeFileAtomic } from '../runtime/atomic.js';

/** Settings of the corpus (their defaults live in the config: corpus.realPairs). */
export interface RealPairsOptions {
  /** The qabcs `all` folder (pics/ and noises/). */
  root: string;
  out: string;
  mismatch: number;
  seconds: number;
  width: number;
  height: number;
  fps: number;
  seed: number;
  /** Categories to use (default: every pics/ folder with at least 2 pictures that have a sound). */
  categories?: string[];
  concurrency?: number;
  silent?: boolean;
}

export interface RealPair {
  name: string;
  category: string;
  picture: string;
  sound: string;
}

export interface RealPairLabel {
  id: string;
  file: string;
  visual_class: string;
  audio_class: string;
  corresponds: boolean;
  picture: string;
  sound: string;
}

/** Every picture that has a sound of the same name, by category (sorted). */
export function findRealPairs(root: string, categories?: string[]): RealPair[] {
  const pics = path.join(root, 'pics');
  const noises = path.join(root, 'noises');
  if (!existsSync(pics) || !existsSync(noises)) {
    throw new Error(`real pairs: ${root} has no pics/ and noises/ (install Debian's qabcs-data: apt-get install qabcs-data)`);
  }
  const cats = (categories ?? readdirSync(pics, { withFileTypes: true }).filter((e) => e.isDirectory()).map((e) => e.name)).sort();
  const out: RealPair[] = [];
  for (const category of cats) {
    const dir = path.join(pics, category);
    if (!existsSync(dir)) throw new Error(`real pairs: no category folder ${dir}`);
    const found: RealPair[] = [];
    for (const f of readdirSync(dir).sort()) {
      if (!/\.(png|jpe?g)$/i.test(f)) continue;
      const name = f.replace(/\.[^.]+$/, '');
      const sound = path.join(noises, `${name}.ogg`);
      if (existsSync(sound)) found.push({ name, category, picture: path.join(dir, f), sound });
    }
    if (found.length >= 2) out.push(...found);
  }
  if (new Set(out.map((p) => p.category)).size < 2) throw new Error(`real pairs: fewer than 2 categories with picture+sound pairs under ${root}`);
  return out;
}

/** Decide which clips keep their sound and which get one from another category. Deterministic. */
export function planRealPairs(pairs: RealPair[], mismatch: number, seed: number): RealPairLabel[] {
  const rng = Rng.derive(seed, 'real-pairs');
  const n = pairs.length;
  const swapped = new Set(Array.from(rng.permutation(n)).slice(0, Math.round(mismatch * n)));
  return pairs.map((p, i) => {
    let sound = p;
    if (swapped.has(i)) {
      const others = pairs.filter((q) => q.category !== p.category);
      sound = others[rng.int(others.length)];
    }
    const id = `clip-${String(i).padStart(5, '0')}`;
    return { id, file: `${id}.mp4`, visual_class: p.category, audio_class: sound.category, corresponds: sound === p, picture: p.picture, sound: sound.sound };
  });
}

/**
 * The ffmpeg runs that make one clip: the picture's video alone, the sound alone, then the two
 * copied into one file. Same clip, same bytes, however many are made at once. Made in one run
 * from both inputs, ffmpeg (the bundled 2018 build) gave some qabcs clips different bytes under
 * load, about half the time: the picture decoder's frame threads decoded some pictures
 * differently, and the timestamps reaching x264's rate control depended on how the two inputs'
 * threads were scheduled. Each run now reads one input; the picture is decoded with one thread,
 * its frames are cut and restamped in the graph, and x264 ignores timestamps (force-cfr).
 */
function clipRuns(l: RealPairLabel, o: Required<Pick<RealPairsOptions, 'seconds' | 'width' | 'height' | 'fps'>>, parts: { video: string; audio: string }, out: string): string[][] {
  const { seconds: S, width: W, height: H, fps: F } = o;
  const frames = Math.round(S * F);
  const graph =
    `color=c=white:s=${W}x${H}:r=${F}:d=${S}[bg];` +
    `[0:v]scale=${Math.round(W * 0.8)}:${Math.round(H * 0.8)}:force_original_aspect_ratio=decrease[fg];` +
    `[bg][fg]overlay=x='(W-w)/2+${Math.round(W * 0.06)}*sin(2*PI*t/${S})':y='(H-h)/2+${Math.round(H * 0.04)}*cos(2*PI*t/${S})':shortest=1,` +
    `trim=end_frame=${frames},setpts=N/${F}/TB,format=yuv420p[v]`;
  const exact = ['-fflags', '+bitexact', '-map_metadata', '-1', '-f', 'mp4'];
  return [
    [
      '-v', 'error', '-nostdin', '-y', '-threads', '1', '-loop', '1', '-framerate', String(F), '-i', l.picture,
      '-filter_complex', graph, '-map', '[v]', '-frames:v', String(frames),
      '-c:v', 'libx264', '-preset', 'veryfast', '-crf', '23', '-threads', '1', '-x264-params', 'force-cfr=1', '-flags:v', '+bitexact',
      ...exact, parts.video,
    ],
    [
      '-v', 'error', '-nostdin', '-y', '-stream_loop', '-1', '-i', l.sound, '-t', String(S), '-map', '0:a:0',
      '-c:a', 'aac', '-b:a', '64k', '-ac', '1', '-ar', '16000', '-flags:a', '+bitexact',
      ...exact, parts.audio,
    ],
    ['-v', 'error', '-nostdin', '-y', '-i', parts.video, '-i', parts.audio, '-map', '0:v:0', '-map', '1:a:0', '-c', 'copy', ...exact, out],
  ];
}

/** Build the corpus into `o.out` (resumes: finished clips are kept when the settings match). */
export async function buildRealPairs(o: RealPairsOptions): Promise<{ labelsFile: string; labels: RealPairLabel[]; generated: number }> {
  const root = o.root;
  const settings = { generator: 'avcurate-real-pairs/3', root, mismatch: o.mismatch, seconds: o.seconds, width: o.width, height: o.height, fps: o.fps, seed: o.seed, categories: o.categories ?? null };
  const out = path.resolve(o.out);
  await fsp.mkdir(out, { recursive: true });
  await cleanStaleTemps(out);
  const settingsFile = path.join(out, 'real-pairs.json');
  const text = JSON.stringify(settings, null, 2) + '\n';
  if (existsSync(settingsFile) && (await fsp.readFile(settingsFile, 'utf8')) !== text) {
    for (const f of await fsp.readdir(out)) if (/^clip-\d+\.mp4$/.test(f) || f === 'labels.jsonl') await fsp.rm(path.join(out, f));
  }
  await writeFileAtomic(settingsFile, text);
  const labels = planRealPairs(findRealPairs(root, o.categories), o.mismatch, o.seed);
  const progress = new Progress('real pairs', { total: labels.length, unit: 'clips', silent: o.silent });
  const pool = new Pool(o.concurrency ?? defaultConcurrency());
  let generated = 0;
  await pool.map(labels, async (l) => {
    const target = path.join(out, l.file);
    if (!existsSync(target)) {
      const tmp = tempPathFor(target);
      const parts = { video: tempPathFor(path.join(out, `${l.id}.video.mp4`)), audio: tempPathFor(path.join(out, `${l.id}.audio.mp4`)) };
      try {
        for (const args of clipRuns(l, { seconds: settings.seconds, width: settings.width, height: settings.height, fps: settings.fps }, parts, tmp)) {
          const r = await runTool(ffmpegPath(), args, { timeoutMs: 120_000 });
          if (r.code !== 0) throw new MediaError(target, `ffmpeg could not make the clip from ${l.picture} and ${l.sound} (exit ${r.code})`, r.stderrTail);
        }
        await fsp.rename(tmp, target);
      } finally {
        await Promise.all([tmp, parts.video, parts.audio].map((f) => fsp.rm(f, { force: true })));
      }
      generated++;
    }
    progress.tick();
  });
  progress.finish();
  const labelsFile = path.join(out, 'labels.jsonl');
  await writeFileAtomic(labelsFile, labels.map((l) => JSON.stringify(l)).join('\n') + '\n');
  return { labelsFile, labels, generated };
}
