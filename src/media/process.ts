/**
 * Running media tools: spawn with an argument array (never a shell), collect stdout (and extra
 * output pipes) as bytes, keep the tail of stderr for error messages, kill on timeout or abort.
 *
 * An output with a sink (a decode of known size: decodeClip's frames and samples) goes to an
 * unlinked temporary file instead of a pipe, and is read into the sink with one positional read
 * after the tool exits. Measured with `npm run bench:decode` (docs/loaders.md "Performance"): a
 * pipe hands Node its bytes as one new 64 KiB ArrayBuffer per read, as many bytes again as the
 * result arrays, and V8 answers ArrayBuffer bytes with mark-compacts once the process holds a few
 * MB of long-lived heap (every stage does: the config schema alone is enough); the tool also
 * blocks whenever the pipe is full until the event loop reads it. A regular file costs the tool
 * nothing more than the plain command line writing raw files, and Node allocates nothing but the
 * result. Where no temporary file can be made (an unwritable TMPDIR), the output falls back to a pipe.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, fstatSync, openSync, read, rmSync, unlinkSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export class MediaError extends Error {
  readonly file: string;
  readonly reason: string;
  readonly stderrTail: string;
  constructor(file: string, reason: string, stderrTail = '') {
    super(`${file}: ${reason}${stderrTail ? `\n  ffmpeg said: ${stderrTail.trim().split('\n').slice(-6).join('\n  ')}` : ''}`);
    this.name = 'MediaError';
    this.file = file;
    this.reason = reason;
    this.stderrTail = stderrTail;
  }
}

export interface RunResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  /**
   * Bytes written to each captured output fd: index 0 is stdout (fd 1), then fd 3, 4, ... For an
   * output with a sink, a view of the sink's first min(written, sink length) bytes.
   */
  outputs: Buffer[];
  /** How many bytes the tool wrote to each output (for a sink, also those past its end). */
  outputBytes: number[];
  stderrTail: string;
  timedOut: boolean;
  aborted: boolean;
  millis: number;
}

export interface RunOptions {
  /** Number of extra output pipes beyond stdout (fd 3, 4, ...). */
  extraOutputs?: number;
  timeoutMs?: number;
  signal?: AbortSignal;
  /** Keep at most this many bytes of stderr (the tail). */
  stderrBytes?: number;
  /** Bytes to write on stdin. */
  input?: Uint8Array;
  /**
   * Per output, a buffer its bytes end up in (no chunk list, no concatenation: a decode of known
   * size allocates its result once); bytes past the sink's end are counted and dropped. The tool
   * writes such an output to an unlinked temporary file in os.tmpdir(), read into the sink when it
   * exits (see the module comment), or through a pipe straight into the sink where no temporary
   * file can be made.
   */
  sinks?: Array<Uint8Array | undefined>;
}

let spoolCounter = 0;

/**
 * An unlinked temporary file for one output (the name is gone before the tool starts), or null
 * where none can be made. Opened and unlinked synchronously: two local metadata calls cost less
 * than two trips through libuv's thread pool, once per output of every decode.
 */
function openSpool(): number | null {
  const name = path.join(os.tmpdir(), `avcurate-out-${process.pid}-${spoolCounter++}-${randomBytes(4).toString('hex')}`);
  let fd: number;
  try {
    fd = openSync(name, 'wx+', 0o600);
  } catch {
    return null;
  }
  try {
    unlinkSync(name);
    return fd;
  } catch {
    try {
      closeSync(fd);
      rmSync(name, { force: true });
    } catch {
      /* nothing more to clean up */
    }
    return null;
  }
}

/** Read a spool's bytes into the head of `sink` (at most its length); the number of bytes the tool wrote. */
async function readSpool(fd: number, sink: Uint8Array): Promise<number> {
  const { size } = fstatSync(fd);
  const want = Math.min(size, sink.length);
  for (let at = 0; at < want;) {
    const bytesRead = await new Promise<number>((resolve, reject) => read(fd, sink, at, want - at, at, (err, n) => (err ? reject(err) : resolve(n))));
    if (bytesRead === 0) throw new Error(`temporary output file ended at byte ${at} of ${want}`);
    at += bytesRead;
  }
  return size;
}

/** Run a tool to completion. Never rejects for a non-zero exit: the caller reads `code`. */
export async function runTool(bin: string, args: string[], opts: RunOptions = {}): Promise<RunResult> {
  const extra = opts.extraOutputs ?? 0;
  const t0 = performance.now();
  const spools = Array.from({ length: 1 + extra }, (_, i) => (opts.sinks?.[i] ? openSpool() : null));
  try {
    const r = await runSpawned(bin, args, opts, spools, t0);
    for (let i = 0; i < spools.length; i++) {
      const fd = spools[i];
      if (fd === null) continue;
      const sink = opts.sinks![i]!;
      r.outputBytes[i] = await readSpool(fd, sink);
      r.outputs[i] = Buffer.from(sink.buffer, sink.byteOffset, Math.min(r.outputBytes[i], sink.length));
    }
    r.millis = performance.now() - t0;
    return r;
  } finally {
    for (const fd of spools) {
      try {
        if (fd !== null) closeSync(fd);
      } catch {
        /* already closed */
      }
    }
  }
}

