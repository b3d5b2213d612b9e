import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { synthesize } from '../../src/media/synth.js';
import { renderReport, renderSvg, reportPlots, writeReport } from '../../src/experiments/report.js';
import { aggregateProbes, validateResults } from '../../src/experiments/results.js';
import { sampleResults } from './fixture.js';

let tmp: string;
let labels: Awaited<ReturnType<typeof synthesize>>['labels'];

beforeAll(async () => {
  tmp = mkdtempSync(path.join(os.tmpdir(), 'avcurate-report-'));
  const r = await synthesize({ out: path.join(tmp, 'corpus'), clips: 4, classes: 2, mismatch: 0.5, seconds: 1, seed: 3, silent: true, concurrency: 2 });
  labels = r.labels.map((l) => ({ ...l, file: path.join('corpus', l.file) }));
});
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('results', () => {
  it('aggregates probes over seeds with mean and std', () => {
    const r = sampleResults(tmp, labels);
    const agg = aggregateProbes(r.probes);
    expect(agg).toHaveLength(5 * 3);
    const cur = agg.find((a) => a.arm === 'curated' && a.modality === 'audio')!;
    expect(cur.seeds).toBe(3);
    expect(cur.top1).toBeCloseTo(0.91, 10); // 0.90, 0.91, 0.92
    expect(cur.top1Std).toBeCloseTo(Math.sqrt(2 / 3) * 0.01, 10);
  });

  it('validates the shape and names the problem', () => {
    const r = sampleResults(tmp, labels);
    expect(validateResults(JSON.parse(JSON.stringify(r)))).toBeTruthy();
    expect(() => validateResults({ ...r, version: 9 }, 'x.json')).toThrow(/x.json: version 9/);
    expect(() => validateResults({ ...r, probes: [{ arm: 'a' }] })).toThrow(/probes\[0\]/);
  });
});

describe('report', () => {
  it('renders every plot to a non-empty SVG in Node', async () => {
    const r = sampleResults(tmp, labels);
    const plots = reportPlots(r);
    expect(plots.map((p) => p.id)).toEqual(['precision-vs-budget', 'objective', 'probe-synth-classes', 'timings']);
    for (const p of plots) {
      const svg = await renderSvg(p.spec);
      expect(svg.startsWith('<svg')).toBe(true);
      expect(svg).toMatch(/<path[^>]+d="M/); // marks were drawn
    }
  });

  it('writes one self-contained page: plots, tables, clip images as data URIs, escaped config', async () => {
    const r = sampleResults(tmp, labels);
    const out = path.join(tmp, 'report.html');
    await writeReport(r, out);
    const html = readFileSync(out, 'utf8');
    expect((html.match(/<figure class="plot"/g) ?? []).length).toBe(4);
    expect((html.match(/<svg/g) ?? []).length).toBe(4);
    // 4 clips x (frame + spectrogram)
    expect((html.match(/src="data:image\/png;base64,/g) ?? []).length).toBe(8);
    expect(html).not.toMatch(/image error/);
    expect(html).toContain('id="clips-selected"');
    expect(html).toContain('id="clips-rejected"');
    // no external resources
    expect(html).not.toMatch(/(src|href)="(https?:)?\/\//);
    expect(html).not.toMatch(/<script/);
    expect(html).toContain('a &lt;note&gt; with markup');
    expect(html).toMatch(/<td>curated<\/td><td>40<\/td><td>0.900<\/td><td>91.0 ± 0.8<\/td>/);
    expect(html).toContain('ratio: 0.2');
  });

  it('reports a clip it cannot draw instead of failing', async () => {
    const r = sampleResults(tmp, [{ id: 'gone', file: 'nope.mp4', corresponds: true, visual_class: 0, audio_class: 0 }]);
    const html = await renderReport(r);
    expect(html).toContain('frame unavailable');
    expect(html).toContain('image error');
  });

  it('omits plots without data and images when asked', async () => {
    const r = sampleResults(tmp, labels);
    r.selection = [];
    r.timings = [];
    const html = await renderReport(r, { images: false });
    expect((html.match(/<figure class="plot"/g) ?? []).length).toBe(1);
    expect(html).not.toContain('data:image/png');
    expect(existsSync(path.join(tmp, 'corpus', 'labels.jsonl'))).toBe(true);
  });
});
