/**
 * Issue 13 item 13: the newest ffmpeg/ffprobe available is used (bundled or PATH, compared by
 * version), env paths and AVCURATE_FFMPEG_PREFER override, feature shards record the version, and
 * doctor warns about an old one. Fake tools on a private PATH make the test independent of whether
 * Debian's ffmpeg is installed.
 */
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { compareToolVersions, ffmpegLocation, ffprobeLocation, parseToolVersion, resetToolCache, toolAgeWarning, toolVersion } from '../../src/media/ffmpeg.js';

const saved = { PATH: process.env.PATH, PREFER: process.env.AVCURATE_FFMPEG_PREFER, FF: process.env.AVCURATE_FFMPEG };
let dir: string;

async function fakeTool(sub: string, tool: string, line: string): Promise<string> {
  const d = path.join(dir, sub);
  await fsp.mkdir(d, { recursive: true });
  const f = path.join(d, tool);
  await fsp.writeFile(f, `#!/bin/sh\necho '${line}'\n`, { mode: 0o755 });
  return d;
}

beforeAll(async () => {
  dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'avc-ffmpeg-'));
});

afterEach(() => {
  process.env.PATH = saved.PATH;
  for (const [k, v] of [['AVCURATE_FFMPEG_PREFER', saved.PREFER], ['AVCURATE_FFMPEG', saved.FF]] as const) {
    if (v === undefined) delete process.env[k];
    else process.env[k] = v;
  }
  resetToolCache();
});

describe('choosing ffmpeg by version', () => {
  it('parses and orders -version lines: release year first, then the dotted version', () => {
    const bundled = 'ffmpeg version N-47683-g0e8eb07980-static https://johnvansickle.com/ffmpeg/  Copyright (c) 2000-2018 the FFmpeg developers';
    const debian = 'ffmpeg version 5.1.9-0+deb12u1 Copyright (c) 2000-2022 the FFmpeg developers';
    const newer = 'ffmpeg version 7.1 Copyright (c) 2000-2024 the FFmpeg developers';
    expect(parseToolVersion(bundled)).toEqual({ release: null, year: 2018 });
    expect(parseToolVersion(debian)).toEqual({ release: [5, 1, 9], year: 2022 });
    expect([bundled, newer, debian].sort(compareToolVersions)).toEqual([newer, debian, bundled]);
    expect(compareToolVersions('ffmpeg version 6.0 Copyright (c) 2000-2023', 'ffmpeg version 6.1 Copyright (c) 2000-2023')).toBeGreaterThan(0);
  });

  it('a newer ffmpeg on the PATH is preferred to the 2018 bundled build; an older one is not', async () => {
    process.env.PATH = await fakeTool('new', 'ffmpeg', 'ffmpeg version 9.0 Copyright (c) 2000-2099 the FFmpeg developers');
    resetToolCache();
    const loc = ffmpegLocation();
    expect(loc.source).toBe('PATH');
    expect(loc.path).toBe(path.join(dir, 'new', 'ffmpeg'));
    expect(loc.others?.map((o) => o.source)).toEqual(['bundled']);
    expect(toolVersion('ffmpeg')).toMatch(/version 9\.0/);

    process.env.PATH = await fakeTool('old', 'ffmpeg', 'ffmpeg version 2.8 Copyright (c) 2000-2015 the FFmpeg developers');
    resetToolCache();
    expect(ffmpegLocation().source).toBe('bundled');
  });

  it('AVCURATE_FFMPEG_PREFER pins a source; an env path wins without being compared', async () => {
    const d = await fakeTool('pref', 'ffmpeg', 'ffmpeg version 9.0 Copyright (c) 2000-2099 the FFmpeg developers');
    process.env.PATH = d;
    process.env.AVCURATE_FFMPEG_PREFER = 'bundled';
    resetToolCache();
    expect(ffmpegLocation().source).toBe('bundled');
    process.env.AVCURATE_FFMPEG_PREFER = 'nonsense';
    resetToolCache();
    expect(() => ffmpegLocation()).toThrow(/AVCURATE_FFMPEG_PREFER=nonsense: expected newest, bundled or path/);
    delete process.env.AVCURATE_FFMPEG_PREFER;
    process.env.AVCURATE_FFMPEG = path.join(d, 'ffmpeg');
    resetToolCache();
    expect(ffmpegLocation()).toMatchObject({ source: 'env', path: path.join(d, 'ffmpeg') });
  });

  it('doctor-style age warning: the 2018 build warns, a current one does not', async () => {
    process.env.PATH = await fakeTool('cur', 'ffprobe', `ffprobe version 8.0 Copyright (c) 2007-${new Date().getUTCFullYear()} the FFmpeg developers`);
    process.env.AVCURATE_FFMPEG_PREFER = 'bundled';
    resetToolCache();
    expect(toolAgeWarning('ffmpeg', new Date('2026-06-01'))).toMatch(/is a 2018 build, older than 3 years/);
    process.env.AVCURATE_FFMPEG_PREFER = 'path';
    resetToolCache();
    expect(ffprobeLocation().source).toBe('PATH');
    expect(toolAgeWarning('ffprobe')).toBeNull();
  });
});
