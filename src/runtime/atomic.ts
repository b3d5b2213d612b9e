/**
 * Atomic file writes: write to a temporary name in the same folder, fsync, rename over the
 * target, fsync the folder. A reader sees either the old file or the complete new one.
 *
 * Temporary names are `.<name>.tmp-<pid>-<8 hex>-h<4 hex>`: the writer's pid, a per-process
 * counter, and a tag of its host. Stale-temp cleanup removes a temporary only when its writer is
 * known to be dead: same host tag (or no tag: names of older versions and checkpoint step folders)
 * and no process with that pid. A temporary of another host, on shared storage, is left alone
 * unless it is older than a day.
 */
import { promises as fsp, openSync, writeSync, fsyncSync, closeSync, renameSync, mkdirSync, unlinkSync } from 'node:fs';
import path from 'node:path';
import { createHash, randomBytes } from 'node:crypto';
import os from 'node:os';

/** 4 hex digits naming this host in temporary names. */
export const HOST_TAG = createHash('sha1').update(os.hostname()).digest('hex').slice(0, 4);
let tempCounter = randomBytes(4).readUInt32BE(0);

export function tempPathFor(target: string): string {
  const dir = path.dirname(target);
  tempCounter = (tempCounter + 1) >>> 0;
  return path.join(dir, `.${path.basename(target)}.tmp-${process.pid}-${tempCounter.toString(16).padStart(8, '0')}-h${HOST_TAG}`);
}

