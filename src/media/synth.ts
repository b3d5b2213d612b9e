/**
 * Synthetic audio-visual corpus with known ground truth. Each class pairs a visual family (an
 * ffmpeg lavfi source with motion) with an audio family; seeded variation within a class (hue,
 * frequency jitter, source seeds, zoom, speed). A fraction of the clips get the audio of another
 * class (`corresponds: false`). The temporal family pairs a flashing picture with clicks that are
 * in sync (corresponding) or shifted by half a period (not).
 *
 * Same options and seed give byte-identical files: every random choice comes from the seed, the
 * encoders run single-threaded with bit-exact flags, and no metadata carries a time or a path.
 */
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { ffmpegPath } from './ffmpeg.js';
import { MediaError, runTool } from './process.js';
import { Rng } from '../runtime/random.js';
import { Pool, defaultConcurrency } from '../runtime/pool.js';
import { Progress } from '../runtime/progress.js';
import { writeFileAtomic, cleanStaleTemps, tempPathFor } from '../runtime/atomic.js';
import { exists } from '../runtime/jsonl.js';
import { SYNTH_DEFAULTS } from '../config/defaults.js';

export interface SynthOptions {
  out: string;
  clips: number;
  classes: number;
  mismatch: number;
  seconds: number;
  seed: number;
  width?: number;
  height?: number;
  fps?: number;
  sampleRate?: number;
  family?: SynthFamily;
  concurrency?: number;
  /** Regenerate even when the folder holds a corpus made with other settings. */
  force?: boolean;
  silent?: boolean;
}

/**
 * concepts: one class = one visual family + one audio family, filling the frame and the track;
 * temporal: flash/click sync; mixed: both alternating; scenes: the harder family (below).
 */
export type SynthFamily = 'concepts' | 'temporal' | 'mixed' | 'scenes';
export const SYNTH_FAMILIES: readonly SynthFamily[] = ['concepts', 'temporal', 'mixed', 'scenes'];

export interface SynthLabel {
  id: string;
  file: string;
  visual_class: number;
  audio_class: number;
  corresponds: boolean;
  visual_family: string;
  audio_family: string;
  /** For the temporal family: audio offset against the flashes, seconds (0 when in sync). */
  offset?: number;
  /** For the scenes family: the class-independent background and distractor sound. */
  background?: string;
  distractor?: string;
}

interface Variation {
  hue: number;
  jitter: number;
  seedA: number;
  seedB: number;
  u: number;
  v: number;
}

type VisualFamily = { name: string; graph: (w: number, h: number, fps: number, x: Variation) => string };
type AudioFamily = { name: string; graph: (sr: number, x: Variation) => string };

const f3 = (x: number) => Number(x.toFixed(3)).toString();

