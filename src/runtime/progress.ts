/**
 * Progress for long steps: a redrawn bar with rate and ETA on a TTY, plain periodic lines
 * otherwise (CI, pipes, log files). Output goes to stderr so stdout stays machine-readable.
 */
export interface ProgressOptions {
  /** Total units of work, if known. */
  total?: number;
  /** Unit name shown after the rate, e.g. "clips". */
  unit?: string;
  /** Stream to write to (default process.stderr). */
  stream?: NodeJS.WritableStream & { isTTY?: boolean; columns?: number };
  /** Seconds between plain lines when not a TTY (default 5). */
  intervalSeconds?: number;
  /** Suppress all output (tests, --quiet). */
  silent?: boolean;
}

export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return '?';
  if (seconds < 9.95) return `${seconds.toFixed(1)}s`;
  // Round once, then split: rounding the seconds part alone printed 59.6 s past a minute as "1m60s".
  const total = Math.round(seconds);
  if (total < 60) return `${total}s`;
  if (total < 3600) return `${Math.floor(total / 60)}m${String(total % 60).padStart(2, '0')}s`;
  const minutes = Math.round(total / 60);
  return `${Math.floor(minutes / 60)}h${String(minutes % 60).padStart(2, '0')}m`;
}

export class Progress {
  readonly label: string;
  total: number | undefined;
  done = 0;
  private readonly unit: string;
  private readonly stream: NodeJS.WritableStream & { isTTY?: boolean; columns?: number };
  private readonly tty: boolean;
  private readonly intervalMs: number;
  private readonly silent: boolean;
  private readonly start = performance.now();
  private lastDraw = 0;
  private finished = false;
  private extra = '';

  constructor(label: string, opts: ProgressOptions = {}) {
    this.label = label;
    this.total = opts.total;
    this.unit = opts.unit ?? 'items';
    this.stream = opts.stream ?? process.stderr;
    this.tty = Boolean(this.stream.isTTY) && !process.env.CI;
    this.intervalMs = (opts.intervalSeconds ?? 5) * 1000;
    // AVCURATE_QUIET=1 silences every bar, also where a caller passed silent: false (a CLI without --quiet).
    this.silent = opts.silent === true || process.env.AVCURATE_QUIET === '1';
  }

  /** Units per second so far. */
  rate(): number {
    const secs = (performance.now() - this.start) / 1000;
    return secs > 0 ? this.done / secs : 0;
  }

  elapsedSeconds(): number {
    return (performance.now() - this.start) / 1000;
  }

  /** Advance by n units; `note` is appended to the line (e.g. a failure count). */
  tick(n = 1, note?: string): void {
    this.done += n;
    if (note !== undefined) this.extra = note;
    this.maybeDraw(false);
  }

  set(done: number, note?: string): void {
    this.done = done;
    if (note !== undefined) this.extra = note;
    this.maybeDraw(false);
  }

  private line(): string {
    const rate = this.rate();
    const parts = [this.label];
    if (this.total !== undefined && this.total > 0) {
      const frac = Math.min(1, this.done / this.total);
      const pct = (frac * 100).toFixed(1).padStart(5);
      if (this.tty) {
        const width = Math.max(10, Math.min(30, (this.stream.columns ?? 80) - 70));
        const filled = Math.round(frac * width);
        parts.push(`[${'#'.repeat(filled)}${'.'.repeat(width - filled)}]`);
      }
      parts.push(`${this.done}/${this.total} ${pct}%`);
      const eta = rate > 0 ? (this.total - this.done) / rate : NaN;
      parts.push(`${rate.toFixed(rate < 10 ? 2 : 1)} ${this.unit}/s`, `ETA ${formatDuration(eta)}`);
    } else {
      parts.push(`${this.done} ${this.unit}`, `${rate.toFixed(rate < 10 ? 2 : 1)} ${this.unit}/s`);
    }
    parts.push(`elapsed ${formatDuration(this.elapsedSeconds())}`);
    if (this.extra) parts.push(this.extra);
    return parts.join('  ');
  }

  private maybeDraw(force: boolean): void {
    if (this.silent || this.finished) return;
    const now = performance.now();
    const every = this.tty ? 100 : this.intervalMs;
    if (!force && now - this.lastDraw < every) return;
    this.lastDraw = now;
    if (this.tty) this.stream.write(`\r\x1b[2K${this.line()}`);
    else this.stream.write(`${this.line()}\n`);
  }

  /** Print the final line (always, once). */
  finish(note?: string): void {
    if (note !== undefined) this.extra = note;
    if (this.finished) return;
    if (!this.silent) {
      if (this.tty) this.stream.write(`\r\x1b[2K${this.line()}\n`);
      else this.stream.write(`${this.line()}\n`);
    }
    this.finished = true;
  }
}

/** A plain status line on stderr (respects AVCURATE_QUIET). */
export function log(message: string): void {
  if (process.env.AVCURATE_QUIET === '1') return;
  process.stderr.write(`${message}\n`);
}
