/** Capture what a stage writes to stderr (its log lines), with AVCURATE_QUIET lifted for the call. */
import { vi } from 'vitest';

/** Run `fn` with the lines it writes to stderr captured: each write, and all of them joined. */
export async function logged<T>(fn: () => Promise<T>): Promise<{ value: T; lines: string[]; text: string }> {
  const lines: string[] = [];
  const prevQuiet = process.env.AVCURATE_QUIET;
  delete process.env.AVCURATE_QUIET;
  const spy = vi.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => {
    lines.push(String(chunk));
    return true;
  });
  try {
    const value = await fn();
    return { value, lines, text: lines.join('') };
  } finally {
    spy.mockRestore();
    if (prevQuiet !== undefined) process.env.AVCURATE_QUIET = prevQuiet;
  }
}
