/**
 * The standalone `avcurate ingest` on the stage ledger, through the one code path curate uses
 * (manifest/stage.ts ingestStage): an unchanged rerun skips (the manifest is not written again); a
 * changed ingest setting or input file redoes it with the ledger's message naming what changed; a
 * deleted manifest is made again with the same bytes; a CSV input counts the files it lists; the
 * run's manifest made by `ingest --config` is the record curate's ingest step finds finished.
 */
import { execFile } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { IngestSchema } from '../../../src/config/sections/ingest.js';
import { parseConfig } from '../../../src/config/load.js';
import { ingestStage } from '../../../src/curation/manifest/stage.js';
import { runCuration } from '../../../src/curation/pipeline.js';
import { readStageRecord } from '../../../src/run/ledger.js';
import { synthesize } from '../../../src/media/synth.js';

const run = promisify(execFile);
const bin = path.resolve('bin/avcurate.js');
const root = mkdtempSync(path.join(os.tmpdir(), 'avc-ingest-ledger-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
const corpus = path.join(root, 'corpus');

beforeAll(async () => {
  await synthesize({ out: corpus, clips: 4, classes: 2, mismatch: 0, seconds: 1, width: 32, height: 32, fps: 6, sampleRate: 16000, family: 'concepts', seed: 1, silent: true });
}, 60_000);

const avcurate = (args: string[]): Promise<{ code?: number; stdout: string; stderr: string }> =>
  run(process.execPath, [bin, ...args], { cwd: root }).catch((e: { code: number; stdout: string; stderr: string }) => e);

describe('ingest on the stage ledger', () => {
  it('skips an unchanged rerun, redoes a changed setting or input naming it, remakes a deleted manifest identically', async () => {
    const out = path.join(root, 'standalone', 'manifest.jsonl');
    const cfg = IngestSchema.parse({ clipSeconds: 1, minSeconds: 0.5 });
    const first = await ingestStage({ input: corpus, out, ingest: cfg, silent: true });
    expect(first.skipped).toBe(false);
    expect(first.summary.clips).toBe(4);
    const rec = await readStageRecord(path.dirname(out), 'ingest');
    expect(rec?.outputs).toEqual(['manifest.jsonl']);
    let bytes = readFileSync(out, 'utf8');
    const mtime = statSync(out).mtimeMs;

    const again = await ingestStage({ input: corpus, out, ingest: cfg, silent: true });
    expect(again.skipped).toBe(true);
    expect(again.summary).toEqual(first.summary);
    expect(statSync(out).mtimeMs).toBe(mtime);
    // concurrency decides nothing: still finished
    expect((await ingestStage({ input: corpus, out, ingest: { ...cfg, concurrency: 1 }, silent: true })).skipped).toBe(true);

    // A changed setting: redone, the ledger names the config section.
    const changed = await ingestStage({ input: corpus, out, ingest: { ...cfg, minSeconds: 0.6 }, silent: true });
    expect(changed.skipped).toBe(false);
    expect(changed.check.reason).toMatch(/^config section ingest changed \([0-9a-f]{8} → [0-9a-f]{8}\)$/);

    // Back, then a touched input file: redone, the input named.
    expect((await ingestStage({ input: corpus, out, ingest: cfg, silent: true })).skipped).toBe(false);
    expect(readFileSync(out, 'utf8')).toBe(bytes);
    // (small files count by contents: a new time alone changes nothing; new contents do)
    utimesSync(path.join(corpus, 'clip-00000.mp4'), new Date(2002, 1, 1), new Date(2002, 1, 1));
    expect((await ingestStage({ input: corpus, out, ingest: cfg, silent: true })).skipped).toBe(true);
    copyFileSync(path.join(corpus, 'clip-00001.mp4'), path.join(corpus, 'clip-00000.mp4'));
    const touched = await ingestStage({ input: corpus, out, ingest: cfg, silent: true });
    expect(touched.skipped).toBe(false);
    expect(touched.check.reason).toMatch(/^input files changed/);
    bytes = readFileSync(out, 'utf8');

    // A deleted manifest: redone, the same bytes.
    rmSync(out);
    const lost = await ingestStage({ input: corpus, out, ingest: cfg, silent: true });
    expect(lost.skipped).toBe(false);
    expect(lost.check.reason).toBe('output manifest.jsonl is missing');
    expect(readFileSync(out, 'utf8')).toBe(bytes);

    // An edited manifest (stamped): redone.
    writeFileSync(out, bytes.split('\n').slice(1).join('\n'));
    const edited = await ingestStage({ input: corpus, out, ingest: cfg, silent: true });
    expect(edited.check.reason).toBe('output manifest.jsonl was modified after the stage finished');
    expect(readFileSync(out, 'utf8')).toBe(bytes);
  }, 120_000);

  it('a CSV input: a file it lists that changes redoes the ingest; another output name has its own record', async () => {
    const csv = path.join(root, 'list.csv');
    writeFileSync(csv, 'path\ncorpus/clip-00001.mp4\ncorpus/clip-00002.mp4\n');
    const out = path.join(root, 'fromcsv', 'pool.jsonl');
    const cfg = IngestSchema.parse({ clipSeconds: 1, minSeconds: 0.5 });
    expect((await ingestStage({ input: csv, out, ingest: cfg, silent: true })).summary.clips).toBe(2);
    expect((await readStageRecord(path.dirname(out), 'ingest', 'pool'))?.outputs).toEqual(['pool.jsonl']);
    expect((await ingestStage({ input: csv, out, ingest: cfg, silent: true })).skipped).toBe(true);
    utimesSync(path.join(corpus, 'clip-00002.mp4'), new Date(2003, 1, 1), new Date(2003, 1, 1));
    const r = await ingestStage({ input: csv, out, ingest: cfg, silent: true });
    expect(r.skipped).toBe(false);
    expect(r.check.reason).toMatch(/^input files changed/);
  }, 60_000);

  it('the CLI: a rerun says it skipped; `ingest --config` into the run folder is what curate finds finished', async () => {
    const cfgFile = path.join(root, 'run.yaml');
    writeFileSync(cfgFile, ['name: r', 'runDir: runs/r', 'corpus: { source: corpus }', 'ingest: { clipSeconds: 1, minSeconds: 0.5 }'].join('\n'));
    const a = await avcurate(['ingest', '--config', cfgFile, '--quiet']);
    expect(a.stdout).toMatch(/wrote 4 clips from 4 files to /);
    const b = await avcurate(['ingest', '--config', cfgFile, '--quiet']);
    expect(b.stdout).toMatch(/manifest\.jsonl is up to date for this input and these settings \(4 clips in the manifest, 0 refused.*\); skipped \(runs\/r\/stages\/ingest\.json\)/);
    const c = await avcurate(['ingest', '--config', cfgFile, '--min-seconds', '0.6']);
    expect(c.stderr).toMatch(/ingest: stages\/ingest\.json: config section ingest changed .*; running it again/);
    await avcurate(['ingest', '--config', cfgFile, '--quiet']);
    const runDir = path.join(root, 'runs', 'r');
    const before = (await readStageRecord(runDir, 'ingest'))!.finishedAt;
    const cur = await runCuration(parseConfig({ name: 'r', runDir, corpus: { source: corpus }, ingest: { clipSeconds: 1, minSeconds: 0.5 } }), { silent: true, until: 'ingest' });
    expect(cur.stages.find((s) => s.stage === 'ingest')!.note).toMatch(/^manifest\.jsonl is up to date/);
    expect((await readStageRecord(runDir, 'ingest'))!.finishedAt).toBe(before);
  }, 120_000);
});
