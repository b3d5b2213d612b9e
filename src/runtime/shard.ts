/**
 * Shard arithmetic: which part of the work this process does. `--shard i/n` on the command line,
 * else Slurm array variables, else a Kubernetes Indexed Job index, else the whole (0/1).
 */
export interface ShardSpec {
  index: number;
  count: number;
  /** Where the spec came from, for messages. */
  source: 'flag' | 'slurm' | 'k8s' | 'default';
}

export class ShardError extends Error {}

export function parseShard(text: string): ShardSpec {
  const m = /^\s*(\d+)\s*\/\s*(\d+)\s*$/.exec(text);
  if (!m) throw new ShardError(`--shard must look like i/n (e.g. 0/4), got "${text}"`);
  const index = Number(m[1]);
  const count = Number(m[2]);
  if (count < 1) throw new ShardError(`--shard ${text}: the shard count must be at least 1`);
  if (index >= count) throw new ShardError(`--shard ${text}: the index must be below the count (0..${count - 1})`);
  return { index, count, source: 'flag' };
}

/**
 * Resolve the shard of this process. Slurm: SLURM_ARRAY_TASK_ID with SLURM_ARRAY_TASK_COUNT
 * (SLURM_ARRAY_TASK_MIN is subtracted when set, so arrays numbered from 1 work). Kubernetes
 * Indexed Jobs: JOB_COMPLETION_INDEX with the count from AVCURATE_SHARD_COUNT or JOB_COMPLETIONS.
 */
export function resolveShard(flag?: string, env: NodeJS.ProcessEnv = process.env): ShardSpec {
  if (flag !== undefined && flag !== '') return parseShard(flag);
  if (env.SLURM_ARRAY_TASK_ID !== undefined && env.SLURM_ARRAY_TASK_COUNT !== undefined) {
    const min = env.SLURM_ARRAY_TASK_MIN !== undefined ? Number(env.SLURM_ARRAY_TASK_MIN) : 0;
    const index = Number(env.SLURM_ARRAY_TASK_ID) - min;
    const count = Number(env.SLURM_ARRAY_TASK_COUNT);
    checkInts(index, count, `SLURM_ARRAY_TASK_ID=${env.SLURM_ARRAY_TASK_ID} SLURM_ARRAY_TASK_COUNT=${env.SLURM_ARRAY_TASK_COUNT}`);
    return { index, count, source: 'slurm' };
  }
  if (env.JOB_COMPLETION_INDEX !== undefined) {
    const index = Number(env.JOB_COMPLETION_INDEX);
    const countText = env.AVCURATE_SHARD_COUNT ?? env.JOB_COMPLETIONS;
    if (countText === undefined) {
      throw new ShardError('JOB_COMPLETION_INDEX is set but neither AVCURATE_SHARD_COUNT nor JOB_COMPLETIONS gives the shard count');
    }
    const count = Number(countText);
    checkInts(index, count, `JOB_COMPLETION_INDEX=${env.JOB_COMPLETION_INDEX} count=${countText}`);
    return { index, count, source: 'k8s' };
  }
  return { index: 0, count: 1, source: 'default' };
}

function checkInts(index: number, count: number, what: string): void {
  if (!Number.isInteger(index) || !Number.isInteger(count) || count < 1 || index < 0 || index >= count) {
    throw new ShardError(`invalid shard from environment (${what}): need 0 <= index < count`);
  }
}

/** Contiguous range [start, end) of `total` items owned by shard `index` of `count` (sizes differ by at most one). */
export function shardRange(total: number, index: number, count: number): [number, number] {
  const base = Math.floor(total / count);
  const rem = total % count;
  const start = index * base + Math.min(index, rem);
  const end = start + base + (index < rem ? 1 : 0);
  return [start, end];
}

/** The work units (0..units-1) owned by a shard, assigned round-robin: unit u belongs to u % count. */
export function unitsOfShard(units: number, spec: Pick<ShardSpec, 'index' | 'count'>): number[] {
  const out: number[] = [];
  for (let u = spec.index; u < units; u += spec.count) out.push(u);
  return out;
}

/** Zero-padded shard file stem, e.g. shard-00003-of-00016. */
export function shardName(index: number, count: number, prefix = 'shard'): string {
  return `${prefix}-${String(index).padStart(5, '0')}-of-${String(count).padStart(5, '0')}`;
}
