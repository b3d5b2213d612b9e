/**
 * The "Bootstrapped features" section of report.html: precision per round from
 * bootstrap/rounds.json (curate.bootstrap; docs/features.md), when the run folder holds it.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type { BootstrapRound } from '../curation/bootstrap.js';
import { bootstrapDir } from '../curation/bootstrap.js';
import { escapeHtml } from './report-html.js';

/** HTML of the section, or '' when the run has no bootstrap rounds. */
export function bootstrapSection(runDir: string): string {
  const file = path.join(bootstrapDir(runDir), 'rounds.json');
  if (!existsSync(file)) return '';
  let rounds: BootstrapRound[];
  try {
    rounds = (JSON.parse(readFileSync(file, 'utf8')) as { rounds: BootstrapRound[] }).rounds;
  } catch (err) {
    throw new Error(`report: cannot read ${file}: ${(err as Error).message}`);
  }
  const f = (x: number | undefined) => (x === undefined || !Number.isFinite(x) ? '–' : x.toFixed(3));
  const rows = rounds.map((r) => {
    const p = r.precision;
    return `<tr><td>${r.round}</td><td>${r.round === 0 ? 'configured extractors' : `encoder after ${r.pretrainSteps} steps`}</td><td>${f(p?.atPositives)}</td><td>${f(p?.atRatio)}</td><td>${f(p?.random)}</td><td>${r.selected} / ${r.pool}</td><td>${f(r.objective)}</td><td>${escapeHtml(r.layers.join(' '))}</td></tr>`;
  });
  const ratio = rounds.find((r) => r.precision)?.precision?.ratio;
  return (
    `<h2>Bootstrapped features</h2><p>Each round pretrains on the previous round's selection, embeds every clip with the trained towers, clusters those layers and selects again (<code>bootstrap/round-&lt;r&gt;/</code>).</p>` +
    `<table id="bootstrap"><tr><th>round</th><th>features</th><th>precision at #positives</th><th>precision top ${ratio !== undefined ? Math.round(ratio * 100) : '?'} %</th><th>random</th><th>selected</th><th>objective</th><th>layers</th></tr>${rows.join('')}</table>`
  );
}