/** Visual families: every one moves, so the frozen-picture pre-filter keeps them. */
export const VISUAL_FAMILIES: VisualFamily[] = [
  { name: 'testsrc2', graph: (w, h, r, x) => `testsrc2=s=${w}x${h}:r=${r},hue=h=${f3(x.hue)}` },
  {
    name: 'mandelbrot',
    graph: (w, h, r, x) => `mandelbrot=s=${w}x${h}:r=${r}:start_scale=${f3(2 + x.u)}:end_scale=${f3(0.05 + 0.1 * x.v)}:start_x=${f3(-0.743643887 + 0.01 * (x.u - 0.5))}:start_y=${f3(-0.131825904 + 0.01 * (x.v - 0.5))},hue=h=${f3(x.hue)}`,
  },
  {
    name: 'life',
    graph: (w, h, r, x) => `life=s=${w}x${h}:r=${r}:seed=${x.seedA}:ratio=${f3(0.15 + 0.2 * x.u)}:mold=10:life_color=#30ff60:death_color=#102010,hue=h=${f3(x.hue)}`,
  },
  { name: 'cellauto', graph: (w, h, r, x) => `cellauto=s=${w}x${h}:r=${r}:rule=${[30, 90, 110, 150][x.seedB % 4]}:seed=${x.seedA}:ratio=0.5,format=yuv420p,lutyuv=u=180:v=90,hue=h=${f3(x.hue)}` },
  {
    name: 'plasma',
    graph: (w, h, r, x) => `color=c=black:s=${w}x${h}:r=${r},format=yuv444p,geq=lum='128+100*sin(X/${f3(6 + 4 * x.u)}+T*${f3(2 + x.v)})*cos(Y/${f3(7 + 3 * x.v)}-T)':cb='128+90*sin(X/20+T)':cr='128+90*cos(Y/15-T*1.5)',hue=h=${f3(x.hue)}`,
  },
  {
    name: 'shapes',
    graph: (w, h, r, x) => `color=c=0x101060:s=${w}x${h}:r=${r}[bg];color=c=0xffd020:s=${Math.round(w / 5)}x${Math.round(h / 4)}:r=${r}[fg];[bg][fg]overlay=x='(W-w)/2+(W-w)/2*sin(t*${f3(1.5 + x.u)})':y='(H-h)/2+(H-h)/2*cos(t*${f3(2 + x.v)})',hue=h=${f3(x.hue)}`,
  },
  { name: 'bars', graph: (w, h, r, x) => `smptebars=s=${2 * w}x${h}:r=${r},crop=w=${w}:h=${h}:x='${w / 2}+${w / 2}*sin(t*${f3(1 + x.u)})':y=0,hue=h=${f3(x.hue)}` },
  {
    name: 'rings',
    graph: (w, h, r, x) => `color=c=black:s=${w}x${h}:r=${r},format=yuv444p,geq=lum='128+110*sin(hypot(X-W/2,Y-H/2)/${f3(3 + 2 * x.u)}-T*${f3(4 + 2 * x.v)})':cb='160':cr='80',hue=h=${f3(x.hue)}`,
  },
  {
    name: 'checker',
    graph: (w, h, r, x) => `color=c=black:s=${w}x${h}:r=${r},format=yuv444p,geq=lum='if(mod(floor((X+T*${f3(30 + 20 * x.u)})/${8 + (x.seedB % 3) * 4})+floor(Y/${8 + (x.seedB % 3) * 4}),2),220,30)':cb='100':cr='170',hue=h=${f3(x.hue)}`,
  },
  { name: 'noise', graph: (w, h, r, x) => `color=c=0x808080:s=${w}x${h}:r=${r},noise=alls=${Math.round(40 + 40 * x.u)}:allf=t+u:all_seed=${x.seedA},hue=h=${f3(x.hue)}` },
];

/** Audio families: distinct spectra and rhythms. */
export const AUDIO_FAMILIES: AudioFamily[] = [
  { name: 'tone', graph: (sr, x) => `aevalsrc='0.5*sin(2*PI*${f3(440 * x.jitter)}*t)':s=${sr}` },
  { name: 'chirp', graph: (sr, x) => `aevalsrc='0.5*sin(2*PI*(${f3(300 * x.jitter)}*mod(t,1)+${f3(1500 * x.jitter)}*mod(t,1)*mod(t,1)))':s=${sr}` },
  { name: 'pink-noise', graph: (sr, x) => `anoisesrc=c=pink:seed=${x.seedA}:r=${sr}:a=${f3(0.3 + 0.1 * x.u)}` },
  { name: 'clicks', graph: (sr, x) => `aevalsrc='if(lt(mod(t,${f3(0.12 * x.jitter)}),0.012),0.8*sin(2*PI*2500*t),0)':s=${sr}` },
  { name: 'am', graph: (sr, x) => `aevalsrc='0.3*sin(2*PI*${f3(900 * x.jitter)}*t)*(1+0.9*sin(2*PI*${f3(4 + 3 * x.u)}*t))':s=${sr}` },
  { name: 'fm', graph: (sr, x) => `aevalsrc='0.5*sin(2*PI*${f3(1200 * x.jitter)}*t+${f3(4 + 2 * x.v)}*sin(2*PI*${f3(90 * x.jitter)}*t))':s=${sr}` },
  { name: 'brown-noise', graph: (sr, x) => `anoisesrc=c=brown:seed=${x.seedA}:r=${sr}:a=${f3(0.5 + 0.2 * x.u)}` },
  { name: 'high-tone', graph: (sr, x) => `aevalsrc='0.4*sin(2*PI*${f3(3000 * x.jitter)}*t)+0.2*sin(2*PI*${f3(4500 * x.jitter)}*t)':s=${sr}` },
  { name: 'hiss', graph: (sr, x) => `anoisesrc=c=white:seed=${x.seedA}:r=${sr}:a=0.4,highpass=f=${Math.round(4000 * x.jitter)},highpass=f=${Math.round(4000 * x.jitter)}` },
  { name: 'square', graph: (sr, x) => `aevalsrc='0.25*(2*gt(sin(2*PI*${f3(160 * x.jitter)}*t),0)-1)':s=${sr}` },
];

