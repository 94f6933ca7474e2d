// The imperative shell around the pure core: timers, LevelDB, gRPC transport and the apply loop.
// One loop owns the RawNode. Inputs (ticks, peer messages, proposals, reads) are queued while a
// Ready is being persisted, then fed in together, so that many proposals share one fsync.
import { setTimeout as sleep } from "node:timers/promises";
import type { Logger } from "pino";
import { bootstrapState, joinState } from "../core/bootstrap.js";
import { makeRaftConfig, type RaftConfigInput } from "../core/config.js";
import { RawNode } from "../core/raw-node.js";
import type {
  ConfChange,
  ConfState,
  Entry,
  HardState,
  Message,
  NodeId,
  ProposeError,
  RaftStatus,
  Ready,
  SnapshotMeta,
} from "../core/types.js";
import { LevelStorage } from "../storage/level-storage.js";
import { GrpcTransport, type GrpcTransportOptions } from "../transport/grpc-transport.js";

/** The application's replicated state; apply must be deterministic. */
export interface StateMachine<Result = unknown> {
  /** Apply one committed entry (never a no-op or conf change) and return the proposer's result. */
  apply(entry: { index: number; term: number; data: Uint8Array }): Result;
  /** Serialize the whole state as of the last applied entry. */
  snapshot(): Uint8Array;
  /** Replace the whole state with a snapshot. */
  restore(data: Uint8Array, meta: SnapshotMeta): void;
}

export interface RaftNodeOptions<Result> {
  id: NodeId;
  clusterId: string;
  dataDir: string;
  /** host:port for peer traffic (port 0 picks one; see peerPort()). */
  peerListen: string;
  /** The address peers should use for this replica, when it differs from peerListen. */
  peerAdvertise?: string;
  /**
   * Bootstrap voters (id → peer address) for a brand-new cluster. Leave undefined for a replica
   * that joins an existing cluster: it starts empty and waits for the leader to add it.
   */
  initialMembers?: Record<NodeId, string>;
  /**
   * A joining replica's way back to the cluster (id → peer address of current members): it can
   * answer the leader before it has received the membership that includes it.
   */
  joinPeers?: Record<NodeId, string>;
  stateMachine: StateMachine<Result>;
  logger: Logger;
  /** Wall-clock length of one Raft tick. */
  tickMs?: number;
  /** Take a snapshot and compact the log after this many applied entries. */
  snapshotEntries?: number;
  /** Proposals waiting for their entry to apply; beyond this new ones are refused. */
  pendingProposalsMax?: number;
  /** Reads waiting for their read index; beyond this new ones are refused. */
  pendingReadsMax?: number;
  /** Peer messages queued while a Ready is in progress; beyond this they are dropped. */
  inboxMessagesMax?: number;
  /** Proposals and reads fail with "timeout" after this long (the outcome of a write is then unknown). */
  requestTimeoutMs?: number;
  raft?: Partial<Omit<RaftConfigInput, "id" | "rng">>;
  transport?: Partial<
    Omit<GrpcTransportOptions, "id" | "clusterId" | "listenAddress" | "onMessages" | "logger">
  >;
  /** Seed for the election-timeout RNG (tests); random by default. */
  seed?: number;
}

export type RaftNodeErrorCode =
  | ProposeError
  | "timeout"
  /** Definitely not applied: another entry took its index. */
  | "dropped"
  /** This replica stopped leading (or a snapshot overtook it) before the entry applied here. */
  | "outcome-unknown"
  | "overloaded"
  | "stopped"
  | "too-many-pending-reads";

/** A request the node could not complete; `leader`/`leaderAddress` say where to go instead. */
export class RaftNodeError extends Error {
  override name = "RaftNodeError";
  constructor(
    readonly code: RaftNodeErrorCode,
    message: string,
    readonly leader: NodeId = "",
    readonly leaderAddress: string = "",
  ) {
    super(message);
  }
}

