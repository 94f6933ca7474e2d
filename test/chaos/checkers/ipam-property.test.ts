// Soundness of uniqueIps and noLostWrites on histories generated from a sequential IPAM model
// (lowest free address, random concurrency windows, indefinite outcomes): never a false alarm.
// And a lost acknowledged port is always caught.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { HistoryEvent, OpName } from "../history/types.js";
import { vpc } from "./builder.js";
import { noLostWrites } from "./lost-writes.js";
import type { FinalState, PortRecord } from "./model.js";
import { uniqueIps } from "./unique-ips.js";

type Step = { kind: "create" } | { kind: "delete"; target: number } | { kind: "list" };

const genStep: fc.Arbitrary<Step> = fc.oneof(
  { arbitrary: fc.constant({ kind: "create" as const }), weight: 4 },
  { arbitrary: fc.nat(20).map((target) => ({ kind: "delete" as const, target })), weight: 3 },
  { arbitrary: fc.constant({ kind: "list" as const }), weight: 2 },
);

const genRun = fc.record({
  steps: fc.array(fc.record({ step: genStep, outcome: fc.nat(11) }), {
    minLength: 1,
    maxLength: 25,
  }),
  windows: fc.array(fc.tuple(fc.nat(30), fc.nat(30)), { minLength: 26, maxLength: 26 }),
});

const pool = ["10.0.0.4", "10.0.0.5", "10.0.0.6"];
const args = { org_id: "org", project_id: "proj", subnet_id: "s1" };

interface Built {
  history: HistoryEvent[];
  final: FinalState;
  /** Ports whose create was acknowledged and that no delete ever targeted. */
  untouched: string[];
}

function build(run: {
  steps: { step: Step; outcome: number }[];
  windows: [number, number][];
}): Built {
  const live = new Map<string, PortRecord>();
  const created: string[] = [];
  const acked = new Set<string>();
  const targeted = new Set<string>();
  const raw: { t: number; seq: number; e: Omit<HistoryEvent, "index" | "time"> }[] = [];
  const doStep = ({ step, outcome }: { step: Step; outcome: number }, i: number): number => {
    const point = 10 * i + 5;
    const [w1, w2] = run.windows[i] ?? [0, 0];
    const process = `c${i}`;
    const emit = (
      op: OpName,
      a: Record<string, unknown>,
      end: Omit<HistoryEvent, "index" | "time" | "process" | "op">,
    ): number => {
      raw.push({ t: point - w1 - 0.1, seq: i, e: { type: "invoke", process, op, args: a } });
      raw.push({ t: point + w2 + 0.1, seq: i, e: { process, op, ...end } });
      return raw.length;
    };
    const info = { type: "info" as const, error: { code: "TIMEOUT", grpcCode: 4 } };
    if (step.kind === "list") {
      return emit("ListPorts", args, { type: "ok", value: { ports: [...live.values()] } });
    }
    if (step.kind === "create") {
      const mac = `02:00:00:00:01:${i.toString(16).padStart(2, "0")}`;
      const a = { ...args, mac_address: mac };
      if (outcome === 0) return emit("CreatePort", a, info); // never applied
      const ip = pool.find((x) => ![...live.values()].some((p) => p.ip_address === x));
      if (ip === undefined)
        return emit("CreatePort", a, {
          type: "fail",
          error: { code: "SUBNET_EXHAUSTED", grpcCode: 8 },
        });
      const port = { id: `p${i}`, vpc_id: vpc, ip_address: ip, mac_address: mac };
      live.set(port.id, port);
      created.push(port.id);
      if (outcome === 1) return emit("CreatePort", a, info); // applied, outcome unknown
      acked.add(port.id);
      return emit("CreatePort", a, { type: "ok", value: port });
    }
    const target = created[step.target % Math.max(1, created.length)] ?? "p-none";
    targeted.add(target);
    const a = { ...args, port_id: target };
    if (outcome === 0) return emit("DeletePort", a, info);
    if (!live.has(target))
      return emit("DeletePort", a, { type: "fail", error: { code: "NOT_FOUND", grpcCode: 5 } });
    live.delete(target);
    return emit("DeletePort", a, outcome === 1 ? info : { type: "ok", value: {} });
  };
  run.steps.forEach((s, i) => {
    doStep(s, i);
  });
  raw.sort((a, b) => a.t - b.t || a.seq - b.seq);
  return {
    history: raw.map((r, index) => ({ ...r.e, index, time: index }) as HistoryEvent),
    final: { ports: [...live.values()], snats: [], dnats: [] },
    untouched: [...acked].filter((id) => !targeted.has(id)),
  };
}

describe("uniqueIps / noLostWrites on model histories (property)", () => {
  it("never flag a history produced by a correct allocator", () => {
    fc.assert(
      fc.property(genRun, (run) => {
        const { history, final } = build(run);
        const replicas = [
          { replica: "n1", state: final },
          { replica: "n2", state: final },
        ];
        expect(uniqueIps(history, replicas).violations).toEqual([]);
        expect(noLostWrites(history, replicas).violations).toEqual([]);
      }),
      { numRuns: 400 },
    );
  });

  it("catch an acknowledged, never-deleted port missing on one replica", () => {
    fc.assert(
      fc.property(genRun, fc.nat(), (run, pick) => {
        const { history, final, untouched } = build(run);
        fc.pre(untouched.length > 0);
        const gone = untouched[pick % untouched.length]!;
        const lossy = { ...final, ports: final.ports.filter((p) => p.id !== gone) };
        const r = noLostWrites(history, [
          { replica: "n1", state: final },
          { replica: "n2", state: lossy },
        ]);
        expect(r.violations.some((v) => v.includes(`port ${gone} `) && v.includes("n2"))).toBe(
          true,
        );
      }),
      { numRuns: 300 },
    );
  });
});
