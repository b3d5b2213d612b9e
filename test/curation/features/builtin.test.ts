import { describe, it, expect, afterAll } from 'vitest';
import { builtinAudioFeatures, BUILTIN_AUDIO_LAYERS, BuiltinAudioExtractor } from '../../../src/curation/features/builtin-audio.js';
import { builtinVisualFeatures, BUILTIN_VISUAL_LAYERS, BuiltinVisualExtractor } from '../../../src/curation/features/builtin-visual.js';
import { DescriptorWorkers } from '../../../src/curation/features/workers.js';
import { Rng } from '../../../src/runtime/random.js';
import { melCenters } from '../../../src/media/logmel.js';

const SR = 16000;
const signal = (seconds: number, f: (t: number, i: number) => number) => Float32Array.from({ length: Math.round(seconds * SR) }, (_, i) => f(i / SR, i));
const layer = (feats: Float32Array[], name: string, list = BUILTIN_AUDIO_LAYERS) => feats[list.findIndex((l) => l.name === name)];

describe('built-in audio descriptors', () => {
  const rng = new Rng(11);
  const tone440 = signal(2, (t) => 0.5 * Math.sin(2 * Math.PI * 440 * t));
  const tone3k = signal(2, (t) => 0.5 * Math.sin(2 * Math.PI * 3000 * t));
  const noise = signal(2, () => 0.3 * rng.normal());
  const clicks = signal(2, (t) => ((t % 0.125) < 0.01 ? 0.8 * Math.sin(2 * Math.PI * 2500 * t) : 0));

  it('has the declared dims and is deterministic', () => {
    const a = builtinAudioFeatures({ audio: noise, sampleRate: SR });
    const b = builtinAudioFeatures({ audio: noise, sampleRate: SR });
    expect(a.map((x) => x.length)).toEqual(BUILTIN_AUDIO_LAYERS.map((l) => l.dim));
    a.forEach((x, i) => expect(Array.from(x)).toEqual(Array.from(b[i])));
    for (const x of a) for (const v of x) expect(Number.isFinite(v)).toBe(true);
  });

  it('measures spectral shape: centroid rises with pitch, noise is flat, tones are peaky', () => {
    const s440 = layer(builtinAudioFeatures({ audio: tone440, sampleRate: SR }), 'spectral');
    const s3k = layer(builtinAudioFeatures({ audio: tone3k, sampleRate: SR }), 'spectral');
    const sn = layer(builtinAudioFeatures({ audio: noise, sampleRate: SR }), 'spectral');
    expect(s440[0]).toBeCloseTo(440 / 8000, 2); // centroid as a fraction of Nyquist
    expect(s3k[0]).toBeCloseTo(3000 / 8000, 2);
    expect(sn[3]).toBeGreaterThan(0.3); // flatness of white noise
    expect(s440[3]).toBeLessThan(0.01);
    expect(s440[7]).toBeGreaterThan(sn[7] * 20); // peak ratio
  });

  it('finds the rhythm of a click train and the gain-free envelope', () => {
    const m = layer(builtinAudioFeatures({ audio: clicks, sampleRate: SR }), 'modulation');
    const strength = m[32];
    const lagSeconds = 2 ** (m[33] * 4);
    expect(strength).toBeGreaterThan(0.5);
    expect(Math.abs(lagSeconds - 0.125)).toBeLessThan(0.006);
    // the band envelope peaks in the mel band of the tone
    const env = layer(builtinAudioFeatures({ audio: tone440, sampleRate: SR }), 'logmel_stats').slice(0, 64);
    const centers = melCenters(64, 125, 7500);
    let nearest = 0;
    for (let b = 1; b < 64; b++) if (Math.abs(centers[b] - 440) < Math.abs(centers[nearest] - 440)) nearest = b;
    expect(env.indexOf(Math.max(...env))).toBe(nearest);
  });

  it('gives the same numbers on 44.1 kHz input as on 16 kHz input of the same sound (within resampling error)', () => {
    const hi = Float32Array.from({ length: 2 * 44100 }, (_, i) => 0.5 * Math.sin((2 * Math.PI * 1000 * i) / 44100));
    const lo = signal(2, (t) => 0.5 * Math.sin(2 * Math.PI * 1000 * t));
    const a = layer(builtinAudioFeatures({ audio: hi, sampleRate: 44100 }), 'spectral');
    const b = layer(builtinAudioFeatures({ audio: lo, sampleRate: SR }), 'spectral');
    expect(a[0]).toBeCloseTo(b[0], 3);
  });
});

