// The simulated network: every message sent by a replica becomes a packet with a delivery tick.
// Faults, all drawn from the run's PRNG: loss, duplication (a second copy with its own delay),
// replay of an old delivered packet, reordering (random delays plus a shuffle of each tick's
// deliveries), partitions (directed links that drop everything, so a partition can be symmetric
// or asymmetric), clogs (directed links that hold packets until unclogged: FoundationDB's
// swizzle-clog), and slow links (extra delay). The number of packets in flight is bounded.
import type { Entry, Message, NodeId } from "../../src/raft/core/types.js";
import type { Prng } from "./prng.js";
import type { Trace } from "./trace.js";

export interface NetworkOptions {
  /** Probability that a sent packet is lost. */
  loss: number;
  /** Probability that a sent packet is also delivered a second time. */
  dup: number;
  /** Probability per tick that one recently delivered packet is delivered again. */
  replay: number;
  /** One-way delay in ticks, drawn uniformly from [delayMin, delayMax]; delayMin >= 1. */
  delayMin: number;
  delayMax: number;
  /** Packets in flight at most; beyond it a send is dropped. */
  inflightMax: number;
}

interface Packet {
  seq: number;
  msg: Message;
  copy: boolean;
}

export type DeliveryTarget = "up" | "down" | "paused";

export interface NetworkStats {
  sent: number;
  delivered: number;
  lost: number;
  duplicated: number;
  replayed: number;
  cut: number;
  overflow: number;
}

const replayRingMax = 32;

export class SimNetwork {
  readonly #rng: Prng;
  readonly #trace: Trace;
  #options: NetworkOptions;
  readonly #buckets = new Map<number, Packet[]>();
  #inflight = 0;
  #seq = 0;
  readonly #cut = new Set<string>();
  readonly #clogged = new Set<string>();
  readonly #slow = new Map<string, number>();
  readonly #recent: Message[] = [];
  readonly stats: NetworkStats = {
    sent: 0,
    delivered: 0,
    lost: 0,
    duplicated: 0,
    replayed: 0,
    cut: 0,
    overflow: 0,
  };

  constructor(rng: Prng, trace: Trace, options: NetworkOptions) {
    if (options.delayMin < 1 || options.delayMax < options.delayMin) {
      throw new Error(`network: bad delay range [${options.delayMin}, ${options.delayMax}]`);
    }
    this.#rng = rng;
    this.#trace = trace;
    this.#options = { ...options };
  }

  get options(): Readonly<NetworkOptions> {
    return this.#options;
  }
  get inflight(): number {
    return this.#inflight;
  }

  setOptions(patch: Partial<NetworkOptions>): void {
    this.#options = { ...this.#options, ...patch };
  }

  /** Hand a message to the network at tick `now`. */
  send(msg: Message, now: number): void {
    this.stats.sent++;
    const o = this.#options;
    if (this.#inflight >= o.inflightMax) {
      this.stats.overflow++;
      this.#trace.log(`drop ${describeMessage(msg)} overflow`);
      return;
    }
    if (this.#rng.chance(o.loss)) {
      this.stats.lost++;
      this.#trace.log(`drop ${describeMessage(msg)} loss`);
      return;
    }
    this.#schedule(cloneMessage(msg), now, false);
    if (this.#rng.chance(o.dup) && this.#inflight < o.inflightMax) {
      this.stats.duplicated++;
      this.#schedule(cloneMessage(msg), now, true);
    }
  }

