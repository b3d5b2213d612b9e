/** `avcurate export`: a selection → WebDataset tar shards with shards.json (src/loaders/export). */
import path from 'node:path';
import type { CommandModule } from 'yargs';
import { UserError } from '../errors.js';
import { displayPath } from '../common.js';
import type { Config } from '../../config/schema.js';

interface Args {
  config?: string;
  set?: string[];
  selection?: string;
  manifest?: string;
  out?: string;
  'max-count'?: number;
  'max-bytes'?: string;
  npy?: boolean;
  cut?: 'reencode' | 'copy';
  height?: number;
  limit?: number;
  concurrency?: number;
  'on-error'?: 'skip' | 'raise';
  dump?: string;
  shard?: string;
  merge: boolean;
  quiet: boolean;
}

/** Parse a byte count: 123, 64K, 500M, 2G, 1.5GiB (binary multiples). */
export function parseBytes(text: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([kmgt]?)(i?b)?\s*$/i.exec(text);
  if (!m) throw new UserError(`--max-bytes: expected a size such as 500M or 2G, got "${text}"`, 2);
  const mult = { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4 }[m[2].toLowerCase() as '' | 'k' | 'm' | 'g' | 't'];
  return Math.round(Number(m[1]) * mult);
}

export const command: CommandModule<object, Args> = {
  command: 'export',
  describe: 'write the selected clips as WebDataset tar shards (<key>.mp4, <key>.json, optional .npy) with shards.json',
  builder: (y) =>
    y
      .option('selection', { type: 'string', describe: 'selection.csv (default: <runDir>/selection.csv with --config)' })
      .option('manifest', { type: 'string', describe: 'manifest.jsonl to join with (default: next to the selection)' })
      .option('out', { alias: 'o', type: 'string', describe: 'output folder (default: loader.export.out, or <runDir>/shards)' })
      .option('max-count', { type: 'number', describe: 'samples per shard (default 1000)' })
      .option('max-bytes', { type: 'string', describe: 'bytes per shard, e.g. 500M or 2G (instead of --max-count)' })
      .option('npy', { type: 'boolean', describe: 'also write pre-decoded <key>.frames.npy / <key>.audio.npy (loader.decode settings)' })
      .option('cut', { type: 'string', choices: ['reencode', 'copy'], describe: 'cut clips exactly (reencode, default) or by stream copy' })
      .option('height', { type: 'number', describe: 'scale cut clips to this height' })
      .option('limit', { type: 'number', describe: 'export only the first N ranks' })
      .option('concurrency', { alias: 'j', type: 'number', describe: 'parallel ffmpeg processes (default: cores)' })
      .option('on-error', { type: 'string', choices: ['skip', 'raise'], describe: 'skip clips that cannot be cut (default) or stop' })
      .option('dump', { type: 'string', describe: 'afterwards, write what the loader reads from the shards to this JSON (for scripts/check_shards_interop.py)' })
      .option('config', { alias: 'c', type: 'string', describe: 'YAML config (optional): loader.export and loader.decode defaults, runDir' })
      .option('set', { type: 'string', array: true, describe: 'override a config key, e.g. --set loader.export.npy=true' })
      .option('shard', { type: 'string', describe: 'i/n: write only the rank blocks b with b mod n = i (max-count shards; default from SLURM_ARRAY_TASK_ID or JOB_COMPLETION_INDEX); the tars equal a one-process export byte for byte' })
      .option('merge', { type: 'boolean', default: true, describe: 'with --shard: write shards.json when every block is done (--no-merge: leave it to a run without --shard)' })
      .option('quiet', { alias: 'q', type: 'boolean', default: false, describe: 'no progress output' })
      .check((a) => {
        if (a['max-count'] !== undefined && a['max-bytes'] !== undefined) throw new UserError('give --max-count or --max-bytes, not both', 2);
        if (!a.selection && !a.config) throw new UserError('give --selection (or --config to use <runDir>/selection.csv)', 2);
        return true;
      }) as never,
  handler: async (a) => {
    if (a.quiet) process.env.AVCURATE_QUIET = '1';
    const [{ loadConfig, snapshotConfig }, { LoaderSchema }, { SslSchema }, { decodeSpecOf }, { exportShards, ExportShardError }, { dumpShards }, { log }, { resolveShard }] = await Promise.all([
      import('../../config/load.js'),
      import('../../config/sections/loader.js'),
      import('../../config/sections/ssl.js'),
      import('../../loaders/pipeline.js'),
      import('../../loaders/export/export.js'),
      import('../../loaders/export/interop.js'),
      import('../../runtime/progress.js'),
      import('../../runtime/shard.js'),
    ]);
    let shard;
    try {
      shard = resolveShard(a.shard);
    } catch (err) {
      throw new UserError((err as Error).message, 2);
    }
    let config: Config | null = null;
    if (a.config) {
      config = loadConfig(a.config, a.set ?? []);
      await snapshotConfig(config);
    } else if (a.set?.length) throw new UserError('--set needs --config', 2);
    const loader = config?.loader ?? LoaderSchema.parse({});
    const ex = loader.export;
    // Inputs not given come from the config's run folder (src/run/layout.ts).
    const layout = config ? (await import('../../run/layout.js')).runLayout(config.runDir!) : null;
    const selection = a.selection ?? layout?.selection();
    if (!selection) throw new UserError('give --selection (a selection.csv) or --config (its run folder\'s selection.csv)', 2);
    const out = a.out ?? ex.out ?? layout?.shardsDir;
    if (!out) throw new UserError('give --out (the folder for the shards)', 2);
    const maxBytes = a['max-bytes'] !== undefined ? parseBytes(a['max-bytes']) : a['max-count'] === undefined ? ex.maxBytes : undefined;
    const maxCount = maxBytes === undefined ? (a['max-count'] ?? ex.maxCount) : undefined;
    if (maxCount !== undefined && !(Number.isInteger(maxCount) && maxCount >= 1)) throw new UserError(`--max-count must be a positive integer, got ${maxCount}`, 2);
    if (maxBytes !== undefined && maxBytes < 1024) throw new UserError(`--max-bytes must be at least 1K, got ${maxBytes}`, 2);
    // loader.decode, with fps and size from ssl.model where unset (the same rule as pretrain's).
    const visual = (config?.ssl ?? SslSchema.parse({})).model.visual;
    const d = (a.npy ?? ex.npy) ? decodeSpecOf(loader, { shape: { frames: visual.frames, width: visual.width, height: visual.height }, sampling: 'center', seed: 0, strict: false }) : null;
    const npy = d ? { fps: d.fps, size: d.size, seconds: d.seconds, sampleRate: d.sampleRate, sampling: 'center' as const, fit: d.fit } : null;
    let result;
    try {
      result = await exportShards({
        selection,
        manifest: a.manifest,
        out,
        maxCount,
        maxBytes,
        npy,
        cut: { mode: a.cut ?? ex.cut, height: a.height ?? ex.height },
        limit: a.limit,
        absolutePaths: ex.absolutePaths,
        concurrency: a.concurrency ?? (loader.concurrency || undefined),
        onError: a['on-error'] ?? loader.onError,
        silent: a.quiet,
        shard,
        merge: a.merge,
        // With --config, the run's own ledger records it (wherever the shards go).
        runDir: layout?.root,
      });
    } catch (err) {
      if (err instanceof ExportShardError) throw new UserError(err.message, 2);
      const msg = (err as Error).message;
      if (/selection|manifest|not found|cannot read/i.test(msg) && !/^export: clip/.test(msg)) throw new UserError(msg);
      throw err;
    }
    const { index } = result;
    if (!index) {
      log(
        `export: shard ${shard.index}/${shard.count}: ${result.written} samples written${result.reusedShards ? `, ${result.reusedShards} shard(s) kept from an earlier run` : ''}` +
          (result.skipped.length ? `; ${result.skipped.length} clip(s) skipped (see failures.jsonl)` : '') +
          (result.missing.length ? `; ${result.missing.length} block(s) left for other shards` : '; every block is done') +
          ' (a run without --shard writes shards.json)',
      );
      return;
    }
    log(`export: ${index.total.count} samples in ${index.shards.length} shard(s), ${(index.total.bytes / 1e6).toFixed(1)} MB → ${displayPath(path.join(result.out, 'shards.json'))}` +
      (result.upToDate ? ' (up to date: nothing written)' : result.reusedShards ? ` (${result.reusedShards} shard(s) kept from an earlier run)` : '') +
      (result.skipped.length ? `; ${result.skipped.length} clip(s) skipped (see failures.jsonl)` : ''));
    if (a.dump) {
      const dump = await dumpShards(result.out, a.dump);
      log(`export: wrote the loader's view of ${dump.samples.length} samples to ${a.dump}`);
    }
  },
};
