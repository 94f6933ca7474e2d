import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { HistoryEvent, OpName } from "../history/types.js";
import { HistoryBuilder, port } from "./builder.js";
import { linearizablePorts } from "./linearizable.js";

const args = { org_id: "org", project_id: "proj", port_id: "p1" };
const p1 = port("p1", "10.0.0.5");
const attached = (vm: string) => ({ ...p1, vm_id: vm });

describe("linearizablePorts (hand-written)", () => {
  it("accepts a sequential history", () => {
    const h = new HistoryBuilder()
      .call("a", "CreatePort", { ...args, port_id: undefined }, p1)
      .call("a", "AttachPort", { ...args, vm_id: "vm1" }, attached("vm1"))
      .call("b", "GetPort", args, attached("vm1"))
      .call("a", "DetachPort", args)
      .call("b", "GetPort", args, p1)
      .call("a", "DeletePort", args)
      .invoke("b", "GetPort", args)
      .fail("b", "NOT_FOUND", 5);
    expect(linearizablePorts(h.events)).toEqual({
      ok: true,
      violations: [],
      unchecked: [],
      checked: 1,
    });
  });

  it("catches a stale read after a completed write", () => {
    const h = new HistoryBuilder()
      .call("a", "CreatePort", {}, p1)
      .call("a", "AttachPort", { ...args, vm_id: "vm1" }, attached("vm1"))
      .call("b", "GetPort", args, p1);
    const r = linearizablePorts(h.events);
    expect(r.ok).toBe(false);
    expect(r.violations[0]).toMatch(
      /port p1: not linearizable.*GetPort → 10\.0\.0\.5 vm=none \[b #4\.\.#5\]/,
    );
  });

  it("catches a read of a deleted port", () => {
    const h = new HistoryBuilder()
      .call("a", "CreatePort", {}, p1)
      .call("a", "DeletePort", args)
      .call("b", "GetPort", args, p1);
    expect(linearizablePorts(h.events).ok).toBe(false);
  });

  it("allows either order for concurrent ops", () => {
    for (const seen of [p1, attached("vm1")]) {
      const h = new HistoryBuilder()
        .call("a", "CreatePort", {}, p1)
        .invoke("a", "AttachPort", { ...args, vm_id: "vm1" })
        .invoke("b", "GetPort", args)
        .ok("b", seen)
        .ok("a", attached("vm1"));
      expect(linearizablePorts(h.events).ok).toBe(true);
    }
  });

  it("an info write may take effect late or never, but not before its invoke", () => {
    const base = () =>
      new HistoryBuilder()
        .call("a", "CreatePort", {}, p1)
        .call("r", "GetPort", args, p1)
        .invoke("a", "AttachPort", { ...args, vm_id: "vm1" })
        .info("a");
    const late = base().call("r", "GetPort", args, p1).call("r", "GetPort", args, attached("vm1"));
    expect(linearizablePorts(late.events).ok).toBe(true);
    const never = base().call("r", "GetPort", args, p1);
    expect(linearizablePorts(never.events).ok).toBe(true);
    // Once seen it cannot be un-seen.
    const flicker = base()
      .call("r", "GetPort", args, attached("vm1"))
      .call("r", "GetPort", args, p1);
    expect(linearizablePorts(flicker.events).ok).toBe(false);
    const early = new HistoryBuilder()
      .call("a", "CreatePort", {}, p1)
      .call("r", "GetPort", args, attached("vm1"))
      .invoke("a", "AttachPort", { ...args, vm_id: "vm1" })
      .info("a");
    expect(linearizablePorts(early.events).ok).toBe(false);
  });

  it("ties an info create to its port by MAC", () => {
    const h = new HistoryBuilder()
      .invoke("a", "CreatePort", { mac_address: p1.mac_address, vm_id: "vm1" })
      .info("a")
      .call("r", "GetPort", args, attached("vm1"));
    expect(linearizablePorts(h.events)).toMatchObject({ ok: true, checked: 1 });
    const wrongVm = new HistoryBuilder()
      .invoke("a", "CreatePort", { mac_address: p1.mac_address, vm_id: "vm1" })
      .info("a")
      .call("r", "GetPort", args, attached("vm2"));
    expect(linearizablePorts(wrongVm.events).ok).toBe(false);
  });

  it("ignores stale-consistency reads; reports keys it cannot check", () => {
    const h = new HistoryBuilder()
      .call("a", "CreatePort", {}, p1)
      .call("a", "AttachPort", { ...args, vm_id: "vm1" }, attached("vm1"))
      .call("b", "GetPort", { ...args, consistency: 2 }, p1)
      .call("b", "GetPort", { ...args, port_id: "p7" }, port("p7", "10.0.0.7"));
    const r = linearizablePorts(h.events);
    expect(r.ok).toBe(true);
    expect(r.unchecked).toEqual([expect.stringMatching(/port p7: no CreatePort/)]);
  });

  it("does not silently pass keys that are too long", () => {
    const h = new HistoryBuilder().call("a", "CreatePort", {}, p1);
    for (let i = 0; i < 5; i++) h.call("b", "GetPort", args, p1);
    const r = linearizablePorts(h.events, { maxOpsPerKey: 3 });
    expect(r).toMatchObject({ ok: true, checked: 0 });
    expect(r.unchecked[0]).toMatch(/too long, skipped/);
  });
});

// ---------------------------------------------------------------------------------------------
// Property: histories generated from the sequential model with random concurrency windows.

type GenOp =
  | { kind: "attach"; vm: string }
  | { kind: "detach"; vm?: string }
  | { kind: "delete" }
  | { kind: "read" };

interface Planned {
  op: OpName;
  args: Record<string, unknown>;
  outcome: { type: "ok"; value: unknown } | { type: "fail"; code: string } | { type: "info" };
  /** Linearization point. */
  point: number;
}

const vms = ["vm1", "vm2", "vm3"];

const genOp: fc.Arbitrary<GenOp> = fc.oneof(
  { arbitrary: fc.constantFrom(...vms).map((vm) => ({ kind: "attach" as const, vm })), weight: 3 },
  {
    arbitrary: fc
      .option(fc.constantFrom(...vms), { nil: undefined })
      .map((vm) =>
        vm === undefined ? { kind: "detach" as const } : { kind: "detach" as const, vm },
      ),
    weight: 2,
  },
  { arbitrary: fc.constant({ kind: "delete" as const }), weight: 1 },
  { arbitrary: fc.constant({ kind: "read" as const }), weight: 4 },
);

const genRun = fc.record({
  ops: fc.array(fc.record({ op: genOp, indefinite: fc.nat(9), ghost: fc.nat(19) }), {
    minLength: 1,
    maxLength: 14,
  }),
  windows: fc.array(fc.tuple(fc.nat(25), fc.nat(25)), { minLength: 15, maxLength: 15 }),
});

/** Executes the sequential model; each op takes effect at its point (ghost info ops never do). */
function plan(run: { ops: { op: GenOp; indefinite: number; ghost: number }[] }): Planned[] {
  let vm: string | null = null;
  let exists = true;
  const out: Planned[] = [
    {
      op: "CreatePort",
      args: { mac_address: p1.mac_address },
      outcome: { type: "ok", value: p1 },
      point: 5,
    },
  ];
  run.ops.forEach(({ op, indefinite, ghost }, i) => {
    const point = 10 * (i + 1) + 5;
    const view = () => ({ ...p1, vm_id: vm ?? "" });
    if (op.kind === "read") {
      out.push({
        op: "GetPort",
        args,
        outcome: exists ? { type: "ok", value: view() } : { type: "fail", code: "NOT_FOUND" },
        point,
      });
      return;
    }
    const name: OpName =
      op.kind === "attach" ? "AttachPort" : op.kind === "detach" ? "DetachPort" : "DeletePort";
    const a = "vm" in op && op.vm !== undefined ? { ...args, vm_id: op.vm } : args;
    if (ghost === 0) {
      // Invoked, outcome unknown, never applied.
      out.push({ op: name, args: a, outcome: { type: "info" }, point });
      return;
    }
    let valid = exists;
    if (op.kind === "attach") valid &&= vm === null || vm === op.vm;
    if (op.kind === "detach") valid &&= vm === null || op.vm === undefined || vm === op.vm;
    if (!valid) {
      out.push({
        op: name,
        args: a,
        outcome: { type: "fail", code: exists ? "FAILED_PRECONDITION" : "NOT_FOUND" },
        point,
      });
      return;
    }
    if (op.kind === "attach") vm = op.vm;
    if (op.kind === "detach") vm = null;
    if (op.kind === "delete") exists = false;
    out.push({
      op: name,
      args: a,
      outcome:
        indefinite === 0
          ? { type: "info" }
          : { type: "ok", value: op.kind === "delete" ? null : view() },
      point,
    });
  });
  return out;
}

/** Spreads each op over [point - w1 - 0.1, point + w2 + 0.1]; one process per op. */
function toHistory(planned: Planned[], windows: [number, number][]): HistoryEvent[] {
  const raw: { t: number; seq: number; e: Omit<HistoryEvent, "index" | "time"> }[] = [];
  planned.forEach((p, i) => {
    const [w1, w2] = windows[i % windows.length] ?? [0, 0];
    const process = `c${i}`;
    raw.push({
      t: p.point - w1 - 0.1,
      seq: i,
      e: { type: "invoke", process, op: p.op, args: p.args },
    });
    if (p.outcome.type === "ok")
      raw.push({
        t: p.point + w2 + 0.1,
        seq: i,
        e: { type: "ok", process, op: p.op, value: p.outcome.value },
      });
    else if (p.outcome.type === "fail")
      raw.push({
        t: p.point + w2 + 0.1,
        seq: i,
        e: { type: "fail", process, op: p.op, error: { code: p.outcome.code, grpcCode: 5 } },
      });
    else
      raw.push({
        t: p.point + w2 + 0.1,
        seq: i,
        e: { type: "info", process, op: p.op, error: { code: "TIMEOUT", grpcCode: 4 } },
      });
  });
  raw.sort((a, b) => a.t - b.t || a.seq - b.seq);
  return raw.map((r, index) => ({ ...r.e, index, time: index }));
}

describe("linearizablePorts (property)", () => {
  it("histories from the sequential model with random concurrency windows are linearizable", () => {
    fc.assert(
      fc.property(genRun, (run) => {
        const h = toHistory(plan(run), run.windows);
        const r = linearizablePorts(h);
        expect(r.violations).toEqual([]);
        expect(r.unchecked).toEqual([]);
      }),
      { numRuns: 300 },
    );
  });

  it("a read returning a value never written is caught", () => {
    fc.assert(
      fc.property(genRun, fc.nat(), (run, pick) => {
        const planned = plan(run);
        const reads = planned.filter((p) => p.op === "GetPort" && p.outcome.type === "ok");
        fc.pre(reads.length > 0);
        const victim = reads[pick % reads.length]!;
        victim.outcome = { type: "ok", value: { ...p1, vm_id: "vm-never-written" } };
        const r = linearizablePorts(toHistory(planned, run.windows));
        expect(r.ok).toBe(false);
      }),
      { numRuns: 300 },
    );
  });
});
