import { spawnSync } from 'node:child_process';
import { promises as fsp, readdirSync } from 'node:fs';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { parseShard, resolveShard, shardRange, unitsOfShard, shardName, ShardError } from '../../src/runtime/shard.js';
import { writeFileAtomic, produceFileAtomic, cleanStaleTemps, tempPathFor } from '../../src/runtime/atomic.js';
import { Progress, formatDuration } from '../../src/runtime/progress.js';
import { Pool, mapOrdered } from '../../src/runtime/pool.js';
import { readJsonl } from '../../src/runtime/jsonl.js';
import { FailureLog } from '../../src/run/failures.js';
import { tempDir } from '../helpers/media.js';

describe('shards', () => {
  it('parses i/n and refuses nonsense', () => {
    expect(parseShard('2/8')).toEqual({ index: 2, count: 8, source: 'flag' });
    expect(() => parseShard('8/8')).toThrow(ShardError);
    expect(() => parseShard('x')).toThrow(/i\/n/);
    expect(() => parseShard('0/0')).toThrow(/at least 1/);
  });

  it('reads Slurm and Kubernetes variables, the flag first', () => {
    expect(resolveShard(undefined, { SLURM_ARRAY_TASK_ID: '3', SLURM_ARRAY_TASK_COUNT: '4' })).toMatchObject({ index: 3, count: 4, source: 'slurm' });
    expect(resolveShard(undefined, { SLURM_ARRAY_TASK_ID: '4', SLURM_ARRAY_TASK_COUNT: '4', SLURM_ARRAY_TASK_MIN: '1' })).toMatchObject({ index: 3, count: 4 });
    expect(resolveShard(undefined, { JOB_COMPLETION_INDEX: '1', JOB_COMPLETIONS: '3' })).toMatchObject({ index: 1, count: 3, source: 'k8s' });
    expect(() => resolveShard(undefined, { JOB_COMPLETION_INDEX: '1' })).toThrow(/count/);
    expect(() => resolveShard(undefined, { SLURM_ARRAY_TASK_ID: '5', SLURM_ARRAY_TASK_COUNT: '4' })).toThrow(/invalid shard/);
    expect(resolveShard('1/2', { SLURM_ARRAY_TASK_ID: '3', SLURM_ARRAY_TASK_COUNT: '4' })).toMatchObject({ index: 1, count: 2, source: 'flag' });
    expect(resolveShard(undefined, {})).toMatchObject({ index: 0, count: 1, source: 'default' });
  });

  it('splits work disjointly and completely', () => {
    for (const [total, count] of [[10, 3], [3, 5], [0, 2], [1000, 7]]) {
      const seen: number[] = [];
      for (let i = 0; i < count; i++) {
        const [a, b] = shardRange(total, i, count);
        for (let x = a; x < b; x++) seen.push(x);
        expect(b - a).toBeLessThanOrEqual(Math.ceil(total / count));
      }
      expect(seen).toEqual(Array.from({ length: total }, (_, i) => i));
      const units = Array.from({ length: count }, (_, i) => unitsOfShard(total, { index: i, count })).flat().sort((x, y) => x - y);
      expect(units).toEqual(seen);
    }
    expect(shardName(3, 16)).toBe('shard-00003-of-00016');
  });
});

describe('atomic writes', () => {
  it('replaces a file whole and leaves no temp files', async () => {
    const dir = await tempDir();
    const f = path.join(dir, 'sub', 'out.json');
    await writeFileAtomic(f, 'first');
    await writeFileAtomic(f, 'second');
    expect(await fsp.readFile(f, 'utf8')).toBe('second');
    expect(readdirSync(path.dirname(f))).toEqual(['out.json']);
  });

  it('removes the temp file when the producer fails, and stale temps on request', async () => {
    const dir = await tempDir();
    const f = path.join(dir, 'data.h5');
    await expect(produceFileAtomic(f, async (tmp) => {
      await fsp.writeFile(tmp, 'partial');
      throw new Error('boom');
    })).rejects.toThrow('boom');
    expect(readdirSync(dir)).toEqual([]);
    // a temporary of this (live) process is never removed; one of a dead writer is (issue 13 item 8)
    await fsp.writeFile(tempPathFor(f), 'being written');
    expect(await cleanStaleTemps(dir)).toBe(0);
    const dead = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' }).stdout;
    await fsp.rm(path.join(dir, readdirSync(dir)[0]));
    await fsp.writeFile(tempPathFor(f).replace(`.tmp-${process.pid}-`, `.tmp-${dead}-`), 'left by a killed writer');
    expect(await cleanStaleTemps(dir)).toBe(1);
    expect(readdirSync(dir)).toEqual([]);
  });
});

