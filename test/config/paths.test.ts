import { afterAll, describe, expect, it } from 'vitest';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { z } from 'zod';
import { loadConfig, parseConfig } from '../../src/config/load.js';
import { ConfigSchema } from '../../src/config/schema.js';
import { CONFIG_PATH_KEYS } from '../../src/config/paths.js';

const dir = mkdtempSync(path.join(os.tmpdir(), 'avc-cfgpaths-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function write(rel: string, text: string): string {
  const file = path.join(dir, rel);
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, text);
  return file;
}

/** The schema node at a key path ('*' = list element), unwrapping optional/default/union. */
function schemaAt(schema: z.ZodType, keys: string[]): z.ZodType[] {
  const unwrap = (s: z.ZodType): z.ZodType[] => {
    const def = (s as unknown as { def: { type: string; innerType?: z.ZodType; options?: z.ZodType[]; in?: z.ZodType } }).def;
    if (def.type === 'optional' || def.type === 'default' || def.type === 'nullable' || def.type === 'prefault') return unwrap(def.innerType!);
    if (def.type === 'pipe') return unwrap(def.in!);
    if (def.type === 'union') return def.options!.flatMap(unwrap);
    return [s];
  };
  let nodes = unwrap(schema);
  for (const k of keys) {
    const next: z.ZodType[] = [];
    for (const n of nodes) {
      if (k === '*' && n instanceof z.ZodArray) next.push(...unwrap(n.element as z.ZodType));
      else if (n instanceof z.ZodObject && k in n.shape) next.push(...unwrap(n.shape[k] as z.ZodType));
    }
    nodes = next;
  }
  return nodes;
}

describe('paths in a config', () => {
  it('every listed path key exists in the schema as a string', () => {
    for (const keys of CONFIG_PATH_KEYS) {
      const nodes = schemaAt(ConfigSchema, keys);
      expect(nodes.length, keys.join('.')).toBeGreaterThan(0);
      expect(nodes.every((n) => n instanceof z.ZodString), keys.join('.')).toBe(true);
    }
  });

  it('resolve against the config file folder; --set paths against the working directory', () => {
    const file = write('cfgs/sub/x.yaml', [
      'runDir: ../runs/x',
      'corpus: { source: ../../data/videos }',
      'features: { audio: [{ type: onnx, model: models/a.onnx, outputs: [{ output: emb }] }] }',
      'experiment: { tasks: [{ name: t, dataset: { kind: csv, path: lists/t.csv, root: /abs/videos } }] }',
      'loader: { export: { out: shards } }',
    ].join('\n'));
    const base = path.join(dir, 'cfgs', 'sub');
    const c = loadConfig(file);
    expect(c.runDir).toBe(path.join(dir, 'cfgs', 'runs', 'x'));
    expect(c.corpus.source).toBe(path.join(dir, 'data', 'videos'));
    expect((c.features.audio[0] as { model: string }).model).toBe(path.join(base, 'models', 'a.onnx'));
    expect(c.experiment.tasks[0].dataset).toMatchObject({ path: path.join(base, 'lists', 't.csv'), root: '/abs/videos' });
    expect(c.loader.export.out).toBe(path.join(base, 'shards'));
    const o = loadConfig(file, ['corpus.source=rel/here', 'runDir=/abs/run', 'corpus={source: b}']);
    expect(o.runDir).toBe('/abs/run');
    expect(o.corpus.source).toBe(path.resolve('b'));
    expect(loadConfig(file, ['corpus.source=rel/here']).corpus.source).toBe(path.resolve('rel/here'));
    // without runDir, the default run folder is runs/<name> under the working directory
    expect(loadConfig(write('cfgs/y.yaml', 'name: y\n')).runDir).toBe(path.join('runs', 'y'));
  });
});

describe('the corpus section', () => {
  it('takes one of synth, source or realPairs, refused with the keys named before any work', () => {
    expect(parseConfig({ corpus: { synth: {} } }).corpus.synth?.clips).toBeGreaterThan(0);
    expect(parseConfig({ corpus: { realPairs: {} } }).corpus.realPairs?.mismatch).toBe(0.5);
    expect(parseConfig({}).corpus).toEqual({});
    expect(() => parseConfig({ corpus: { synth: {}, source: 'x' } })).toThrow(/corpus\.source: corpus: set one of synth, source or realPairs, not synth and source/);
    expect(() => parseConfig({ corpus: { source: 'x', realPairs: {} } })).toThrow(/not source and realPairs/);
    expect(() => parseConfig({ corpus: { videos: 'x' } })).toThrow(/corpus/);
    const old = write('old.yaml', 'experiment: { realPairs: { mismatch: 0.5 } }\n');
    expect(() => loadConfig(old)).toThrow(/experiment\.realPairs: moved to corpus\.realPairs/);
  });
});
