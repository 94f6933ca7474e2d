import { describe, expect, it } from "vitest";
import { HistoryBuilder, port, vpc } from "./builder.js";
import { uniqueIps } from "./unique-ips.js";

const args = { org_id: "org", project_id: "proj", subnet_id: "s1" };

describe("uniqueIps", () => {
  it("catches a double allocation over overlapping intervals", () => {
    const h = new HistoryBuilder()
      .call("a", "CreatePort", args, port("p1", "10.0.0.5"))
      .call("b", "CreatePort", args, port("p2", "10.0.0.5"));
    const r = uniqueIps(h.events);
    expect(r.ok).toBe(false);
    expect(r.violations[0]).toMatch(/10\.0\.0\.5.*port:p1.*port:p2/);
    expect(r.violations[0]).toMatch(/#0/);
  });

  it("allows reuse after the delete completed", () => {
    const h = new HistoryBuilder()
      .call("a", "CreatePort", args, port("p1", "10.0.0.5"))
      .call("a", "DeletePort", { ...args, port_id: "p1" })
      .call("b", "CreatePort", args, port("p2", "10.0.0.5"));
    expect(uniqueIps(h.events)).toEqual({ ok: true, violations: [] });
  });

  it("allows reuse while a delete is in flight or indefinite", () => {
    const inFlight = new HistoryBuilder()
      .call("a", "CreatePort", args, port("p1", "10.0.0.5"))
      .invoke("a", "DeletePort", { ...args, port_id: "p1" })
      .call("b", "CreatePort", args, port("p2", "10.0.0.5"))
      .ok("a");
    expect(uniqueIps(inFlight.events).ok).toBe(true);
    const indefinite = new HistoryBuilder()
      .call("a", "CreatePort", args, port("p1", "10.0.0.5"))
      .invoke("a", "DeletePort", { ...args, port_id: "p1" })
      .info("a")
      .call("b", "CreatePort", args, port("p2", "10.0.0.5"));
    expect(uniqueIps(indefinite.events).ok).toBe(true);
  });

  it("a definitely failed delete releases nothing", () => {
    const h = new HistoryBuilder()
      .call("a", "CreatePort", args, port("p1", "10.0.0.5"))
      .invoke("a", "DeletePort", { ...args, port_id: "p1" })
      .fail("a", "FAILED_PRECONDITION", 9)
      .call("b", "CreatePort", args, port("p2", "10.0.0.5"));
    expect(uniqueIps(h.events).ok).toBe(false);
  });

  it("concurrent creates that overlap only while in flight are still caught once both completed", () => {
    const h = new HistoryBuilder()
      .invoke("a", "CreatePort", args)
      .invoke("b", "CreatePort", args)
      .ok("a", port("p1", "10.0.0.5"))
      .ok("b", port("p2", "10.0.0.5"));
    expect(uniqueIps(h.events).ok).toBe(false);
  });

  it("the same IP in different VPCs is fine", () => {
    const h = new HistoryBuilder().call("a", "CreatePort", args, port("p1", "10.0.0.5")).call(
      "b",
      "CreatePort",
      { ...args, project_id: "other" },
      {
        ...port("p2", "10.0.0.5"),
        vpc_id: "org/other",
      },
    );
    expect(uniqueIps(h.events).ok).toBe(true);
  });

  it("a port seen by a read counts from the read's completion", () => {
    const h = new HistoryBuilder()
      .invoke("a", "CreatePort", { ...args, mac_address: "02:00:00:00:00:01" })
      .info("a")
      .call("r", "ListPorts", args, { ports: [port("p1", "10.0.0.5")] })
      .call("b", "CreatePort", args, port("p2", "10.0.0.5"));
    expect(uniqueIps(h.events).ok).toBe(false);
  });

  it("a single read returning two ports with the same IP is caught", () => {
    const h = new HistoryBuilder().call("r", "ListPorts", args, {
      ports: [port("p1", "10.0.0.5"), port("p2", "10.0.0.5")],
    });
    const r = uniqueIps(h.events);
    expect(r.ok).toBe(false);
    expect(r.violations.join("\n")).toMatch(/ListPorts #0/);
  });

  it("an external IP in two VPCs at once is caught; SNAT and DNAT of one VPC may share", () => {
    const snat = (v: string, ip: string) => ({ vpc_id: v, external_ip: ip, enabled: true });
    const dnat = (id: string, v: string, ip: string, p: number, proto = "TCP") => ({
      id,
      vpc_id: v,
      external_ip: ip,
      external_port: p,
      internal_ip: "10.0.0.5",
      internal_port: 80,
      protocol: proto,
    });
    const shared = new HistoryBuilder()
      .call("a", "CreateSnat", { vpc_id: vpc }, snat(vpc, "203.0.113.1"))
      .call("b", "CreateDnat", { vpc_id: vpc }, dnat("d1", vpc, "203.0.113.1", 80));
    expect(uniqueIps(shared.events).ok).toBe(true);

    const twoVpcs = new HistoryBuilder()
      .call("a", "CreateSnat", { vpc_id: vpc }, snat(vpc, "203.0.113.1"))
      .call("b", "CreateSnat", { vpc_id: "org/x" }, snat("org/x", "203.0.113.1"));
    expect(uniqueIps(twoVpcs.events).violations[0]).toMatch(/external IP 203\.0\.113\.1/);

    const afterDelete = new HistoryBuilder()
      .call("a", "CreateSnat", { vpc_id: vpc }, snat(vpc, "203.0.113.1"))
      .call("a", "DeleteSnat", { vpc_id: vpc })
      .call("b", "CreateSnat", { vpc_id: "org/x" }, snat("org/x", "203.0.113.1"));
    expect(uniqueIps(afterDelete.events).ok).toBe(true);

    const sameKey = new HistoryBuilder()
      .call("a", "CreateDnat", { vpc_id: vpc }, dnat("d1", vpc, "203.0.113.1", 80))
      .call("b", "CreateDnat", { vpc_id: vpc }, dnat("d2", vpc, "203.0.113.1", 80));
    expect(uniqueIps(sameKey.events).violations.join("\n")).toMatch(/DNAT 203\.0\.113\.1:80\/TCP/);

    const otherProto = new HistoryBuilder()
      .call("a", "CreateDnat", { vpc_id: vpc }, dnat("d1", vpc, "203.0.113.1", 80))
      .call("b", "CreateDnat", { vpc_id: vpc }, dnat("d2", vpc, "203.0.113.1", 80, "UDP"));
    expect(uniqueIps(otherProto.events).ok).toBe(true);

    const oneToOne = new HistoryBuilder()
      .call(
        "a",
        "CreateDnat",
        { vpc_id: vpc },
        { ...dnat("d1", vpc, "203.0.113.1", 0, "ALL"), internal_port: 0 },
      )
      .call("b", "CreateSnat", { vpc_id: vpc }, snat(vpc, "203.0.113.1"));
    expect(uniqueIps(oneToOne.events).ok).toBe(false);

    const cascade = new HistoryBuilder()
      .call("p", "CreatePort", args, port("p1", "10.0.0.5"))
      .call("a", "CreateDnat", { vpc_id: vpc }, dnat("d1", vpc, "203.0.113.1", 80))
      .call("p", "DeletePort", { ...args, port_id: "p1" })
      .call("b", "CreateSnat", { vpc_id: "org/x" }, snat("org/x", "203.0.113.1"));
    expect(uniqueIps(cascade.events).ok).toBe(true);
  });

  it("checks every replica's final state", () => {
    const p1 = { id: "p1", vpc_id: vpc, ip_address: "10.0.0.5" };
    const p2 = { id: "p2", vpc_id: vpc, ip_address: "10.0.0.5" };
    const good = { ports: [p1], snats: [], dnats: [] };
    const bad = {
      ports: [p1, p2],
      snats: [
        { vpc_id: vpc, external_ip: "203.0.113.1" },
        { vpc_id: "org/x", external_ip: "203.0.113.1" },
      ],
      dnats: [],
    };
    expect(uniqueIps([], [{ replica: "n1", state: good }]).ok).toBe(true);
    const r = uniqueIps(
      [],
      [
        { replica: "n1", state: good },
        { replica: "n2", state: bad },
      ],
    );
    expect(r.violations).toHaveLength(2);
    expect(r.violations[0]).toMatch(/replica n2: ports p1 and p2/);
  });
});

describe("uniqueIps and stale reads", () => {
  it("a STALE read is not evidence of holding (it may show a state before a completed delete)", () => {
    const h = new HistoryBuilder()
      .call("a", "CreatePort", args, port("p1", "10.0.0.5"))
      .call("a", "DeletePort", { ...args, port_id: "p1" })
      .call("r", "ListPorts", { ...args, consistency: 2 }, { ports: [port("p1", "10.0.0.5")] })
      .call("b", "CreatePort", args, port("p2", "10.0.0.5"));
    expect(uniqueIps(h.events).ok).toBe(true);
  });
});
