/** Issue 13 items 5 and 12 (config): regular files only, a size cap, an alias cap, NaN and '..' reported. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ConfigError, MAX_CONFIG_BYTES, loadConfig } from '../../src/config/load.js';

let dir: string;
beforeAll(async () => {
  dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'avc-cfg-'));
});
afterAll(async () => {
  await fsp.rm(dir, { recursive: true, force: true });
});

function problems(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as ConfigError).problems.join('\n');
  }
  throw new Error('expected a ConfigError');
}

describe('config files (item 5)', () => {
  it('refuses /dev/zero, a FIFO and a folder at once instead of reading forever or blocking', () => {
    expect(problems(() => loadConfig('/dev/zero'))).toMatch(/it is a device; a config must be a regular file/);
    const fifo = path.join(dir, 'cfg.fifo');
    execFileSync('mkfifo', [fifo]);
    expect(problems(() => loadConfig(fifo))).toMatch(/it is a FIFO/);
    expect(problems(() => loadConfig(dir))).toMatch(/it is a folder/);
    expect(problems(() => loadConfig(path.join(dir, 'missing.yaml')))).toMatch(/cannot read the file: ENOENT/);
  });

  it('refuses a config over the size cap (a 50 MB list would parse for minutes)', async () => {
    const big = path.join(dir, 'big.yaml');
    await fsp.writeFile(big, 'name: big\nx:\n' + '  - 1\n'.repeat(Math.ceil((MAX_CONFIG_BYTES + 10) / 6)));
    expect(problems(() => loadConfig(big))).toMatch(new RegExp(`over the limit of ${MAX_CONFIG_BYTES} for a config`));
  });

  it('stops YAML alias expansion ("billion laughs") with a message', async () => {
    const lines = ['a: &a ["x","x","x","x","x","x","x","x","x","x"]'];
    for (let i = 1; i < 9; i++) lines.push(`${String.fromCharCode(97 + i)}: &${String.fromCharCode(97 + i)} [${Array(10).fill(`*${String.fromCharCode(96 + i)}`).join(',')}]`);
    const f = path.join(dir, 'laughs.yaml');
    await fsp.writeFile(f, lines.join('\n') + '\n');
    expect(problems(() => loadConfig(f))).toMatch(/not valid YAML: .*[Ee]xcessive alias count/);
  });
});

describe('config values (item 12)', () => {
  it('ratio: .nan names the key and says not a number (it said "found number null")', async () => {
    const f = path.join(dir, 'nan.yaml');
    await fsp.writeFile(f, 'name: n\nselection:\n  ratio: .nan\n');
    const p = problems(() => loadConfig(f));
    expect(p).toMatch(/selection\.ratio: .*found number \.nan \(not a number\)/);
    expect(p).not.toMatch(/null/);
  });

  it("a runDir with '..' is resolved and the resolution is said", async () => {
    const f = path.join(dir, 'dots.yaml');
    await fsp.writeFile(f, 'name: d\nrunDir: runs/../../elsewhere/x\n');
    const writes: string[] = [];
    const orig = process.stderr.write.bind(process.stderr);
    process.stderr.write = ((s: string) => (writes.push(String(s)), true)) as typeof process.stderr.write;
    try {
      const c = loadConfig(f);
      expect(c.runDir).toBe(path.resolve(dir, 'runs/../../elsewhere/x')); // relative to the config's folder
      expect(path.isAbsolute(c.runDir!)).toBe(true);
    } finally {
      process.stderr.write = orig;
    }
    expect(writes.join('')).toMatch(/runDir "runs\/\.\.\/\.\.\/elsewhere\/x" has a '\.\.' part; using \//);
  });
});
