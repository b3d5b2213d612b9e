/** A results.json object with every section filled, for the report tests. */
import type { ExperimentResults } from '../../src/experiments/results.js';
import { RESULTS_VERSION } from '../../src/experiments/results.js';

export function sampleResults(runDir: string, clips: Array<{ id: string; file: string; corresponds: boolean; visual_class: number; audio_class: number }>): ExperimentResults {
  const arms = ['curated', 'random', 'contrastive', 'clean', 'pool'];
  const probes = arms.flatMap((arm, a) =>
    [0, 1, 2].flatMap((seed) =>
      (['audio', 'visual', 'both'] as const).map((modality, m) => ({
        arm,
        seed,
        task: 'synth-classes',
        modality,
        top1: 0.9 - a * 0.1 - m * 0.02 + seed * 0.01,
        topK: 1,
        k: 5,
        chance: 1 / 6,
      })),
    ),
  );
  return {
    version: RESULTS_VERSION,
    name: 'fixture',
    createdAt: '2026-01-01T00:00:00.000Z',
    runDir,
    pool: { clips: 200, positives: 100, classes: 6, mismatch: 0.5, heldOut: 60 },
    selection: [
      {
        method: 'mi',
        selected: 40,
        precision: 0.95,
        precisionAtPositives: 0.9,
        precisionAtRatio: 0.95,
        curve: Array.from({ length: 20 }, (_, i) => ({ size: (i + 1) * 10, precision: 1 - i * 0.01, recall: ((i + 1) * 10) / 100 })),
        objective: Array.from({ length: 20 }, (_, i) => ({ size: (i + 1) * 10, objective: Math.log(1 + i) })),
        seconds: 0.2,
      },
      { method: 'random', selected: 40, precision: 0.5, curve: Array.from({ length: 20 }, (_, i) => ({ size: (i + 1) * 10, precision: 0.5 })) },
    ],
    arms: arms.map((arm) => ({ arm, description: `the ${arm} arm`, size: arm === 'pool' ? 200 : 40, precision: arm === 'random' ? 0.5 : 0.9, steps: 100, seeds: [0, 1, 2] })),
    probes,
    clips: clips.map((c, i) => ({ id: c.id, file: c.file, selected: i % 2 === 0, rank: i % 2 === 0 ? i + 1 : undefined, corresponds: c.corresponds, visualClass: c.visual_class, audioClass: c.audio_class, start: 0, duration: 1 })),
    timings: [
      { stage: 'synth', seconds: 3.2, status: 'ran' },
      { stage: 'curate', seconds: 10.5, status: 'skipped' },
      { stage: 'pretrain', seconds: 100, status: 'ran' },
    ],
    expectations: [{ name: 'curated selection precision', value: 0.95, target: '>= 0.9', pass: true }],
    notes: ['a <note> with markup'],
    config: { name: 'fixture', seed: 0, selection: { ratio: 0.2 } },
  };
}
