import type { Entry, HardState, NodeId, Snapshot } from "./types.js";

/** A structured event the core reports (elections, term changes, membership, snapshots). */
export interface RaftEvent {
  event: string;
  [field: string]: unknown;
}

export interface RaftConfig {
  id: NodeId;
  /** Ticks without hearing from a leader before campaigning; randomized in [T, 2T). */
  electionTicks: number;
  /** Ticks between leader heartbeats; must be < electionTicks. */
  heartbeatTicks: number;
  /** Seeded RNG returning floats in [0, 1); the only source of randomness in the core. */
  rng: () => number;
  preVote: boolean;
  checkQuorum: boolean;
  /** Upper bound of entry bytes in one append message (at least one entry is always sent). */
  msgBytesMax: number;
  /** Upper bound of entries in one append message. */
  msgEntriesMax: number;
  /** Append messages in flight per follower in replicate state. */
  inflightMsgsMax: number;
  /** Entry bytes in flight per follower in replicate state. */
  inflightBytesMax: number;
  /** Leader refuses proposals once this many bytes are appended but not committed. */
  uncommittedBytesMax: number;
  /** Upper bound of entry bytes handed to the application in one Ready. */
  committedBytesPerReadyMax: number;
  /** Size of one InstallSnapshot chunk. */
  snapshotChunkBytes: number;
  /** A single proposal larger than this is refused. */
  proposalBytesMax: number;
  /** Pending ReadIndex requests held by the leader (beyond this, new ones are refused). */
  pendingReadsMax: number;
  /**
   * Put the leader's appends and heartbeats in Ready.earlyMessages so that the shell can send them
   * while it persists (off: every message waits in Ready.messages).
   */
  earlyMessages: boolean;
  /** Observes structured events; must not call back into the core. */
  onEvent?: (e: RaftEvent) => void;
}

export const raftConfigDefaults = {
  electionTicks: 10,
  heartbeatTicks: 1,
  preVote: true,
  checkQuorum: true,
  msgBytesMax: 1 << 20,
  msgEntriesMax: 512,
  inflightMsgsMax: 256,
  inflightBytesMax: 32 << 20,
  uncommittedBytesMax: 64 << 20,
  committedBytesPerReadyMax: 16 << 20,
  snapshotChunkBytes: 1 << 20,
  proposalBytesMax: 1 << 20,
  pendingReadsMax: 10_000,
  earlyMessages: false,
} as const satisfies Partial<RaftConfig>;

export type RaftConfigInput = Pick<RaftConfig, "id" | "rng"> &
  Partial<Omit<RaftConfig, "id" | "rng">>;

export function makeRaftConfig(input: RaftConfigInput): RaftConfig {
  const c: RaftConfig = { ...raftConfigDefaults, ...input };
  validateRaftConfig(c);
  return c;
}

export function validateRaftConfig(c: RaftConfig): void {
  const fail = (why: string): never => {
    throw new Error(`invalid raft config: ${why}`);
  };
  if (c.id === "") fail("id must not be empty");
  if (!Number.isInteger(c.heartbeatTicks) || c.heartbeatTicks < 1)
    fail("heartbeatTicks must be >= 1");
  if (!Number.isInteger(c.electionTicks) || c.electionTicks <= c.heartbeatTicks)
    fail("electionTicks must be an integer > heartbeatTicks");
  if (c.msgEntriesMax < 1) fail("msgEntriesMax must be >= 1");
  if (c.inflightMsgsMax < 1) fail("inflightMsgsMax must be >= 1");
  if (c.inflightBytesMax < c.msgBytesMax) fail("inflightBytesMax must be >= msgBytesMax");
  if (c.snapshotChunkBytes < 1) fail("snapshotChunkBytes must be >= 1");
  if (c.proposalBytesMax > c.uncommittedBytesMax)
    fail("proposalBytesMax must be <= uncommittedBytesMax");
  if (c.pendingReadsMax < 1) fail("pendingReadsMax must be >= 1");
}

/**
 * What a replica starts from: the durable state loaded by the shell (or the bootstrap state of a
 * fresh replica: a snapshot at index 0 holding the initial membership, no entries).
 */
export interface RaftInitialState {
  hardState: HardState;
  /** The latest snapshot; index 0 with empty data for a fresh replica. */
  snapshot: Snapshot;
  /** Entries after the log's first index, contiguous, ending at the last stored index. */
  entries: Entry[];
}
