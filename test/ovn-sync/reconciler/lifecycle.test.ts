// Every resource kind, created, updated and deleted through the real state machine, appears in a
// real NB exactly as desiredNorthbound maps it, through incremental passes (one full pass at the
// start only); then portStatus, and small transactions with many ports.

import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import type { OvnSync } from "../../../src/ovn-sync/index.js";
import {
  NB_DATABASE,
  type NbRows,
  type OvsdbClient,
  whereUuid,
} from "../../../src/ovn-sync/ovsdb/index.js";
import { mac, uuid } from "../../statemachine/harness.js";
import { NbServer } from "../ovsdb/server-harness.js";
import {
  converged,
  httpFromAnywhere,
  newSync,
  observer,
  TrackedHarness,
  until,
} from "./helpers.js";

let server: NbServer;
const open: { sync?: OvnSync; obs?: OvsdbClient<NbRows> }[] = [];

beforeAll(async () => {
  server = await NbServer.create();
});
afterEach(async () => {
  for (const o of open.splice(0)) {
    await o.sync?.close();
    o.obs?.close();
  }
  // A fresh database for the next test.
  await server.kill();
  const { rmSync } = await import("node:fs");
  rmSync(server.dbPath, { force: true });
  const { execFileSync } = await import("node:child_process");
  execFileSync("ovsdb-tool", ["create", server.dbPath, "/usr/share/ovn/ovn-nb.ovsschema"]);
  await server.start();
});
afterAll(async () => {
  await server?.destroy();
});

async function setup(o: { txnOpsMax?: number } = {}) {
  const h = new TrackedHarness().bootstrap();
  const sync = newSync([server.unixRemote], h, o);
  h.syncs.push(sync);
  const obs = await observer([server.unixRemote]);
  open.push({ sync, obs });
  sync.start();
  sync.becomeLeader(1, h.index);
  await converged(sync, obs, h);
  return { h, sync, obs };
}

