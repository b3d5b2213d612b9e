/**
 * This process's rank and world size as a launcher states them: torchrun-style variables (RANK,
 * WORLD_SIZE, LOCAL_RANK; also set by torch.distributed launchers and many Kubernetes operators)
 * or Slurm's (SLURM_PROCID, SLURM_NTASKS, SLURM_LOCALID, one task per rank under srun). torchrun's
 * win when both are set (torchrun inside a Slurm allocation). Neither: rank 0 of 1.
 */
export interface DistributedRank {
  rank: number;
  world: number;
  /** Rank within the node (for picking a device). */
  localRank: number;
  /** Where the values came from. */
  source: 'torchrun' | 'slurm' | 'none';
}

function intVar(env: Record<string, string | undefined>, name: string, min: number): number | undefined {
  const v = env[name];
  if (v === undefined || v === '') return undefined;
  if (!/^\d+$/.test(v.trim()) || Number(v) < min) throw new Error(`${name}=${JSON.stringify(v)}: expected an integer >= ${min}`);
  return Number(v);
}

export function rankFromEnv(env: Record<string, string | undefined> = process.env): DistributedRank {
  const pick = (rankVar: string, worldVar: string, localVar: string, source: DistributedRank['source']): DistributedRank | null => {
    const rank = intVar(env, rankVar, 0);
    const world = intVar(env, worldVar, 1);
    if (rank === undefined && world === undefined) return null;
    if (rank === undefined || world === undefined) throw new Error(`${rank === undefined ? rankVar : worldVar} is unset while ${rank === undefined ? worldVar : rankVar} is set: set both or neither`);
    if (rank >= world) throw new Error(`${rankVar}=${rank} is not below ${worldVar}=${world}`);
    return { rank, world, localRank: intVar(env, localVar, 0) ?? 0, source };
  };
  return pick('RANK', 'WORLD_SIZE', 'LOCAL_RANK', 'torchrun') ?? pick('SLURM_PROCID', 'SLURM_NTASKS', 'SLURM_LOCALID', 'slurm') ?? { rank: 0, world: 1, localRank: 0, source: 'none' };
}
