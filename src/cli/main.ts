/**
 * The avcurate command line. Each command lives in ./commands/<name>.ts and exports
 * `command: CommandModule`; this file finds them, so adding a stage never edits this file.
 * Commands are thin: parse arguments, load the config, call the stage function.
 *
 * Start-up stays fast because every command module keeps its top-level imports light (yargs
 * types, ../common.js, ../errors.js): stage code and heavy packages (tfjs, onnxruntime-node,
 * h5wasm, vega, yaml, zod) are loaded with `await import()` inside the handler that needs them.
 * test/cli/startup.test.ts fails when a command's static imports reach a package.
 */
import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import yargs, { type CommandModule } from 'yargs';
import { ConfigError } from '../config/errors.js';
import { UserError } from './errors.js';

export { UserError };

async function loadCommands(): Promise<CommandModule[]> {
  const dir = path.join(path.dirname(fileURLToPath(import.meta.url)), 'commands');
  const files = readdirSync(dir)
    .filter((f) => /\.(ts|js)$/.test(f) && !f.endsWith('.d.ts') && !f.endsWith('.test.ts'))
    .sort();
  const seen = new Set<string>();
  const out: CommandModule[] = [];
  for (const f of files) {
    const stem = f.replace(/\.(ts|js)$/, '');
    if (seen.has(stem)) continue; // prefer whichever of .ts/.js sorts first
    seen.add(stem);
    const mod = (await import(pathToFileURL(path.join(dir, f)).href)) as { command?: CommandModule };
    if (mod.command) out.push(mod.command);
  }
  return out;
}

/** This package's version: package.json is two folders up from src/cli/ and from dist/cli/ alike. */
function packageVersion(): string {
  const file = new URL('../../package.json', import.meta.url);
  return (JSON.parse(readFileSync(file, 'utf8')) as { version: string }).version;
}

export async function main(argv: string[]): Promise<number> {
  const commands = await loadCommands();
  let failure: unknown = null;
  let hint = '';
  const parser = yargs(argv)
    .scriptName('avcurate')
    .usage('$0 <command> [options]\n\nCurate audio-visual clips by mutual information, load them, pretrain on them.')
    .strict()
    .demandCommand(1, 'name a command (see --help)')
    .recommendCommands()
    .wrap(Math.min(110, process.stdout.columns ?? 100))
    // Throw: a fail callback that returns lets yargs go on and run the handler anyway
    // (a missing required option then surfaced as an error from inside the stage).
    // yargs reports a command suggestion first and the unknown argument next: keep the
    // suggestion and print both together.
    .fail((msg, err) => {
      if (!err && /^Did you mean /.test(msg)) {
        hint = msg;
        return;
      }
      throw err ?? new UserError(hint ? `${msg}. ${hint}` : msg, 2);
    })
    .help()
    .alias('h', 'help')
    .version(packageVersion());
  for (const c of commands) parser.command(c);
  try {
    await parser.parseAsync();
  } catch (err) {
    failure = err;
  }
  if (failure) return reportError(failure);
  return typeof process.exitCode === 'number' ? process.exitCode : 0;
}

export function reportError(err: unknown): number {
  if (err instanceof ConfigError) {
    process.stderr.write(`avcurate: ${err.message}\n`);
    return 2;
  }
  if (err instanceof UserError) {
    process.stderr.write(`avcurate: ${err.message}\n`);
    if (err.exitCode === 2) process.stderr.write('Run "avcurate --help" for usage.\n');
    return err.exitCode;
  }
  const e = err as Error;
  if (process.env.AVCURATE_DEBUG) process.stderr.write(`${e?.stack ?? String(err)}\n`);
  else process.stderr.write(`avcurate: ${e?.message ?? String(err)}\n(set AVCURATE_DEBUG=1 for a stack trace)\n`);
  return 1;
}
