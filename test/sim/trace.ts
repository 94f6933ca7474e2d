// The run's trace: one line per event (tick, delivery, drop, crash, restart, Ready summary, client
// action). Every line feeds a running digest, so two runs of one seed can be compared by digest
// alone; the last lines are kept for failure reports, and the whole trace is kept on request
// (--trace FILE). Lines are built only from simulation state, never from wall time or addresses,
// so the same seed gives a byte-identical trace.

export interface TraceOptions {
  /** Keep every line (for --trace FILE); otherwise only the last tailMax lines are kept. */
  keepAll: boolean;
  tailMax: number;
}

export class Trace {
  readonly #keepAll: boolean;
  readonly #tailMax: number;
  readonly #all: string[] = [];
  #tail: string[] = [];
  #h1 = 0x811c9dc5;
  #h2 = 0x6a09e667;
  #lines = 0;
  #now = 0;

  constructor(options: TraceOptions) {
    if (options.tailMax < 1) throw new Error("trace: tailMax must be >= 1");
    this.#keepAll = options.keepAll;
    this.#tailMax = options.tailMax;
  }

  /** The tick stamped on the following lines. */
  setTick(tick: number): void {
    this.#now = tick;
  }

  log(text: string): void {
    const line = `${this.#now} ${text}`;
    this.#lines++;
    let h1 = this.#h1;
    let h2 = this.#h2;
    for (let i = 0; i < line.length; i++) {
      const c = line.charCodeAt(i);
      h1 = Math.imul(h1 ^ c, 0x01000193);
      h2 = Math.imul(h2 ^ c, 0x5bd1e995) ^ (h2 >>> 15);
    }
    // The newline is part of the digested bytes, so "a","b" and "ab" differ.
    this.#h1 = Math.imul(h1 ^ 10, 0x01000193);
    this.#h2 = Math.imul(h2 ^ 10, 0x5bd1e995) ^ (h2 >>> 15);
    if (this.#keepAll) this.#all.push(line);
    this.#tail.push(line);
    if (this.#tail.length > this.#tailMax * 2) this.#tail = this.#tail.slice(-this.#tailMax);
  }

  get lineCount(): number {
    return this.#lines;
  }

  /** A digest of every line so far (hex). */
  digest(): string {
    const a = (this.#h1 >>> 0).toString(16).padStart(8, "0");
    const b = (this.#h2 >>> 0).toString(16).padStart(8, "0");
    return `${a}${b}:${this.#lines}`;
  }

  tail(n: number): string[] {
    return this.#tail.slice(-Math.min(n, this.#tailMax));
  }

  /** The whole trace as file text; empty unless keepAll was set. */
  text(): string {
    return this.#all.length === 0 ? "" : `${this.#all.join("\n")}\n`;
  }
}
