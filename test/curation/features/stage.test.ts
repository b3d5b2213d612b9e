import { describe, it, expect, beforeAll } from 'vitest';
import { mkdtempSync, mkdirSync, writeFileSync, readFileSync, readdirSync, existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { synthesize } from '../../../src/media/synth.js';
import { parseConfig } from '../../../src/config/load.js';
import { runExtract } from '../../../src/curation/features/stage.js';
import { toolVersion } from '../../../src/media/ffmpeg.js';
import { listFeatureShards, readFeatureShard, type FeatureShard } from '../../../src/curation/features/store.js';
import type { ClipRecord } from '../../../src/curation/manifest/types.js';

const root = mkdtempSync(path.join(os.tmpdir(), 'avc-extract-'));
const corpus = path.join(root, 'corpus');
let records: ClipRecord[] = [];

function makeRun(name: string, features: Record<string, unknown> = {}) {
  const runDir = path.join(root, name);
  const cfg = parseConfig({
    name,
    runDir,
    features: { shardSize: 4, batchSize: 3, decodeConcurrency: 2, descriptorWorkers: 1, decode: { fps: 4, width: 32, height: 32 }, ...features },
  });
  writeManifest(runDir);
  return cfg;
}

function writeManifest(runDir: string) {
  const file = path.join(runDir, 'manifest.jsonl');
  if (existsSync(file)) return;
  mkdirSync(runDir, { recursive: true });
  writeFileSync(file, records.map((r) => JSON.stringify(r)).join('\n') + '\n');
}

/** Contents of a run's shards, without the creation time. */
async function contents(runDir: string): Promise<Array<FeatureShard & { name: string }>> {
  const out = [];
  for (const f of await listFeatureShards(runDir)) {
    const s = await readFeatureShard(f);
    const { created: _c, ...attrs } = s.attrs;
    out.push({ name: path.basename(f), ids: s.ids, layers: s.layers.map((l) => ({ ...l, data: Array.from(l.data) as unknown as Float32Array })), attrs });
  }
  return out;
}

beforeAll(async () => {
  const r = await synthesize({ out: corpus, clips: 9, classes: 3, mismatch: 0, seconds: 1, seed: 4, width: 48, height: 36, fps: 8, silent: true, concurrency: 2 });
  const probe = { duration: 1, width: 48, height: 36, fps: 8, sampleRate: 16000, videoCodec: 'h264', audioCodec: 'aac' };
  records = r.labels.map((l) => ({ id: l.id, source: path.join(corpus, l.file), start: 0, duration: 1, video_id: l.id, probe, visual_class: l.visual_class, audio_class: l.audio_class }));
  // a corrupt clip in the middle of the manifest
  const bad = path.join(corpus, 'corrupt.mp4');
  writeFileSync(bad, Buffer.from('this is not a video file at all'.repeat(20)));
  records.splice(5, 0, { id: 'corrupt', source: bad, start: 0, duration: 1, video_id: 'corrupt', probe });
}, 60_000);

describe('extract stage', () => {
  it('extracts every clip once, in manifest order, and sends a corrupt clip to failures.jsonl', async () => {
    const cfg = makeRun('full');
    const r = await runExtract(cfg, { index: 0, count: 1 }, { silent: true });
    expect(r.units).toBe(3); // 10 clips in units of 4
    expect(r.written.map((f) => path.basename(f))).toEqual(['shard-00000-of-00003.h5', 'shard-00001-of-00003.h5', 'shard-00002-of-00003.h5']);
    expect(r.clips).toBe(9);
    expect(r.failed).toBe(1);
    const shards = await contents(cfg.runDir!);
    expect(shards.flatMap((s) => s.ids)).toEqual(records.filter((x) => x.id !== 'corrupt').map((x) => x.id));
    expect(shards[1].ids).toHaveLength(3);
    expect(shards[0].layers.map((l) => `${l.modality}/${l.layer}`)).toEqual([
      'audio/logmel_stats', 'audio/mfcc_stats', 'audio/modulation', 'audio/spectral',
      'visual/colour', 'visual/gradient', 'visual/layout', 'visual/motion', 'visual/texture',
    ]);
    expect(shards[0].attrs).toMatchObject({ extractors: 'builtin-audio,builtin-visual', shard_index: 0, shard_count: 3, clips: 4, failed: 0 });
    expect(shards[1].attrs.failed).toBe(1);
    // the decoder in use is recorded (issue 13 item 13; reliab's minimal addition)
    for (const sh of shards) expect(sh.attrs.ffmpeg_version).toBe(toolVersion('ffmpeg'));
    const failures = readFileSync(path.join(cfg.runDir!, 'failures.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    expect(failures).toHaveLength(1);
    expect(failures[0]).toMatchObject({ id: 'corrupt', stage: 'extract' });
    expect(failures[0].reason).toMatch(/decode failed/);
    // same config and seedless determinism: main-thread descriptors give the same numbers
    const again = makeRun('inline', { descriptorWorkers: 0, decodeConcurrency: 1, batchSize: 16 });
    await runExtract(again, { index: 0, count: 1 }, { silent: true });
    expect(await contents(again.runDir!)).toEqual(shards);
  }, 60_000);

  it('a run stopped mid-way and rerun yields the same shards as an uninterrupted run', async () => {
    const full = await contents(path.join(root, 'full'));
    expect(full).toHaveLength(3);
    const cfg = makeRun('killed');
    const stop = new AbortController();
    const first = await runExtract(cfg, { index: 0, count: 1 }, { silent: true, signal: stop.signal, onShard: () => stop.abort() });
    expect(first.aborted).toBe(true);
    expect(first.written).toHaveLength(1);
    // leave a half-written temp file behind, as a killed writer would
    writeFileSync(path.join(cfg.runDir!, 'features', '.shard-00001-of-00003.h5.tmp-999-0badc0de'), 'partial');
    expect(await listFeatureShards(cfg.runDir!)).toHaveLength(1);
    const second = await runExtract(cfg, { index: 0, count: 1 }, { silent: true });
    expect(second.skipped).toHaveLength(1);
    expect(second.written).toHaveLength(2);
    expect(await contents(cfg.runDir!)).toEqual(full);
    expect(readdirSync(path.join(cfg.runDir!, 'features')).filter((n) => n.includes('.tmp-'))).toEqual([]);
    const lines = readFileSync(path.join(cfg.runDir!, 'failures.jsonl'), 'utf8').trim().split('\n');
    expect(lines).toHaveLength(1);
    // a third run does nothing
    const third = await runExtract(cfg, { index: 0, count: 1 }, { silent: true });
    expect(third.written).toEqual([]);
    expect(third.skipped).toHaveLength(3);
  }, 60_000);

  it('a process killed (SIGKILL) after its first shard, then rerun, matches the uninterrupted run', async () => {
    const full = await contents(path.join(root, 'full'));
    const runDir = path.join(root, 'sigkill');
    writeManifest(runDir);
    const cfgFile = path.join(root, 'sigkill.yaml');
    writeFileSync(cfgFile, `name: sigkill\nrunDir: ${JSON.stringify(runDir)}\nfeatures:\n  shardSize: 4\n  batchSize: 1\n  decodeConcurrency: 1\n  descriptorWorkers: 1\n  decode: { fps: 4, width: 32, height: 32 }\n`);
    // A separate Node process running the stage (the CLI does the same after parsing arguments).
    const stage = new URL('../../../src/curation/features/stage.ts', import.meta.url).href;
    const load = new URL('../../../src/config/load.ts', import.meta.url).href;
    const code = `const { runExtract } = await import(${JSON.stringify(stage)}); const { loadConfig } = await import(${JSON.stringify(load)});` +
      ` await runExtract(loadConfig(${JSON.stringify(cfgFile)}), { index: 0, count: 1 }, { silent: true });`;
    const args = ['--import', 'tsx', '--input-type=module', '-e', code];
    const featDir = path.join(runDir, 'features');
    const shardsNow = () => (existsSync(featDir) ? readdirSync(featDir).filter((n) => /^shard-.*\.h5$/.test(n)).length : 0);
    const child = spawn(process.execPath, args, { stdio: 'ignore', cwd: fileURLToPath(new URL('../../../', import.meta.url)) });
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    let atKill = -1;
    while (child.exitCode === null) {
      if (shardsNow() >= 1) {
        atKill = shardsNow();
        child.kill('SIGKILL');
        break;
      }
      await new Promise((r) => setTimeout(r, 5));
    }
    await exited;
    expect(atKill).toBeGreaterThanOrEqual(1);
    expect(atKill).toBeLessThan(3); // killed mid-way
    const rerun = spawn(process.execPath, args, { stdio: 'inherit', cwd: fileURLToPath(new URL('../../../', import.meta.url)) });
    expect(await new Promise((resolve) => rerun.on('exit', resolve))).toBe(0);
    expect(await contents(runDir)).toEqual(full);
    expect(readdirSync(featDir).filter((n) => n.includes('.tmp-'))).toEqual([]);
  }, 60_000);

  it('shards split the units round-robin and never mix configs', async () => {
    const cfg = makeRun('sharded');
    const one = await runExtract(cfg, { index: 1, count: 2 }, { silent: true });
    expect(one.mine).toEqual([1]);
    expect(one.written.map((f) => path.basename(f))).toEqual(['shard-00001-of-00003.h5']);
    const zero = await runExtract(cfg, { index: 0, count: 2 }, { silent: true });
    expect(zero.mine).toEqual([0, 2]);
    expect(await contents(cfg.runDir!)).toEqual(await contents(path.join(root, 'full')));
    // another decode setting: refused, then replaced on request
    const changed = makeRun('sharded', { decode: { fps: 2, width: 32, height: 32 } });
    await expect(runExtract(changed, { index: 0, count: 1 }, { silent: true })).rejects.toThrow(/another features config.*never mixed/);
    const over = makeRun('sharded', { decode: { fps: 2, width: 32, height: 32 }, onConfigChange: 'overwrite' });
    const r = await runExtract(over, { index: 0, count: 1 }, { silent: true });
    expect(r.written).toHaveLength(3);
    const after = await contents(cfg.runDir!);
    expect(new Set(after.map((s) => s.attrs.config_hash))).toEqual(new Set([r.configHash]));
    expect(r.configHash).not.toBe(one.configHash);
  }, 60_000);
});