function frames(T: number, H: number, W: number, f: (t: number, y: number, x: number) => [number, number, number]) {
  const data = new Uint8Array(T * H * W * 3);
  for (let t = 0; t < T; t++) for (let y = 0; y < H; y++) for (let x = 0; x < W; x++) data.set(f(t, y, x), ((t * H + y) * W + x) * 3);
  return { frames: data, shape: [T, H, W, 3] as [number, number, number, number] };
}

describe('built-in visual descriptors', () => {
  const stripes = frames(6, 48, 64, (t, y) => (Math.floor(y / 4) % 2 ? [220, 40, 40] : [20, 20, 120]));
  const moving = frames(6, 48, 64, (t, y, x) => (Math.floor((x + 3 * t) / 4) % 2 ? [200, 200, 200] : [10, 10, 10]));
  const vl = (feats: Float32Array[], name: string) => layer(feats, name, BUILTIN_VISUAL_LAYERS);

  it('has the declared dims and is deterministic', () => {
    const a = builtinVisualFeatures(moving);
    const b = builtinVisualFeatures(moving);
    expect(a.map((x) => x.length)).toEqual(BUILTIN_VISUAL_LAYERS.map((l) => l.dim));
    a.forEach((x, i) => expect(Array.from(x)).toEqual(Array.from(b[i])));
  });

  it('sees orientation, motion and colour', () => {
    const s = builtinVisualFeatures(stripes);
    const m = builtinVisualFeatures(moving);
    // horizontal stripes: gradients point vertically (bin 4 of 8 over 0..pi, centred at pi/2)
    const g = vl(s, 'gradient');
    expect(g[3] + g[4]).toBeGreaterThan(0.9);
    const gm = vl(m, 'gradient');
    expect(gm[0] + gm[7]).toBeGreaterThan(0.9);
    // static picture: no motion; moving bars: motion, and the normal flow points along +x or -x
    expect(vl(s, 'motion')[0]).toBe(0);
    const mo = vl(m, 'motion');
    expect(mo[0]).toBeGreaterThan(1);
    const dirs = Array.from(mo.slice(16, 24));
    expect(dirs[0] + dirs[3] + dirs[4] + dirs[7]).toBeGreaterThan(0.9);
    // colour: the grey bars are grey, the stripes are saturated
    expect(vl(m, 'colour')[27]).toBeCloseTo(1, 5);
    expect(vl(s, 'colour')[22]).toBeGreaterThan(0.6);
  });

  it('hue structure is unchanged by a global hue rotation', () => {
    const rgb = frames(2, 32, 32, (t, y, x) => [x * 8, y * 8, 60]);
    const rot = frames(2, 32, 32, (t, y, x) => [60, x * 8, y * 8]); // channels rotated: hue + 120 degrees
    const a = vl(builtinVisualFeatures(rgb), 'colour');
    const b = vl(builtinVisualFeatures(rot), 'colour');
    for (let k = 16; k < 22; k++) expect(a[k]).toBeCloseTo(b[k], 5);
  });
});

describe('descriptor worker threads', () => {
  const workers = new DescriptorWorkers(1);
  afterAll(() => workers.close());

  it('compute exactly what the main thread computes', async () => {
    const rng = new Rng(5);
    const audio = Float32Array.from({ length: SR }, () => 0.2 * rng.normal());
    const clip: any = { audio, sampleRate: SR, ...frames(3, 24, 32, (t, y, x) => [(x * 7 + t) % 256, y * 9, 100]) };
    const inlineA = await new BuiltinAudioExtractor().run([new BuiltinAudioExtractor().prepare(clip)]);
    const workerA = await new BuiltinAudioExtractor(workers).run([clip]);
    const inlineV = await new BuiltinVisualExtractor({ frames: 2 }).run([clip]);
    const workerV = await new BuiltinVisualExtractor({ frames: 2 }, workers).run([clip]);
    inlineA[0].forEach((x, i) => expect(Array.from(workerA[0][i])).toEqual(Array.from(x)));
    inlineV[0].forEach((x, i) => expect(Array.from(workerV[0][i])).toEqual(Array.from(x)));
  });
});