/**
 * Distractor sounds of the scenes family: sounds no concept plays, so a distractor never makes a
 * clip sound like another concept (generator version 3; version 2 drew distractors from the other
 * concepts' families, and a sparse concept sound such as clicks, whose gaps the distractor fills,
 * then clustered with the concept its distractor belonged to). The slow swell of wind and babble
 * is a per-frame volume expression over 256-sample frames: ffmpeg's tremolo filter, mixed by
 * amix, corrupts the heap of the bundled 2018 ffmpeg build.
 */
export const DISTRACTOR_FAMILIES: AudioFamily[] = [
  {
    name: 'hum',
    graph: (sr, x) => `aevalsrc='0.3*sin(2*PI*${f3(50 * x.jitter)}*t)+0.2*sin(2*PI*${f3(100 * x.jitter)}*t)+0.15*sin(2*PI*${f3(150 * x.jitter)}*t)+0.1*sin(2*PI*${f3(250 * x.jitter)}*t)':s=${sr}`,
  },
  { name: 'wind', graph: (sr, x) => `anoisesrc=c=brown:seed=${x.seedA}:r=${sr}:a=0.6:nb_samples=256,lowpass=f=${Math.round(400 * x.jitter)},volume=volume='0.6+0.4*sin(2*PI*${f3(0.7 * x.jitter)}*t)':eval=frame` },
  { name: 'babble', graph: (sr, x) => `anoisesrc=c=pink:seed=${x.seedA}:r=${sr}:a=0.5:nb_samples=256,bandpass=f=${Math.round(900 * x.jitter)}:width_type=h:w=1200,volume=volume='0.6+0.4*sin(2*PI*${f3(4 * x.jitter)}*t)':eval=frame` },
];

/**
 * Backgrounds of the scenes family: pictures no concept shows (generator version 3; version 2
 * drew backgrounds from the other concepts' families, so a mismatched clip could show, dimmed,
 * the very concept its sound played).
 */
export const BACKGROUND_FAMILIES: VisualFamily[] = [
  {
    name: 'stripes',
    graph: (w, h, r, x) => `color=c=black:s=${w}x${h}:r=${r},format=yuv444p,geq=lum='128+90*sin((X*${f3(0.5 + x.u)}+Y)/${f3(3 + 3 * x.v)}-T*${f3(2 + 2 * x.u)})':cb='128+40*sin(Y/9)':cr='128',hue=h=${f3(x.hue)}`,
  },
  {
    name: 'blobs',
    graph: (w, h, r, x) => `color=c=black:s=${w}x${h}:r=${r},format=yuv444p,geq=lum='60+150*exp(-(pow(X-W*(0.5+0.4*sin(T*${f3(0.8 + x.u)})),2)+pow(Y-H*(0.5+0.4*cos(T*${f3(0.6 + x.v)})),2))/${f3(80 + 120 * x.v)})':cb='110':cr='150',hue=h=${f3(x.hue)}`,
  },
  {
    name: 'ramp',
    graph: (w, h, r, x) => `color=c=black:s=${w}x${h}:r=${r},format=yuv444p,geq=lum='40+180*mod(X/W*${f3(1 + x.u)}+T*${f3(0.2 + 0.3 * x.v)},1)':cb='150':cr='110',hue=h=${f3(x.hue)}`,
  },
];

