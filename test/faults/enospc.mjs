// Preloaded (node --import) by the disk-full fault test where no tmpfs can be mounted: every file
// write of the process counts its bytes, and once AVCURATE_ENOSPC_AFTER bytes were written the
// next write fails with ENOSPC, as a full disk does. Writes to stdout/stderr (fd 1, 2) are not counted.
import fs from 'node:fs';
import fsp from 'node:fs/promises';

const limit = Number(process.env.AVCURATE_ENOSPC_AFTER ?? 65536);
let written = 0;
function charge(fd, n) {
  if (fd === 1 || fd === 2) return;
  written += n;
  if (written > limit) {
    const err = new Error(`ENOSPC: no space left on device, write`);
    err.code = 'ENOSPC';
    err.errno = -28;
    err.syscall = 'write';
    throw err;
  }
}
const size = (data) => (typeof data === 'string' ? Buffer.byteLength(data) : data?.byteLength ?? 0);

const writeSync = fs.writeSync;
fs.writeSync = function (fd, buf, ...rest) {
  charge(fd, typeof buf === 'string' ? Buffer.byteLength(buf) : rest.length >= 2 && typeof rest[1] === 'number' ? rest[1] : size(buf));
  return writeSync.call(this, fd, buf, ...rest);
};
const write = fs.write;
fs.write = function (fd, buf, ...rest) {
  const cb = rest[rest.length - 1];
  try {
    charge(fd, typeof buf === 'string' ? Buffer.byteLength(buf) : typeof rest[1] === 'number' ? rest[1] : size(buf));
  } catch (err) {
    process.nextTick(() => cb(err));
    return;
  }
  return write.call(this, fd, buf, ...rest);
};
for (const name of ['writeFileSync', 'appendFileSync']) {
  const orig = fs[name];
  fs[name] = function (file, data, ...rest) {
    charge(typeof file === 'number' ? file : -1, size(data));
    return orig.call(this, file, data, ...rest);
  };
}
for (const name of ['writeFile', 'appendFile']) {
  const orig = fsp[name];
  fsp[name] = async function (file, data, ...rest) {
    charge(-1, size(data));
    return orig.call(this, file, data, ...rest);
  };
}
const probe = await fsp.open('/dev/null', 'r');
const proto = Object.getPrototypeOf(probe);
await probe.close();
const fhWrite = proto.write;
proto.write = async function (buf, ...rest) {
  charge(this.fd, typeof buf === 'string' ? Buffer.byteLength(buf) : typeof rest[1] === 'number' ? rest[1] : size(buf));
  return fhWrite.call(this, buf, ...rest);
};
const fhWriteFile = proto.writeFile;
proto.writeFile = async function (data, ...rest) {
  charge(this.fd, size(data));
  return fhWriteFile.call(this, data, ...rest);
};
