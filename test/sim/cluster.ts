// The simulated cluster: N replicas (RawNode + simulated storage + register state machine) in one
// process on the simulated network, driven one tick at a time. A replica's Ready is processed in
// stages (write to the unsynced buffer, sync, send, apply, advance) and a crash can land between
// any two of them; a restart rebuilds the RawNode from what was synced. Clients propose writes and
// issue ReadIndex reads; the checkers see every fact as it happens.
import { bootstrapState, joinState } from "../../src/raft/core/bootstrap.js";
import {
  makeRaftConfig,
  type RaftConfig,
  type RaftInitialState,
} from "../../src/raft/core/config.js";
import { RawNode } from "../../src/raft/core/raw-node.js";
import type {
  ConfChange,
  ConfState,
  Entry,
  HardState,
  Message,
  NodeId,
  RaftStatus,
  Ready,
} from "../../src/raft/core/types.js";
import { Checkers, fail, Violation } from "./checkers.js";
import {
  type DeliveryTarget,
  describeMessage,
  type NetworkOptions,
  SimNetwork,
} from "./network.js";
import type { Prng } from "./prng.js";
import { encodeWrite, entryContent, RegisterMachine } from "./statemachine.js";
import { LogState, SimStorage } from "./storage.js";
import type { Trace } from "./trace.js";

/** Where in Ready processing a crash may land. */
export type CrashPoint =
  | "idle"
  | "before-ready"
  | "after-write"
  | "after-sync"
  | `mid-send ${string}`
  | "after-send"
  | "after-apply";

export interface ClusterOptions {
  /** Raft settings shared by every replica (id and rng are per replica). */
  raft: Omit<RaftConfig, "id" | "rng" | "onEvent">;
  network: NetworkOptions;
  /** Probability that a crash lands at each stage boundary of a Ready. */
  crashInReady: number;
  /** Probability that a crash loses every unsynced write (else a random prefix survives). */
  crashLosesAll: number;
  /** Probability that a Ready without mustSync skips the fsync. */
  skipOptionalSync: number;
  /** Probability per tick that a replica's clock misses a tick, or takes two. */
  clockSkip: number;
  clockDouble: number;
  /** Probability that a packet dropped on a cut link or at a crashed replica is reported unreachable. */
  unreachableFeedback: number;
  /** Probability that a replica processes its Ready right after each delivered message. */
  eagerReady: number;
  /** Reads still unanswered after this many ticks are abandoned by the client. */
  readTimeoutTicks: number;
  /** Per replica, at most this many reads and proposals are tracked. */
  pendingMax: number;
  /** Trace the core's structured events. */
  traceEvents: boolean;
  /**
   * A deliberately broken shell, for tests that prove the checkers catch real bugs end to end:
   * "send-before-sync" sends every message before the fsync (so a crash can lose a vote or an
   * entry that others already acted on).
   */
  shellBug: "none" | "send-before-sync";
}

interface PendingRead {
  context: string;
  key: string;
  ackedAtIssue: number;
  issuedTick: number;
  readIndex: number | undefined;
}

interface PendingWrite {
  index: number;
  term: number;
  content: string;
}

export type ReplicaState = "up" | "down" | "stopped";

export class Replica {
  readonly id: NodeId;
  incarnation = 0;
  state: ReplicaState = "up";
  pausedUntil = -1;
  downUntil = -1;
  raw: RawNode | undefined;
  readonly storage: SimStorage;
  readonly sm = new RegisterMachine();
  /** The last status read at the end of a tick (undefined while down). */
  status: RaftStatus | undefined;
  /** The term in which the completeness check last ran for this replica as leader, and where to resume. */
  leaderTerm = 0;
  completenessFrom = 1;
  /** Highest commit whose entries were reported to the checkers. */
  committedSeen = 0;
  readonly reads = new Map<string, PendingRead>();
  readonly writes = new Map<number, PendingWrite>();
  /** The confState last reported in a Ready. */
  confState: ConfState;

  constructor(id: NodeId, storage: SimStorage, confState: ConfState) {
    this.id = id;
    this.storage = storage;
    this.confState = confState;
  }
}

export interface ClusterStats {
  ticks: number;
  readies: number;
  crashes: number;
  restarts: number;
  pauses: number;
  proposals: number;
  writesAcked: number;
  writesLost: number;
  readsIssued: number;
  readsServed: number;
  readsAbandoned: number;
  confProposed: number;
  confApplied: number;
  transfers: number;
  compactions: number;
  snapshotsRestored: number;
  elections: number;
  refusals: Record<string, number>;
}

