// One simulation run: everything is derived from the seed. The run's parameters are drawn
// swarm-style (each seed tests a different mix of cluster size, fault rates and limits), then:
// phase 1 runs the workload under faults with the safety checkers on every step; phase 2 heals
// every fault and requires liveness: a new write commits and is applied on every member within a
// bounded number of ticks.
import type { RaftConfig } from "../../src/raft/core/config.js";
import type { ConfChange, NodeId } from "../../src/raft/core/types.js";
import { fail, Violation } from "./checkers.js";
import {
  Cluster,
  type ClusterOptions,
  type ClusterStats,
  describeConf,
  type Replica,
} from "./cluster.js";
import type { NetworkStats } from "./network.js";
import { Prng } from "./prng.js";
import { Trace } from "./trace.js";

export interface SwarmParams {
  voters: number;
  learners: number;
  keys: number;
  phase1Ticks: number;
  cluster: ClusterOptions;
  /** Probabilities per tick unless stated otherwise. */
  faults: {
    partition: number;
    partitionTicksMax: number;
    swizzle: number;
    crash: number;
    downTicksMax: number;
    pause: number;
    pauseTicksMax: number;
    backgroundSync: number;
    unreachable: number;
    slowLinks: number;
  };
  workload: {
    write: number;
    writesPerTick: number;
    read: number;
    conf: number;
    transfer: number;
    compact: number;
    compactEntriesMin: number;
    campaign: number;
    joinersMax: number;
  };
}

const pickOdds = <T>(rng: Prng, options: readonly (readonly [T, number])[]): T =>
  rng.weighted(options);

/** A rate that is zero in some runs, small in most, occasionally high. */
function rate(rng: Prng, max: number): number {
  const shape = rng.weighted([
    ["zero", 2],
    ["low", 5],
    ["full", 3],
  ] as const);
  if (shape === "zero") return 0;
  if (shape === "low") return rng.float() * max * 0.25;
  return rng.float() * max;
}

export function swarm(rng: Prng, phase1Ticks: number | undefined): SwarmParams {
  const electionTicks = rng.int(5, 15);
  const heartbeatTicks = rng.int(1, Math.max(1, Math.min(3, Math.floor(electionTicks / 4))));
  const msgBytesMax = rng.int(256, 4096);
  const uncommittedBytesMax = rng.chance(0.3) ? rng.int(1024, 8192) : 1 << 20;
  const raft: ClusterOptions["raft"] = {
    electionTicks,
    heartbeatTicks,
    preVote: rng.chance(0.8),
    checkQuorum: rng.chance(0.7),
    msgBytesMax,
    msgEntriesMax: rng.int(4, 64),
    inflightMsgsMax: rng.int(2, 16),
    inflightBytesMax: msgBytesMax * rng.int(1, 16),
    uncommittedBytesMax,
    committedBytesPerReadyMax: rng.int(64, 4096),
    snapshotChunkBytes: rng.int(16, 256),
    proposalBytesMax: Math.min(1024, uncommittedBytesMax),
    pendingReadsMax: rng.int(1, 64),
    earlyMessages: rng.chance(0.5),
  } satisfies Omit<RaftConfig, "id" | "rng" | "onEvent">;
  const delayMax = rng.int(1, 8);
  const cluster: ClusterOptions = {
    raft,
    network: {
      loss: rate(rng, 0.3),
      dup: rate(rng, 0.5),
      replay: rate(rng, 0.2),
      delayMin: 1,
      delayMax,
      inflightMax: 4000,
    },
    crashInReady: rate(rng, 0.05),
    crashLosesAll: 0.5 + rng.float() * 0.5,
    skipOptionalSync: rng.float(),
    clockSkip: rate(rng, 0.1),
    clockDouble: rate(rng, 0.05),
    eagerReady: rng.float(),
    unreachableFeedback: rng.chance(0.3) ? 0 : rng.float(),
    readTimeoutTicks: electionTicks * 10 + delayMax * 10,
    pendingMax: 32,
    traceEvents: true,
    shellBug: "none",
  };
  return {
    voters: pickOdds(rng, [
      [1, 1],
      [2, 1],
      [3, 4],
      [4, 1],
      [5, 3],
    ] as const),
    learners: pickOdds(rng, [
      [0, 6],
      [1, 3],
      [2, 1],
    ] as const),
    keys: rng.int(2, 12),
    phase1Ticks: phase1Ticks ?? rng.int(800, 2000),
    cluster,
    faults: {
      partition: rate(rng, 0.03),
      partitionTicksMax: electionTicks * rng.int(2, 10),
      swizzle: rate(rng, 0.01),
      crash: rate(rng, 0.01),
      downTicksMax: electionTicks * rng.int(1, 10),
      pause: rate(rng, 0.005),
      pauseTicksMax: electionTicks * rng.int(1, 4),
      backgroundSync: rate(rng, 0.05),
      unreachable: rate(rng, 0.05),
      slowLinks: rng.chance(0.3) ? rng.float() * 0.3 : 0,
    },
    workload: {
      write: 0.05 + rng.float() * 0.75,
      writesPerTick: rng.int(1, 3),
      read: rate(rng, 0.6),
      conf: rate(rng, 0.03),
      transfer: rate(rng, 0.01),
      compact: rate(rng, 0.1),
      compactEntriesMin: rng.int(1, 60),
      campaign: rate(rng, 0.002),
      joinersMax: rng.int(0, 6),
    },
  };
}

