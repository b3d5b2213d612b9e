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

describe('experiment curate stage', () => {
  it('is redone when a clip of the pool was rendered again under the same pool list', async () => {
    const runDir = path.join(root, 'redo');
    mkdirSync(path.join(runDir, 'corpus'), { recursive: true });
    for (const id of ids) writeFileSync(path.join(runDir, 'corpus', `${id}.mp4`), `clip ${id}`);
    const pool = path.join(runDir, 'pool.jsonl');
    writeFileSync(pool, ids.map((id) => JSON.stringify({ id, file: path.join(runDir, 'corpus', `${id}.mp4`), corresponds: true })).join('\n') + '\n');
    const config = parseConfig(tinyCurateConfig({ name: 'cs', runDir, seed: 1, clips: 4, shardSize: 4 }));
    let calls = 0;
    const curate = async () => {
      calls++;
      await writeManifest(path.join(runDir, 'manifest.jsonl'), ids.map(clip));
      await writeSelectionCsv(path.join(runDir, 'selection.csv'), rows(['c0', 'c1']));
      return [];
    };
    const stage = () => curateStage({ config, runDir, expDir: path.join(runDir, 'experiment'), ledger: new StageLedger(runDir, { silent: true }), silent: true, notes: [] }, { poolFile: pool, heldOutFile: null, pool: 4, heldOut: 0 }, curate);
    await stage();
    await stage();
    expect(calls).toBe(1);
    const later = new Date(Date.now() + 5000);
    utimesSync(path.join(runDir, 'corpus', 'c2.mp4'), later, later);
    await stage();
    expect(calls).toBe(2);
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