const addressOf = (id: NodeId): string => `${id}.sim:7000`;

export class Cluster {
  readonly rng: Prng;
  readonly trace: Trace;
  readonly options: ClusterOptions;
  readonly network: SimNetwork;
  readonly checkers = new Checkers();
  readonly replicas = new Map<NodeId, Replica>();
  readonly genesis: ConfState;
  now = 0;
  #nextId: number;
  #readSeq = 0;
  #writeSeq = 0;
  readonly stats: ClusterStats = {
    ticks: 0,
    readies: 0,
    crashes: 0,
    restarts: 0,
    pauses: 0,
    proposals: 0,
    writesAcked: 0,
    writesLost: 0,
    readsIssued: 0,
    readsServed: 0,
    readsAbandoned: 0,
    confProposed: 0,
    confApplied: 0,
    transfers: 0,
    compactions: 0,
    snapshotsRestored: 0,
    elections: 0,
    refusals: {},
  };

  constructor(rng: Prng, trace: Trace, options: ClusterOptions, init: { voters: number }) {
    this.rng = rng;
    this.trace = trace;
    this.options = options;
    this.network = new SimNetwork(rng.fork("network"), trace, options.network);
    const voters: NodeId[] = [];
    let n = 1;
    for (let i = 0; i < init.voters; i++) voters.push(`n${n++}`);
    this.#nextId = n;
    const addresses: Record<NodeId, string> = {};
    for (const id of voters) addresses[id] = addressOf(id);
    this.genesis = { voters, learners: [], addresses };
    for (const id of voters) this.#createReplica(id, bootstrapState(addresses));
  }

  // -----------------------------------------------------------------------------------------------
  // Replica lifecycle.

