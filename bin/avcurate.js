#!/usr/bin/env node
// Launcher. An installed package runs the compiled CLI in dist/ (`npm run build`; `npm ci` and
// `npm pack` build it through the `prepare` script). In a source checkout, where src/ sits beside
// dist/, the compiled CLI runs only while it is at least as new as every source file; when dist/
// is missing or stale (or AVCURATE_FROM_SOURCE=1) the TypeScript sources run through tsx, a dev
// dependency, so an edit never runs old code. Start-up is measured by `npm run bench:cli`.
import { existsSync, readdirSync, statSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const root = new URL('../', import.meta.url);
const built = new URL('dist/cli/main.js', root);
const sources = new URL('src/', root);

/** Newest modification time (ms) of the .ts files under `dir`, or 0 when there are none. */
function newestSource(dir) {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (!entry.isFile() || !entry.name.endsWith('.ts')) continue;
    const t = statSync(`${entry.parentPath ?? entry.path}/${entry.name}`).mtimeMs;
    if (t > newest) newest = t;
  }
  return newest;
}

function useBuilt() {
  if (!existsSync(built)) return false;
  if (!existsSync(sources)) return true; // an installed package: dist/ is all there is
  if (process.env.AVCURATE_FROM_SOURCE === '1') return false;
  return statSync(built).mtimeMs >= newestSource(fileURLToPath(sources));
}

let main;
if (useBuilt()) {
  ({ main } = await import(built.href));
} else {
  let register;
  try {
    ({ register } = await import('tsx/esm/api'));
  } catch {
    process.stderr.write('avcurate: dist/ is missing or older than src/, and tsx (a dev dependency) is not installed: run "npm run build"\n');
    process.exit(1);
  }
  register();
  ({ main } = await import(new URL('src/cli/main.ts', root).href));
}
process.exitCode = await main(process.argv.slice(2));
