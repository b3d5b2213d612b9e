/**
 * `avcurate launch k8s`: Kubernetes manifests for a sharded curation, in <run>/launch/k8s/:
 *
 *   00-config.yaml       ConfigMap holding the config as run (runDir moved into the volume claim)
 *   NN-<step>.yaml       one Job per step: completionMode Indexed, completions = shards (1 for
 *                        one-process steps), backoffLimitPerIndex, a podFailurePolicy that fails an
 *                        index at once on a config or run-folder error (exit codes 2, 3: a retry
 *                        cannot help) and does not count evictions/preemptions (DisruptionTarget)
 *   all.yaml             everything, for one `kubectl apply -f`
 *
 * Each pod mounts the run folder's claim and the ConfigMap. Init containers order the steps: the
 * first writes the launch plan into the run folder when absent (`launch plan`, idempotent), the
 * second waits for the step before (`avcurate status --wait STEP`). The container runs
 * `avcurate launch task STEP`, which reads its index from JOB_COMPLETION_INDEX and the count from
 * AVCURATE_SHARD_COUNT, exactly as a Slurm array task does from its variables.
 */
import path from 'node:path';
import { readFileSync } from 'node:fs';
import YAML from 'yaml';
import { applyOverride } from '../config/load.js';
import type { Config } from '../config/schema.js';
import { writeFileAtomic } from '../runtime/atomic.js';
import { LaunchError, checkShardable, launchPaths, newPlan, readPlan, stepsOf, taskCount, writePlan, type PlanFile, type Step, type UserStage } from './plan.js';
import { checkRunFolder } from './slurm.js';

export const CONFIG_MOUNT = '/etc/avcurate';
export const CONFIG_KEY = 'config.yaml';

export interface K8sLaunchOptions {
  shards: number;
  stages: UserStage[];
  configFile: string;
  overrides: string[];
  force?: boolean;
}

export interface K8sLaunchResult {
  dir: string;
  files: string[];
  all: string;
  /** The manifests as objects (ConfigMap first, then the Jobs in step order). */
  objects: Array<Record<string, unknown>>;
  warnings: string[];
}

/** A DNS-1123 name from parts (lower case, [a-z0-9-], at most 63 characters). */
export function k8sName(...parts: string[]): string {
  const s = parts
    .join('-')
    .toLowerCase()
    .replace(/[^a-z0-9-]+/g, '-')
    .replace(/-+/g, '-')
    .replace(/^-|-$/g, '');
  return s.slice(0, 63).replace(/-$/, '');
}

/** The run folder inside the pods. */
export function podRunDir(config: Config): string {
  const k = config.launch.k8s;
  const dir = k.runDir ?? path.posix.join(k.mountPath, 'runs', config.name);
  if (!path.posix.isAbsolute(dir)) throw new LaunchError(`launch.k8s.runDir must be an absolute path inside launch.k8s.mountPath (${k.mountPath}), got ${dir}`, 2);
  const rel = path.posix.relative(k.mountPath, dir);
  if (rel.startsWith('..') || path.posix.isAbsolute(rel)) {
    throw new LaunchError(`launch.k8s.runDir ${dir} is outside the volume mount ${k.mountPath}: every pod must see the same run folder`, 2);
  }
  return dir;
}

/**
 * The config text the pods read: the user's config as written (with the --set overrides applied),
 * its run folder moved into the claim. Not the resolved config: defaults stay those of the image.
 */
export function podConfigText(config: Config, raw?: Record<string, unknown>): string {
  const { configFile: _f, ...rest } = config;
  const body = raw ? { ...raw } : { ...rest };
  body.runDir = podRunDir(config);
  return `# avcurate config for Kubernetes pods (runDir on the volume claim)\n${YAML.stringify(body)}`;
}

/** The raw config mapping of a file with overrides applied (what loadConfig validated). */
export function rawConfigOf(file: string, overrides: string[]): Record<string, unknown> {
  const raw = (YAML.parse(readFileSync(file, 'utf8')) ?? {}) as Record<string, unknown>;
  for (const o of overrides) applyOverride(raw, o);
  return raw;
}

