/**
 * h5wasm, loaded once for the whole process (the node build, `h5wasm/node`). Its WASM module keeps
 * global state and is not re-entrant, so asynchronous HDF5 work goes through `withH5`, which runs
 * one callback at a time; synchronous use right after `await loadH5()` is safe as it is.
 */
export type H5 = typeof import('h5wasm/node').default;

let h5Promise: Promise<H5> | null = null;

export async function loadH5(): Promise<H5> {
  if (!h5Promise) {
    h5Promise = (async () => {
      const mod = await import('h5wasm/node');
      const h5 = mod.default;
      await h5.ready;
      return h5;
    })();
  }
  return h5Promise;
}

let queue: Promise<unknown> = Promise.resolve();

/** Run `fn` with h5wasm, after every earlier `withH5` callback has finished. */
export function withH5<T>(fn: (h5: H5) => T | Promise<T>): Promise<T> {
  const next = queue.then(async () => fn(await loadH5()));
  queue = next.catch(() => undefined);
  return next;
}
