// The simulator's own tests. Goal: a green simulator run must mean something, so besides running a
// batch of seeds these tests (1) pin determinism (same seed, byte-identical trace), (2) feed every
// checker hand-made violating facts and require it to fire, and (3) break the cluster on purpose
// (replicas frozen after the heal) and require the run to fail.
import { describe, expect, it } from "vitest";
import type { Entry, HardState, Snapshot } from "../../src/raft/core/types.js";
import { type CheckerName, Checkers, Violation } from "./checkers.js";
import { cloneMessage, SimNetwork } from "./network.js";
import { Prng } from "./prng.js";
import { runSeed } from "./run.js";
import { chainHash, encodeWrite, genesisHash, RegisterMachine } from "./statemachine.js";
import { LogState, SimStorage } from "./storage.js";
import { Trace } from "./trace.js";

function expectViolation(checker: CheckerName, fn: () => void): void {
  let caught: unknown;
  try {
    fn();
  } catch (err) {
    caught = err;
  }
  expect(caught, `expected a ${checker} violation`).toBeInstanceOf(Violation);
  expect((caught as Violation).checker).toBe(checker);
}

const normal = (index: number, term: number, text: string): Entry => ({
  kind: "normal",
  index,
  term,
  data: new TextEncoder().encode(text),
});

describe("prng", () => {
  it("is deterministic per seed and differs across seeds", () => {
    const a = new Prng(42);
    const b = new Prng(42);
    const c = new Prng(43);
    const xs = Array.from({ length: 64 }, () => a.nextU32());
    const ys = Array.from({ length: 64 }, () => b.nextU32());
    const zs = Array.from({ length: 64 }, () => c.nextU32());
    expect(xs).toEqual(ys);
    expect(xs).not.toEqual(zs);
  });

  it("draws integers inclusively and roughly uniformly", () => {
    const r = new Prng(7);
    const counts = [0, 0, 0, 0, 0, 0];
    for (let i = 0; i < 60_000; i++) {
      const x = r.int(0, 5);
      counts[x] = (counts[x] ?? 0) + 1;
    }
    for (const n of counts) expect(Math.abs(n - 10_000)).toBeLessThan(600);
    expect(() => r.int(3, 2)).toThrow();
    for (let i = 0; i < 1000; i++) {
      const f = r.float();
      expect(f >= 0 && f < 1).toBe(true);
    }
  });

  it("chance, pick, shuffle and weighted behave", () => {
    const r = new Prng(9);
    for (let i = 0; i < 100; i++) {
      expect(r.chance(0)).toBe(false);
      expect(r.chance(1)).toBe(true);
    }
    const items = [1, 2, 3, 4, 5, 6, 7, 8];
    const s = r.shuffle(items);
    expect([...s].sort()).toEqual(items);
    expect(items).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    expect(items).toContain(r.pick(items));
    expect(() => r.pick([])).toThrow();
    for (let i = 0; i < 100; i++) {
      expect(
        r.weighted([
          ["a", 0],
          ["b", 1],
        ] as const),
      ).toBe("b");
    }
  });

  it("forks independent, reproducible streams", () => {
    const a = new Prng(1).fork("x");
    const b = new Prng(1).fork("x");
    const c = new Prng(1).fork("y");
    const da = Array.from({ length: 16 }, () => a.nextU32());
    expect(Array.from({ length: 16 }, () => b.nextU32())).toEqual(da);
    expect(Array.from({ length: 16 }, () => c.nextU32())).not.toEqual(da);
  });
});

