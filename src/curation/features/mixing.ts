/**
 * Features of two configs are never mixed in one run folder (issue 13 item 3): every feature
 * shard records the hash of the features config that made it (`config_hash`), and every reader
 * that combines shards (cluster, the one-table merge, extract looking at other shards) checks
 * that all of them agree, refusing with the files and hashes that differ.
 */
import path from 'node:path';

export class FeaturesMixError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'FeaturesMixError';
  }
}

/**
 * The one features-config hash of these shards (`attrs[i]`: the root attributes of `files[i]`),
 * or a FeaturesMixError naming a shard of each hash. `expected` adds the hash of the running config.
 */
export function assertOneFeaturesConfig(
  files: readonly string[],
  attrs: ReadonlyArray<Record<string, string | number>>,
  opts: { expected?: string; what?: string } = {},
): string | null {
  const byHash = new Map<string, string[]>();
  for (let i = 0; i < files.length; i++) {
    const h = String(attrs[i].config_hash ?? '(none)');
    if (!byHash.has(h)) byHash.set(h, []);
    byHash.get(h)!.push(files[i]);
  }
  const hashes = [...byHash.keys()];
  if (opts.expected !== undefined && hashes.length === 1 && hashes[0] !== opts.expected) {
    const f = byHash.get(hashes[0])!;
    throw new FeaturesMixError(
      `${opts.what ?? 'features'}: ${f.length} feature shard(s) in ${path.dirname(f[0])} (e.g. ${path.basename(f[0])}) were made with another features config ` +
        `(hash ${hashes[0]}, this config ${opts.expected}); features of two configs are never mixed in one run folder: use another run folder or remove those shards`,
    );
  }
  if (hashes.length > 1) {
    const list = hashes.map((h) => `${h} (${byHash.get(h)!.length} shard(s), e.g. ${path.basename(byHash.get(h)![0])})`).join(', ');
    throw new FeaturesMixError(
      `${opts.what ?? 'features'}: the feature shards in ${path.dirname(files[0])} were made with ${hashes.length} different features configs: ${list}; ` +
        'features of two configs are never mixed: rerun extract for every shard with one config (or use another run folder)',
    );
  }
  return hashes[0] ?? null;
}
