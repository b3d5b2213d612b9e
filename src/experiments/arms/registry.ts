/**
 * The pretraining arms: each a named function from the run folder (its manifest, ground truth,
 * MI ranking and features) to a training set of clip ids. Adding an arm is adding an entry here
 * (and its name to experiment.arms' schema); the arms stage runs the configured ones in order.
 */
import path from 'node:path';
import type { Config } from '../../config/schema.js';
import type { ArmName } from '../../config/sections/experiment.js';
import type { ClipRecord } from '../../run/manifest.js';
import { readAllFeatures } from '../../curation/features/store.js';
import { writeScoreSelection } from '../../curation/selection/stage.js';
import { contrastiveClipScores } from '../../ssl/contrastive-select.js';
import { Rng } from '../../runtime/random.js';
import { sampleIds } from '../arms.js';

/** What an arm is built from. */
export interface ArmInputs {
  config: Config;
  runDir: string;
  expDir: string;
  manifest: readonly ClipRecord[];
  /** Manifest ids in manifest order. */
  ids: readonly string[];
  truth: ReadonlyMap<string, boolean>;
  /** selection.csv ids in rank order. */
  curatedRanking: readonly string[];
  /** Clips per arm (equal for every subset arm). */
  armSize: number;
}

/** A training set, with notes for the results and any ranking the arm wrote. */
export interface ArmSet {
  ids: string[];
  notes?: string[];
  /** A full ranking of the pool the arm made (evaluated like the MI selection in the results). */
  ranking?: { method: string; file: string };
}

export interface ArmDefinition {
  description: string;
  build: (x: ArmInputs) => ArmSet | Promise<ArmSet>;
}

function curated(x: ArmInputs): ArmSet {
  const ids = x.curatedRanking.slice(0, x.armSize);
  return { ids, notes: ids.length < x.armSize ? [`curated arm: selection.csv holds ${ids.length} clips, fewer than the arm size ${x.armSize}`] : [] };
}

function random(x: ArmInputs): ArmSet {
  return { ids: sampleIds(x.ids, x.armSize, Rng.derive(x.config.seed, 'arm-random')) };
}

function clean(x: ArmInputs): ArmSet {
  const positives = x.ids.filter((id) => x.truth.get(id) === true);
  if (positives.length === 0) throw new Error('arm "clean" needs ground truth (corresponds) in the manifest; remove it from experiment.arms');
  return {
    ids: sampleIds(positives, x.armSize, Rng.derive(x.config.seed, 'arm-clean')),
    notes: positives.length < x.armSize ? [`clean arm: only ${positives.length} truly corresponding clips, fewer than the arm size ${x.armSize}`] : [],
  };
}

/** The same scorer and settings as `select --method contrastive` (selection.contrastive). */
async function contrastive(x: ArmInputs): Promise<ArmSet> {
  const feats = await readAllFeatures(x.runDir);
  const scores = await contrastiveClipScores(feats, x.config.selection.contrastive, { seed: x.config.seed, backend: x.config.ssl.backend });
  const pos = new Map(feats.ids.map((id, i) => [id, i]));
  const clips = x.manifest.filter((r) => pos.has(r.id));
  const file = path.join(x.expDir, 'selection.contrastive.csv');
  const rows = await writeScoreSelection(file, clips as ClipRecord[], Float32Array.from(clips, (c) => scores[pos.get(c.id)!]), { size: clips.length });
  return { ids: rows.slice(0, x.armSize).map((r) => r.id), ranking: { method: 'contrastive', file } };
}

function pool(x: ArmInputs): ArmSet {
  return { ids: x.ids.slice() };
}

/** The diagnostic: encoders at initialisation, no clips. */
function untrained(): ArmSet {
  return { ids: [] };
}

export const ARMS: Record<ArmName, ArmDefinition> = {
  curated: { description: 'MI-curated subset (selection.csv)', build: curated },
  random: { description: 'random subset of the pool, same size', build: random },
  contrastive: { description: 'contrastive-selection baseline, same size', build: contrastive },
  clean: { description: 'only truly corresponding clips (stand-in for a manually curated set), same size', build: clean },
  pool: { description: 'the whole uncurated pool', build: pool },
  untrained: { description: 'diagnostic: encoders at initialisation, no pretraining (0 steps)', build: untrained },
};
