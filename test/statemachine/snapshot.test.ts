// Snapshot and digest: restore gives the same digest, behaves identically afterwards, and
// refuses corrupted or foreign bytes.

import { createHash } from "node:crypto";
import { Packr } from "msgpackr";
import { describe, expect, it } from "vitest";
import {
  NetworkStateMachine,
  SnapshotError,
  snapshotFormatVersion,
} from "../../src/statemachine/index.js";
import { type Client, Harness, mac, uuid } from "./harness.js";

function populated(): { h: Harness; a: Client; b: Client } {
  const h = new Harness().bootstrap();
  const a = h.client("acme", "web");
  const b = h.client("globex", "shop");
  a.ok("CreateVpc", { name: "a", ipv6_cidr: "fd00:a::/48" });
  b.ok("CreateVpc", { name: "b", cidr: "10.0.0.0/16" });
  a.ok("CreateSubnet", { vpc_id: a.vpcId, name: "v6", cidr: "fd00:a:0:1::/64" });
  a.ok("CreateSubnet", {
    vpc_id: a.vpcId,
    name: "s",
    cidr: "10.0.4.0/22",
    reserved_ranges: [{ start: "10.0.4.10", end: "10.0.4.20" }],
  });
  // Group "a" is created before "b" but later names it: restore must handle forward references.
  a.ok("CreateSecurityGroup", { name: "ga" });
  a.ok("CreateSecurityGroup", {
    name: "gb",
    ingress_rules: [{ id: "x", protocol: "ALL", source_type: "SECURITY_GROUP", source: "ga" }],
  });
  a.ok("AddSecurityRule", {
    security_group_id: "ga",
    direction: "INGRESS",
    rule: {
      id: "y",
      protocol: "UDP",
      port_range: { min: 53, max: 53 },
      source_type: "SECURITY_GROUP",
      source: "gb",
    },
  });
  for (let i = 1; i <= 20; i++) {
    a.ok("CreatePort", {
      port_id: uuid(i),
      subnet_id: a.child(i % 2 === 0 ? "s" : "default"),
      mac_address: mac(i),
      security_group_ids: ["ga"],
    });
  }
  a.ok("CreatePort", {
    port_id: uuid(100),
    subnet_id: a.child("v6"),
    mac_address: mac(100),
    ip_address: "fd00:a:0:1:ffff::9",
  });
  for (const i of [3, 4, 7]) a.ok("DeletePort", { port_id: uuid(i) });
  b.ok("CreatePort", {
    port_id: uuid(200),
    subnet_id: b.child("default"),
    mac_address: mac(1),
    vm_id: "vm-9",
  });
  a.ok("CreateSnat", { vpc_id: a.vpcId });
  a.ok("CreateDnat", {
    dnat_id: uuid(300),
    vpc_id: a.vpcId,
    external_port: 80,
    protocol: "TCP",
    internal_ip: "10.0.0.2",
    internal_port: 8080,
  });
  b.ok("CreateDnat", {
    dnat_id: uuid(301),
    vpc_id: b.vpcId,
    external_port: 80,
    protocol: "TCP",
    internal_ip: "10.0.0.2",
    internal_port: 80,
  });
  return { h, a, b };
}

describe("snapshot", () => {
  it("restores to the same digest and the same iteration order", () => {
    const { h } = populated();
    h.sm.checkInvariants();
    const bytes = h.sm.snapshot();
    const restored = NetworkStateMachine.restore(bytes);
    expect(restored.digest()).toBe(h.sm.digest());
    expect(restored.resourceDigest()).toBe(h.sm.resourceDigest());
    expect(Buffer.from(restored.snapshot())).toEqual(Buffer.from(bytes));
    expect([...restored.ports()]).toEqual([...h.sm.ports()]);
    expect([...restored.securityGroups()]).toEqual([...h.sm.securityGroups()]);
    expect([...restored.externalIps()]).toEqual([...h.sm.externalIps()]);
    expect(restored.appliedIndex).toBe(h.sm.appliedIndex);
  });

  it("behaves identically after restore (cursors, pools, sessions)", () => {
    const original = populated();
    const copy = new Harness();
    copy.sm = NetworkStateMachine.restore(original.h.sm.snapshot());
    copy.index = original.h.index;
    copy.timeMs = original.h.timeMs;
    const script = (h: Harness) => {
      const a = new (original.a.constructor as typeof Client)(
        h,
        "acme",
        "web",
        original.a.clientId,
      );
      a.nextRequestId = original.a.nextRequestId;
      return [
        a.send("CreatePort", {
          port_id: uuid(400),
          subnet_id: a.child("s"),
          mac_address: mac(400),
        }),
        a.send("CreatePort", {
          port_id: uuid(401),
          subnet_id: a.child("v6"),
          mac_address: mac(401),
        }),
        a.send("CreateDnat", {
          dnat_id: uuid(402),
          vpc_id: a.vpcId,
          external_port: 81,
          protocol: "UDP",
          internal_ip: "10.0.0.2",
          internal_port: 81,
        }),
        a.send("DeleteVpc", { vpc_id: a.vpcId, cascade: true }),
        a.send("CreateVpc", { name: "again" }),
        a.send("CreateVpc", { name: "again" }, 1), // a retry from before the snapshot
      ];
    };
    expect(script(copy)).toEqual(script(original.h));
    expect(copy.sm.digest()).toBe(original.h.sm.digest());
  });

  it("round-trips an empty machine", () => {
    const empty = new NetworkStateMachine();
    expect(NetworkStateMachine.restore(empty.snapshot()).digest()).toBe(empty.digest());
  });

  it("refuses corrupt, foreign and future snapshots", () => {
    const { h } = populated();
    const bytes = h.sm.snapshot();
    const corrupt = Uint8Array.from(bytes);
    corrupt[Math.floor(corrupt.length / 2)]! ^= 0x40;
    expect(() => NetworkStateMachine.restore(corrupt)).toThrow(SnapshotError);
    expect(() => NetworkStateMachine.restore(bytes.subarray(0, bytes.length - 10))).toThrow(
      SnapshotError,
    );
    const packr = new Packr({ useRecords: false, mapsAsObjects: true });
    const [magic, , body, sum] = packr.unpack(bytes) as [string, number, Uint8Array, string];
    expect(() =>
      NetworkStateMachine.restore(packr.pack([magic, snapshotFormatVersion + 1, body, sum])),
    ).toThrow(/version/);
    expect(() =>
      NetworkStateMachine.restore(packr.pack(["other", snapshotFormatVersion, body, sum])),
    ).toThrow(/not a snapshot/);
    expect(() => NetworkStateMachine.restore(new Uint8Array([1, 2, 3]))).toThrow(SnapshotError);
  });

  it("detects a well-formed snapshot whose content is inconsistent", () => {
    const { h } = populated();
    const packr = new Packr({ useRecords: false, mapsAsObjects: true, moreTypes: false });
    const [magic, version, bodyBytes] = packr.unpack(h.sm.snapshot()) as [
      string,
      number,
      Uint8Array,
    ];
    const body = packr.unpack(bodyBytes) as { ports: unknown[][] };
    body.ports[1]![7] = body.ports[0]![7]; // two ports with one address
    const forged = packr.pack(body);
    const sum = createHash("sha256").update(forged).digest("hex");
    expect(() => NetworkStateMachine.restore(packr.pack([magic, version, forged, sum]))).toThrow(
      SnapshotError,
    );
  });
});