export const MAX_CLASSES = Math.min(VISUAL_FAMILIES.length, AUDIO_FAMILIES.length);

/** Temporal family: flashes every `period` seconds; clicks at the same times, or shifted. */
function temporalVisual(w: number, h: number, r: number, period: number, hue: number): string {
  return `color=c=black:s=${w}x${h}:r=${r},format=yuv444p,geq=lum='if(lt(mod(T,${f3(period)}),${f3(1.5 / r)}),235,40)':cb=128:cr=128,hue=h=${f3(hue)}`;
}

function temporalAudio(sr: number, period: number, offset: number): string {
  return `aevalsrc='if(lt(mod(t-${f3(offset)}+${f3(period)},${f3(period)}),0.015),0.8*sin(2*PI*2000*t),0)':s=${sr}`;
}

/**
 * A sub-graph of a lavfi graph whose link labels are made unique with `prefix` and whose output
 * is labelled `[<prefix>out]`, so several family graphs can be composed in one filter graph.
 */
function subGraph(graph: string, prefix: string): string {
  return `${graph.replace(/\[([A-Za-z0-9_]+)\]/g, `[${prefix}$1]`)}[${prefix}out]`;
}

/**
 * Scenes family: the class's visual family is a moving foreground patch (60–80 % of the frame's
 * width and height, wide hue and zoom variation) over a background drawn, independently of the
 * class, from BACKGROUND_FAMILIES (dimmed to 35 % contrast); the class's sound is mixed with a
 * distractor sound drawn, independently of the class, from DISTRACTOR_FAMILIES at 15–35 % of its
 * level.
 * Backgrounds and distractors are shared by every class, so what is common to a class is only
 * the foreground and its sound: features of the whole frame or track see mostly class-free
 * variation, and an encoder has to learn where the class is. No concept shows a background or
 * plays a distractor (generator version 3): in version 2 they were the other concepts' pictures
 * and sounds, so a clip labelled mismatched could show, dimmed behind its foreground, the very
 * concept its sound played (1 in 9 mismatched clips), and a distractor made a clip partly sound
 * like another concept.
 *
 * The picture and the sound of a clip are drawn from two generators of their own (`visual`,
 * `audio`), so the only link between them is the class: a corresponding clip plays its picture's
 * concept, a mismatched one another concept. Nothing else is shared, for corresponding clips too:
 * a background and a distractor that shared variation would be a second audio-visual
 * correspondence, unrelated to the concept, that the curation and the pretraining could follow
 * instead (docs/experiments.md, "Why the demo uses the scenes family").
 */
function scenesVisual(w: number, h: number, r: number, vc: number, bg: number, x: Variation, y: Variation): string {
  const scale = 0.6 + 0.2 * x.u;
  const fw = Math.max(8, 2 * Math.round((w * scale) / 2));
  const fh = Math.max(8, 2 * Math.round((h * scale) / 2));
  const background = subGraph(`${BACKGROUND_FAMILIES[bg].graph(w, h, r, y)},lutyuv=y=val*0.35+16`, 'b');
  const foreground = subGraph(VISUAL_FAMILIES[vc].graph(fw, fh, r, x), 'f');
  const ax = f3(0.8 + 1.6 * x.v);
  const ay = f3(0.7 + 1.4 * y.u);
  const px = f3(6.283 * y.v);
  return `${background};${foreground};[bout][fout]overlay=x='(W-w)*(0.5+0.5*sin(t*${ax}+${px}))':y='(H-h)*(0.5+0.5*cos(t*${ay}+${px}))':shortest=1`;
}

/**
 * RMS level (dBFS) of each audio family at mid variation, measured with ffmpeg's astats over 2 s
 * (test/media/synth.test.ts renders each family and checks it). The families differ by up to 15 dB
 * (pink noise −23.5, a tone −9), so the scenes family scales each sound to SCENES_RMS_DB first and
 * a distractor's level is then relative to the concept's loudness, not to its raw amplitude.
 */
