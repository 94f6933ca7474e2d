// Simulated stable storage for one replica: a synced part (survives a crash) and an unsynced buffer
// of write records (a record is one atomic batch, like a LevelDB write batch). A crash keeps the
// synced part plus a random prefix of the unsynced records (what the OS happened to flush) and
// loses the rest. Both views apply the same records, so "current" is exactly what the core has
// told the replica to write, and "synced" is what a restart sees.
import type { Entry, HardState, Snapshot } from "../../src/raft/core/types.js";
import { fail } from "./checkers.js";
import type { Prng } from "./prng.js";

export type WriteRecord =
  | { kind: "ready"; hardState?: HardState; snapshot?: Snapshot; entries: Entry[] }
  | { kind: "compact"; snapshot: Snapshot };

export class LogState {
  hardState: HardState;
  snapshot: Snapshot;
  /** entries[i].index === snapshot.meta.index + 1 + i */
  entries: Entry[];

  constructor(hardState: HardState, snapshot: Snapshot, entries: Entry[]) {
    this.hardState = { ...hardState };
    this.snapshot = snapshot;
    this.entries = entries.slice();
  }

  clone(): LogState {
    return new LogState(this.hardState, this.snapshot, this.entries);
  }

  get firstIndex(): number {
    return this.snapshot.meta.index + 1;
  }
  get lastIndex(): number {
    return this.snapshot.meta.index + this.entries.length;
  }

  /** The entry at index, "compacted" at or below the snapshot, undefined past the end. */
  entry(index: number): Entry | "compacted" | undefined {
    if (index <= this.snapshot.meta.index) return "compacted";
    return this.entries[index - this.snapshot.meta.index - 1];
  }

  /** The term at index, including the snapshot's index; undefined when unknown. */
  term(index: number): number | undefined {
    const s = this.snapshot.meta;
    if (index === s.index) return s.term;
    if (index < s.index) return undefined;
    return this.entries[index - s.index - 1]?.term;
  }

  apply(rec: WriteRecord, who: string): void {
    if (rec.kind === "compact") {
      this.#compact(rec.snapshot, who);
      return;
    }
    if (rec.snapshot !== undefined) this.#install(rec.snapshot, who);
    if (rec.entries.length > 0) this.#append(rec.entries, who);
    if (rec.hardState !== undefined) this.hardState = { ...rec.hardState };
  }

  #install(snap: Snapshot, who: string): void {
    const m = snap.meta;
    if (m.index < this.snapshot.meta.index) {
      fail(
        "contract",
        `${who}: Ready holds snapshot ${m.index} older than the stored ${this.snapshot.meta.index}`,
      );
    }
    // Entries after the snapshot survive only when the log agrees with it at its index (then, by
    // log matching, they extend it); otherwise the snapshot replaces the whole log.
    const keep =
      this.term(m.index) === m.term ? this.entries.slice(m.index - this.snapshot.meta.index) : [];
    this.snapshot = snap;
    this.entries = keep;
  }

  #append(entries: Entry[], who: string): void {
    const first = (entries[0] as Entry).index;
    if (first <= this.snapshot.meta.index) {
      fail(
        "contract",
        `${who}: Ready entries start at ${first}, at or below the snapshot index ${this.snapshot.meta.index}`,
      );
    }
    if (first > this.lastIndex + 1) {
      fail(
        "contract",
        `${who}: Ready entries start at ${first}, leaving a gap after the stored last index ${this.lastIndex}`,
      );
    }
    for (let i = 1; i < entries.length; i++) {
      if ((entries[i] as Entry).index !== first + i) {
        fail("contract", `${who}: Ready entries are not contiguous at position ${i}`);
      }
    }
    this.entries.length = first - this.snapshot.meta.index - 1;
    for (const e of entries) this.entries.push(e);
  }

  #compact(snap: Snapshot, who: string): void {
    const m = snap.meta;
    if (m.index < this.snapshot.meta.index) {
      fail(
        "contract",
        `${who}: compact() returned index ${m.index} below the stored snapshot ${this.snapshot.meta.index}`,
      );
    }
    if (m.index > this.lastIndex) {
      fail(
        "contract",
        `${who}: compact() returned index ${m.index} past the stored last index ${this.lastIndex}`,
      );
    }
    const t = this.term(m.index);
    if (t !== m.term) {
      fail(
        "contract",
        `${who}: compact() returned ${m.index}/${m.term}, the stored log has term ${String(t)} there`,
      );
    }
    this.entries = this.entries.slice(m.index - this.snapshot.meta.index);
    this.snapshot = snap;
  }
}

export interface StorageStats {
  writes: number;
  syncs: number;
  lostRecords: number;
}

/** Entries that just became durable, with the term of the entry before the first. */
export type DurableEntries = (entries: Entry[], prevTerm: number | undefined) => void;

export class SimStorage {
  readonly #who: string;
  readonly #onDurable: DurableEntries;
  current: LogState;
  synced: LogState;
  #unsynced: WriteRecord[] = [];
  readonly stats: StorageStats = { writes: 0, syncs: 0, lostRecords: 0 };

  constructor(who: string, init: LogState, onDurable: DurableEntries) {
    this.#who = who;
    this.#onDurable = onDurable;
    this.current = init.clone();
    this.synced = init.clone();
  }

  get unsyncedCount(): number {
    return this.#unsynced.length;
  }

  /** Write a record to the unsynced buffer (visible to `current` at once). */
  write(rec: WriteRecord): void {
    this.stats.writes++;
    this.current.apply(rec, this.#who);
    this.#unsynced.push(rec);
  }

  /** fsync: every buffered record becomes durable. Returns the durable hard state if it changed. */
  sync(): HardState | undefined {
    this.stats.syncs++;
    let hs: HardState | undefined;
    for (const rec of this.#unsynced) {
      this.#makeDurable(rec);
      if (rec.kind === "ready" && rec.hardState !== undefined) hs = rec.hardState;
    }
    this.#unsynced = [];
    return hs;
  }

  #makeDurable(rec: WriteRecord): void {
    this.synced.apply(rec, this.#who);
    if (rec.kind === "ready" && rec.entries.length > 0) {
      const first = (rec.entries[0] as Entry).index;
      this.#onDurable(rec.entries, this.synced.term(first - 1));
    }
  }

  /**
   * Power loss: with probability losesAll every unsynced record is lost; otherwise a random prefix
   * of them reaches the disk (records are atomic) and the rest is lost. Returns how many records were lost and the durable hard state if one survived.
   */
  crash(rng: Prng, losesAll: number): { lost: number; hardState: HardState | undefined } {
    const n = this.#unsynced.length;
    const kept = n === 0 || rng.chance(losesAll) ? 0 : rng.int(0, n);
    let hs: HardState | undefined;
    for (const rec of this.#unsynced.slice(0, kept)) {
      this.#makeDurable(rec);
      if (rec.kind === "ready" && rec.hardState !== undefined) hs = rec.hardState;
    }
    const lost = this.#unsynced.length - kept;
    this.stats.lostRecords += lost;
    this.#unsynced = [];
    this.current = this.synced.clone();
    return { lost, hardState: hs };
  }
}
