// InteractionEnv: a cluster of pure Raft cores driven one explicit step at a time, in the manner of
// etcd-io/raft's rafttest.InteractionEnv. Nothing happens unless a command says so: the network is
// a list of in-flight messages that the test delivers or drops, each node's disk is an in-memory
// record of exactly what it persisted from its Ready batches, and time moves only on `tick*`.
//
// Notation in transcripts (etcd's): an entry is `term/index Kind data`, e.g. `1/3 EntryNormal "x"`;
// `Log:t/i` on a message is the term and index of the entry preceding it (or the candidate's last
// entry for votes). Node ids are the strings "1", "2", ...
//
// Besides printing, the env checks Raft's safety properties after every step and throws when one
// breaks (a thrown error fails the test even under REWRITE=1): election safety (one leader per
// term), durable term/vote/commit never going backwards, committed entries never overwritten,
// entries applied in order and only once durable, state machine safety (no two nodes apply
// different entries at the same index), no vote or append response sent before the state it
// vouches for is persisted, and no stale reads (a ReadState below the highest commit index any
// node knew when the read was requested).

import { bootstrapState, joinState } from "../../../src/raft/core/bootstrap.js";
import {
  makeRaftConfig,
  type RaftConfig,
  raftConfigDefaults,
} from "../../../src/raft/core/config.js";
import { RawNode } from "../../../src/raft/core/raw-node.js";
import type {
  ConfChange,
  ConfState,
  Entry,
  HardState,
  Message,
  NodeId,
  RaftStatus,
  Ready,
  Snapshot,
} from "../../../src/raft/core/types.js";
import type { TestData } from "./datadriven.js";
import {
  byId,
  ctx,
  formatConfChange,
  formatConfState,
  formatData,
  formatEntry,
  formatEvent,
  formatHardState,
  formatMessage,
  list,
  parseMsgType,
} from "./format.js";

/** What a node has made durable: the only thing that survives `crash`. */
interface Disk {
  hardState: HardState;
  snapshot: Snapshot;
  entries: Entry[];
}

/** The replicated state machine: the list of applied (non-empty) normal entries' data. */
interface StateMachine {
  applied: number;
  data: string[];
}

interface EnvNode {
  id: NodeId;
  /** undefined while crashed. */
  raw: RawNode | undefined;
  config: RaftConfig;
  disk: Disk;
  sm: StateMachine;
}

const enc = new TextEncoder();
const dec = new TextDecoder();

/** Messages that vouch for the sender's durable state: they must wait until it is persisted. */
const durableTypes: ReadonlySet<Message["type"]> = new Set([
  "vote",
  "vote-resp",
  "pre-vote",
  "app-resp",
  "snap-resp",
]);

function encodeState(data: string[]): Uint8Array {
  return enc.encode(JSON.stringify(data));
}

function decodeState(bytes: Uint8Array): string[] {
  if (bytes.length === 0) return [];
  const v: unknown = JSON.parse(dec.decode(bytes));
  if (!Array.isArray(v) || !v.every((s) => typeof s === "string")) {
    throw new Error(`snapshot data is not a state machine image: ${dec.decode(bytes)}`);
  }
  return v as string[];
}

function entrySignature(e: Entry): string {
  return e.kind === "normal"
    ? `${e.term}/${e.index} normal ${formatData(e.data)}`
    : `${e.term}/${e.index} conf ${formatConfChange(e.change)}`;
}

/** Maps `add-nodes` keys to config fields. */
const configKeys = {
  election: "electionTicks",
  heartbeat: "heartbeatTicks",
  prevote: "preVote",
  checkquorum: "checkQuorum",
  "snapshot-chunk": "snapshotChunkBytes",
  "max-msg-bytes": "msgBytesMax",
  "max-msg-entries": "msgEntriesMax",
  "max-inflight-msgs": "inflightMsgsMax",
  "max-inflight-bytes": "inflightBytesMax",
  "max-uncommitted-bytes": "uncommittedBytesMax",
  "max-committed-bytes": "committedBytesPerReadyMax",
  "max-proposal-bytes": "proposalBytesMax",
  "max-pending-reads": "pendingReadsMax",
  "early-messages": "earlyMessages",
} as const;