export const AUDIO_FAMILY_RMS_DB: Readonly<Record<string, number>> = {
  tone: -9.0, chirp: -9.0, 'pink-noise': -23.5, clicks: -14.9, am: -12.0, fm: -9.0, 'brown-noise': -18.6, 'high-tone': -10.0, hiss: -16.5, square: -12.0,
  hum: -10.9, wind: -21.7, babble: -32.1,
};

/** The RMS level (dBFS) every scenes sound is scaled to before the distractor's level is applied. */
export const SCENES_RMS_DB = -15;

/** The linear gain that brings an audio family to SCENES_RMS_DB. */
function loudnessGain(family: AudioFamily): number {
  return 10 ** ((SCENES_RMS_DB - AUDIO_FAMILY_RMS_DB[family.name]) / 20);
}

function scenesAudio(sr: number, ac: number, distractor: number, x: Variation, y: Variation, level: number): string {
  const concept = AUDIO_FAMILIES[ac];
  const noise = DISTRACTOR_FAMILIES[distractor];
  const main = subGraph(`${concept.graph(sr, x)},volume=${f3(loudnessGain(concept))}`, 'm');
  const other = subGraph(`${noise.graph(sr, y)},volume=${f3(level * loudnessGain(noise))}`, 'd');
  return `${main};${other};[mout][dout]amix=inputs=2:duration=first`;
}

/** Every field of a Variation drawn from `rng` (each family reads the fields it needs). */
function drawVariation(rng: Rng, hue: number, jitterLo: number, jitterHi: number): Variation {
  return { hue: rng.uniform(-hue, hue), jitter: rng.uniform(jitterLo, jitterHi), seedA: rng.int(1_000_000), seedB: rng.int(1_000_000), u: rng.next(), v: rng.next() };
}

/** Frame size, frame rate and sample rate of a planned clip. */
export interface PlanSize {
  w: number;
  h: number;
  fps: number;
  sr: number;
}

/**
 * One clip of the scenes family (doc above). The video graph is a function of the visual class
 * and the draws of `visual` only; the audio graph of the audio class and the draws of `audio`
 * only, where a mismatched clip's audio class excludes the visual class (the definition of a
 * mismatch) and nothing else of the picture reaches the sound.
 */
export function planScenesClip(id: string, file: string, vc: number, mismatched: boolean, classes: number, size: PlanSize, visual: Rng, audio: Rng): ClipPlan {
  // The picture: wide hue variation of the foreground, a background no concept shows.
  const fg = drawVariation(visual, 60, 1, 1);
  const bg = visual.int(BACKGROUND_FAMILIES.length);
  const bgx = drawVariation(visual, 90, 1, 1);
  // The sound: wide pitch variation; the distractor is a sound no concept plays.
  const ac = mismatched ? (vc + 1 + audio.int(classes - 1)) % classes : vc;
  const sx = drawVariation(audio, 0, 0.8, 1.25);
  const distractor = audio.int(DISTRACTOR_FAMILIES.length);
  const dx = drawVariation(audio, 0, 0.8, 1.25);
  const level = audio.uniform(0.15, 0.35);
  return {
    label: {
      id, file, visual_class: vc, audio_class: ac, corresponds: ac === vc, visual_family: VISUAL_FAMILIES[vc].name, audio_family: AUDIO_FAMILIES[ac].name,
      background: BACKGROUND_FAMILIES[bg].name, distractor: DISTRACTOR_FAMILIES[distractor].name,
    },
    videoGraph: scenesVisual(size.w, size.h, size.fps, vc, bg, fg, bgx),
    audioGraph: scenesAudio(size.sr, ac, distractor, sx, dx, level),
  };
}

export interface ClipPlan {
  label: SynthLabel;
  videoGraph: string;
  audioGraph: string;
}

function validate(o: SynthOptions): void {
  const fail = (m: string) => {
    throw new RangeError(`synth: ${m}`);
  };
  if (!Number.isInteger(o.clips) || o.clips < 1) fail(`--clips must be a positive integer, got ${o.clips}`);
  if (!Number.isInteger(o.classes) || o.classes < 2 || o.classes > MAX_CLASSES) fail(`--classes must be an integer in [2, ${MAX_CLASSES}], got ${o.classes}`);
  if (!(o.mismatch >= 0 && o.mismatch <= 1)) fail(`--mismatch must be in [0, 1], got ${o.mismatch}`);
  if (!(o.seconds > 0 && o.seconds <= 600)) fail(`--seconds must be in (0, 600], got ${o.seconds}`);
  if (!Number.isInteger(o.seed) || o.seed < 0) fail(`--seed must be a non-negative integer, got ${o.seed}`);
}

