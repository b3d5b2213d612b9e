/**
 * Advisory run-folder locks: one lock file per stage (and shard) under `<runDir>/.locks/`, holding
 * the owner's pid, host, stage and start time. A second process of the same stage (same shard)
 * waits for it up to `waitMs` (default: refuse at once) and then refuses with a message naming the
 * owner. A lock whose owner pid is dead on this host is stale and taken over; a lock of another
 * host is never taken over automatically (its pid cannot be checked from here): the message says
 * which file to remove once that host's job is known to be gone. Locks are re-entrant within one
 * process (the experiment runs stages in-process).
 *
 * After the lock is held, the stage's folder is swept of temporaries whose writer is dead
 * (runtime/atomic.ts: `sweepStaleTemps`), and the OS temp folder of decode scratch files of dead
 * processes. See docs/reliability.md.
 */
import { promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { pidAlive, sweepStaleTemps, sweepDecodeScratch } from '../runtime/atomic.js';

export interface LockInfo {
  pid: number;
  host: string;
  stage: string;
  started: string;
  token: string;
}

export interface LockOptions {
  /** How long to wait for a live owner to finish (ms); 0 refuses at once (default 0, or AVCURATE_LOCK_WAIT_MS). */
  waitMs?: number;
  /** Poll interval while waiting (ms). */
  pollMs?: number;
  /** Skip the temp sweeps (tests of the lock alone). */
  noSweep?: boolean;
}

export class LockHeldError extends Error {
  constructor(readonly file: string, readonly owner: LockInfo) {
    const sameHost = owner.host === os.hostname();
    super(
      `run folder busy: stage "${owner.stage}" is already running (pid ${owner.pid} on ${owner.host}, since ${owner.started}); ` +
        (sameHost
          ? 'wait for it to finish, or stop it first'
          : `if that job is gone, remove ${file} (a lock of another host is never taken over automatically)`),
    );
    this.name = 'LockHeldError';
  }
}

export interface RunLock {
  file: string;
  info: LockInfo;
  release(): Promise<void>;
}

/** Locks this process holds: file → { info, depth } (re-entrant). */
const held = new Map<string, { info: LockInfo; depth: number }>();

function lockFileFor(runDir: string, stage: string): string {
  return path.join(runDir, '.locks', `${stage.replace(/[^A-Za-z0-9._-]+/g, '_')}.lock`);
}

async function readLock(file: string): Promise<LockInfo | null> {
  try {
    const v = JSON.parse(await fsp.readFile(file, 'utf8')) as LockInfo;
    if (typeof v.pid === 'number' && typeof v.host === 'string') return v;
    return { pid: -1, host: '?', stage: '?', started: '?', token: '' };
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    // a lock file cut short while being written: its writer died between create and write
    return { pid: -1, host: os.hostname(), stage: '?', started: '?', token: '' };
  }
}

/** True when a lock can be taken over: its owner is a dead pid of this host (or it is unreadable garbage of this host). */
function isStale(owner: LockInfo): boolean {
  if (owner.host !== os.hostname()) return false;
  if (owner.pid === process.pid) return false;
  return owner.pid <= 0 || !pidAlive(owner.pid);
}

async function tryCreate(file: string, info: LockInfo): Promise<boolean> {
  let fh: fsp.FileHandle;
  try {
    fh = await fsp.open(file, 'wx');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw err;
  }
  try {
    await fh.writeFile(JSON.stringify(info) + '\n');
    await fh.sync();
  } finally {
    await fh.close();
  }
  return true;
}

/** Move a stale lock aside; true when it was the stale one we saw (not a fresh lock of a racer). */
async function takeOver(file: string, seen: LockInfo): Promise<void> {
  const aside = `${file}.stale-${process.pid}-${randomBytes(4).toString('hex')}`;
  try {
    await fsp.rename(file, aside);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return; // someone else moved it
    throw err;
  }
  const moved = await readLock(aside);
  if (moved && moved.token !== seen.token && !isStale(moved)) {
    // we moved a racer's fresh lock: put it back (link fails if yet another lock appeared)
    await fsp.link(aside, file).catch(() => undefined);
  }
  await fsp.rm(aside, { force: true });
}

/**
 * Take the lock of `stage` in `runDir`. Throws LockHeldError when a live owner keeps it past
 * waitMs. Sweeps the stage's temporaries of dead writers once the lock is held.
 */
export async function acquireRunLock(runDir: string, stage: string, opts: LockOptions = {}): Promise<RunLock> {
  const file = lockFileFor(path.resolve(runDir), stage);
  const mine = held.get(file);
  const release = async (): Promise<void> => {
    const h = held.get(file);
    if (!h) return;
    if (--h.depth > 0) return;
    held.delete(file);
    const cur = await readLock(file);
    if (cur && cur.token === h.info.token) await fsp.rm(file, { force: true });
  };
  if (mine) {
    mine.depth++;
    return { file, info: mine.info, release };
  }
  await fsp.mkdir(path.dirname(file), { recursive: true });
  const info: LockInfo = { pid: process.pid, host: os.hostname(), stage, started: new Date().toISOString(), token: randomBytes(8).toString('hex') };
  const waitMs = opts.waitMs ?? Number(process.env.AVCURATE_LOCK_WAIT_MS ?? 0);
  const deadline = Date.now() + waitMs;
  for (;;) {
    if (await tryCreate(file, info)) break;
    const owner = await readLock(file);
    if (owner === null) continue; // released between our create and read
    if (isStale(owner)) {
      await takeOver(file, owner);
      continue;
    }
    if (Date.now() >= deadline) throw new LockHeldError(file, owner);
    await new Promise((r) => setTimeout(r, Math.min(opts.pollMs ?? 250, Math.max(1, deadline - Date.now()))));
  }
  held.set(file, { info, depth: 1 });
  if (!opts.noSweep) {
    await sweepStaleTemps(runDir);
    await sweepDecodeScratch();
  }
  return { file, info, release };
}

/** Run `fn` holding the lock of `stage` in `runDir`. */
export async function withRunLock<T>(runDir: string, stage: string, fn: () => Promise<T>, opts: LockOptions = {}): Promise<T> {
  const lock = await acquireRunLock(runDir, stage, opts);
  try {
    return await fn();
  } finally {
    await lock.release();
  }
}