/** Monotonic counters of the shell's work, for metrics and tests. */
export interface RaftNodeCounters {
  readies: number;
  /** Durable (fsynced) writes. */
  syncedWrites: number;
  /** Entries written to the log. */
  entriesWritten: number;
  /** Proposals accepted by the core. */
  proposals: number;
  messagesSent: number;
  messagesReceived: number;
  snapshotsTaken: number;
  snapshotsRestored: number;
  /** Ticks fed to the core. */
  ticks: number;
  /**
   * Ticks a busy event loop made the ticker miss that were counted anyway, on a follower that
   * heard nothing from its leader meanwhile (see #onTicker); a sign of event-loop stalls.
   */
  ticksCaughtUp: number;
}

export type RaftNodeStatus = RaftStatus & {
  peerAddress: string;
  leaderAddress: string;
  transport: ReturnType<GrpcTransport["stats"]>;
  counters: RaftNodeCounters;
};

export interface ProposalOutcome<Result> {
  index: number;
  term: number;
  result: Result;
}

interface PendingProposal {
  term: number;
  resolve: (v: ProposalOutcome<unknown>) => void;
  reject: (e: RaftNodeError) => void;
  timer: NodeJS.Timeout;
}

interface PendingRead {
  resolve: (index: number) => void;
  reject: (e: RaftNodeError) => void;
  timer: NodeJS.Timeout;
  /** Set once the leader confirmed the read index; served when applied reaches it. */
  index?: number;
}

type Input =
  | { kind: "propose"; data: Uint8Array; pending: Omit<PendingProposal, "term"> }
  | { kind: "conf"; change: ConfChange; pending: Omit<PendingProposal, "term"> }
  | { kind: "read"; context: string }
  | { kind: "transfer"; target: NodeId }
  | { kind: "campaign" }
  | { kind: "unreachable"; peer: NodeId };

