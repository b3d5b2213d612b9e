import { z } from 'zod';

/** Resources of one kind of job (array tasks or single steps). */
const SlurmResourcesSchema = z
  .object({
    /** Slurm partition (#SBATCH --partition); empty = the cluster's default. */
    partition: z.string().optional(),
    /** CPUs per task (#SBATCH --cpus-per-task). */
    cpus: z.number().int().min(1).default(2),
    /** Memory per task, Slurm syntax (e.g. 4G, 500M; #SBATCH --mem). */
    memory: z.string().regex(/^\d+[KMGT]?$/i, 'a Slurm memory size such as 4G or 500M').default('4G'),
    /** Wall-time limit, Slurm syntax (e.g. 04:00:00 or 1-00:00:00; #SBATCH --time). */
    time: z.string().regex(/^(\d+-)?\d+(:\d{2}){0,2}$/, 'a Slurm time such as 04:00:00 or 1-00:00:00').default('04:00:00'),
    /** GPUs per task (#SBATCH --gpus-per-task); 0 = none. */
    gpus: z.number().int().min(0).default(0),
    /** Extra lines copied into each script after the #SBATCH lines of this section (e.g. "#SBATCH --account=x", "module load ffmpeg"). */
    extra: z.array(z.string()).default([]),
  })
  .strict();

/** Per-step overrides: only what is given replaces the section's value (no defaults here). */
const SlurmStageSchema = z
  .object({
    partition: z.string().optional(),
    cpus: z.number().int().min(1).optional(),
    memory: z.string().regex(/^\d+[KMGT]?$/i, 'a Slurm memory size such as 4G or 500M').optional(),
    time: z.string().regex(/^(\d+-)?\d+(:\d{2}){0,2}$/, 'a Slurm time such as 04:00:00 or 1-00:00:00').optional(),
    gpus: z.number().int().min(0).optional(),
    extra: z.array(z.string()).optional(),
  })
  .strict();

/**
 * The `launch` section: how `avcurate launch slurm|k8s` writes jobs. It never changes a result (the
 * run fingerprint leaves it out), only where and with what resources the stages run.
 */
export const LaunchSchema = z
  .object({
    slurm: z
      .object({
        ...SlurmResourcesSchema.shape,
        /** Per-stage overrides of the resources above, keyed by step (extract, cluster-fit, select, ...). */
        stages: z.record(z.string(), SlurmStageSchema).default({}),
        /** Job-name prefix (default: avc-<config name>). */
        jobName: z.string().regex(/^[A-Za-z0-9._-]+$/).optional(),
        /** Command that runs avcurate on the compute nodes (default: this node binary + this package's bin/avcurate.js). */
        command: z.string().optional(),
        /** Maximum array tasks running at once (#SBATCH --array=...%N); 0 = no limit. */
        maxRunning: z.number().int().min(0).default(0),
      })
      .strict()
      .prefault({}),
    k8s: z
      .object({
        /** Container image with avcurate installed (its entry point is not used: commands are explicit). */
        image: z.string().default('avcurate:latest'),
        imagePullPolicy: z.enum(['Always', 'IfNotPresent', 'Never']).default('IfNotPresent'),
        namespace: z.string().default('default'),
        /** Command that runs avcurate in the image. */
        command: z.array(z.string()).min(1).default(['avcurate']),
        /** PersistentVolumeClaim (ReadWriteMany) holding the run folder. */
        pvc: z.string().default('avcurate-runs'),
        /** Where the claim is mounted in the containers; the run folder must lie inside it. */
        mountPath: z.string().default('/data'),
        /** The run folder inside the mount (default: <mountPath>/runs/<name>). */
        runDir: z.string().optional(),
        cpu: z.string().default('2'),
        memory: z.string().default('4Gi'),
        /** GPUs per pod (nvidia.com/gpu); 0 = none. */
        gpus: z.number().int().min(0).default(0),
        /** Retries of one index before it counts as failed (backoffLimitPerIndex). */
        retriesPerIndex: z.number().int().min(0).default(2),
        /** Indices running at once; 0 = all. */
        parallelism: z.number().int().min(0).default(0),
        serviceAccountName: z.string().optional(),
        nodeSelector: z.record(z.string(), z.string()).default({}),
      })
      .strict()
      .prefault({}),
  })
  .strict();

export type LaunchConfig = z.infer<typeof LaunchSchema>;
