/** A tiny synthetic corpus with manifest.jsonl and selection.csv, made with the media layer. */
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { synthesize } from '../../../src/media/synth.js';
import { probe } from '../../../src/media/probe.js';
import type { ClipRecord } from '../../../src/curation/manifest/types.js';

export interface Corpus {
  dir: string;
  manifest: string;
  selection: string;
  records: ClipRecord[];
}

/**
 * `clips` synthetic clips of `seconds` s (64x48, 10 fps, 16 kHz). Each clip record covers a window
 * [start, start + duration] of its file. `extra` records are appended to the manifest (e.g. a
 * missing or corrupt source) and selected too.
 */
export async function makeCorpus(dir: string, clips = 6, seconds = 3, extra: ClipRecord[] = []): Promise<Corpus> {
  const media = path.join(dir, 'media');
  const synth = await synthesize({ out: media, clips, classes: 2, mismatch: 0, seconds, seed: 5, width: 64, height: 48, fps: 10, silent: true, concurrency: 2 });
  const records: ClipRecord[] = [];
  for (const label of synth.labels) {
    const file = path.join(media, label.file);
    const info = await probe(file);
    records.push({
      id: label.id,
      source: path.relative(dir, file),
      start: 0.5,
      duration: seconds - 0.5,
      video_id: label.id,
      probe: {
        duration: info.duration, width: info.video!.width, height: info.video!.height, fps: info.video!.fps,
        sampleRate: info.audio?.sampleRate ?? 0, videoCodec: info.video!.codec, audioCodec: info.audio?.codec ?? '',
      },
      visual_class: label.visual_class,
      audio_class: label.audio_class,
      corresponds: label.corresponds,
    });
  }
  records.push(...extra);
  const manifest = path.join(dir, 'manifest.jsonl');
  await fsp.writeFile(manifest, records.map((r) => JSON.stringify(r)).join('\n') + '\n');
  const selection = path.join(dir, 'selection.csv');
  const rows = records.map((r, i) => `${i + 1},${r.id},${r.video_id},${r.start},${r.start + r.duration},${(0.1 / (i + 1)).toFixed(4)},${(0.5 + i / 100).toFixed(4)}`);
  // list the rows out of order: readers must sort by rank
  await fsp.writeFile(selection, ['rank,id,video_id,start,end,gain,objective', ...rows.reverse()].join('\n') + '\n');
  return { dir, manifest, selection, records: records.map((r) => ({ ...r, source: path.isAbsolute(r.source) ? r.source : path.join(dir, r.source) })) };
}

/** A record whose source is garbage bytes with an .mp4 name. */
export async function corruptRecord(dir: string, id: string): Promise<ClipRecord> {
  const file = path.join(dir, `${id.replace(/[^A-Za-z0-9]/g, '_')}.mp4`);
  await fsp.writeFile(file, Buffer.alloc(4000, 0x42));
  return {
    id, source: file, start: 0, duration: 2, video_id: id,
    probe: { duration: 2, width: 64, height: 48, fps: 10, sampleRate: 16000, videoCodec: 'h264', audioCodec: 'aac' },
  };
}
