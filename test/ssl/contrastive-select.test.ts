import { describe, expect, it } from 'vitest';
import { Rng } from '../../src/runtime/random.js';
import { contrastiveScores } from '../../src/ssl/contrastive-select.js';

/** Features where the first half of the clips correspond (audio and visual from one latent). */
function pool(n: number, da: number, dv: number, seed: number) {
  const rng = new Rng(seed);
  const L = 6;
  const A = Float64Array.from({ length: L * da }, () => rng.normal());
  const V = Float64Array.from({ length: L * dv }, () => rng.normal());
  const audio = new Float32Array(n * da);
  const visual = new Float32Array(n * dv);
  const corresponds: boolean[] = [];
  for (let i = 0; i < n; i++) {
    const za = Array.from({ length: L }, () => rng.normal());
    const match = i % 2 === 0;
    const zv = match ? za : Array.from({ length: L }, () => rng.normal());
    for (let k = 0; k < da; k++) {
      let s = 0;
      for (let l = 0; l < L; l++) s += za[l] * A[l * da + k];
      audio[i * da + k] = s + 0.5 * rng.normal() + 3; // offset: standardisation must handle it
    }
    for (let k = 0; k < dv; k++) {
      let s = 0;
      for (let l = 0; l < L; l++) s += zv[l] * V[l * dv + k];
      visual[i * dv + k] = 10 * (s + 0.5 * rng.normal());
    }
    corresponds.push(match);
  }
  return { audio, visual, corresponds };
}

function precisionAtHalf(scores: Float32Array, truth: boolean[]): number {
  const order = [...scores.keys()].sort((a, b) => scores[b] - scores[a] || a - b);
  const k = truth.filter(Boolean).length;
  return order.slice(0, k).filter((i) => truth[i]).length / k;
}

describe('contrastiveScores', () => {
  it('ranks corresponding clips above mismatched ones after training', async () => {
    const n = 512;
    const p = pool(n, 32, 24, 1);
    const scores = await contrastiveScores(p.audio, 32, p.visual, 24, n, { seed: 0, epochs: 20, lr: 2e-3 });
    expect(scores).toHaveLength(n);
    for (const s of scores) expect(Math.abs(s)).toBeLessThanOrEqual(1 + 1e-5);
    const prec = precisionAtHalf(scores, p.corresponds);
    console.log(`contrastive precision at |S| = positives: ${prec}`);
    expect(prec).toBeGreaterThan(0.8); // random: 0.5
  });

  it('is deterministic for a seed, and runs with the reference defaults', async () => {
    const n = 300;
    const p = pool(n, 16, 12, 2);
    const a = await contrastiveScores(p.audio, 16, p.visual, 12, n, { seed: 5 });
    const b = await contrastiveScores(p.audio, 16, p.visual, 12, n, { seed: 5 });
    expect(Array.from(a)).toEqual(Array.from(b));
    console.log(`contrastive precision with the reference defaults (3 epochs, lr 2e-4) on ${n} clips: ${precisionAtHalf(a, p.corresponds)}`);
  });

  it('refuses arrays of the wrong size', async () => {
    await expect(contrastiveScores(new Float32Array(10), 3, new Float32Array(8), 2, 4, { seed: 0 })).rejects.toThrow(/audio has 10 values/);
  });
});
