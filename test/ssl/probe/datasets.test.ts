import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Rng } from '../../../src/runtime/random.js';
import { parseCsv } from '../../../src/runtime/csv.js';
import { loadCsvDataset, loadEsc50, loadFolderDataset, loadKineticsCsv, loadProbeDataset, loadSynthDataset, loadUcf101 } from '../../../src/ssl/probe/datasets.js';
import { resolveSplits } from '../../../src/ssl/probe/splits.js';

let tmp: string;
function touch(...parts: string[]): string {
  const f = path.join(tmp, ...parts);
  mkdirSync(path.dirname(f), { recursive: true });
  writeFileSync(f, 'x');
  return f;
}
function write(rel: string, text: string): string {
  const f = path.join(tmp, rel);
  mkdirSync(path.dirname(f), { recursive: true });
  writeFileSync(f, text);
  return f;
}

beforeAll(() => {
  tmp = mkdtempSync(path.join(os.tmpdir(), 'avcurate-probe-ds-'));
});
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('csv parsing', () => {
  it('handles quotes, doubled quotes, CRLF, a BOM and blank lines', () => {
    const rows = parseCsv('\ufeffa,"b,c","say ""hi"""\r\n\r\n1,2,\n"multi\nline",x,y');
    expect(rows).toEqual([['a', 'b,c', 'say "hi"'], ['1', '2', ''], ['multi\nline', 'x', 'y']]);
    expect(() => parseCsv('a,"b', 'f.csv')).toThrow(/f.csv:1: unterminated/);
  });
});

describe('folder per class', () => {
  it('one class per folder, sorted, nested files included, non-media ignored', () => {
    touch('folder', 'dog', 'a.wav');
    touch('folder', 'dog', 'sub', 'b.mp4');
    touch('folder', 'cat', 'c.mp4');
    touch('folder', 'cat', 'notes.txt');
    const ds = loadFolderDataset(path.join(tmp, 'folder'));
    expect(ds.classes).toEqual(['cat', 'dog']);
    expect(ds.items.map((i) => [i.id, i.label])).toEqual([['cat/c.mp4', 0], ['dog/a.wav', 1], ['dog/sub/b.mp4', 1]]);
    expect(path.isAbsolute(ds.items[0].file)).toBe(true);
    touch('folder1', 'only', 'a.wav');
    expect(() => loadFolderDataset(path.join(tmp, 'folder1'))).toThrow(/at least 2 classes/);
  });
});

describe('CSV path,label[,fold]', () => {
  it('reads a headed CSV with folds; relative paths; missing files reported', () => {
    touch('csvds', 'clips', '1.mp4');
    touch('csvds', 'clips', '2.mp4');
    touch('csvds', 'clips', '3.mp4');
    touch('csvds', 'clips', '4.mp4');
    const csv = write('csvds/list.csv', 'path,label,fold\nclips/1.mp4,bird,1\nclips/2.mp4,rain,1\nclips/3.mp4,bird,2\nclips/4.mp4,rain,2\nclips/gone.mp4,rain,2\n');
    const ds = loadCsvDataset(csv);
    expect(ds.classes).toEqual(['bird', 'rain']);
    expect(ds.items.map((i) => i.label)).toEqual([0, 1, 0, 1]);
    expect(ds.folds).toEqual([1, 1, 2, 2]);
    expect(ds.missing).toHaveLength(1);
    expect(ds.missing[0].entry).toMatch(/list.csv:6$/);
    const splits = resolveSplits({ labels: ds.items.map((i) => i.label), folds: ds.folds }, { kind: 'folds', k: 2 }, new Rng(0));
    expect(splits.map((s) => s.test)).toEqual([[0, 1], [2, 3]]);
  });

  it('reads a headerless CSV (positional) with numeric labels sorted numerically', () => {
    touch('csv2', 'a.wav');
    touch('csv2', 'b.wav');
    touch('csv2', 'c.wav');
    const csv = write('csv2/l.csv', 'a.wav,10\nb.wav,9\nc.wav,10\n');
    const ds = loadCsvDataset(csv);
    expect(ds.classes).toEqual(['9', '10']);
    expect(ds.items.map((i) => i.label)).toEqual([1, 0, 1]);
    expect(ds.folds).toBeUndefined();
  });

  it('a split column gives a predefined train/test split', () => {
    touch('csv3', 'a.wav');
    touch('csv3', 'b.wav');
    touch('csv3', 'c.wav');
    const csv = write('csv3/l.csv', 'file,class,split\na.wav,x,train\nb.wav,y,train\nc.wav,x,test\n');
    const ds = loadCsvDataset(csv);
    expect(ds.splits).toEqual([{ name: 'split', train: [0, 1], test: [2] }]);
    expect(() => loadCsvDataset(write('csv3/bad.csv', 'path,label\na.wav,\n'))).toThrow(/bad.csv:2: expected path and label/);
  });
});

