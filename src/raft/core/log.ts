import { assert } from "./assert.js";
import type { Entry, Snapshot } from "./types.js";

/** Bytes an entry counts for against size limits; a fixed overhead keeps empty entries non-free. */
export function entryBytes(e: Entry): number {
  return e.kind === "normal" ? e.data.length + 16 : 64;
}

/**
 * The replica's log held in memory: the latest snapshot and every entry after it. The shell
 * compacts it (RawNode.compact) so that it stays bounded.
 *
 * Cursors, with the invariant snapshot.index <= applied <= applying <= committed <= lastIndex and
 * stabled <= lastIndex:
 * - committed: highest index known committed.
 * - applying: highest index handed to the application in a Ready not yet acknowledged.
 * - applied: highest index the application acknowledged (advance()).
 * - stabled: highest index handed to the shell for persistence; entries above it are unstable.
 */
export class RaftLog {
  snapshot: Snapshot;
  /** entries[i].index === snapshot.meta.index + 1 + i */
  entries: Entry[];
  committed: number;
  applying: number;
  applied: number;
  stabled: number;
  /** A snapshot received from the leader that the shell has not yet persisted and restored. */
  pendingSnapshot: Snapshot | undefined;

  constructor(snapshot: Snapshot, entries: Entry[], committed: number) {
    this.snapshot = snapshot;
    // Our own array: the caller's must not alias (and be mutated through) this log.
    this.entries = [...entries];
    const first = snapshot.meta.index + 1;
    for (let i = 0; i < entries.length; i++) {
      const e = entries[i]!;
      assert(e.index === first + i, () => `log gap: entry ${e.index} at position of ${first + i}`);
      if (i > 0) assert(e.term >= entries[i - 1]!.term, () => `term decreases at ${e.index}`);
      else assert(e.term >= snapshot.meta.term, () => `term below snapshot at ${e.index}`);
    }
    this.committed = Math.max(committed, snapshot.meta.index);
    assert(
      this.committed <= this.lastIndex(),
      () => `commit ${committed} beyond last index ${this.lastIndex()}`,
    );
    this.applied = snapshot.meta.index;
    this.applying = snapshot.meta.index;
    this.stabled = this.lastIndex();
    this.pendingSnapshot = undefined;
  }

  firstIndex(): number {
    return this.snapshot.meta.index + 1;
  }

  lastIndex(): number {
    return this.snapshot.meta.index + this.entries.length;
  }

  lastTerm(): number {
    const last = this.entries[this.entries.length - 1];
    return last === undefined ? this.snapshot.meta.term : last.term;
  }

  /** The term of entry i, or undefined when i is compacted away or beyond the log. */
  term(i: number): number | undefined {
    const snap = this.snapshot.meta;
    if (i === snap.index) return snap.term;
    if (i < snap.index || i > this.lastIndex()) return undefined;
    return this.entries[i - snap.index - 1]!.term;
  }

  entry(i: number): Entry | undefined {
    return this.entries[i - this.snapshot.meta.index - 1];
  }

  matchTerm(i: number, term: number): boolean {
    return this.term(i) === term;
  }

  isUpToDate(lastIndex: number, lastTerm: number): boolean {
    const myTerm = this.lastTerm();
    return lastTerm > myTerm || (lastTerm === myTerm && lastIndex >= this.lastIndex());
  }

  /**
   * Entries from lo on, at most countMax of them and at most bytesMax bytes (but at least one),
   * or undefined when lo is compacted away.
   */
  slice(lo: number, countMax: number, bytesMax: number): Entry[] | undefined {
    if (lo < this.firstIndex()) return undefined;
    const out: Entry[] = [];
    let bytes = 0;
    for (let i = lo; i <= this.lastIndex() && out.length < countMax; i++) {
      const e = this.entry(i)!;
      bytes += entryBytes(e);
      if (out.length > 0 && bytes > bytesMax) break;
      out.push(e);
    }
    return out;
  }

  /**
   * Approximate bytes a peer whose log matches up to `match` still has to receive: the entries
   * after it (as counted against size limits), plus the snapshot's data when it lies behind the
   * first index.
   */
  bytesAfter(match: number): number {
    let bytes = 0;
    let lo = match + 1;
    if (lo < this.firstIndex()) {
      bytes += this.snapshot.data.length;
      lo = this.firstIndex();
    }
    for (let i = lo; i <= this.lastIndex(); i++) bytes += entryBytes(this.entry(i)!);
    return bytes;
  }

