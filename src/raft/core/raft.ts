// The Raft protocol as a deterministic state machine (after etcd-io/raft's raft.go). Inputs are
// tick(), step(message) and local requests; outputs are queued messages, read states and the log
// cursors that RawNode turns into a Ready. No I/O, clocks or randomness except the injected rng.
import { assert, assertNever } from "./assert.js";
import type { RaftConfig, RaftInitialState } from "./config.js";
import { entryBytes, RaftLog } from "./log.js";
import { Progress } from "./progress.js";
import type {
  ConfChange,
  ConfState,
  Entry,
  Message,
  NodeId,
  ProposeResult,
  RaftStatus,
  ReadState,
  Role,
  Snapshot,
  SnapshotChunk,
  SnapshotMeta,
} from "./types.js";

type Msg<T extends Message["type"]> = Extract<Message, { type: T }>;
type Outgoing = Message extends infer M
  ? M extends Message
    ? Omit<M, "from" | "term"> & { term?: number }
    : never
  : never;

interface PendingRead {
  /** Unique key of the request: requester and its context. */
  key: string;
  from: NodeId;
  context: string;
  index: number;
  acks: Set<NodeId>;
}

interface SnapshotReceive {
  meta: SnapshotMeta;
  total: number;
  offset: number;
  chunks: Uint8Array[];
}

export type ReadIndexResult =
  | { ok: true }
  | { ok: false; error: "not-leader" | "too-many-pending-reads"; leader: NodeId };

/** Leader messages that do not depend on the leader's own unpersisted state. */
const earlyTypes: ReadonlySet<Message["type"]> = new Set([
  "app",
  "heartbeat",
  "snap",
  "timeout-now",
  "read-index-resp",
]);

/** Heartbeat responses without snapshot progress before the current chunk is sent again. */
const snapshotResendHeartbeats = 3;

function sortedIds(ids: Iterable<NodeId>): NodeId[] {
  return [...ids].sort();
}

export function cloneConfState(c: ConfState): ConfState {
  return { voters: [...c.voters], learners: [...c.learners], addresses: { ...c.addresses } };
}

export class Raft {
  readonly id: NodeId;
  readonly cfg: RaftConfig;
  term: number;
  vote: NodeId;
  lead: NodeId = "";
  role: Role = "follower";
  readonly log: RaftLog;

  voters = new Set<NodeId>();
  learners = new Set<NodeId>();
  addresses: Record<NodeId, string> = {};
  /** Replication progress of every member; maintained in every role, used by the leader. */
  progress = new Map<NodeId, Progress>();
  /** Bumped whenever membership changes so that RawNode reports it. */
  confVersion = 0;

  private electionElapsed = 0;
  private heartbeatElapsed = 0;
  private randomizedElectionTimeout = 0;
  private votes = new Map<NodeId, boolean>();
  leadTransferee: NodeId = "";
  /** Index of the last conf change proposed; none may be proposed until it is applied. */
  private pendingConfIndex = 0;
  private uncommittedBytes = 0;
  private pendingReads: PendingRead[] = [];
  /** ReadIndex requests received before this leader committed an entry of its term. */
  private deferredReads: { from: NodeId; context: string }[] = [];
  private snapshotReceive: SnapshotReceive | undefined;

  /** Messages to send once this Ready's writes are durable. */
  msgs: Message[] = [];
  /**
   * The leader's appends, heartbeats and snapshot chunks, which may go out while its own write is
   * in progress (Raft thesis §10.2.1): its own log counts toward commit only once durable.
   */
  msgsEarly: Message[] = [];
  readStates: ReadState[] = [];

  constructor(cfg: RaftConfig, init: RaftInitialState) {
    this.id = cfg.id;
    this.cfg = cfg;
    this.term = init.hardState.term;
    this.vote = init.hardState.vote;
    const cs = init.snapshot.meta.confState;
    assert(
      init.snapshot.meta.index > 0 || (cs.voters.length === 0 && cs.learners.length === 0),
      "the index-0 snapshot must hold no membership: start from bootstrapState() or joinState(), " +
        "so that a replica replaying the log from index 1 learns the initial voters",
    );
    this.log = new RaftLog(init.snapshot, init.entries, init.hardState.commit);
    this.applyConfState(cs);
    this.becomeFollower(this.term, "");
  }

  // ---------------------------------------------------------------------------------------------
  // Membership.