export interface RunOptions {
  seed: number;
  /** Phase 1 length in ticks (default: drawn per seed). */
  ticks?: number;
  /** Keep the whole trace (for --trace FILE). */
  keepTrace: boolean;
  /**
   * Deliberate breakage, for tests that prove the checkers fire end to end: a broken shell (see
   * ClusterOptions.shellBug), or replicas that never run again after the heal (so that no write
   * can commit, whatever the membership).
   */
  sabotage?: "send-before-sync" | "freeze-forever";
}

export interface RunResult {
  seed: number;
  ok: boolean;
  violation?: { checker: string; message: string; stack: string };
  digest: string;
  traceLines: number;
  tail: string[];
  traceText: string;
  summary: string;
  stats: ClusterStats;
  network: NetworkStats;
  ticks: number;
  livenessTicks: number;
  livenessBound: number;
}

interface Scheduled {
  at: number;
  what: string;
  run: () => void;
}

/** The fault and workload driver of one run. */
class Driver {
  readonly c: Cluster;
  readonly p: SwarmParams;
  readonly rng: Prng;
  readonly #scheduled: Scheduled[] = [];
  #partitionUntil = -1;
  #swizzling = false;
  #joiners = 0;
  /** Every id some replica's membership has held. */
  readonly #wereMembers = new Set<NodeId>();
  /** Learners to add as soon as a leader accepts conf changes (the bootstrap holds voters only). */
  initialLearners = 0;
  healed = false;

  constructor(c: Cluster, p: SwarmParams, rng: Prng) {
    this.c = c;
    this.p = p;
    this.rng = rng;
  }