function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export class RaftNode<Result = unknown> {
  readonly id: NodeId;
  readonly clusterId: string;
  readonly #opts: Required<
    Pick<
      RaftNodeOptions<Result>,
      | "tickMs"
      | "snapshotEntries"
      | "pendingProposalsMax"
      | "pendingReadsMax"
      | "inboxMessagesMax"
      | "requestTimeoutMs"
    >
  >;
  readonly #log: Logger;
  readonly #storage: LevelStorage;
  readonly #sm: StateMachine<Result>;
  #transport!: GrpcTransport;
  #node!: RawNode;
  #peerAddress = "";

  #inbox: Message[] = [];
  #inputs: Input[] = [];
  #ticks = 0;
  #proposals = new Map<number, PendingProposal>();
  #reads = new Map<string, PendingRead>();
  #readSeq = 0;
  #running = false;
  #stopped = false;
  #ticker: NodeJS.Timeout | undefined;
  /** performance.now() of the last ticker run. */
  #tickerAt = 0;
  /** Lateness of the ticker, in ticks (fractions included), not yet counted; see #onTicker. */
  #tickLag = 0;
  /** Set when a message from #lastLeader arrives (which also zeroes #tickLag); see #onTicker. */
  #heardFromLeader = false;
  /** Bound: missed ticks counted at one ticker run (2 × electionTicks, set in #init). */
  #catchUpTicksMax = 0;
  /** The role as of the last Ready. */
  #role: RaftStatus["role"] = "follower";
  #confState: ConfState = { voters: [], learners: [], addresses: {} };
  #applied = 0;
  #snapshotIndex = 0;
  #appliedWaiters: { index: number; resolve: () => void }[] = [];
  #fatal: Error | undefined;
  #appliedConfChanges: { index: number; term: number; pending: PendingProposal }[] = [];
  readonly #counters: RaftNodeCounters = {
    readies: 0,
    syncedWrites: 0,
    entriesWritten: 0,
    proposals: 0,
    messagesSent: 0,
    messagesReceived: 0,
    snapshotsTaken: 0,
    snapshotsRestored: 0,
    ticks: 0,
    ticksCaughtUp: 0,
  };
  /** Last log index known durable on this replica. */
  #stableIndex = 0;
  #savedTerm = 0;
  #savedVote: NodeId = "";
  #unsavedHardState: HardState | undefined;
  readonly #leaderListeners = new Set<(leader: NodeId, term: number) => void>();
  #lastLeader: NodeId = "";
  readonly #joinPeers: Record<NodeId, string>;

  private constructor(opts: RaftNodeOptions<Result>, storage: LevelStorage) {
    this.id = opts.id;
    this.clusterId = opts.clusterId;
    this.#log = opts.logger.child({ raft: opts.id });
    this.#storage = storage;
    this.#sm = opts.stateMachine;
    this.#joinPeers = { ...opts.joinPeers };
    this.#opts = {
      tickMs: opts.tickMs ?? 50,
      snapshotEntries: opts.snapshotEntries ?? 10_000,
      pendingProposalsMax: opts.pendingProposalsMax ?? 10_000,
      pendingReadsMax: opts.pendingReadsMax ?? 10_000,
      inboxMessagesMax: opts.inboxMessagesMax ?? 100_000,
      requestTimeoutMs: opts.requestTimeoutMs ?? 10_000,
    };
  }

  /** Open storage (bootstrapping a new replica if empty), start the transport and the loop. */
  static async start<R>(opts: RaftNodeOptions<R>): Promise<RaftNode<R>> {
    const storage = await LevelStorage.open(opts.dataDir);
    const node = new RaftNode<R>(opts, storage);
    try {
      await node.#init(opts);
    } catch (err) {
      await storage.close();
      throw err;
    }
    return node;
  }

  async #init(opts: RaftNodeOptions<Result>): Promise<void> {
    let loaded = await this.#storage.load();
    if (loaded === null) {
      const empty = joinState().snapshot.meta.confState;
      await this.#storage.bootstrap({ clusterId: opts.clusterId, confState: empty });
      loaded = await this.#storage.load();
      if (loaded === null) throw new Error("storage is empty right after bootstrap");
    }
    const untouched =
      loaded.snapshot.meta.index === 0 &&
      loaded.entries.length === 0 &&
      loaded.hardState.term === 0;
    if (untouched && opts.initialMembers !== undefined) {
      // Idempotent: a crash before this write leaves an untouched store that gets it next time.
      const boot = bootstrapState(opts.initialMembers);
      await this.#storage.save({ hardState: boot.hardState, entries: boot.entries, sync: true });
      this.#log.info(
        { clusterId: opts.clusterId, voters: Object.keys(opts.initialMembers).sort() },
        "bootstrapped a new cluster",
      );
      loaded = { ...loaded, ...boot, snapshot: loaded.snapshot };
    }
    if (loaded.clusterId !== opts.clusterId) {
      throw new Error(
        `data dir ${opts.dataDir} belongs to cluster ${loaded.clusterId}, not ${opts.clusterId}`,
      );
    }
    const snap = loaded.snapshot;
    if (snap.meta.index > 0) this.#sm.restore(snap.data, snap.meta);
    this.#applied = snap.meta.index;
    this.#snapshotIndex = snap.meta.index;
    const seed = opts.seed ?? Math.floor(Math.random() * 2 ** 32);
    const raftConfig = makeRaftConfig({
      electionTicks: 10,
      heartbeatTicks: 1,
      earlyMessages: true,
      ...opts.raft,
      id: opts.id,
      rng: mulberry32(seed),
      onEvent: (e) => this.#log.info(e, e.event),
    });
    // Enough for a follower to reach any randomized election timeout, [e, 2e), in one run.
    this.#catchUpTicksMax = 2 * raftConfig.electionTicks;
    this.#node = new RawNode(raftConfig, {
      hardState: loaded.hardState,
      snapshot: snap,
      entries: loaded.entries,
    });
    this.#confState = snap.meta.confState;
    this.#stableIndex = this.#storage.lastIndex();
    this.#savedTerm = loaded.hardState.term;
    this.#savedVote = loaded.hardState.vote;
    this.#log.info(
      {
        term: loaded.hardState.term,
        commit: loaded.hardState.commit,
        snapshotIndex: snap.meta.index,
        lastIndex: this.#storage.lastIndex(),
      },
      "raft state loaded",
    );
    this.#transport = new GrpcTransport({
      ...opts.transport,
      id: opts.id,
      clusterId: opts.clusterId,
      listenAddress: opts.peerListen,
      logger: this.#log,
      onMessages: (msgs) => this.#onMessages(msgs),
      onUnreachable: (peer) => this.#enqueue({ kind: "unreachable", peer }),
    });
    const port = await this.#transport.start();
    this.#peerAddress = opts.peerAdvertise ?? opts.peerListen.replace(/:0$/, `:${port}`);
    this.#transport.setPeers(this.#peerAddresses(loaded.confState));
    this.#tickerAt = performance.now();
    this.#ticker = setInterval(() => this.#onTicker(), this.#opts.tickMs);
    this.#kick();
  }

  /**
   * One tick per run of the interval, plus, on a follower, the ticks the interval missed (its
   * lateness is summed in #tickLag, so a loaded host's 70–90 ms runs count too).
   *
   * setInterval runs at most once per turn of the event loop and never makes up the runs a busy
   * loop made it miss. Counting runs alone, a replica whose loop is kept busy (say 300 ms of
   * synchronous work per turn) gets one tick per turn, and its election timeout of 10–19 ticks
   * becomes 10–19 turns: with the leader dead, seconds to tens of seconds before anyone campaigns
   * (the failover benchmark's stuck trials). A follower's election timeout is the failure
   * detector and must measure time, so a follower counts the missed ticks too — unless a message
   * from its leader arrived meanwhile: the catch-up is decided by a setImmediate callback, which
   * runs after the event loop has read the sockets, so a leader that kept talking while this
   * loop was busy is heard before its silence is counted (no spurious pre-vote after a stall).
   *
   * Leaders and candidates count runs only. A leader's ticks pace heartbeats and CheckQuorum,
   * which counts the followers' answers that its own stall delayed; a candidate's round should
   * not be cut short while the answers wait behind the same stall.
   */
  #onTicker(): void {
    const now = performance.now();
    const lag = (now - this.#tickerAt) / this.#opts.tickMs - 1;
    this.#tickerAt = now;
    this.#ticks++;
    this.#kick();
    if (this.#role !== "follower") {
      this.#tickLag = 0;
      return;
    }
    // Signed, so that a run that comes a little early offsets one that came a little late.
    this.#tickLag = Math.min(Math.max(0, this.#tickLag + lag), this.#catchUpTicksMax);
    const catchUp = Math.floor(this.#tickLag);
    if (catchUp < 1) return;
    this.#heardFromLeader = false;
    setImmediate(() => {
      // A message from the leader zeroed #tickLag: the silence counted from there.
      if (this.#heardFromLeader || this.#role !== "follower") return;
      this.#tickLag -= catchUp;
      this.#ticks += catchUp;
      this.#counters.ticksCaughtUp += catchUp;
      this.#kick();
    });
  }

  #peerAddresses(cs: ConfState): Record<NodeId, string> {
    const member = cs.voters.includes(this.id) || cs.learners.includes(this.id);
    const out: Record<NodeId, string> = member ? {} : { ...this.#joinPeers };
    for (const [id, addr] of Object.entries(cs.addresses)) out[id] = addr;
    delete out[this.id];
    return out;
  }

  peerAddress(): string {
    return this.#peerAddress;
  }

  // ---------------------------------------------------------------------------------------------
  // Requests.

  #checkOpen(): void {
    if (this.#stopped) throw new RaftNodeError("stopped", "replica is stopping");
    if (this.#fatal) throw new RaftNodeError("stopped", `replica failed: ${this.#fatal.message}`);
  }

  #pendingCount(): number {
    let n = this.#proposals.size;
    for (const i of this.#inputs) if (i.kind === "propose" || i.kind === "conf") n++;
    return n;
  }

  /** Replicate data; resolves with the state machine's result once applied locally. */
  propose(data: Uint8Array): Promise<ProposalOutcome<Result>> {
    this.#checkOpen();
    if (this.#pendingCount() >= this.#opts.pendingProposalsMax) {
      return Promise.reject(new RaftNodeError("overloaded", "too many proposals in flight"));
    }
    return new Promise((resolve, reject) => {
      const pending = this.#newPending(resolve as (v: ProposalOutcome<unknown>) => void, reject);
      this.#enqueue({ kind: "propose", data, pending });
    });
  }

  proposeConfChange(change: ConfChange): Promise<ProposalOutcome<ConfState>> {
    this.#checkOpen();
    return new Promise((resolve, reject) => {
      const pending = this.#newPending(resolve as (v: ProposalOutcome<unknown>) => void, reject);
      this.#enqueue({ kind: "conf", change, pending });
    });
  }

  #newPending(
    resolve: (v: ProposalOutcome<unknown>) => void,
    reject: (e: RaftNodeError) => void,
  ): Omit<PendingProposal, "term"> {
    const pending: Omit<PendingProposal, "term"> = {
      resolve,
      reject,
      timer: setTimeout(() => {
        for (const [index, p] of this.#proposals) {
          if (p.timer === pending.timer) this.#proposals.delete(index);
        }
        reject(
          new RaftNodeError("timeout", "proposal not applied in time; its outcome is unknown"),
        );
      }, this.#opts.requestTimeoutMs),
    };
    return pending;
  }

  /**
   * Linearizable read barrier (ReadIndex): resolves with an index once this replica has applied
   * everything committed before the call, so a read of local state after it is linearizable.
   */
  readIndex(): Promise<number> {
    this.#checkOpen();
    if (this.#reads.size >= this.#opts.pendingReadsMax) {
      return Promise.reject(
        new RaftNodeError("too-many-pending-reads", "too many reads in flight"),
      );
    }
    const context = `${this.id}-${++this.#readSeq}`;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#reads.delete(context);
        reject(new RaftNodeError("timeout", "read index not confirmed in time", this.#lastLeader));
      }, this.#opts.requestTimeoutMs);
      this.#reads.set(context, { resolve, reject, timer });
      this.#enqueue({ kind: "read", context });
    });
  }

  transferLeadership(target: NodeId): void {
    this.#checkOpen();
    this.#enqueue({ kind: "transfer", target });
  }

  campaign(): void {
    this.#checkOpen();
    this.#enqueue({ kind: "campaign" });
  }

  /** Resolves once the local state machine has applied index (bounded by the request timeout). */
  waitApplied(index: number, timeoutMs = this.#opts.requestTimeoutMs): Promise<void> {
    if (this.#applied >= index) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#appliedWaiters = this.#appliedWaiters.filter((w) => w.resolve !== done);
        reject(new RaftNodeError("timeout", `index ${index} not applied in time`));
      }, timeoutMs);
      const done = () => {
        clearTimeout(timer);
        resolve();
      };
      this.#appliedWaiters.push({ index, resolve: done });
    });
  }

  /** Leader only: per peer, the approximate bytes it is behind the leader's log (O(log length)). */
  lagBytes(): Record<NodeId, number> {
    return this.#node.lagBytes();
  }

  status(): RaftNodeStatus {
    const s = this.#node.status();
    return {
      ...s,
      applied: this.#applied,
      peerAddress: this.#peerAddress,
      leaderAddress: s.leader === "" ? "" : (this.#confState.addresses[s.leader] ?? ""),
      transport: this.#transport.stats(),
      counters: { ...this.#counters },
    };
  }

  confState(): ConfState {
    return this.#confState;
  }

  appliedIndex(): number {
    return this.#applied;
  }

  /** Called with (leader, term) whenever the known leader changes ("" when unknown). */
  onLeaderChange(listener: (leader: NodeId, term: number) => void): () => void {
    this.#leaderListeners.add(listener);
    return () => this.#leaderListeners.delete(listener);
  }

  /** Snapshot the state machine now and compact the log (operators, tests). */
  async compactNow(): Promise<SnapshotMeta> {
    this.#checkOpen();
    while (this.#running) await sleep(1);
    this.#running = true;
    try {
      return await this.#compact();
    } finally {
      this.#running = false;
      this.#kick();
    }
  }

  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    if (this.#ticker) clearInterval(this.#ticker);
    // Let an in-flight Ready finish its write so that nothing acknowledged is torn.
    for (let i = 0; this.#running && i < 1000; i++) await sleep(5);
    const err = new RaftNodeError("stopped", "replica stopped");
    this.#failAll(err);
    await this.#transport.stop();
    await this.#storage.close();
    this.#log.info("raft node stopped");
  }

  #failPendingProposals(err: RaftNodeError): void {
    for (const p of this.#proposals.values()) {
      clearTimeout(p.timer);
      p.reject(err);
    }
    this.#proposals.clear();
  }

  #failAll(err: RaftNodeError): void {
    this.#failPendingProposals(err);
    for (const r of this.#reads.values()) {
      clearTimeout(r.timer);
      r.reject(err);
    }
    this.#reads.clear();
    for (const i of this.#inputs) {
      if (i.kind === "propose" || i.kind === "conf") {
        clearTimeout(i.pending.timer);
        i.pending.reject(err);
      }
    }
    this.#inputs = [];
  }

  // ---------------------------------------------------------------------------------------------
  // The loop.

  #onMessages(msgs: Message[]): void {
    if (this.#stopped) return;
    this.#counters.messagesReceived += msgs.length;
    if (this.#lastLeader !== "" && msgs.some((m) => m.from === this.#lastLeader)) {
      this.#heardFromLeader = true;
      this.#tickLag = 0;
    }
    for (const m of msgs) {
      if (this.#inbox.length >= this.#opts.inboxMessagesMax) break; // Raft tolerates loss.
      this.#inbox.push(m);
    }
    this.#kick();
  }

  #enqueue(input: Input): void {
    this.#inputs.push(input);
    this.#kick();
  }

  #kick(): void {
    if (this.#running || this.#stopped || this.#fatal) return;
    this.#running = true;
    queueMicrotask(() => {
      this.#run()
        .catch((err: unknown) => this.#crash(err))
        .finally(() => {
          this.#running = false;
          if (this.#inbox.length > 0 || this.#inputs.length > 0 || this.#ticks > 0) this.#kick();
        });
    });
  }

  #crash(err: unknown): void {
    // An assertion or storage failure: stop serving rather than risk divergence.
    this.#fatal = err instanceof Error ? err : new Error(String(err));
    this.#log.fatal({ err: this.#fatal }, "raft loop failed; replica stops serving");
    if (this.#ticker) clearInterval(this.#ticker);
    this.#failAll(new RaftNodeError("stopped", `replica failed: ${this.#fatal.message}`));
  }

  async #run(): Promise<void> {
    // Bounded: each pass drains what is queued now; new inputs wait for the next kick.
    for (let pass = 0; pass < 64 && !this.#stopped; pass++) {
      this.#feedInputs();
      if (!this.#node.hasReady()) return;
      this.#counters.readies++;
      await this.#handleReady(this.#node.ready());
      this.#node.advance();
      this.#afterAdvance();
      if (this.#applied - this.#snapshotIndex >= this.#opts.snapshotEntries) await this.#compact();
    }
  }

  #feedInputs(): void {
    const node = this.#node;
    const ticks = this.#ticks;
    this.#ticks = 0;
    this.#counters.ticks += ticks;
    for (let i = 0; i < ticks; i++) node.tick();
    const inbox = this.#inbox;
    this.#inbox = [];
    for (const m of inbox) node.step(m);
    const inputs = this.#inputs;
    this.#inputs = [];
    for (const input of inputs) this.#feed(input);
  }

  #feed(input: Input): void {
    const node = this.#node;
    switch (input.kind) {
      case "propose":
      case "conf": {
        const r =
          input.kind === "propose"
            ? node.propose(input.data)
            : node.proposeConfChange(input.change);
        if (r.ok) {
          this.#counters.proposals++;
          this.#proposals.set(r.index, { ...input.pending, term: r.term });
          return;
        }
        clearTimeout(input.pending.timer);
        input.pending.reject(
          new RaftNodeError(r.error, r.reason, r.leader, this.#confState.addresses[r.leader] ?? ""),
        );
        return;
      }
      case "read": {
        const r = node.readIndex(input.context);
        if (r.ok) return;
        const pending = this.#reads.get(input.context);
        if (pending === undefined) return;
        this.#reads.delete(input.context);
        clearTimeout(pending.timer);
        pending.reject(
          new RaftNodeError(
            r.error,
            r.error === "not-leader" ? "no known leader" : "too many pending reads",
            r.leader,
            this.#confState.addresses[r.leader] ?? "",
          ),
        );
        return;
      }
      case "transfer":
        node.transferLeadership(input.target);
        return;
      case "campaign":
        node.campaign();
        return;
      case "unreachable":
        node.reportUnreachable(input.peer);
        return;
    }
  }

  async #handleReady(rd: Ready): Promise<void> {
    // The leader replicates while it writes its own copy (its copy counts once durable).
    if (rd.earlyMessages.length > 0) this.#transport.send(rd.earlyMessages);
    this.#counters.messagesSent += rd.earlyMessages.length + rd.messages.length;
    // Committed entries that earlier Readies made durable are applied before this Ready's write,
    // so that under load a commit does not wait for the fsync of newer entries.
    let applyFrom = 0;
    if (!rd.snapshot) {
      const ents = rd.committedEntries;
      while (applyFrom < ents.length && ents[applyFrom]!.index <= this.#stableIndex) {
        this.#apply(ents[applyFrom]!);
        applyFrom++;
      }
    }
    // 1. Persist: nothing below may happen before this write is durable. A change of the commit
    // index alone gets no write of its own; it rides along with the next one (after a restart a
    // lower commit only means re-applying a little less at start).
    if (rd.hardState) this.#unsavedHardState = rd.hardState;
    const hs = this.#unsavedHardState;
    const termOrVote =
      hs !== undefined && (hs.term !== this.#savedTerm || hs.vote !== this.#savedVote);
    if (termOrVote || rd.entries.length > 0 || rd.snapshot || rd.confState) {
      await this.#storage.save({
        ...(hs ? { hardState: hs } : {}),
        ...(rd.snapshot ? { snapshot: rd.snapshot } : {}),
        ...(rd.confState ? { confState: rd.confState } : {}),
        entries: rd.entries,
        sync: rd.mustSync,
      });
      if (rd.mustSync) this.#counters.syncedWrites++;
      this.#counters.entriesWritten += rd.entries.length;
      if (hs) {
        this.#savedTerm = hs.term;
        this.#savedVote = hs.vote;
        this.#unsavedHardState = undefined;
      }
      if (rd.snapshot) this.#stableIndex = rd.snapshot.meta.index;
      const last = rd.entries[rd.entries.length - 1];
      if (last) this.#stableIndex = last.index;
    }
    // 2. Send.
    if (rd.messages.length > 0) this.#transport.send(rd.messages);
    // 3. Apply.
    if (rd.snapshot) {
      this.#sm.restore(rd.snapshot.data, rd.snapshot.meta);
      this.#applied = rd.snapshot.meta.index;
      this.#snapshotIndex = rd.snapshot.meta.index;
      this.#counters.snapshotsRestored++;
      this.#log.info({ index: rd.snapshot.meta.index }, "state machine restored from snapshot");
      this.#failSupersededProposals(rd.snapshot.meta.index);
    }
    for (let i = applyFrom; i < rd.committedEntries.length; i++)
      this.#apply(rd.committedEntries[i]!);
    for (const rs of rd.readStates) {
      const pending = this.#reads.get(rs.context);
      if (pending !== undefined) pending.index = rs.index;
    }
    if (rd.softState && rd.softState.role !== "leader" && this.#role === "leader") {
      // Fail fast instead of waiting out the timeout: the entries may still commit under the
      // next leader, so callers retry only with the same request id (which is deduplicated).
      this.#failPendingProposals(
        new RaftNodeError(
          "outcome-unknown",
          "leadership lost; outcome unknown",
          rd.softState.leader,
        ),
      );
    }
    if (rd.softState) this.#role = rd.softState.role;
    if (rd.softState && rd.softState.leader !== this.#lastLeader) {
      this.#lastLeader = rd.softState.leader;
      const term = rd.hardState?.term ?? this.#node.status().term;
      for (const l of this.#leaderListeners) l(this.#lastLeader, term);
    }
    if (rd.confState) {
      this.#confState = rd.confState;
      this.#transport.setPeers(this.#peerAddresses(rd.confState));
    }
  }

  #apply(e: Entry): void {
    let result: unknown;
    if (e.kind === "normal" && e.data.length > 0) {
      result = this.#sm.apply({ index: e.index, term: e.term, data: e.data });
    }
    this.#applied = e.index;
    const p = this.#proposals.get(e.index);
    if (p === undefined) return;
    this.#proposals.delete(e.index);
    clearTimeout(p.timer);
    if (p.term !== e.term) {
      p.reject(
        new RaftNodeError("dropped", "proposal lost to a leader change; retry", this.#lastLeader),
      );
      return;
    }
    // A conf change takes effect at advance(); it resolves with the membership it produced then.
    if (e.kind === "conf")
      this.#appliedConfChanges.push({ index: e.index, term: e.term, pending: p });
    else p.resolve({ index: e.index, term: e.term, result });
  }

  #failSupersededProposals(index: number): void {
    for (const [i, p] of this.#proposals) {
      if (i > index) continue;
      this.#proposals.delete(i);
      clearTimeout(p.timer);
      p.reject(
        new RaftNodeError("outcome-unknown", "proposal superseded by a snapshot; outcome unknown"),
      );
    }
  }

  #afterAdvance(): void {
    const applied = this.#applied;
    for (const [ctx, r] of this.#reads) {
      if (r.index !== undefined && r.index <= applied) {
        this.#reads.delete(ctx);
        clearTimeout(r.timer);
        r.resolve(r.index);
      }
    }
    if (this.#appliedWaiters.length > 0) {
      const ready = this.#appliedWaiters.filter((w) => w.index <= applied);
      this.#appliedWaiters = this.#appliedWaiters.filter((w) => w.index > applied);
      for (const w of ready) w.resolve();
    }
    const confChanges = this.#appliedConfChanges;
    this.#appliedConfChanges = [];
    for (const c of confChanges) {
      c.pending.resolve({ index: c.index, term: c.term, result: this.#node.status().confState });
    }
  }

  async #compact(): Promise<SnapshotMeta> {
    const data = this.#sm.snapshot();
    const meta = this.#node.compact(data);
    if (meta.index > this.#snapshotIndex) {
      // Storage compacts only below a durable commit index.
      const hs = this.#unsavedHardState;
      if (hs) {
        await this.#storage.save({ hardState: hs, entries: [], sync: false });
        this.#unsavedHardState = undefined;
      }
      await this.#storage.compact({ meta, data });
      this.#snapshotIndex = meta.index;
      this.#counters.snapshotsTaken++;
      this.#log.info({ index: meta.index, bytes: data.length }, "snapshot taken, log compacted");
    }
    return meta;
  }
}
