/**
 * The package installs and works like a library (npm run test:package; not part of `npm test`,
 * it packs, installs from the registry cache and trains, a minute or two):
 *  1. `npm pack` (its `prepare` script builds dist/) makes the tarball a user would get;
 *  2. a fresh project installs it with `npm install` (dependencies from the lockfile's versions,
 *     offline where the npm cache has them), with no tsx anywhere;
 *  3. the installed CLI (plain node, compiled JS) curates a small synthetic corpus and exports the
 *     selection as WebDataset shards;
 *  4. a user's own script (consumer/train.mjs, plain node) imports `avcurate`, `avcurate/curation`,
 *     `avcurate/loaders` and `avcurate/ssl`, builds a loader pipeline over those shards and trains
 *     a few steps;
 *  5. TypeScript resolves every subpath to the shipped .d.ts (consumer/check-types.ts).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const tmp = mkdtempSync(path.join(os.tmpdir(), 'avcurate-pack-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
const project = path.join(tmp, 'consumer');
const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';

function run(cmd: string, args: string[], cwd: string, timeout = 300_000): { out: string; err: string } {
  const r = spawnSync(cmd, args, { cwd, encoding: 'utf8', timeout, env: { ...process.env, ONNXRUNTIME_NODE_INSTALL_CUDA: 'skip', CI: '1' } });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} (in ${cwd}) exited ${r.status ?? r.signal}:\n${r.stdout}\n${r.stderr}`);
  return { out: r.stdout, err: r.stderr };
}

describe('the packed package', () => {
  let tarball = '';

  it('packs with dist/ (JS + .d.ts) and without sources or tests', () => {
    const packDir = path.join(tmp, 'pack');
    mkdirSync(packDir);
    const r = run(npm, ['pack', '--json', '--pack-destination', packDir], root);
    const info = JSON.parse(r.out.slice(r.out.indexOf('['))) as Array<{ filename: string; files: Array<{ path: string }> }>;
    tarball = path.join(packDir, info[0].filename);
    expect(existsSync(tarball)).toBe(true);
    const files = info[0].files.map((f) => f.path);
    for (const f of ['bin/avcurate.js', 'dist/index.js', 'dist/index.d.ts', 'dist/cli/main.js', 'dist/loaders/index.js', 'dist/loaders/index.d.ts', 'dist/curation/index.js', 'dist/ssl/index.js', 'package.json']) {
      expect(files).toContain(f);
    }
    expect(files.filter((f) => f.startsWith('src/') || f.startsWith('test/') || f.endsWith('.ts') && !f.endsWith('.d.ts'))).toEqual([]);
  }, 300_000);

  it('installs into a fresh project with npm install, without tsx', () => {
    const ours = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')) as { allowScripts?: Record<string, boolean>; overrides?: Record<string, string> };
    mkdirSync(project);
    writeFileSync(
      path.join(project, 'package.json'),
      JSON.stringify(
        {
          name: 'avcurate-consumer',
          version: '1.0.0',
          private: true,
          type: 'module',
          // The same install-script policy as ours; tfjs-node's script downloads libtensorflow,
          // which an offline machine cannot (the loader then falls back to wasm/cpu).
          allowScripts: { ...ours.allowScripts, '@tensorflow/tfjs-node': false },
          overrides: ours.overrides,
        },
        null,
        2,
      ),
    );
    run(npm, ['install', '--prefer-offline', '--no-audit', '--no-fund', tarball], project, 600_000);
    const installed = path.join(project, 'node_modules', 'avcurate');
    expect(existsSync(path.join(installed, 'dist', 'cli', 'main.js'))).toBe(true);
    expect(existsSync(path.join(installed, 'src'))).toBe(false);
    expect(existsSync(path.join(project, 'node_modules', 'tsx'))).toBe(false);
  }, 600_000);

  it('runs the installed CLI with plain node: curate a synthetic corpus, export shards', () => {
    const bin = path.join(project, 'node_modules', '.bin', 'avcurate');
    const runDir = path.join(project, 'run');
    const cfg = [
      'name: consumer',
      `runDir: ${JSON.stringify(runDir)}`,
      'seed: 3',
      'corpus:',
      '  synth: { clips: 16, classes: 4, mismatch: 0.5, seconds: 2, width: 32, height: 32, fps: 6 }',
      'ingest: { clipSeconds: 2, minSeconds: 1 }',
      'features:',
      '  shardSize: 16',
      '  decode: { fps: 6, width: 32, height: 32 }',
      '  audio: [{ type: builtin }]',
      '  visual: [{ type: builtin, frames: 4, maxSize: 32 }]',
      'clustering: { k: [4] }',
      'selection: { ratio: 0.5 }',
      '',
    ].join('\n');
    writeFileSync(path.join(project, 'consumer.yaml'), cfg);
    const help = run(process.execPath, [bin, '--help'], project);
    expect(help.out).toMatch(/Commands:/);
    // Its own version, not the consumer project's (1.0.0).
    const ours = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')) as { version: string };
    expect(run(process.execPath, [bin, '--version'], project).out.trim()).toBe(ours.version);
    run(process.execPath, [bin, 'curate', '--config', 'consumer.yaml', '--quiet'], project);
    run(process.execPath, [bin, 'export', '--config', 'consumer.yaml', '--max-count', '4', '--quiet'], project);
    const shards = readdirSync(path.join(runDir, 'shards')).filter((f) => f.endsWith('.tar'));
    expect(shards.length).toBe(2); // 8 selected clips, 4 a shard
  }, 600_000);

  it('imports avcurate/loaders, /curation and /ssl from plain node, builds a pipeline over the shards and trains', () => {
    const script = path.join(project, 'train.mjs');
    copyFileSync(path.join(root, 'test/package/consumer/train.mjs'), script);
    const { out } = run(process.execPath, [script, path.join(project, 'run')], project);
    const r = JSON.parse(out.trim().split('\n').pop()!) as { selected: number; readme: { keys: number; frames: number[]; framesType: string; audio: number[]; audioType: string }; seen: number; steps: number; backend: string; losses: number[]; checkpoints: string[] };
    expect(r.selected).toBe(8);
    expect(r.readme).toEqual({ keys: 4, frames: [4, 8, 112, 112, 3], framesType: 'Uint8Array', audio: [4, 32000], audioType: 'Float32Array' });
    expect(r.seen).toBe(8); // 3 steps of 4 clips go past the first epoch of 8
    expect(r.steps).toBe(3);
    expect(r.backend).toBe('cpu');
    expect(r.losses).toHaveLength(3);
    for (const l of r.losses) expect(Number.isFinite(l) && l > 0).toBe(true);
    expect(r.checkpoints).toContain('step-00000003');
  }, 600_000);

  it('type-checks a consumer against the shipped .d.ts through the exports map', () => {
    copyFileSync(path.join(root, 'test/package/consumer/check-types.ts'), path.join(project, 'check-types.ts'));
    const tsc = path.join(root, 'node_modules', 'typescript', 'bin', 'tsc');
    // Node's resolution and a bundler's both follow the exports map to the .d.ts.
    for (const [module, moduleResolution] of [['NodeNext', 'NodeNext'], ['ESNext', 'Bundler']]) {
      writeFileSync(
        path.join(project, 'tsconfig.json'),
        JSON.stringify({ compilerOptions: { module, moduleResolution, target: 'ES2022', strict: true, noEmit: true, skipLibCheck: true, types: [] }, files: ['check-types.ts'] }),
      );
      execFileSync(process.execPath, [tsc, '-p', project], { cwd: project, encoding: 'utf8' });
    }
    // And a wrong use is refused, so the check above is a real check.
    writeFileSync(path.join(project, 'check-types.ts'), `import { fromShards } from 'avcurate/loaders';\nconst n: number = fromShards;\nexport { n };\n`);
    const bad = spawnSync(process.execPath, [tsc, '-p', project], { cwd: project, encoding: 'utf8' });
    expect(bad.status).not.toBe(0);
    expect(bad.stdout).toMatch(/check-types\.ts/);
  }, 120_000);
});
