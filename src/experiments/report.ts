/**
 * report.html: one self-contained page (no network, no scripts) made from results.json:
 * precision-versus-budget per selection method, the objective curve, probe accuracy per arm and
 * modality with the spread over seeds, a grid of selected and rejected clips (a frame and a
 * spectrogram of each, drawn by ffmpeg and embedded as data URIs), stage timings and the config.
 * Plots are vega-lite specs compiled to vega and rendered to SVG in Node.
 */
import path from 'node:path';
import type { TopLevelSpec } from 'vega-lite';
import YAML from 'yaml';
import { Pool } from '../runtime/pool.js';
import { writeFileAtomic } from '../runtime/atomic.js';
import { runLayout } from '../run/layout.js';
import { clipImages, escapeHtml, renderSvg, type ClipImages } from './report-html.js';
import { aggregateProbes, topPct, type ClipPreview, type ExperimentResults } from './results.js';

export interface ReportOptions {
  /** Folder that relative clip paths are resolved against (default: results.runDir). */
  baseDir?: string;
  /** Draw clip images with ffmpeg (default true). */
  images?: boolean;
  /** Concurrent ffmpeg processes for images (default 2). */
  concurrency?: number;
  /** Frame and spectrogram width in pixels (default 160). */
  imageWidth?: number;
}

export { clipImages, escapeHtml, renderSvg, type ClipImages } from './report-html.js';

export interface ReportPlot {
  id: string;
  title: string;
  spec: TopLevelSpec;
}

const fmt = (x: number | undefined, digits = 3) => (x === undefined || !Number.isFinite(x) ? '–' : x.toFixed(digits));
const pct = (x: number | undefined) => (x === undefined || !Number.isFinite(x) ? '–' : (100 * x).toFixed(1));

const SCHEMA = 'https://vega.github.io/schema/vega-lite/v6.json';
const MODALITY_ORDER = ['audio', 'visual', 'both', 'cross'];