/** Plan every clip (pure: depends only on the options). */
export function planCorpus(o: SynthOptions): ClipPlan[] {
  validate(o);
  const w = o.width ?? SYNTH_DEFAULTS.width;
  const h = o.height ?? SYNTH_DEFAULTS.height;
  const fps = o.fps ?? SYNTH_DEFAULTS.fps;
  const sr = o.sampleRate ?? SYNTH_DEFAULTS.sampleRate;
  const family = o.family ?? SYNTH_DEFAULTS.family;
  const rng = new Rng(o.seed);
  const n = o.clips;
  // Exactly round(mismatch * n) mismatched clips, chosen by a seeded permutation.
  const nMis = Math.round(o.mismatch * n);
  const order = rng.permutation(n);
  const mismatched = new Uint8Array(n);
  for (let i = 0; i < nMis; i++) mismatched[order[i]] = 1;
  const digits = Math.max(5, String(n - 1).length);
  const plans: ClipPlan[] = [];
  for (let i = 0; i < n; i++) {
    const id = `clip-${String(i).padStart(digits, '0')}`;
    const file = `${id}.mp4`;
    const vc = i % o.classes;
    if (family === 'scenes') {
      // Picture and sound come from two generators of their own, derived from the seed, the
      // side and the clip's index alone (planScenesClip), not from the corpus stream.
      plans.push(planScenesClip(id, file, vc, mismatched[i] === 1, o.classes, { w, h, fps, sr }, Rng.derive(o.seed, 'scenes-visual', i), Rng.derive(o.seed, 'scenes-audio', i)));
      continue;
    }
    const temporal = family === 'temporal' || (family === 'mixed' && i % 2 === 1);
    const x: Variation = {
      hue: rng.uniform(-25, 25),
      jitter: rng.uniform(0.9, 1.1),
      seedA: rng.int(1_000_000),
      seedB: rng.int(1_000_000),
      u: rng.next(),
      v: rng.next(),
    };
    if (temporal) {
      const period = 0.5 + 0.25 * vc;
      const offset = mismatched[i] ? period / 2 : 0;
      plans.push({
        label: { id, file, visual_class: vc, audio_class: vc, corresponds: !mismatched[i], visual_family: 'flash', audio_family: 'click-sync', offset },
        videoGraph: temporalVisual(w, h, fps, period, x.hue),
        audioGraph: temporalAudio(sr, period, offset),
      });
      continue;
    }
    let ac = vc;
    let ax = x;
    if (mismatched[i]) {
      ac = (vc + 1 + rng.int(o.classes - 1)) % o.classes;
      ax = { ...x, jitter: rng.uniform(0.9, 1.1), seedA: rng.int(1_000_000), u: rng.next() };
    }
    plans.push({
      label: { id, file, visual_class: vc, audio_class: ac, corresponds: ac === vc, visual_family: VISUAL_FAMILIES[vc].name, audio_family: AUDIO_FAMILIES[ac].name },
      videoGraph: VISUAL_FAMILIES[vc].graph(w, h, fps, x),
      audioGraph: AUDIO_FAMILIES[ac].graph(sr, ax),
    });
  }
  return plans;
}

/** The ffmpeg arguments that render one planned clip to `outFile`. */
export function synthArgs(plan: ClipPlan, seconds: number, fps: number, outFile: string): string[] {
  return [
    '-nostdin', '-hide_banner', '-v', 'error', '-y',
    '-f', 'lavfi', '-i', plan.videoGraph,
    '-f', 'lavfi', '-i', plan.audioGraph,
    '-t', f3(seconds), '-map', '0:v:0', '-map', '1:a:0',
    '-c:v', 'libx264', '-preset', 'veryfast', '-crf', '23', '-pix_fmt', 'yuv420p', '-g', String(Math.round(fps * 2)), '-threads', '1',
    '-c:a', 'aac', '-b:a', '64k', '-ac', '1',
    '-fflags', '+bitexact', '-flags:v', '+bitexact', '-flags:a', '+bitexact', '-map_metadata', '-1',
    '-f', 'mp4', outFile,
  ];
}