describe("resource lifecycle through incremental passes", () => {
  it("VPC, subnet, port, security group, SNAT, DNAT: create, update, delete", async () => {
    const { h, sync, obs } = await setup();
    const step = () => converged(sync, obs, h);
    const acme = h.client("acme", "web");
    const globex = h.client("globex", "shop");

    // VPCs (each with its default subnet and default security group).
    acme.ok("CreateVpc", { name: "acme", cidr: "10.1.0.0/16", ipv6_cidr: "fd00:1::/48" });
    globex.ok("CreateVpc", { name: "globex", cidr: "10.1.0.0/16" });
    await step();

    // Subnets: DHCP off, IPv6 with DHCP, then dns/mtu and DHCP toggles.
    acme.ok("CreateSubnet", {
      vpc_id: acme.vpcId,
      name: "db",
      cidr: "10.1.1.0/24",
      dhcp_enabled: false,
    });
    acme.ok("CreateSubnet", { vpc_id: acme.vpcId, name: "v6", cidr: "fd00:1:0:1::/64" });
    await step();
    acme.ok("UpdateSubnet", {
      subnet_id: acme.child("default"),
      dns_servers: ["8.8.8.8", "1.1.1.1"],
      mtu: 1400,
    });
    acme.ok("UpdateSubnet", { subnet_id: acme.child("db"), dhcp_enabled: true });
    await step();
    acme.ok("UpdateSubnet", { subnet_id: acme.child("db"), dhcp_enabled: false });
    await step();

    // Security groups, including a group source and an ICMP rule.
    acme.ok("CreateSecurityGroup", {
      name: "web",
      ingress_rules: [
        httpFromAnywhere,
        { id: "ssh", protocol: "TCP", source_type: "SECURITY_GROUP", source: "default" },
      ],
      egress_rules: [{ id: "out", protocol: "ALL", source_type: "CIDR", source: "10.0.0.0/8" }],
    });
    await step();

    // Ports: create (with and without groups, in a DHCP subnet and not), change groups, attach.
    const p1 = uuid(1);
    const p2 = uuid(2);
    const p3 = uuid(3);
    acme.ok("CreatePort", { port_id: p1, subnet_id: acme.child("default"), mac_address: mac(1) });
    acme.ok("CreatePort", {
      port_id: p2,
      subnet_id: acme.child("db"),
      mac_address: mac(2),
      security_group_ids: ["web"],
    });
    globex.ok("CreatePort", {
      port_id: p3,
      subnet_id: globex.child("default"),
      mac_address: mac(3),
    });
    await step();
    acme.ok("UpdatePort", { port_id: p1, security_group_ids: ["default", "web"] });
    acme.ok("AttachPort", { port_id: p1, vm_id: "vm-1" });
    await step();
    acme.ok("AddSecurityRule", {
      security_group_id: "web",
      direction: "INGRESS",
      rule: {
        id: "ping",
        protocol: "ICMP",
        port_range: { min: 8, max: 0 },
        source_type: "CIDR",
        source: "192.0.2.0/24",
      },
    });
    await step();
    acme.ok("RemoveSecurityRule", { security_group_id: "web", rule_id: "http" });
    await step();
    acme.ok("DetachPort", { port_id: p1 });
    acme.ok("DeletePort", { port_id: p2 });
    await step();

    // SNAT on, off (disabled keeps the gateway port), deleted; DNAT created and deleted.
    acme.ok("CreateSnat", { vpc_id: acme.vpcId, external_ip: "203.0.113.5" });
    await step();
    acme.ok("DeleteSnat", { vpc_id: acme.vpcId });
    acme.ok("CreateSnat", { vpc_id: acme.vpcId, external_ip: "203.0.113.5", enabled: false });
    await step();
    acme.ok("DeleteSnat", { vpc_id: acme.vpcId });
    await step();
    const ipOf = (c: typeof acme, id: string) => {
      const r = h.sm.queries.getPort(c.scope(), id);
      if (!r.ok) throw new Error(`no port ${id}`);
      return r.value.ip_address;
    };
    const d1 = uuid(101);
    acme.ok("CreateDnat", {
      dnat_id: d1,
      vpc_id: acme.vpcId,
      external_ip: "203.0.113.7",
      external_port: 8080,
      protocol: "TCP",
      internal_ip: ipOf(acme, p1),
      internal_port: 80,
    });
    globex.ok("CreateDnat", {
      dnat_id: uuid(102),
      vpc_id: globex.vpcId,
      external_ip: "203.0.113.8",
      external_port: 53,
      protocol: "UDP",
      internal_ip: ipOf(globex, p3),
      internal_port: 53,
    });
    await step();
    acme.ok("DeleteDnat", { dnat_id: d1 });
    await step();
    // 1:1 DNAT (floating IP) next to a SNAT: a dnat_and_snat row appears, then goes.
    const natRows = () =>
      [...obs.cache.table("NAT").values()].filter(
        (r) => r.external_ids["novanet:vpc"] === acme.vpcId,
      );
    acme.ok("CreateSnat", { vpc_id: acme.vpcId, external_ip: "203.0.113.5" });
    const fip = uuid(103);
    acme.ok("CreateDnat", {
      dnat_id: fip,
      vpc_id: acme.vpcId,
      external_ip: "203.0.113.9",
      external_port: 0,
      protocol: "ALL",
      internal_ip: ipOf(acme, p1),
      internal_port: 0,
    });
    await step();
    const floating = natRows().filter((r) => r.type === "dnat_and_snat");
    expect(floating).toHaveLength(1);
    expect(floating[0]).toMatchObject({
      external_ip: "203.0.113.9",
      logical_ip: ipOf(acme, p1),
      external_ids: { "novanet:dnat_id": fip, "novanet:kind": "floating-ip" },
    });
    expect(natRows().filter((r) => r.type === "snat").length).toBeGreaterThan(0);
    acme.ok("DeleteDnat", { dnat_id: fip });
    await step();
    expect(natRows().filter((r) => r.type === "dnat_and_snat")).toEqual([]);
    acme.ok("DeleteSnat", { vpc_id: acme.vpcId });
    await step();
    expect(natRows()).toEqual([]);

    // Group removal (ports first), then subnet removal.
    acme.ok("UpdatePort", { port_id: p1, security_group_ids: ["default"] });
    acme.ok("DeleteSecurityGroup", { security_group_id: "web" });
    await step();
    acme.ok("DeleteSubnet", { subnet_id: acme.child("v6") });
    await step();

    // VPC delete with cascade: every row of acme goes, globex's stay.
    acme.ok("DeleteVpc", { vpc_id: acme.vpcId, cascade: true });
    await step();
    const left = [...obs.cache.table("Logical_Switch_Port").values()].filter(
      (r) => r.external_ids["novanet:vpc"] === acme.vpcId,
    );
    expect(left).toEqual([]);
    expect([...obs.cache.table("Logical_Switch_Port").values()].some((r) => r.name === p3)).toBe(
      true,
    );

    // Everything above went through incremental passes.
    expect(sync.status().fullSyncs).toBe(1);
    expect(sync.status().failedTransactions).toBe(0);
    expect(sync.status().repairedRows).toBe(0);
  });

  it("portStatus reports the LSP uuid and OVN's up flag", async () => {
    const { h, sync, obs } = await setup();
    const acme = h.client("acme", "web");
    acme.ok("CreateVpc", { name: "acme", cidr: "10.1.0.0/16" });
    const p1 = uuid(1);
    acme.ok("CreatePort", { port_id: p1, subnet_id: acme.child("default"), mac_address: mac(1) });
    await converged(sync, obs, h);
    const lsp = [...obs.cache.table("Logical_Switch_Port").values()].find((r) => r.name === p1)!;
    expect(sync.portStatus(p1)).toEqual({ ovnPortUuid: lsp._uuid, up: false });
    expect(sync.portStatus(uuid(99))).toBeUndefined();
    // northd sets `up`; here the test does.
    await obs.transact(NB_DATABASE, [
      {
        op: "update",
        table: "Logical_Switch_Port",
        where: whereUuid(lsp._uuid),
        row: { up: true },
      },
    ]);
    await until(
      () => sync.portStatus(p1)?.up === true,
      () => JSON.stringify(sync.portStatus(p1)),
    );
    // `up` is OVN's column: a full pass leaves it alone.
    sync.applied(h.index, { kind: "all" });
    await until(
      () => sync.status().fullSyncs === 2,
      () => JSON.stringify(sync.status()),
    );
    expect(sync.portStatus(p1)).toEqual({ ovnPortUuid: lsp._uuid, up: true });
  });

  it("txnOpsMax 20 still converges with many ports (splitting, no orphans)", async () => {
    const { h, sync, obs } = await setup({ txnOpsMax: 20 });
    const acme = h.client("acme", "web");
    acme.ok("CreateVpc", { name: "acme", cidr: "10.1.0.0/16" });
    acme.ok("CreateSecurityGroup", {
      name: "many",
      ingress_rules: Array.from({ length: 30 }, (_, i) => ({
        id: `r${i}`,
        protocol: "TCP" as const,
        port_range: { min: 1000 + i, max: 1000 + i },
        source_type: "CIDR" as const,
        source: "0.0.0.0/0",
      })),
    });
    acme.ok("CreateSnat", { vpc_id: acme.vpcId, external_ip: "203.0.113.5" });
    acme.ok("CreateSubnet", { vpc_id: acme.vpcId, name: "big", cidr: "10.1.4.0/22" });
    for (let i = 0; i < 300; i++) {
      acme.ok("CreatePort", {
        port_id: uuid(1000 + i),
        subnet_id: acme.child("big"),
        mac_address: mac(1000 + i),
        security_group_ids: ["default", "many"],
      });
    }
    await converged(sync, obs, h, 20_000);
    expect(sync.status().transactions).toBeGreaterThan(20);
    // An incremental pass costs what its VPC changed, not the 300 ports elsewhere.
    const globex = h.client("globex", "shop");
    globex.ok("CreateVpc", { name: "globex", cidr: "10.2.0.0/16" });
    await converged(sync, obs, h);
    const before = sync.status();
    globex.ok("CreatePort", {
      port_id: uuid(1),
      subnet_id: globex.child("default"),
      mac_address: mac(1),
    });
    await converged(sync, obs, h);
    // Fence + LSP insert + switch mutate, then fence + drop group and default group mutates.
    expect(sync.status().operations - before.operations).toBeLessThanOrEqual(8);
    expect(sync.status().transactions - before.transactions).toBeLessThanOrEqual(2);
    expect(sync.status().fullSyncs).toBe(before.fullSyncs);
    // Then a full pass from scratch: wipe NB's owned rows and let a full pass rebuild them all.
    await obs.transact(NB_DATABASE, [
      { op: "delete", table: "Logical_Switch", where: [] },
      { op: "delete", table: "Logical_Router", where: [] },
      { op: "delete", table: "Port_Group", where: [] },
      { op: "delete", table: "DHCP_Options", where: [] },
    ]);
    // The sync's own monitor sees the wipe at about the same time as the observer's; a pass
    // planned from a cache that has not seen it yet would find nothing to do.
    await new Promise((r) => setTimeout(r, 200));
    sync.applied(h.index, { kind: "all" });
    await converged(sync, obs, h, 20_000);
    expect(sync.status().repairedRows).toBeGreaterThan(300);
  });
});