function runSpawned(bin: string, args: string[], opts: RunOptions, spools: Array<number | null>, t0: number): Promise<RunResult> {
  const extra = opts.extraOutputs ?? 0;
  const stdio: Array<'pipe' | 'ignore' | number> = [opts.input ? 'pipe' : 'ignore', spools[0] ?? 'pipe', 'pipe'];
  for (let i = 0; i < extra; i++) stdio.push(spools[1 + i] ?? 'pipe');
  const stderrMax = opts.stderrBytes ?? 8192;
  return new Promise((resolve, reject) => {
    let child;
    try {
      child = spawn(bin, args, { stdio, windowsHide: true });
    } catch (err) {
      reject(err);
      return;
    }
    const outFds = [1, ...Array.from({ length: extra }, (_, i) => 3 + i)];
    const chunks: Buffer[][] = outFds.map(() => []);
    const written: number[] = outFds.map(() => 0);
    let stderr = '';
    let timedOut = false;
    let aborted = false;
    let settled = false;
    const kill = () => {
      try {
        child.kill('SIGKILL');
      } catch {
        /* already gone */
      }
    };
    const timer = opts.timeoutMs ? setTimeout(() => {
      timedOut = true;
      kill();
    }, opts.timeoutMs) : undefined;
    const onAbort = () => {
      aborted = true;
      kill();
    };
    opts.signal?.addEventListener('abort', onAbort, { once: true });
    if (opts.signal?.aborted) onAbort(); // aborted before the call: no 'abort' event will come
    outFds.forEach((fd, i) => {
      const stream = child.stdio[fd] as NodeJS.ReadableStream | null;
      const sink = opts.sinks?.[i];
      stream?.on('data', sink
        ? (b: Buffer) => {
            const at = written[i];
            if (at < sink.length) sink.set(b.length <= sink.length - at ? b : b.subarray(0, sink.length - at), at);
            written[i] = at + b.length;
          }
        : (b: Buffer) => {
            chunks[i].push(b);
            written[i] += b.length;
          });
      stream?.on('error', () => undefined);
    });
    child.stderr?.on('data', (b: Buffer) => {
      stderr += b.toString('utf8');
      if (stderr.length > stderrMax * 2) stderr = stderr.slice(-stderrMax);
    });
    if (opts.input && child.stdin) {
      child.stdin.on('error', () => undefined); // the tool may exit before reading everything
      child.stdin.end(opts.input);
    }
    child.on('error', (err) => {
      if (settled) return;
      settled = true;
      if (timer) clearTimeout(timer);
      opts.signal?.removeEventListener('abort', onAbort);
      reject(err);
    });
    const finish = (code: number | null, signal: NodeJS.Signals | null) => {
      if (settled) return;
      settled = true;
      if (timer) clearTimeout(timer);
      opts.signal?.removeEventListener('abort', onAbort);
      resolve({
        code,
        signal,
        outputs: chunks.map((c, i) => {
          const sink = opts.sinks?.[i];
          if (sink) return Buffer.from(sink.buffer, sink.byteOffset, Math.min(written[i], sink.length));
          return c.length === 1 ? c[0] : Buffer.concat(c);
        }),
        outputBytes: written,
        stderrTail: stderr.slice(-stderrMax),
        timedOut,
        aborted,
        millis: performance.now() - t0,
      });
    };
    child.on('close', finish);
    // A killed tool's grandchildren can hold the pipes open; after a kill, do not wait for them.
    child.on('exit', (code, signal) => {
      if (!timedOut && !aborted) return;
      for (const s of child.stdio) (s as NodeJS.ReadableStream & { destroy?: () => void } | null)?.destroy?.();
      finish(code, signal);
    });
  });
}

/** Classify ffmpeg/ffprobe stderr into a short human reason. */
export function reasonFromStderr(stderr: string, fallback: string): string {
  const s = stderr.toLowerCase();
  if (s.includes('no such file or directory')) return 'file not found';
  if (s.includes('permission denied')) return 'permission denied';
  if (s.includes('no space left on device')) return `no space left on device (decoded outputs are written to temporary files in ${os.tmpdir()}; set TMPDIR to move them)`;
  if (s.includes('moov atom not found')) return 'truncated or incomplete file (moov atom not found)';
  if (s.includes('invalid data found when processing input')) return 'not a media file ffmpeg can read (invalid data)';
  if (s.includes('end of file') || s.includes('truncat')) return 'truncated file';
  return fallback;
}
