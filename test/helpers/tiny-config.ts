/**
 * The raw config of a tiny synthetic curation (32×32 px, 1 s clips, builtin features, k = 4,
 * half the pool selected): what the curate, ledger and bootstrap tests run on. `over` replaces
 * whole top-level sections.
 */
export function tinyCurateConfig<O extends object = Record<never, never>>(
  o: { name: string; runDir: string; seed: number; clips: number; shardSize: number },
  over: O = {} as O,
) {
  const base = {
    name: o.name,
    runDir: o.runDir,
    seed: o.seed,
    corpus: { synth: { clips: o.clips, classes: 4, mismatch: 0.5, seconds: 1, width: 32, height: 32, fps: 6 } },
    ingest: { clipSeconds: 1, minSeconds: 0.5 },
    features: { shardSize: o.shardSize, decode: { fps: 6, width: 32, height: 32 }, audio: [{ type: 'builtin' }], visual: [{ type: 'builtin', frames: 4, maxSize: 32 }] },
    clustering: { k: [4] },
    selection: { ratio: 0.5 },
  };
  return { ...base, ...over } as Omit<typeof base, keyof O> & O;
}
