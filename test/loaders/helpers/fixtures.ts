/** Test fixtures: temp folders, a local http server with Range support, python detection. */
import { mkdtempSync, existsSync, promises as fsp, createReadStream, statSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import type { AddressInfo } from 'node:net';

export function tempDir(tag: string): string {
  return mkdtempSync(path.join(os.tmpdir(), `avcurate-loaders-${tag}-`));
}

export async function removeDir(dir: string): Promise<void> {
  await fsp.rm(dir, { recursive: true, force: true });
}

/** Debian's python3 with numpy, when present (optional cross-checks). */
export function pythonWithNumpy(): string | null {
  const py = '/usr/bin/python3';
  if (!existsSync(py)) return null;
  const r = spawnSync(py, ['-c', 'import numpy, tarfile'], { encoding: 'utf8' });
  return r.status === 0 ? py : null;
}

export function runPython(py: string, code: string, args: string[] = []): string {
  const r = spawnSync(py, ['-c', code, ...args], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`python failed: ${r.stderr}`);
  return r.stdout;
}

export interface FileServer {
  url: string;
  requests: Array<{ path: string; range?: string }>;
  close(): Promise<void>;
}

/** Serve files of `dir` on 127.0.0.1 with Range support (206), 404 for missing files. */
export async function serveDir(dir: string): Promise<FileServer> {
  const requests: FileServer['requests'] = [];
  const server = http.createServer((req, res) => {
    const rel = decodeURIComponent((req.url ?? '/').split('?')[0]).replace(/^\/+/, '');
    requests.push({ path: rel, range: req.headers.range });
    const file = path.join(dir, rel);
    if (!file.startsWith(dir) || !existsSync(file)) {
      res.writeHead(404).end('not found');
      return;
    }
    const size = statSync(file).size;
    const m = /^bytes=(\d+)-(\d*)$/.exec(req.headers.range ?? '');
    if (m) {
      const start = Number(m[1]);
      const end = m[2] ? Number(m[2]) : size - 1;
      if (start >= size) {
        res.writeHead(416, { 'Content-Range': `bytes */${size}` }).end();
        return;
      }
      res.writeHead(206, { 'Content-Length': end - start + 1, 'Content-Range': `bytes ${start}-${end}/${size}`, 'Accept-Ranges': 'bytes' });
      createReadStream(file, { start, end }).pipe(res);
      return;
    }
    res.writeHead(200, { 'Content-Length': size, 'Accept-Ranges': 'bytes' });
    createReadStream(file).pipe(res);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    close: () => new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
}