describe("checkers fire on violating facts", () => {
  it("election safety: two leaders in one term", () => {
    const c = new Checkers();
    c.observeLeader("n1", 3, "test");
    c.observeLeader("n1", 3, "again, same leader: fine");
    c.observeLeader("n2", 4, "next term: fine");
    expectViolation("election-safety", () => c.observeLeader("n2", 3, "test"));
  });

  it("log matching: same index and term, different entry or predecessor", () => {
    const c = new Checkers();
    c.observeLogEntry("n1", { index: 5, term: 2, content: "w|a|1" }, 2);
    c.observeLogEntry("n2", { index: 5, term: 2, content: "w|a|1" }, 2);
    expectViolation("log-matching", () =>
      c.observeLogEntry("n3", { index: 5, term: 2, content: "w|a|2" }, 2),
    );
    expectViolation("log-matching", () =>
      c.observeLogEntry("n3", { index: 5, term: 2, content: "w|a|1" }, 1),
    );
    expectViolation("log-matching", () =>
      c.observeLogEntry("n3", { index: 9, term: 2, content: "noop" }, 3),
    );
  });

  it("state machine safety: a committed index changes", () => {
    const c = new Checkers();
    c.observeCommitted("n1", { index: 1, term: 1, content: "noop" }, 1);
    c.observeCommitted("n2", { index: 1, term: 1, content: "noop" }, 2);
    expectViolation("state-machine-safety", () =>
      c.observeCommitted("n3", { index: 1, term: 2, content: "noop" }, 2),
    );
  });

  it("state machine safety: divergent applied entries, states, gaps and snapshots", () => {
    const c = new Checkers();
    const h1 = chainHash(genesisHash, 1, 1, "w|a|1");
    c.observeApplied("n1", { index: 1, term: 1, content: "w|a|1" }, h1);
    c.observeApplied("n2", { index: 1, term: 1, content: "w|a|1" }, h1);
    expectViolation("state-machine-safety", () =>
      c.observeApplied("n3", { index: 1, term: 1, content: "w|a|2" }, h1),
    );
    expectViolation("state-machine-safety", () =>
      c.observeApplied("n3", { index: 1, term: 1, content: "w|a|1" }, "0000000000000000"),
    );
    expectViolation("state-machine-safety", () =>
      c.observeApplied("n3", { index: 3, term: 1, content: "noop" }, h1),
    );
    c.observeRestore("n4", 1, h1);
    expectViolation("state-machine-safety", () => c.observeRestore("n4", 1, genesisHash));
    expectViolation("state-machine-safety", () => c.observeRestore("n4", 2, h1));
  });

  it("leader completeness: a later leader lacks or changed a committed entry", () => {
    const c = new Checkers();
    c.observeCommitted("n1", { index: 1, term: 1, content: "noop" }, 1);
    c.observeCommitted("n1", { index: 2, term: 1, content: "w|a|1" }, 1);
    c.observeCommitted("n1", { index: 3, term: 3, content: "w|a|2" }, 3);
    // An entry of term 1 first known committed in term 5: a leader of term 4 need not hold it.
    c.observeCommitted("n2", { index: 4, term: 1, content: "w|b|1" }, 5);
    const full = (i: number) =>
      i === 1 ? { term: 1, content: "noop" } : i === 2 ? { term: 1, content: "w|a|1" } : undefined;
    // Leader of term 2 holds 1..2; the entry committed in term 3 is not its business.
    expect(c.checkLeaderCompleteness("n2", 2, 1, full)).toBe(3);
    expect(c.checkLeaderCompleteness("n2", 2, 1, (i) => (i === 1 ? "compacted" : full(i)))).toBe(3);
    const withThird = (i: number) => (i === 3 ? { term: 3, content: "w|a|2" } : full(i));
    expect(c.checkLeaderCompleteness("n4", 4, 1, withThird)).toBe(4);
    expectViolation("leader-completeness", () =>
      c.checkLeaderCompleteness("n3", 4, 1, (i) => (i === 3 ? undefined : full(i))),
    );
    expectViolation("leader-completeness", () =>
      c.checkLeaderCompleteness("n3", 2, 1, (i) =>
        i === 2 ? { term: 2, content: "w|a|9" } : full(i),
      ),
    );
  });

  it("commit monotonicity and durable state", () => {
    const c = new Checkers();
    c.observeCommit("n1", 1, 5);
    c.observeCommit("n1", 1, 7);
    expectViolation("commit-monotonic", () => c.observeCommit("n1", 1, 6));
    // After a crash (new incarnation) the in-memory commit may be lower than before...
    c.observeDurableHardState("n1", { term: 2, vote: "n1", commit: 4 });
    c.observeRestart("n1", 2, 4);
    c.observeCommit("n1", 2, 4);
    // ...but never below what was durable.
    expectViolation("commit-monotonic", () => c.observeRestart("n1", 3, 3));
    expectViolation("durable-state", () =>
      c.observeDurableHardState("n1", { term: 2, vote: "n2", commit: 4 }),
    );
    expectViolation("durable-state", () =>
      c.observeDurableHardState("n1", { term: 1, vote: "", commit: 4 }),
    );
    expectViolation("durable-state", () =>
      c.observeDurableHardState("n1", { term: 2, vote: "n1", commit: 3 }),
    );
    c.observeDurableHardState("n1", { term: 3, vote: "", commit: 4 });
  });

  it("linearizable reads: a stale read index or a wrong value", () => {
    const c = new Checkers();
    let h = genesisHash;
    const writes = ["w|k|a", "w|k|b", "w|j|c"];
    writes.forEach((content, i) => {
      h = chainHash(h, i + 1, 1, content);
      c.observeApplied("n1", { index: i + 1, term: 1, content }, h);
    });
    c.observeWriteAcked(2);
    const read = {
      node: "n2",
      context: "rd1",
      key: "k",
      ackedAtIssue: 2,
      readIndex: 2,
      appliedIndex: 3,
      value: "b" as string | undefined,
    };
    c.observeRead(read);
    expectViolation("linearizable-read", () => c.observeRead({ ...read, readIndex: 1 }));
    expectViolation("linearizable-read", () => c.observeRead({ ...read, value: "a" }));
    expectViolation("linearizable-read", () =>
      c.observeRead({ ...read, appliedIndex: 1, readIndex: 2 }),
    );
    expect(c.valueAt("k", 1)).toBe("a");
    expect(c.valueAt("j", 2)).toBeUndefined();
  });
});

