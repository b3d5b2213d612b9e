/**
 * Issue 13 items 3, 8, 9: run-folder locks, temp cleanup only for dead writers (run folder and the
 * OS temp folder), features of two configs never mixed.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { acquireRunLock, LockHeldError, withRunLock } from '../../src/run/lock.js';
import { HOST_TAG, cleanStaleTemps, pidAlive, sweepDecodeScratch, sweepStaleTemps, tempPathFor } from '../../src/runtime/atomic.js';
import { writeFeatureShard, readAllFeatures } from '../../src/curation/features/store.js';
import { FeaturesMixError } from '../../src/curation/features/mixing.js';
import { runCluster } from '../../src/curation/clustering/stage.js';
import { parseConfig } from '../../src/config/load.js';

let dir: string;
beforeAll(async () => {
  dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'avc-lock-'));
});
afterAll(async () => {
  await fsp.rm(dir, { recursive: true, force: true });
});

/** A pid that existed and is now dead (a finished child). */
function deadPid(): number {
  const r = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' });
  const pid = Number(r.stdout);
  expect(pidAlive(pid)).toBe(false);
  return pid;
}

/** A child that holds the lock of `stage` in `runDir` until killed; resolves once it holds it. */
async function holder(runDir: string, stage: string): Promise<ChildProcess> {
  const code = `import { acquireRunLock } from ${JSON.stringify(path.resolve('src/run/lock.ts'))};
await acquireRunLock(${JSON.stringify(runDir)}, ${JSON.stringify(stage)}, { noSweep: true });
process.stdout.write('held\\n');
setInterval(() => {}, 1000);`;
  const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code], { stdio: ['ignore', 'pipe', 'inherit'] });
  await new Promise<void>((resolve, reject) => {
    child.stdout!.on('data', (d: Buffer) => d.toString().includes('held') && resolve());
    child.on('exit', (c) => reject(new Error(`holder exited ${c}`)));
  });
  return child;
}

describe('run-folder lock (item 8)', () => {
  it('a second process of the same stage is refused with the owner named; another shard is not blocked', async () => {
    const run = path.join(dir, 'busy');
    const child = await holder(run, 'extract-0-of-2');
    try {
      const err = await acquireRunLock(run, 'extract-0-of-2').catch((e: unknown) => e);
      expect(err).toBeInstanceOf(LockHeldError);
      expect((err as Error).message).toMatch(new RegExp(`stage "extract-0-of-2" is already running \\(pid ${child.pid} on ${os.hostname()}, since `));
      const other = await acquireRunLock(run, 'extract-1-of-2');
      await other.release();
    } finally {
      child.kill('SIGKILL');
    }
  });

  it('waits for a live owner when asked, and takes the lock once it is gone', async () => {
    const run = path.join(dir, 'wait');
    const child = await holder(run, 'cluster-0-of-1');
    setTimeout(() => child.kill('SIGKILL'), 500);
    const lock = await acquireRunLock(run, 'cluster-0-of-1', { waitMs: 30_000, pollMs: 50 });
    expect(lock.info.pid).toBe(process.pid);
    await lock.release();
    expect(existsSync(lock.file)).toBe(false);
  });

  it('a stale lock of a dead pid on this host is taken over (kill -9 leaves one)', async () => {
    const run = path.join(dir, 'stale');
    const child = await holder(run, 'select-0-of-1');
    child.kill('SIGKILL');
    await new Promise((r) => child.on('exit', r));
    const file = path.join(run, '.locks', 'select-0-of-1.lock');
    expect(JSON.parse(await fsp.readFile(file, 'utf8')).pid).toBe(child.pid);
    const lock = await acquireRunLock(run, 'select-0-of-1');
    expect(JSON.parse(await fsp.readFile(file, 'utf8')).pid).toBe(process.pid);
    await lock.release();
  });

  it("another host's lock is never taken over: the message says which file to remove", async () => {
    const run = path.join(dir, 'remote');
    const file = path.join(run, '.locks', 'ingest.lock');
    await fsp.mkdir(path.dirname(file), { recursive: true });
    await fsp.writeFile(file, JSON.stringify({ pid: deadPid(), host: 'some-other-node', stage: 'ingest', started: '2026-01-01T00:00:00Z', token: 'x' }));
    await expect(acquireRunLock(run, 'ingest')).rejects.toThrow(new RegExp(`pid \\d+ on some-other-node.*remove ${file.replace(/[.]/g, '\\.')}`));
  });

  it('is re-entrant within a process (stages run in-process by the experiment)', async () => {
    const run = path.join(dir, 'reentrant');
    const out = await withRunLock(run, 'export', () => withRunLock(run, 'export', async () => 7));
    expect(out).toBe(7);
    expect(existsSync(path.join(run, '.locks', 'export.lock'))).toBe(false);
  });
});

