/**
 * Stage commands fall back to the config for inputs they were not given, and paths in a config
 * are relative to its folder: `avcurate ingest --config cfg.yaml` reads corpus.source and writes
 * <runDir>/manifest.jsonl, whatever the working directory.
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { synthesize } from '../../src/media/synth.js';

const run = promisify(execFile);
const bin = path.resolve('bin/avcurate.js');
const root = mkdtempSync(path.join(os.tmpdir(), 'avc-fallback-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

beforeAll(async () => {
  await synthesize({ out: path.join(root, 'data', 'videos'), clips: 3, classes: 2, mismatch: 0, seconds: 1, width: 32, height: 32, fps: 6, sampleRate: 16000, family: 'concepts', seed: 1, silent: true });
  mkdirSync(path.join(root, 'cfg'), { recursive: true });
  writeFileSync(path.join(root, 'cfg', 'x.yaml'), ['name: x', 'runDir: ../runs/x', 'corpus: { source: ../data/videos }', 'ingest: { clipSeconds: 1, minSeconds: 0.5 }'].join('\n'));
  writeFileSync(path.join(root, 'cfg', 'none.yaml'), 'name: none\nrunDir: ../runs/none\n');
}, 60_000);

const avcurate = (args: string[], cwd: string): Promise<{ code?: number; stdout: string; stderr: string }> => run(process.execPath, [bin, ...args], { cwd }).catch((e: { code: number; stdout: string; stderr: string }) => e);

describe('stage commands take missing inputs from the config', () => {
  it('ingest --config with no input reads corpus.source (relative to the config) and writes <runDir>/manifest.jsonl', async () => {
    const cwd = path.join(root, 'data'); // not the config's folder
    const r = await avcurate(['ingest', '--config', path.join(root, 'cfg', 'x.yaml'), '--quiet'], cwd);
    expect(r.stdout).toMatch(/wrote 3 clips from 3 files to /);
    const manifest = path.join(root, 'runs', 'x', 'manifest.jsonl');
    expect(existsSync(manifest)).toBe(true);
    expect(readFileSync(manifest, 'utf8').trim().split('\n')).toHaveLength(3);
    // the printed path is one form: absolute here, since the run folder is not below the cwd
    expect(r.stdout).toContain(`to ${manifest};`);
  }, 60_000);

  it('says what is missing when neither an input nor a corpus is given', async () => {
    const r = await avcurate(['ingest', '--out', path.join(root, 'm.jsonl')], root);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/give the input/);
    const c = await avcurate(['ingest', '--config', path.join(root, 'cfg', 'none.yaml')], root);
    expect(c.code).toBe(2);
    expect(c.stderr).toMatch(/corpus: no input given and no corpus in the config/);
    expect(c.stderr).not.toMatch(/\n\s+at /);
  }, 60_000);

  it('pretrain without --data takes the run\'s shards or selection, and says so when neither exists', async () => {
    const r = await avcurate(['pretrain', '--config', path.join(root, 'cfg', 'none.yaml'), '--quiet'], root);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/pretrain: give --data, or export or select in .*runs\/none first/);
    const e = await avcurate(['export', '--out', path.join(root, 'shards')], root);
    expect(e.code).toBe(2);
    expect(e.stderr).toMatch(/give --selection/);
  }, 60_000);
});
