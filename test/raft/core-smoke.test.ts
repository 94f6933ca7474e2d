import { describe, expect, it } from "vitest";
import { bootstrapState, joinState } from "../../src/raft/core/bootstrap.js";
import { makeRaftConfig, type RaftInitialState } from "../../src/raft/core/config.js";
import { RawNode } from "../../src/raft/core/raw-node.js";
import type { Entry, Message } from "../../src/raft/core/types.js";

// A minimal synchronous cluster: every node's Ready is processed at once and messages are
// delivered in order. The scenario and simulation suites cover faults; this pins the basics.
class Cluster {
  nodes = new Map<string, RawNode>();
  applied = new Map<string, Entry[]>();
  inbox: Message[] = [];
  down = new Set<string>();

  constructor(ids: string[], extra: Partial<Parameters<typeof makeRaftConfig>[0]> = {}) {
    const init = bootstrapState(Object.fromEntries(ids.map((id) => [id, `${id}:1`])));
    for (const id of ids) this.add(id, init, extra);
  }

  add(
    id: string,
    init: RaftInitialState,
    extra: Partial<Parameters<typeof makeRaftConfig>[0]> = {},
  ) {
    let s = id.charCodeAt(id.length - 1);
    const rng = () => {
      s = (s * 1103515245 + 12345) % 2147483648;
      return s / 2147483648;
    };
    const node = new RawNode(makeRaftConfig({ id, rng, earlyMessages: true, ...extra }), init);
    this.nodes.set(id, node);
    this.applied.set(id, []);
  }

  settle(rounds = 200) {
    for (let i = 0; i < rounds; i++) {
      let work = false;
      for (const [id, n] of this.nodes) {
        if (this.down.has(id) || !n.hasReady()) continue;
        work = true;
        const rd = n.ready();
        this.inbox.push(...rd.earlyMessages, ...rd.messages);
        this.applied.get(id)!.push(...rd.committedEntries);
        n.advance();
      }
      const msgs = this.inbox;
      this.inbox = [];
      for (const m of msgs) {
        if (this.down.has(m.to) || this.down.has(m.from)) continue;
        work = true;
        this.nodes.get(m.to)?.step(m);
      }
      if (!work) return;
    }
  }

  tickAll(n: number) {
    for (let i = 0; i < n; i++) {
      for (const [id, node] of this.nodes) if (!this.down.has(id)) node.tick();
      this.settle();
    }
  }

  leader(): string | undefined {
    for (const [id, n] of this.nodes)
      if (!this.down.has(id) && n.status().role === "leader") return id;
    return undefined;
  }
}

describe("raft core smoke", () => {
  it("elects one leader and replicates proposals to all", () => {
    const c = new Cluster(["n1", "n2", "n3"]);
    c.tickAll(30);
    const lead = c.leader();
    expect(lead).toBeDefined();
    const node = c.nodes.get(lead!)!;
    for (let i = 0; i < 10; i++) expect(node.propose(new Uint8Array([i])).ok).toBe(true);
    c.settle();
    c.tickAll(2);
    for (const id of ["n1", "n2", "n3"]) {
      const data = c.applied.get(id)!.filter((e) => e.kind === "normal" && e.data.length > 0);
      // The bootstrap conf entries come first on every replica.
      expect(
        c.applied
          .get(id)!
          .slice(0, 3)
          .map((e) => e.kind),
      ).toEqual(["conf", "conf", "conf"]);
      expect(data.map((e) => (e.kind === "normal" ? e.data[0] : -1))).toEqual([
        0, 1, 2, 3, 4, 5, 6, 7, 8, 9,
      ]);
    }
  });

  it("fails over when the leader stops, and the old leader catches up via snapshot", () => {
    const c = new Cluster(["n1", "n2", "n3"], { snapshotChunkBytes: 3 });
    c.tickAll(30);
    const first = c.leader()!;
    c.down.add(first);
    c.tickAll(40);
    const second = c.leader();
    expect(second).toBeDefined();
    expect(second).not.toBe(first);
    const n2 = c.nodes.get(second!)!;
    for (let i = 0; i < 5; i++) n2.propose(new Uint8Array([i]));
    c.tickAll(3);
    n2.compact(new Uint8Array([9, 9, 9, 9, 9, 9, 9, 9, 9, 9]));
    expect(n2.status().snapshotIndex).toBeGreaterThan(5);
    c.down.delete(first);
    c.tickAll(40);
    const old = c.nodes.get(first)!.status();
    expect(old.snapshotIndex).toBe(n2.status().snapshotIndex);
    expect(old.commit).toBe(n2.status().commit);
  });

  it("adds a learner, promotes it, and removes the leader", () => {
    const c = new Cluster(["n1", "n2", "n3"]);
    c.tickAll(30);
    const lead = c.leader()!;
    const ln = c.nodes.get(lead)!;
    c.add("n4", joinState());
    expect(ln.proposeConfChange({ type: "add-learner", nodeId: "n4", address: "x:1" }).ok).toBe(
      true,
    );
    c.tickAll(5);
    expect(c.nodes.get("n4")!.status().commit).toBe(ln.status().commit);
    expect(ln.proposeConfChange({ type: "promote", nodeId: "n4" }).ok).toBe(true);
    c.tickAll(5);
    expect(ln.status().confState.voters).toEqual(["n1", "n2", "n3", "n4"]);
    expect(ln.proposeConfChange({ type: "remove", nodeId: lead }).ok).toBe(true);
    c.tickAll(60);
    const next = c.leader();
    expect(next).toBeDefined();
    expect(next).not.toBe(lead);
    expect(c.nodes.get(next!)!.status().confState.voters).not.toContain(lead);
  });
});