describe('temp cleanup only for dead writers (items 8, 9)', () => {
  it("never removes a live process's temporary; removes a dead one's", async () => {
    const d = path.join(dir, 'temps');
    await fsp.mkdir(d, { recursive: true });
    const child = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' });
    try {
      const live = path.join(d, `.manifest.jsonl.tmp-${child.pid}-00000001-h${HOST_TAG}`);
      const dead = path.join(d, `.manifest.jsonl.tmp-${deadPid()}-00000002-h${HOST_TAG}`);
      const bare = path.join(d, `.x.h5.tmp-${deadPid()}-0123abcd`); // no host tag (older names): pid checked
      const foreign = path.join(d, `.y.h5.tmp-${deadPid()}-00000003-h${HOST_TAG === 'ffff' ? 'fffe' : 'ffff'}`); // another host: kept
      for (const f of [live, dead, bare, foreign]) await fsp.writeFile(f, 'partial');
      expect(await cleanStaleTemps(d)).toBe(2);
      expect(existsSync(live)).toBe(true);
      expect(existsSync(dead)).toBe(false);
      expect(existsSync(bare)).toBe(false);
      expect(existsSync(foreign)).toBe(true);
      expect(path.basename(tempPathFor(path.join(d, 'a.json')))).toMatch(new RegExp(`^\\.a\\.json\\.tmp-${process.pid}-[0-9a-f]{8}-h${HOST_TAG}$`));
    } finally {
      child.kill('SIGKILL');
    }
  });

  it('every stage start sweeps the run folder: .clusters.model.h5.tmp-* and nested temporaries of dead writers go', async () => {
    const run = path.join(dir, 'sweep');
    await fsp.mkdir(path.join(run, 'features'), { recursive: true });
    await fsp.mkdir(path.join(run, 'ssl', 'curated', 'checkpoints', `.step-00000010.tmp-${deadPid()}`), { recursive: true });
    const model = path.join(run, `.clusters.model.h5.tmp-${deadPid()}-000000aa-h${HOST_TAG}`);
    const feat = path.join(run, 'features', `.shard-00000-of-00001.h5.tmp-${deadPid()}-000000ab`);
    const mine = path.join(run, 'features', `.shard-00000-of-00001.h5.tmp-${process.pid}-000000ac-h${HOST_TAG}`);
    for (const f of [model, feat, mine]) await fsp.writeFile(f, 'x');
    const lock = await acquireRunLock(run, 'cluster-0-of-1');
    await lock.release();
    expect(existsSync(model)).toBe(false);
    expect(existsSync(feat)).toBe(false);
    expect(existsSync(mine)).toBe(true);
    expect(await fsp.readdir(path.join(run, 'ssl', 'curated', 'checkpoints'))).toEqual([]);
    expect(await sweepStaleTemps(run)).toBe(0);
  });

  it('decode scratch of killed processes is removed from the OS temp folder; a live one is kept', async () => {
    const scratch = await fsp.mkdtemp(path.join(os.tmpdir(), 'avc-scratch-'));
    const child = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' });
    try {
      const dead = path.join(scratch, `avcurate-decode-${deadPid()}-3-0badc0de.mp4`);
      const live = path.join(scratch, `avcurate-decode-${child.pid}-4-0badc0df.mp4`);
      const other = path.join(scratch, 'unrelated.mp4');
      for (const f of [dead, live, other]) await fsp.writeFile(f, 'x');
      expect(await sweepDecodeScratch(scratch)).toBe(1);
      expect(existsSync(dead)).toBe(false);
      expect(existsSync(live)).toBe(true);
      expect(existsSync(other)).toBe(true);
    } finally {
      child.kill('SIGKILL');
      await fsp.rm(scratch, { recursive: true, force: true });
    }
  });
});

describe('features of two configs never mixed (item 3)', () => {
  async function shard(run: string, i: number, hash: string): Promise<void> {
    await writeFeatureShard(path.join(run, 'features', `shard-0000${i}-of-00002.h5`), {
      ids: [`c${i}a`, `c${i}b`],
      layers: [{ modality: 'audio', layer: 'x', dim: 2, data: new Float32Array([1, 2, 3, 4]) }],
      attrs: { config_hash: hash, ids_hash: `i${i}` },
    });
  }

  it('cluster and the features merge refuse shards of two features configs', async () => {
    const run = path.join(dir, 'mixed');
    await shard(run, 0, 'aaaa');
    await shard(run, 1, 'bbbb');
    const config = parseConfig({ name: 'mixed', runDir: run });
    await expect(runCluster(config, undefined, { silent: true })).rejects.toThrow(FeaturesMixError);
    await expect(runCluster(config, undefined, { silent: true })).rejects.toThrow(/made with 2 different features configs: aaaa \(1 shard\(s\), e\.g\. shard-00000-of-00002\.h5\), bbbb/);
    await expect(readAllFeatures(run)).rejects.toThrow(/features merge: .* 2 different features configs/);
  });
});