describe('ESC-50 layout', () => {
  it('reads meta/esc50.csv, 5 folds, class names by target, ESC-10 subset', () => {
    const rows = ['filename,fold,target,category,esc10,src_file,take'];
    const cats = [
      [0, 'dog', 'True'],
      [1, 'rooster', 'True'],
      [14, 'chirping_birds', 'False'],
    ] as const;
    for (let fold = 1; fold <= 5; fold++) {
      for (const [target, cat, esc10] of cats) {
        const name = `${fold}-1000${target}-A-${target}.wav`;
        rows.push(`${name},${fold},${target},${cat},${esc10},1000${target},A`);
        touch('ESC-50-master', 'audio', name);
      }
    }
    write('ESC-50-master/meta/esc50.csv', rows.join('\n') + '\n');
    const ds = loadEsc50(path.join(tmp, 'ESC-50-master'));
    expect(ds.classes).toEqual(['dog', 'rooster', 'chirping_birds']);
    expect(ds.items).toHaveLength(15);
    expect(ds.folds).toEqual(ds.items.map((i) => i.fold));
    expect(new Set(ds.folds)).toEqual(new Set([1, 2, 3, 4, 5]));
    expect(ds.items.find((i) => i.className === 'chirping_birds')!.label).toBe(2); // dense index
    const splits = resolveSplits({ labels: ds.items.map((i) => i.label), folds: ds.folds }, { kind: 'folds', k: 5 }, new Rng(0));
    expect(splits).toHaveLength(5);
    expect(splits.every((s) => s.test.length === 3 && s.train.length === 12)).toBe(true);
    const esc10 = loadEsc50(path.join(tmp, 'ESC-50-master'), { esc10: true });
    expect(esc10.classes).toEqual(['dog', 'rooster']);
    expect(esc10.items).toHaveLength(10);
  });

  it('names the missing column', () => {
    write('esc-bad/meta/esc50.csv', 'filename,target,category\n');
    expect(() => loadEsc50(path.join(tmp, 'esc-bad'))).toThrow(/lacks column\(s\) fold/);
  });
});

describe('UCF101 layout', () => {
  it('reads classInd + trainlist0N/testlist0N, one split per list pair', () => {
    write('ucf/ucfTrainTestlist/classInd.txt', '1 ApplyEyeMakeup\r\n2 Archery\r\n3 BabyCrawling\r\n');
    const vids: Record<string, string[]> = {
      ApplyEyeMakeup: ['v_ApplyEyeMakeup_g01_c01.avi', 'v_ApplyEyeMakeup_g08_c01.avi'],
      Archery: ['v_Archery_g01_c01.avi', 'v_Archery_g08_c02.avi'],
      BabyCrawling: ['v_BabyCrawling_g01_c01.avi', 'v_BabyCrawling_g09_c03.avi'],
    };
    for (const [c, files] of Object.entries(vids)) for (const f of files) touch('ucf', 'UCF-101', c, f);
    const classes = Object.keys(vids);
    // split 1: group 01 is test; split 2: groups 08/09 are test.
    write('ucf/ucfTrainTestlist/trainlist01.txt', classes.map((c, i) => `${c}/${vids[c][1]} ${i + 1}`).join('\r\n') + '\r\n');
    write('ucf/ucfTrainTestlist/testlist01.txt', classes.map((c) => `${c}/${vids[c][0]}`).join('\r\n') + '\r\n');
    write('ucf/ucfTrainTestlist/trainlist02.txt', classes.map((c, i) => `${c}/${vids[c][0]} ${i + 1}`).join('\n') + '\n');
    write('ucf/ucfTrainTestlist/testlist02.txt', classes.map((c) => `${c}/${vids[c][1]}`).join('\n') + `\nArchery/v_Archery_g99_c01.avi\n`);
    const ds = loadUcf101(path.join(tmp, 'ucf'));
    expect(ds.classes).toEqual(classes);
    expect(ds.items).toHaveLength(6);
    expect(ds.splits!.map((s) => s.name)).toEqual(['split1', 'split2']);
    const [s1, s2] = ds.splits!;
    expect(s1.train.map((i) => ds.items[i].id)).toEqual(classes.map((c) => `${c}/${vids[c][1]}`));
    expect(s1.test.map((i) => ds.items[i].label)).toEqual([0, 1, 2]);
    expect(s2.test.map((i) => ds.items[i].id)).toEqual(s1.train.map((i) => ds.items[i].id));
    expect(ds.missing).toHaveLength(1);
    expect(ds.missing[0].reason).toMatch(/v_Archery_g99_c01.avi/);
    expect(loadUcf101(path.join(tmp, 'ucf'), { splits: [2] }).splits!.map((s) => s.name)).toEqual(['split2']);
    // the predefined protocol returns these splits
    expect(resolveSplits({ labels: ds.items.map((i) => i.label), splits: ds.splits }, { kind: 'predefined' }, new Rng(0))).toBe(ds.splits);
  });

  it('refuses a label that contradicts the folder', () => {
    write('ucf-bad/classInd.txt', '1 A\n2 B\n');
    touch('ucf-bad', 'A', 'v_A_g01_c01.avi');
    write('ucf-bad/trainlist01.txt', 'A/v_A_g01_c01.avi 2\n');
    write('ucf-bad/testlist01.txt', '');
    expect(() => loadUcf101(path.join(tmp, 'ucf-bad'))).toThrow(/trainlist01.txt:1: .* labelled 2 but its folder is class 1/);
  });
});

