/**
 * eval-selection on the stage ledger (src/run/ledger.ts): one record per evaluation file
 * (stages/eval-selection/<selection[.method].eval>.json). An unchanged rerun skips and returns the
 * recorded summary; a changed cut-off ratio, ranking or truth file redoes it with the ledger's
 * message naming what changed; a deleted evaluation file is written again with the same bytes.
 */
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../../../src/config/load.js';
import { plantedLabels, runEvalSelection, runSelect } from '../../../src/curation/selection/index.js';
import { readStageRecord } from '../../../src/run/ledger.js';
import { writePlantedRun } from '../../helpers/planted-run.js';
import { logged } from '../../helpers/logged.js';

const root = mkdtempSync(path.join(os.tmpdir(), 'avc-eval-ledger-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

describe('eval-selection on the stage ledger', () => {
  it('skips an unchanged rerun, redoes a changed ratio / ranking / truth naming what changed, rewrites a deleted file identically', async () => {
    const p = plantedLabels({ n: 240, k: 6, concepts: 6, noise: 0.1, seed: 3 });
    const dir = path.join(root, 'run');
    const ids = await writePlantedRun(dir, p);
    const cfg = (evaluation: Record<string, unknown> = {}, selection: Record<string, unknown> = { ratio: 0.5 }) =>
      parseConfig({ name: 'eval-ledger', runDir: dir, seed: 7, selection, evaluation });
    await runSelect(cfg(), { silent: true });
    const evalFile = path.join(dir, 'selection.eval.json');

    const first = await runEvalSelection(cfg(), { silent: true });
    expect(first.skipped).toBe(false);
    const rec = await readStageRecord(dir, 'eval-selection', 'selection.eval');
    expect(rec?.outputs).toEqual(['selection.eval.json']);
    const bytes = readFileSync(evalFile, 'utf8');
    const mtime = statSync(evalFile).mtimeMs;

    // Unchanged: skipped, the summary comes back from the record, the file is not written again.
    const again = await runEvalSelection(cfg(), { silent: true });
    expect(again.skipped).toBe(true);
    expect(again.summary).toEqual(first.summary);
    expect(again.text).toBe(first.text);
    expect(statSync(evalFile).mtimeMs).toBe(mtime);
    expect((await readStageRecord(dir, 'eval-selection', 'selection.eval'))!.finishedAt).toBe(rec!.finishedAt);

    // A changed evaluation.topRatio: redone, the ledger's line names the config section.
    const ratio = await logged(() => runEvalSelection(cfg({ topRatio: 0.1 })));
    expect(ratio.value.skipped).toBe(false);
    expect(ratio.value.summary.atRatio.ratio).toBe(0.1);
    expect(ratio.lines.join('')).toMatch(/eval-selection: eval-selection selection\.eval: stages\/eval-selection\/selection\.eval\.json: config section evaluation changed \([0-9a-f]{8} → [0-9a-f]{8}\); running it again/);

    // Back to the first ratio: redone, the same bytes as the first evaluation.
    expect((await runEvalSelection(cfg(), { silent: true })).skipped).toBe(false);
    expect(readFileSync(evalFile, 'utf8')).toBe(bytes);

    // A deleted evaluation: redone, the same bytes.
    rmSync(evalFile);
    const lost = await logged(() => runEvalSelection(cfg()));
    expect(lost.value.skipped).toBe(false);
    expect(lost.lines.join('')).toMatch(/stages\/eval-selection\/selection\.eval\.json: output selection\.eval\.json is missing; running it again/);
    expect(readFileSync(evalFile, 'utf8')).toBe(bytes);

    // Another ranking in selection.csv (a changed selection section): the input selection changed.
    await runSelect(cfg({}, { ratio: 0.25 }), { silent: true });
    const ranking = await logged(() => runEvalSelection(cfg({}, { ratio: 0.25 })));
    expect(ranking.value.skipped).toBe(false);
    expect(ranking.lines.join('')).toMatch(/input selection changed/);
    expect((await runEvalSelection(cfg({}, { ratio: 0.25 }), { silent: true })).skipped).toBe(true);

    // A truth file given with --truth: its own record inputs; edited, it is redone.
    const truthFile = path.join(dir, 'truth.jsonl');
    writeFileSync(truthFile, ids.map((id, i) => JSON.stringify({ id, corresponds: p.truth[i] === 1 })).join('\n') + '\n');
    const t1 = await runEvalSelection(cfg({}, { ratio: 0.25 }), { silent: true, truth: truthFile });
    expect(t1.skipped).toBe(false);
    expect((await runEvalSelection(cfg({}, { ratio: 0.25 }), { silent: true, truth: truthFile })).skipped).toBe(true);
    writeFileSync(truthFile, ids.map((id) => JSON.stringify({ id, corresponds: true })).join('\n') + '\n');
    const t2 = await logged(() => runEvalSelection(cfg({}, { ratio: 0.25 }), { truth: truthFile }));
    expect(t2.value.skipped).toBe(false);
    expect(t2.lines.join('')).toMatch(/input truth changed/);
    expect(t2.value.summary.atPositives.precision).toBe(1);
  }, 60_000);
});