export class InteractionEnv {
  readonly nodes = new Map<NodeId, EnvNode>();
  /** In-flight messages, in the order they were sent. */
  messages: Message[] = [];
  /** Messages sent across the partition of the moment: lost even if the network heals. */
  readonly #lost = new WeakSet<Message>();
  /** Groups that cannot talk to each other; undefined when the network is whole. */
  partition: NodeId[][] | undefined;
  /** term -> the node that became leader in it (election safety). */
  readonly leaders = new Map<number, NodeId>();
  /** index -> signature of the entry applied there by any node (state machine safety). */
  readonly appliedAt = new Map<number, string>();
  /**
   * `node ctx` -> the highest commit index any node knew when the read was requested: a ReadState
   * below it would be a stale read (linearizability).
   */
  readonly readFloor = new Map<string, number>();

  #out: string[] = [];
  #indent = "";
  /** `log-level none`: transcript lines (Readies, messages, events) are dropped; answers stay. */
  #quiet = false;

  /** Runs one datadriven block and returns its output. */
  handle(d: TestData): string {
    this.#out = [];
    this.#indent = "";
    this.#dispatch(d);
    return this.#out.length === 0 ? "ok" : this.#out.join("\n");
  }

  /** A transcript line: suppressed under `log-level none`. */
  #print(line: string): void {
    if (!this.#quiet) this.#out.push(this.#indent + line);
  }

