/**
 * Sorting without comparator callbacks. The rankings of the selection sort hundreds of thousands
 * of float keys; `Array.prototype.sort` with a comparator costs a JS call per comparison
 * (measured: ~0.05 s CPU for 220,000 contributions, a fixed cost of every incremental run), while
 * an LSD radix sort over the keys' bit patterns costs four counting passes.
 */

/**
 * Positions 0..n−1 of `keys` ordered by key, highest first; equal keys keep their position order
 * (a stable sort), −0 equals +0. NaN keys come last (in position order). The IEEE-754 bits are
 * mapped to unsigned integers whose order is the numeric order; an LSD radix sort with 16-bit
 * digits orders the high 32 bits, and runs that agree there are ordered by the low 32 bits
 * (insertion sort for short runs). O(n) time for keys that differ in their top 32 bits.
 */
export function argsortDescending(keys: Float64Array): Int32Array {
  const n = keys.length;
  // Unsigned sort keys, as two 32-bit halves: ascending order of (hi, lo) = descending key order.
  const hi = new Uint32Array(n);
  const lo = new Uint32Array(n);
  const f = new Float64Array(1);
  const u = new Uint32Array(f.buffer);
  // Which half of a float64 holds the sign and exponent on this platform.
  f[0] = -1;
  const H = u[1] === 0xbff00000 ? 1 : 0;
  const L = 1 - H;
  for (let i = 0; i < n; i++) {
    const k = keys[i];
    if (k !== k) {
      // NaN: after every number.
      hi[i] = 0xffffffff;
      lo[i] = 0xffffffff;
      continue;
    }
    f[0] = k + 0; // −0 → +0
    let h = u[H];
    let l = u[L];
    // Ascending unsigned map: negative → flip every bit; non-negative → flip the sign bit.
    if (h & 0x80000000) {
      h = ~h >>> 0;
      l = ~l >>> 0;
    } else h = (h | 0x80000000) >>> 0;
    // Descending: complement, so the largest value gets the smallest key. No number maps to
    // all ones here (that would be a negative NaN), so the NaN keys above sort after them.
    hi[i] = ~h >>> 0;
    lo[i] = ~l >>> 0;
  }
  let idx = new Int32Array(n);
  let tmp = new Int32Array(n);
  for (let i = 0; i < n; i++) idx[i] = i;
  const count = new Int32Array(65536);
  // The high halves first (two 16-bit digits, least significant first), then each run of equal
  // high halves by the low halves: scores of a pool rarely agree in their top 32 bits (sign,
  // exponent, 20 bits of mantissa), so most runs hold one key and two counting passes, one of
  // them often skipped, replace four.
  for (let pass = 0; pass < 2; pass++) {
    const shift = pass * 16;
    count.fill(0);
    for (let i = 0; i < n; i++) count[(hi[i] >>> shift) & 0xffff]++;
    // Skip a pass whose digit is the same for every key (common for the top digit).
    if (count[(hi[0] >>> shift) & 0xffff] === n) continue;
    let sum = 0;
    for (let d = 0; d < 65536; d++) {
      const c = count[d];
      count[d] = sum;
      sum += c;
    }
    for (let r = 0; r < n; r++) {
      const i = idx[r];
      tmp[count[(hi[i] >>> shift) & 0xffff]++] = i;
    }
    const swap = idx;
    idx = tmp;
    tmp = swap;
  }
  let r = 0;
  while (r < n) {
    const h = hi[idx[r]];
    let e = r + 1;
    while (e < n && hi[idx[e]] === h) e++;
    if (e - r > 1) sortRunByLow(idx, r, e, lo);
    r = e;
  }
  return idx;
}

/** Order idx[from, to) by lo ascending, stably (equal keys keep their position order). */
function sortRunByLow(idx: Int32Array, from: number, to: number, lo: Uint32Array): void {
  if (to - from <= 32) {
    for (let i = from + 1; i < to; i++) {
      const v = idx[i];
      const key = lo[v];
      let j = i - 1;
      while (j >= from && lo[idx[j]] > key) {
        idx[j + 1] = idx[j];
        j--;
      }
      idx[j + 1] = v;
    }
    return;
  }
  // Long runs (many keys within 2⁻²⁰ of each other, or equal): a comparator sort of the run; the
  // positions break ties, so it is stable whatever the engine's sort.
  const run = Array.from(idx.subarray(from, to)).sort((a, b) => lo[a] - lo[b] || a - b);
  idx.set(run, from);
}
