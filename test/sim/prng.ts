// A small seeded PRNG for the simulator: sfc32 (Chris Doty-Humphrey's Small Fast Counter), seeded
// through splitmix32 so that nearby seeds give unrelated streams. Every random choice in a sim run,
// including the rng handed to each RawNode, comes from one root Prng built from the run's seed;
// sub-streams are derived with fork(label), so adding a draw in one component does not shift the
// draws of another.

/** splitmix32: a seed scrambler; returns the next state and output. */
function splitmix32(state: number): [number, number] {
  const s = (state + 0x9e3779b9) | 0;
  let z = s;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
  z ^= z >>> 16;
  return [s, z >>> 0];
}

/** FNV-1a over a string's UTF-16 code units; used to turn labels into seed material. */
export function hashString(s: string, seed = 0x811c9dc5): number {
  let h = seed >>> 0;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

export class Prng {
  #a: number;
  #b: number;
  #c: number;
  #d: number;

  /** seed: any integer (only the low 32 bits and, for large seeds, the high bits are mixed in). */
  constructor(seed: number, salt = 0) {
    if (!Number.isSafeInteger(seed)) throw new Error(`prng seed must be a safe integer: ${seed}`);
    let st = (seed >>> 0) ^ Math.imul(Math.floor(seed / 2 ** 32) | 0, 0x27d4eb2f) ^ salt;
    let out: number;
    [st, out] = splitmix32(st);
    this.#a = out;
    [st, out] = splitmix32(st);
    this.#b = out;
    [st, out] = splitmix32(st);
    this.#c = out;
    [st, out] = splitmix32(st);
    this.#d = out | 1;
    // Discard the first outputs: sfc32 mixes slowly from a fresh state.
    for (let i = 0; i < 12; i++) this.nextU32();
  }

  /** A uniformly distributed unsigned 32-bit integer. */
  nextU32(): number {
    const a = this.#a;
    const b = this.#b;
    const c = this.#c;
    const d = this.#d;
    const t = (((a + b) | 0) + d) | 0;
    this.#d = (d + 1) | 0;
    this.#a = b ^ (b >>> 9);
    this.#b = (c + (c << 3)) | 0;
    this.#c = (((c << 21) | (c >>> 11)) + t) | 0;
    return t >>> 0;
  }

  /** A float in [0, 1) with 32 bits of randomness. */
  float(): number {
    return this.nextU32() / 4294967296;
  }

  /** An integer in [lo, hi], both inclusive. */
  int(lo: number, hi: number): number {
    if (!Number.isInteger(lo) || !Number.isInteger(hi) || hi < lo) {
      throw new Error(`prng.int: bad range [${lo}, ${hi}]`);
    }
    const span = hi - lo + 1;
    if (span > 4294967296) throw new Error("prng.int: range too large");
    // Rejection sampling keeps the distribution exactly uniform.
    const limit = 4294967296 - (4294967296 % span);
    for (;;) {
      const x = this.nextU32();
      if (x < limit) return lo + (x % span);
    }
  }

  /** True with probability p (p <= 0 never, p >= 1 always; no draw is skipped either way). */
  chance(p: number): boolean {
    return this.float() < p;
  }

  /** A uniformly chosen element; throws on an empty array. */
  pick<T>(items: readonly T[]): T {
    if (items.length === 0) throw new Error("prng.pick: empty array");
    return items[this.int(0, items.length - 1)] as T;
  }

  /** A new array with the items in a uniformly random order (Fisher-Yates). */
  shuffle<T>(items: readonly T[]): T[] {
    const out = items.slice();
    for (let i = out.length - 1; i > 0; i--) {
      const j = this.int(0, i);
      const tmp = out[i] as T;
      out[i] = out[j] as T;
      out[j] = tmp;
    }
    return out;
  }

  /** A weighted choice: weights are non-negative and not all zero. */
  weighted<T>(options: readonly (readonly [T, number])[]): T {
    let total = 0;
    for (const [, w] of options) total += w;
    if (!(total > 0)) throw new Error("prng.weighted: no positive weight");
    let x = this.float() * total;
    for (const [v, w] of options) {
      if (x < w) return v;
      x -= w;
    }
    return (options[options.length - 1] as readonly [T, number])[0];
  }

  /**
   * A child stream determined by this stream's next output and the label. Forking consumes one
   * draw from the parent, so fork order matters (it is part of the deterministic schedule).
   */
  fork(label: string): Prng {
    const material = this.nextU32();
    return new Prng(material, hashString(label));
  }

  /** A () => number in [0, 1), the shape RaftConfig.rng wants. */
  asRng(): () => number {
    return () => this.float();
  }
}

/** Derive an independent stream from a seed and a label without a parent stream. */
export function streamFor(seed: number, label: string): Prng {
  return new Prng(seed, hashString(label));
}