  #schedule(at: number, what: string, run: () => void): void {
    this.#scheduled.push({ at, what, run });
  }

  runScheduled(): void {
    const now = this.c.now;
    for (let i = 0; i < this.#scheduled.length; ) {
      const s = this.#scheduled[i] as Scheduled;
      if (s.at <= now) {
        this.#scheduled.splice(i, 1);
        s.run();
      } else {
        i++;
      }
    }
  }

  #live(): Replica[] {
    return [...this.c.replicas.values()].filter((r) => r.state !== "stopped");
  }

  setupSlowLinks(): void {
    if (this.p.faults.slowLinks === 0) return;
    const ids = this.#live().map((r) => r.id);
    for (const a of ids) {
      for (const b of ids) {
        if (a !== b && this.rng.chance(this.p.faults.slowLinks)) {
          this.c.network.slow(a, b, this.rng.int(1, this.p.cluster.network.delayMax * 2));
        }
      }
    }
  }

  faults(): void {
    const f = this.p.faults;
    const c = this.c;
    const now = c.now;
    if (this.#partitionUntil >= 0 && now >= this.#partitionUntil) {
      c.network.clearCuts();
      this.#partitionUntil = -1;
      c.trace.log("partition healed");
    }
    if (this.#partitionUntil < 0 && this.rng.chance(f.partition)) this.#partition();
    if (!this.#swizzling && this.rng.chance(f.swizzle)) this.#swizzle();
    if (this.rng.chance(f.crash)) {
      const up = this.#live().filter((r) => r.state === "up");
      if (up.length > 0) {
        const r = this.rng.pick(up);
        const long = this.rng.chance(0.1);
        c.crash(r, "idle", this.rng.int(1, f.downTicksMax * (long ? 5 : 1)));
      }
    }
    if (this.rng.chance(f.pause)) {
      const act = c.active();
      if (act.length > 0) c.pause(this.rng.pick(act), this.rng.int(1, f.pauseTicksMax));
    }
    if (f.unreachable > 0 && this.rng.chance(f.unreachable)) {
      const l = c.leader();
      if (l !== undefined && !c.isPaused(l)) {
        const peers = this.#live().filter(
          (r) => r !== l && (r.state !== "up" || c.network.isCut(l.id, r.id)),
        );
        if (peers.length > 0) c.reportUnreachable(l, this.rng.pick(peers).id);
      }
    }
  }

  #partition(): void {
    const c = this.c;
    const ids = this.rng.shuffle(this.#live().map((r) => r.id));
    if (ids.length < 2) return;
    const kind = this.rng.weighted([
      ["split", 4],
      ["isolate", 3],
      ["asymmetric", 2],
      ["links", 1],
    ] as const);
    const cutBoth = (a: NodeId, b: NodeId) => {
      c.network.cut(a, b);
      c.network.cut(b, a);
    };
    let desc = "";
    if (kind === "split") {
      const k = this.rng.int(1, ids.length - 1);
      const left = ids.slice(0, k);
      const right = ids.slice(k);
      for (const a of left) for (const b of right) cutBoth(a, b);
      desc = `[${left.join(",")}] | [${right.join(",")}]`;
    } else if (kind === "isolate") {
      const x = ids[0] as NodeId;
      for (const b of ids.slice(1)) cutBoth(x, b);
      desc = x;
    } else if (kind === "asymmetric") {
      const x = ids[0] as NodeId;
      const inbound = this.rng.chance(0.5);
      for (const b of ids.slice(1)) {
        if (inbound) c.network.cut(b, x);
        else c.network.cut(x, b);
      }
      desc = `${x} ${inbound ? "deaf" : "mute"}`;
    } else {
      for (const a of ids) {
        for (const b of ids) if (a !== b && this.rng.chance(0.3)) c.network.cut(a, b);
      }
      desc = `${c.network.cutCount} links`;
    }
    this.#partitionUntil =
      c.now + this.rng.int(this.p.cluster.raft.electionTicks, this.p.faults.partitionTicksMax);
    c.trace.log(`partition ${kind} ${desc} until ${this.#partitionUntil}`);
  }

  /** FoundationDB's swizzle-clog: clog a random subset one node at a time, unclog in random order. */
  #swizzle(): void {
    const c = this.c;
    const ids = this.#live().map((r) => r.id);
    if (ids.length < 2) return;
    const subset = this.rng.shuffle(ids).slice(0, this.rng.int(1, ids.length));
    this.#swizzling = true;
    const setClog = (x: NodeId, on: boolean) => {
      for (const y of ids) {
        if (y === x) continue;
        if (on) {
          c.network.clog(x, y);
          c.network.clog(y, x);
        } else {
          c.network.unclog(x, y);
          c.network.unclog(y, x);
        }
      }
    };
    const step = this.p.cluster.raft.electionTicks;
    let at = c.now;
    c.trace.log(`swizzle [${subset.join(",")}]`);
    for (const x of subset) {
      at += this.rng.int(1, step);
      this.#schedule(at, `clog ${x}`, () => {
        c.trace.log(`clog ${x}`);
        setClog(x, true);
      });
    }
    const order = this.rng.shuffle(subset);
    for (const x of order) {
      at += this.rng.int(1, step * 2);
      this.#schedule(at, `unclog ${x}`, () => {
        c.trace.log(`unclog ${x}`);
        setClog(x, false);
      });
    }
    this.#schedule(at, "swizzle done", () => {
      this.#swizzling = false;
    });
  }

  /** Client writes and reads, membership changes, transfers, compaction, background flushes. */
  workload(phase: 1 | 2): void {
    const c = this.c;
    const w = this.p.workload;
    const act = c.active();
    if (act.length === 0) return;
    const key = () => `k${this.rng.int(0, this.p.keys - 1)}`;
    const writeRate = phase === 1 ? w.write : w.write * 0.25;
    for (let i = 0; i < w.writesPerTick; i++) {
      if (!this.rng.chance(writeRate)) continue;
      // A client asks a random replica who leads and goes there (or stays, if it knows no better).
      const asked = this.rng.pick(act);
      const hint = asked.status?.leader ?? "";
      const hinted = hint === "" ? undefined : c.replicas.get(hint);
      const target = hinted !== undefined && act.includes(hinted) ? hinted : asked;
      c.proposeWrite(target, key());
    }
    const readRate = phase === 1 ? w.read : w.read * 0.25;
    if (this.rng.chance(readRate)) c.issueRead(this.rng.pick(act), key());
    if (this.initialLearners > 0) this.#addInitialLearner();
    else if (phase === 1 && this.rng.chance(w.conf)) this.#membershipChange();
    if (phase === 1 && this.rng.chance(w.transfer)) {
      const r = this.rng.pick(act);
      const voters = r.confState.voters;
      if (voters.length > 0) c.transferLeadership(r, this.rng.pick(voters));
    }
    if (phase === 1 && this.rng.chance(w.campaign)) {
      const r = this.rng.pick(act);
      c.campaign(r);
    }
    for (const r of act) {
      if (r.state !== "up") continue;
      if (this.rng.chance(w.compact)) {
        const snapIndex = r.storage.current.snapshot.meta.index;
        if (r.sm.appliedIndex - snapIndex >= w.compactEntriesMin) c.compact(r);
      }
      if (this.rng.chance(this.p.faults.backgroundSync)) c.backgroundSync(r);
    }
  }

  #addInitialLearner(): void {
    const c = this.c;
    const l = c.leader();
    if (l === undefined || c.isPaused(l)) return;
    const id = c.allocateId();
    if (c.proposeConfChange(l, { type: "add-learner", nodeId: id, address: c.addressFor(id) })) {
      this.initialLearners--;
      c.addJoiner(id);
    } else {
      c.releaseId(id);
    }
  }

  #membershipChange(): void {
    const c = this.c;
    const l = c.leader();
    if (l === undefined || l.status === undefined || c.isPaused(l)) return;
    const cs = l.status.confState;
    const canJoin = this.#joiners < this.p.workload.joinersMax;
    const kind = this.rng.weighted([
      ["add-learner", canJoin ? 3 : 0],
      ["add-voter", canJoin ? 1 : 0],
      ["promote", cs.learners.length > 0 ? 3 : 0],
      // Etcd's two-member trap: once a replica has applied its own removal from a two-voter
      // configuration it never campaigns; if the other voter missed the commit, that one needs
      // the removed replica's vote, which it refuses (its log is longer), and the cluster is
      // stuck for good, whoever proposed the change (seed 7745 before this rule). So no voter is
      // removed from fewer than three.
      ["remove-voter", cs.voters.length > 2 ? 2 : 0],
      ["remove-learner", cs.learners.length > 0 ? 1 : 0],
      ["none", 0.01],
    ] as const);
    let cc: ConfChange;
    switch (kind) {
      case "add-learner":
      case "add-voter": {
        const id = c.allocateId();
        cc = { type: kind, nodeId: id, address: c.addressFor(id) };
        break;
      }
      case "promote":
        cc = { type: "promote", nodeId: this.rng.pick(cs.learners) };
        break;
      case "remove-voter":
        cc = { type: "remove", nodeId: this.rng.pick(cs.voters) };
        break;
      case "remove-learner":
        cc = { type: "remove", nodeId: this.rng.pick(cs.learners) };
        break;
      case "none":
        return;
    }
    const ok = c.proposeConfChange(l, cc);
    if (cc.type === "add-learner" || cc.type === "add-voter") {
      if (!ok) {
        c.releaseId(cc.nodeId);
        return;
      }
      this.#joiners++;
      c.addJoiner(cc.nodeId);
    }
  }

  /** Phase 2 begins: every fault is healed and no new one is injected. */
  heal(): void {
    const c = this.c;
    this.healed = true;
    this.#scheduled.length = 0;
    this.#partitionUntil = -1;
    this.#swizzling = false;
    c.network.heal();
    // Raft is live only when a round trip is well inside the election timeout; phase 1 may break
    // that on purpose, phase 2 restores it.
    const raft = this.p.cluster.raft;
    const delayMax = Math.max(
      1,
      Math.min(c.network.options.delayMax, Math.floor(raft.electionTicks / 4)),
    );
    c.network.setOptions({ delayMax });
    c.options.crashInReady = 0;
    for (const r of c.replicas.values()) {
      if (r.state === "down") c.restart(r);
      r.pausedUntil = -1;
    }
    c.trace.log("heal");
  }

  /**
   * A removed replica is shut down once nothing counts it any more: no running replica's
   * membership holds it (a member that has not applied the removal may still need its vote) and
   * no log holds an unapplied change naming it.
   */
  stopRemoved(): void {
    const c = this.c;
    const named = new Set<NodeId>();
    for (const o of c.replicas.values()) {
      if (o.state === "stopped") continue;
      const st = o.status;
      if (st !== undefined)
        for (const id of [...st.confState.voters, ...st.confState.learners]) named.add(id);
      const log = o.storage.current;
      for (let i = Math.max(o.sm.appliedIndex + 1, log.firstIndex); i <= log.lastIndex; i++) {
        const e = log.entry(i);
        if (e !== undefined && e !== "compacted" && e.kind === "conf") named.add(e.change.nodeId);
      }
    }
    for (const id of named) this.#wereMembers.add(id);
    for (const r of c.replicas.values()) {
      // A joiner whose addition is still in flight is named nowhere yet: only stop former members.
      if (r.state === "up" && this.#wereMembers.has(r.id) && !named.has(r.id)) c.stop(r);
    }
  }
}