  /**
   * A replica starts from the core's bootstrapState (initial members: the membership is in the log
   * as entries 1..n) or joinState (a joiner: it learns everything from the leader).
   */
  #createReplica(id: NodeId, init: RaftInitialState): Replica {
    if (this.replicas.has(id)) throw new Error(`sim: replica ${id} exists`);
    const state = new LogState(init.hardState, init.snapshot, init.entries);
    const storage = new SimStorage(id, state, (entries, prevTerm) =>
      this.#observeDurableEntries(id, entries, prevTerm),
    );
    const r = new Replica(id, storage, cloneConf(init.snapshot.meta.confState));
    this.replicas.set(id, r);
    this.trace.log(`create ${id}`);
    this.#boot(r);
    return r;
  }

  /** A fresh id for a joining replica (never reused). */
  allocateId(): NodeId {
    return `n${this.#nextId++}`;
  }

  /** Give back the last id allocated when the change naming it was refused (no log ever held it). */
  releaseId(id: NodeId): void {
    if (id === `n${this.#nextId - 1}` && !this.replicas.has(id)) this.#nextId--;
  }

  get idsAllocated(): number {
    return this.#nextId - 1;
  }

  /** Build the RawNode and state machine from the synced storage. */
  #boot(r: Replica): void {
    r.incarnation++;
    const durable = r.storage.synced;
    const rngStream = this.rng.fork(`raft:${r.id}:${r.incarnation}`);
    const config = makeRaftConfig({
      ...this.options.raft,
      id: r.id,
      rng: rngStream.asRng(),
      ...(this.options.traceEvents
        ? { onEvent: (e) => this.trace.log(`ev ${r.id} ${formatEvent(e)}`) }
        : {}),
    });
    r.raw = this.#guard(
      r,
      "constructor",
      () =>
        new RawNode(config, {
          hardState: { ...durable.hardState },
          snapshot: durable.snapshot,
          entries: durable.entries.slice(),
        }),
    );
    r.sm.restore(durable.snapshot.data);
    const peek = RegisterMachine.peek(durable.snapshot.data);
    if (peek.index !== durable.snapshot.meta.index) {
      fail(
        "contract",
        `${r.id}: stored snapshot ${durable.snapshot.meta.index} holds state of ${peek.index}`,
      );
    }
    this.checkers.observeRestore(r.id, durable.snapshot.meta.index, r.sm.hash);
    r.confState = cloneConf(durable.snapshot.meta.confState);
    r.state = "up";
    r.pausedUntil = -1;
    r.reads.clear();
    r.writes.clear();
    r.leaderTerm = 0;
    const st = r.raw.status();
    r.status = st;
    this.checkers.observeRestart(r.id, r.incarnation, st.commit);
    r.committedSeen = durable.snapshot.meta.index;
    this.#observeCommitted(r, st.commit, durable.hardState.term);
    const hs = durable.hardState;
    this.trace.log(
      `boot ${r.id}#${r.incarnation} hs=${hs.term}/${hs.vote || "-"}/${hs.commit} snap=${durable.snapshot.meta.index}/${durable.snapshot.meta.term} last=${durable.lastIndex}`,
    );
  }

  /** Crash a replica now: it loses its memory and its unsynced writes. */
  crash(r: Replica, where: CrashPoint, downTicks: number): void {
    if (r.state !== "up") return;
    const { lost, hardState } = r.storage.crash(this.rng, this.options.crashLosesAll);
    this.#durable(r, hardState);
    r.raw = undefined;
    r.status = undefined;
    r.state = "down";
    r.downUntil = this.now + downTicks;
    r.reads.clear();
    r.writes.clear();
    this.stats.crashes++;
    this.trace.log(`crash ${r.id}#${r.incarnation} at ${where} lost=${lost} down=${downTicks}`);
  }

  restart(r: Replica): void {
    if (r.state !== "down") return;
    this.stats.restarts++;
    this.#boot(r);
  }

  /** Take a replica out for good (a removed member being shut down). */
  stop(r: Replica): void {
    if (r.state === "stopped") return;
    r.raw = undefined;
    r.status = undefined;
    r.state = "stopped";
    this.trace.log(`stop ${r.id}`);
  }

  pause(r: Replica, ticks: number): void {
    if (r.state !== "up") return;
    r.pausedUntil = this.now + ticks;
    this.stats.pauses++;
    this.trace.log(`pause ${r.id} for ${ticks}`);
  }

  isPaused(r: Replica): boolean {
    return r.pausedUntil > this.now;
  }

  /** Replicas that can act now (up and not paused). */
  active(): Replica[] {
    const out: Replica[] = [];
    for (const r of this.replicas.values()) if (r.state === "up" && !this.isPaused(r)) out.push(r);
    return out;
  }

  /** Run fn against the core; an exception thrown by it is a failure of the run. */
  #guard<T>(r: Replica, op: string, fn: () => T): T {
    try {
      return fn();
    } catch (err) {
      if (err instanceof Violation) throw err;
      const e = err as Error;
      const v = new Violation("contract", `${r.id}: core threw in ${op}: ${e.name}: ${e.message}`);
      v.stack = `${v.message}\n${e.stack ?? ""}`;
      throw v;
    }
  }

  #raw(r: Replica): RawNode {
    const raw = r.raw;
    if (raw === undefined || r.state !== "up") throw new Error(`sim: ${r.id} is not up`);
    return raw;
  }

  // -----------------------------------------------------------------------------------------------
  // One tick.

  /** Deliver due messages, tick clocks; the caller then runs the workload and `finishTick`. */
  beginTick(): void {
    this.now++;
    this.stats.ticks++;
    this.trace.setTick(this.now);
    for (const r of this.replicas.values()) {
      if (r.state === "down" && r.downUntil <= this.now) this.restart(r);
      if (r.pausedUntil === this.now) this.trace.log(`resume ${r.id}`);
    }
    const failedLinks = new Set<string>();
    const due = this.network.takeDue(
      this.now,
      (id) => this.#target(id),
      (m) => failedLinks.add(`${m.from}>${m.to}`),
    );
    for (const m of due) {
      const r = this.replicas.get(m.to);
      if (r === undefined || r.state !== "up") {
        // Its replica crashed earlier in this tick.
        this.trace.log(`drop ${describeMessage(m)} down`);
        continue;
      }
      this.trace.log(`deliver ${describeMessage(m)}`);
      this.#guard(r, `step(${m.type})`, () => this.#raw(r).step(m));
      if (this.rng.chance(this.options.eagerReady)) this.processReady(r);
    }
    // The sender's transport notices a broken connection and reports the peer unreachable.
    for (const link of failedLinks) {
      const [from, to] = link.split(">") as [NodeId, NodeId];
      const r = this.replicas.get(from);
      if (r === undefined || r.state !== "up" || this.isPaused(r)) continue;
      if (!this.rng.chance(this.options.unreachableFeedback)) continue;
      this.trace.log(`unreachable ${from} ${to}`);
      this.#guard(r, "reportUnreachable", () => this.#raw(r).reportUnreachable(to));
    }
    for (const r of this.active()) {
      if (r.state !== "up") continue;
      if (this.rng.chance(this.options.clockSkip)) continue;
      this.#guard(r, "tick", () => this.#raw(r).tick());
      if (this.rng.chance(this.options.clockDouble)) {
        this.#guard(r, "tick", () => this.#raw(r).tick());
      }
    }
  }

  /** Process every pending Ready, replay a packet maybe, and run the end-of-tick checks. */
  finishTick(): void {
    for (let round = 0; round < 8; round++) {
      let any = false;
      for (const r of this.active()) {
        if (r.state === "up" && r.raw?.hasReady()) {
          any = true;
          this.processReady(r);
        }
      }
      if (!any) break;
    }
    this.network.maybeReplay(this.now);
    this.#endOfTickChecks();
  }

  #target(id: NodeId): DeliveryTarget {
    const r = this.replicas.get(id);
    if (r === undefined || r.state !== "up") return "down";
    return this.isPaused(r) ? "paused" : "up";
  }

  #maybeCrashInReady(r: Replica, where: CrashPoint): boolean {
    if (!this.rng.chance(this.options.crashInReady)) return false;
    this.crash(r, where, this.rng.int(1, this.options.raft.electionTicks * 3));
    return true;
  }

  // -----------------------------------------------------------------------------------------------
  // Ready processing, in the contract's order, with crash points between the stages.

  processReady(r: Replica): void {
    const raw = this.#raw(r);
    if (!raw.hasReady()) return;
    if (this.#maybeCrashInReady(r, "before-ready")) return;
    const rd = this.#guard(r, "ready", () => raw.ready());
    this.stats.readies++;
    this.trace.log(`ready ${r.id} ${describeReady(rd)}`);
    this.#checkReadyContract(r, rd);

    // 0. A leader's early messages (appends, heartbeats) may go out before, while or after its
    // own write; the core must not count its own copy until advance().
    const early = rd.earlyMessages;
    let earlyAt =
      early.length === 0
        ? "none"
        : this.rng.pick(["before-write", "before-sync", "with-messages"] as const);
    if (earlyAt === "before-write" && this.#send(r, early, "early")) return;

    // 1. Write hard state, entries and a received snapshot to the unsynced buffer.
    const wroteLogOrState =
      rd.entries.length > 0 || rd.hardState !== undefined || rd.snapshot !== undefined;
    if (wroteLogOrState) {
      const prevLast = r.storage.current.lastIndex;
      r.storage.write({
        kind: "ready",
        ...(rd.hardState !== undefined ? { hardState: { ...rd.hardState } } : {}),
        ...(rd.snapshot !== undefined ? { snapshot: rd.snapshot } : {}),
        entries: rd.entries.map(copyEntry),
      });
      this.#observeWrite(r, rd, prevLast);
    }
    if (this.options.shellBug === "send-before-sync") {
      if (earlyAt !== "before-write" && earlyAt !== "none" && this.#send(r, early, "early")) return;
      earlyAt = "none";
      if (this.#send(r, rd.messages, "messages")) return;
    }
    if (this.#maybeCrashInReady(r, "after-write")) return;
    if (earlyAt === "before-sync" && this.#send(r, early, "early")) return;

    // 2. fsync (required when mustSync; an optional fsync may be skipped).
    if (
      r.storage.unsyncedCount > 0 &&
      (rd.mustSync || !this.rng.chance(this.options.skipOptionalSync))
    ) {
      this.#durable(r, r.storage.sync());
    }
    if (this.#maybeCrashInReady(r, "after-sync")) return;

    // 3. Send, only now that the state the messages depend on is durable.
    if (this.options.shellBug === "none") {
      if (earlyAt === "with-messages" && this.#send(r, early, "early")) return;
      if (this.#send(r, rd.messages, "messages")) return;
    }
    if (this.#maybeCrashInReady(r, "after-send")) return;

    // 4. Apply: restore a received snapshot, then the committed entries; then serve reads.
    this.#apply(r, rd);
    if (this.#maybeCrashInReady(r, "after-apply")) return;

    // 5. Acknowledge.
    this.#guard(r, "advance", () => raw.advance());
    if (rd.confState !== undefined) {
      r.confState = cloneConf(rd.confState);
      this.trace.log(`conf ${r.id} ${describeConf(rd.confState)}`);
    }
  }

  /** Hand messages to the network; a crash may cut the batch short. Returns true on a crash. */
  #send(r: Replica, msgs: Message[], what: string): boolean {
    for (const m of msgs) {
      this.#observeSent(m);
      this.network.send(m, this.now);
      if (msgs.length > 1 && this.rng.chance(this.options.crashInReady / 4)) {
        this.crash(r, `mid-send ${what}`, this.rng.int(1, this.options.raft.electionTicks * 3));
        return true;
      }
    }
    return false;
  }

  #checkReadyContract(r: Replica, rd: Ready): void {
    const prev = r.storage.current.hardState;
    if (!rd.mustSync) {
      if (rd.entries.length > 0)
        fail("contract", `${r.id}: Ready has entries but mustSync is false`);
      if (rd.snapshot !== undefined)
        fail("contract", `${r.id}: Ready has a snapshot but mustSync is false`);
      const hs = rd.hardState;
      if (hs !== undefined && (hs.term !== prev.term || hs.vote !== prev.vote)) {
        fail("contract", `${r.id}: Ready changes term/vote but mustSync is false`);
      }
    }
    if (rd.snapshot !== undefined && rd.committedEntries.length > 0) {
      const first = rd.committedEntries[0] as Entry;
      if (first.index !== rd.snapshot.meta.index + 1) {
        fail(
          "contract",
          `${r.id}: Ready applies ${first.index} after snapshot ${rd.snapshot.meta.index}`,
        );
      }
    }
  }

  /** After a write: log matching per written entry, commit bounds, committed entries. */
  #observeWrite(r: Replica, rd: Ready, prevLast: number): void {
    const log = r.storage.current;
    const first = rd.entries[0];
    if (first !== undefined) {
      if (first.index <= prevLast)
        this.trace.log(`truncate ${r.id} from ${first.index} (had ${prevLast})`);
      const st = first.index <= prevLast ? r.raw?.status() : undefined;
      if (st?.role === "leader" && r.leaderTerm === st.term) {
        // A leader never overwrites its own log (Raft's leader append-only property).
        fail(
          "log-matching",
          `${r.id}, leader of term ${st.term}, overwrote its log from ${first.index}`,
        );
      }
    }
    if (rd.snapshot !== undefined) {
      const m = rd.snapshot.meta;
      const committed = this.checkers.committedAt(m.index);
      if (committed !== undefined && committed.term !== m.term) {
        fail(
          "state-machine-safety",
          `${r.id} received snapshot ${m.index}/${m.term} but entry ${m.index} was committed in term ${committed.term}`,
        );
      }
    }
    const hs = rd.hardState;
    if (hs !== undefined) {
      if (hs.commit > log.lastIndex) {
        fail(
          "contract",
          `${r.id}: hard state commit ${hs.commit} beyond the written last index ${log.lastIndex}`,
        );
      }
      this.checkers.observeCommit(r.id, r.incarnation, hs.commit);
    }
  }

  /**
   * Log matching is checked on durable entries: an entry written but lost in a crash before the
   * fsync was never seen by anyone (a single voter may even write a different one at the same
   * index and term after restarting, which is fine).
   */
  #observeDurableEntries(id: NodeId, entries: Entry[], prevTerm: number | undefined): void {
    const first = entries[0] as Entry;
    if (prevTerm === undefined)
      fail("contract", `${id}: no term known before written entry ${first.index}`);
    let prev = prevTerm;
    for (const e of entries) {
      this.checkers.observeLogEntry(
        id,
        { index: e.index, term: e.term, content: entryContent(e) },
        prev,
      );
      prev = e.term;
    }
  }

  /**
   * A hard state became durable: its commit index is now a fact (an in-memory commit is not: a
   * single voter commits its own entry before writing it, and a crash before the fsync loses both
   * the entry and the commit without anyone having seen either).
   */
  #durable(r: Replica, hs: HardState | undefined): void {
    if (hs === undefined) return;
    this.checkers.observeDurableHardState(r.id, hs);
    this.#observeCommitted(r, hs.commit, hs.term);
  }

  /** Report entries (committedSeen, commit] of r's synced log as committed, known in `term`. */
  #observeCommitted(r: Replica, commit: number, term: number): void {
    const log = r.storage.synced;
    for (let i = Math.max(r.committedSeen + 1, log.firstIndex); i <= commit; i++) {
      const e = log.entry(i);
      if (e === undefined || e === "compacted") {
        fail("contract", `${r.id}: commit ${commit} covers ${i}, which its log does not hold`);
      }
      this.checkers.observeCommitted(
        r.id,
        { index: i, term: e.term, content: entryContent(e) },
        term,
      );
    }
    if (commit > r.committedSeen) r.committedSeen = commit;
  }

  /** Only a leader sends appends, heartbeats, snapshots and timeout-now: that reveals a leader. */
  #observeSent(m: Message): void {
    if (
      m.type === "app" ||
      m.type === "heartbeat" ||
      m.type === "snap" ||
      m.type === "timeout-now"
    ) {
      this.checkers.observeLeader(m.from, m.term, `sent ${m.type} to ${m.to}`);
    }
  }

  #apply(r: Replica, rd: Ready): void {
    if (rd.snapshot !== undefined) {
      const snap = rd.snapshot;
      r.sm.restore(snap.data);
      if (r.sm.appliedIndex !== snap.meta.index) {
        fail(
          "contract",
          `${r.id}: snapshot ${snap.meta.index} holds state of ${r.sm.appliedIndex}`,
        );
      }
      this.checkers.observeRestore(r.id, snap.meta.index, r.sm.hash);
      this.stats.snapshotsRestored++;
      this.trace.log(`restore ${r.id} snap=${snap.meta.index}/${snap.meta.term} hash=${r.sm.hash}`);
      // Writes proposed here at or below the snapshot are now of unknown fate.
      for (const idx of [...r.writes.keys()]) if (idx <= snap.meta.index) r.writes.delete(idx);
    }
    const log = r.storage.current;
    for (const e of rd.committedEntries) {
      if (e.index !== r.sm.appliedIndex + 1) {
        fail("contract", `${r.id}: Ready applies entry ${e.index} after ${r.sm.appliedIndex}`);
      }
      const own = log.entry(e.index);
      if (
        own === undefined ||
        own === "compacted" ||
        own.term !== e.term ||
        entryContent(own) !== entryContent(e)
      ) {
        fail("contract", `${r.id}: applies ${e.index}/${e.term}, which is not in its written log`);
      }
      const first = e.index > this.checkers.appliedMax;
      const content = r.sm.apply(e);
      this.checkers.observeCommitted(
        r.id,
        { index: e.index, term: e.term, content },
        r.storage.current.hardState.term,
      );
      this.checkers.observeApplied(r.id, { index: e.index, term: e.term, content }, r.sm.hash);
      // Count each membership change once (the bootstrap's add-voter entries are not changes).
      if (e.kind === "conf" && first && e.index > this.genesis.voters.length)
        this.stats.confApplied++;
      const w = r.writes.get(e.index);
      if (w !== undefined) {
        r.writes.delete(e.index);
        if (w.content === content && w.term === e.term) {
          this.stats.writesAcked++;
          this.checkers.observeWriteAcked(e.index);
          this.trace.log(`ack ${r.id} ${e.index}/${e.term} ${content}`);
        } else {
          this.stats.writesLost++;
        }
      }
    }
    for (const rs of rd.readStates) {
      const read = r.reads.get(rs.context);
      if (read === undefined) {
        this.trace.log(`readstate ${r.id} ${rs.context} i${rs.index} unknown`);
        continue;
      }
      if (read.readIndex === undefined) read.readIndex = rs.index;
    }
    this.#serveReads(r);
  }

  #serveReads(r: Replica): void {
    for (const read of [...r.reads.values()]) {
      if (read.readIndex === undefined || read.readIndex > r.sm.appliedIndex) continue;
      r.reads.delete(read.context);
      const value = r.sm.get(read.key);
      this.stats.readsServed++;
      this.trace.log(
        `read ${r.id} ${read.context} ${read.key}=${value ?? "-"} ri=${read.readIndex} applied=${r.sm.appliedIndex} acked=${read.ackedAtIssue}`,
      );
      this.checkers.observeRead({
        node: r.id,
        context: read.context,
        key: read.key,
        ackedAtIssue: read.ackedAtIssue,
        readIndex: read.readIndex,
        appliedIndex: r.sm.appliedIndex,
        value,
      });
    }
  }

  #endOfTickChecks(): void {
    for (const r of this.replicas.values()) {
      if (r.state !== "up" || r.raw === undefined) continue;
      const st = r.raw.status();
      r.status = st;
      this.checkers.observeCommit(r.id, r.incarnation, st.commit);
      if (st.applied !== r.sm.appliedIndex) {
        // Between Readies the core's applied cursor is what the shell acknowledged.
        fail(
          "contract",
          `${r.id}: core says applied ${st.applied}, the state machine is at ${r.sm.appliedIndex}`,
        );
      }
      if (st.role === "leader") {
        this.checkers.observeLeader(r.id, st.term, "status");
        if (r.leaderTerm !== st.term) {
          r.leaderTerm = st.term;
          r.completenessFrom = 1;
          this.stats.elections++;
        }
        const log = r.storage.current;
        r.completenessFrom = this.checkers.checkLeaderCompleteness(
          r.id,
          st.term,
          Math.max(r.completenessFrom, log.firstIndex),
          (i) => {
            const e = log.entry(i);
            if (e === "compacted" || e === undefined) return e;
            return { term: e.term, content: entryContent(e) };
          },
        );
      } else {
        r.leaderTerm = 0;
      }
      for (const read of [...r.reads.values()]) {
        if (this.now - read.issuedTick > this.options.readTimeoutTicks) {
          r.reads.delete(read.context);
          this.stats.readsAbandoned++;
        }
      }
    }
  }

  // -----------------------------------------------------------------------------------------------
  // Client and operator actions (called between beginTick and finishTick, never inside a Ready).

  /** The replica that believes it leads in the highest term, if any is up. */
  leader(): Replica | undefined {
    let best: Replica | undefined;
    for (const r of this.replicas.values()) {
      const st = r.status;
      if (r.state !== "up" || st === undefined || st.role !== "leader") continue;
      if (best === undefined || (best.status as RaftStatus).term < st.term) best = r;
    }
    return best;
  }

  #refused(op: string, error: string): void {
    const k = `${op}:${error}`;
    this.stats.refusals[k] = (this.stats.refusals[k] ?? 0) + 1;
  }

  /** Propose a write of a fresh unique value at r. Returns the accepted (index, content) or undefined. */
  proposeWrite(r: Replica, key: string, tag = "v"): { index: number; content: string } | undefined {
    const value = `${tag}${++this.#writeSeq}`;
    const data = encodeWrite(key, value);
    const content = `w|${key}|${value}`;
    const res = this.#guard(r, "propose", () => this.#raw(r).propose(data));
    if (!res.ok) {
      this.#refused("propose", res.error);
      return undefined;
    }
    this.stats.proposals++;
    this.trace.log(`propose ${r.id} ${res.index}/${res.term} ${content}`);
    if (r.writes.size >= this.options.pendingMax) {
      const oldest = r.writes.keys().next().value as number;
      r.writes.delete(oldest);
    }
    r.writes.set(res.index, { index: res.index, term: res.term, content });
    return { index: res.index, content };
  }

  /** Issue a ReadIndex read of key at r. */
  issueRead(r: Replica, key: string): void {
    if (r.reads.size >= this.options.pendingMax) return;
    const context = `rd${++this.#readSeq}`;
    const res = this.#guard(r, "readIndex", () => this.#raw(r).readIndex(context));
    if (!res.ok) {
      this.#refused("read", res.error);
      return;
    }
    this.stats.readsIssued++;
    this.trace.log(`readindex ${r.id} ${context} ${key} acked=${this.checkers.ackedMax}`);
    r.reads.set(context, {
      context,
      key,
      ackedAtIssue: this.checkers.ackedMax,
      issuedTick: this.now,
      readIndex: undefined,
    });
  }

  proposeConfChange(r: Replica, cc: ConfChange): boolean {
    const res = this.#guard(r, "proposeConfChange", () => this.#raw(r).proposeConfChange(cc));
    const what = `${cc.type} ${cc.nodeId}`;
    if (!res.ok) {
      this.#refused("conf", res.error);
      this.trace.log(`conf-refused ${r.id} ${what} ${res.error}`);
      return false;
    }
    this.stats.confProposed++;
    this.trace.log(`conf-propose ${r.id} ${res.index}/${res.term} ${what}`);
    return true;
  }

  /** Create the replica for a joining id (it starts from genesis and learns the rest from the leader). */
  addJoiner(id: NodeId): Replica {
    return this.#createReplica(id, joinState());
  }

  addressFor(id: NodeId): string {
    return addressOf(id);
  }

  transferLeadership(r: Replica, target: NodeId): void {
    this.stats.transfers++;
    this.trace.log(`transfer ${r.id} -> ${target}`);
    this.#guard(r, "transferLeadership", () => this.#raw(r).transferLeadership(target));
  }

  campaign(r: Replica): void {
    this.trace.log(`campaign ${r.id}`);
    this.#guard(r, "campaign", () => this.#raw(r).campaign());
  }

  reportUnreachable(r: Replica, id: NodeId): void {
    this.#guard(r, "reportUnreachable", () => this.#raw(r).reportUnreachable(id));
  }

  /** Snapshot r's state machine at its applied index and compact its log. */
  compact(r: Replica): void {
    const raw = this.#raw(r);
    const before = r.storage.current.snapshot.meta.index;
    // compact() at or below the core's snapshot is a no-op that returns the core's snapshot meta,
    // which may be a received snapshot the shell has not yet been handed: skip it.
    if (r.sm.appliedIndex <= raw.status().snapshotIndex) return;
    const data = r.sm.snapshot();
    const meta = this.#guard(r, "compact", () => raw.compact(data));
    if (meta.index === before) return;
    if (meta.index !== r.sm.appliedIndex) {
      fail(
        "contract",
        `${r.id}: compact() at ${meta.index}, the state machine is at ${r.sm.appliedIndex}`,
      );
    }
    r.storage.write({ kind: "compact", snapshot: { meta, data } });
    this.stats.compactions++;
    this.trace.log(`compact ${r.id} to ${meta.index}/${meta.term} bytes=${data.byteLength}`);
  }

  /** A background flush (the OS writing back dirty pages): everything buffered becomes durable. */
  backgroundSync(r: Replica): void {
    if (r.state !== "up" || r.storage.unsyncedCount === 0) return;
    this.#durable(r, r.storage.sync());
    this.trace.log(`flush ${r.id}`);
  }
}

