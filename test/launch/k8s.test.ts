/** launch k8s: the manifests validate against the Kubernetes API schema (kubernetes-models) and say what the design asks. */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import YAML from 'yaml';
import { ConfigMap } from 'kubernetes-models/v1';
import { Job } from 'kubernetes-models/batch/v1';
import { parseConfig } from '../../src/config/load.js';
import { renderManifests, podConfigText, k8sName } from '../../src/launch/k8s.js';
import { avcurate, tinyConfig } from './helpers.js';

const root = mkdtempSync(path.join(os.tmpdir(), 'avc-k8s-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

function validate(o: Record<string, unknown>): void {
  if (o.kind === 'ConfigMap') new ConfigMap(o as never).validate();
  else if (o.kind === 'Job') new Job(o as never).validate();
  else throw new Error(`unexpected kind ${String(o.kind)}`);
}

describe('launch k8s manifests', () => {
  const raw = { ...tinyConfig(path.join(root, 'local', 'tiny')), launch: { k8s: { image: 'registry.example/avcurate:1.0', pvc: 'runs', mountPath: '/data', gpus: 1, retriesPerIndex: 3, parallelism: 2 } } };

  it('writes a ConfigMap and one Indexed Job per step that validate against the Kubernetes schema', async () => {
    mkdirSync(path.join(root, 'local'), { recursive: true });
    const cfg = path.join(root, 'k.yaml');
    writeFileSync(cfg, YAML.stringify(raw));
    const r = await avcurate(['launch', 'k8s', '--config', cfg, '--shards', '3']);
    expect(r.code, r.stderr).toBe(0);
    const docs = YAML.parseAllDocuments(readFileSync(path.join(root, 'local', 'tiny', 'launch', 'k8s', 'all.yaml'), 'utf8')).map((d) => d.toJS() as Record<string, unknown>);
    expect(docs.map((d) => d.kind)).toEqual(['ConfigMap', ...Array(12).fill('Job')]);
    for (const d of docs) validate(d);
    const jobs = docs.slice(1) as Array<{ metadata: { name: string }; spec: Record<string, any> }>;
    expect(jobs.map((j) => j.metadata.name)).toEqual(
      ['corpus', 'ingest', 'ingest-merge', 'extract', 'cluster-sample', 'cluster-fit', 'cluster', 'cluster-merge', 'select', 'select-merge', 'export', 'export-merge'].map((s) => `avc-tiny-${s}`),
    );
    for (const j of jobs) {
      expect(j.spec.completionMode).toBe('Indexed');
      expect(j.spec.backoffLimitPerIndex).toBe(3);
      expect(j.spec.template.spec.restartPolicy).toBe('Never');
      expect(j.spec.podFailurePolicy.rules[0]).toMatchObject({ action: 'FailIndex', onExitCodes: { containerName: 'task', operator: 'In', values: [2, 3] } });
      const c = j.spec.template.spec.containers[0];
      expect(c.image).toBe('registry.example/avcurate:1.0');
      expect(c.resources.limits['nvidia.com/gpu']).toBe('1');
      expect(j.spec.template.spec.volumes[0]).toEqual({ name: 'run', persistentVolumeClaim: { claimName: 'runs' } });
    }
    const byName = (s: string) => jobs.find((j) => j.metadata.name === `avc-tiny-${s}`)!;
    expect(byName('extract').spec.completions).toBe(3);
    expect(byName('extract').spec.parallelism).toBe(2);
    expect(byName('cluster-fit').spec.completions).toBe(1);
    // Order: each Job's init container waits for the step before.
    expect(byName('cluster-fit').spec.template.spec.initContainers[1].command).toEqual(['avcurate', 'status', '--config', '/etc/avcurate/config.yaml', '--wait', 'cluster/cluster-sample', '--interval', '10']);
    expect(byName('corpus').spec.template.spec.initContainers.map((c: { name: string }) => c.name)).toEqual(['plan']);
    expect(byName('ingest').spec.completions).toBe(3);
    // The config the pods read has its run folder on the claim.
    const cm = docs[0] as { data: Record<string, string> };
    expect(YAML.parse(cm.data['config.yaml']).runDir).toBe('/data/runs/tiny');
  });

  it('the schema check catches a broken manifest, and bad k8s settings are refused', () => {
    const config = parseConfig(raw);
    const [, job] = renderManifests(config, 2, ['extract']) as Array<Record<string, any>>;
    expect(() => validate(job)).not.toThrow();
    const broken = structuredClone(job);
    broken.spec.completions = 'two';
    expect(() => validate(broken)).toThrow();
    const bad = parseConfig({ ...raw, launch: { k8s: { mountPath: '/data', runDir: '/elsewhere/run' } } });
    expect(() => podConfigText(bad)).toThrow(/outside the volume mount \/data/);
    expect(k8sName('avc', 'My_Run.v2', 'cluster-fit')).toBe('avc-my-run-v2-cluster-fit');
  });
});
