// The chaos suite in CI (issue 7): the quick profile of test/chaos/run.ts with a fixed seed, on
// every `npm test`. It fails when any checker reports a violation (the runner prints each
// verdict, the unchecked lists and the kept history's path). Plus self-tests that the checkers
// are wired: the final-check stage must flag doctored inputs.
import { describe, expect, it } from "vitest";
import { HistoryBuilder, port } from "./checkers/builder.js";
import { finalCheck, makeSchedule, type RunResult, renameFault, runChaos } from "./run.js";

/** The seed CI runs; change it only together with docs/chaos.md. */
const CI_SEED = 20261207;

function failed(r: RunResult): string[] {
  return r.verdicts.filter((v) => !v.ok).flatMap((v) => v.violations.map((x) => `${v.name}: ${x}`));
}

describe("chaos runner: checker wiring", () => {
  it("the same seed gives the same schedule; another seed another one", () => {
    const a = makeSchedule(7, "quick", 3, 60_000);
    expect(makeSchedule(7, "quick", 3, 60_000)).toEqual(a);
    expect(makeSchedule(8, "quick", 3, 60_000)).not.toEqual(a);
    expect(a.faults.length).toBeGreaterThan(5);
    expect(
      makeSchedule(7, "long", 5, 300_000).faults.some((f) => f.fault.kind === "majorities-ring"),
    ).toBe(true);
  });

  it("membership faults: quick replaces one follower, long also the leader; fresh ids", () => {
    const quick = makeSchedule(CI_SEED, "quick", 3, 60_000).faults.map((f) => f.fault);
    expect(quick.filter((f) => f.kind === "membership")).toEqual([
      { kind: "membership", remove: "follower", add: "n4" },
    ]);
    const long = makeSchedule(7, "long", 5, 300_000).faults.map((f) => f.fault);
    const changes = long.filter((f) => f.kind === "membership");
    expect(changes.length).toBeGreaterThanOrEqual(2);
    expect(changes.some((f) => f.remove === "leader")).toBe(true);
    const added = changes.map((f) => f.add);
    expect(new Set(added).size).toBe(added.length);
    expect(added.every((id) => Number(id.slice(1)) > 5)).toBe(true);
  });

  it("after a replacement, faults naming the replaced replica act on its replacement", () => {
    const cur = (id: string) => (id === "n2" ? "n4" : id);
    expect(renameFault({ kind: "disable-proxy", link: "peer-n2-n3" }, cur)).toEqual({
      kind: "disable-proxy",
      link: "peer-n4-n3",
    });
    expect(renameFault({ kind: "partition", groups: [["n2"], ["n1", "n3"]] }, cur)).toEqual({
      kind: "partition",
      groups: [["n4"], ["n1", "n3"]],
    });
    expect(renameFault({ kind: "kill", target: "leader" }, cur)).toEqual({
      kind: "kill",
      target: "leader",
    });
    expect(renameFault({ kind: "bandwidth", link: "api-n2", rateKBps: 4 }, cur)).toMatchObject({
      link: "api-n4",
    });
  });

  it("final check flags a lost acknowledged port, a duplicate IP and diverged replicas", () => {
    const h = new HistoryBuilder()
      .call(
        "c1",
        "CreatePort",
        { vpc_id: "org/proj", mac_address: "02:00:00:00:00:01" },
        port("p1", "10.0.0.5"),
      )
      .call(
        "c2",
        "CreatePort",
        { vpc_id: "org/proj", mac_address: "02:00:00:00:00:02" },
        port("p2", "10.0.0.6"),
      );
    const good = { ports: [port("p1", "10.0.0.5"), port("p2", "10.0.0.6")], snats: [], dnats: [] };
    const statuses = [
      { id: "n1", appliedIndex: 9, resourceDigest: "d" },
      { id: "n2", appliedIndex: 9, resourceDigest: "d" },
    ];
    const nb = { sw: [{ name: "p1", addresses: ["02:00:00:00:00:01 10.0.0.5"] }] };
    const expectedNb = [{ switch: "sw", name: "p1", ips: ["10.0.0.5"], mac: "02:00:00:00:00:01" }];
    const clean = finalCheck({
      history: h.events,
      finals: [
        { replica: "n1", state: good },
        { replica: "n2", state: good },
      ],
      statuses,
      nb,
      expectedNb,
    });
    expect(clean.filter((v) => !v.ok)).toEqual([]);

    const doctored = finalCheck({
      history: h.events,
      finals: [
        { replica: "n1", state: good },
        // n2 dropped the acknowledged p2 and gave p1's IP to another port.
        {
          replica: "n2",
          state: { ...good, ports: [port("p1", "10.0.0.5"), port("p3", "10.0.0.5")] },
        },
      ],
      statuses: [statuses[0]!, { id: "n2", appliedIndex: 9, resourceDigest: "other" }],
      nb: { sw: [...nb.sw, { name: "p9", addresses: ["02:00:00:00:00:09 10.0.0.5"] }] },
      expectedNb,
    });
    const bad = new Set(doctored.filter((v) => !v.ok).map((v) => v.name));
    expect(bad).toEqual(new Set(["noLostWrites", "uniqueIps", "convergence", "ovnMatches"]));
  });
});

describe("chaos runner: quick profile", () => {
  it(`seed ${CI_SEED}: no violation under faults, and the checkers see a dropped port`, async () => {
    const r = await runChaos({ profile: "quick", seed: CI_SEED });
    expect(r.error, `runner error (history: ${r.historyPath})`).toBeUndefined();
    expect(failed(r), `violations (history: ${r.historyPath})`).toEqual([]);
    expect(r.ok).toBe(true);
    expect(r.faults).toBeGreaterThan(5);
    expect(r.ops.ok).toBeGreaterThan(500);

    // Wiring on the real run's inputs: drop one acknowledged, never-deleted port from one
    // replica's final state; noLostWrites (and convergence of the lists) must notice.
    const inputs = r.inputs!;
    const target = inputs.finals[0]!.state.ports.find((p) =>
      inputs.history.some(
        (e) =>
          e.type === "ok" &&
          e.op === "CreatePort" &&
          (e.value as { id?: string } | undefined)?.id === p.id,
      ),
    );
    expect(target, "an acknowledged port in the final state").toBeDefined();
    const last = inputs.finals.length - 1;
    const doctored = inputs.finals.map((f, i) =>
      i === last
        ? { ...f, state: { ...f.state, ports: f.state.ports.filter((p) => p.id !== target!.id) } }
        : f,
    );
    const verdicts = finalCheck({ ...inputs, finals: doctored });
    const lost = verdicts.find((v) => v.name === "noLostWrites")!;
    expect(lost.ok).toBe(false);
    expect(lost.violations.join("\n")).toContain(target!.id);
  }, 240_000);
});