describe('Kinetics-Sounds style CSV', () => {
  it('resolves clip-named files (padded and plain) and whole videos, with windows', () => {
    touch('ks', 'videos', 'playing bagpipes', '---QUuC4vJs_000084_000094.mp4');
    touch('ks', 'videos', 'abc_30_40.mkv');
    touch('ks', 'videos', 'WholeVid123.webm');
    const csv = write(
      'ks/ks.csv',
      'youtube_id,time_start,time_end,label,split\n' +
        '---QUuC4vJs,84,94,playing bagpipes,train\n' +
        'abc,30,40,dog barking,train\n' +
        'WholeVid123,12,22,dog barking,test\n' +
        'notdownloaded,0,10,playing bagpipes,test\n',
    );
    const ds = loadKineticsCsv(csv, { videoDir: path.join(tmp, 'ks', 'videos') });
    expect(ds.classes).toEqual(['dog barking', 'playing bagpipes']);
    expect(ds.items.map((i) => [path.basename(i.file), i.start, i.duration, i.label])).toEqual([
      ['---QUuC4vJs_000084_000094.mp4', 0, 10, 1],
      ['abc_30_40.mkv', 0, 10, 0],
      ['WholeVid123.webm', 12, 10, 0],
    ]);
    expect(ds.items[2].id).toBe('WholeVid123_000012_000022');
    expect(ds.missing).toHaveLength(1);
    expect(ds.missing[0].entry).toMatch(/ks.csv:5$/);
    expect(ds.splits).toEqual([{ name: 'split', train: [0, 1], test: [2] }]);
  });

  it('reads a headerless CSV and refuses end <= start', () => {
    touch('ks2', 'x_000001_000011.mp4');
    touch('ks2', 'y_000001_000011.mp4');
    write('ks2/l.csv', 'x,1,11,a\ny,1,11,b\n');
    const ds = loadProbeDataset({ kind: 'kinetics', path: 'ks2/l.csv' }, tmp);
    expect(ds.items.map((i) => i.className)).toEqual(['a', 'b']);
    expect(ds.splits).toBeUndefined();
    write('ks2/bad.csv', 'x,5,5,a\n');
    expect(() => loadKineticsCsv(path.join(tmp, 'ks2/bad.csv'))).toThrow(/bad.csv:1: expected youtube_id,start,end,label with end > start/);
  });
});

describe('synthetic labels.jsonl', () => {
  it('keeps corresponding clips by default, labels by visual class, restricts to ids', () => {
    const rows = [
      { id: 'c0', file: 'clips/c0.mp4', visual_class: 0, audio_class: 0, corresponds: true },
      { id: 'c1', file: 'clips/c1.mp4', visual_class: 1, audio_class: 2, corresponds: false },
      { id: 'c2', file: 'clips/c2.mp4', visual_class: 2, audio_class: 2, corresponds: true },
      { id: 'c3', file: 'clips/c3.mp4', visual_class: 1, audio_class: 1, corresponds: true },
    ];
    for (const r of rows) touch('synth', r.file);
    const f = write('synth/labels.jsonl', rows.map((r) => JSON.stringify(r)).join('\n') + '\n');
    const ds = loadSynthDataset(f);
    expect(ds.items.map((i) => i.id)).toEqual(['c0', 'c2', 'c3']);
    expect(ds.items.map((i) => i.className)).toEqual(['0', '2', '1']);
    expect(ds.items.map((i) => i.label)).toEqual([0, 2, 1]);
    const all = loadSynthDataset(f, { includeMismatched: true, label: 'audio' });
    expect(all.items.map((i) => i.className)).toEqual(['0', '2', '2', '1']);
    expect(loadSynthDataset(f, { ids: ['c0', 'c3'] }).items.map((i) => i.id)).toEqual(['c0', 'c3']);
  });
});
