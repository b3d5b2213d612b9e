/**
 * A hostile-input corpus: malformed media, links and loops, FIFOs, odd and non-UTF-8 names,
 * malicious tar shards and bad configs, each with the outcome the project promises for it
 * (docs/reliability.md). test/faults/hostile.test.ts builds it and checks every case.
 */
import { execFileSync } from 'node:child_process';
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { makeClip } from './media.js';
import { buildTar, json, writeSparseShard } from './hostile-tar.js';

export type Outcome =
  /** ingest: becomes a clip of the manifest */
  | { kind: 'clip' }
  /** ingest: a failures.jsonl line whose reason matches */
  | { kind: 'failure'; reason: RegExp }
  /** shard reader: these sample keys are read, and a skip report matches */
  | { kind: 'samples'; keys: string[]; report?: RegExp }
  /** config loader: refused with a message that matches */
  | { kind: 'config-refused'; message: RegExp }
  /** config loader: accepted */
  | { kind: 'config-ok' };

export interface HostileCase {
  name: string;
  /** The file (or folder) the case made; for media cases, inside the media folder. */
  file: string;
  expect: Outcome;
}

export interface HostileCorpus {
  /** A folder of media inputs for ingest. */
  media: string;
  /** A folder of tar shards, one case each. */
  shards: string;
  /** A folder of config files, one case each. */
  configs: string;
  cases: HostileCase[];
}