  /** Appends entries, replacing any suffix they conflict with. Returns the new last index. */
  append(ents: Entry[]): number {
    if (ents.length === 0) return this.lastIndex();
    const first = ents[0]!.index;
    assert(
      first > this.committed,
      () => `append at ${first} would overwrite committed ${this.committed}`,
    );
    assert(
      first <= this.lastIndex() + 1,
      () => `append at ${first} leaves a gap after ${this.lastIndex()}`,
    );
    const keep = first - this.firstIndex();
    if (keep < this.entries.length) {
      this.entries.length = keep;
      this.stabled = Math.min(this.stabled, first - 1);
    }
    for (const e of ents) this.entries.push(e);
    return this.lastIndex();
  }

  /** The first entry of ents that is missing here or differs in term; 0 when all match. */
  findConflict(ents: Entry[]): number {
    for (const e of ents) {
      if (!this.matchTerm(e.index, e.term)) return e.index;
    }
    return 0;
  }

  /**
   * Fast backtracking (etcd's findConflictByTerm): the largest index <= index whose term is <= term.
   * Returns that index and its term (0 when unknown because compacted).
   */
  findConflictByTerm(index: number, term: number): { index: number; term: number } {
    let i = Math.min(index, this.lastIndex());
    for (; i > this.snapshot.meta.index; i--) {
      const t = this.term(i)!;
      if (t <= term) return { index: i, term: t };
    }
    return { index: i, term: this.term(i) ?? 0 };
  }

  /**
   * Follower-side append: when the entry before ents matches (index, logTerm), append and return
   * the last index the leader's message covers; otherwise undefined.
   */
  maybeAppend(index: number, logTerm: number, commit: number, ents: Entry[]): number | undefined {
    if (!this.matchTerm(index, logTerm)) return undefined;
    const lastNew = index + ents.length;
    const conflict = this.findConflict(ents);
    if (conflict !== 0) {
      assert(
        conflict > this.committed,
        () => `conflict at ${conflict} with committed ${this.committed}`,
      );
      this.append(ents.slice(conflict - index - 1));
    }
    this.commitTo(Math.min(commit, lastNew));
    return lastNew;
  }

  commitTo(index: number): void {
    if (index <= this.committed) return;
    assert(
      index <= this.lastIndex(),
      () => `commit ${index} beyond last index ${this.lastIndex()}`,
    );
    this.committed = index;
  }

  /** Entries still to hand to the shell for persistence. */
  unstableEntries(): Entry[] {
    if (this.stabled >= this.lastIndex()) return [];
    return this.entries.slice(
      Math.max(this.stabled, this.snapshot.meta.index) - this.snapshot.meta.index,
    );
  }

  /** Committed entries not yet handed to the application, bounded by bytesMax (at least one). */
  nextCommitted(bytesMax: number): Entry[] {
    if (this.pendingSnapshot !== undefined && this.applying < this.snapshot.meta.index) return [];
    const lo = Math.max(this.applying, this.snapshot.meta.index) + 1;
    if (lo > this.committed) return [];
    return this.slice(lo, this.committed - lo + 1, bytesMax) ?? [];
  }

  /** Replace the whole log with a snapshot received from the leader. */
  restore(snapshot: Snapshot): void {
    assert(snapshot.meta.index > this.committed, "restore of a snapshot not ahead of commit");
    this.snapshot = snapshot;
    this.entries = [];
    this.committed = snapshot.meta.index;
    this.stabled = snapshot.meta.index;
    this.pendingSnapshot = snapshot;
  }

  /** Drop entries up to the applied index, which the new local snapshot covers. */
  compact(snapshot: Snapshot): void {
    const idx = snapshot.meta.index;
    assert(idx <= this.applied, () => `compact at ${idx} beyond applied ${this.applied}`);
    assert(
      idx > this.snapshot.meta.index,
      () => `compact at ${idx} not after snapshot ${this.snapshot.meta.index}`,
    );
    assert(this.term(idx) === snapshot.meta.term, () => `compact term mismatch at ${idx}`);
    this.entries = this.entries.slice(idx - this.snapshot.meta.index);
    this.snapshot = snapshot;
  }
}