describe('progress', () => {
  it('prints plain lines with rate and ETA when not a TTY', () => {
    const stream = new PassThrough();
    let out = '';
    stream.on('data', (b) => (out += b.toString()));
    const p = new Progress('decode', { total: 10, unit: 'clips', stream: stream as never, intervalSeconds: 0, silent: false });
    for (let i = 0; i < 10; i++) p.tick();
    p.finish('done');
    const lines = out.trim().split('\n');
    expect(lines.length).toBeGreaterThanOrEqual(2);
    expect(lines.at(-1)).toMatch(/^decode {2}10\/10 100\.0% {2}[\d.]+ clips\/s {2}ETA .* done$/);
    expect(out).not.toContain('\r');
    expect(formatDuration(3725)).toBe('1h02m');
    expect(formatDuration(75)).toBe('1m15s');
    // rounding happens once: never "1m60s" or "60s"
    expect(formatDuration(119.6)).toBe('2m00s');
    expect(formatDuration(59.6)).toBe('1m00s');
    expect(formatDuration(9.97)).toBe('10s');
    expect(formatDuration(3599.7)).toBe('1h00m');
    expect(formatDuration(7199)).toBe('2h00m');
    for (let s = 0; s < 8000; s += 0.37) expect(formatDuration(s)).not.toMatch(/(^|\D)60[sm]/);
  });

  it('AVCURATE_QUIET=1 silences a bar even when the caller passed silent: false', () => {
    const stream = new PassThrough();
    let out = '';
    stream.on('data', (b) => (out += b.toString()));
    const before = process.env.AVCURATE_QUIET;
    process.env.AVCURATE_QUIET = '1';
    try {
      const p = new Progress('export', { total: 3, unit: 'clips', stream: stream as never, intervalSeconds: 0, silent: false });
      for (let i = 0; i < 3; i++) p.tick();
      p.finish('done');
    } finally {
      if (before === undefined) delete process.env.AVCURATE_QUIET;
      else process.env.AVCURATE_QUIET = before;
    }
    expect(out).toBe('');
  });
});

describe('pool', () => {
  it('bounds concurrency and keeps order', async () => {
    const pool = new Pool(3);
    let active = 0;
    let peak = 0;
    const out = await pool.map(Array.from({ length: 20 }, (_, i) => i), async (x) => {
      active++;
      peak = Math.max(peak, active);
      await new Promise((r) => setTimeout(r, (20 - x) % 5));
      active--;
      return x * 2;
    });
    expect(peak).toBe(3);
    expect(out).toEqual(Array.from({ length: 20 }, (_, i) => i * 2));
    const streamed: number[] = [];
    for await (const y of mapOrdered([5, 1, 4, 2, 3], async (x) => {
      await new Promise((r) => setTimeout(r, x * 3));
      return x;
    }, 2)) streamed.push(y);
    expect(streamed).toEqual([5, 1, 4, 2, 3]);
  });
});

describe('failure log', () => {
  it('appends one JSON line per failure', async () => {
    const dir = await tempDir();
    const log = new FailureLog(path.join(dir, 'failures.jsonl'));
    log.record({ id: 'a', stage: 'extract', reason: 'no audio' });
    log.record({ id: 'b', stage: 'ingest', reason: 'empty' });
    const rows = await readJsonl<{ id: string }>(log.file);
    expect(rows.map((r) => r.id)).toEqual(['a', 'b']);
    expect((await log.read('ingest')).map((r) => r.id)).toEqual(['b']);
  });
});