/** The vega-lite specs of every plot the results have data for. */
export function reportPlots(results: ExperimentResults): ReportPlot[] {
  const plots: ReportPlot[] = [];
  const curveRows = results.selection.flatMap((s) => s.curve.map((p) => ({ method: s.method, size: p.size, precision: p.precision })));
  if (curveRows.length > 0) {
    const layers: Array<Record<string, unknown>> = [
      {
        data: { values: curveRows },
        mark: { type: 'line', interpolate: 'linear', strokeWidth: 2 },
        encoding: {
          x: { field: 'size', type: 'quantitative', title: 'selected clips (prefix of the ranking)' },
          y: { field: 'precision', type: 'quantitative', title: 'precision (truly corresponding)', scale: { domain: [0, 1] } },
          color: { field: 'method', type: 'nominal', title: 'method' },
        },
      },
    ];
    if (results.pool.positives !== undefined) {
      layers.push({
        data: { values: [{ positives: results.pool.positives }] },
        mark: { type: 'rule', strokeDash: [4, 4], color: '#888' },
        encoding: { x: { field: 'positives', type: 'quantitative' } },
      });
    }
    plots.push({
      id: 'precision-vs-budget',
      title: 'Selection precision versus budget',
      spec: { $schema: SCHEMA, width: 520, height: 280, layer: layers } as unknown as TopLevelSpec,
    });
  }
  const objRows = results.selection.flatMap((s) => (s.objective ?? []).map((p) => ({ method: s.method, size: p.size, objective: p.objective })));
  if (objRows.length > 0) {
    plots.push({
      id: 'objective',
      title: 'Objective along the ranking',
      spec: {
        $schema: SCHEMA,
        width: 520,
        height: 240,
        data: { values: objRows },
        mark: { type: 'line', strokeWidth: 2 },
        encoding: {
          x: { field: 'size', type: 'quantitative', title: 'selected clips' },
          y: { field: 'objective', type: 'quantitative', title: 'objective F(S) (nats)', scale: { zero: false } },
          color: { field: 'method', type: 'nominal' },
        },
      } as TopLevelSpec,
    });
  }
  const agg = aggregateProbes(results.probes);
  const tasks = [...new Set(agg.map((a) => a.task))];
  const armOrder = results.arms.map((a) => a.arm);
  for (const task of tasks) {
    const rows = agg
      .filter((a) => a.task === task)
      .map((a) => ({ arm: a.arm, modality: a.modality, top1: a.top1, lo: Math.max(0, a.top1 - a.top1Std), hi: Math.min(1, a.top1 + a.top1Std), seeds: a.seeds }));
    const chance = agg.find((a) => a.task === task)!.chance;
    const x = { field: 'arm', type: 'nominal', title: 'pretraining arm', sort: armOrder.length ? armOrder : undefined, axis: { labelAngle: 0 } };
    plots.push({
      id: `probe-${task}`,
      title: `Linear-probe top-1 accuracy: ${task} (mean ± std over seeds)`,
      spec: {
        $schema: SCHEMA,
        width: 520,
        height: 260,
        layer: [
          {
            data: { values: rows },
            mark: { type: 'bar' },
            encoding: {
              x,
              xOffset: { field: 'modality', type: 'nominal', sort: MODALITY_ORDER },
              y: { field: 'top1', type: 'quantitative', title: 'top-1 accuracy', scale: { domain: [0, 1] } },
              color: { field: 'modality', type: 'nominal', title: 'modality', sort: MODALITY_ORDER },
            },
          },
          {
            data: { values: rows },
            mark: { type: 'rule', color: 'black' },
            encoding: {
              x,
              xOffset: { field: 'modality', type: 'nominal', sort: MODALITY_ORDER },
              y: { field: 'lo', type: 'quantitative' },
              y2: { field: 'hi' },
            },
          },
          {
            data: { values: [{ chance }] },
            mark: { type: 'rule', strokeDash: [4, 4], color: '#c00' },
            encoding: { y: { field: 'chance', type: 'quantitative' } },
          },
        ],
      } as TopLevelSpec,
    });
  }
  if (results.timings.length > 0) {
    plots.push({
      id: 'timings',
      title: 'Time per stage',
      spec: {
        $schema: SCHEMA,
        width: 520,
        height: { step: 18 },
        data: { values: results.timings.map((t, i) => ({ ...t, order: i })) },
        mark: { type: 'bar' },
        encoding: {
          y: { field: 'stage', type: 'nominal', sort: { field: 'order' }, title: null },
          x: { field: 'seconds', type: 'quantitative', title: 'seconds' },
          color: { field: 'status', type: 'nominal', scale: { domain: ['ran', 'skipped'], range: ['#4c78a8', '#bbbbbb'] } },
        },
      } as TopLevelSpec,
    });
  }
  return plots;
}

function clipCard(c: ClipPreview, img: ClipImages): string {
  const truth = c.corresponds === undefined ? '' : c.corresponds ? '<span class="ok">corresponds</span>' : '<span class="bad">mismatched</span>';
  const classes = c.visualClass !== undefined || c.audioClass !== undefined ? `<div class="small">visual ${escapeHtml(String(c.visualClass ?? '?'))} · audio ${escapeHtml(String(c.audioClass ?? '?'))}</div>` : '';
  const image = (src: string | undefined, alt: string) => (src ? `<img src="${src}" alt="${escapeHtml(alt)}">` : `<div class="noimg">${escapeHtml(alt)} unavailable</div>`);
  return `<div class="clip">${image(img.frame, 'frame')}${image(img.spectrogram, 'spectrogram')}<div><b>${escapeHtml(c.id)}</b>${c.rank !== undefined ? ` · rank ${c.rank}` : ''}</div>${classes}<div>${truth}</div>${img.error ? `<div class="small muted" title="${escapeHtml(img.error)}">image error</div>` : ''}</div>`;
}

