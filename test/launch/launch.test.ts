/**
 * launch slurm and status without a cluster: the scripts, submission order and dependencies
 * (through a recording sbatch), refusals with exit codes that leave nothing half-written, and the
 * status of running, dead, failed and missing tasks.
 */
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import YAML from 'yaml';
import { parseConfig } from '../../src/config/load.js';
import { arraySyntax, launchPaths, parseArraySyntax, parseStages, readPlan, stepsOf, writePlan } from '../../src/launch/plan.js';
import { launchSlurm, renderSbatch } from '../../src/launch/slurm.js';
import { runStatus, formatStatus, resolveStepName } from '../../src/launch/status.js';
import { markTaskDone } from '../../src/launch/task.js';
import { avcurate, tinyConfig } from './helpers.js';

const root = mkdtempSync(path.join(os.tmpdir(), 'avc-launch-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

/** A fake sbatch/scancel pair on a PATH of its own: records its arguments, prints increasing job ids, can fail at call N. */
function fakeSlurm(failAt = 0): { env: NodeJS.ProcessEnv; calls: () => string[][]; cancelled: () => string[] } {
  const bin = mkdtempSync(path.join(root, 'bin-'));
  const log = path.join(bin, 'calls.jsonl');
  const cancelLog = path.join(bin, 'cancel.txt');
  writeFileSync(
    path.join(bin, 'sbatch'),
    `#!/bin/sh\nn=$(( $(cat "${bin}/n" 2>/dev/null || echo 100) + 1 ))\necho $n > "${bin}/n"\nprintf '%s\\n' "$*" >> "${log}"\nif [ ${failAt} -gt 0 ] && [ $n -ge $((100 + ${failAt})) ]; then echo "sbatch: error: Batch job submission failed: Invalid partition" >&2; exit 1; fi\necho "$n;cluster"\n`,
  );
  writeFileSync(path.join(bin, 'scancel'), `#!/bin/sh\necho "$*" >> "${cancelLog}"\n`);
  chmodSync(path.join(bin, 'sbatch'), 0o755);
  chmodSync(path.join(bin, 'scancel'), 0o755);
  return {
    env: { PATH: `${bin}:/usr/bin:/bin` },
    calls: () => (existsSync(log) ? readFileSync(log, 'utf8').trim().split('\n').map((l) => l.split(' ')) : []),
    cancelled: () => (existsSync(cancelLog) ? readFileSync(cancelLog, 'utf8').trim().split('\n') : []),
  };
}

function cfgFile(name: string, extra: Record<string, unknown> = {}): { file: string; raw: Record<string, unknown> } {
  const raw = { ...tinyConfig(path.join(root, 'runs', name)), ...extra };
  const file = path.join(root, `${name}.yaml`);
  writeFileSync(file, YAML.stringify(raw));
  return { file, raw };
}

describe('launch slurm', () => {
  mkdirSync(path.join(root, 'runs'), { recursive: true });

  it('writes one script per step with the array, resources, extra lines, logs and the task command', () => {
    const config = parseConfig({
      ...tinyConfig(path.join(root, 'runs', 'x')),
      launch: { slurm: { partition: 'gpu', cpus: 8, memory: '16G', time: '1-00:00:00', extra: ['#SBATCH --account=av'], stages: { extract: { gpus: 1 } }, maxRunning: 10 } },
    });
    const [extract] = stepsOf(['extract']);
    const text = renderSbatch(config, extract, 16, '/shared/runs/x', '/shared/cfg.yaml', ['selection.ratio=0.1'], '/shared');
    expect(text).toContain('#SBATCH --array=0-15%10\n');
    expect(text).toContain('#SBATCH --output=/shared/runs/x/launch/logs/extract-%a.slurm.out\n');
    expect(text).toContain('#SBATCH --partition=gpu\n#SBATCH --gpus-per-task=1\n#SBATCH --account=av\n');
    expect(text).toContain('#SBATCH --cpus-per-task=8\n#SBATCH --mem=16G\n#SBATCH --time=1-00:00:00\n');
    expect(text).toMatch(/launch task extract --shard "\$\{SLURM_ARRAY_TASK_ID\}"\/16 --config \/shared\/cfg\.yaml --set selection\.ratio=0\.1\n$/);
    const [fit] = stepsOf(['cluster']).filter((s) => s.name === 'cluster-fit');
    const single = renderSbatch(config, fit, 16, '/shared/runs/x', '/shared/cfg.yaml', [], '/shared');
    expect(single).not.toContain('--array');
    expect(single).toContain('launch task cluster-fit --shard 0/1 ');
    expect(single).not.toContain('--gpus-per-task');
  });

  it('submits the steps in order, each after the one before (afterok), and prints the job ids', async () => {
    const fake = fakeSlurm();
    const { file } = cfgFile('chain');
    const r = await avcurate(['launch', 'slurm', '--config', file, '--shards', '4', '--submit', '--stages', 'extract,cluster'], { ...process.env, PATH: `${fake.env.PATH}:${path.dirname(process.execPath)}` });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/extract\s+job 101 array 0-3\n\s+cluster-sample\s+job 102 array 0-3\n\s+cluster-fit\s+job 103\n/);
    const calls = fake.calls();
    expect(calls.map((c) => path.basename(c[c.length - 1]))).toEqual(['01-extract.sbatch', '02-cluster-sample.sbatch', '03-cluster-fit.sbatch', '04-cluster.sbatch', '05-cluster-merge.sbatch']);
    expect(calls[0]).not.toContain('--dependency=afterok:100');
    calls.slice(1).forEach((c, i) => expect(c).toContain(`--dependency=afterok:${101 + i}`));
    const plan = JSON.parse(readFileSync(path.join(root, 'runs', 'chain', 'launch', 'plan.json'), 'utf8'));
    expect(plan.jobs.map((j: { jobId: string }) => j.jobId)).toEqual(['101', '102', '103', '104', '105']);
  });

  it('a submission that fails half way cancels what it submitted and says why (exit 4)', async () => {
    const fake = fakeSlurm(3);
    const { raw } = cfgFile('half');
    await expect(
      launchSlurm(parseConfig(raw), { shards: 2, stages: parseStages(), configFile: path.join(root, 'half.yaml'), overrides: [], submit: true, env: fake.env }),
    ).rejects.toMatchObject({ exitCode: 4, message: expect.stringMatching(/Invalid partition/) });
    expect(fake.cancelled()).toEqual(['101 102']);
    expect(JSON.parse(readFileSync(path.join(root, 'runs', 'half', 'launch', 'plan.json'), 'utf8')).jobs).toEqual([]);
  });

  it('refuses: sbatch not on PATH (4), a missing shared folder (3), another shard count (3), a changed config (3); nothing half-written', async () => {
    const { file } = cfgFile('refuse');
    const noSbatch = await avcurate(['launch', 'slurm', '--config', file, '--shards', '4', '--submit'], { ...process.env, PATH: path.join(root, 'empty-path') });
    expect(noSbatch.code).toBe(4);
    expect(noSbatch.stderr).toMatch(/sbatch is not on PATH/);
    expect(existsSync(path.join(root, 'runs', 'refuse'))).toBe(false);

    const gone = cfgFile('gone', { runDir: path.join(root, 'not-mounted', 'run') });
    const r2 = await avcurate(['launch', 'slurm', '--config', gone.file, '--shards', '4']);
    expect(r2.code).toBe(3);
    expect(r2.stderr).toMatch(/not-mounted: no such folder.*storage every node mounts/);
    expect(existsSync(path.join(root, 'not-mounted'))).toBe(false);

    // A size-rolled export cannot be cut into shard processes: refused before anything is written.
    const bytes = await avcurate(['launch', 'slurm', '--config', file, '--shards', '4', '--set', 'loader.export.maxBytes=100000000']);
    expect(bytes.code).toBe(2);
    expect(bytes.stderr).toMatch(/loader\.export\.maxBytes is set.*set loader\.export\.maxCount/);
    expect(existsSync(path.join(root, 'runs', 'refuse', 'launch'))).toBe(false);
    expect((await avcurate(['launch', 'slurm', '--config', file, '--shards', '4', '--stages', 'extract', '--set', 'loader.export.maxBytes=100000000'])).code).toBe(0);
    rmSync(path.join(root, 'runs', 'refuse', 'launch'), { recursive: true, force: true });

    expect((await avcurate(['launch', 'slurm', '--config', file, '--shards', '4'])).code).toBe(0);
    const plan = readFileSync(path.join(root, 'runs', 'refuse', 'launch', 'plan.json'), 'utf8');
    const other = await avcurate(['launch', 'slurm', '--config', file, '--shards', '3']);
    expect(other.code).toBe(3);
    expect(other.stderr).toMatch(/was launched with --shards 4.*--shards 3 would mix/);
    const changed = await avcurate(['launch', 'slurm', '--config', file, '--shards', '4', '--set', 'clustering.k=[8]']);
    expect(changed.code).toBe(3);
    expect(changed.stderr).toMatch(/launched with another config/);
    expect(readFileSync(path.join(root, 'runs', 'refuse', 'launch', 'plan.json'), 'utf8')).toBe(plan);
    expect(readdirSync(path.join(root, 'runs', 'refuse', 'launch')).filter((f) => f.endsWith('.sbatch'))).toHaveLength(12);
  });
});

describe('status', () => {
  it('names: a stage waits for its last step, a step name is that step, stage/step is exact', () => {
    const plan = { steps: stepsOf(parseStages()) } as Parameters<typeof resolveStepName>[0];
    expect(resolveStepName(plan, 'select', 'wait')).toBe('select-merge');
    expect(resolveStepName(plan, 'cluster', 'wait')).toBe('cluster-merge');
    expect(resolveStepName(plan, 'select', 'missing')).toBe('select');
    expect(resolveStepName(plan, 'cluster/cluster', 'wait')).toBe('cluster');
    expect(resolveStepName(plan, 'cluster-fit', 'wait')).toBe('cluster-fit');
    expect(() => resolveStepName(plan, 'train', 'wait')).toThrow(/neither a step nor a stage/);
  });

  it('array syntax both ways', () => {
    expect(arraySyntax([0, 1, 2, 5, 7, 8])).toBe('0-2,5,7-8');
    expect(arraySyntax([])).toBe('');
    expect(parseArraySyntax('0-2,5,7-8%4')).toEqual([0, 1, 2, 5, 7, 8]);
    expect(parseArraySyntax('0-6:3')).toEqual([0, 3, 6]);
  });

  it('complete, running, dead (stale heartbeat), failed with reason and log tail, missing', async () => {
    const { raw } = cfgFile('st');
    const config = parseConfig(raw);
    await launchSlurm(config, { shards: 4, stages: ['extract'], configFile: path.join(root, 'st.yaml'), overrides: [] });
    const paths = launchPaths(config.runDir!);
    const st0 = runStatus(config);
    const fp = st0.fingerprint;
    const rec = (i: number, state: string, extra: Record<string, unknown> = {}) => {
      mkdirSync(path.dirname(paths.state('extract', i)), { recursive: true });
      const now = new Date().toISOString();
      writeFileSync(paths.state('extract', i), JSON.stringify({ format: 'avcurate.launch-task', step: 'extract', index: i, count: 4, state, fingerprint: fp, host: 'node7', pid: 1, startedAt: now, heartbeatAt: now, ...extra }));
    };
    // Done is the stage ledger's record of the task (task.ts markTaskDone), not a state file.
    await markTaskDone(config.runDir!, fp, 'extract', 0, 4, { host: 'node7', pid: 1, startedAt: new Date().toISOString(), note: '' });
    rec(1, 'running');
    rec(2, 'running', { heartbeatAt: '2020-01-01T00:00:00Z' });
    const old = new Date('2020-01-01T00:00:00Z');
    utimesSync(paths.state('extract', 2), old, old);
    rec(3, 'failed', { reason: '"avcurate extract" exited with code 1: disk full' });
    mkdirSync(paths.logsDir, { recursive: true });
    writeFileSync(paths.log('extract', 3), 'line a\nwriting shard 3\nENOSPC: no space left on device\n');
    const st = runStatus(config);
    const ex = st.steps[0];
    expect([ex.complete, ex.running, ex.failed, ex.missing]).toEqual([1, 1, 2, 0]);
    expect(ex.resubmit).toBe('2-3');
    expect(ex.detail[2].reason).toMatch(/no heartbeat for \d+ s/);
    expect(ex.detail[3].logTail).toContain('ENOSPC: no space left on device');
    const text = formatStatus(st);
    expect(text).toMatch(/extract\s+4\s+1\s+1\s+0\s+2\s+0\s+2-3/);
    expect(text).toMatch(/extract 3 \(node7\): FAILED: "avcurate extract" exited with code 1: disk full\n\s+\| line a/);
    rmSync(paths.state('extract', 3));
    await markTaskDone(config.runDir!, 'another', 'extract', 3, 4, { host: 'node7', pid: 1, startedAt: new Date().toISOString(), note: '' });
    expect(runStatus(config).steps[0].detail[3]).toMatchObject({ state: 'missing', reason: expect.stringMatching(/^done with another config \(config section launch changed/) });
    // A "done" state file of an older avcurate is not trusted: missing, to run again.
    rec(2, 'done');
    expect(runStatus(config).steps[0].detail[2]).toMatchObject({ state: 'missing', reason: expect.stringMatching(/older avcurate/) });
    const cli = await avcurate(['status', '--config', path.join(root, 'st.yaml'), '--missing', 'extract']);
    expect(cli.stdout).toBe('2-3\n');
  });

  it('asks squeue: tasks waiting in the queue are pending (with the reason), started ones running; not to resubmit', async () => {
    const { raw, file } = cfgFile('sq');
    const config = parseConfig(raw);
    await launchSlurm(config, { shards: 4, stages: ['extract', 'cluster'], configFile: file, overrides: [] });
    const paths = launchPaths(config.runDir!);
    const plan = readPlan(config.runDir!)!;
    const at = new Date().toISOString();
    // What launch --submit records; 600 is a resubmission of extract index 3.
    plan.jobs = [
      { step: 'extract', jobId: '501', array: '0-3', submittedAt: at },
      { step: 'cluster-sample', jobId: '502', array: '0-3', submittedAt: at },
      { step: 'cluster-fit', jobId: '503', array: null, submittedAt: at },
      { step: 'extract', jobId: '600', array: '3', submittedAt: at },
    ];
    await writePlan(config.runDir!, plan);
    const fp = runStatus(config).fingerprint;
    mkdirSync(path.dirname(paths.state('extract', 0)), { recursive: true });
    await markTaskDone(config.runDir!, fp, 'extract', 0, 4, { host: 'n1', pid: 1, startedAt: at, note: '' });
    writeFileSync(paths.state('extract', 3), JSON.stringify({ format: 'avcurate.launch-task', step: 'extract', index: 3, count: 4, state: 'failed', reason: 'killed', fingerprint: fp, host: 'n1', pid: 1, startedAt: at, heartbeatAt: at }));
    // A fake squeue: records its arguments, prints the queue (-h -r -o '%F|%K|%T|%r').
    const bin = path.join(root, 'sq-bin');
    mkdirSync(bin, { recursive: true });
    const argsFile = path.join(root, 'sq-args');
    const queue = ['501|1|RUNNING|None', '501|2|PENDING|Resources', '600|3|PENDING|Priority', '502|0|PENDING|Dependency', '502|1|PENDING|Dependency', '502|2|PENDING|Dependency', '502|3|PENDING|Dependency', '503|N/A|PENDING|Dependency', '999|0|RUNNING|None'];
    writeFileSync(path.join(bin, 'squeue'), `#!/bin/sh\necho "$@" >> ${argsFile}\nprintf '%s\\n' ${queue.map((l) => `'${l}'`).join(' ')}\n`);
    chmodSync(path.join(bin, 'squeue'), 0o755);
    const env = { ...process.env, PATH: `${bin}${path.delimiter}${process.env.PATH}` };
    const st = runStatus(config, Date.now(), { scheduler: true, env });
    expect(st.scheduler).toBe('squeue');
    expect(readFileSync(argsFile, 'utf8').trim()).toBe('-h -r -o %F|%K|%T|%r -j 501,502,503,600');
    const ex = st.steps.find((s) => s.step === 'extract')!;
    expect(ex.detail.map((t) => t.state)).toEqual(['complete', 'running', 'pending', 'pending']);
    expect(ex.detail[1].job).toBe('501_1');
    expect(ex.detail[2]).toMatchObject({ job: '501_2', reason: 'PENDING (Resources)' });
    expect(ex.detail[3]).toMatchObject({ job: '600_3', reason: 'PENDING (Priority)' }); // the resubmitted task, no longer failed
    expect([ex.complete, ex.running, ex.pending, ex.failed, ex.missing, ex.resubmit]).toEqual([1, 1, 2, 0, 0, '']);
    expect(st.steps.find((s) => s.step === 'cluster-sample')!.pending).toBe(4);
    expect(st.steps.find((s) => s.step === 'cluster-fit')!.detail[0]).toMatchObject({ state: 'pending', job: '503', reason: 'PENDING (Dependency)' });
    expect(st.steps.find((s) => s.step === 'cluster')!.missing).toBe(4); // not submitted: missing
    const text = formatStatus(st);
    expect(text).toMatch(/extract\s+4\s+1\s+1\s+2\s+0\s+0\s+-/);
    expect(text).toMatch(/pending extract 2-3: PENDING \(Resources\), PENDING \(Priority\)/);
    expect(text).toMatch(/pending cluster-fit 0: PENDING \(Dependency\)/);
    // The CLI asks squeue; without it on PATH the records alone speak, and the status says so.
    const cli = await avcurate(['status', '--config', file, '--json'], env);
    expect(JSON.parse(cli.stdout).steps[0]).toMatchObject({ step: 'extract', pending: 2, running: 1 });
    expect((await avcurate(['status', '--config', file, '--missing', 'extract'], env)).stdout).toBe('\n');
    const none = { ...process.env, PATH: path.join(root, 'empty-path') };
    const bare = runStatus(config, Date.now(), { scheduler: true, env: none });
    expect(bare.scheduler).toBeNull();
    expect(bare.schedulerNote).toMatch(/squeue is not on PATH/);
    expect(bare.steps[0].detail.map((t) => t.state)).toEqual(['complete', 'missing', 'missing', 'failed']);
    // A Slurm that refuses a list holding a job that left the queue: asked job by job.
    writeFileSync(path.join(bin, 'squeue'), `#!/bin/sh\ncase "$*" in *,*) echo 'squeue: error: Invalid job id specified' >&2; exit 1;; *"-j 501") echo '501|2|PENDING|Resources';; esac\nexit 0\n`);
    const per = runStatus(config, Date.now(), { scheduler: true, env });
    expect(per.steps[0].detail.map((t) => t.state)).toEqual(['complete', 'missing', 'pending', 'failed']);
  });
});
