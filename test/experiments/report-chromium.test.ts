/**
 * Opens report.html in headless Chromium (Debian's `chromium`, driven by playwright-core) and
 * checks that every plot rendered and that the page logged no error. Skipped, saying so, when
 * Chromium is not installed (`apt-get install -y chromium`).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { synthesize } from '../../src/media/synth.js';
import { writeReport } from '../../src/experiments/report.js';
import { sampleResults } from './fixture.js';

const CHROMIUM = process.env.AVCURATE_CHROMIUM ?? '/usr/bin/chromium';
const haveChromium = existsSync(CHROMIUM);
if (!haveChromium) {
  process.stderr.write(`report-chromium test skipped: no Chromium at ${CHROMIUM} (install Debian's "chromium" or set AVCURATE_CHROMIUM)\n`);
}

let tmp: string;
beforeAll(() => {
  tmp = mkdtempSync(path.join(os.tmpdir(), 'avcurate-chromium-'));
});
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe.skipIf(!haveChromium)('report in headless Chromium', () => {
  it('every plot renders as a visible SVG with marks, images load, no console errors', async () => {
    const corpus = await synthesize({ out: path.join(tmp, 'corpus'), clips: 2, classes: 2, mismatch: 0, seconds: 1, seed: 5, silent: true });
    const results = sampleResults(tmp, corpus.labels.map((l) => ({ ...l, file: path.join('corpus', l.file) })));
    const file = path.join(tmp, 'report.html');
    await writeReport(results, file);

    const { chromium } = await import('playwright-core');
    const browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
    });
    try {
      const page = await browser.newPage();
      const errors: string[] = [];
      page.on('console', (msg) => {
        if (msg.type() === 'error') errors.push(msg.text());
      });
      page.on('pageerror', (err) => errors.push(err.message));
      page.on('requestfailed', (req) => errors.push(`request failed: ${req.url()}`));
      await page.goto(pathToFileURL(file).href, { waitUntil: 'load' });
      const plots = await page.$$eval('figure.plot', (figs) =>
        figs.map((f) => {
          const svg = f.querySelector('svg');
          const box = svg?.getBoundingClientRect();
          return {
            id: f.id,
            width: box?.width ?? 0,
            height: box?.height ?? 0,
            marks: svg ? svg.querySelectorAll('path, rect, line').length : 0,
          };
        }),
      );
      expect(plots.map((p) => p.id)).toEqual(['plot-precision-vs-budget', 'plot-objective', 'plot-probe-synth-classes', 'plot-timings']);
      for (const p of plots) {
        expect(p.width, p.id).toBeGreaterThan(100);
        expect(p.height, p.id).toBeGreaterThan(50);
        expect(p.marks, p.id).toBeGreaterThan(3);
      }
      const images = await page.$$eval('img', (imgs) => imgs.map((i) => ({ ok: (i as HTMLImageElement).complete && (i as HTMLImageElement).naturalWidth > 0 })));
      expect(images.length).toBe(4);
      expect(images.every((i) => i.ok)).toBe(true);
      expect(errors).toEqual([]);
    } finally {
      await browser.close();
    }
  }, 60_000);
});
