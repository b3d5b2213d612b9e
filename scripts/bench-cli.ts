/**
 * npm run bench:cli — how fast the CLI starts, against `node -e 0` measured in the same run:
 *  - `avcurate --help` (the compiled CLI in dist/, as an installed package runs it);
 *  - a stage's argument error (`avcurate cluster` without --config: yargs refuses it before the
 *    handler, so no stage code loads);
 *  - `avcurate --help` from the TypeScript sources through tsx (AVCURATE_FROM_SOURCE=1), the way
 *    every start went before the package was compiled.
 * Each command runs --runs times (default 15) in rotation; the table gives the median wall time,
 * CPU time (user + system) and peak resident memory of the node process, and the wall-time ratio
 * to `node -e 0`. The target is < 0.3 s wall for the first two rows on an idle machine (< 3.3 x
 * `node -e 0`, which takes about 0.09 s there). dist/ is built first when it
 * is missing or older than src/ (bin/avcurate.js would otherwise run the sources).
 * On a shared or loaded machine absolute times move; the ratios of one run still compare.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const runsArg = process.argv.indexOf('--runs');
const runs = runsArg > 0 ? Number(process.argv[runsArg + 1]) : 15;
if (!Number.isInteger(runs) || runs < 1) throw new Error(`--runs must be a positive integer, got ${process.argv[runsArg + 1]}`);

function newestSource(dir: string): number {
  let newest = 0;
  for (const e of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (e.isFile() && e.name.endsWith('.ts')) newest = Math.max(newest, statSync(path.join(e.parentPath, e.name)).mtimeMs);
  }
  return newest;
}
const built = path.join(root, 'dist/cli/main.js');
if (!existsSync(built) || statSync(built).mtimeMs < newestSource(path.join(root, 'src'))) {
  process.stdout.write('dist/ is missing or older than src/: npm run build\n');
  const b = spawnSync('npm', ['run', 'build'], { cwd: root, stdio: 'inherit' });
  if (b.status !== 0) throw new Error('npm run build failed');
}

// Each measured node process writes its own resource usage when it exits (process.exit included).
const tmp = mkdtempSync(path.join(os.tmpdir(), 'avcurate-bench-cli-'));
const reporter = path.join(tmp, 'usage.mjs');
writeFileSync(
  reporter,
  `import { writeFileSync } from 'node:fs';\n` +
    `process.on('exit', () => { const u = process.resourceUsage(); writeFileSync(process.env.BENCH_USAGE_FILE, JSON.stringify({ cpu: (u.userCPUTime + u.systemCPUTime) / 1e6, rss: u.maxRSS * 1024 })); });\n`,
);

interface Case {
  label: string;
  args: string[];
  env?: Record<string, string>;
  /** What the command must print and exit with, so a broken CLI cannot bench as fast. */
  expect: { status: number; output: RegExp };
}
const bin = path.join(root, 'bin/avcurate.js');
const cases: Case[] = [
  { label: 'node -e 0', args: ['-e', '0'], expect: { status: 0, output: /^$/ } },
  { label: 'avcurate --help (dist)', args: [bin, '--help'], expect: { status: 0, output: /Commands:/ } },
  { label: 'avcurate cluster (argument error, dist)', args: [bin, 'cluster'], expect: { status: 2, output: /Missing required argument: config/ } },
  { label: 'avcurate --help (sources via tsx)', args: [bin, '--help'], env: { AVCURATE_FROM_SOURCE: '1' }, expect: { status: 0, output: /Commands:/ } },
];

interface Sample {
  wall: number;
  cpu: number;
  rss: number;
}
const samples = new Map<string, Sample[]>(cases.map((c) => [c.label, []]));
for (let r = 0; r < runs + 1; r++) {
  for (const c of cases) {
    const usageFile = path.join(tmp, 'usage.json');
    rmSync(usageFile, { force: true });
    const t0 = process.hrtime.bigint();
    const res = spawnSync(process.execPath, ['--import', pathToFileURL(reporter).href, ...c.args], {
      cwd: root,
      encoding: 'utf8',
      env: { ...process.env, ...c.env, BENCH_USAGE_FILE: usageFile },
    });
    const wall = Number(process.hrtime.bigint() - t0) / 1e9;
    const output = `${res.stdout}${res.stderr}`;
    if (res.status !== c.expect.status || !c.expect.output.test(output)) {
      throw new Error(`${c.label}: exit ${res.status}, expected ${c.expect.status} and output matching ${c.expect.output}:\n${output}`);
    }
    const usage = JSON.parse(readFileSync(usageFile, 'utf8')) as { cpu: number; rss: number };
    if (r > 0) samples.get(c.label)!.push({ wall, ...usage }); // the first round warms the file cache
  }
}
rmSync(tmp, { recursive: true, force: true });

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const base = median(samples.get('node -e 0')!.map((s) => s.wall));
const width = Math.max(...cases.map((c) => c.label.length));
process.stdout.write(`CLI start-up, median of ${runs} runs (load average ${os.loadavg()[0].toFixed(2)} on ${os.availableParallelism()} cores)\n`);
process.stdout.write(`  ${'command'.padEnd(width)}  ${'wall s'.padStart(7)}  ${'cpu s'.padStart(6)}  ${'rss MiB'.padStart(7)}  ${'× node -e 0'.padStart(11)}\n`);
for (const c of cases) {
  const s = samples.get(c.label)!;
  const wall = median(s.map((x) => x.wall));
  process.stdout.write(
    `  ${c.label.padEnd(width)}  ${wall.toFixed(3).padStart(7)}  ${median(s.map((x) => x.cpu)).toFixed(3).padStart(6)}  ${(median(s.map((x) => x.rss)) / 2 ** 20).toFixed(0).padStart(7)}  ${(wall / base).toFixed(2).padStart(11)}\n`,
  );
}
const worstWall = Math.max(...cases.slice(1, 3).map((c) => median(samples.get(c.label)!.map((x) => x.wall))));
const worstCpu = Math.max(...cases.slice(1, 3).map((c) => median(samples.get(c.label)!.map((x) => x.cpu))));
// The target (issue 11): --help and an argument error under 0.3 s on an idle machine, where
// `node -e 0` takes about 0.09 s, i.e. under 3.3 x node -e 0. A loaded machine stretches every
// wall time, so the ratio is the figure that carries over; CPU time is printed beside it.
const ratio = worstWall / base;
process.stdout.write(
  `target (< 0.3 s wall when idle, i.e. < 3.3 x node -e 0): slowest ${worstWall.toFixed(3)} s wall, ${worstCpu.toFixed(3)} s cpu, ` +
    `${ratio.toFixed(2)} x node -e 0: ${worstWall < 0.3 ? 'met' : ratio < 3.3 ? 'met by ratio (wall times stretched by load)' : 'NOT met'}\n`,
);