  #schedule(msg: Message, now: number, copy: boolean): void {
    const o = this.#options;
    const extra = this.#slow.get(linkKey(msg.from, msg.to)) ?? 0;
    const at = now + this.#rng.int(o.delayMin, o.delayMax) + extra;
    this.#push(at, { seq: this.#seq++, msg, copy });
  }

  #push(at: number, p: Packet): void {
    let b = this.#buckets.get(at);
    if (b === undefined) {
      b = [];
      this.#buckets.set(at, b);
    }
    b.push(p);
    this.#inflight++;
  }

  /** Maybe re-deliver an old packet (a stale retransmission or a replay by a middlebox). */
  maybeReplay(now: number): void {
    if (this.#recent.length === 0 || !this.#rng.chance(this.#options.replay)) return;
    if (this.#inflight >= this.#options.inflightMax) return;
    const m = this.#rng.pick(this.#recent);
    this.stats.replayed++;
    this.#trace.log(`replay ${describeMessage(m)}`);
    this.#schedule(cloneMessage(m), now, true);
  }

  /**
   * The packets due at `now`, in a random order, with the fate of each decided: packets on a cut
   * link or to a crashed replica are dropped (and reported to `failed`, as a broken connection is
   * to the sender's transport); packets on a clogged link or to a paused replica wait for the next
   * tick. Random loss is silent.
   */
  takeDue(
    now: number,
    target: (id: NodeId) => DeliveryTarget,
    failed: (m: Message) => void,
  ): Message[] {
    const due = this.#buckets.get(now);
    if (due === undefined) return [];
    this.#buckets.delete(now);
    this.#inflight -= due.length;
    const out: Message[] = [];
    for (const p of this.#rng.shuffle(due)) {
      const key = linkKey(p.msg.from, p.msg.to);
      if (this.#cut.has(key)) {
        this.stats.cut++;
        this.#trace.log(`drop ${describeMessage(p.msg)} cut`);
        failed(p.msg);
        continue;
      }
      const t = target(p.msg.to);
      if (t === "down") {
        this.#trace.log(`drop ${describeMessage(p.msg)} down`);
        failed(p.msg);
        continue;
      }
      if (this.#clogged.has(key) || t === "paused") {
        this.#push(now + 1, p);
        continue;
      }
      this.stats.delivered++;
      out.push(p.msg);
      if (this.#options.replay > 0) {
        if (this.#recent.length >= replayRingMax)
          this.#recent.splice(this.#rng.int(0, replayRingMax - 1), 1);
        this.#recent.push(p.msg);
      }
    }
    return out;
  }

  /** Drop everything on the directed link from -> to until restore. */
  cut(from: NodeId, to: NodeId): void {
    this.#cut.add(linkKey(from, to));
  }
  /** Hold everything on the directed link from -> to until unclog. */
  clog(from: NodeId, to: NodeId): void {
    this.#clogged.add(linkKey(from, to));
  }
  unclog(from: NodeId, to: NodeId): void {
    this.#clogged.delete(linkKey(from, to));
  }
  slow(from: NodeId, to: NodeId, extraTicks: number): void {
    if (extraTicks <= 0) this.#slow.delete(linkKey(from, to));
    else this.#slow.set(linkKey(from, to), extraTicks);
  }
  /** Remove every partition (clogs and slow links are the caller's to undo). */
  clearCuts(): void {
    this.#cut.clear();
  }
  /** Remove every fault: cuts, clogs, slow links, loss, duplication, replay. */
  heal(): void {
    this.#cut.clear();
    this.#clogged.clear();
    this.#slow.clear();
    this.#recent.length = 0;
    this.setOptions({ loss: 0, dup: 0, replay: 0 });
  }
  isCut(from: NodeId, to: NodeId): boolean {
    return this.#cut.has(linkKey(from, to));
  }
  isClogged(from: NodeId, to: NodeId): boolean {
    return this.#clogged.has(linkKey(from, to));
  }
  get cutCount(): number {
    return this.#cut.size;
  }
  get clogCount(): number {
    return this.#clogged.size;
  }
}

function linkKey(from: NodeId, to: NodeId): string {
  return `${from}>${to}`;
}

function cloneEntry(e: Entry): Entry {
  return e.kind === "conf"
    ? { kind: "conf", index: e.index, term: e.term, change: { ...e.change } }
    : { kind: "normal", index: e.index, term: e.term, data: e.data.slice() };
}

/** A deep copy, so that no two deliveries (nor sender and receiver) share mutable objects. */
export function cloneMessage(m: Message): Message {
  switch (m.type) {
    case "app":
      return { ...m, entries: m.entries.map(cloneEntry) };
    case "snap":
      return {
        ...m,
        chunk: {
          ...m.chunk,
          meta: cloneSnapshotMeta(m.chunk.meta),
          data: m.chunk.data.slice(),
        },
      };
    default:
      return { ...m };
  }
}

function cloneSnapshotMeta<
  T extends {
    confState: { voters: string[]; learners: string[]; addresses: Record<string, string> };
  },
>(meta: T): T {
  return {
    ...meta,
    confState: {
      voters: meta.confState.voters.slice(),
      learners: meta.confState.learners.slice(),
      addresses: { ...meta.confState.addresses },
    },
  };
}

/** A one-line description of a message for the trace. */
export function describeMessage(m: Message): string {
  const head = `${m.from}>${m.to} ${m.type} t${m.term}`;
  switch (m.type) {
    case "app": {
      const first = m.entries[0];
      const last = m.entries[m.entries.length - 1];
      const span =
        first === undefined || last === undefined ? "-" : `${first.index}..${last.index}`;
      return `${head} i${m.index}/${m.logTerm} c${m.commit} e${span}`;
    }
    case "app-resp":
      return m.reject
        ? `${head} i${m.index} reject hint${m.rejectHint}/${m.logTerm}`
        : `${head} i${m.index}`;
    case "vote":
    case "pre-vote":
      return `${head} i${m.index}/${m.logTerm}${m.transfer ? " transfer" : ""}`;
    case "vote-resp":
    case "pre-vote-resp":
      return `${head}${m.reject ? " reject" : " grant"}`;
    case "heartbeat":
      return `${head} c${m.commit} ctx${JSON.stringify(m.context)}`;
    case "heartbeat-resp":
      return `${head} ctx${JSON.stringify(m.context)}`;
    case "snap":
      return `${head} s${m.chunk.meta.index}/${m.chunk.meta.term} off${m.chunk.offset}+${m.chunk.data.byteLength}/${m.chunk.total}`;
    case "snap-resp":
      return `${head} s${m.snapIndex}/${m.snapTerm} off${m.offset}`;
    case "read-index":
      return `${head} ${m.context}`;
    case "read-index-resp":
      return `${head} ${m.context} i${m.index}${m.reject ? " reject" : ""}`;
    case "timeout-now":
      return head;
    case "transfer-leader":
      return `${head} ->${m.target}`;
  }
}
