/**
 * Experiment stage 6: every pool clip and every downstream clip decoded once into the model's
 * input shapes, as loaders tensor caches (tensors/, tensors-<task>/), with the loader.decode
 * settings; every arm then reads its batches from the cache through the loaders' pipeline.
 * Clips that cannot be decoded are left out of the arms and tasks (and noted).
 */
import path from 'node:path';
import type { ClipRecord } from '../../run/manifest.js';
import { buildModelCache } from '../../ssl/data.js';
import { fromArray } from '../../loaders/sources/array.js';
import { Progress } from '../../runtime/progress.js';
import { stableKey, stageFingerprint } from '../../run/ledger.js';
import type { ArmName } from '../../config/sections/experiment.js';
import type { ExperimentContext } from '../context.js';
import { mainCacheDir, type ClipRef, type TaskPlan } from './tasks.js';


/**
 * Stage(s) "tensors", "tensors-<task>". Removes undecodable clips from `armIds` and `tasks` in
 * place; returns the main cache's fingerprint (part of every arm job's key).
 */
export async function tensorsStage(ctx: ExperimentContext, manifest: ClipRecord[], tasks: TaskPlan[], armIds: Map<ArmName, string[]>): Promise<string> {
  const { config, runDir, ledger, silent, notes } = ctx;
  const dataCfg = { ssl: config.ssl, loader: config.loader };
  const mainDir = mainCacheDir(runDir);
  const trainClips: ClipRef[] = manifest.map((r: ClipRecord) => ({ id: r.id, source: r.source, start: r.start, duration: r.duration, probe: r.probe }));
  const seenClips = new Set<string>();
  const mainClips = [...trainClips, ...tasks.filter((t) => t.cacheDir === mainDir).flatMap((t) => t.clips)].filter((c) => {
    if (seenClips.has(c.id)) return false;
    seenClips.add(c.id);
    return true;
  });
  const cacheGroups: Array<{ dir: string; clips: ClipRef[] }> = [{ dir: mainDir, clips: mainClips }];
  for (const t of tasks) if (t.cacheDir !== mainDir) cacheGroups.push({ dir: t.cacheDir, clips: t.clips });
  const cacheKeys = new Map<string, string>();
  for (const g of cacheGroups) {
    const stage = `tensors${g.dir === mainDir ? '' : `-${path.basename(g.dir).slice('tensors-'.length)}`}`;
    const parts = { config: { model: config.ssl.model, decode: config.loader.decode, seed: config.seed }, inputs: { clips: stableKey(g.clips) } };
    const fingerprint = stageFingerprint(parts).key;
    cacheKeys.set(g.dir, fingerprint);
    const built = await ledger.run<{ count: number; failed: Array<{ id: string; reason: string }> }>(stage, parts, async () => {
      const progress = new Progress(`decode clips (${stage})`, { total: g.clips.length, unit: 'clips', silent });
      const r = await buildModelCache({ dataset: fromArray(g.clips) }, g.dir, dataCfg, { seed: config.seed, fingerprint, onItem: (k) => progress.set(k) });
      progress.finish();
      const kept = new Set(r.index.keys);
      const reasons = r.index.skipped.flatMap((s) => s.errors);
      const failed = g.clips.filter((c) => !kept.has(c.id)).map((c) => ({ id: c.id, reason: reasons.find((e) => e.startsWith(`${c.id}:`)) ?? 'not decoded' }));
      return { summary: { count: r.index.count, failed }, outputs: [path.join(g.dir, 'index.json')] };
    });
    const failed = built.failed;
    if (failed.length > 0) {
      notes.push(`${failed.length} clip(s) could not be decoded for ${stage} (e.g. ${failed[0].id}: ${failed[0].reason})`);
      const bad = new Set(failed.map((f) => f.id));
      if (g.dir === mainDir) for (const [arm, ids] of armIds) armIds.set(arm, ids.filter((id) => !bad.has(id)));
      for (const t of tasks) {
        if (t.cacheDir !== g.dir) continue;
        const keep = t.ids.map((id, i) => (bad.has(id) ? -1 : i)).filter((i) => i >= 0);
        if (keep.length < t.ids.length) {
          const remap = new Map(keep.map((old, neu) => [old, neu]));
          t.ids = keep.map((i) => t.ids[i]);
          t.labels = keep.map((i) => t.labels[i]);
          t.splits = t.splits.map((s) => ({ name: s.name, train: s.train.filter((i) => remap.has(i)).map((i) => remap.get(i)!), test: s.test.filter((i) => remap.has(i)).map((i) => remap.get(i)!) }));
        }
      }
    }
  }
  return cacheKeys.get(mainDir)!;
}
