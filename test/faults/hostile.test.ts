/**
 * The hostile-input corpus (test/helpers/hostile.ts): every case gets the outcome it promises.
 * Media go through ingest, shards through the shard reader, configs through the config loader.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ingest } from '../../src/curation/manifest/ingest.js';
import { readManifest } from '../../src/curation/manifest/read.js';
import { fromShards } from '../../src/loaders/sources/shards.js';
import { loadConfig, ConfigError } from '../../src/config/load.js';
import { makeHostileCorpus, type HostileCorpus } from '../helpers/hostile.js';

let root: string;
let corpus: HostileCorpus;
beforeAll(async () => {
  root = await fsp.mkdtemp(path.join(os.tmpdir(), 'avc-hostile-'));
  corpus = await makeHostileCorpus(root);
}, 120_000);
afterAll(async () => {
  await fsp.rm(root, { recursive: true, force: true });
});

describe('hostile-input corpus', () => {
  it('media: every case is a clip or a failures line with its reason; nothing runs from a name', async () => {
    const out = path.join(root, 'run', 'manifest.jsonl');
    const r = await ingest({ input: corpus.media, out, silent: true, timeoutSeconds: 10 });
    const sources = new Set((await readManifest(out)).map((m) => m.source));
    const cases = corpus.cases.filter((c) => c.expect.kind === 'clip' || c.expect.kind === 'failure');
    expect(cases.length).toBeGreaterThanOrEqual(19);
    for (const c of cases) {
      if (c.expect.kind === 'clip') expect(sources.has(path.resolve(c.file)), c.name).toBe(true);
      else if (c.expect.kind === 'failure') {
        const lines = r.failures.filter((f) => f.file === c.file);
        expect(lines, `${c.name}: exactly one failures line`).toHaveLength(1);
        expect(lines[0].reason, c.name).toMatch(c.expect.reason);
      }
    }
    expect(sources.size).toBe(cases.filter((c) => c.expect.kind === 'clip').length);
    await expect(fsp.access(path.join(process.cwd(), 'pwned'))).rejects.toThrow();
  }, 120_000);

  it('tar shards: the promised samples are read and each refusal is reported', async () => {
    for (const c of corpus.cases) {
      if (c.expect.kind !== 'samples') continue;
      const it = (await fromShards([c.file], { onError: 'skip' })).iterator();
      const keys: string[] = [];
      for await (const s of it) keys.push(s.__key__);
      expect(keys, c.name).toEqual(c.expect.keys);
      const errors = it.reports().flatMap((x) => x.errors);
      if (c.expect.report) expect(errors.join('\n'), c.name).toMatch(c.expect.report);
    }
  });

  it('configs: refused at once with the reason, never read forever or blocked on', () => {
    for (const c of corpus.cases) {
      if (c.expect.kind === 'config-ok') expect(() => loadConfig(c.file), c.name).not.toThrow();
      if (c.expect.kind !== 'config-refused') continue;
      let err: unknown;
      try {
        loadConfig(c.file);
      } catch (e) {
        err = e;
      }
      expect(err, c.name).toBeInstanceOf(ConfigError);
      expect((err as Error).message, c.name).toMatch(c.expect.message);
    }
  });
});