/**
 * The generator's version for a family, written into synth.json (and the synth stage's ledger
 * record): a folder made by another version is refused (or, in a run's own corpus folder,
 * regenerated) instead of resumed, since its clips no longer match the plans. Version 2 of the
 * scenes family draws picture and sound independently and levels the sounds (planScenesClip);
 * version 3 draws backgrounds and distractors from families no concept uses.
 */
export function synthGenerator(family: SynthFamily): string {
  return family === 'scenes' ? 'avcurate-synth/3' : 'avcurate-synth/1';
}

export interface SynthResult {
  out: string;
  labelsFile: string;
  generated: number;
  skipped: number;
  labels: SynthLabel[];
  seconds: number;
}

/** Generate the corpus into `o.out`: clips, labels.jsonl and synth.json (the options). Resumes. */
export async function synthesize(o: SynthOptions): Promise<SynthResult> {
  const plans = planCorpus(o);
  const fps = o.fps ?? SYNTH_DEFAULTS.fps;
  const out = path.resolve(o.out);
  await fsp.mkdir(out, { recursive: true });
  await cleanStaleTemps(out);
  const settings = {
    generator: synthGenerator(o.family ?? SYNTH_DEFAULTS.family),
    clips: o.clips, classes: o.classes, mismatch: o.mismatch, seconds: o.seconds, seed: o.seed,
    width: o.width ?? SYNTH_DEFAULTS.width, height: o.height ?? SYNTH_DEFAULTS.height, fps, sampleRate: o.sampleRate ?? SYNTH_DEFAULTS.sampleRate, family: o.family ?? SYNTH_DEFAULTS.family,
  };
  const settingsFile = path.join(out, 'synth.json');
  const settingsText = JSON.stringify(settings, null, 2) + '\n';
  if (await exists(settingsFile)) {
    const old = await fsp.readFile(settingsFile, 'utf8');
    if (old !== settingsText && !o.force) {
      throw new Error(`${out} holds a corpus made with other settings (${settingsFile}); use another folder or --force`);
    }
    if (old !== settingsText) {
      for (const name of await fsp.readdir(out)) if (/^clip-\d+\.mp4$/.test(name) || name === 'labels.jsonl') await fsp.rm(path.join(out, name));
    }
  }
  await writeFileAtomic(settingsFile, settingsText);
  const t0 = performance.now();
  const progress = new Progress('synth', { total: plans.length, unit: 'clips', silent: o.silent });
  const pool = new Pool(o.concurrency ?? defaultConcurrency());
  let generated = 0;
  let skipped = 0;
  await pool.map(plans, async (plan) => {
    const target = path.join(out, plan.label.file);
    if (await exists(target)) {
      skipped++;
      progress.tick();
      return;
    }
    const tmp = tempPathFor(target);
    const r = await runTool(ffmpegPath(), synthArgs(plan, o.seconds, fps, tmp), { timeoutMs: 120_000 + o.seconds * 20_000 });
    if (r.code !== 0) {
      await fsp.rm(tmp, { force: true });
      throw new MediaError(target, `ffmpeg could not render the synthetic clip (${r.timedOut ? 'timed out' : `exit ${r.code}`})`, r.stderrTail);
    }
    await fsp.rename(tmp, target);
    generated++;
    progress.tick();
  });
  const labels = plans.map((p) => p.label);
  const labelsFile = path.join(out, 'labels.jsonl');
  await writeFileAtomic(labelsFile, labels.map((l) => JSON.stringify(l)).join('\n') + '\n');
  progress.finish(`${generated} generated, ${skipped} already there`);
  return { out, labelsFile, generated, skipped, labels, seconds: (performance.now() - t0) / 1000 };
}
