// A hierarchical bitmap over offsets [0, capacity): level 0 has one bit per offset (1 = taken);
// bit j of level k+1 is set exactly when word j of level k is full. Finding the next clear bit
// from a position climbs until it meets a word that is not full, then descends along clear
// summary bits: at most 2 × levels word reads, and levels = ceil(log32(capacity)) ≤ 5 for a /8.
// set/clear touch one word per level and stop at the first level whose fullness did not change.
// Words live in chunks allocated on first write, so an empty /8 costs a few bytes, not 2 MiB.

import { assert } from "./assert.js";
import { ipamWindowMax } from "./limits.js";

const chunkWordsMax = 1024;

function nextPowerOfTwo(n: number): number {
  let p = 1;
  while (p < n) p *= 2;
  return p;
}

/** Count of trailing zeros of a non-zero 32-bit integer. */
function ctz(x: number): number {
  return 31 - Math.clz32(x & -x);
}

/** The bits below position b (0 ≤ b < 32) set. */
function lowMask(b: number): number {
  return b === 0 ? 0 : -1 >>> (32 - b);
}

/** The words of one level; a chunk that was never written reads as zero. */
class WordArray {
  readonly words: number;
  readonly #shift: number;
  readonly #mask: number;
  readonly #chunkWords: number;
  readonly #chunks: (Int32Array | undefined)[];

  constructor(words: number) {
    assert(Number.isInteger(words) && words >= 1, "word count must be positive");
    this.words = words;
    this.#chunkWords = Math.min(chunkWordsMax, nextPowerOfTwo(words));
    this.#shift = Math.log2(this.#chunkWords);
    this.#mask = this.#chunkWords - 1;
    this.#chunks = new Array<Int32Array | undefined>(Math.ceil(words / this.#chunkWords)).fill(
      undefined,
    );
  }

  get(i: number): number {
    const chunk = this.#chunks[i >>> this.#shift];
    return chunk === undefined ? 0 : chunk[i & this.#mask]!;
  }

  set(i: number, value: number): void {
    assert(i >= 0 && i < this.words, "word index out of range");
    let chunk = this.#chunks[i >>> this.#shift];
    if (chunk === undefined) {
      if (value === 0) return;
      chunk = new Int32Array(this.#chunkWords);
      this.#chunks[i >>> this.#shift] = chunk;
    }
    chunk[i & this.#mask] = value;
  }
}

export class HierarchicalBitmap {
  readonly capacity: number;
  readonly #levels: WordArray[] = [];
  #count = 0;
  #probes = 0;

  constructor(capacity: number) {
    assert(
      Number.isInteger(capacity) && capacity >= 1 && capacity <= ipamWindowMax,
      "bad capacity",
    );
    this.capacity = capacity;
    let words = Math.ceil(capacity / 32);
    this.#levels.push(new WordArray(words));
    while (words > 1) {
      words = Math.ceil(words / 32);
      this.#levels.push(new WordArray(words));
    }
  }

  /** Number of set bits. */
  get count(): number {
    return this.#count;
  }

  get levelCount(): number {
    return this.#levels.length;
  }

  /** Words read by findNextZero since construction (for cost tests). */
  get probeCount(): number {
    return this.#probes;
  }

  has(offset: number): boolean {
    assert(
      Number.isInteger(offset) && offset >= 0 && offset < this.capacity,
      "offset out of range",
    );
    return ((this.#levels[0]!.get(offset >>> 5) >>> (offset & 31)) & 1) === 1;
  }

  set(offset: number): void {
    assert(!this.has(offset), "bit already set");
    let index = offset;
    for (const level of this.#levels) {
      const w = index >>> 5;
      const bit = 1 << (index & 31);
      const before = level.get(w);
      assert((before & bit) === 0, "summary bit set below a word that was not full");
      const after = before | bit;
      level.set(w, after);
      if (after !== -1) break;
      index = w;
    }
    this.#count++;
    assert(this.#count <= this.capacity, "more bits set than the capacity");
  }

  clear(offset: number): void {
    assert(this.has(offset), "bit not set");
    let index = offset;
    for (const level of this.#levels) {
      const w = index >>> 5;
      const bit = 1 << (index & 31);
      const before = level.get(w);
      assert((before & bit) !== 0, "summary bit clear above a full word");
      level.set(w, before & ~bit);
      if (before !== -1) break;
      index = w;
    }
    this.#count--;
    assert(this.#count >= 0, "negative bit count");
  }

  /** The smallest clear offset ≥ from, or -1 when [from, capacity) is full. */
  findNextZero(from: number): number {
    assert(Number.isInteger(from) && from >= 0, "bad search start");
    if (from >= this.capacity) return -1;
    const top = this.#levels.length - 1;
    let k = 0;
    let index = from;
    for (;;) {
      const level = this.#levels[k]!;
      const w = index >>> 5;
      if (w >= level.words) return -1;
      this.#probes++;
      const word = level.get(w) | lowMask(index & 31);
      if (word !== -1) {
        index = (w << 5) | ctz(~word);
        break;
      }
      if (k === top) return -1;
      index = w + 1;
      k++;
    }
    while (k > 0) {
      k--;
      this.#probes++;
      const word = this.#levels[k]!.get(index);
      assert(word !== -1, "clear summary bit above a full word");
      index = (index << 5) | ctz(~word);
    }
    return index < this.capacity ? index : -1;
  }

  /** Set offsets in increasing order; O(capacity / 32), for invariant checks and tests. */
  *ones(): Generator<number> {
    const leaf = this.#levels[0]!;
    for (let w = 0; w < leaf.words; w++) {
      let word = leaf.get(w);
      while (word !== 0) {
        const b = ctz(word);
        yield (w << 5) | b;
        word &= word - 1;
      }
    }
  }

  /** Full check of the summary levels and the count; O(capacity / 32). */
  checkInvariants(): void {
    let count = 0;
    const leaf = this.#levels[0]!;
    for (let w = 0; w < leaf.words; w++) {
      let word = leaf.get(w);
      if (w === leaf.words - 1 && this.capacity % 32 !== 0) {
        assert((word & ~lowMask(this.capacity % 32)) === 0, "bit set beyond the capacity");
      }
      while (word !== 0) {
        count++;
        word &= word - 1;
      }
    }
    assert(count === this.#count, `bitmap count ${this.#count} but ${count} bits set`);
    for (let k = 1; k < this.#levels.length; k++) {
      const below = this.#levels[k - 1]!;
      const level = this.#levels[k]!;
      for (let w = 0; w < below.words; w++) {
        const summary = (level.get(w >>> 5) >>> (w & 31)) & 1;
        assert(summary === (below.get(w) === -1 ? 1 : 0), `summary level ${k} disagrees at ${w}`);
      }
    }
  }
}
