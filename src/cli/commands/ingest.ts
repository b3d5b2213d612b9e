import path from 'node:path';
import type { CommandModule } from 'yargs';
import type { IngestConfig } from '../../config/sections/ingest.js';

interface Args {
  input: string;
  out: string;
  config?: string;
  'clip-seconds'?: number;
  'max-clips-per-video'?: number;
  'min-seconds'?: number;
  jobs?: number;
  'timeout-seconds'?: number;
  'content-filters': boolean;
  quiet: boolean;
}

export const command: CommandModule<object, Args> = {
  command: 'ingest <input>',
  describe: 'probe a folder / CSV / labels.jsonl and write manifest.jsonl (+ failures.jsonl)',
  builder: (y) =>
    y
      .positional('input', { type: 'string', demandOption: true, describe: 'folder of videos, CSV (path[,label,start,end,video_id,fold]) or labels.jsonl' })
      .option('out', { type: 'string', demandOption: true, describe: 'manifest.jsonl to write (failures.jsonl goes beside it)' })
      .option('config', { alias: 'c', type: 'string', describe: 'take the ingest section from this config' })
      .option('clip-seconds', { type: 'number', describe: 'clip window length (default 10)' })
      .option('max-clips-per-video', { type: 'number', describe: 'windows per long video (default 3)' })
      .option('min-seconds', { type: 'number', describe: 'refuse clips shorter than this (default 1)' })
      .option('jobs', { type: 'number', describe: 'concurrent probes (default: cores)' })
      .option('timeout-seconds', { type: 'number', describe: 'per-file ffprobe/ffmpeg timeout (default 30)' })
      .option('content-filters', { type: 'boolean', default: true, describe: 'decode-based silent/frozen checks (--no-content-filters to skip)' })
      .option('quiet', { alias: 'q', type: 'boolean', default: false }) as never,
  handler: async (a) => {
    const [{ ingest }, { loadConfig }, { IngestSchema }, { ConfigError, formatIssues }] = await Promise.all([
      import('../../curation/manifest/ingest.js'),
      import('../../config/load.js'),
      import('../../config/sections/ingest.js'),
      import('../../config/errors.js'),
    ]);
    const base: Record<string, unknown> = a.config ? { ...loadConfig(a.config).ingest } : {};
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
    if (!a['content-filters']) cfg.prefilter.content = false;
    const r = await ingest({ ...cfg, input: a.input, out: a.out, silent: a.quiet });
    const reasons = new Map<string, number>();
    for (const f of r.failures) reasons.set(f.reason.replace(/\(.*\)/, '').trim(), (reasons.get(f.reason.replace(/\(.*\)/, '').trim()) ?? 0) + 1);
    process.stdout.write(`wrote ${r.clips} clips from ${r.inputs} files to ${path.relative(process.cwd(), r.manifest) || r.manifest}; ${r.failures.length} refused${r.failures.length ? ` → ${r.failuresFile}` : ''}\n`);
    for (const [reason, n] of reasons) process.stdout.write(`  ${n} × ${reason}\n`);
  },
};
