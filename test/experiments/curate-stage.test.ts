/**
 * The experiment's curate stage hands the arms the final curation: with curate.bootstrap.rounds,
 * the last round's selection, not the run folder's round-0 selection.csv.
 */
import { mkdirSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/load.js';
import { curateStage } from '../../src/experiments/stages/curate.js';
import { writeManifest, type ClipRecord } from '../../src/run/manifest.js';
import { writeSelectionCsv } from '../../src/run/selection.js';
import { StageLedger } from '../../src/run/ledger.js';
import { tinyCurateConfig } from '../helpers/tiny-config.js';
import { extractorCodeKey, EXTRACTOR_VERSIONS } from '../../src/curation/features/versions.js';
import { BuiltinAudioExtractor } from '../../src/curation/features/builtin-audio.js';
import { BuiltinVisualExtractor } from '../../src/curation/features/builtin-visual.js';

const root = mkdtempSync(path.join(os.tmpdir(), 'avc-curate-stage-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

const ids = ['c0', 'c1', 'c2', 'c3'];
const clip = (id: string, i: number): ClipRecord => ({
  id, source: `${id}.mp4`, start: 0, duration: 1, video_id: id, corresponds: i % 2 === 0,
  probe: { duration: 1, width: 32, height: 32, fps: 6, sampleRate: 16000, videoCodec: 'h264', audioCodec: 'aac' },
});
const rows = (order: string[]) => order.map((id, r) => ({ rank: r + 1, id, video_id: id, start: 0, end: 1, gain: 0.1, objective: 0.1 * (r + 1) }));

async function run(rounds: number): Promise<{ file: string; ranking: string[] }> {
  const runDir = path.join(root, `rounds-${rounds}`);
  mkdirSync(runDir, { recursive: true });
  const pool = path.join(runDir, 'pool.jsonl');
  writeFileSync(pool, ids.map((id) => JSON.stringify({ id })).join('\n') + '\n');
  const config = parseConfig(tinyCurateConfig({ name: 'cs', runDir, seed: 1, clips: 4, shardSize: 4 }, { curate: { bootstrap: { rounds } } }));
  // A stand-in curation that writes what the real one leaves: the manifest, round 0's selection
  // and, with rounds, each round's selection in a different order.
  const curate = async () => {
    await writeManifest(path.join(runDir, 'manifest.jsonl'), ids.map(clip));
    await writeSelectionCsv(path.join(runDir, 'selection.csv'), rows(['c0', 'c1']));
    for (let r = 1; r <= rounds; r++) {
      mkdirSync(path.join(runDir, 'bootstrap', `round-${r}`), { recursive: true });
      await writeSelectionCsv(path.join(runDir, 'bootstrap', `round-${r}`, 'selection.csv'), rows(r === rounds ? ['c2', 'c0'] : ['c3', 'c1']));
    }
    return [{ stage: 'select', seconds: 0 }];
  };
  const ctx = { config, runDir, expDir: path.join(runDir, 'experiment'), ledger: new StageLedger(runDir, { silent: true }), silent: true, notes: [] };
  const cur = await curateStage(ctx, { poolFile: pool, heldOutFile: null, pool: 4, heldOut: 0 }, curate);
  return { file: cur.selectionFile, ranking: cur.curatedRanking };
}

/** The curate stage over a stand-in curation that counts its runs (and writes what the real one leaves). */
function countingStage(config: ReturnType<typeof parseConfig>, runDir: string, pool: string): { stage: () => Promise<unknown>; calls: () => number } {
  let calls = 0;
  const curate = async () => {
    calls++;
    await writeManifest(path.join(runDir, 'manifest.jsonl'), ids.map(clip));
    await writeSelectionCsv(path.join(runDir, 'selection.csv'), rows(['c0', 'c1']));
    return [];
  };
  const stage = () => curateStage({ config, runDir, expDir: path.join(runDir, 'experiment'), ledger: new StageLedger(runDir, { silent: true }), silent: true, notes: [] }, { poolFile: pool, heldOutFile: null, pool: 4, heldOut: 0 }, curate);
  return { stage, calls: () => calls };
}

describe('experiment curate stage', () => {
  it('is redone when a clip of the pool was rendered again under the same pool list', async () => {
    const runDir = path.join(root, 'redo');
    mkdirSync(path.join(runDir, 'corpus'), { recursive: true });
    for (const id of ids) writeFileSync(path.join(runDir, 'corpus', `${id}.mp4`), `clip ${id}`);
    const pool = path.join(runDir, 'pool.jsonl');
    writeFileSync(pool, ids.map((id) => JSON.stringify({ id, file: path.join(runDir, 'corpus', `${id}.mp4`), corresponds: true })).join('\n') + '\n');
    const config = parseConfig(tinyCurateConfig({ name: 'cs', runDir, seed: 1, clips: 4, shardSize: 4 }));
    const { stage, calls } = countingStage(config, runDir, pool);
    await stage();
    await stage();
    expect(calls()).toBe(1);
    const later = new Date(Date.now() + 5000);
    utimesSync(path.join(runDir, 'corpus', 'c2.mp4'), later, later);
    await stage();
    expect(calls()).toBe(2);
  });

  it('is redone when an extractor\'s model file changes (its code key), not on a plain rerun', async () => {
    const runDir = path.join(root, 'model');
    mkdirSync(runDir, { recursive: true });
    const pool = path.join(runDir, 'pool.jsonl');
    writeFileSync(pool, ids.map((id) => JSON.stringify({ id })).join('\n') + '\n');
    const model = path.join(runDir, 'tower.onnx');
    writeFileSync(model, 'weights v1');
    const features = { shardSize: 4, decode: { fps: 6, width: 32, height: 32 }, audio: [{ type: 'builtin' }], visual: [{ type: 'onnx', model, outputs: [{ output: 'emb' }] }] };
    const config = parseConfig(tinyCurateConfig({ name: 'cs', runDir, seed: 1, clips: 4, shardSize: 4 }, { features }));
    const { stage, calls } = countingStage(config, runDir, pool);
    await stage();
    await stage();
    expect(calls()).toBe(1);
    writeFileSync(model, 'weights v2, retrained');
    await stage();
    expect(calls()).toBe(2);
  });

  it('extractorCodeKey: each extractor\'s code version, and its model file\'s size and time', async () => {
    const dir = path.join(root, 'key');
    mkdirSync(path.join(dir, 'ckpt', 'step-1'), { recursive: true });
    writeFileSync(path.join(dir, 'm.onnx'), 'abc');
    writeFileSync(path.join(dir, 'ckpt', 'step-1', 'weights.bin'), '0123');
    const key = (await extractorCodeKey(
      {
        audio: [{ type: 'builtin', frames: 8, maxSize: 128 }],
        visual: [
          { type: 'onnx', model: 'm.onnx' } as never,
          { type: 'encoder', checkpoint: 'ckpt' } as never,
        ],
      },
      dir,
    )) as Array<Record<string, unknown>>;
    expect(key[0]).toEqual({ modality: 'audio', type: 'builtin', version: EXTRACTOR_VERSIONS['builtin-audio'] });
    expect(key[1]).toMatchObject({ modality: 'visual', type: 'onnx', version: EXTRACTOR_VERSIONS.onnx, model: { path: path.join(dir, 'm.onnx'), size: 3 } });
    expect((key[2].model as { files: unknown[] }).files).toEqual([[path.join('step-1', 'weights.bin'), 4, expect.any(Number)]]);
    // The built-in extractors report the versions the key uses.
    expect(new BuiltinAudioExtractor().version).toBe(EXTRACTOR_VERSIONS['builtin-audio']);
    expect(new BuiltinVisualExtractor({ frames: 4, maxSize: 32 }).version).toBe(EXTRACTOR_VERSIONS['builtin-visual']);
    // A missing model is keyed as missing, not an error (the curation itself reports it).
    const gone = (await extractorCodeKey({ audio: [], visual: [{ type: 'onnx', model: 'nope.onnx' } as never] }, dir)) as Array<Record<string, unknown>>;
    expect(gone[0].model).toEqual({ path: path.join(dir, 'nope.onnx'), missing: true });
  });

  it('trains the curated arm on the last bootstrap round, and on selection.csv without rounds', async () => {
    const plain = await run(0);
    expect(plain.ranking).toEqual(['c0', 'c1']);
    expect(plain.file).toBe(path.join(root, 'rounds-0', 'selection.csv'));
    const boot = await run(2);
    expect(boot.ranking).toEqual(['c2', 'c0']);
    expect(boot.file).toBe(path.join(root, 'rounds-2', 'bootstrap', 'round-2', 'selection.csv'));
  });
});
