/**
 * Experiment stage 4: the training set of every configured arm (arms/registry.ts), of equal size
 * (experiment.armSize, default the selection's size), written to experiment/arms/<arm>.json.
 */
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import type { ArmName } from '../../config/sections/experiment.js';
import { writeJsonAtomic } from '../../runtime/atomic.js';
import { stableKey } from '../../run/ledger.js';
import { ARMS } from '../arms/registry.js';
import type { ExperimentContext } from '../context.js';
import type { Curation } from './curate.js';

interface ArmsSummary {
  armSize: number;
  arms: Array<{ arm: ArmName; file: string; size: number }>;
  rankings: Array<{ method: string; file: string }>;
  notes: string[];
}

export interface ArmSets {
  armSize: number;
  /** Training clip ids per configured arm. */
  ids: Map<ArmName, string[]>;
  /** Rankings arms wrote besides the MI selection (the contrastive baseline's). */
  rankings: Array<{ method: string; file: string }>;
}

export async function armsStage(ctx: ExperimentContext, cur: Curation): Promise<ArmSets> {
  const { config, runDir, expDir, ledger, notes } = ctx;
  const exp = config.experiment;
  const { manifest, truth, curatedRanking } = cur;
  const summary = await ledger.run<ArmsSummary>(
    'arms',
    {
      config: { arms: exp.arms, armSize: exp.armSize, contrastive: config.selection.contrastive, seed: config.seed },
      inputs: { manifest: stableKey(manifest.map((r) => r.id)), curated: stableKey(curatedRanking) },
    },
    async () => {
      const armSize = Math.min(exp.armSize ?? curatedRanking.length, manifest.length);
      const inputs = { config, runDir, expDir, manifest, ids: manifest.map((r) => r.id), truth, curatedRanking, armSize };
      const out: ArmsSummary['arms'] = [];
      const rankings: ArmsSummary['rankings'] = [];
      const armNotes: string[] = [];
      for (const arm of exp.arms) {
        const set = await ARMS[arm].build(inputs);
        const file = path.join(expDir, 'arms', `${arm}.json`);
        await writeJsonAtomic(file, { arm, ids: set.ids });
        out.push({ arm, file, size: set.ids.length });
        armNotes.push(...(set.notes ?? []));
        if (set.ranking) rankings.push(set.ranking);
      }
      return { summary: { armSize, arms: out, rankings, notes: armNotes }, outputs: [...out.map((a) => a.file), ...rankings.map((r) => r.file)] };
    },
  );
  notes.push(...summary.notes);
  const ids = new Map<ArmName, string[]>();
  for (const a of summary.arms) ids.set(a.arm, (JSON.parse(await fsp.readFile(a.file, 'utf8')) as { ids: string[] }).ids);
  return { armSize: summary.armSize, ids, rankings: summary.rankings ?? [] };
}
