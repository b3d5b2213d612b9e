import { describe, expect, it } from 'vitest';
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
});
