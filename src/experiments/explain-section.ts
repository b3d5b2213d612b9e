/**
 * The "Why this selection" section of report.html (and the whole of explain.html): from
 * explain.json (`avcurate explain`), the evidence of every clustering pair against its permutation
 * null (a vega-lite plot and a table), the strongest audio-cluster ↔ visual-cluster cells with a
 * frame and a spectrogram of a few member clips, and the head of the ranking from
 * selection.eval.json when it exists beside it.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type { TopLevelSpec } from 'vega-lite';
import type { ExplainFile } from '../curation/selection/explain.js';
import { writeFileAtomic } from '../runtime/atomic.js';
import { Pool } from '../runtime/pool.js';
import { clipImages, escapeHtml, renderSvg, type ClipImages } from './report-html.js';

export interface ExplainSectionOptions {
  /** Draw clip images with ffmpeg (default true). */
  images?: boolean;
  concurrency?: number;
  imageWidth?: number;
  /** Folder that relative clip paths are resolved against (default: the explain file's folder). */
  baseDir?: string;
  /** Cells shown with images (default 8) and member clips drawn per cell (default 3). */
  cells?: number;
  membersPerCell?: number;
  /** Pairs in the plot and the table (default 30 and 15). */
  plotPairs?: number;
  tablePairs?: number;
}

// A figure absent from the file (no null: `selection.explain.null: none`, NaN written as null) prints as –.
const f3 = (x: number | null) => (typeof x !== 'number' || Number.isNaN(x) ? '–' : Number.isFinite(x) ? x.toFixed(3) : String(x));
const fz = (x: number | null) => (typeof x !== 'number' || Number.isNaN(x) ? '–' : Number.isFinite(x) ? x.toFixed(1) : String(x));

/** The vega-lite spec of the pair evidence: z on the pool and on the selection, per pair. */
export function pairEvidenceSpec(e: ExplainFile, maxPairs = 30): TopLevelSpec {
  const rows = e.pairs.slice(0, maxPairs).flatMap((p) => {
    const pair = `${p.a} × ${p.b}${p.inUse ? '' : ' (not used)'}`;
    return [
      { pair, set: 'pool', z: Number.isFinite(p.pool.z) ? p.pool.z : 0 },
      { pair, set: 'selection', z: Number.isFinite(p.selection.z) ? p.selection.z : 0 },
    ];
  });
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    width: 420,
    data: { values: rows },
    mark: 'bar',
    encoding: {
      y: { field: 'pair', type: 'nominal', sort: null, title: null },
      yOffset: { field: 'set' },
      x: { field: 'z', type: 'quantitative', title: 'z-score of MI against the permutation null' },
      color: { field: 'set', type: 'nominal', title: 'clips' },
    },
  } as TopLevelSpec;
}

/** The head of the ranking (precision and concepts of the top 5/10/20 %), from selection.eval.json. */
function headTable(evalFile: string): string {
  if (!existsSync(evalFile)) return '';
  try {
    const ev = JSON.parse(readFileSync(evalFile, 'utf8')) as { summary?: { atTop?: Array<{ ratio: number; size: number; precision: number; concepts?: number }>; concepts?: number; baseRate?: number } };
    const top = ev.summary?.atTop;
    if (!top?.length) return '';
    const rows = top
      .map((t) => `<tr><td>top ${+(t.ratio * 100).toFixed(1)} % of the pool</td><td>${t.size}</td><td>${f3(t.precision)}</td><td>${t.concepts ?? '–'}${ev.summary?.concepts !== undefined ? ` / ${ev.summary.concepts}` : ''}</td></tr>`)
      .join('');
    return `<table id="explain-head"><caption>Head of the ranking against the ground truth (random: ${f3(ev.summary?.baseRate ?? NaN)})</caption><tr><th>prefix</th><th>clips</th><th>precision</th><th>concepts</th></tr>${rows}</table>`;
  } catch {
    return '';
  }
}

function card(m: ExplainFile['cells'][number]['members'][number], img: ClipImages): string {
  const image = (src: string | undefined, alt: string) => (src ? `<img src="${src}" alt="${escapeHtml(alt)}">` : `<div class="noimg">${escapeHtml(alt)} unavailable</div>`);
  const truth = m.corresponds === undefined ? '' : m.corresponds ? '<span class="ok">corresponds</span>' : '<span class="bad">mismatched</span>';
  const cls = m.visualClass !== undefined || m.audioClass !== undefined ? `<div class="small">visual ${escapeHtml(String(m.visualClass ?? '?'))} · audio ${escapeHtml(String(m.audioClass ?? '?'))}</div>` : '';
  return `<div class="clip">${image(img.frame, 'frame')}${image(img.spectrogram, 'spectrogram')}<div><b>${escapeHtml(m.id)}</b>${m.rank !== undefined ? ` · rank ${m.rank}` : ''}</div>${cls}<div>${truth}</div></div>`;
}

