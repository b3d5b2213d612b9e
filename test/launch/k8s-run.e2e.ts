/**
 * Kubernetes per-index test (npm run test:launch): every Job that `launch k8s` writes is run as the
 * kubelet would, one pod per completion index, in order: its init containers, then its container,
 * each command as written in the manifest with JOB_COMPLETION_INDEX and the manifest's env set and
 * the manifest's workingDir. The ConfigMap becomes a local file and the volume claim a local folder
 * (the only substitutions). The result must equal a one-process curation of the same config.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import YAML from 'yaml';
import { Job } from 'kubernetes-models/batch/v1';
import { avcurate, BIN, expectSameCuration, tinyConfig } from './helpers.js';

const root = mkdtempSync(path.join(os.tmpdir(), 'avc-k8srun-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

interface Container {
  name: string;
  command: string[];
  workingDir: string;
  env?: Array<{ name: string; value: string }>;
}

describe('launch k8s: each Job command per index', () => {
  it('runs the whole curation pod by pod and equals a one-process run', async () => {
    const mount = path.join(root, 'pvc');
    mkdirSync(mount, { recursive: true });
    const raw = {
      ...tinyConfig(path.join(root, 'local', 'tiny'), { clips: 36, shardSize: 12, partitions: 3 }),
      launch: { k8s: { command: [process.execPath, BIN], mountPath: mount } },
    };
    mkdirSync(path.join(root, 'local'), { recursive: true });
    const cfg = path.join(root, 'k.yaml');
    writeFileSync(cfg, YAML.stringify(raw));
    const single = path.join(root, 'single.yaml');
    writeFileSync(single, YAML.stringify({ ...raw, runDir: path.join(root, 'single') }));
    const ref = await avcurate(['curate', '--config', single, '--quiet']);
    expect(ref.code, ref.stderr).toBe(0);

    const r = await avcurate(['launch', 'k8s', '--config', cfg, '--shards', '3', '--stages', 'ingest,extract,cluster,select']);
    expect(r.code, r.stderr).toBe(0);
    const docs = YAML.parseAllDocuments(readFileSync(path.join(root, 'local', 'tiny', 'launch', 'k8s', 'all.yaml'), 'utf8')).map((d) => d.toJS() as Record<string, any>);
    // The ConfigMap mounted at /etc/avcurate becomes a local folder.
    const etc = path.join(root, 'etc-avcurate');
    mkdirSync(etc, { recursive: true });
    writeFileSync(path.join(etc, 'config.yaml'), docs[0].data['config.yaml']);
    const local = (args: string[]) => args.map((a) => a.replace('/etc/avcurate', etc));

    const run = (c: Container, index: number) => {
      const env: NodeJS.ProcessEnv = { ...process.env, JOB_COMPLETION_INDEX: String(index), HOSTNAME: `pod-${c.name}-${index}` };
      for (const e of c.env ?? []) env[e.name] = e.value;
      const [cmd, ...args] = local(c.command);
      const p = spawnSync(cmd, args, { cwd: c.workingDir, env, encoding: 'utf8', timeout: 300_000 });
      return p;
    };
    for (const job of docs.slice(1)) {
      new Job(job as never).validate();
      const spec = job.spec;
      expect(spec.completionMode).toBe('Indexed');
      for (let i = 0; i < spec.completions; i++) {
        for (const c of [...spec.template.spec.initContainers, ...spec.template.spec.containers] as Container[]) {
          const p = run(c, i);
          expect(p.status, `${job.metadata.name} index ${i} container ${c.name}: ${p.stdout}\n${p.stderr}`).toBe(0);
        }
      }
    }
    const podRun = path.join(mount, 'runs', 'tiny');
    // a done task is the stage ledger's record (its running/failed state file is gone)
    expect(existsSync(path.join(podRun, 'stages', 'launch-task', 'extract_2-of-3.json'))).toBe(true);
    expect(existsSync(path.join(podRun, 'launch', 'state', 'extract', '2.json'))).toBe(false);
    const st = await avcurate(['status', '--config', path.join(etc, 'config.yaml'), '--json'], process.env, mount);
    expect(JSON.parse(st.stdout).complete).toBe(true);
    await expectSameCuration(path.join(root, 'single'), podRun);
  });

  it('a task refuses a wrong index count, a changed config, and a missing run folder with exit code 3', async () => {
    const podCfg = path.join(root, 'etc-avcurate', 'config.yaml');
    const mount = path.join(root, 'pvc');
    const wrong = await avcurate(['launch', 'task', 'extract', '--config', podCfg, '--shard', '0/4'], process.env, mount);
    expect(wrong.code).toBe(3);
    expect(wrong.stderr).toMatch(/runs as 3 task\(s\) \(launched with --shards 3\)/);
    const changed = await avcurate(['launch', 'task', 'select', '--config', podCfg, '--shard', '0/3', '--set', 'selection.ratio=0.3'], process.env, mount);
    expect(changed.code).toBe(3);
    expect(changed.stderr).toMatch(/config changed since the launch/);
    const gone = await avcurate(['launch', 'task', 'extract', '--config', podCfg, '--shard', '0/3', '--set', `runDir=${path.join(root, 'not-mounted', 'run')}`], process.env, mount);
    expect(gone.code).toBe(3);
    expect(gone.stderr).toMatch(/does not exist on .*shared by every node/);
  });
});
