/**
 * A run folder made of planted cluster labels (src/curation/selection/planted.ts): clusters.h5 with
 * clip ids clip-0000…, and a manifest.jsonl whose `corresponds` is the planted truth. What the
 * select, evidence and eval-selection tests curate without media.
 */
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { writeClusters } from '../../src/curation/clustering/store.js';
import type { PlantedLabels } from '../../src/curation/selection/index.js';

/** Writes the run into `dir`; `clip` adds or replaces manifest fields per clip. Returns the ids. */
export async function writePlantedRun(dir: string, p: PlantedLabels, clip: (id: string, i: number) => Record<string, unknown> = () => ({})): Promise<string[]> {
  const ids = Array.from({ length: p.n }, (_, i) => `clip-${String(i).padStart(4, '0')}`);
  await writeClusters(path.join(dir, 'clusters.h5'), {
    ids,
    labels: p.labels,
    n: p.n,
    d: p.d,
    clusterings: p.clusterings.map((c) => ({ ...c, modality: c.modality as 'audio' | 'visual', dim: 1, centroids: new Float32Array(c.k), inertia: 0, iterations: 1 })),
  });
  const manifest = ids.map((id, i) => ({
    id, source: `/data/${id}.mp4`, start: 0, duration: 2, video_id: id,
    probe: { duration: 2, width: 32, height: 32, fps: 8, sampleRate: 16000, videoCodec: 'h264', audioCodec: 'aac' },
    corresponds: p.truth[i] === 1,
    ...clip(id, i),
  }));
  writeFileSync(path.join(dir, 'manifest.jsonl'), manifest.map((r) => JSON.stringify(r)).join('\n') + '\n');
  return ids;
}
