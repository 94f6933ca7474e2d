import { describe, expect, it } from "vitest";
import { HistoryBuilder, port, vpc } from "./builder.js";
import { noLostWrites } from "./lost-writes.js";
import type { FinalState } from "./model.js";

const args = { org_id: "org", project_id: "proj", subnet_id: "s1" };
const empty: FinalState = { ports: [], snats: [], dnats: [] };
const on = (...states: FinalState[]) => states.map((state, i) => ({ replica: `n${i + 1}`, state }));
const p1 = port("p1", "10.0.0.5");

describe("noLostWrites", () => {
  it("passes when every acknowledged create is on every replica", () => {
    const h = new HistoryBuilder().call("a", "CreatePort", args, p1);
    const s: FinalState = { ...empty, ports: [p1] };
    expect(noLostWrites(h.events, on(s, s, s))).toMatchObject({ ok: true, violations: [] });
  });

  it("catches a lost acknowledged create, naming the replica and the event", () => {
    const h = new HistoryBuilder().call("a", "CreatePort", args, p1);
    const r = noLostWrites(h.events, on({ ...empty, ports: [p1] }, empty));
    expect(r.ok).toBe(false);
    expect(r.violations).toEqual([expect.stringMatching(/lost: port p1 .*#0\.\.#1.*replica n2/)]);
  });

  it("does not require a port whose delete was ok or info", () => {
    const deleted = new HistoryBuilder()
      .call("a", "CreatePort", args, p1)
      .call("a", "DeletePort", { ...args, port_id: "p1" });
    expect(noLostWrites(deleted.events, on(empty)).ok).toBe(true);
    const maybe = new HistoryBuilder()
      .call("a", "CreatePort", args, p1)
      .invoke("a", "DeletePort", { ...args, port_id: "p1" })
      .info("a");
    expect(noLostWrites(maybe.events, on(empty)).ok).toBe(true);
    expect(noLostWrites(maybe.events, on({ ...empty, ports: [p1] })).ok).toBe(true);
    const refused = new HistoryBuilder()
      .call("a", "CreatePort", args, p1)
      .invoke("a", "DeletePort", { ...args, port_id: "p1" })
      .fail("a", "FAILED_PRECONDITION", 9);
    expect(noLostWrites(refused.events, on(empty)).ok).toBe(false);
  });

  it("catches a port whose IP changed", () => {
    const h = new HistoryBuilder().call("a", "CreatePort", args, p1);
    const r = noLostWrites(h.events, on({ ...empty, ports: [{ ...p1, ip_address: "10.0.0.6" }] }));
    expect(r.violations[0]).toMatch(/changed: port p1/);
  });

  it("catches a phantom: a definitely failed create that exists", () => {
    const mac = "02:00:00:00:00:99";
    const h = new HistoryBuilder()
      .invoke("a", "CreatePort", { ...args, mac_address: mac })
      .fail("a", "SUBNET_EXHAUSTED", 8);
    const ghost = { id: "px", vpc_id: vpc, ip_address: "10.0.0.9", mac_address: mac };
    const r = noLostWrites(h.events, on({ ...empty, ports: [ghost] }));
    expect(r.ok).toBe(false);
    expect(r.violations[0]).toMatch(/phantom: port px .*#0\.\.#1.*SUBNET_EXHAUSTED/);
    expect(noLostWrites(h.events, on(empty)).ok).toBe(true);
    // A phantom shown by a read is caught too.
    const read = new HistoryBuilder()
      .invoke("a", "CreatePort", { ...args, mac_address: mac })
      .fail("a", "SUBNET_EXHAUSTED", 8)
      .call("r", "GetPort", { ...args, port_id: "px" }, ghost);
    expect(noLostWrites(read.events, []).violations[0]).toMatch(/phantom.*read by GetPort/);
  });

  it("a conflict refusal is not phantom evidence", () => {
    const mac = "02:00:00:00:00:99";
    const h = new HistoryBuilder()
      .invoke("a", "CreatePort", { ...args, mac_address: mac })
      .fail("a", "MAC_ADDRESS_IN_USE", 6);
    const s = {
      ...empty,
      ports: [{ id: "px", vpc_id: vpc, ip_address: "10.0.0.9", mac_address: mac }],
    };
    expect(noLostWrites(h.events, on(s)).ok).toBe(true);
  });

  it("an info create may be present or absent", () => {
    const mac = "02:00:00:00:00:42";
    const h = new HistoryBuilder()
      .invoke("a", "CreatePort", { ...args, mac_address: mac })
      .info("a");
    const s = {
      ...empty,
      ports: [{ id: "p9", vpc_id: vpc, ip_address: "10.0.0.9", mac_address: mac }],
    };
    expect(noLostWrites(h.events, on(s)).ok).toBe(true);
    expect(noLostWrites(h.events, on(empty)).ok).toBe(true);
  });

  it("an info create once read back is known and must not be lost", () => {
    const mac = "02:00:00:00:00:42";
    const p9 = { id: "p9", vpc_id: vpc, ip_address: "10.0.0.9", mac_address: mac };
    const h = new HistoryBuilder()
      .invoke("a", "CreatePort", { ...args, mac_address: mac })
      .info("a")
      .call("r", "ListPorts", args, { ports: [p9] });
    expect(noLostWrites(h.events, on(empty)).violations[0]).toMatch(/lost: port p9/);
  });

  it("lists failed creates it cannot check for phantoms", () => {
    const h = new HistoryBuilder().invoke("a", "CreatePort", args).fail("a", "SUBNET_EXHAUSTED", 8);
    expect(noLostWrites(h.events, on(empty)).unchecked).toHaveLength(1);
  });

  it("SNAT and DNAT: lost, deleted by cascade, phantom", () => {
    const snat = { vpc_id: vpc, external_ip: "203.0.113.1", enabled: true };
    const d1 = {
      id: "d1",
      vpc_id: vpc,
      external_ip: "203.0.113.1",
      external_port: 80,
      internal_ip: "10.0.0.5",
      internal_port: 8080,
      protocol: "TCP",
    };
    const h = new HistoryBuilder()
      .call("a", "CreatePort", args, p1)
      .call("a", "CreateSnat", { vpc_id: vpc }, snat)
      .call(
        "a",
        "CreateDnat",
        { vpc_id: vpc, internal_ip: "10.0.0.5", internal_port: 8080, protocol: "TCP" },
        d1,
      );
    const full: FinalState = { ports: [p1], snats: [snat], dnats: [d1] };
    expect(noLostWrites(h.events, on(full)).ok).toBe(true);
    const r = noLostWrites(h.events, on({ ...full, snats: [], dnats: [] }));
    expect(r.violations).toHaveLength(2);
    h.call("a", "DeletePort", { ...args, port_id: "p1" });
    expect(noLostWrites(h.events, on({ ports: [], snats: [snat], dnats: [] })).ok).toBe(true);

    const failed = new HistoryBuilder()
      .invoke("a", "CreateDnat", {
        vpc_id: vpc,
        internal_ip: "10.0.0.5",
        internal_port: 8080,
        protocol: 1,
      })
      .fail("a", "EXTERNAL_IP_POOL_EXHAUSTED", 8);
    const v = noLostWrites(failed.events, on({ ports: [], snats: [], dnats: [d1] })).violations;
    expect(v[0]).toMatch(/phantom: DNAT d1/);
  });
});
