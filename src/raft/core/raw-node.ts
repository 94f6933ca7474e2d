// RawNode: the synchronous API the shell drives (after etcd-io/raft's rawnode.go). The protocol
// is ready() → persist, send, apply → advance(); nothing else may touch the node in between, so
// the shell queues inputs that arrive meanwhile (and so gets group commit for free).
import { assert } from "./assert.js";
import type { RaftConfig, RaftInitialState } from "./config.js";
import { Raft, type ReadIndexResult } from "./raft.js";
import type {
  ConfChange,
  Entry,
  HardState,
  Message,
  NodeId,
  ProposeResult,
  RaftStatus,
  Ready,
  Snapshot,
  SnapshotMeta,
  SoftState,
} from "./types.js";

export type { ReadIndexResult } from "./raft.js";

interface Outstanding {
  stableTo: number;
  applyingTo: number;
  snapshot: Snapshot | undefined;
  committed: Entry[];
  hardState: HardState;
  softState: SoftState;
  confVersion: number;
}

export class RawNode {
  readonly #raft: Raft;
  #prevHardState: HardState;
  #prevSoftState: SoftState;
  #prevConfVersion: number;
  #outstanding: Outstanding | undefined;

  constructor(config: RaftConfig, init: RaftInitialState) {
    this.#raft = new Raft(config, init);
    this.#prevHardState = this.#hardState();
    this.#prevSoftState = this.#softState();
    this.#prevConfVersion = this.#raft.confVersion;
  }

  #guard(op: string): void {
    assert(this.#outstanding === undefined, () => `${op} between ready() and advance()`);
  }

  #hardState(): HardState {
    const r = this.#raft;
    return { term: r.term, vote: r.vote, commit: r.log.committed };
  }

  #softState(): SoftState {
    return { leader: this.#raft.lead, role: this.#raft.role };
  }

  /** Advance logical time by one tick (elections, heartbeats, check-quorum, transfer timeout). */
  tick(): void {
    this.#guard("tick");
    this.#raft.tick();
  }

  /** Deliver a message from a peer; messages for another id are ignored. */
  step(m: Message): void {
    this.#guard("step");
    this.#raft.step(m);
  }

  /** Propose opaque data; only the leader accepts. */
  propose(data: Uint8Array): ProposeResult {
    this.#guard("propose");
    return this.#raft.propose(data);
  }

  proposeConfChange(cc: ConfChange): ProposeResult {
    this.#guard("proposeConfChange");
    return this.#raft.proposeConfChange(cc);
  }

  /** Ask for a linearizable read point; the answer arrives as a ReadState with this context. */
  readIndex(context: string): ReadIndexResult {
    this.#guard("readIndex");
    return this.#raft.readIndex(context);
  }

  /** Leader: hand leadership to target. Follower: forwarded to the leader. */
  transferLeadership(target: NodeId): void {
    this.#guard("transferLeadership");
    this.#raft.transferLeadership(target);
  }

  /** Start an election now (tests and operators); respects PreVote. */
  campaign(): void {
    this.#guard("campaign");
    this.#raft.campaign("pre-election");
  }

  /** The transport could not reach a peer: the leader falls back to probing it. */
  reportUnreachable(id: NodeId): void {
    this.#guard("reportUnreachable");
    this.#raft.reportUnreachable(id);
  }

  /** Take a snapshot at the applied index with the state machine's data; drops the log up to it. */
  compact(data: Uint8Array): SnapshotMeta {
    this.#guard("compact");
    return this.#raft.compact(data);
  }

  hasReady(): boolean {
    if (this.#outstanding !== undefined) return false;
    const r = this.#raft;
    const log = r.log;
    if (r.msgs.length > 0 || r.msgsEarly.length > 0 || r.readStates.length > 0) return true;
    if (log.pendingSnapshot !== undefined || log.stabled < log.lastIndex()) return true;
    if (log.committed > log.applying) return true;
    if (r.confVersion !== this.#prevConfVersion) return true;
    const hs = this.#hardState();
    const prev = this.#prevHardState;
    if (hs.term !== prev.term || hs.vote !== prev.vote || hs.commit !== prev.commit) return true;
    const ss = this.#softState();
    return ss.leader !== this.#prevSoftState.leader || ss.role !== this.#prevSoftState.role;
  }

  /** Collect pending work. Must be followed by advance() before anything else touches the node. */
  ready(): Ready {
    this.#guard("ready");
    const r = this.#raft;
    const log = r.log;
    const snapshot = log.pendingSnapshot;
    const committed =
      snapshot === undefined ? log.nextCommitted(r.cfg.committedBytesPerReadyMax) : [];
    const entries = log.unstableEntries();
    const hs = this.#hardState();
    const ss = this.#softState();
    const prevHs = this.#prevHardState;
    const termOrVoteChanged = hs.term !== prevHs.term || hs.vote !== prevHs.vote;
    const rd: Ready = {
      entries,
      committedEntries: committed,
      earlyMessages: r.msgsEarly,
      messages: r.msgs,
      readStates: r.readStates,
      mustSync: termOrVoteChanged || entries.length > 0 || snapshot !== undefined,
    };
    if (termOrVoteChanged || hs.commit !== prevHs.commit) rd.hardState = hs;
    if (ss.leader !== this.#prevSoftState.leader || ss.role !== this.#prevSoftState.role)
      rd.softState = ss;
    if (snapshot !== undefined) rd.snapshot = snapshot;
    if (r.confVersion !== this.#prevConfVersion) rd.confState = r.confState();
    r.msgs = [];
    r.msgsEarly = [];
    r.readStates = [];

    const last = committed[committed.length - 1];
    const applyingTo = snapshot?.meta.index ?? last?.index ?? log.applying;
    assert(applyingTo <= log.committed, "applying beyond commit");
    log.applying = applyingTo;
    r.reduceUncommitted(committed);
    this.#outstanding = {
      stableTo: log.lastIndex(),
      applyingTo,
      snapshot,
      committed,
      hardState: hs,
      softState: ss,
      confVersion: r.confVersion,
    };
    return rd;
  }

  /** Acknowledge that the last Ready was persisted, sent and applied. */
  advance(): void {
    const o = this.#outstanding;
    assert(o !== undefined, "advance() without ready()");
    this.#outstanding = undefined;
    const r = this.#raft;
    const log = r.log;
    log.stabled = Math.max(log.stabled, o.stableTo);
    r.stableTo(log.stabled);
    if (o.snapshot !== undefined) {
      assert(log.pendingSnapshot === o.snapshot, "pending snapshot replaced during Ready");
      log.pendingSnapshot = undefined;
      log.applied = o.snapshot.meta.index;
    }
    this.#prevHardState = o.hardState;
    this.#prevSoftState = o.softState;
    this.#prevConfVersion = o.confVersion;
    for (const e of o.committed) {
      assert(e.index === log.applied + 1, () => `applied ${e.index} after ${log.applied}`);
      log.applied = e.index;
      // Membership changes take effect when applied (etcd's rule), identically on every replica.
      if (e.kind === "conf") r.applyConfChange(e.change, e.index);
    }
    assert(log.applied === o.applyingTo, "applied cursor disagrees with the Ready");
  }

  status(): RaftStatus {
    return this.#raft.status();
  }

  /** Leader only: per peer, the approximate bytes it is behind (see Raft.lagBytes). */
  lagBytes(): Record<NodeId, number> {
    return this.#raft.lagBytes();
  }
}