describe("simulated storage", () => {
  const genesis = (): LogState =>
    new LogState(
      { term: 0, vote: "", commit: 0 },
      {
        meta: { index: 0, term: 0, confState: { voters: [], learners: [], addresses: {} } },
        data: new Uint8Array(0),
      },
      [],
    );

  it("a crash keeps the synced part and at most a prefix of the unsynced records", () => {
    const durable: number[] = [];
    const s = new SimStorage("n1", genesis(), (es) => {
      for (const e of es) durable.push(e.index);
    });
    const hs = (term: number, commit: number): HardState => ({ term, vote: "", commit });
    s.write({
      kind: "ready",
      hardState: hs(1, 0),
      entries: [normal(1, 1, "a"), normal(2, 1, "b")],
    });
    expect(s.sync()).toEqual(hs(1, 0));
    expect(durable).toEqual([1, 2]);
    s.write({ kind: "ready", hardState: hs(2, 2), entries: [normal(3, 2, "c")] });
    s.write({ kind: "ready", entries: [normal(4, 2, "d")] });
    expect(s.current.lastIndex).toBe(4);
    const { lost } = s.crash(new Prng(3), 0);
    expect(lost).toBeGreaterThanOrEqual(0);
    expect(s.current.lastIndex).toBe(2 + (2 - lost));
    expect(s.synced.lastIndex).toBe(s.current.lastIndex);
    expect(s.unsyncedCount).toBe(0);
  });

  it("replaces a conflicting suffix, compacts, and refuses gaps", () => {
    const s = new SimStorage("n1", genesis(), () => {});
    s.write({ kind: "ready", entries: [normal(1, 1, "a"), normal(2, 1, "b"), normal(3, 1, "c")] });
    s.write({ kind: "ready", entries: [normal(2, 2, "x")] });
    expect(s.current.lastIndex).toBe(2);
    expect(s.current.term(2)).toBe(2);
    const snap: Snapshot = {
      meta: { index: 1, term: 1, confState: { voters: ["n1"], learners: [], addresses: {} } },
      data: new Uint8Array(0),
    };
    s.write({ kind: "compact", snapshot: snap });
    expect(s.current.firstIndex).toBe(2);
    expect(s.current.entry(1)).toBe("compacted");
    expectViolation("contract", () => s.write({ kind: "ready", entries: [normal(9, 2, "gap")] }));
  });
});

