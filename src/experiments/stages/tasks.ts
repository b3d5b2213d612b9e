/**
 * Experiment stage 5 (no files of its own): the downstream tasks every arm is probed on, the
 * held-out clips of the corpus (and few-shot variants) plus the datasets in experiment.tasks.
 */
import path from 'node:path';
import { loadProbeDataset } from '../../ssl/probe/datasets.js';
import { resolveSplits, type SplitProtocol } from '../../ssl/probe/splits.js';
import { Rng } from '../../runtime/random.js';
import type { ArmTaskJob } from '../arm-worker.js';
import { readRows, type ExperimentContext } from '../context.js';
import type { SplitSummary } from './corpus.js';
import type { ClipRecord } from '../../run/manifest.js';

/** A clip to decode into a tensor cache: a clip record as the loaders' decode stage reads it. */
export interface ClipRef {
  id: string;
  source: string;
  start: number;
  duration: number;
  /** The manifest's probe facts (saves an ffprobe run per clip). */
  probe?: ClipRecord['probe'];
}

/** The cache of the pool's clips (and of the held-out tasks' clips). */
export function mainCacheDir(runDir: string): string {
  return path.join(runDir, 'tensors');
}

/** A task as arm jobs see it, plus the clips its tensor cache is decoded from. */
export type TaskPlan = ArmTaskJob & { clips: ClipRef[] };

function sortedClasses(values: Array<string | number>): string[] {
  const list = [...new Set(values.map(String))];
  return list.every((s) => /^-?\d+$/.test(s)) ? list.sort((a, b) => Number(a) - Number(b)) : list.sort();
}

export function planTasks(ctx: ExperimentContext, split: SplitSummary): TaskPlan[] {
  const { config, runDir, notes } = ctx;
  const exp = config.experiment;
  const probeCfg = config.probe;
  const tasks: TaskPlan[] = [];
  const byIdSeconds = config.corpus.synth?.seconds ?? config.corpus.realPairs?.seconds ?? config.ingest.clipSeconds;
  if (split.heldOutFile && split.heldOut > 0) {
    const rows = readRows(split.heldOutFile).filter((r) => r.corresponds !== false);
    const key = exp.taskLabel === 'visual' ? 'visual_class' : 'audio_class';
    const usable = rows.filter((r) => r[key] !== undefined);
    const classes = sortedClasses(usable.map((r) => r[key] as string | number));
    if (classes.length >= 2 && usable.length >= 4) {
      const index = new Map(classes.map((c, i) => [c, i]));
      const labels = usable.map((r) => index.get(String(r[key]))!);
      const splits = resolveSplits({ labels }, exp.taskProtocol as SplitProtocol, Rng.derive(config.seed, 'task-splits', 'heldout'));
      const base = {
        cacheDir: mainCacheDir(runDir),
        ids: usable.map((r) => `heldout:${r.id}`),
        labels,
        classes: classes.length,
        clips: usable.map((r) => ({ id: `heldout:${r.id}`, source: r.file, start: 0, duration: byIdSeconds })),
      };
      tasks.push({ name: `heldout-${exp.taskLabel}`, ...base, splits });
      // The same clips with few labelled examples per class (the same embeddings, other splits).
      const perClass = classes.map((_, c) => labels.filter((l) => l === c).length);
      for (const shots of exp.fewShot?.shots ?? []) {
        const fewest = Math.min(...perClass);
        if (fewest <= shots) {
          notes.push(`${shots}-shot task skipped: class ${classes[perClass.indexOf(fewest)]} has ${fewest} corresponding held-out clip(s); it needs more than ${shots}`);
          continue;
        }
        const protocol: SplitProtocol = { kind: 'fewshot', shots, episodes: exp.fewShot!.episodes };
        const fs = resolveSplits({ labels }, protocol, Rng.derive(config.seed, 'task-splits', 'heldout', `${shots}shot`));
        tasks.push({ name: `heldout-${exp.taskLabel}-${shots}shot`, ...base, ids: base.ids.slice(), labels: labels.slice(), splits: fs });
      }
    } else notes.push(`held-out task skipped: ${usable.length} corresponding held-out clips in ${classes.length} class(es)`);
  }
  const baseDir = config.configFile ? path.dirname(config.configFile) : process.cwd();
  for (const t of exp.tasks) {
    const ds = loadProbeDataset(t.dataset, baseDir);
    if (ds.missing.length > 0) notes.push(`task ${t.name}: ${ds.missing.length} listed file(s) not found, e.g. ${ds.missing[0].reason}`);
    const protocol = (t.protocol ?? probeCfg.protocol) as SplitProtocol;
    const splits = resolveSplits({ labels: ds.items.map((i) => i.label), folds: ds.folds, splits: ds.splits }, protocol, Rng.derive(config.seed, 'task-splits', t.name));
    tasks.push({
      name: t.name,
      cacheDir: path.join(runDir, `tensors-${t.name}`),
      ids: ds.items.map((i) => i.id),
      labels: ds.items.map((i) => i.label),
      classes: ds.classes.length,
      splits,
      clips: ds.items.map((i) => ({ id: i.id, source: i.file, start: i.start ?? 0, duration: i.duration ?? probeCfg.clipSeconds ?? byIdSeconds })),
    });
  }
  if (tasks.length === 0) throw new Error('experiment: no downstream task (set experiment.heldOut > 0 with a labelled corpus, or add experiment.tasks)');
  return tasks;
}