  /** An answer to a query (status, raft-log, check, a refusal): always printed. */
  #answer(line: string): void {
    this.#out.push(this.#indent + line);
  }

  #section<T>(title: string, f: () => T): T {
    this.#print(title);
    const saved = this.#indent;
    this.#indent = `${saved}  `;
    try {
      return f();
    } finally {
      this.#indent = saved;
    }
  }

  #dispatch(d: TestData): void {
    switch (d.cmd) {
      // add-nodes 3 voters=(1,2,3) [index=2 [learners=(4)]] [prevote=false] [checkquorum=false]
      //   [election=10] [heartbeat=1] [jitter=(0,0,5)] [snapshot-chunk=16] [early-messages=true]
      //   [max-msg-entries=..] [max-msg-bytes=..] [max-inflight-msgs=..] (see configKeys)
      // Creates N nodes with the next free ids. With voters and no index, each starts from
      // bootstrapState(): the membership as committed conf entries 1..n of term 1, which the
      // node applies with its first Ready (it cannot campaign before). With index=N, each starts
      // from a snapshot at N (term 1) holding the membership. `add-nodes 1` (no voters) makes a
      // blank node, joinState(), that learns everything from the leader. Each node's randomized
      // election timeout is electionTicks plus its `jitter` (one value per new node, or one for
      // all; default 0), which the env turns into the rng value the core scales by electionTicks.
      case "add-nodes":
        this.#addNodes(d);
        return;
      // campaign 1 — node 1 starts an election now.
      case "campaign":
        this.#each(d, (n) => this.#raw(n).campaign());
        return;
      // propose 1 data — proposes "data" on node 1; prints the refusal if there is one.
      case "propose":
        this.#propose(d);
        return;
      // propose-conf-change 1 add-learner 4 — also add-voter|promote|remove; [address=host:port].
      case "propose-conf-change":
        this.#proposeConfChange(d);
        return;
      // tick-election 1 [2 ...] — electionTicks ticks on each node: enough for a follower to
      // time out when its jitter is 0 (the default), and for a leader's check-quorum round.
      case "tick-election":
        this.#each(d, (n) => this.#tick(n, n.config.electionTicks));
        return;
      // tick-heartbeat 1 — heartbeatTicks ticks.
      case "tick-heartbeat":
        this.#each(d, (n) => this.#tick(n, n.config.heartbeatTicks));
        return;
      // tick 1 5 — five ticks on node 1.
      case "tick": {
        d.expectKeys();
        const [id, count] = d.positional();
        const n = Number(count);
        if (id === undefined || !Number.isInteger(n) || n < 0) throw d.error("usage: tick ID N");
        this.#tick(this.#node(id), n);
        return;
      }
      // deliver-msgs [2 3] [type=app] [drop=(2,3)] [order=reverse] — delivers in-flight messages
      // to the listed nodes (all when none are listed), only those of `type` if given, in the
      // order they were sent (or newest first: the network may reorder); `drop` discards the
      // messages to those nodes instead (and then only the listed nodes receive anything).
      case "deliver-msgs":
        this.#deliverMsgs(d);
        return;
      // process-ready 1 [2 ...] — each node hands over its Ready; the env persists it, sends its
      // messages, applies committed entries and calls advance().
      case "process-ready":
        this.#each(d, (n) => this.#processReady(n, true));
        return;
      // stabilize [1 2] — process-ready and deliver-msgs among the listed nodes (all when none)
      // until nothing is left to do; bounded.
      case "stabilize":
        this.#stabilize(d);
        return;
      // status 1 — the node's view: role, term, indexes, membership, leader's progress.
      case "status":
        this.#each(d, (n) => this.#status(n));
        return;
      // raft-log 1 — the node's durable log.
      case "raft-log":
        this.#each(d, (n) => this.#raftLog(n));
        return;
      // read-index 1 ctx — asks node 1 for a linearizable read point tagged "ctx".
      case "read-index":
        this.#readIndex(d);
        return;
      // transfer-leadership from=1 to=3
      case "transfer-leadership": {
        d.expectKeys("from", "to");
        const from = d.str("from");
        const to = d.str("to");
        if (from === undefined || to === undefined) throw d.error("usage: from=ID to=ID");
        this.#raw(this.#node(from)).transferLeadership(to);
        return;
      }
      // compact 1 — node 1 snapshots its state machine at the applied index and drops the log
      // up to it; prints the resulting durable log.
      case "compact":
        this.#each(d, (n) => this.#compact(n));
        return;
      // partition (1) (2,3) — messages between groups are lost: those sent while the partition
      // stands (even if delivered after `heal`) and those in flight that would cross it. Nodes
      // not listed form one more group together: `partition (1)` isolates node 1.
      case "partition":
        this.#partition(d);
        return;
      // heal — the network is whole again.
      case "heal":
        this.partition = undefined;
        return;
      // crash 2 — node 2 stops; what it did not persist (its pending Ready) is lost. Messages to
      // it are dropped on delivery.
      case "crash":
        this.#each(d, (n) => this.#crash(n));
        return;
      // restart 2 — node 2 comes back from its durable state.
      case "restart":
        this.#each(d, (n) => this.#restart(n));
        return;
      // report-unreachable 1 2 — node 1's transport reports that it cannot reach node 2.
      case "report-unreachable": {
        d.expectKeys();
        const [from, to] = d.positional();
        if (from === undefined || to === undefined)
          throw d.error("usage: report-unreachable FROM TO");
        this.#node(to);
        this.#raw(this.#node(from)).reportUnreachable(to);
        return;
      }
      // check leader=2|- term=3 commit=5 applied=5 role=follower vote=2 last-index=5 first-index=1
      //   voters=(1,2,3) learners=(4) state=(a,b) inflight=0 logs-match [on=(1,2,3)]
      // Asserts on every node in `on` (default: every running node) and fails the test, even
      // under REWRITE=1, when one does not hold. `leader=2` also requires node 2 to be leader;
      // `logs-match` requires identical durable logs above the largest snapshot index;
      // `inflight=N` counts the messages in the network.
      case "check":
        this.#check(d);
        return;
      // log-level none|info — `none` hides Readies, messages and events until `log-level info`
      // (to keep a scenario's setup short); answers to queries and checks still print.
      case "log-level": {
        const [level] = d.positional();
        if (level !== "none" && level !== "info") throw d.error("usage: log-level none|info");
        this.#quiet = level === "none";
        return;
      }
      default:
        throw d.error("unknown command");
    }
  }

  // ---- helpers -----------------------------------------------------------------------------

  #node(id: string): EnvNode {
    const n = this.nodes.get(id);
    if (n === undefined) throw new Error(`no node ${id}`);
    return n;
  }

  #raw(n: EnvNode): RawNode {
    if (n.raw === undefined) throw new Error(`node ${n.id} is down`);
    return n.raw;
  }

  #ids(d: TestData): NodeId[] {
    return d.positional();
  }

  #each(d: TestData, f: (n: EnvNode) => void): void {
    d.expectKeys();
    const ids = this.#ids(d);
    if (ids.length === 0) throw d.error("needs at least one node id");
    for (const id of ids) f(this.#node(id));
  }

  #sortedIds(): NodeId[] {
    return [...this.nodes.keys()].sort(byId);
  }

  #alive(): EnvNode[] {
    return this.#sortedIds()
      .map((id) => this.#node(id))
      .filter((n) => n.raw !== undefined);
  }

  #makeRaw(n: EnvNode): RawNode {
    const init = structuredClone(n.disk);
    n.sm = { applied: init.snapshot.meta.index, data: decodeState(init.snapshot.data) };
    const raw = new RawNode(n.config, init);
    n.raw = raw;
    return raw;
  }

  // ---- commands ----------------------------------------------------------------------------

  #addNodes(d: TestData): void {
    d.expectKeys("voters", "learners", "index", "jitter", ...Object.keys(configKeys));
    const [count] = d.positional();
    const k = Number(count);
    if (!Number.isInteger(k) || k < 1) throw d.error("usage: add-nodes N voters=(...)");
    const voters = d.vals("voters") ?? [];
    const learners = d.vals("learners") ?? [];
    const index = d.int("index") ?? 0;
    const overrides: Record<string, number | boolean> = {};
    for (const [key, field] of Object.entries(configKeys)) {
      const s = d.str(key);
      if (s === undefined) continue;
      overrides[field] = s === "true" ? true : s === "false" ? false : Number(s);
    }
    const jitter = (d.vals("jitter") ?? ["0"]).map(Number);
    if (jitter.length !== 1 && jitter.length !== k) throw d.error("jitter needs 1 or N values");
    const confState: ConfState = { voters, learners, addresses: {} };
    for (const id of [...voters, ...learners]) confState.addresses[id] = `node-${id}:7000`;
    let disk: Disk;
    if (index === 0 && voters.length === 0 && learners.length === 0) {
      disk = joinState();
    } else if (index === 0) {
      if (learners.length > 0) throw d.error("a new cluster has voters only (or use index=N)");
      disk = bootstrapState(confState.addresses);
    } else {
      disk = {
        hardState: { term: 1, vote: "", commit: index },
        snapshot: { meta: { index, term: 1, confState }, data: encodeState([]) },
        entries: [],
      };
    }
    let next = Math.max(0, ...[...this.nodes.keys()].map(Number).filter(Number.isFinite)) + 1;
    for (let i = 0; i < k; i++, next++) {
      const id = String(next);
      const extra = jitter[jitter.length === 1 ? 0 : i] ?? 0;
      const electionTicks = Number(overrides.electionTicks ?? raftConfigDefaults.electionTicks);
      if (!Number.isInteger(extra) || extra < 0 || extra >= electionTicks) {
        throw d.error(`jitter must be an integer in [0, ${electionTicks})`);
      }
      // The core's timeout is electionTicks + floor(rng() * electionTicks); aim mid-step so that
      // floating point cannot round the product down a tick.
      const r = extra === 0 ? 0 : (extra + 0.5) / electionTicks;
      const node: EnvNode = {
        id,
        raw: undefined,
        config: makeRaftConfig({
          id,
          rng: () => r,
          ...overrides,
          onEvent: (e) => this.#print(formatEvent(id, e)),
        }),
        disk: structuredClone(disk),
        sm: { applied: 0, data: [] },
      };
      this.nodes.set(id, node);
      this.#makeRaw(node);
    }
  }

  #propose(d: TestData): void {
    d.expectKeys();
    const [id, data, ...rest] = d.positional();
    if (id === undefined || data === undefined || rest.length > 0) {
      throw d.error('usage: propose ID data (quote data with spaces: "a b")');
    }
    const r = this.#raw(this.#node(id)).propose(enc.encode(data));
    if (!r.ok) this.#answer(`refused: ${r.error} leader=${r.leader || "-"} (${r.reason})`);
  }

  #proposeConfChange(d: TestData): void {
    d.expectKeys("address");
    const [id, type, target] = d.positional();
    if (id === undefined || type === undefined || target === undefined) {
      throw d.error("usage: propose-conf-change ID add-learner|add-voter|promote|remove NODE");
    }
    const address = d.str("address") ?? `node-${target}:7000`;
    let cc: ConfChange;
    switch (type) {
      case "add-learner":
      case "add-voter":
        cc = { type, nodeId: target, address };
        break;
      case "promote":
      case "remove":
        cc = { type, nodeId: target };
        break;
      default:
        throw d.error(`unknown conf change ${type}`);
    }
    const r = this.#raw(this.#node(id)).proposeConfChange(cc);
    if (!r.ok) this.#answer(`refused: ${r.error} leader=${r.leader || "-"} (${r.reason})`);
  }

  #tick(n: EnvNode, count: number): void {
    const raw = this.#raw(n);
    for (let i = 0; i < count; i++) raw.tick();
    this.#checkLeader(n);
  }

  #readIndex(d: TestData): void {
    d.expectKeys();
    const [id, ctx] = d.positional();
    if (id === undefined || ctx === undefined) throw d.error("usage: read-index ID ctx");
    this.readFloor.set(`${id} ${ctx}`, this.#highestCommit());
    const r = this.#raw(this.#node(id)).readIndex(ctx);
    if (!r.ok) this.#answer(`refused: ${r.error} leader=${r.leader || "-"}`);
  }

  /** The highest index known committed anywhere (running nodes' view, everyone's disk). */
  #highestCommit(): number {
    let c = 0;
    for (const n of this.nodes.values()) {
      c = Math.max(c, n.disk.hardState.commit, n.raw?.status().commit ?? 0);
    }
    return c;
  }

  #partition(d: TestData): void {
    const groups = d.groups();
    if (groups.length === 0) throw d.error("usage: partition (1) (2,3)");
    const listed = new Set(groups.flat());
    for (const id of listed) this.#node(id);
    const rest = this.#sortedIds().filter((id) => !listed.has(id));
    this.partition = rest.length > 0 ? [...groups, rest] : groups;
    this.#print(`partition: ${this.partition.map(list).join(" ")}`);
  }

  #crash(n: EnvNode): void {
    this.#raw(n);
    n.raw = undefined;
    n.sm = { applied: 0, data: [] };
  }

  #restart(n: EnvNode): void {
    if (n.raw !== undefined) throw new Error(`node ${n.id} is running; crash it first`);
    this.#makeRaw(n);
  }

  #compact(n: EnvNode): void {
    const raw = this.#raw(n);
    const meta = raw.compact(encodeState(n.sm.data));
    if (meta.index !== n.sm.applied) {
      throw new Error(`node ${n.id} compacted at ${meta.index} but applied ${n.sm.applied}`);
    }
    n.disk.snapshot = { meta: structuredClone(meta), data: encodeState(n.sm.data) };
    n.disk.entries = n.disk.entries.filter((e) => e.index > meta.index);
    this.#raftLog(n);
  }

  #raftLog(n: EnvNode): void {
    const { snapshot, entries } = n.disk;
    if (snapshot.meta.index > 0) {
      this.#answer(
        `Snapshot ${snapshot.meta.term}/${snapshot.meta.index} ${formatConfState(snapshot.meta.confState)}`,
      );
    }
    if (entries.length === 0) {
      this.#answer(
        `log is empty: first index=${snapshot.meta.index + 1}, last index=${snapshot.meta.index}`,
      );
      return;
    }
    for (const e of entries) this.#answer(formatEntry(e));
  }

  #status(n: EnvNode): void {
    if (n.raw === undefined) {
      this.#answer(`${n.id} is down`);
      return;
    }
    const s = n.raw.status();
    this.#answer(
      `${s.id} ${s.role} term=${s.term} vote=${s.vote || "-"} leader=${s.leader || "-"} commit=${s.commit} applied=${s.applied} log=[${s.firstIndex},${s.lastIndex}] snapshot=${s.snapshotIndex}${s.leadTransferee === "" ? "" : ` transferee=${s.leadTransferee}`}`,
    );
    this.#answer(formatConfState(s.confState));
    for (const id of Object.keys(s.progress).sort(byId)) {
      const p = s.progress[id];
      if (p === undefined) continue;
      const flags = [
        p.isLearner ? "learner" : "",
        p.recentActive ? "" : "inactive",
        p.state === "snapshot" ? `snapshot-offset=${p.snapshotOffset}` : "",
        p.inflightMsgs > 0 ? `inflight=${p.inflightMsgs}` : "",
      ].filter((f) => f !== "");
      this.#answer(
        `${id}: ${p.state} match=${p.match} next=${p.next}${flags.length > 0 ? ` ${flags.join(" ")}` : ""}`,
      );
    }
  }

  // ---- Ready handling ----------------------------------------------------------------------

  #processReady(n: EnvNode, explicit: boolean): void {
    this.#section(`> ${n.id} handling Ready`, () => {
      const raw = this.#raw(n);
      if (!raw.hasReady()) {
        if (explicit) this.#print("<empty Ready>");
        return;
      }
      const rd = raw.ready();
      this.#printReady(rd);
      // Early messages may leave before the writes are durable: only those that promise nothing
      // about the sender's durable state may be among them.
      for (const m of rd.earlyMessages) {
        if (durableTypes.has(m.type)) {
          throw new Error(`node ${n.id} sends ${formatMessage(m)} before persisting`);
        }
      }
      this.#send(n, rd.earlyMessages);
      this.#persist(n, rd);
      this.#send(n, rd.messages);
      this.#apply(n, rd);
      for (const r of rd.readStates) {
        const floor = this.readFloor.get(`${n.id} ${r.context}`);
        if (floor !== undefined && r.index < floor) {
          throw new Error(
            `stale read: ${n.id} got read index ${r.index} for ${r.context}, but ${floor} was committed when it asked`,
          );
        }
      }
      raw.advance();
      this.#checkLeader(n);
    });
  }

  #send(n: EnvNode, msgs: Message[]): void {
    for (const m of msgs) {
      if (m.from !== n.id) throw new Error(`node ${n.id} sent a message from ${m.from}`);
      const copy = structuredClone(m);
      if (this.#partitioned(m)) this.#lost.add(copy);
      this.messages.push(copy);
    }
  }

  #printReady(rd: Ready): void {
    this.#print(`Ready MustSync=${rd.mustSync}:`);
    if (rd.softState !== undefined) {
      this.#print(`Lead:${rd.softState.leader || "-"} State:${rd.softState.role}`);
    }
    if (rd.hardState !== undefined) this.#print(formatHardState(rd.hardState));
    if (rd.snapshot !== undefined) {
      const m = rd.snapshot.meta;
      this.#print(`Snapshot ${m.term}/${m.index} ${formatConfState(m.confState)}`);
    }
    if (rd.entries.length > 0) {
      this.#print("Entries:");
      for (const e of rd.entries) this.#print(formatEntry(e));
    }
    if (rd.committedEntries.length > 0) {
      this.#print("CommittedEntries:");
      for (const e of rd.committedEntries) this.#print(formatEntry(e));
    }
    if (rd.confState !== undefined) this.#print(`ConfState ${formatConfState(rd.confState)}`);
    if (rd.readStates.length > 0) {
      this.#print("ReadStates:");
      for (const r of rd.readStates) this.#print(`Index:${r.index} Context:${ctx(r.context)}`);
    }
    if (rd.earlyMessages.length > 0) {
      this.#print("EarlyMessages:");
      for (const m of rd.earlyMessages) this.#print(formatMessage(m));
    }
    if (rd.messages.length > 0) {
      this.#print("Messages:");
      for (const m of rd.messages) this.#print(formatMessage(m));
    }
  }

  /** Writes the Ready's snapshot, entries and hard state to the node's disk, checking invariants. */
  #persist(n: EnvNode, rd: Ready): void {
    const disk = n.disk;
    const before = disk.hardState;
    if (rd.snapshot !== undefined) {
      const meta = rd.snapshot.meta;
      if (meta.index <= disk.snapshot.meta.index) {
        throw new Error(
          `node ${n.id}: Ready snapshot at ${meta.index} is not newer than the stored one at ${disk.snapshot.meta.index}`,
        );
      }
      disk.snapshot = structuredClone(rd.snapshot);
      disk.entries = [];
    }
    if (rd.entries.length > 0) {
      const first = (rd.entries[0] as Entry).index;
      const last = disk.entries[disk.entries.length - 1]?.index ?? disk.snapshot.meta.index;
      if (first <= disk.snapshot.meta.index || first > last + 1) {
        throw new Error(
          `node ${n.id}: Ready entries start at ${first}, stored log is (${disk.snapshot.meta.index},${last}]`,
        );
      }
      if (first <= before.commit) {
        throw new Error(
          `node ${n.id}: Ready overwrites committed entries (from ${first}, commit ${before.commit})`,
        );
      }
      rd.entries.forEach((e, i) => {
        if (e.index !== first + i)
          throw new Error(`node ${n.id}: Ready entries are not contiguous`);
      });
      disk.entries = [
        ...disk.entries.filter((e) => e.index < first),
        ...structuredClone(rd.entries),
      ];
    }
    if (rd.hardState !== undefined) {
      const hs = rd.hardState;
      if (hs.term < before.term) {
        throw new Error(`node ${n.id}: durable term goes back from ${before.term} to ${hs.term}`);
      }
      if (hs.term === before.term && before.vote !== "" && hs.vote !== before.vote) {
        throw new Error(
          `node ${n.id}: vote changes from ${before.vote} to ${hs.vote || "-"} within term ${hs.term}`,
        );
      }
      if (hs.commit < before.commit) {
        throw new Error(
          `node ${n.id}: durable commit goes back from ${before.commit} to ${hs.commit}`,
        );
      }
      disk.hardState = { ...hs };
    }
    const lastIndex = disk.entries[disk.entries.length - 1]?.index ?? disk.snapshot.meta.index;
    if (disk.hardState.commit > lastIndex) {
      throw new Error(
        `node ${n.id}: durable commit ${disk.hardState.commit} is beyond the durable log (last ${lastIndex})`,
      );
    }
  }

  #apply(n: EnvNode, rd: Ready): void {
    if (rd.snapshot !== undefined) {
      n.sm = { applied: rd.snapshot.meta.index, data: decodeState(rd.snapshot.data) };
    }
    for (const e of rd.committedEntries) {
      if (e.index !== n.sm.applied + 1) {
        throw new Error(`node ${n.id}: applies ${e.index} after ${n.sm.applied}`);
      }
      if (e.index > n.disk.hardState.commit) {
        throw new Error(
          `node ${n.id}: applies ${e.index} beyond its durable commit ${n.disk.hardState.commit}`,
        );
      }
      const sig = entrySignature(e);
      const seen = this.appliedAt.get(e.index);
      if (seen !== undefined && seen !== sig) {
        throw new Error(
          `state machine safety: node ${n.id} applies ${sig} at ${e.index}, another node applied ${seen}`,
        );
      }
      this.appliedAt.set(e.index, sig);
      if (e.kind === "normal" && e.data.length > 0) n.sm.data.push(dec.decode(e.data));
      n.sm.applied = e.index;
    }
  }

  #checkLeader(n: EnvNode): void {
    if (n.raw === undefined) return;
    const s = n.raw.status();
    if (s.role !== "leader") return;
    const other = this.leaders.get(s.term);
    if (other !== undefined && other !== n.id) {
      throw new Error(`election safety: ${n.id} and ${other} are both leaders of term ${s.term}`);
    }
    this.leaders.set(s.term, n.id);
  }

  // ---- network -----------------------------------------------------------------------------

  #partitioned(m: Message): boolean {
    const p = this.partition;
    if (p === undefined) return false;
    const g = (id: NodeId) => p.findIndex((grp) => grp.includes(id));
    return g(m.from) !== g(m.to);
  }

  /** Why `m` cannot be delivered now: sent across a partition, or crossing one now, or no peer. */
  #cut(m: Message): string | undefined {
    const to = this.nodes.get(m.to);
    if (to === undefined) return `${m.to} does not exist`;
    if (to.raw === undefined) return `${m.to} is down`;
    if (this.#lost.has(m) || this.#partitioned(m)) return "partitioned";
    return undefined;
  }

  /** Delivers (or drops) the in-flight messages to `to` that match `type`, oldest first. */
  #deliverTo(
    to: NodeId,
    type: Message["type"] | undefined,
    drop: boolean,
    reverse = false,
  ): boolean {
    const take: Message[] = [];
    this.messages = this.messages.filter((m) => {
      if (m.to !== to || (type !== undefined && m.type !== type)) return true;
      take.push(m);
      return false;
    });
    if (reverse) take.reverse();
    if (take.length === 0) return false;
    if (drop) {
      this.#section(`> dropping messages to ${to}`, () => {
        for (const m of take) this.#print(formatMessage(m));
      });
      return true;
    }
    this.#section(`> ${to} receiving messages`, () => {
      for (const m of take) {
        const why = this.#cut(m);
        if (why !== undefined) {
          this.#print(`${formatMessage(m)} DROPPED (${why})`);
          continue;
        }
        this.#print(formatMessage(m));
        const n = this.#node(to);
        this.#raw(n).step(m);
        this.#checkLeader(n);
      }
    });
    return true;
  }

  #deliverMsgs(d: TestData): void {
    d.expectKeys("type", "drop", "order");
    const order = d.str("order") ?? "sent";
    if (order !== "sent" && order !== "reverse") throw d.error("order=sent|reverse");
    const t = d.str("type");
    const type = t === undefined ? undefined : parseMsgType(t);
    const drop = d.vals("drop");
    const ids = this.#ids(d);
    for (const id of drop ?? []) this.#deliverTo(id, type, true);
    const targets = ids.length > 0 || drop !== undefined ? ids : this.#sortedIds();
    let any = drop !== undefined && drop.length > 0;
    for (const id of targets) any = this.#deliverTo(id, type, false, order === "reverse") || any;
    if (!any) this.#print("no messages");
  }

  #stabilize(d: TestData): void {
    d.expectKeys();
    const ids = this.#ids(d);
    const targets = ids.length > 0 ? ids : this.#sortedIds();
    for (const id of targets) this.#node(id);
    for (let round = 0; ; round++) {
      if (round >= 200) throw d.error("did not stabilize within 200 rounds");
      let busy = false;
      for (const id of targets) {
        const n = this.#node(id);
        if (n.raw?.hasReady()) {
          this.#processReady(n, false);
          busy = true;
        }
      }
      for (const id of targets) busy = this.#deliverTo(id, undefined, false) || busy;
      if (!busy) return;
    }
  }

  // ---- check -------------------------------------------------------------------------------

  #check(d: TestData): void {
    d.expectKeys(
      "on",
      "leader",
      "term",
      "commit",
      "applied",
      "role",
      "vote",
      "last-index",
      "first-index",
      "voters",
      "learners",
      "state",
      "inflight",
    );
    for (const word of d.positional()) {
      if (word !== "logs-match") throw d.error(`unknown check ${word}`);
    }
    const on = d.vals("on")?.map((id) => this.#node(id)) ?? this.#alive();
    const failures: string[] = [];
    const want = (what: string, got: unknown, expected: unknown): void => {
      const g = JSON.stringify(got);
      const e = JSON.stringify(expected);
      if (g !== e) failures.push(`${what}: got ${g}, want ${e}`);
    };
    const leader = d.str("leader");
    if (leader !== undefined && leader !== "-") {
      const l = this.#node(leader);
      if (l.raw === undefined) failures.push(`leader ${leader} is down`);
      else want(`${leader} role`, l.raw.status().role, "leader");
    }
    const sortedList = (v: string[]) => [...v].sort(byId);
    for (const n of on) {
      if (n.raw === undefined) {
        failures.push(`${n.id} is down`);
        continue;
      }
      const s: RaftStatus = n.raw.status();
      const num = (key: string, got: number) => {
        const v = d.int(key);
        if (v !== undefined) want(`${n.id} ${key}`, got, v);
      };
      if (leader !== undefined) want(`${n.id} leader`, s.leader || "-", leader);
      num("term", s.term);
      num("commit", s.commit);
      num("applied", s.applied);
      num("last-index", s.lastIndex);
      num("first-index", s.firstIndex);
      const role = d.str("role");
      if (role !== undefined) want(`${n.id} role`, s.role, role);
      const vote = d.str("vote");
      if (vote !== undefined) want(`${n.id} vote`, s.vote || "-", vote);
      const voters = d.vals("voters");
      if (voters !== undefined) {
        want(`${n.id} voters`, sortedList(s.confState.voters), sortedList(voters));
      }
      const learners = d.vals("learners");
      if (learners !== undefined) {
        want(`${n.id} learners`, sortedList(s.confState.learners), sortedList(learners));
      }
      const state = d.vals("state");
      if (state !== undefined) want(`${n.id} state machine`, n.sm.data, state);
    }
    const inflight = d.int("inflight");
    if (inflight !== undefined) want("messages in flight", this.messages.length, inflight);
    if (d.positional().includes("logs-match")) {
      const floor = Math.max(...on.map((n) => n.disk.snapshot.meta.index));
      const logs = on.map((n) => ({
        id: n.id,
        log: n.disk.entries
          .filter((e) => e.index > floor)
          .map(entrySignature)
          .join("; "),
      }));
      for (const l of logs.slice(1)) {
        const first = logs[0];
        if (first !== undefined && l.log !== first.log) {
          failures.push(`log of ${l.id} [${l.log}] differs from ${first.id} [${first.log}]`);
        }
      }
    }
    if (failures.length > 0) throw d.error(`check failed:\n  ${failures.join("\n  ")}`);
    this.#answer("ok");
  }
}