describe("simulated network", () => {
  const msg = {
    type: "heartbeat" as const,
    from: "n1",
    to: "n2",
    term: 1,
    commit: 0,
    context: "",
  };
  const net = (patch: Partial<ConstructorParameters<typeof SimNetwork>[2]> = {}) =>
    new SimNetwork(new Prng(5), new Trace({ keepAll: false, tailMax: 10 }), {
      loss: 0,
      dup: 0,
      replay: 0,
      delayMin: 1,
      delayMax: 1,
      inflightMax: 100,
      ...patch,
    });
  const drain = (n: SimNetwork, from: number, to: number) => {
    let got = 0;
    for (let t = from; t <= to; t++)
      got += n.takeDue(
        t,
        () => "up",
        () => {},
      ).length;
    return got;
  };

  it("delivers after the delay, loses everything at loss 1, duplicates at dup 1", () => {
    const a = net();
    a.send(msg, 0);
    expect(drain(a, 0, 0)).toBe(0);
    expect(drain(a, 1, 1)).toBe(1);
    const lossy = net({ loss: 1 });
    for (let i = 0; i < 10; i++) lossy.send(msg, 0);
    expect(drain(lossy, 0, 5)).toBe(0);
    const dupy = net({ dup: 1 });
    dupy.send(msg, 0);
    expect(drain(dupy, 0, 5)).toBe(2);
  });

  it("drops on cut links (reporting them), holds on clogged links", () => {
    const n = net();
    n.cut("n1", "n2");
    n.send(msg, 0);
    const failed: string[] = [];
    expect(
      n.takeDue(
        1,
        () => "up",
        (m) => failed.push(`${m.from}>${m.to}`),
      ).length,
    ).toBe(0);
    expect(failed).toEqual(["n1>n2"]);
    n.clearCuts();
    n.clog("n1", "n2");
    n.send(msg, 1);
    expect(drain(n, 2, 10)).toBe(0);
    n.unclog("n1", "n2");
    expect(drain(n, 11, 11)).toBe(1);
  });

  it("copies messages so that deliveries share nothing", () => {
    const m = {
      type: "app" as const,
      from: "n1",
      to: "n2",
      term: 1,
      index: 0,
      logTerm: 0,
      commit: 0,
      entries: [normal(1, 1, "a")],
    };
    const copy = cloneMessage(m);
    expect(copy).toEqual(m);
    if (copy.type !== "app") throw new Error("unreachable");
    const e = copy.entries[0];
    if (e?.kind !== "normal") throw new Error("unreachable");
    e.data[0] = 0;
    expect((m.entries[0] as Extract<Entry, { kind: "normal" }>).data[0]).not.toBe(0);
  });
});

describe("state machine", () => {
  it("snapshots and restores to the same state and digest", () => {
    const a = new RegisterMachine();
    a.apply({ kind: "normal", index: 1, term: 1, data: encodeWrite("k", "v1") });
    a.apply({ kind: "normal", index: 2, term: 1, data: new Uint8Array(0) });
    const b = new RegisterMachine();
    b.restore(a.snapshot());
    expect(b.hash).toBe(a.hash);
    expect(b.appliedIndex).toBe(2);
    expect(b.get("k")).toBe("v1");
  });
});

describe("whole runs", () => {
  it("passes a batch of seeds", () => {
    const failures: string[] = [];
    for (let seed = 1; seed <= 30; seed++) {
      const r = runSeed({ seed, keepTrace: false });
      if (!r.ok) failures.push(`seed ${seed}: ${r.violation?.message}`);
    }
    expect(failures).toEqual([]);
  });

  it("gives a byte-identical trace for the same seed", () => {
    const a = runSeed({ seed: 11, keepTrace: true });
    const b = runSeed({ seed: 11, keepTrace: true });
    const c = runSeed({ seed: 12, keepTrace: true });
    expect(a.traceLines).toBeGreaterThan(1000);
    expect(b.digest).toBe(a.digest);
    expect(b.traceText).toBe(a.traceText);
    expect(c.digest).not.toBe(a.digest);
  });

  it("honours --ticks", () => {
    const r = runSeed({ seed: 3, keepTrace: false, ticks: 150 });
    expect(r.ok).toBe(true);
    expect(r.ticks).toBeGreaterThanOrEqual(150);
    expect(r.ticks).toBeLessThan(150 + r.livenessBound + 30);
  });

  it("catches a shell that sends before it syncs", { timeout: 180_000 }, () => {
    // The bug is only visible when a crash lands between the send and the fsync and the lost
    // vote or entry then matters, so scan seeds until a safety checker fires (about one seed in
    // twenty does).
    const safety = [
      "election-safety",
      "log-matching",
      "leader-completeness",
      "state-machine-safety",
    ];
    let caught: string | undefined;
    for (let seed = 1; seed <= 400 && caught === undefined; seed++) {
      const r = runSeed({ seed, keepTrace: false, sabotage: "send-before-sync" });
      if (r.violation !== undefined && safety.includes(r.violation.checker)) {
        caught = `seed ${seed}: ${r.violation.message}`;
      }
    }
    expect(caught).toBeDefined();
  });

  it("fails liveness when the replicas never run again after the heal", () => {
    const r = runSeed({ seed: 1, keepTrace: false, sabotage: "freeze-forever" });
    expect(r.ok).toBe(false);
    expect(r.violation?.checker).toBe("liveness");
    expect(r.tail.length).toBeGreaterThan(0);
  });
});