export function renderManifests(config: Config, shards: number, stages: UserStage[], raw?: Record<string, unknown>): Array<Record<string, unknown>> {
  const k = config.launch.k8s;
  const steps = stepsOf(stages);
  const labels = { 'app.kubernetes.io/name': 'avcurate', 'avcurate/run': k8sName(config.name) };
  const configMap = {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: { name: k8sName('avc', config.name, 'config'), namespace: k.namespace, labels },
    data: { [CONFIG_KEY]: podConfigText(config, raw) },
  };
  const cfgPath = path.posix.join(CONFIG_MOUNT, CONFIG_KEY);
  const volumeMounts = [
    { name: 'run', mountPath: k.mountPath },
    { name: 'config', mountPath: CONFIG_MOUNT, readOnly: true },
  ];
  const volumes = [
    { name: 'run', persistentVolumeClaim: { claimName: k.pvc } },
    { name: 'config', configMap: { name: configMap.metadata.name } },
  ];
  const requests: Record<string, string> = { cpu: k.cpu, memory: k.memory };
  const limits: Record<string, string> = { memory: k.memory };
  if (k.gpus > 0) limits['nvidia.com/gpu'] = String(k.gpus);
  const small = { requests: { cpu: '100m', memory: '256Mi' }, limits: { memory: '512Mi' } };
  const stageList = stages.join(',');
  const jobs = steps.map((step: Step, i: number) => {
    const n = taskCount(step, shards);
    const init: Array<Record<string, unknown>> = [
      {
        name: 'plan',
        image: k.image,
        imagePullPolicy: k.imagePullPolicy,
        command: [...k.command, 'launch', 'plan', '--config', cfgPath, '--shards', String(shards), '--stages', stageList, '--engine', 'k8s'],
        workingDir: k.mountPath,
        volumeMounts,
        resources: small,
      },
    ];
    if (i > 0) {
      init.push({
        name: 'wait',
        image: k.image,
        imagePullPolicy: k.imagePullPolicy,
        command: [...k.command, 'status', '--config', cfgPath, '--wait', `${steps[i - 1].stage}/${steps[i - 1].name}`, '--interval', '10'],
        workingDir: k.mountPath,
        volumeMounts,
        resources: small,
      });
    }
    return {
      apiVersion: 'batch/v1',
      kind: 'Job',
      metadata: { name: k8sName('avc', config.name, step.name), namespace: k.namespace, labels: { ...labels, 'avcurate/step': step.name } },
      spec: {
        completionMode: 'Indexed',
        completions: n,
        parallelism: k.parallelism > 0 ? Math.min(k.parallelism, n) : n,
        backoffLimitPerIndex: k.retriesPerIndex,
        maxFailedIndexes: n,
        podFailurePolicy: {
          rules: [
            { action: 'FailIndex', onExitCodes: { containerName: 'task', operator: 'In', values: [2, 3] } },
            { action: 'Ignore', onPodConditions: [{ type: 'DisruptionTarget', status: 'True' }] },
          ],
        },
        template: {
          metadata: { labels: { ...labels, 'avcurate/step': step.name } },
          spec: {
            restartPolicy: 'Never',
            ...(k.serviceAccountName ? { serviceAccountName: k.serviceAccountName } : {}),
            ...(Object.keys(k.nodeSelector).length ? { nodeSelector: k.nodeSelector } : {}),
            initContainers: init,
            containers: [
              {
                name: 'task',
                image: k.image,
                imagePullPolicy: k.imagePullPolicy,
                command: [...k.command, 'launch', 'task', step.name, '--config', cfgPath],
                workingDir: k.mountPath,
                env: [
                  { name: 'AVCURATE_SHARD_COUNT', value: String(n) },
                  { name: 'JOB_COMPLETIONS', value: String(n) },
                ],
                resources: { requests, limits },
                volumeMounts,
              },
            ],
            volumes,
          },
        },
      },
    };
  });
  return [configMap, ...jobs];
}

/** Write the manifests (see the file comment). The local run folder gets a copy under launch/k8s. */
export async function launchK8s(config: Config, opts: K8sLaunchOptions): Promise<K8sLaunchResult> {
  const { runDir } = checkRunFolder(config, opts.shards, Boolean(opts.force));
  checkShardable(config, opts.stages, opts.shards);
  podRunDir(config);
  const warnings: string[] = [];
  if (config.selection.partitions === 'auto' && config.selection.partitionSize === undefined && opts.shards > 1) {
    warnings.push(`selection.partitions is "auto": the selection is cut into ${opts.shards} partitions; set selection.partitions: ${opts.shards} to keep results independent of the shard count`);
  }
  const objects = renderManifests(config, opts.shards, opts.stages, rawConfigOf(opts.configFile, opts.overrides));
  const dir = launchPaths(runDir).k8sDir;
  const files: string[] = [];
  const docs: string[] = [];
  for (const [i, o] of objects.entries()) {
    const meta = o.metadata as { name: string };
    const step = (o.metadata as { labels: Record<string, string> }).labels['avcurate/step'];
    const file = path.join(dir, `${String(i).padStart(2, '0')}-${step ?? 'config'}.yaml`);
    const text = YAML.stringify(o, { lineWidth: 0 });
    await writeFileAtomic(file, text);
    files.push(file);
    docs.push(`# ${meta.name}\n${text}`);
  }
  const all = path.join(dir, 'all.yaml');
  await writeFileAtomic(all, docs.join('---\n'));
  return { dir, files, all, objects, warnings };
}

/**
 * `avcurate launch plan`: write the launch plan into the run folder when absent (what a pod's first
 * init container runs); refuses a plan of another shard count or config. Idempotent.
 */
export async function ensurePlan(config: Config, opts: { shards: number; stages: UserStage[]; configFile: string; overrides: string[]; engine: PlanFile['engine'] }): Promise<{ plan: PlanFile; written: boolean }> {
  const { runDir, previous } = checkRunFolder(config, opts.shards, false, opts.engine === 'k8s' ? config.launch.k8s.mountPath : undefined);
  const steps = stepsOf(opts.stages);
  if (previous) {
    const same = previous.steps.length === steps.length && previous.steps.every((s, i) => s.name === steps[i].name);
    if (!same) {
      throw new LaunchError(`${launchPaths(runDir).plan} plans steps ${previous.steps.map((s) => s.name).join(',')}, this launch asks for ${steps.map((s) => s.name).join(',')}`, 3);
    }
    return { plan: previous, written: false };
  }
  const plan = newPlan(config, { configFile: opts.configFile, overrides: opts.overrides, shards: opts.shards, runDir, steps, engine: opts.engine });
  const { mkdir } = await import('node:fs/promises');
  await mkdir(runDir, { recursive: true });
  // Another pod may have written it meanwhile: same content but the time, and the rename is atomic.
  if (!readPlan(runDir)) await writePlan(runDir, plan);
  return { plan, written: true };
}
