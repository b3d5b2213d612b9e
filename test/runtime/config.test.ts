import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig, parseConfig, snapshotConfig, ConfigError } from '../../src/config/load.js';
import { tempDir } from '../helpers/media.js';
import { HOST_TAG } from '../../src/runtime/atomic.js';

describe('config', () => {
  it('fills defaults and the run folder', () => {
    const c = parseConfig({ name: 'x', seed: 3 });
    expect(c.runDir).toBe(path.join('runs', 'x'));
    expect(c.ingest.clipSeconds).toBe(10);
    expect(c.ingest.prefilter.silenceDb).toBe(-60);
  });

  it('reports every bad key with its path, what was expected and what was found', async () => {
    const dir = await tempDir();
    const f = path.join(dir, 'bad.yaml');
    await fsp.writeFile(f, 'name: ok\nseed: -1\ningest:\n  clipSeconds: "ten"\n  colour: blue\ncorpus:\n  synth:\n    classes: 40\n');
    let err: ConfigError | undefined;
    try {
      loadConfig(f);
    } catch (e) {
      err = e as ConfigError;
    }
    expect(err).toBeInstanceOf(ConfigError);
    const msg = err!.message;
    expect(msg).toContain(f);
    expect(msg).toMatch(/seed: .*>=0.*found number -1/);
    expect(msg).toMatch(/ingest\.clipSeconds: expected number.*found string "ten"/);
    expect(msg).toMatch(/ingest\.colour: unknown key.*found string "blue"/);
    expect(msg).toMatch(/corpus\.synth\.classes: .*<=12.*found number 40/);
  });

  it('refuses broken YAML and missing files with the file named', async () => {
    const dir = await tempDir();
    const f = path.join(dir, 'broken.yaml');
    await fsp.writeFile(f, 'name: [unclosed\n');
    expect(() => loadConfig(f)).toThrow(/broken\.yaml[\s\S]*not valid YAML/);
    expect(() => loadConfig(path.join(dir, 'nope.yaml'))).toThrow(/nope\.yaml[\s\S]*ENOENT/);
  });

  it('applies --set overrides and snapshots the resolved config', async () => {
    const dir = await tempDir();
    const f = path.join(dir, 'c.yaml');
    await fsp.writeFile(f, `name: snap\nrunDir: ${JSON.stringify(path.join(dir, 'run'))}\n`);
    const c = loadConfig(f, ['ingest.minSeconds=2.5', 'seed=9']);
    expect(c.ingest.minSeconds).toBe(2.5);
    expect(c.seed).toBe(9);
    const snap = await snapshotConfig(c);
    const text = await fsp.readFile(snap, 'utf8');
    expect(text).toContain('seed: 9');
    expect(text).toContain('minSeconds: 2.5');
    expect(() => loadConfig(f, ['ingest.minSeconds=-1'])).toThrow(/ingest\.minSeconds/);
  });

  it('a snapshot clears the temporary a killed snapshot left in the run folder, and keeps a live writer\'s', async () => {
    const dir = await tempDir();
    const runDir = path.join(dir, 'run');
    await fsp.mkdir(runDir, { recursive: true });
    // pid 2^22 + 1 is above Linux's pid_max ceiling: no such process can exist.
    const dead = path.join(runDir, `.config.resolved.yaml.tmp-${2 ** 22 + 1}-0000abcd-h${HOST_TAG}`);
    const live = path.join(runDir, `.config.resolved.yaml.tmp-${process.ppid}-0000abce-h${HOST_TAG}`);
    await fsp.writeFile(dead, 'half a yaml');
    await fsp.writeFile(live, 'being written');
    await snapshotConfig(parseConfig({ name: 'snap2', runDir }));
    const names = await fsp.readdir(runDir);
    expect(names).toContain('config.resolved.yaml');
    expect(names).not.toContain(path.basename(dead));
    expect(names).toContain(path.basename(live));
  });
});
