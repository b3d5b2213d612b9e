import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { runTool } from '../../src/media/process.js';

const node = process.execPath;

describe('runTool output sinks', () => {
  it('writes an output straight into its sink, counts bytes past its end and drops them', async () => {
    const sink = new Uint8Array(6);
    const script = 'process.stdout.write(Buffer.from([1,2,3])); setTimeout(() => process.stdout.write(Buffer.from([4,5,6,7,8,9,10])), 20);';
    const r = await runTool(node, ['-e', script], { sinks: [sink] });
    expect(r.code).toBe(0);
    expect(r.outputBytes[0]).toBe(10);
    expect([...sink]).toEqual([1, 2, 3, 4, 5, 6]);
    expect(r.outputs[0].buffer).toBe(sink.buffer); // a view, not a copy
    expect([...r.outputs[0]]).toEqual([1, 2, 3, 4, 5, 6]);
  });

  it('a short output fills the head of its sink; outputs without a sink are collected as before', async () => {
    const sink = new Uint8Array(8);
    const script = "process.stdout.write(Buffer.from([9,8,7])); require('fs').writeSync(3, Buffer.from('abc'));";
    const r = await runTool(node, ['-e', script], { extraOutputs: 1, sinks: [sink, undefined] });
    expect(r.outputBytes).toEqual([3, 3]);
    expect([...r.outputs[0]]).toEqual([9, 8, 7]);
    expect([...sink]).toEqual([9, 8, 7, 0, 0, 0, 0, 0]);
    expect(r.outputs[1].toString('utf8')).toBe('abc');
  });

  describe('temporary files', () => {
    const saved = process.env.TMPDIR;
    afterEach(() => {
      if (saved === undefined) delete process.env.TMPDIR;
      else process.env.TMPDIR = saved;
    });

    it('a sink output goes through an unlinked temporary file: the tool writes a regular file, nothing is left behind', async () => {
      const dir = mkdtempSync(path.join(os.tmpdir(), 'avcurate-spool-test-'));
      try {
        process.env.TMPDIR = dir;
        const sink = new Uint8Array(4);
        // fd 1 is a regular file (fstat), not a pipe; the directory holds no name for it while the tool runs
        const script = "const fs = require('fs'); const st = fs.fstatSync(1); fs.writeSync(1, Buffer.from([st.isFile() ? 1 : 0, fs.readdirSync(process.argv[1]).length, 7, 7, 7]));";
        const r = await runTool(node, ['-e', script, dir], { sinks: [sink] });
        expect(r.code).toBe(0);
        expect(r.outputBytes[0]).toBe(5);
        expect([...sink]).toEqual([1, 0, 7, 7]);
        expect(readdirSync(dir)).toEqual([]);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });

    it('falls back to a pipe where no temporary file can be made, with the same result', async () => {
      const dir = mkdtempSync(path.join(os.tmpdir(), 'avcurate-spool-test-'));
      try {
        writeFileSync(path.join(dir, 'file'), '');
        process.env.TMPDIR = path.join(dir, 'file'); // not a folder
        const sink = new Uint8Array(4);
        const script = "const fs = require('fs'); fs.writeSync(1, Buffer.from([fs.fstatSync(1).isFile() ? 1 : 0, 5, 6, 7, 8]));";
        const r = await runTool(node, ['-e', script], { sinks: [sink] });
        expect(r.code).toBe(0);
        expect(r.outputBytes[0]).toBe(5);
        expect([...sink]).toEqual([0, 5, 6, 7]);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });

    it('a signal aborted before the tool starts kills it (aborted, not a 10 s run to exit 0)', async () => {
      const ac = new AbortController();
      ac.abort();
      const r = await runTool(node, ['-e', 'setTimeout(() => {}, 10000)'], { sinks: [new Uint8Array(1)], signal: ac.signal });
      expect(r.aborted).toBe(true);
    });
  });
});
