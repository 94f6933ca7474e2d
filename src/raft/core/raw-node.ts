// STUB: the real implementation is being written now; the signatures below are final.
import type { RaftConfig, RaftInitialState } from "./config.js";
import type {
  ConfChange,
  Message,
  NodeId,
  ProposeResult,
  RaftStatus,
  Ready,
  SnapshotMeta,
} from "./types.js";

export type ReadIndexResult = { ok: true } | { ok: false; error: "not-leader" | "too-many-pending-reads"; leader: NodeId };

export class RawNode {
  constructor(_config: RaftConfig, _init: RaftInitialState) {
    throw new Error("not implemented yet");
  }
  /** Advance logical time by one tick (elections, heartbeats, check-quorum, transfer timeout). */
  tick(): void {}
  /** Deliver a message from a peer. Messages for other ids or stale/duplicate ones are handled safely. */
  step(_m: Message): void {}
  /** Propose opaque data; only the leader accepts. */
  propose(_data: Uint8Array): ProposeResult {
    throw new Error("stub");
  }
  proposeConfChange(_cc: ConfChange): ProposeResult {
    throw new Error("stub");
  }
  /** Ask for a linearizable read point; the answer arrives as a ReadState with this context. */
  readIndex(_context: string): ReadIndexResult {
    throw new Error("stub");
  }
  /** Leader: hand leadership to target. Follower: forwarded to the leader. */
  transferLeadership(_target: NodeId): void {}
  /** Start an election now (tests and bootstrap); respects PreVote. */
  campaign(): void {}
  hasReady(): boolean {
    return false;
  }
  /** Collect pending work. Must be followed by advance() before the next ready(). */
  ready(): Ready {
    throw new Error("stub");
  }
  /** Acknowledge that the last Ready was persisted, sent and applied. */
  advance(): void {}
  /** Take a snapshot at the applied index with the state machine's data and drop the log up to it. */
  compact(_data: Uint8Array): SnapshotMeta {
    throw new Error("stub");
  }
  /** The transport could not reach a peer: the leader falls back to probing it. */
  reportUnreachable(_id: NodeId): void {}
  status(): RaftStatus {
    throw new Error("stub");
  }
}
