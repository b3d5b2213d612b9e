/**
 * HTML pieces shared by the experiment report (report.ts) and the explain page
 * (explain-section.ts): escaping, vega-lite → SVG in Node, and a clip's frame and spectrogram as
 * PNG data URIs. A module of its own so that neither page imports the other.
 */
import * as vega from 'vega';
import { compile, type TopLevelSpec } from 'vega-lite';
import { ffmpegPath } from '../media/ffmpeg.js';
import { runTool } from '../media/process.js';
import { ffmpegInput } from '../media/source.js';

export function escapeHtml(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&#39;');
}

/** Compile a vega-lite spec and render it to an SVG string in Node (no browser). */
export async function renderSvg(spec: TopLevelSpec): Promise<string> {
  const compiled = compile(spec).spec;
  const view = new vega.View(vega.parse(compiled), { renderer: 'none' });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}

export interface ClipImages {
  frame?: string;
  spectrogram?: string;
  error?: string;
}

async function ffmpegPng(args: string[]): Promise<Buffer> {
  const r = await runTool(ffmpegPath(), args, { timeoutMs: 30_000 });
  const png = r.outputs[0];
  if (r.code !== 0 || !png || png.length < 8) throw new Error(`ffmpeg ${r.timedOut ? 'timed out' : `exit ${r.code}`}: ${r.stderrTail.trim().split('\n').slice(-2).join(' ')}`);
  return png;
}

/** A frame from the middle of the clip window and a spectrogram of its audio, as PNG data URIs. */
export async function clipImages(file: string, start = 0, duration: number | undefined, width: number): Promise<ClipImages> {
  const mid = start + (duration ?? 0) / 2;
  const out: ClipImages = {};
  const errors: string[] = [];
  try {
    const png = await ffmpegPng(['-v', 'error', '-nostdin', '-ss', mid.toFixed(3), '-i', ffmpegInput(file), '-frames:v', '1', '-vf', `scale=${width}:-2`, '-f', 'image2pipe', '-c:v', 'png', 'pipe:1']);
    out.frame = `data:image/png;base64,${png.toString('base64')}`;
  } catch (err) {
    errors.push(`frame: ${(err as Error).message}`);
  }
  try {
    const window = duration !== undefined ? ['-t', duration.toFixed(3)] : [];
    const png = await ffmpegPng([
      '-v', 'error', '-nostdin', '-ss', start.toFixed(3), ...window, '-i', ffmpegInput(file), '-vn',
      '-lavfi', `aformat=channel_layouts=mono,showspectrumpic=s=${width}x${Math.round(width / 2)}:legend=0:scale=log`,
      '-frames:v', '1', '-f', 'image2pipe', '-c:v', 'png', 'pipe:1',
    ]);
    out.spectrogram = `data:image/png;base64,${png.toString('base64')}`;
  } catch (err) {
    errors.push(`spectrogram: ${(err as Error).message}`);
  }
  if (errors.length > 0) out.error = errors.join('; ');
  return out;
}