/** Ticks phase 2 may take to show progress, from the run's parameters and the log's size. */
function livenessBound(c: Cluster, p: SwarmParams): number {
  const r = p.cluster.raft;
  const d = p.cluster.network.delayMax;
  let snapBytes = 0;
  let lastIndex = 0;
  for (const x of c.replicas.values()) {
    snapBytes = Math.max(snapBytes, x.sm.snapshot().byteLength);
    lastIndex = Math.max(lastIndex, x.storage.current.lastIndex);
  }
  const rtt = 2 * d + 2;
  const elections = 40 * r.electionTicks;
  const snapshot =
    Math.ceil((snapBytes * 2) / r.snapshotChunkBytes) * rtt * 2 + 10 * r.electionTicks;
  const entriesPerRtt = Math.max(
    1,
    Math.min(r.msgEntriesMax * r.inflightMsgsMax, Math.floor(r.inflightBytesMax / 64)),
  );
  const catchUp = Math.ceil(lastIndex / entriesPerRtt) * rtt;
  return 200 + elections + snapshot + catchUp;
}

function livenessFailure(c: Cluster, probe: string, bound: number): never {
  const lines: string[] = [];
  const wedged: string[] = [];
  const l = c.leader();
  if (l?.status !== undefined) {
    const raft = c.options.raft;
    for (const [id, pr] of Object.entries(l.status.progress)) {
      const full =
        pr.inflightMsgs >= raft.inflightMsgsMax || pr.inflightBytes >= raft.inflightBytesMax;
      if (id !== l.id && pr.state === "replicate" && full && pr.match < l.status.lastIndex)
        wedged.push(id);
    }
  }
  if (wedged.length > 0) {
    probe += `; ${l?.id} has a full replicate window to ${wedged.join(",")} that nothing frees`;
  }
  for (const r of c.replicas.values()) {
    const st = r.status;
    lines.push(
      st === undefined
        ? `${r.id}: ${r.state}`
        : `${r.id}: ${st.role} term=${st.term} leader=${st.leader || "-"} commit=${st.commit} applied=${st.applied} last=${st.lastIndex} snap=${st.snapshotIndex} ${describeConf(st.confState)}`,
    );
    if (st?.role === "leader") {
      for (const [id, pr] of Object.entries(st.progress)) {
        lines.push(
          `  progress ${id}: ${pr.state} match=${pr.match} next=${pr.next} inflight=${pr.inflightMsgs}/${pr.inflightBytes}B active=${pr.recentActive} snapOffset=${pr.snapshotOffset}`,
        );
      }
    }
  }
  return fail(
    "liveness",
    `no write committed on every member within ${bound} ticks of healing (${probe})\n  ${lines.join("\n  ")}`,
  );
}