/** Whether a process with this pid exists on this host (EPERM: it exists, owned by another user). */
export function pidAlive(pid: number): boolean {
  if (!Number.isSafeInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** A temporary name written by tempPathFor (or a checkpoint step folder): its writer's pid and host tag. */
const TEMP_NAME = /^\..+\.tmp-(\d+)(?:-[0-9a-f]{8})?(?:-h([0-9a-f]{4}))?$/;
const DAY_MS = 24 * 3600 * 1000;

/** True when `name` (in a folder) is a temporary whose writer is dead. */
async function staleTemp(full: string, name: string): Promise<boolean> {
  const m = TEMP_NAME.exec(name);
  if (!m) return false;
  const pid = Number(m[1]);
  if (pid === process.pid) return false;
  if (m[2] === undefined || m[2] === HOST_TAG) return !pidAlive(pid);
  // another host's temporary: only when long untouched
  const st = await fsp.lstat(full).catch(() => null);
  return st !== null && Date.now() - st.mtimeMs > DAY_MS;
}

async function fsyncDir(dir: string): Promise<void> {
  try {
    const fh = await fsp.open(dir, 'r');
    try {
      await fh.sync();
    } finally {
      await fh.close();
    }
  } catch {
    // Some file systems refuse fsync on directories; the rename is still atomic.
  }
}

/**
 * Write all of `data` through a file handle (at `position`, or at the current offset). A single
 * write may write less than asked when the disk fills (a short write, then ENOSPC on the next
 * call); ignoring the count leaves a truncated file behind a successful rename.
 */
export async function writeFully(fh: fsp.FileHandle, data: Uint8Array, position: number | null = null): Promise<void> {
  let off = 0;
  while (off < data.length) {
    const { bytesWritten } = await fh.write(data, off, data.length - off, position === null ? null : position + off);
    if (bytesWritten <= 0) throw Object.assign(new Error('ENOSPC: no space left on device, write (nothing was written)'), { code: 'ENOSPC' });
    off += bytesWritten;
  }
}

/** Write `data` to `target` atomically (creating parent folders). */
export async function writeFileAtomic(target: string, data: string | Uint8Array): Promise<void> {
  await fsp.mkdir(path.dirname(target), { recursive: true });
  const tmp = tempPathFor(target);
  const fh = await fsp.open(tmp, 'w');
  try {
    await fh.writeFile(data);
    await fh.sync();
  } catch (err) {
    await fh.close().catch(() => undefined);
    await fsp.rm(tmp, { force: true });
    // name the file (a bare "ENOSPC: no space left on device, write" does not)
    throw Object.assign(new Error(`cannot write ${target}: ${(err as Error).message}`, { cause: err }), { code: (err as NodeJS.ErrnoException).code });
  }
  await fh.close();
  try {
    await fsp.rename(tmp, target);
  } catch (err) {
    await fsp.rm(tmp, { force: true });
    throw err;
  }
  await fsyncDir(path.dirname(target));
}

export function writeFileAtomicSync(target: string, data: string | Uint8Array): void {
  mkdirSync(path.dirname(target), { recursive: true });
  const tmp = tempPathFor(target);
  const fd = openSync(tmp, 'w');
  try {
    const buf = typeof data === 'string' ? Buffer.from(data) : data;
    let off = 0;
    while (off < buf.length) off += writeSync(fd, buf, off, buf.length - off);
    fsyncSync(fd);
  } catch (err) {
    closeSync(fd);
    try {
      unlinkSync(tmp);
    } catch {
      /* already gone */
    }
    throw err;
  }
  closeSync(fd);
  renameSync(tmp, target);
}

/**
 * Produce a file through a function that writes to a temporary path (for libraries that want a
 * file name, such as HDF5 writers), then rename it into place. The temp file is removed on error.
 */
export async function produceFileAtomic<T>(target: string, write: (tmpPath: string) => Promise<T> | T): Promise<T> {
  await fsp.mkdir(path.dirname(target), { recursive: true });
  const tmp = tempPathFor(target);
  try {
    const result = await write(tmp);
    const fh = await fsp.open(tmp, 'r+');
    await fh.sync();
    await fh.close();
    await fsp.rename(tmp, target);
    await fsyncDir(path.dirname(target));
    return result;
  } catch (err) {
    await fsp.rm(tmp, { force: true });
    throw err;
  }
}

/** Write lines of JSON (one object a line) atomically. */
export async function writeJsonlAtomic(target: string, rows: Iterable<unknown>): Promise<void> {
  let out = '';
  for (const row of rows) out += JSON.stringify(row) + '\n';
  await writeFileAtomic(target, out);
}

export async function writeJsonAtomic(target: string, value: unknown): Promise<void> {
  await writeFileAtomic(target, JSON.stringify(value, null, 2) + '\n');
}

/** Remove temporaries left by dead writers (names made by tempPathFor) in a folder; returns how many. */
export async function cleanStaleTemps(dir: string): Promise<number> {
  let n = 0;
  let entries: string[] = [];
  try {
    entries = await fsp.readdir(dir);
  } catch {
    return 0;
  }
  for (const name of entries) {
    const full = path.join(dir, name);
    if (await staleTemp(full, name)) {
      await fsp.rm(full, { recursive: true, force: true });
      n++;
    }
  }
  return n;
}

/**
 * Remove temporaries of dead writers anywhere under a run folder (symbolic links are not
 * followed; at most `maxDepth` levels). Called at the start of every stage that writes.
 */
export async function sweepStaleTemps(root: string, maxDepth = 4): Promise<number> {
  let n = 0;
  const visit = async (dir: string, depth: number): Promise<void> => {
    let entries;
    try {
      entries = await fsp.readdir(dir, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) {
      const full = path.join(dir, e.name);
      if (await staleTemp(full, e.name)) {
        await fsp.rm(full, { recursive: true, force: true });
        n++;
      } else if (e.isDirectory() && depth < maxDepth) await visit(full, depth + 1);
    }
  };
  await visit(root, 0);
  return n;
}

/** Remove decode scratch files of dead processes from the OS temp folder. */
export async function sweepDecodeScratch(dir = os.tmpdir()): Promise<number> {
  let n = 0;
  let names: string[] = [];
  try {
    names = await fsp.readdir(dir);
  } catch {
    return 0;
  }
  for (const name of names) {
    const m = /^avcurate-decode-(\d+)-/.exec(name);
    if (!m || Number(m[1]) === process.pid || pidAlive(Number(m[1]))) continue;
    await fsp.rm(path.join(dir, name), { force: true });
    n++;
  }
  return n;
}