/** The section's HTML, or '' when the explain file does not exist. */
export async function explainSection(explainFile: string, opts: ExplainSectionOptions = {}): Promise<string> {
  if (!existsSync(explainFile)) return '';
  const e = JSON.parse(readFileSync(explainFile, 'utf8')) as ExplainFile;
  if (e.format !== 'avcurate.explain') throw new Error(`${explainFile}: not an explain file (format ${String(e.format)})`);
  const dir = path.dirname(explainFile);
  const baseDir = opts.baseDir ?? dir;
  const parts: string[] = [];
  parts.push('<h2 id="explain">Why this selection</h2>');
  const used = e.pairsInUse.length;
  parts.push(
    `<p>${e.selected} of ${e.pool} clips selected; objective F = ${f3(e.objective)} (mean MI over ${used} clustering pair(s)). ${e.permutations > 0 ? `Each pair's mutual information is compared with a permutation null (${e.permutations} shuffles of one clustering's labels, seed ${e.seed}): z = (MI − null mean) / null sd.` : 'No null was computed (selection.explain.null: none): pairs are ordered by their MI on the selection.'}</p>`,
  );
  parts.push(headTable(path.join(dir, 'selection.eval.json')));
  const svg = await renderSvg(pairEvidenceSpec(e, opts.plotPairs ?? 30));
  parts.push(`<figure class="plot" id="plot-explain-pairs"><figcaption>Evidence per clustering pair (highest selection z first)</figcaption>${svg}</figure>`);
  const rows = e.pairs
    .slice(0, opts.tablePairs ?? 15)
    .map((p) => `<tr><td>${escapeHtml(p.a)} × ${escapeHtml(p.b)}</td><td>${p.inUse ? 'yes' : 'no'}</td><td>${f3(p.pool.mi)}</td><td>${f3(p.pool.nullMean)}</td><td>${fz(p.pool.z)}</td><td>${f3(p.pool.p)}</td><td>${f3(p.selection.mi)}</td><td>${fz(p.selection.z)}</td></tr>`)
    .join('');
  parts.push(`<table id="explain-pairs"><tr><th>pair</th><th>in use</th><th>pool MI</th><th>null mean</th><th>z</th><th>p</th><th>selection MI</th><th>z</th></tr>${rows}</table>`);
  if (e.pairs.length > (opts.tablePairs ?? 15)) parts.push(`<p class="small muted">${e.pairs.length - (opts.tablePairs ?? 15)} more pair(s) in ${escapeHtml(path.basename(explainFile))}.</p>`);

  const cells = e.cells.slice(0, opts.cells ?? 8);
  if (cells.length) {
    const per = opts.membersPerCell ?? 3;
    const members = cells.flatMap((c) => c.members.slice(0, per));
    const pool = new Pool(opts.concurrency ?? 2);
    const images = await pool.map(members, async (m) => {
      if (opts.images === false || !m.source) return {} as ClipImages;
      return clipImages(path.resolve(baseDir, m.source), m.start ?? 0, m.duration, opts.imageWidth ?? 160);
    });
    parts.push('<h3>Strongest audio-cluster ↔ visual-cluster cells</h3><p class="small">Cells of the pairs in use that carry most of the selection\'s MI: clips in the selection / in the pool, lift n·n<sub>uv</sub>/(a<sub>u</sub>·b<sub>v</sub>), share of the pair\'s MI; a frame and a spectrogram of the first member clips.</p>');
    let k = 0;
    for (const c of cells) {
      const shown = c.members.slice(0, per);
      const grid = shown.map((m) => card(m, images[k++])).join('');
      parts.push(
        `<div class="cell"><div><b>${escapeHtml(c.a)} #${c.u} ↔ ${escapeHtml(c.b)} #${c.v}</b>: ${c.count} selected / ${c.poolCount} in the pool, lift ${c.lift.toFixed(1)}, ${f3(c.contribution)} nats</div><div class="grid">${grid}</div></div>`,
      );
    }
  }
  return parts.join('\n');
}

const PAGE_CSS = `
body{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;margin:24px auto;max-width:1100px;color:#222;padding:0 16px}
table{border-collapse:collapse;margin:8px 0}td,th{border:1px solid #ddd;padding:4px 8px;text-align:right}th{background:#f4f4f4}
td:first-child,th:first-child{text-align:left}.grid{display:flex;flex-wrap:wrap;gap:10px;margin:6px 0 14px}
.clip{border:1px solid #ddd;padding:6px;width:170px;font-size:12px}.clip img{display:block;width:160px;margin-bottom:3px}
.noimg{width:160px;height:60px;background:#eee;color:#888;display:flex;align-items:center;justify-content:center}
.ok{color:#080}.bad{color:#c00}.small{font-size:11px}.muted{color:#888}
`;

/** explain.html: the section as a page of its own; returns its path. */
export async function writeExplainPage(explainFile: string, outFile: string, opts: ExplainSectionOptions = {}): Promise<string> {
  const body = await explainSection(explainFile, opts);
  if (!body) throw new Error(`${explainFile}: not found`);
  await writeFileAtomic(outFile, `<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>avcurate explain</title><style>${PAGE_CSS}</style></head><body>\n${body}\n</body></html>\n`);
  return outFile;
}
