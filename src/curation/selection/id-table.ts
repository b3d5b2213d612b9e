/**
 * Many clip ids held compactly: their UTF-8 bytes in one growing arena with offsets, and an
 * open-addressing hash index (FNV-1a over the UTF-16 code units) from id to position. About
 * bytes + 12 bytes per id, against ~80 bytes for a JS string in a Map; no object per id. Used by
 * the merge of a selection to join the selected clips with manifest.jsonl.
 */
export class IdTable {
  private bytes: Buffer;
  private used = 0;
  private offsets: Float64Array;
  private count = 0;
  private index: Int32Array | null = null;

  constructor(expected: number) {
    this.offsets = new Float64Array(Math.max(1, expected) + 1);
    this.bytes = Buffer.allocUnsafe(Math.max(64, expected * 16));
  }

  get size(): number {
    return this.count;
  }

  push(id: string): void {
    const need = Buffer.byteLength(id);
    if (this.used + need > this.bytes.length) {
      const grown = Buffer.allocUnsafe(Math.max(this.bytes.length * 2, this.used + need));
      this.bytes.copy(grown, 0, 0, this.used);
      this.bytes = grown;
    }
    if (this.count + 1 >= this.offsets.length) {
      const grown = new Float64Array(this.offsets.length * 2);
      grown.set(this.offsets);
      this.offsets = grown;
    }
    this.used += this.bytes.write(id, this.used);
    this.offsets[++this.count] = this.used;
    this.index = null;
  }

  get(i: number): string {
    if (!(i >= 0 && i < this.count)) throw new RangeError(`id ${i} outside 0..${this.count - 1}`);
    return this.bytes.toString('utf8', this.offsets[i], this.offsets[i + 1]);
  }

  /** Position of `id` (the first when pushed twice), or -1. */
  indexOf(id: string): number {
    const index = this.index ?? this.build();
    const mask = index.length - 1;
    for (let h = hash(id) & mask; ; h = (h + 1) & mask) {
      const i = index[h];
      if (i < 0) return -1;
      if (this.get(i) === id) return i;
    }
  }

  has(id: string): boolean {
    return this.indexOf(id) >= 0;
  }

  private build(): Int32Array {
    let cap = 2;
    while (cap < this.count * 2) cap *= 2;
    const index = new Int32Array(cap).fill(-1);
    const mask = cap - 1;
    for (let i = 0; i < this.count; i++) {
      const id = this.get(i);
      let h = hash(id) & mask;
      for (; index[h] >= 0; h = (h + 1) & mask) if (this.get(index[h]) === id) break;
      if (index[h] < 0) index[h] = i;
    }
    this.index = index;
    return index;
  }
}

function hash(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193);
  return h >>> 0;
}
