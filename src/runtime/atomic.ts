/**
 * Atomic file writes: write to a temporary name in the same folder, fsync, rename over the
 * target, fsync the folder. A reader sees either the old file or the complete new one.
 */
import { promises as fsp, openSync, writeSync, fsyncSync, closeSync, renameSync, mkdirSync, unlinkSync } from 'node:fs';
import path from 'node:path';
import { randomBytes } from 'node:crypto';

export function tempPathFor(target: string): string {
  const dir = path.dirname(target);
  return path.join(dir, `.${path.basename(target)}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`);
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
    throw err;
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

/** Remove temp files left by a killed writer (names made by tempPathFor) in a folder. */
export async function cleanStaleTemps(dir: string): Promise<number> {
  let n = 0;
  let entries: string[] = [];
  try {
    entries = await fsp.readdir(dir);
  } catch {
    return 0;
  }
  for (const name of entries) {
    if (/^\..+\.tmp-\d+-[0-9a-f]{8}$/.test(name)) {
      await fsp.rm(path.join(dir, name), { force: true });
      n++;
    }
  }
  return n;
}