/** Build the corpus under `root`. About 10 small clips are encoded; the rest is bytes. */
export async function makeHostileCorpus(root: string): Promise<HostileCorpus> {
  const media = path.join(root, 'media');
  const shards = path.join(root, 'shards');
  const configs = path.join(root, 'configs');
  for (const d of [media, shards, configs]) await fsp.mkdir(d, { recursive: true });
  const cases: HostileCase[] = [];
  const add = (name: string, file: string, expect: Outcome): void => {
    cases.push({ name, file, expect });
  };

  // ---- media
  const good = path.join(media, 'good.mp4');
  await makeClip(good, { seconds: 1.5 });
  add('a good clip', good, { kind: 'clip' });
  await fsp.writeFile(path.join(media, 'empty.mp4'), '');
  add('an empty file', path.join(media, 'empty.mp4'), { kind: 'failure', reason: /empty file/ });
  await fsp.writeFile(path.join(media, 'text.mkv'), 'not a video at all\n');
  add('text named .mkv', path.join(media, 'text.mkv'), { kind: 'failure', reason: /not a media file/ });
  const bytes = await fsp.readFile(good);
  await fsp.writeFile(path.join(media, 'truncated.mp4'), bytes.subarray(0, Math.floor(bytes.length / 3)));
  add('a truncated mp4', path.join(media, 'truncated.mp4'), { kind: 'failure', reason: /truncated|moov|invalid|undecodable|not a media file/ });
  await fsp.writeFile(path.join(media, 'noise.webm'), Buffer.from(Array.from({ length: 4096 }, (_, i) => (i * 7919) % 251)));
  add('random bytes named .webm', path.join(media, 'noise.webm'), { kind: 'failure', reason: /not a media file|invalid|undecodable/ });
  await makeClip(path.join(media, 'silent.mp4'), { audio: 'silent', seconds: 1.5 });
  add('silent audio', path.join(media, 'silent.mp4'), { kind: 'failure', reason: /silent audio/ });
  await makeClip(path.join(media, 'frozen.mp4'), { video: 'frozen', seconds: 1.5 });
  add('a frozen picture', path.join(media, 'frozen.mp4'), { kind: 'failure', reason: /frozen picture/ });
  await makeClip(path.join(media, 'voice.m4a'), { video: false, seconds: 1.5 });
  add('audio only', path.join(media, 'voice.m4a'), { kind: 'failure', reason: /no video stream/ });
  await fsp.writeFile(path.join(media, 'still.png'), Buffer.from('89504e470d0a1a0a', 'hex'));
  add('a still image', path.join(media, 'still.png'), { kind: 'failure', reason: /still image/ });
  // links
  await fsp.symlink('.', path.join(media, 'loop'));
  add('a folder link loop', path.join(media, 'loop'), { kind: 'failure', reason: /same folder as \. \(a link loop/ });
  await fsp.symlink('nowhere.mp4', path.join(media, 'dangling.mp4'));
  add('a dangling link', path.join(media, 'dangling.mp4'), { kind: 'failure', reason: /broken symbolic link/ });
  await fsp.link(good, path.join(media, 'hardlink.mp4'));
  add('a second hard link of a clip', path.join(media, 'hardlink.mp4'), { kind: 'failure', reason: /same file as good\.mp4/ });
  execFileSync('mkfifo', [path.join(media, 'fifo.mp4')]);
  add('a FIFO named .mp4', path.join(media, 'fifo.mp4'), { kind: 'failure', reason: /not a regular file/ });
  // odd names (copies of a good clip)
  for (const [i, n] of ['-rf.mp4', '$(touch pwned).mp4', 'new\nline.mp4', `quote'dq".mp4`, `${'l'.repeat(240)}.mp4`].entries()) {
    const f = path.join(media, `odd${i}`, n);
    await fsp.mkdir(path.dirname(f), { recursive: true });
    await makeClip(f, { seconds: 1.5, freq: 300 + 50 * i });
    add(`odd name ${JSON.stringify(n.slice(0, 20))}`, f, { kind: 'clip' });
  }
  const nonUtf8 = Buffer.concat([Buffer.from(media + '/'), Buffer.from([0x63, 0x80, 0xc0]), Buffer.from('.mp4')]);
  await fsp.copyFile(good, nonUtf8);
  add('a non-UTF-8 name', path.join(media, 'c\\x80\\xc0.mp4'), { kind: 'failure', reason: /not valid UTF-8/ });

  // ---- tar shards
  const tar = async (name: string, expect: Outcome, members: Parameters<typeof buildTar>[0]): Promise<void> => {
    const f = path.join(shards, name);
    await fsp.writeFile(f, buildTar(members));
    add(`shard ${name}`, f, expect);
  };
  await tar('traversal.tar', { kind: 'samples', keys: ['ok'], report: /unsafe member name in sample "\.\.\/\.\.\/etc\/x"/ }, [{ name: '../../etc/x.json', data: json(1) }, { name: 'ok.json', data: json(2) }]);
  await tar('absolute.tar', { kind: 'samples', keys: ['ok'], report: /unsafe member name/ }, [{ name: '/etc/x.json', data: json(1) }, { name: 'ok.json', data: json(2) }]);
  await tar('proto.tar', { kind: 'samples', keys: ['ok'], report: /"__proto__" is reserved/ }, [{ name: 'p.__proto__', data: json({ polluted: 1 }) }, { name: 'ok.json', data: json(2) }]);
  await tar('reserved.tar', { kind: 'samples', keys: ['ok'], report: /"__key__" is reserved/ }, [{ name: 'k.__key__', data: Buffer.from('x') }, { name: 'ok.json', data: json(2) }]);
  await tar('duplicate.tar', { kind: 'samples', keys: ['ok'], report: /duplicate member "d\.json"/ }, [{ name: 'd.json', data: json(1) }, { name: 'd.json', data: json(2) }, { name: 'ok.json', data: json(2) }]);
  await tar('pax-negative.tar', { kind: 'samples', keys: ['a', 'ok'], report: /bad pax size "-1"/ }, [{ name: 'a.json', data: json(1) }, { name: 'b.json', data: json(2), pax: { size: '-1' } }, { name: 'ok.json', data: json(3) }]);
  await tar('pax-nan.tar', { kind: 'samples', keys: ['a', 'ok'], report: /bad pax size "NaN"/ }, [{ name: 'a.json', data: json(1) }, { name: 'b.json', data: json(2), pax: { size: 'NaN' } }, { name: 'ok.json', data: json(3) }]);
  await tar('long-name.tar', { kind: 'samples', keys: ['ok'], report: /member name of 100005 bytes/ }, [{ name: 'x.json', data: json(1), pax: { path: 'n'.repeat(100_000) + '.json' } }, { name: 'ok.json', data: json(2) }]);
  await fsp.writeFile(path.join(shards, 'not-a-tar.tar'), Buffer.alloc(3000, 0x41));
  add('shard not-a-tar.tar', path.join(shards, 'not-a-tar.tar'), { kind: 'samples', keys: [], report: /corrupt tar header/ });
  const sparse = path.join(shards, 'huge-member.tar');
  await writeSparseShard(sparse, 'huge.mp4', 5 * 2 ** 30, [{ name: 'ok.json', data: json(1) }]);
  add('shard with a sparse 5 GiB member', sparse, { kind: 'samples', keys: ['ok'], report: /member "mp4" is 5368709120 bytes, over the limit/ });

  // ---- configs
  const cfg = async (name: string, text: string, expect: Outcome): Promise<void> => {
    const f = path.join(configs, name);
    await fsp.writeFile(f, text);
    add(`config ${name}`, f, expect);
  };
  await cfg('ok.yaml', 'name: ok\n', { kind: 'config-ok' });
  await cfg('nan.yaml', 'name: n\nselection:\n  ratio: .nan\n', { kind: 'config-refused', message: /selection\.ratio: .*\.nan \(not a number\)/ });
  await cfg('unknown-key.yaml', 'name: u\nselection:\n  ratio: 0.5\n  ratoi: 1\n', { kind: 'config-refused', message: /selection\.ratoi: unknown key/ });
  await cfg('not-yaml.yaml', 'name: [unclosed\n', { kind: 'config-refused', message: /not valid YAML/ });
  await cfg('list.yaml', '- a\n- b\n', { kind: 'config-refused', message: /expected a mapping of sections/ });
  const laughs = ['a: &a [x, x, x, x, x, x, x, x, x, x]'];
  for (let i = 1; i < 9; i++) laughs.push(`${String.fromCharCode(97 + i)}: &${String.fromCharCode(97 + i)} [${Array(10).fill(`*${String.fromCharCode(96 + i)}`).join(', ')}]`);
  await cfg('laughs.yaml', laughs.join('\n') + '\n', { kind: 'config-refused', message: /[Ee]xcessive alias count/ });
  await cfg('big.yaml', 'name: big\nx:\n' + '  - 1\n'.repeat(200_000), { kind: 'config-refused', message: /over the limit of \d+ for a config/ });
  execFileSync('mkfifo', [path.join(configs, 'fifo.yaml')]);
  add('config fifo.yaml', path.join(configs, 'fifo.yaml'), { kind: 'config-refused', message: /it is a FIFO/ });
  add('config /dev/zero', '/dev/zero', { kind: 'config-refused', message: /it is a device/ });
  return { media, shards, configs, cases };
}
