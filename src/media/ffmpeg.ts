/**
 * Where ffmpeg and ffprobe come from. An explicit path in the environment (AVCURATE_FFMPEG /
 * FFMPEG_PATH, AVCURATE_FFPROBE / FFPROBE_PATH) always wins. Otherwise the candidates are the
 * static binaries shipped inside the npm packages @ffmpeg-installer/ffmpeg and
 * @ffprobe-installer/ffprobe and the one on the PATH, and the newest is used: decoding untrusted
 * media with an old decoder is a known risk, and the bundled ffmpeg is a 2018 build. "Newest"
 * compares the release year of `-version` (its copyright line), then the dotted version.
 * AVCURATE_FFMPEG_PREFER=bundled|path pins a source instead (tests, reproducing an old run).
 */
import { accessSync, constants, existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { spawnSync } from 'node:child_process';

const require = createRequire(import.meta.url);

export interface ToolLocation {
  path: string;
  source: 'env' | 'bundled' | 'PATH';
  /** First line of `-version` (absent for an env path, which is never run to choose it). */
  version?: string;
  /** Release year from the copyright line, when known. */
  year?: number;
  /** The other candidates looked at, with their versions (for doctor). */
  others?: Array<{ path: string; source: 'bundled' | 'PATH'; version: string }>;
}

/** Versions older than this many years before now make `avcurate doctor` warn. */
export const FFMPEG_MAX_AGE_YEARS = 3;

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

/** What a `-version` first line says: the dotted version (when a release) and the copyright year. */
export function parseToolVersion(line: string): { release: number[] | null; year: number | null } {
  const v = /version\s+n?(\d+(?:\.\d+)*)/i.exec(line);
  const years = [...line.matchAll(/(?:19|20)\d\d(?=\D|$)/g)].map((m) => Number(m[0]));
  const c = /copyright \(c\) (?:\d{4}-)?(\d{4})/i.exec(line);
  return { release: v ? v[1].split('.').map(Number) : null, year: c ? Number(c[1]) : years.length ? Math.max(...years) : null };
}

/** Newer first: by release year, then by dotted version; unknown sorts last. */
export function compareToolVersions(a: string, b: string): number {
  const pa = parseToolVersion(a);
  const pb = parseToolVersion(b);
  const ya = pa.year ?? -1;
  const yb = pb.year ?? -1;
  if (ya !== yb) return yb - ya;
  const ra = pa.release ?? [];
  const rb = pb.release ?? [];
  for (let i = 0; i < Math.max(ra.length, rb.length); i++) {
    const d = (rb[i] ?? -1) - (ra[i] ?? -1);
    if (d !== 0) return d;
  }
  return 0;
}

function versionLine(file: string): string | null {
  const r = spawnSync(file, ['-version'], { encoding: 'utf8', timeout: 10_000 });
  if (r.status !== 0) return null;
  const line = (r.stdout ?? '').split('\n')[0]?.trim();
  return line || null;
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
  const prefer = (process.env.AVCURATE_FFMPEG_PREFER ?? 'newest').toLowerCase();
  if (!['newest', 'bundled', 'path'].includes(prefer)) throw new Error(`AVCURATE_FFMPEG_PREFER=${prefer}: expected newest, bundled or path`);
  const candidates: Array<{ path: string; source: 'bundled' | 'PATH' }> = [];
  let bundledNote = '';
  try {
    const pkg = tool === 'ffmpeg' ? '@ffmpeg-installer/ffmpeg' : '@ffprobe-installer/ffprobe';
    const p = (require(pkg) as { path: string }).path;
    if (p && isExecutable(p)) candidates.push({ path: p, source: 'bundled' });
    else if (p && existsSync(p)) {
      bundledNote = ` (the bundled ${p} is not executable: its install script, a chmod, did not run; "chmod +x" it or allow the script)`;
    }
  } catch {
    // package absent for this platform
  }
  const onPath = findOnPath(tool);
  if (onPath) candidates.push({ path: onPath, source: 'PATH' });
  const pinned = prefer === 'newest' ? candidates : candidates.filter((c) => c.source.toLowerCase() === prefer);
  const versioned = pinned
    .map((c) => ({ ...c, version: versionLine(c.path) }))
    .filter((c): c is { path: string; source: 'bundled' | 'PATH'; version: string } => c.version !== null);
  if (versioned.length === 0) {
    throw new Error(
      `${tool} not found${prefer !== 'newest' ? ` (AVCURATE_FFMPEG_PREFER=${prefer})` : ''}: set AVCURATE_${tool.toUpperCase()}, install the npm package ` +
        `${tool === 'ffmpeg' ? '@ffmpeg-installer/ffmpeg' : '@ffprobe-installer/ffprobe'}, or put ${tool} on the PATH${bundledNote}`,
    );
  }
  // stable: on a tie the earlier candidate (bundled) stays first
  const ranked = versioned.map((c, i) => ({ c, i })).sort((a, b) => compareToolVersions(a.c.version, b.c.version) || a.i - b.i).map((x) => x.c);
  const best = ranked[0];
  const loc: ToolLocation = { path: best.path, source: best.source, version: best.version, year: parseToolVersion(best.version).year ?? undefined, others: ranked.slice(1) };
  cache.set(tool, loc);
  return loc;
}

/**
 * A warning when the tool in use is older than FFMPEG_MAX_AGE_YEARS (by its release year), or
 * null. Env paths are checked too (their version is read here).
 */
export function toolAgeWarning(tool: 'ffmpeg' | 'ffprobe', now = new Date()): string | null {
  const loc = locate(tool);
  const line = loc.version ?? versionLine(loc.path) ?? '';
  const year = parseToolVersion(line).year;
  const oldest = now.getUTCFullYear() - FFMPEG_MAX_AGE_YEARS;
  if (year === null) return `${tool} ${loc.path}: cannot tell its release year from "${line}"`;
  if (year >= oldest) return null;
  return `${tool} ${loc.path} (${loc.source}) is a ${year} build, older than ${FFMPEG_MAX_AGE_YEARS} years: decoding untrusted media with an old decoder is a known risk; install a newer ffmpeg (e.g. apt-get install ffmpeg) or set AVCURATE_${tool.toUpperCase()}`;
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

/** First line of `<tool> -version` of the tool in use, for `avcurate doctor`, feature shards and reports. */
export function toolVersion(tool: 'ffmpeg' | 'ffprobe'): string {
  const loc = locate(tool);
  if (loc.version) return loc.version;
  const r = spawnSync(loc.path, ['-version'], { encoding: 'utf8', timeout: 10_000 });
  const line = (r.stdout ?? '').split('\n')[0]?.trim();
  if (line) loc.version = line;
  return line || `unknown (${r.error?.message ?? 'no output'})`;
}

/** Forget cached locations (tests that change the environment). */
export function resetToolCache(): void {
  cache.clear();
}