export function runSeed(opts: RunOptions): RunResult {
  const root = new Prng(opts.seed);
  const p = swarm(root.fork("swarm"), opts.ticks);
  if (opts.sabotage === "send-before-sync") p.cluster.shellBug = "send-before-sync";
  const trace = new Trace({ keepAll: opts.keepTrace, tailMax: 80 });
  trace.log(
    `seed ${opts.seed} voters=${p.voters} learners=${p.learners} E=${p.cluster.raft.electionTicks} H=${p.cluster.raft.heartbeatTicks} prevote=${p.cluster.raft.preVote} cq=${p.cluster.raft.checkQuorum} early=${p.cluster.raft.earlyMessages} loss=${p.cluster.network.loss.toFixed(3)} dup=${p.cluster.network.dup.toFixed(3)} delay=1..${p.cluster.network.delayMax} chunk=${p.cluster.raft.snapshotChunkBytes} ticks=${p.phase1Ticks}`,
  );
  let c: Cluster | undefined;
  let livenessTicks = -1;
  let bound = 0;
  let violation: RunResult["violation"];
  try {
    c = new Cluster(root.fork("cluster"), trace, p.cluster, { voters: p.voters });
    const d = new Driver(c, p, root.fork("driver"));
    d.initialLearners = p.learners;
    d.setupSlowLinks();
    if (d.rng.chance(0.5)) {
      const voters = c.genesis.voters;
      const r = c.replicas.get(d.rng.pick(voters));
      if (r !== undefined) c.campaign(r);
    }
    // Phase 1: safety under faults.
    while (c.now < p.phase1Ticks) {
      c.beginTick();
      d.runScheduled();
      d.faults();
      d.workload(1);
      c.finishTick();
    }
    // Phase 2: heal, then a fresh write must reach every member within the bound.
    d.heal();
    if (opts.sabotage === "freeze-forever") {
      for (const r of c.replicas.values()) c.pause(r, Number.MAX_SAFE_INTEGER / 2);
      trace.log("sabotage: every replica frozen");
    }
    const healedAt = c.now;
    bound = livenessBound(c, p);
    let probe:
      | { index: number; content: string; leader: NodeId; term: number; at: number }
      | undefined;
    let doneAt = -1;
    const retryTicks = p.cluster.raft.electionTicks * 4 + 4 * p.cluster.network.delayMax;
    while (doneAt < 0 || c.now < doneAt + 20) {
      c.beginTick();
      d.workload(2);
      d.stopRemoved();
      if (doneAt < 0) {
        const l = c.leader();
        const st = l?.status;
        if (l !== undefined && st !== undefined) {
          const stale =
            probe === undefined ||
            probe.leader !== l.id ||
            probe.term !== st.term ||
            c.now - probe.at > retryTicks;
          if (stale) {
            const got = c.proposeWrite(l, "live", "probe");
            if (got !== undefined) probe = { ...got, leader: l.id, term: st.term, at: c.now };
          }
        }
      }
      c.finishTick();
      if (doneAt < 0 && probe !== undefined) {
        const applied = c.checkers.appliedAt(probe.index);
        const l = c.leader();
        if (applied !== undefined && applied.content === probe.content && l?.status !== undefined) {
          const cs = l.status.confState;
          const members = [...cs.voters, ...cs.learners];
          const all = members.every((id) => {
            const r = c?.replicas.get(id);
            return r !== undefined && r.state === "up" && r.sm.appliedIndex >= (probe?.index ?? 0);
          });
          if (all) {
            doneAt = c.now;
            livenessTicks = c.now - healedAt;
            trace.log(
              `live after ${livenessTicks} ticks: ${probe.content} at ${probe.index} on ${members.join(",")}`,
            );
          }
        }
      }
      if (doneAt < 0 && c.now - healedAt > bound) {
        livenessFailure(
          c,
          probe === undefined
            ? "no leader accepted a write"
            : `last probe ${probe.content} at ${probe.index} via ${probe.leader}`,
          bound,
        );
      }
    }
  } catch (err) {
    if (err instanceof Violation) {
      violation = { checker: err.checker, message: err.message, stack: err.stack ?? "" };
    } else {
      const e = err as Error;
      violation = {
        checker: "sim-error",
        message: `${e.name}: ${e.message}`,
        stack: e.stack ?? "",
      };
    }
    trace.log(`VIOLATION ${violation.message.split("\n")[0]}`);
  }
  const stats = c?.stats ?? emptyStats();
  const net = c?.network.stats ?? {
    sent: 0,
    delivered: 0,
    lost: 0,
    duplicated: 0,
    replayed: 0,
    cut: 0,
    overflow: 0,
  };
  const summary =
    `seed ${opts.seed}: ${p.voters}v+${p.learners}l ticks=${stats.ticks} live=${livenessTicks}/${bound} ` +
    `msgs=${net.delivered} crashes=${stats.crashes} elections=${stats.elections} acked=${stats.writesAcked} ` +
    `reads=${stats.readsServed} conf=${stats.confApplied} snaps=${stats.snapshotsRestored} compact=${stats.compactions}`;
  return {
    seed: opts.seed,
    ok: violation === undefined,
    ...(violation !== undefined ? { violation } : {}),
    digest: trace.digest(),
    traceLines: trace.lineCount,
    tail: trace.tail(60),
    traceText: opts.keepTrace ? trace.text() : "",
    summary,
    stats,
    network: net,
    ticks: stats.ticks,
    livenessTicks,
    livenessBound: bound,
  };
}

function emptyStats(): ClusterStats {
  return {
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
}
