import { assert } from "./assert.js";
import type { ProgressStatus } from "./types.js";

/**
 * Append messages in flight to one follower, bounded by count and by bytes (etcd's Inflights).
 * Freed in order as the follower acknowledges indexes.
 */
export class Inflights {
  #indexes: number[] = [];
  #sizes: number[] = [];
  #bytes = 0;

  constructor(
    readonly countMax: number,
    readonly bytesMax: number,
  ) {}

  get count(): number {
    return this.#indexes.length;
  }

  get bytes(): number {
    return this.#bytes;
  }

  add(lastIndex: number, bytes: number): void {
    assert(!this.full(), "inflights: add while full");
    const prev = this.#indexes[this.#indexes.length - 1];
    assert(prev === undefined || lastIndex > prev, "inflights: indexes must increase");
    this.#indexes.push(lastIndex);
    this.#sizes.push(bytes);
    this.#bytes += bytes;
  }

  /** Frees every message whose last index is <= index. */
  freeLE(index: number): void {
    let n = 0;
    while (n < this.#indexes.length && this.#indexes[n]! <= index) {
      this.#bytes -= this.#sizes[n]!;
      n++;
    }
    if (n > 0) {
      this.#indexes.splice(0, n);
      this.#sizes.splice(0, n);
    }
  }

  full(): boolean {
    return this.#indexes.length >= this.countMax || this.#bytes >= this.bytesMax;
  }

  reset(): void {
    this.#indexes = [];
    this.#sizes = [];
    this.#bytes = 0;
  }
}

export type ProgressState = "probe" | "replicate" | "snapshot";

/**
 * The leader's view of one peer (etcd's tracker.Progress).
 * Invariant: 0 <= match < next. In "snapshot" state the follower is sent pendingSnapshot in chunks
 * and no appends. In "probe" state at most one append is in flight (flowPaused), in "replicate"
 * state appends are pipelined up to the inflight limits.
 */
export class Progress {
  match = 0;
  next: number;
  state: ProgressState = "probe";
  /** Snapshot index being sent in "snapshot" state. */
  pendingSnapshot = 0;
  /** Next byte offset of the pending snapshot to send (acknowledged by the follower). */
  snapshotOffset = 0;
  /** Offset of the last chunk sent, or -1. */
  snapshotSentOffset = -1;
  /** Heartbeat responses since the snapshot last made progress. */
  snapshotIdleHeartbeats = 0;
  /** Heard from since the last check-quorum round. */
  recentActive = false;
  /**
   * Probe state: an append is in flight and no other may be sent. Replicate state: the in-flight
   * window is full. Cleared by a response that moves match and by any heartbeat response.
   */
  flowPaused = false;
  /** Highest commit index sent to this peer (it may have applied less). */
  sentCommit = 0;
  readonly inflights: Inflights;
  isLearner: boolean;

  constructor(next: number, isLearner: boolean, inflightMsgsMax: number, inflightBytesMax: number) {
    this.next = next;
    this.isLearner = isLearner;
    this.inflights = new Inflights(inflightMsgsMax, inflightBytesMax);
  }

  becomeProbe(): void {
    if (this.state === "snapshot") {
      const pending = this.pendingSnapshot;
      this.resetState("probe");
      this.next = Math.max(this.match + 1, pending + 1);
    } else {
      this.resetState("probe");
      this.next = this.match + 1;
    }
  }

  becomeReplicate(): void {
    this.resetState("replicate");
    this.next = this.match + 1;
  }

  becomeSnapshot(snapshotIndex: number): void {
    this.resetState("snapshot");
    this.pendingSnapshot = snapshotIndex;
  }

  private resetState(state: ProgressState): void {
    this.state = state;
    this.flowPaused = false;
    this.pendingSnapshot = 0;
    this.snapshotOffset = 0;
    this.snapshotSentOffset = -1;
    this.snapshotIdleHeartbeats = 0;
    this.inflights.reset();
  }

  /** Whether sending `committed` could raise the peer's commit index (it has entries up to next-1). */
  canBumpCommit(committed: number): boolean {
    return committed > this.sentCommit && this.sentCommit < this.next - 1;
  }

  /** A successful append response up to n. Returns whether match moved. */
  maybeUpdate(n: number): boolean {
    let updated = false;
    if (this.match < n) {
      this.match = n;
      updated = true;
      this.flowPaused = false;
    }
    this.next = Math.max(this.next, n + 1);
    return updated;
  }

  /**
   * A rejected append probing `rejected`; matchHint is the follower's best guess of the match.
   * Returns false when the rejection is stale (an answer to an older probe).
   */
  maybeDecrTo(rejected: number, matchHint: number): boolean {
    if (this.state === "replicate") {
      if (rejected <= this.match) return false;
      this.next = this.match + 1;
      return true;
    }
    if (this.next - 1 !== rejected) return false;
    this.next = Math.max(Math.min(rejected, matchHint + 1), this.match + 1);
    this.flowPaused = false;
    return true;
  }

  /** Record that an append carrying entries up to lastIndex (bytes in total) was sent. */
  sentEntries(count: number, lastIndex: number, bytes: number): void {
    switch (this.state) {
      case "replicate":
        if (count > 0) {
          this.next = lastIndex + 1;
          this.inflights.add(lastIndex, bytes);
        }
        this.flowPaused = this.inflights.full();
        break;
      case "probe":
        this.flowPaused = true;
        break;
      case "snapshot":
        assert(false, "append sent in snapshot state");
    }
  }

  isPaused(): boolean {
    switch (this.state) {
      case "probe":
      case "replicate":
        return this.flowPaused;
      case "snapshot":
        return true;
    }
  }

  status(): ProgressStatus {
    return {
      match: this.match,
      next: this.next,
      state: this.state,
      recentActive: this.recentActive,
      inflightMsgs: this.inflights.count,
      inflightBytes: this.inflights.bytes,
      isLearner: this.isLearner,
      snapshotOffset: this.snapshotOffset,
    };
  }
}
