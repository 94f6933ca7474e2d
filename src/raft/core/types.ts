// The data that flows into and out of the pure Raft core. Everything here is plain data:
// the shell encodes it (msgpackr) for LevelDB and the wire, the simulator copies it around.

/** A replica's identity, stable for its lifetime (e.g. "n1"). Never reused after removal. */
export type NodeId = string;

export type Role = "follower" | "pre-candidate" | "candidate" | "leader";

/** What the state machine sees of the cluster membership. Voters and learners are disjoint. */
export interface ConfState {
  voters: NodeId[];
  learners: NodeId[];
  /** Peer addresses (host:port) for the transport; kept with membership so it survives snapshots. */
  addresses: Record<NodeId, string>;
}

/**
 * A membership change, one at a time (etcd's V1 rules): at most one change is pending (proposed
 * but not yet applied), and a new leader accepts none until it has applied an entry of its own term.
 */
export type ConfChange =
  | { type: "add-learner"; nodeId: NodeId; address: string }
  | { type: "add-voter"; nodeId: NodeId; address: string }
  | { type: "promote"; nodeId: NodeId }
  | { type: "remove"; nodeId: NodeId };

export type Entry =
  /** data is opaque to Raft; an empty normal entry is the leader's no-op. */
  | { kind: "normal"; index: number; term: number; data: Uint8Array }
  | { kind: "conf"; index: number; term: number; change: ConfChange };

export interface HardState {
  term: number;
  /** "" when this replica has not voted in `term`. */
  vote: NodeId;
  commit: number;
}

export interface SnapshotMeta {
  index: number;
  term: number;
  confState: ConfState;
}

export interface Snapshot {
  meta: SnapshotMeta;
  data: Uint8Array;
}

/** One piece of a snapshot in flight; a follower reassembles chunks in order and can resume. */
export interface SnapshotChunk {
  meta: SnapshotMeta;
  /** Byte offset of `data` inside the whole snapshot. */
  offset: number;
  /** Total snapshot size in bytes. */
  total: number;
  data: Uint8Array;
}

export interface ReadState {
  /** The commit index at the time the read was confirmed; serve the read once applied >= index. */
  index: number;
  context: string;
}

export interface SoftState {
  leader: NodeId;
  role: Role;
}

interface MsgBase {
  from: NodeId;
  to: NodeId;
  term: number;
}

export type Message =
  | (MsgBase & {
      type: "app";
      /** Index and term of the entry immediately preceding `entries`. */
      index: number;
      logTerm: number;
      entries: Entry[];
      commit: number;
    })
  | (MsgBase & {
      type: "app-resp";
      /** On success: the last index now matched. On reject: the index that was probed. */
      index: number;
      reject: boolean;
      /** On reject: the follower's hint for the leader's next probe (fast backtracking). */
      rejectHint: number;
      /** On reject: the term of the follower's entry at rejectHint (0 if none). */
      logTerm: number;
    })
  | (MsgBase & {
      type: "vote" | "pre-vote";
      /** Candidate's last log index and term. */
      index: number;
      logTerm: number;
      /** True when a leadership transfer asked for this election; it bypasses the leader lease. */
      transfer: boolean;
    })
  | (MsgBase & { type: "vote-resp" | "pre-vote-resp"; reject: boolean })
  | (MsgBase & { type: "heartbeat"; commit: number; context: string })
  | (MsgBase & { type: "heartbeat-resp"; context: string })
  | (MsgBase & { type: "snap"; chunk: SnapshotChunk })
  | (MsgBase & {
      type: "snap-resp";
      snapIndex: number;
      snapTerm: number;
      /** The next byte offset the follower expects for this snapshot. */
      offset: number;
    })
  | (MsgBase & { type: "read-index"; context: string })
  | (MsgBase & { type: "read-index-resp"; context: string; index: number; reject: boolean })
  | (MsgBase & { type: "timeout-now" })
  | (MsgBase & { type: "transfer-leader"; target: NodeId });

export type MessageType = Message["type"];

/**
 * The batch of work the shell must do, in this order: send earlyMessages (optional: they may also
 * go with messages), persist, send messages, apply, then advance().
 */
export interface Ready {
  /** Set when leader or role changed since the last Ready. */
  softState?: SoftState;
  /** Set when term, vote or commit changed; persist before sending messages. */
  hardState?: HardState;
  /**
   * Entries to append to stable storage. entries[0].index may be at or below the stored last
   * index: the stored suffix from entries[0].index on is then replaced.
   */
  entries: Entry[];
  /** A snapshot received from the leader: persist it, then restore the state machine from it. */
  snapshot?: Snapshot;
  /** Entries to apply to the state machine, in order, after persisting. */
  committedEntries: Entry[];
  /**
   * The leader's appends, heartbeats and snapshot chunks: may be sent before or while the writes
   * above are made durable (the leader's own copy counts toward commit only after advance()).
   */
  earlyMessages: Message[];
  /** Messages to send only after everything above is durable. */
  messages: Message[];
  readStates: ReadState[];
  /** Set when membership changed through an applied conf change or a snapshot. */
  confState?: ConfState;
  /** True when hardState or entries changed, i.e. the write needs fsync before messages go out. */
  mustSync: boolean;
}

export type ProposeError =
  /** Not the leader; `leader` is the known leader or "". */
  | "not-leader"
  | "transfer-in-progress"
  | "proposal-too-large"
  | "uncommitted-size-exceeded"
  | "conf-change-pending"
  | "conf-change-invalid"
  | "learner-not-caught-up";

export type ProposeResult =
  | { ok: true; index: number; term: number }
  | { ok: false; error: ProposeError; leader: NodeId; reason: string };

export interface RaftStatus {
  id: NodeId;
  role: Role;
  term: number;
  vote: NodeId;
  leader: NodeId;
  commit: number;
  applied: number;
  firstIndex: number;
  lastIndex: number;
  snapshotIndex: number;
  confState: ConfState;
  /** Leader only: replication progress per peer. */
  progress: Record<NodeId, ProgressStatus>;
  leadTransferee: NodeId;
}

export interface ProgressStatus {
  match: number;
  next: number;
  state: "probe" | "replicate" | "snapshot";
  recentActive: boolean;
  inflightMsgs: number;
  inflightBytes: number;
  isLearner: boolean;
  /** Bytes of a snapshot sent so far when state is "snapshot". */
  snapshotOffset: number;
}
