/**
 * Where ffmpeg and ffprobe come from, in this order: the environment (AVCURATE_FFMPEG /
 * FFMPEG_PATH, AVCURATE_FFPROBE / FFPROBE_PATH), the static binaries shipped inside the npm
 * packages @ffmpeg-installer/ffmpeg and @ffprobe-installer/ffprobe, then the PATH.
 */
import { accessSync, constants, existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { spawnSync } from 'node:child_process';

const require = createRequire(import.meta.url);

export interface ToolLocation {
  path: string;
  source: 'env' | 'bundled' | 'PATH';
}

function isExecutable(file: string): boolean {
  try {
    accessSync(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

function findOnPath(name: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    if (!dir) continue;
    const candidate = path.join(dir, name);
    if (existsSync(candidate) && isExecutable(candidate)) return candidate;
  }
  return undefined;
}

const cache = new Map<string, ToolLocation>();

function locate(tool: 'ffmpeg' | 'ffprobe'): ToolLocation {
  const hit = cache.get(tool);
  if (hit) return hit;
  const envNames = tool === 'ffmpeg' ? ['AVCURATE_FFMPEG', 'FFMPEG_PATH'] : ['AVCURATE_FFPROBE', 'FFPROBE_PATH'];
  for (const name of envNames) {
    const value = process.env[name];
    if (value) {
      if (!isExecutable(value)) throw new Error(`${name}=${value} is not an executable file`);
      const loc: ToolLocation = { path: value, source: 'env' };
      cache.set(tool, loc);
      return loc;
    }
  }
  let bundledNote = '';
  try {
    const pkg = tool === 'ffmpeg' ? '@ffmpeg-installer/ffmpeg' : '@ffprobe-installer/ffprobe';
    const p = (require(pkg) as { path: string }).path;
    if (p && isExecutable(p)) {
      const loc: ToolLocation = { path: p, source: 'bundled' };
      cache.set(tool, loc);
      return loc;
    }
    if (p && existsSync(p)) {
      bundledNote = ` (the bundled ${p} is not executable: its install script, a chmod, did not run; "chmod +x" it or allow the script)`;
    }
  } catch {
    // package absent for this platform: fall through to PATH
  }
  const onPath = findOnPath(tool);
  if (onPath) {
    const loc: ToolLocation = { path: onPath, source: 'PATH' };
    cache.set(tool, loc);
    return loc;
  }
  throw new Error(
    `${tool} not found: set AVCURATE_${tool.toUpperCase()}, install the npm package ` +
      `${tool === 'ffmpeg' ? '@ffmpeg-installer/ffmpeg' : '@ffprobe-installer/ffprobe'}, or put ${tool} on the PATH${bundledNote}`,
  );
}

export function ffmpegLocation(): ToolLocation {
  return locate('ffmpeg');
}

export function ffprobeLocation(): ToolLocation {
  return locate('ffprobe');
}

export function ffmpegPath(): string {
  return locate('ffmpeg').path;
}

export function ffprobePath(): string {
  return locate('ffprobe').path;
}

/** First line of `<tool> -version`, for `avcurate doctor` and reports. */
export function toolVersion(tool: 'ffmpeg' | 'ffprobe'): string {
  const r = spawnSync(locate(tool).path, ['-version'], { encoding: 'utf8', timeout: 10_000 });
  return (r.stdout ?? '').split('\n')[0]?.trim() || `unknown (${r.error?.message ?? 'no output'})`;
}

/** Forget cached locations (tests that change the environment). */
export function resetToolCache(): void {
  cache.clear();
}