function cloneConf(c: ConfState): ConfState {
  return { voters: c.voters.slice(), learners: c.learners.slice(), addresses: { ...c.addresses } };
}

function copyEntry(e: Entry): Entry {
  return e.kind === "conf"
    ? { kind: "conf", index: e.index, term: e.term, change: { ...e.change } }
    : { kind: "normal", index: e.index, term: e.term, data: e.data.slice() };
}

export function describeConf(c: ConfState): string {
  return `v=[${c.voters.join(",")}] l=[${c.learners.join(",")}]`;
}

function span(es: Entry[]): string {
  const a = es[0];
  const b = es[es.length - 1];
  return a === undefined || b === undefined ? "-" : `${a.index}..${b.index}`;
}

export function describeReady(rd: Ready): string {
  const parts: string[] = [];
  if (rd.softState !== undefined)
    parts.push(`ss=${rd.softState.role}/${rd.softState.leader || "-"}`);
  if (rd.hardState !== undefined) {
    const h = rd.hardState;
    parts.push(`hs=${h.term}/${h.vote || "-"}/${h.commit}`);
  }
  if (rd.entries.length > 0) parts.push(`ent=${span(rd.entries)}`);
  if (rd.snapshot !== undefined)
    parts.push(`snap=${rd.snapshot.meta.index}/${rd.snapshot.meta.term}`);
  if (rd.committedEntries.length > 0) parts.push(`apply=${span(rd.committedEntries)}`);
  if (rd.earlyMessages.length > 0) parts.push(`early=${rd.earlyMessages.length}`);
  if (rd.messages.length > 0) parts.push(`msgs=${rd.messages.length}`);
  if (rd.readStates.length > 0) {
    parts.push(`rs=${rd.readStates.map((s) => `${s.context}@${s.index}`).join(",")}`);
  }
  if (rd.confState !== undefined) parts.push(`cs=${describeConf(rd.confState)}`);
  if (rd.mustSync) parts.push("sync");
  return parts.join(" ");
}

function formatEvent(e: { event: string; [k: string]: unknown }): string {
  const parts: string[] = [e.event];
  for (const [k, v] of Object.entries(e)) {
    if (k === "event" || k === "id") continue;
    if (k === "before" || k === "after") {
      parts.push(`${k}=${describeConf(v as ConfState)}`);
      continue;
    }
    parts.push(`${k}=${typeof v === "string" ? v : JSON.stringify(v)}`);
  }
  return parts.join(" ");
}
