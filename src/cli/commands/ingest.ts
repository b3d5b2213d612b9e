import path from 'node:path';
import type { CommandModule } from 'yargs';
import type { IngestConfig } from '../../config/sections/ingest.js';
import { displayPaths } from '../common.js';
import { UserError } from '../errors.js';

interface Args {
  input?: string;
  out?: string;
  config?: string;
  set?: string[];
  'clip-seconds'?: number;
  'max-clips-per-video'?: number;
  'min-seconds'?: number;
  jobs?: number;
  'timeout-seconds'?: number;
  'content-filters'?: boolean;
  quiet: boolean;
}

export const command: CommandModule<object, Args> = {
  command: 'ingest [input]',
  describe: 'probe a folder / CSV / labels.jsonl and write manifest.jsonl (+ failures.jsonl)',
  builder: (y) =>
    y
      .positional('input', { type: 'string', describe: 'folder of videos, CSV (path[,label,start,end,video_id,fold]), labels.jsonl, or a WebDataset tar pool read in place (folder of .tar, \'pool-{000000..000099}.tar\', a .tar, or a .txt of tar paths) (default with --config: the config\'s corpus)' })
      .option('out', { type: 'string', describe: 'manifest.jsonl to write, failures.jsonl goes beside it (default with --config: <runDir>/manifest.jsonl)' })
      .option('config', { alias: 'c', type: 'string', describe: 'take the ingest section, the corpus and the run folder from this config' })
      .option('set', { type: 'string', array: true, describe: 'override a config key, e.g. --set ingest.clipSeconds=4' })
      .option('clip-seconds', { type: 'number', describe: 'clip window length (default: ingest.clipSeconds)' })
      .option('max-clips-per-video', { type: 'number', describe: 'windows per long video (default: ingest.maxClipsPerVideo)' })
      .option('min-seconds', { type: 'number', describe: 'refuse clips shorter than this (default: ingest.minSeconds)' })
      .option('jobs', { type: 'number', describe: 'concurrent probes (default: ingest.concurrency, else the cores)' })
      .option('timeout-seconds', { type: 'number', describe: 'per-file ffprobe/ffmpeg timeout (default: ingest.timeoutSeconds)' })
      .option('content-filters', { type: 'boolean', describe: 'decode-based silent/frozen checks (default: ingest.prefilter.content; --no-content-filters to skip)' })
      .option('quiet', { alias: 'q', type: 'boolean', default: false }) as never,
  handler: async (a) => {
    const [{ loadConfig }, { IngestSchema }, { ConfigError, formatIssues }, { corpusDir, ingestStage }, { runLayout }] = await Promise.all([
      import('../../config/load.js'),
      import('../../config/sections/ingest.js'),
      import('../../config/errors.js'),
      import('../../curation/manifest/stage.js'),
      import('../../run/layout.js'),
    ]);
    if (a.quiet) process.env.AVCURATE_QUIET = '1';
    const config = a.config ? loadConfig(a.config, a.set ?? []) : null;
    if (!config && a.set?.length) throw new UserError('--set needs --config', 2);
    // Inputs not given come from the config: the corpus (corpus.source, or the corpus a synth /
    // realPairs run built in <runDir>/corpus) and the run folder's manifest.
    let input = a.input;
    if (input === undefined) {
      if (!config) throw new UserError('ingest: give the input (a folder of videos, a CSV or a labels.jsonl), or --config with a corpus section', 2);
      if (!config.corpus.source && !config.corpus.synth && !config.corpus.realPairs) {
        throw new ConfigError(a.config!, ['corpus: no input given and no corpus in the config; set corpus.source (or corpus.synth / corpus.realPairs, built by "avcurate curate")']);
      }
      input = corpusDir(config);
    }
    const out = a.out ?? (config ? runLayout(config.runDir!).manifest : undefined);
    if (out === undefined) throw new UserError('ingest: give --out manifest.jsonl, or --config to write <runDir>/manifest.jsonl', 2);
    const base: Record<string, unknown> = config ? { ...config.ingest } : {};
    const set = (k: string, v: unknown) => {
      if (v !== undefined) base[k] = v;
    };
    set('clipSeconds', a['clip-seconds']);
    set('maxClipsPerVideo', a['max-clips-per-video']);
    set('minSeconds', a['min-seconds']);
    set('concurrency', a.jobs);
    set('timeoutSeconds', a['timeout-seconds']);
    const parsed = IngestSchema.safeParse(base, { reportInput: true });
    if (!parsed.success) throw new ConfigError('ingest options', formatIssues(parsed.error.issues));
    const cfg: IngestConfig = parsed.data;
    if (a['content-filters'] === false) cfg.prefilter.content = false;
    // The run's own manifest from its own corpus: exactly curate's ingest step (clips added with
    // curate --add are kept); any other input or output: the same ledger, recorded beside `out`.
    const runManifest = config && path.resolve(out) === runLayout(config.runDir!).manifest && path.resolve(input) === path.resolve(corpusDir(config));
    const after = runManifest ? async () => (await import('../../curation/incremental/stage.js')).reapplyAdditions(config) : undefined;
    const r = await ingestStage({ input, out, ingest: cfg, silent: a.quiet, after });
    const [manifestShown, failuresShown] = displayPaths(r.manifest, r.failuresFile);
    const s = r.summary;
    if (r.skipped) {
      process.stdout.write(`${manifestShown} is up to date for this input and these settings (${s.note}); skipped (${path.relative(process.cwd(), r.check.file) || r.check.file})\n`);
      return;
    }
    process.stdout.write(`wrote ${s.clips} clips from ${s.inputs} files to ${manifestShown}; ${s.refused} refused${s.refused ? ` → ${failuresShown}` : ''}\n`);
    for (const [reason, n] of Object.entries(s.reasons)) process.stdout.write(`  ${n} × ${reason}\n`);
  },
};
