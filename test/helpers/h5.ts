/**
 * What an HDF5 file holds, without its bytes: HDF5 object headers may carry times, so two writes of
 * the same data need not be byte-identical. Every dataset's path → sha256 of shape, dtype and values.
 */
import { createHash } from 'node:crypto';
import { withH5 } from '../../src/runtime/h5.js';

function sha(data: Uint8Array | string): string {
  return createHash('sha256').update(data).digest('hex');
}

/** Every dataset of an HDF5 file: path → sha256 of its values (shape and dtype included). */
export async function h5Digest(file: string): Promise<Record<string, string>> {
  return withH5((h5) => {
    const f = new h5.File(file, 'r');
    const out: Record<string, string> = {};
    const visit = (g: { keys(): string[]; get(k: string): unknown }, prefix: string): void => {
      for (const k of g.keys()) {
        const item = g.get(k) as { type?: string; value?: unknown; shape?: number[]; dtype?: unknown; keys?: () => string[] };
        const p = `${prefix}/${k}`;
        if (item && typeof item.keys === 'function' && item.value === undefined) visit(item as never, p);
        else if (item) {
          const v = item.value as ArrayLike<unknown> | unknown;
          const body = ArrayBuffer.isView(v) ? Buffer.from((v as Uint8Array).buffer, (v as Uint8Array).byteOffset, (v as Uint8Array).byteLength) : JSON.stringify(v, (_k, x) => (typeof x === 'bigint' ? String(x) : x));
          out[p] = sha(`${JSON.stringify(item.shape)}|${JSON.stringify(item.dtype)}|`) + sha(body);
        }
      }
    };
    try {
      visit(f as never, '');
    } finally {
      f.close();
    }
    return out;
  });
}
