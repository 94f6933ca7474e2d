// Exactly-once client sessions (Raft dissertation §6.3): retries get the original result,
// the table is bounded, and expiry follows log time only.

import { describe, expect, it } from "vitest";
import { NetworkStateMachine } from "../../src/statemachine/index.js";
import { Harness, mac, testConfig, uuid } from "./harness.js";

describe("exactly-once sessions", () => {
  it("does not apply a retried request twice", () => {
    const h = new Harness().bootstrap();
    const a = h.client("acme", "web");
    a.ok("CreateVpc", { name: "a" });
    const fields = { port_id: uuid(1), subnet_id: a.child("default"), mac_address: mac(1) };
    const first = a.send("CreatePort", fields, 100);
    const digest = h.sm.resourceDigest();
    const retry = a.send("CreatePort", fields, 100);
    expect(retry).toEqual(first);
    expect(h.sm.resourceDigest()).toBe(digest);
    expect(h.sm.allocatedIps(a.child("default"))).toEqual(["10.0.0.2"]);
    // A retry that differs in content still gets the original result (request ids identify).
    expect(a.send("CreatePort", { ...fields, port_id: uuid(2) }, 100)).toEqual(first);
  });

  it("replays a rejection even when the request would now succeed", () => {
    const h = new Harness().bootstrap();
    const a = h.client("acme", "web");
    const subnet = { vpc_id: a.vpcId, name: "s", cidr: "10.0.1.0/24" };
    const rejected = a.send("CreateSubnet", subnet, 7);
    expect(rejected).toMatchObject({ ok: false, code: "NOT_FOUND" });
    a.ok("CreateVpc", { name: "a" });
    expect(a.send("CreateSubnet", subnet, 7)).toEqual(rejected);
    expect(a.send("CreateSubnet", subnet, 8).ok).toBe(true);
  });

  it("accepts request ids out of order inside the remembered window", () => {
    const h = new Harness().bootstrap();
    const a = h.client("acme", "web");
    a.send("CreateVpc", { name: "a" }, 5);
    expect(a.send("CreateSecurityGroup", { name: "g3" }, 3).ok).toBe(true);
    expect(a.send("CreateSecurityGroup", { name: "g4" }, 4).ok).toBe(true);
  });

  it("expires idle sessions by log time and keeps active ones", () => {
    const h = new Harness().bootstrap({ ...testConfig, session_timeout_ms: 60_000 });
    const a = h.client("acme", "web");
    const b = h.client("globex", "shop");
    a.ok("CreateVpc", { name: "a" });
    for (let i = 0; i < 10; i++) {
      h.timeMs += 10_000;
      a.ok("CreateSecurityGroup", { name: `g${i}` });
    }
    expect(a.send("CreateSecurityGroup", { name: "late" }).ok).toBe(true);
    expect(b.send("CreateVpc", { name: "b" })).toMatchObject({
      ok: false,
      code: "SESSION_EXPIRED",
    });
    // A leader with a slower clock does not bring it back: log time never goes backwards.
    h.timeMs -= 500_000;
    expect(b.send("CreateVpc", { name: "b" })).toMatchObject({ code: "SESSION_EXPIRED" });
    expect(h.sm.logTimeMs).toBeGreaterThan(h.timeMs);
    // Registering again opens a fresh session.
    h.apply({ type: "RegisterClient", client_id: b.clientId });
    expect(b.send("CreateVpc", { name: "b" }).ok).toBe(true);
  });

  it("bounds the table: registering one more session evicts the least recently active", () => {
    const h = new Harness().bootstrap({ ...testConfig, session_max: 3 });
    const clients = [1, 2, 3].map((i) => h.client("org", `p${i}`));
    clients[0]!.ok("CreateVpc", { name: "v" }); // p1 is now the most recently active
    const fourth = h.client("org", "p4");
    expect(clients[1]!.send("CreateVpc", { name: "v" })).toMatchObject({ code: "SESSION_EXPIRED" });
    expect(clients[0]!.send("CreateSecurityGroup", { name: "g" }).ok).toBe(true);
    expect(clients[2]!.send("CreateVpc", { name: "v" }).ok).toBe(true);
    expect(fourth.send("CreateVpc", { name: "v" }).ok).toBe(true);
    h.sm.checkInvariants();
  });

  it("bounds the remembered responses and raises the floor", () => {
    const h = new Harness().bootstrap({ ...testConfig, session_responses_max: 3 });
    const a = h.client("acme", "web");
    a.send("CreateVpc", { name: "a" }, 1);
    for (let id = 2; id <= 6; id++) a.send("CreateSecurityGroup", { name: `g${id}` }, id);
    for (const id of [1, 2, 3]) {
      expect(a.send("CreateSecurityGroup", { name: `g${id}` }, id)).toMatchObject({
        code: "STALE_REQUEST",
      });
    }
    for (const id of [4, 5, 6])
      expect(a.send("CreateSecurityGroup", { name: `x${id}` }, id).ok).toBe(true);
  });

  it("forgets a closed session", () => {
    const h = new Harness().bootstrap();
    const a = h.client("acme", "web");
    a.ok("CreateVpc", { name: "a" });
    expect(h.apply({ type: "CloseSession", client_id: a.clientId }).ok).toBe(true);
    expect(a.send("CreateSecurityGroup", { name: "g" })).toMatchObject({ code: "SESSION_EXPIRED" });
    expect(h.apply({ type: "RegisterClient", client_id: "bad id" })).toMatchObject({
      code: "INVALID_ARGUMENT",
    });
  });

  it("keeps sessions across snapshot and restore", () => {
    const h = new Harness().bootstrap();
    const a = h.client("acme", "web");
    const first = a.send("CreateVpc", { name: "a" }, 42);
    h.sm = NetworkStateMachine.restore(h.sm.snapshot());
    expect(a.send("CreateVpc", { name: "a" }, 42)).toEqual(first);
  });
});