const CSS = `
body{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;margin:24px auto;max-width:1100px;color:#222;padding:0 16px}
h1{font-size:1.6em;margin-bottom:0}h2{margin-top:2em;border-bottom:1px solid #ddd;padding-bottom:4px}
table{border-collapse:collapse;margin:8px 0}td,th{border:1px solid #ddd;padding:4px 8px;text-align:right}th{background:#f4f4f4}
td:first-child,th:first-child{text-align:left}
figure.plot{margin:12px 0}figure.plot figcaption{font-weight:600;margin-bottom:4px}
.grid{display:flex;flex-wrap:wrap;gap:10px}.clip{border:1px solid #ddd;padding:6px;width:170px;font-size:12px}
.clip img{display:block;width:160px;margin-bottom:3px}.noimg{width:160px;height:60px;background:#eee;color:#888;display:flex;align-items:center;justify-content:center}
.ok{color:#080}.bad{color:#c00}.pass{color:#080;font-weight:600}.fail{color:#c00;font-weight:600}.small{font-size:11px}.muted{color:#888}
pre{background:#f7f7f7;padding:10px;overflow:auto;font-size:12px;max-height:600px}
`;

/** Build the HTML text of the report. */
export async function renderReport(results: ExperimentResults, opts: ReportOptions = {}): Promise<string> {
  const baseDir = path.resolve(opts.baseDir ?? results.runDir ?? '.');
  const parts: string[] = [];
  parts.push(`<h1>avcurate experiment: ${escapeHtml(results.name)}</h1>`);
  parts.push(`<p class="muted">${escapeHtml(results.createdAt)} · run folder <code>${escapeHtml(results.runDir)}</code></p>`);

  // Summary table of arms.
  const agg = aggregateProbes(results.probes);
  const modalities = (['audio', 'visual', 'both', 'cross'] as const).filter((m) => agg.some((a) => a.modality === m));
  const tasks = [...new Set(agg.map((a) => a.task))];
  parts.push('<h2>Results</h2>');
  const pool = results.pool;
  parts.push(
    `<p>Pool: ${pool.clips} clips${pool.positives !== undefined ? `, ${pool.positives} truly corresponding` : ''}${pool.classes !== undefined ? `, ${pool.classes} classes` : ''}${pool.mismatch !== undefined ? `, ${pct(pool.mismatch)} % mismatched audio` : ''}${pool.heldOut !== undefined ? `; ${pool.heldOut} clips held out for probing` : ''}.</p>`,
  );
  for (const task of tasks) {
    const head = modalities.map((m) => `<th>${m} top-1 %</th>`).join('');
    const rows = results.arms.map((arm) => {
      const cells = modalities.map((m) => {
        const a = agg.find((x) => x.arm === arm.arm && x.task === task && x.modality === m);
        return `<td>${a ? `${pct(a.top1)} ± ${pct(a.top1Std)}` : '–'}</td>`;
      });
      return `<tr><td>${escapeHtml(arm.arm)}</td><td>${arm.size}</td><td>${fmt(arm.precision)}</td>${cells.join('')}<td class="small">${escapeHtml(arm.description)}</td></tr>`;
    });
    const seeds = Math.max(0, ...agg.filter((a) => a.task === task).map((a) => a.seeds));
    parts.push(`<table id="results-${escapeHtml(task)}"><caption>Probe task <b>${escapeHtml(task)}</b>, mean ± std over ${seeds} seed(s)</caption><tr><th>arm</th><th>clips</th><th>precision</th>${head}<th>what</th></tr>${rows.join('')}</table>`);
  }
  if (results.expectations && results.expectations.length > 0) {
    parts.push('<table id="expectations"><tr><th>expected</th><th>value</th><th>target</th><th>result</th></tr>');
    for (const e of results.expectations) {
      parts.push(`<tr><td>${escapeHtml(e.name)}</td><td>${fmt(e.value)}</td><td>${escapeHtml(e.target)}</td><td class="${e.pass ? 'pass' : 'fail'}">${e.pass ? 'met' : 'not met'}</td></tr>`);
    }
    parts.push('</table>');
  }
  if (results.notes && results.notes.length > 0) parts.push(`<ul>${results.notes.map((n) => `<li>${escapeHtml(n)}</li>`).join('')}</ul>`);

  if (results.selection.length > 0) {
    parts.push(`<h2>Selection</h2><table id="selection"><tr><th>method</th><th>selected</th><th>precision</th><th>precision at #positives</th><th>precision at top ${escapeHtml(topPct(results.selection[0]?.topRatio))} (evaluation.topRatio)</th><th>seconds</th></tr>`);
    for (const s of results.selection) {
      parts.push(`<tr><td>${escapeHtml(s.method)}</td><td>${s.selected}</td><td>${fmt(s.precision)}</td><td>${fmt(s.precisionAtPositives)}</td><td>${fmt(s.precisionAtRatio)}</td><td>${fmt(s.seconds, 2)}</td></tr>`);
    }
    parts.push('</table>');
  }
  // The explain section (select's module), when the run folder holds explain.json.
  if (results.runDir) {
    const { explainSection } = await import('./explain-section.js');
    parts.push(await explainSection(runLayout(results.runDir).explain, { images: opts.images, concurrency: opts.concurrency, imageWidth: opts.imageWidth, baseDir }));
    // Precision per round of bootstrapped features (curate.bootstrap), when the run has them.
    parts.push((await import('./bootstrap-section.js')).bootstrapSection(results.runDir));
  }

  parts.push('<h2>Plots</h2>');
  for (const plot of reportPlots(results)) {
    let svg: string;
    try {
      svg = await renderSvg(plot.spec);
    } catch (err) {
      throw new Error(`report: plot "${plot.id}" failed to render: ${(err as Error).message}`);
    }
    parts.push(`<figure class="plot" id="plot-${escapeHtml(plot.id)}"><figcaption>${escapeHtml(plot.title)}</figcaption>${svg}</figure>`);
  }

  if (results.clips.length > 0) {
    const pool2 = new Pool(opts.concurrency ?? 2);
    const images = await pool2.map(results.clips, async (c) => {
      if (opts.images === false) return {} as ClipImages;
      return clipImages(path.resolve(baseDir, c.file), c.start ?? 0, c.duration, opts.imageWidth ?? 160);
    });
    const section = (title: string, id: string, selected: boolean) => {
      const cards = results.clips.map((c, i) => (c.selected === selected ? clipCard(c, images[i]) : '')).join('');
      return cards ? `<h3>${title}</h3><div class="grid" id="${id}">${cards}</div>` : '';
    };
    parts.push('<h2>Clips</h2><p>A frame from the middle of each clip and the spectrogram of its audio.</p>');
    parts.push(section('Selected (top of the curated ranking)', 'clips-selected', true));
    parts.push(section('Rejected (not selected)', 'clips-rejected', false));
  }

  if (results.timings.length > 0) {
    const total = results.timings.reduce((a, t) => a + t.seconds, 0);
    const wall = results.wallSeconds !== undefined ? `<tr><th>wall clock of the last run</th><th>${results.wallSeconds.toFixed(1)}</th><th></th></tr>` : '';
    parts.push(
      `<h2>Timings</h2><p class="small muted">Stage times as recorded when each stage ran; arm stages run in parallel processes, so they overlap.</p><table id="timings"><tr><th>stage</th><th>seconds</th><th>status</th></tr>${results.timings.map((t) => `<tr><td>${escapeHtml(t.stage)}</td><td>${t.seconds.toFixed(1)}</td><td>${t.status}</td></tr>`).join('')}<tr><th>sum of stages</th><th>${total.toFixed(1)}</th><th></th></tr>${wall}</table>`,
    );
  }
  parts.push(`<h2>Config</h2><pre id="config">${escapeHtml(YAML.stringify(results.config ?? {}))}</pre>`);
  return `<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>avcurate: ${escapeHtml(results.name)}</title><style>${CSS}</style></head><body>\n${parts.join('\n')}\n</body></html>\n`;
}

/** Render and write report.html atomically; returns its path. */
export async function writeReport(results: ExperimentResults, outFile: string, opts: ReportOptions = {}): Promise<string> {
  const html = await renderReport(results, opts);
  await writeFileAtomic(outFile, html);
  return outFile;
}
