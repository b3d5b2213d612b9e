/**
 * The CLI starts fast because `--help`, argument errors and every command's option builder load
 * nothing but yargs and a few light files of ours: stage code and heavy packages (tfjs,
 * onnxruntime-node, h5wasm, vega, yaml, zod, ...) load inside the handler of the command that
 * needs them. This test records every module Node resolves while the CLI parses bad arguments and
 * runs every command's builder, and fails when any package other than yargs (and what yargs needs)
 * or any of our stage modules is among them. `npm run bench:cli` measures the time it buys.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const tmp = mkdtempSync(path.join(os.tmpdir(), 'avcurate-startup-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** yargs and its dependency closure: the only packages the CLI may load before a handler runs. */
function packageClosure(name: string): Set<string> {
  const out = new Set<string>();
  // Node's lookup: node_modules/<pkg> in the folder of the dependent, then in each parent folder.
  const find = (pkg: string, fromDir: string): string => {
    for (let dir = fromDir; ; dir = path.dirname(dir)) {
      const candidate = path.join(dir, 'node_modules', pkg, 'package.json');
      if (existsSync(candidate)) return candidate;
      if (path.dirname(dir) === dir) throw new Error(`package ${pkg} not found from ${fromDir}`);
    }
  };
  const visit = (pkg: string, fromDir: string) => {
    if (out.has(pkg)) return;
    out.add(pkg);
    const manifestPath = find(pkg, fromDir);
    const manifest = JSON.parse(readFileSync(manifestPath, 'utf8')) as { dependencies?: Record<string, string> };
    for (const dep of Object.keys(manifest.dependencies ?? {})) visit(dep, path.dirname(manifestPath));
  };
  visit(name, root);
  return out;
}

/** The package a resolved file URL belongs to (the last node_modules segment), or null for our files. */
function packageOf(url: string): string | null {
  if (!url.startsWith('file:')) return null;
  const parts = fileURLToPath(url).split(path.sep);
  const at = parts.lastIndexOf('node_modules');
  if (at < 0) return null;
  return parts[at + 1].startsWith('@') ? `${parts[at + 1]}/${parts[at + 2]}` : parts[at + 1];
}

/**
 * Run `script` (an ES module body) under tsx with the load recorder, and return every URL
 * resolved after `mark` was written, so tsx's own start-up does not count.
 */
function resolvedBy(script: string): { urls: string[]; stdout: string; stderr: string } {
  const log = path.join(tmp, `loads-${Math.random().toString(36).slice(2)}.txt`);
  const recorder = pathToFileURL(path.join(root, 'test/cli/load-recorder.mjs')).href;
  const boot = [
    `import { register } from 'node:module';`,
    `register(${JSON.stringify(recorder)}, { data: { file: ${JSON.stringify(log)} } });`,
    script,
  ].join('\n');
  const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', boot], { cwd: root, encoding: 'utf8', env: { ...process.env, FORCE_COLOR: '0' } });
  if (r.status !== 0) throw new Error(`child failed (${r.status}): ${r.stderr}`);
  const urls = readFileSync(log, 'utf8').split('\n').filter(Boolean);
  return { urls: [...new Set(urls)], stdout: r.stdout, stderr: r.stderr };
}

/** Our source files the CLI may load before a handler: the entry, its error types and the command modules. */
function allowedOwnFile(file: string): boolean {
  const rel = path.relative(path.join(root, 'src'), file).split(path.sep).join('/');
  return /^cli\/(main|common|errors)\.ts$/.test(rel) || /^cli\/commands\/[^/]+\.ts$/.test(rel) || rel === 'config/errors.ts';
}

function violations(urls: string[]): string[] {
  const allowedPackages = packageClosure('yargs');
  const bad: string[] = [];
  for (const url of urls) {
    if (!url.startsWith('file:')) continue; // node: builtins
    const pkg = packageOf(url);
    if (pkg !== null) {
      if (!allowedPackages.has(pkg)) bad.push(`package ${pkg} (${url})`);
    } else if (!allowedOwnFile(fileURLToPath(url))) {
      bad.push(`stage module ${path.relative(root, fileURLToPath(url))}`);
    }
  }
  return bad;
}

const commandFiles = readdirSync(path.join(root, 'src/cli/commands')).filter((f) => f.endsWith('.ts')).sort();

describe('CLI start-up', () => {
  it('parses bad arguments and runs every command builder without loading stage code or heavy packages', () => {
    const mainUrl = pathToFileURL(path.join(root, 'src/cli/main.ts')).href;
    const script = [
      `const { main } = await import(${JSON.stringify(mainUrl)});`,
      // An argument error of a stage command: its builder runs, its handler does not.
      `const code = await main(['cluster']);`,
      `if (code !== 2) { console.error('expected exit code 2, got ' + code); process.exit(3); }`,
      `const { default: yargs } = await import('yargs');`,
      `for (const f of ${JSON.stringify(commandFiles)}) {`,
      `  const { command } = await import(new URL('./src/cli/commands/' + f, ${JSON.stringify(pathToFileURL(root + '/').href)}).href);`,
      `  if (typeof command.builder === 'function') command.builder(yargs([]));`,
      `}`,
      `process.stdout.write('done\\n');`,
    ].join('\n');
    const { urls, stdout, stderr } = resolvedBy(script);
    expect(stdout, stderr).toContain('done');
    expect(stderr).toMatch(/Missing required argument: config/);
    // The recorder saw the command modules, so a missing hook cannot make this pass.
    expect(urls.some((u) => u.endsWith('/src/cli/commands/cluster.ts'))).toBe(true);
    expect(urls.some((u) => packageOf(u) === 'yargs')).toBe(true);
    expect(violations(urls)).toEqual([]);
  });

  it('the check itself catches a heavy import (fixture)', () => {
    const fixture = pathToFileURL(path.join(root, 'src/config/load.ts')).href; // loads yaml and zod
    const { urls } = resolvedBy(`await import(${JSON.stringify(fixture)});`);
    const bad = violations(urls);
    expect(bad.some((b) => b.startsWith('package yaml'))).toBe(true);
    expect(bad.some((b) => b.startsWith('stage module src/config/load.ts'))).toBe(true);
  });
});