  confState(): ConfState {
    return {
      voters: sortedIds(this.voters),
      learners: sortedIds(this.learners),
      addresses: Object.fromEntries(
        Object.entries(this.addresses).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)),
      ),
    };
  }

  private applyConfState(cs: ConfState): void {
    this.voters = new Set(cs.voters);
    this.learners = new Set(cs.learners);
    this.addresses = { ...cs.addresses };
    for (const id of cs.learners) assert(!this.voters.has(id), `${id} is both voter and learner`);
    this.progress = new Map();
    for (const id of [...this.voters, ...this.learners]) {
      this.progress.set(id, this.newProgress(id));
    }
    this.confVersion++;
  }

  private newProgress(id: NodeId): Progress {
    const pr = new Progress(
      this.log.lastIndex() + 1,
      this.learners.has(id),
      this.cfg.inflightMsgsMax,
      this.cfg.inflightBytesMax,
    );
    // Our own entries count toward commit only once durable.
    if (id === this.id) pr.match = Math.min(this.log.stabled, this.log.lastIndex());
    return pr;
  }

  /** Can this replica become leader? Learners and removed replicas cannot. */
  promotable(): boolean {
    return this.voters.has(this.id);
  }

  /** Applies a committed conf change; called by RawNode when the application acknowledges it. */
  applyConfChange(cc: ConfChange, index: number): void {
    const before = this.confState();
    switch (cc.type) {
      case "add-learner":
        if (this.voters.has(cc.nodeId) || this.learners.has(cc.nodeId)) break;
        this.learners.add(cc.nodeId);
        this.addresses[cc.nodeId] = cc.address;
        this.progress.set(cc.nodeId, this.newProgress(cc.nodeId));
        break;
      case "add-voter":
        if (this.voters.has(cc.nodeId)) break;
        this.learners.delete(cc.nodeId);
        this.voters.add(cc.nodeId);
        this.addresses[cc.nodeId] = cc.address;
        this.ensureVoterProgress(cc.nodeId);
        break;
      case "promote":
        if (!this.learners.has(cc.nodeId)) break;
        this.learners.delete(cc.nodeId);
        this.voters.add(cc.nodeId);
        this.ensureVoterProgress(cc.nodeId);
        break;
      case "remove":
        this.voters.delete(cc.nodeId);
        this.learners.delete(cc.nodeId);
        this.progress.delete(cc.nodeId);
        delete this.addresses[cc.nodeId];
        break;
      default:
        assertNever(cc, "conf change");
    }
    if (index >= this.pendingConfIndex) this.pendingConfIndex = 0;
    this.confVersion++;
    this.emit("conf-change-applied", { index, change: cc, before, after: this.confState() });

    if (cc.type === "remove" && cc.nodeId === this.leadTransferee) this.abortLeaderTransfer();
    if (this.role !== "leader") return;
    if (!this.voters.has(this.id)) {
      // Step down on removal: a leader outside the configuration must not keep leading.
      this.emit("leader-removed-stepping-down", { index });
      this.becomeFollower(this.term, "");
      return;
    }
    // The quorum may have shrunk or grown.
    if (this.maybeCommit()) this.bcastAppend();
    else for (const id of this.peers()) this.maybeSendAppend(id, false);
  }

  private ensureVoterProgress(id: NodeId): void {
    const pr = this.progress.get(id);
    if (pr === undefined) this.progress.set(id, this.newProgress(id));
    else pr.isLearner = false;
  }

  private peers(): NodeId[] {
    const out: NodeId[] = [];
    for (const id of this.progress.keys()) if (id !== this.id) out.push(id);
    return out;
  }

  // ---------------------------------------------------------------------------------------------
  // Role changes.

  private emit(event: string, fields: Record<string, unknown>): void {
    this.cfg.onEvent?.({ event, id: this.id, term: this.term, ...fields });
  }

  private reset(term: number): void {
    if (this.term !== term) {
      this.term = term;
      this.vote = "";
    }
    this.lead = "";
    this.electionElapsed = 0;
    this.heartbeatElapsed = 0;
    this.randomizedElectionTimeout =
      this.cfg.electionTicks + Math.floor(this.cfg.rng() * this.cfg.electionTicks);
    this.abortLeaderTransfer();
    this.votes.clear();
    for (const [id, pr] of this.progress) {
      const fresh = this.newProgress(id);
      fresh.isLearner = pr.isLearner;
      this.progress.set(id, fresh);
    }
    this.pendingConfIndex = 0;
    this.uncommittedBytes = 0;
    this.pendingReads = [];
    this.deferredReads = [];
  }

  becomeFollower(term: number, lead: NodeId): void {
    const prevRole = this.role;
    const prevTerm = this.term;
    this.reset(term);
    this.lead = lead;
    this.role = "follower";
    if (prevRole !== "follower" || prevTerm !== term) {
      this.emit("became-follower", { leader: lead, previousTerm: prevTerm });
    }
  }

  private becomePreCandidate(): void {
    assert(this.role !== "leader", "leader cannot become pre-candidate");
    // PreVote changes neither term nor vote: a partitioned replica cannot inflate terms.
    this.votes.clear();
    this.lead = "";
    this.role = "pre-candidate";
    this.emit("became-pre-candidate", {});
  }

  private becomeCandidate(): void {
    assert(this.role !== "leader", "leader cannot become candidate");
    this.reset(this.term + 1);
    this.vote = this.id;
    this.role = "candidate";
    this.emit("became-candidate", {});
  }

  private becomeLeader(): void {
    assert(this.role === "candidate", "only a candidate becomes leader");
    this.reset(this.term);
    this.lead = this.id;
    this.role = "leader";
    const self = this.progress.get(this.id);
    assert(self !== undefined, "leader must be a member");
    self.becomeReplicate();
    self.recentActive = true;
    // No conf change until an entry of this term is applied (the single-server change fix).
    this.pendingConfIndex = this.log.lastIndex() + 1;
    this.appendEntries([{ kind: "normal", index: 0, term: 0, data: new Uint8Array(0) }]);
    this.emit("became-leader", {});
    this.bcastAppend();
  }

  // ---------------------------------------------------------------------------------------------
  // Ticks.

  tick(): void {
    if (this.role === "leader") this.tickHeartbeat();
    else this.tickElection();
  }

  private tickElection(): void {
    this.electionElapsed++;
    if (this.promotable() && this.electionElapsed >= this.randomizedElectionTimeout) {
      this.electionElapsed = 0;
      this.campaign("pre-election");
    }
  }

  private tickHeartbeat(): void {
    this.heartbeatElapsed++;
    this.electionElapsed++;
    if (this.electionElapsed >= this.cfg.electionTicks) {
      this.electionElapsed = 0;
      if (this.cfg.checkQuorum) {
        if (!this.quorumActive()) {
          this.emit("check-quorum-step-down", {});
          this.becomeFollower(this.term, "");
          return;
        }
        for (const [id, pr] of this.progress) pr.recentActive = id === this.id;
      }
      if (this.leadTransferee !== "") {
        this.emit("transfer-leadership-aborted", { target: this.leadTransferee, why: "timeout" });
        this.abortLeaderTransfer();
      }
    }
    if (this.heartbeatElapsed >= this.cfg.heartbeatTicks) {
      this.heartbeatElapsed = 0;
      const last = this.pendingReads[this.pendingReads.length - 1];
      this.bcastHeartbeat(last?.key ?? "");
    }
  }

  private quorumActive(): boolean {
    let active = 0;
    for (const id of this.voters) {
      if (id === this.id || this.progress.get(id)?.recentActive) active++;
    }
    return active > this.voters.size / 2;
  }

  // ---------------------------------------------------------------------------------------------
  // Elections.

  /**
   * Start an election: "pre-election" asks for pre-votes first (when PreVote is on), "election"
   * follows a won pre-vote, "transfer" skips PreVote and the peers' leader lease.
   */
  campaign(kind: "pre-election" | "election" | "transfer"): void {
    if (this.role === "leader" || !this.promotable()) return;
    if (this.hasUnappliedConfChange()) {
      this.emit("campaign-skipped", { why: "unapplied conf change" });
      return;
    }
    if (kind === "pre-election" && this.cfg.preVote) this.becomePreCandidate();
    else this.becomeCandidate();
    const type = this.role === "pre-candidate" ? "pre-vote" : "vote";
    const voteTerm = type === "pre-vote" ? this.term + 1 : this.term;
    if (this.recordVote(this.id, true) === "won") {
      // A single voter wins at once.
      if (type === "pre-vote") this.campaign("election");
      else this.becomeLeader();
      return;
    }
    for (const id of sortedIds(this.voters)) {
      if (id === this.id) continue;
      this.send({
        type,
        to: id,
        term: voteTerm,
        index: this.log.lastIndex(),
        logTerm: this.log.lastTerm(),
        transfer: kind === "transfer",
      });
    }
  }

  private hasUnappliedConfChange(): boolean {
    for (let i = this.log.applied + 1; i <= this.log.committed; i++) {
      if (this.log.entry(i)?.kind === "conf") return true;
    }
    return false;
  }

  private recordVote(id: NodeId, granted: boolean): "won" | "lost" | "pending" {
    if (!this.votes.has(id)) this.votes.set(id, granted);
    let yes = 0;
    let no = 0;
    for (const v of this.voters) {
      const g = this.votes.get(v);
      if (g === true) yes++;
      else if (g === false) no++;
    }
    const quorum = Math.floor(this.voters.size / 2) + 1;
    if (yes >= quorum) return "won";
    if (no > this.voters.size - quorum) return "lost";
    return "pending";
  }

  // ---------------------------------------------------------------------------------------------
  // Messages in.

  step(m: Message): void {
    if (m.to !== this.id) return;
    if (m.term > this.term) {
      if (m.type === "vote" || m.type === "pre-vote") {
        const inLease =
          this.cfg.checkQuorum && this.lead !== "" && this.electionElapsed < this.cfg.electionTicks;
        if (inLease && !m.transfer) {
          // A replica that hears from a live leader ignores disruptive candidates (leader lease).
          this.emit("vote-ignored-in-lease", { candidate: m.from, candidateTerm: m.term });
          return;
        }
      }
      if (m.type === "pre-vote" || (m.type === "pre-vote-resp" && !m.reject)) {
        // A pre-vote neither bumps our term nor, when granted, the candidate's.
      } else if (m.type === "app" || m.type === "heartbeat" || m.type === "snap") {
        this.becomeFollower(m.term, m.from);
      } else {
        this.becomeFollower(m.term, "");
      }
    } else if (m.term < this.term) {
      if (
        (this.cfg.checkQuorum || this.cfg.preVote) &&
        (m.type === "heartbeat" || m.type === "app")
      ) {
        // Tell a stale leader about the newer term, so that it steps down.
        this.send({
          type: "app-resp",
          to: m.from,
          index: 0,
          reject: false,
          rejectHint: 0,
          logTerm: 0,
        });
      } else if (m.type === "pre-vote") {
        this.send({ type: "pre-vote-resp", to: m.from, reject: true });
      }
      return;
    }

    if (m.type === "vote" || m.type === "pre-vote") {
      this.handleVoteRequest(m);
      return;
    }
    switch (this.role) {
      case "leader":
        this.stepLeader(m);
        break;
      case "candidate":
      case "pre-candidate":
        this.stepCandidate(m);
        break;
      case "follower":
        this.stepFollower(m);
        break;
      default:
        assertNever(this.role, "role");
    }
  }

  private handleVoteRequest(m: Msg<"vote" | "pre-vote">): void {
    const canVote =
      this.vote === m.from ||
      (this.vote === "" && this.lead === "") ||
      (m.type === "pre-vote" && m.term > this.term);
    const respType = m.type === "vote" ? "vote-resp" : "pre-vote-resp";
    if (
      canVote &&
      m.type === "pre-vote" &&
      this.role === "pre-candidate" &&
      m.from < this.id &&
      m.logTerm === this.log.lastTerm() &&
      m.index === this.log.lastIndex()
    ) {
      // Two pre-candidates with equally up-to-date logs would grant each other, both win, and
      // split the real vote, then wait a whole election timeout to retry. That is rare when
      // timeouts are randomized, but replicas whose timers caught up after an event-loop stall
      // time out together (the shell counts the missed ticks at once). A pre-vote changes no
      // term or vote, so refusing one is always safe: the greater id goes ahead and this one
      // grants its pre-vote (m.from > this.id) and then its vote.
      this.send({ type: respType, to: m.from, reject: true });
      this.emit(`${m.type}-rejected`, {
        candidate: m.from,
        candidateTerm: m.term,
        why: "competing pre-candidate with a greater id",
      });
      return;
    }
    if (canVote && this.log.isUpToDate(m.index, m.logTerm)) {
      // The grant carries the candidate's term: for a pre-vote that term is not ours.
      this.send({ type: respType, to: m.from, term: m.term, reject: false });
      if (m.type === "vote") {
        this.electionElapsed = 0;
        this.vote = m.from;
      }
      this.emit(`${m.type}-granted`, { candidate: m.from, candidateTerm: m.term });
    } else {
      this.send({ type: respType, to: m.from, reject: true });
      this.emit(`${m.type}-rejected`, { candidate: m.from, candidateTerm: m.term });
    }
  }

  private stepLeader(m: Message): void {
    const pr = this.progress.get(m.from);
    switch (m.type) {
      case "app-resp":
        if (pr === undefined) return;
        pr.recentActive = true;
        this.handleAppendResponse(m, pr);
        return;
      case "heartbeat-resp":
        if (pr === undefined) return;
        pr.recentActive = true;
        // Lets a paused follower get one append, even with a full window whose messages were
        // all lost: its answer (accept or reject) unblocks replication.
        pr.flowPaused = false;
        if (pr.state === "snapshot") this.resendSnapshotChunk(m.from, pr);
        else if (pr.match < this.log.lastIndex()) this.maybeSendAppend(m.from, true);
        if (m.context !== "") this.ackRead(m.context, m.from);
        return;
      case "snap-resp":
        if (pr === undefined) return;
        pr.recentActive = true;
        this.handleSnapshotResponse(m, pr);
        return;
      case "read-index":
        this.handleReadIndex(m.from, m.context);
        return;
      case "transfer-leader":
        this.transferLeadership(m.target);
        return;
      case "app":
      case "heartbeat":
      case "snap":
        assert(false, () => `two leaders in term ${this.term}: ${this.id} and ${m.from}`);
        return;
      case "vote-resp":
      case "pre-vote-resp":
      case "read-index-resp":
      case "timeout-now":
        return;
      case "vote":
      case "pre-vote":
        return;
      default:
        assertNever(m, "message");
    }
  }

  private stepCandidate(m: Message): void {
    switch (m.type) {
      case "app":
      case "heartbeat":
      case "snap":
        // A leader of our term exists: it won.
        this.becomeFollower(m.term, m.from);
        this.stepFollower(m);
        return;
      case "vote-resp":
      case "pre-vote-resp": {
        const expected = this.role === "pre-candidate" ? "pre-vote-resp" : "vote-resp";
        if (m.type !== expected) return;
        const result = this.recordVote(m.from, !m.reject);
        if (result === "won") {
          if (this.role === "pre-candidate") this.campaign("election");
          else this.becomeLeader();
        } else if (result === "lost") {
          this.becomeFollower(this.term, "");
        }
        return;
      }
      case "timeout-now":
      case "app-resp":
      case "heartbeat-resp":
      case "snap-resp":
      case "read-index":
      case "read-index-resp":
      case "transfer-leader":
      case "vote":
      case "pre-vote":
        return;
      default:
        assertNever(m, "message");
    }
  }

  private stepFollower(m: Message): void {
    switch (m.type) {
      case "app":
        this.electionElapsed = 0;
        this.lead = m.from;
        this.handleAppend(m);
        return;
      case "heartbeat":
        this.electionElapsed = 0;
        this.lead = m.from;
        this.log.commitTo(Math.min(m.commit, this.log.lastIndex()));
        this.send({ type: "heartbeat-resp", to: m.from, context: m.context });
        return;
      case "snap":
        this.electionElapsed = 0;
        this.lead = m.from;
        this.handleSnapshotChunk(m.from, m.chunk);
        return;
      case "timeout-now":
        this.emit("timeout-now-received", { from: m.from });
        this.campaign("transfer");
        return;
      case "read-index-resp":
        if (!m.reject) this.readStates.push({ index: m.index, context: m.context });
        return;
      case "transfer-leader":
        if (this.lead !== "")
          this.send({ type: "transfer-leader", to: this.lead, target: m.target });
        return;
      case "app-resp":
      case "heartbeat-resp":
      case "snap-resp":
      case "read-index":
      case "vote-resp":
      case "pre-vote-resp":
      case "vote":
      case "pre-vote":
        return;
      default:
        assertNever(m, "message");
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Replication: follower side.

  private handleAppend(m: Msg<"app">): void {
    if (m.index < this.log.committed) {
      this.sendAppendResponse(m.from, this.log.committed);
      return;
    }
    const lastNew = this.log.maybeAppend(m.index, m.logTerm, m.commit, m.entries);
    if (lastNew !== undefined) {
      this.sendAppendResponse(m.from, lastNew);
      return;
    }
    const hint = this.log.findConflictByTerm(Math.min(m.index, this.log.lastIndex()), m.logTerm);
    this.send({
      type: "app-resp",
      to: m.from,
      index: m.index,
      reject: true,
      rejectHint: hint.index,
      logTerm: hint.term,
    });
  }

  private sendAppendResponse(to: NodeId, index: number): void {
    this.send({ type: "app-resp", to, index, reject: false, rejectHint: 0, logTerm: 0 });
  }

  private handleSnapshotChunk(from: NodeId, chunk: SnapshotChunk): void {
    const meta = chunk.meta;
    if (meta.index <= this.log.committed) {
      // Already have everything it holds; tell the leader where we are.
      this.snapshotReceive = undefined;
      this.sendAppendResponse(from, this.log.committed);
      return;
    }
    assert(chunk.offset + chunk.data.length <= chunk.total, "snapshot chunk beyond its total");
    let rx = this.snapshotReceive;
    const same = rx !== undefined && rx.meta.index === meta.index && rx.meta.term === meta.term;
    if (!same) {
      rx = undefined;
      this.snapshotReceive = undefined;
      if (chunk.offset === 0) {
        rx = { meta, total: chunk.total, offset: 0, chunks: [] };
        this.snapshotReceive = rx;
        this.emit("snapshot-receive-started", {
          index: meta.index,
          snapTerm: meta.term,
          bytes: chunk.total,
        });
      }
    }
    if (rx === undefined || rx.offset !== chunk.offset) {
      // Resume: ask for the next byte we need (0 when we hold nothing of this snapshot).
      this.send({
        type: "snap-resp",
        to: from,
        snapIndex: meta.index,
        snapTerm: meta.term,
        offset: rx?.offset ?? 0,
      });
      return;
    }
    rx.chunks.push(chunk.data);
    rx.offset += chunk.data.length;
    if (rx.offset < rx.total) {
      this.send({
        type: "snap-resp",
        to: from,
        snapIndex: meta.index,
        snapTerm: meta.term,
        offset: rx.offset,
      });
      return;
    }
    this.snapshotReceive = undefined;
    const data = new Uint8Array(rx.total);
    let at = 0;
    for (const c of rx.chunks) {
      data.set(c, at);
      at += c.length;
    }
    this.restore({ meta, data });
    // Only the committed prefix is known to match the leader's log: after a fast-forward (the
    // log already held the snapshot's last entry) our entries beyond it may be a deposed
    // leader's, and answering lastIndex would make the leader count them as replicated and tell
    // us to commit them (the simulator found this: seed 69 of `npm run sim`, once elections
    // went differently). etcd answers its commit index here too.
    this.sendAppendResponse(from, this.log.committed);
  }

  /** Install a snapshot from the leader (a no-op, apart from commit, when the log already has it). */
  private restore(snapshot: Snapshot): void {
    const meta = snapshot.meta;
    if (meta.index <= this.log.committed) return;
    if (this.log.matchTerm(meta.index, meta.term)) {
      this.emit("snapshot-fast-forward", { index: meta.index });
      this.log.commitTo(meta.index);
      return;
    }
    this.log.restore(snapshot);
    this.applyConfState(meta.confState);
    this.emit("snapshot-restored", {
      index: meta.index,
      snapTerm: meta.term,
      bytes: snapshot.data.length,
    });
  }

  // ---------------------------------------------------------------------------------------------
  // Replication: leader side.

  private handleAppendResponse(m: Msg<"app-resp">, pr: Progress): void {
    if (m.reject) {
      let nextProbe = m.rejectHint;
      if (m.logTerm > 0) nextProbe = this.log.findConflictByTerm(m.rejectHint, m.logTerm).index;
      if (pr.maybeDecrTo(m.index, nextProbe)) {
        if (pr.state === "replicate") pr.becomeProbe();
        this.maybeSendAppend(m.from, true);
      }
      return;
    }
    const updated = pr.maybeUpdate(m.index);
    // A probe answered at exactly our match (an empty probe) also moves to replicate.
    if (!updated && !(pr.state === "probe" && pr.match === m.index)) return;
    switch (pr.state) {
      case "probe":
        pr.becomeReplicate();
        break;
      case "snapshot":
        // The follower can continue from the log once it has what the snapshot covers.
        if (pr.match + 1 >= this.log.firstIndex()) {
          pr.becomeProbe();
          pr.becomeReplicate();
        }
        break;
      case "replicate":
        pr.inflights.freeLE(m.index);
        break;
    }
    if (this.maybeCommit()) {
      this.bcastAppend();
    } else {
      // Keep the pipeline full for this follower.
      while (this.maybeSendAppend(m.from, false)) {}
    }
    if (m.from === this.leadTransferee && pr.match === this.log.lastIndex()) {
      this.send({ type: "timeout-now", to: m.from });
    }
  }

  private handleSnapshotResponse(m: Msg<"snap-resp">, pr: Progress): void {
    if (pr.state !== "snapshot") return;
    const snap = this.log.snapshot;
    if (m.snapIndex !== pr.pendingSnapshot || snap.meta.index !== pr.pendingSnapshot) {
      // The answer is about another snapshot, or ours was replaced: start over.
      pr.becomeProbe();
      this.maybeSendAppend(m.from, true);
      return;
    }
    const offset = Math.min(m.offset, snap.data.length);
    if (offset === pr.snapshotOffset && pr.snapshotSentOffset === offset) {
      // The chunk at this offset is in flight already; a lost one is resent on heartbeats.
      return;
    }
    pr.snapshotOffset = offset;
    pr.snapshotIdleHeartbeats = 0;
    // At the end the follower answers with an app-resp once it has restored.
    if (offset < snap.data.length) this.sendSnapshotChunk(m.from, pr);
  }

  private resendSnapshotChunk(to: NodeId, pr: Progress): void {
    if (pr.pendingSnapshot !== this.log.snapshot.meta.index) {
      pr.becomeProbe();
      this.maybeSendAppend(to, true);
      return;
    }
    // Resend only after a few silent heartbeats, so that a slow follower is not flooded.
    if (++pr.snapshotIdleHeartbeats < snapshotResendHeartbeats) return;
    pr.snapshotIdleHeartbeats = 0;
    this.sendSnapshotChunk(to, pr);
  }

  private sendSnapshotChunk(to: NodeId, pr: Progress): void {
    const snap = this.log.snapshot;
    const offset = pr.snapshotOffset;
    const end = Math.min(offset + this.cfg.snapshotChunkBytes, snap.data.length);
    this.send({
      type: "snap",
      to,
      chunk: {
        meta: snap.meta,
        offset,
        total: snap.data.length,
        data: snap.data.subarray(offset, end),
      },
    });
    pr.snapshotSentOffset = offset;
  }

  /** Send an append (or start a snapshot) to `to` if its progress allows; returns whether sent. */
  private maybeSendAppend(to: NodeId, sendIfEmpty: boolean): boolean {
    const pr = this.progress.get(to);
    if (pr === undefined || to === this.id || pr.isPaused()) return false;
    const prevIndex = pr.next - 1;
    const prevTerm = this.log.term(prevIndex);
    // With a full window only an empty append goes out (it was unpaused by a heartbeat answer).
    const windowFull = pr.state === "replicate" && pr.inflights.full();
    const ents = windowFull
      ? []
      : this.log.slice(pr.next, this.cfg.msgEntriesMax, this.cfg.msgBytesMax);
    if (prevTerm === undefined || ents === undefined) {
      this.startSnapshot(to, pr);
      return false;
    }
    // A follower may lack the latest commit index even when there is nothing new to send.
    if (ents.length === 0 && !sendIfEmpty && !pr.canBumpCommit(this.log.committed)) return false;
    let bytes = 0;
    for (const e of ents) bytes += entryBytes(e);
    this.send({
      type: "app",
      to,
      index: prevIndex,
      logTerm: prevTerm,
      entries: ents,
      commit: this.log.committed,
    });
    pr.sentEntries(ents.length, prevIndex + ents.length, bytes);
    pr.sentCommit = Math.max(pr.sentCommit, Math.min(this.log.committed, prevIndex + ents.length));
    return true;
  }

  private startSnapshot(to: NodeId, pr: Progress): void {
    if (!pr.recentActive) return;
    const meta = this.log.snapshot.meta;
    this.emit("snapshot-send-started", {
      to,
      index: meta.index,
      bytes: this.log.snapshot.data.length,
    });
    pr.becomeSnapshot(meta.index);
    this.sendSnapshotChunk(to, pr);
  }

  private bcastAppend(): void {
    for (const id of this.peers()) this.maybeSendAppend(id, true);
  }

  private bcastHeartbeat(context: string): void {
    for (const id of this.peers()) {
      const pr = this.progress.get(id)!;
      const commit = Math.min(pr.match, this.log.committed);
      this.send({ type: "heartbeat", to: id, commit, context });
      pr.sentCommit = Math.max(pr.sentCommit, commit);
    }
  }

  /** Advance commit to the highest index a quorum of voters has, if it is from this term. */
  private maybeCommit(): boolean {
    const matches: number[] = [];
    for (const id of this.voters) matches.push(this.progress.get(id)?.match ?? 0);
    if (matches.length === 0) return false;
    matches.sort((a, b) => b - a);
    const quorumIndex = matches[Math.floor(matches.length / 2)]!;
    // Only entries of the current term are committed by counting replicas (Raft §5.4.2).
    if (quorumIndex <= this.log.committed || this.log.term(quorumIndex) !== this.term) return false;
    this.log.commitTo(quorumIndex);
    this.releaseDeferredReads();
    return true;
  }

  private appendEntries(ents: Entry[]): number {
    let index = this.log.lastIndex();
    const stamped: Entry[] = ents.map((e) => ({ ...e, index: ++index, term: this.term }));
    for (const e of stamped) this.uncommittedBytes += entryBytes(e);
    return this.log.append(stamped);
  }

  /** The shell made the log durable up to index: the leader's own copy now counts. */
  stableTo(index: number): void {
    if (this.role !== "leader") return;
    const self = this.progress.get(this.id);
    if (self === undefined || !self.maybeUpdate(index)) return;
    if (this.maybeCommit()) this.bcastAppend();
  }

  /** Called when committed entries are handed to the application. */
  reduceUncommitted(ents: Entry[]): void {
    if (this.role !== "leader") return;
    for (const e of ents) this.uncommittedBytes -= entryBytes(e);
    if (this.uncommittedBytes < 0) this.uncommittedBytes = 0;
  }

  // ---------------------------------------------------------------------------------------------
  // Local requests.

  private refuse(
    error: Extract<ProposeResult, { ok: false }>["error"],
    reason: string,
  ): ProposeResult {
    return { ok: false, error, leader: this.lead, reason };
  }

  propose(data: Uint8Array): ProposeResult {
    if (this.role !== "leader") return this.refuse("not-leader", "not the leader");
    if (this.leadTransferee !== "")
      return this.refuse("transfer-in-progress", "leadership transfer in progress");
    if (data.length > this.cfg.proposalBytesMax) {
      return this.refuse(
        "proposal-too-large",
        `proposal of ${data.length} bytes exceeds ${this.cfg.proposalBytesMax}`,
      );
    }
    const bytes = data.length + 16;
    if (this.uncommittedBytes > 0 && this.uncommittedBytes + bytes > this.cfg.uncommittedBytesMax) {
      return this.refuse("uncommitted-size-exceeded", "too many uncommitted bytes; retry later");
    }
    const index = this.appendEntries([{ kind: "normal", index: 0, term: 0, data }]);
    this.bcastAppend();
    return { ok: true, index, term: this.term };
  }

  proposeConfChange(cc: ConfChange): ProposeResult {
    if (this.role !== "leader") return this.refuse("not-leader", "not the leader");
    if (this.leadTransferee !== "")
      return this.refuse("transfer-in-progress", "leadership transfer in progress");
    if (this.pendingConfIndex > this.log.applied) {
      return this.refuse(
        "conf-change-pending",
        "a membership change is pending or this leader has not applied its first entry",
      );
    }
    const invalid = this.validateConfChange(cc);
    if (invalid !== undefined) return this.refuse(invalid.error, invalid.reason);
    const index = this.appendEntries([{ kind: "conf", index: 0, term: 0, change: cc }]);
    this.pendingConfIndex = index;
    this.bcastAppend();
    this.emit("conf-change-proposed", { index, change: cc });
    return { ok: true, index, term: this.term };
  }

  private validateConfChange(
    cc: ConfChange,
  ): { error: "conf-change-invalid" | "learner-not-caught-up"; reason: string } | undefined {
    const id = cc.nodeId;
    if (id === "") return { error: "conf-change-invalid", reason: "empty node id" };
    const member = this.voters.has(id) || this.learners.has(id);
    switch (cc.type) {
      case "add-learner":
        if (member) return { error: "conf-change-invalid", reason: `${id} is already a member` };
        if (cc.address === "") return { error: "conf-change-invalid", reason: "empty address" };
        return undefined;
      case "add-voter":
        if (this.voters.has(id))
          return { error: "conf-change-invalid", reason: `${id} is already a voter` };
        if (cc.address === "") return { error: "conf-change-invalid", reason: "empty address" };
        return undefined;
      case "promote": {
        if (!this.learners.has(id))
          return { error: "conf-change-invalid", reason: `${id} is not a learner` };
        const pr = this.progress.get(id)!;
        if (pr.match < this.log.committed) {
          return {
            error: "learner-not-caught-up",
            reason: `learner ${id} has ${pr.match} of ${this.log.committed} committed entries`,
          };
        }
        return undefined;
      }
      case "remove":
        if (!member) return { error: "conf-change-invalid", reason: `${id} is not a member` };
        if (this.voters.has(id) && this.voters.size === 1) {
          return { error: "conf-change-invalid", reason: "cannot remove the last voter" };
        }
        if (this.voters.has(id) && this.voters.size === 2) {
          // etcd's two-member trap: if the removed voter applies its removal first and the other
          // missed the commit, the other needs a vote it can never get. Add a third voter first.
          return {
            error: "conf-change-invalid",
            reason: "cannot remove a voter from a two-voter configuration; add a voter first",
          };
        }
        return undefined;
      default:
        return assertNever(cc, "conf change");
    }
  }

  readIndex(context: string): ReadIndexResult {
    if (this.role === "leader") {
      if (!this.handleReadIndex(this.id, context)) {
        return { ok: false, error: "too-many-pending-reads", leader: this.lead };
      }
      return { ok: true };
    }
    if (this.lead === "") return { ok: false, error: "not-leader", leader: "" };
    this.send({ type: "read-index", to: this.lead, context });
    return { ok: true };
  }

  /** Returns false when the request was refused for lack of room. */
  private handleReadIndex(from: NodeId, context: string): boolean {
    if (this.pendingReads.length + this.deferredReads.length >= this.cfg.pendingReadsMax) {
      if (from !== this.id) {
        this.send({ type: "read-index-resp", to: from, context, index: 0, reject: true });
      }
      return false;
    }
    if (this.log.term(this.log.committed) !== this.term) {
      // A new leader's commit index may lag until its first entry commits (etcd#7331) — also
      // a single voter's, whose commit index after a restart may be older than what it acked.
      this.deferredReads.push({ from, context });
      return true;
    }
    if (this.voters.size === 1 && this.voters.has(this.id)) {
      this.answerRead(from, context, this.log.committed);
      return true;
    }
    const key = `${from}\u0000${context}`;
    if (this.pendingReads.some((r) => r.key === key)) return true;
    this.pendingReads.push({
      key,
      from,
      context,
      index: this.log.committed,
      acks: new Set([this.id]),
    });
    this.bcastHeartbeat(key);
    return true;
  }

  private releaseDeferredReads(): void {
    if (this.deferredReads.length === 0 || this.log.term(this.log.committed) !== this.term) return;
    const deferred = this.deferredReads;
    this.deferredReads = [];
    for (const r of deferred) this.handleReadIndex(r.from, r.context);
  }

  private ackRead(key: string, from: NodeId): void {
    const at = this.pendingReads.findIndex((r) => r.key === key);
    if (at < 0) return;
    const req = this.pendingReads[at]!;
    req.acks.add(from);
    let votes = 0;
    for (const id of this.voters) if (req.acks.has(id)) votes++;
    if (votes <= this.voters.size / 2) return;
    // A quorum confirmed leadership after every earlier request arrived: release them all.
    const released = this.pendingReads.splice(0, at + 1);
    for (const r of released) this.answerRead(r.from, r.context, r.index);
  }

  private answerRead(from: NodeId, context: string, index: number): void {
    if (from === this.id) this.readStates.push({ index, context });
    else this.send({ type: "read-index-resp", to: from, context, index, reject: false });
  }

  transferLeadership(target: NodeId): void {
    if (this.role !== "leader") {
      if (this.lead !== "" && this.lead !== this.id) {
        this.send({ type: "transfer-leader", to: this.lead, target });
      }
      return;
    }
    if (target === this.id || !this.voters.has(target)) return;
    if (this.leadTransferee === target) return;
    if (this.leadTransferee !== "") this.abortLeaderTransfer();
    this.leadTransferee = target;
    // The transfer must finish within one election timeout or it is aborted.
    this.electionElapsed = 0;
    this.emit("transfer-leadership-started", { target });
    const pr = this.progress.get(target)!;
    if (pr.match === this.log.lastIndex()) this.send({ type: "timeout-now", to: target });
    else this.maybeSendAppend(target, true);
  }

  private abortLeaderTransfer(): void {
    this.leadTransferee = "";
  }

  reportUnreachable(id: NodeId): void {
    const pr = this.progress.get(id);
    if (this.role !== "leader" || pr === undefined) return;
    if (pr.state === "replicate") pr.becomeProbe();
  }

  /** Local snapshot at the applied index: compacts the in-memory log. */
  compact(data: Uint8Array): SnapshotMeta {
    // The application's state is older than a received snapshot until it has restored it.
    assert(this.log.pendingSnapshot === undefined, "compact while a received snapshot is pending");
    const index = this.log.applied;
    if (index <= this.log.snapshot.meta.index) return this.log.snapshot.meta;
    const term = this.log.term(index);
    assert(term !== undefined, "term of applied index is unknown");
    const meta: SnapshotMeta = { index, term, confState: this.confState() };
    this.log.compact({ meta, data });
    this.emit("snapshot-compacted", { index, snapTerm: term, bytes: data.length });
    return meta;
  }

  // ---------------------------------------------------------------------------------------------
  // Messages out.

  private send(m: Outgoing): void {
    const term = m.term ?? this.term;
    const msg = { ...m, from: this.id, term } as Message;
    assert(
      msg.term > 0 || msg.type === "pre-vote-resp",
      () => `message ${msg.type} without a term`,
    );
    if (this.cfg.earlyMessages && this.role === "leader" && earlyTypes.has(msg.type)) {
      this.msgsEarly.push(msg);
    } else this.msgs.push(msg);
  }

  /**
   * Leader only: per peer, the approximate bytes behind the leader's last index (entries after
   * its match, plus the snapshot when it needs one). O(log length); for operators, not hot paths.
   */
  lagBytes(): Record<NodeId, number> {
    const out: Record<NodeId, number> = {};
    if (this.role !== "leader") return out;
    for (const [id, pr] of this.progress) out[id] = this.log.bytesAfter(pr.match);
    return out;
  }

  status(): RaftStatus {
    const progress: RaftStatus["progress"] = {};
    if (this.role === "leader") {
      for (const [id, pr] of this.progress) progress[id] = pr.status();
    }
    return {
      id: this.id,
      role: this.role,
      term: this.term,
      vote: this.vote,
      leader: this.lead,
      commit: this.log.committed,
      applied: this.log.applied,
      firstIndex: this.log.firstIndex(),
      lastIndex: this.log.lastIndex(),
      snapshotIndex: this.log.snapshot.meta.index,
      confState: this.confState(),
      progress,
      leadTransferee: this.leadTransferee,
    };
  }
}
