// Table tests: every error code of the spec's Appendix A and of the issue, and every rule of
// the issue, one command at a time. Every rejection also checks that no resource changed
// (Client.fails compares resourceDigest before and after).

import { afterAll, describe, expect, it } from "vitest";
import {
  defaultNetworkConfig,
  encodeCommand,
  errorCodeMeaning,
  errorCodes,
  limits,
  NetworkStateMachine,
  type Result,
  type SecurityRuleSpec,
} from "../../src/statemachine/index.js";
import { codesSeen, Harness, mac, testConfig, uuid } from "./harness.js";

function record<T>(result: Result<T>): Result<T> {
  codesSeen.add(result.ok ? "ok" : result.code);
  return result;
}

function setup(config = testConfig) {
  const h = new Harness().bootstrap(config);
  const a = h.client("acme", "web");
  const b = h.client("globex", "shop");
  const vpcA = a.ok("CreateVpc", { name: "a" });
  return { h, a, b, vpcA };
}

const tcp = (id: string, min: number, max: number, source = "0.0.0.0/0"): SecurityRuleSpec => ({
  id,
  protocol: "TCP",
  port_range: { min, max },
  source_type: "CIDR",
  source,
});

afterAll(() => {
  // OVN_CONNECTION_FAILED is the OVN sync's code; apply does no I/O and never returns it.
  const expected = errorCodes.filter((code) => code !== "OVN_CONNECTION_FAILED");
  expect(expected.filter((code) => !codesSeen.has(code))).toEqual([]);
});

describe("error codes", () => {
  it("are a closed, documented list including all of Appendix A", () => {
    for (const code of [
      "INVALID_CIDR",
      "CIDR_OVERLAP",
      "SUBNET_OUTSIDE_VPC",
      "IP_OUTSIDE_SUBNET",
      "IP_ALREADY_ALLOCATED",
      "OVN_CONNECTION_FAILED",
      "SECURITY_GROUP_NOT_FOUND",
      "PORT_ALREADY_ATTACHED",
    ]) {
      expect(errorCodes).toContain(code);
    }
    expect(new Set(errorCodes).size).toBe(errorCodes.length);
    for (const code of errorCodes) expect(errorCodeMeaning[code].length).toBeGreaterThan(10);
  });
});

describe("bootstrap and sessions", () => {
  it("refuses everything before Bootstrap (NOT_BOOTSTRAPPED)", () => {
    const h = new Harness();
    expect(record(h.apply({ type: "RegisterClient", client_id: "c" }))).toMatchObject({
      code: "NOT_BOOTSTRAPPED",
    });
    const create = {
      type: "CreateVpc",
      client_id: "c",
      request_id: 1,
      org_id: "o",
      project_id: "p",
      name: "v",
    } as const;
    expect(record(h.apply(create))).toMatchObject({ code: "NOT_BOOTSTRAPPED" });
  });

  it("validates the config and accepts only one", () => {
    const h = new Harness();
    const bad = (patch: object, code: string) =>
      expect(
        record(h.apply({ type: "Bootstrap", config: { ...defaultNetworkConfig, ...patch } })),
      ).toMatchObject({ code });
    bad({ cidr_pool: "10.0.0.1/8" }, "INVALID_CIDR");
    bad({ cidr_pool: "fd00::/8" }, "INVALID_CIDR");
    bad({ vpc_prefix_length: 7 }, "INVALID_ARGUMENT");
    bad({ cidr_pool: "16.0.0.0/4", vpc_prefix_length: 24 }, "LIMIT_EXCEEDED");
    bad({ default_subnet_size: 30 }, "INVALID_ARGUMENT");
    bad({ session_max: 0 }, "INVALID_ARGUMENT");
    bad({ cidr_pool: "127.0.0.0/8" }, "INVALID_CIDR");
    bad(
      { default_subnet_size: 29, subnet_reserved_leading: 3, subnet_reserved_trailing: 3 },
      "INVALID_ARGUMENT",
    );
    bad({ external_ip_pool: ["203.0.113.0/24", "203.0.113.128/25"] }, "INVALID_ARGUMENT");
    bad({ external_ip_pool: ["203.0.113.9-203.0.113.1"] }, "INVALID_ARGUMENT");
    expect(h.sm.bootstrapped).toBe(false);
    expect(h.apply({ type: "Bootstrap", config: testConfig }).ok).toBe(true);
    expect(h.apply({ type: "Bootstrap", config: testConfig }).ok).toBe(true);
    const other = { ...testConfig, vpc_prefix_length: 20 };
    expect(record(h.apply({ type: "Bootstrap", config: other }))).toMatchObject({
      code: "FAILED_PRECONDITION",
    });
  });

  it("rejects undecodable entries (INVALID_COMMAND) and unknown sessions (SESSION_EXPIRED)", () => {
    const { h, a } = setup();
    const before = h.sm.resourceDigest();
    const ctx = { index: ++h.index, term: 1, timestampMs: h.timeMs };
    expect(record(h.sm.apply(new Uint8Array([0xc1, 0x00]), ctx))).toMatchObject({
      code: "INVALID_COMMAND",
    });
    const stranger = {
      ...a.command("CreateSubnet", { vpc_id: a.vpcId, name: "s", cidr: "10.0.1.0/24" }),
      client_id: "nobody",
    };
    expect(record(h.apply(stranger))).toMatchObject({ code: "SESSION_EXPIRED" });
    expect(h.sm.resourceDigest()).toBe(before);
  });

  it("answers a retry with the original result, and an evicted one with STALE_REQUEST", () => {
    const h = new Harness().bootstrap({ ...testConfig, session_responses_max: 2 });
    const a = h.client("acme", "web");
    const first = a.send("CreateVpc", { name: "a" }, 1);
    a.send("CreateSecurityGroup", { name: "g1" }, 2);
    expect(a.send("CreateVpc", { name: "a" }, 1)).toBe(first);
    a.send("CreateSecurityGroup", { name: "g2" }, 3);
    const before = h.sm.resourceDigest();
    expect(record(a.send("CreateVpc", { name: "a" }, 1))).toMatchObject({ code: "STALE_REQUEST" });
    expect(h.sm.resourceDigest()).toBe(before);
  });
});

describe("VPC", () => {
  it("auto-allocates /16 blocks from the pool and creates the default subnet and group", () => {
    const { a, b, vpcA } = setup();
    expect(vpcA.vpc).toMatchObject({
      id: "acme/web",
      cidr: "10.0.0.0/16",
      cidr_auto_allocated: true,
    });
    expect(vpcA.default_subnet).toMatchObject({
      id: "acme/web/default",
      cidr: "10.0.0.0/24",
      gateway_ip: "10.0.0.1",
      dhcp_enabled: true,
    });
    const group = vpcA.default_security_group;
    expect(group.id).toBe("acme/web/default");
    expect(group.ingress_rules).toEqual([
      {
        id: "default-ingress-self",
        protocol: "ALL",
        port_range: null,
        source_type: "SECURITY_GROUP",
        source: group.id,
      },
    ]);
    expect(group.egress_rules.map((r) => r.source)).toEqual(["0.0.0.0/0", "::/0"]);
    expect(b.ok("CreateVpc", { name: "b" }).vpc.cidr).toBe("10.1.0.0/16");
    a.fails("CreateVpc", { name: "again" }, "ALREADY_EXISTS");
  });

  it("never hands out the same auto CIDR twice while it is live, and reuses freed blocks last", () => {
    const h = new Harness().bootstrap({
      ...testConfig,
      cidr_pool: "10.0.0.0/22",
      vpc_prefix_length: 24,
    });
    const clients = [0, 1, 2, 3, 4].map((i) => h.client("org", `p${i}`));
    const cidrs = clients.slice(0, 3).map((c) => c.ok("CreateVpc", { name: "v" }).vpc.cidr);
    expect(cidrs).toEqual(["10.0.0.0/24", "10.0.1.0/24", "10.0.2.0/24"]);
    clients[0]!.ok("DeleteVpc", { vpc_id: clients[0]!.vpcId });
    expect(clients[3]!.ok("CreateVpc", { name: "v" }).vpc.cidr).toBe("10.0.3.0/24");
    expect(clients[0]!.ok("CreateVpc", { name: "v" }).vpc.cidr).toBe("10.0.0.0/24"); // wrapped
    clients[4]!.fails("CreateVpc", { name: "v" }, "CIDR_POOL_EXHAUSTED");
    // An explicit CIDR does not need the pool.
    expect(
      clients[4]!.ok("CreateVpc", { name: "v", cidr: "10.0.0.0/16" }).vpc.cidr_auto_allocated,
    ).toBe(false);
  });

  it("lets explicit CIDRs of different tenants overlap", () => {
    const { a, b } = setup();
    a.ok("DeleteVpc", { vpc_id: a.vpcId });
    expect(a.ok("CreateVpc", { name: "a", cidr: "172.16.0.0/16" }).vpc.cidr).toBe("172.16.0.0/16");
    expect(b.ok("CreateVpc", { name: "b", cidr: "172.16.0.0/16" }).vpc.cidr).toBe("172.16.0.0/16");
  });

  it.each([
    ["10.0.0.1/16", "host bits"],
    ["10.0.0.0/30", "longer than the default subnet"],
    ["10.0.0.0/7", "shorter than /8"],
    ["127.0.0.0/16", "loopback"],
    ["224.0.0.0/16", "multicast"],
    ["fd00::/48", "IPv6 in cidr"],
    ["banana", "malformed"],
  ])("refuses VPC cidr %s (%s) with INVALID_CIDR", (cidr) => {
    const { b } = setup();
    b.fails("CreateVpc", { name: "b", cidr }, "INVALID_CIDR");
  });

  it("validates ipv6_cidr and the name", () => {
    const { b } = setup();
    b.fails("CreateVpc", { name: "b", ipv6_cidr: "10.0.0.0/16" }, "INVALID_CIDR");
    b.fails("CreateVpc", { name: "b", ipv6_cidr: "fd00::/80" }, "INVALID_CIDR");
    b.fails("CreateVpc", { name: "bad\u0000name" }, "INVALID_ARGUMENT");
    expect(b.ok("CreateVpc", { name: "b", ipv6_cidr: "fd00:1::/56" }).vpc.ipv6_cidr).toBe(
      "fd00:1::/56",
    );
  });

  it("refuses to delete a VPC with ports unless cascade, and cascade removes everything", () => {
    const { h, a } = setup();
    a.ok("CreatePort", { port_id: uuid(1), subnet_id: a.child("default"), mac_address: mac(1) });
    a.ok("CreateSnat", { vpc_id: a.vpcId });
    a.ok("CreateDnat", {
      dnat_id: uuid(9),
      vpc_id: a.vpcId,
      external_port: 80,
      protocol: "TCP",
      internal_ip: "10.0.0.2",
      internal_port: 80,
    });
    a.ok("CreateSecurityGroup", {
      name: "web",
      ingress_rules: [
        { id: "r", protocol: "ALL", source_type: "SECURITY_GROUP", source: "default" },
      ],
    });
    a.fails("DeleteVpc", { vpc_id: a.vpcId }, "FAILED_PRECONDITION");
    const deleted = a.ok("DeleteVpc", { vpc_id: a.vpcId, cascade: true });
    expect(deleted).toEqual({
      deleted_subnet_ids: ["acme/web/default"],
      deleted_port_ids: [uuid(1)],
      deleted_security_group_ids: ["acme/web/default", "acme/web/web"],
      deleted_dnat_ids: [uuid(9)],
      deleted_snat: true,
    });
    expect([...h.sm.externalIps()]).toEqual([]);
    expect([...h.sm.vpcs()]).toHaveLength(0);
    a.fails("DeleteVpc", { vpc_id: a.vpcId }, "NOT_FOUND");
    h.sm.checkInvariants();
  });

  it("deletes an empty VPC with its subnets and groups without cascade", () => {
    const { h, a } = setup();
    a.ok("CreateSubnet", { vpc_id: a.vpcId, name: "s", cidr: "10.0.1.0/24" });
    a.ok("DeleteVpc", { vpc_id: a.vpcId });
    expect([...h.sm.subnets()]).toHaveLength(0);
    expect([...h.sm.securityGroups()]).toHaveLength(0);
  });
});

describe("subnet", () => {
  it("checks containment, overlap and the CIDR", () => {
    const { a } = setup();
    a.fails(
      "CreateSubnet",
      { vpc_id: a.vpcId, name: "s", cidr: "10.1.0.0/24" },
      "SUBNET_OUTSIDE_VPC",
    );
    a.fails("CreateSubnet", { vpc_id: a.vpcId, name: "s", cidr: "10.0.0.128/25" }, "CIDR_OVERLAP");
    a.fails("CreateSubnet", { vpc_id: a.vpcId, name: "s", cidr: "10.0.0.0/16" }, "CIDR_OVERLAP");
    a.fails("CreateSubnet", { vpc_id: a.vpcId, name: "s", cidr: "10.0.1.0/30" }, "INVALID_CIDR");
    a.fails("CreateSubnet", { vpc_id: a.vpcId, name: "s", cidr: "10.0.1.1/24" }, "INVALID_CIDR");
    a.fails(
      "CreateSubnet",
      { vpc_id: a.vpcId, name: "s", cidr: "fd00::/64" },
      "SUBNET_OUTSIDE_VPC",
    );
    a.fails(
      "CreateSubnet",
      { vpc_id: a.vpcId, name: "default", cidr: "10.0.1.0/24" },
      "ALREADY_EXISTS",
    );
    a.fails(
      "CreateSubnet",
      { vpc_id: a.vpcId, name: "a/b", cidr: "10.0.1.0/24" },
      "INVALID_ARGUMENT",
    );
    a.fails("CreateSubnet", { vpc_id: "acme/other", name: "s", cidr: "10.0.1.0/24" }, "NOT_FOUND");
    const subnet = a.ok("CreateSubnet", {
      vpc_id: a.vpcId,
      name: "s",
      cidr: "10.0.1.0/24",
      dns_servers: ["8.8.8.8", "2001:4860::8888"],
    });
    expect(subnet).toMatchObject({
      id: "acme/web/s",
      gateway_ip: "10.0.1.1",
      dns_servers: ["8.8.8.8", "2001:4860::8888"],
      mtu: null,
    });
  });

  it("validates gateway, DNS servers, MTU and reserved ranges", () => {
    const { a } = setup();
    const base = { vpc_id: a.vpcId, name: "s", cidr: "10.0.1.0/24" };
    a.fails("CreateSubnet", { ...base, gateway_ip: "10.0.2.1" }, "IP_OUTSIDE_SUBNET");
    a.fails("CreateSubnet", { ...base, gateway_ip: "10.0.1.0" }, "IP_RESERVED");
    a.fails("CreateSubnet", { ...base, gateway_ip: "10.0.1.255" }, "IP_RESERVED");
    a.fails("CreateSubnet", { ...base, gateway_ip: "10.0.1" }, "INVALID_ARGUMENT");
    a.fails(
      "CreateSubnet",
      { ...base, dns_servers: ["1.1.1.1", "1.1.1.2", "1.1.1.3", "1.1.1.4", "1.1.1.5", "1.1.1.6"] },
      "LIMIT_EXCEEDED",
    );
    a.fails("CreateSubnet", { ...base, dns_servers: ["1.1.1.1", "1.1.1.1"] }, "INVALID_ARGUMENT");
    a.fails("CreateSubnet", { ...base, dns_servers: ["dns.google"] }, "INVALID_ARGUMENT");
    a.fails("CreateSubnet", { ...base, mtu: 67 }, "INVALID_ARGUMENT");
    a.fails("CreateSubnet", { ...base, mtu: 9217 }, "INVALID_ARGUMENT");
    a.fails(
      "CreateSubnet",
      { ...base, reserved_ranges: [{ start: "10.0.1.9", end: "10.0.2.1" }] },
      "IP_OUTSIDE_SUBNET",
    );
    a.fails(
      "CreateSubnet",
      { ...base, reserved_ranges: [{ start: "10.0.1.9", end: "10.0.1.3" }] },
      "INVALID_ARGUMENT",
    );
    const many = Array.from({ length: limits.reservedRangesPerSubnetMax + 1 }, () => ({
      start: "10.0.1.5",
      end: "10.0.1.6",
    }));
    a.fails("CreateSubnet", { ...base, reserved_ranges: many }, "LIMIT_EXCEEDED");
    a.fails(
      "CreateSubnet",
      { ...base, cidr: "10.0.1.0/29", reserved_ranges: [{ start: "10.0.1.2", end: "10.0.1.6" }] },
      "INVALID_ARGUMENT",
    );
    const subnet = a.ok("CreateSubnet", {
      ...base,
      gateway_ip: "10.0.1.254",
      mtu: 1450,
      dhcp_enabled: false,
    });
    expect(subnet).toMatchObject({ gateway_ip: "10.0.1.254", mtu: 1450, dhcp_enabled: false });
  });

  it("never allocates network, gateway, broadcast or reserved ranges, then is SUBNET_EXHAUSTED", () => {
    const { h, a } = setup();
    a.ok("CreateSubnet", {
      vpc_id: a.vpcId,
      name: "tiny",
      cidr: "10.0.9.0/28",
      reserved_ranges: [{ start: "10.0.9.4", end: "10.0.9.6" }],
    });
    const ips: string[] = [];
    for (let i = 1; i <= 10; i++) {
      ips.push(
        a.ok("CreatePort", { port_id: uuid(i), subnet_id: a.child("tiny"), mac_address: mac(i) })
          .ip_address,
      );
    }
    expect(ips).toEqual([
      "10.0.9.2",
      "10.0.9.3",
      ...[7, 8, 9, 10, 11, 12, 13, 14].map((n) => `10.0.9.${n}`),
    ]);
    a.fails(
      "CreatePort",
      { port_id: uuid(99), subnet_id: a.child("tiny"), mac_address: mac(99) },
      "SUBNET_EXHAUSTED",
    );
    for (const ip of ["10.0.9.0", "10.0.9.1", "10.0.9.5", "10.0.9.15"]) {
      a.fails(
        "CreatePort",
        { port_id: uuid(99), subnet_id: a.child("tiny"), mac_address: mac(99), ip_address: ip },
        "IP_RESERVED",
      );
    }
    expect(h.sm.queries.getSubnetUsage(a.scope(), a.child("tiny"))).toEqual({
      ok: true,
      value: { subnet_id: "acme/web/tiny", total_ips: "10", used_ips: "10" },
    });
  });

  it("applies the config's leading/trailing reservations (AWS style: first four and last)", () => {
    const h = new Harness().bootstrap({ ...testConfig, subnet_reserved_leading: 3 });
    const a = h.client("acme", "web");
    a.ok("CreateVpc", { name: "a" });
    const port = a.ok("CreatePort", {
      port_id: uuid(1),
      subnet_id: a.child("default"),
      mac_address: mac(1),
    });
    expect(port.ip_address).toBe("10.0.0.4");
    a.fails(
      "CreatePort",
      {
        port_id: uuid(2),
        subnet_id: a.child("default"),
        mac_address: mac(2),
        ip_address: "10.0.0.3",
      },
      "IP_RESERVED",
    );
  });

  it("updates DNS servers, DHCP and MTU", () => {
    const { a } = setup();
    const updated = a.ok("UpdateSubnet", {
      subnet_id: a.child("default"),
      dns_servers: ["9.9.9.9"],
      dhcp_enabled: false,
      mtu: 1400,
    });
    expect(updated).toMatchObject({ dns_servers: ["9.9.9.9"], dhcp_enabled: false, mtu: 1400 });
    expect(a.ok("UpdateSubnet", { subnet_id: a.child("default"), mtu: null }).mtu).toBeNull();
    a.fails("UpdateSubnet", { subnet_id: a.child("default"), mtu: 10 }, "INVALID_ARGUMENT");
    a.fails("UpdateSubnet", { subnet_id: a.child("nope") }, "NOT_FOUND");
  });

  it("refuses to delete a subnet with ports", () => {
    const { a } = setup();
    a.ok("CreatePort", { port_id: uuid(1), subnet_id: a.child("default"), mac_address: mac(1) });
    a.fails("DeleteSubnet", { subnet_id: a.child("default") }, "FAILED_PRECONDITION");
    a.ok("DeletePort", { port_id: uuid(1) });
    a.ok("DeleteSubnet", { subnet_id: a.child("default") });
    a.fails("DeleteSubnet", { subnet_id: a.child("default") }, "NOT_FOUND");
  });

  it("bounds the subnets of a VPC", () => {
    const { a } = setup();
    for (let i = 1; i < limits.subnetsPerVpcMax; i++) {
      a.ok("CreateSubnet", { vpc_id: a.vpcId, name: `s${i}`, cidr: `10.0.${i}.0/24` });
    }
    a.ok("DeleteSubnet", { subnet_id: a.child("s1") });
    a.ok("CreateSubnet", { vpc_id: a.vpcId, name: "again", cidr: "10.0.1.0/25" });
    a.fails(
      "CreateSubnet",
      { vpc_id: a.vpcId, name: "more", cidr: "10.0.1.128/25" },
      "LIMIT_EXCEEDED",
    );
  });

  it("supports IPv6 subnets inside the VPC's ipv6_cidr", () => {
    const h = new Harness().bootstrap();
    const a = h.client("acme", "v6");
    a.ok("CreateVpc", { name: "a", ipv6_cidr: "fd00:1::/48" });
    const subnet = a.ok("CreateSubnet", {
      vpc_id: a.vpcId,
      name: "v6",
      cidr: "fd00:1:0:1::/64",
      mtu: 1500,
    });
    expect(subnet).toMatchObject({ ip_version: 6, gateway_ip: "fd00:1:0:1::1" });
    a.fails(
      "CreateSubnet",
      { vpc_id: a.vpcId, name: "x", cidr: "fd00:2::/64" },
      "SUBNET_OUTSIDE_VPC",
    );
    a.fails(
      "CreateSubnet",
      { vpc_id: a.vpcId, name: "x", cidr: "fd00:1:0:2::/64", mtu: 1200 },
      "INVALID_ARGUMENT",
    );
    const p1 = a.ok("CreatePort", { port_id: uuid(1), subnet_id: subnet.id, mac_address: mac(1) });
    expect(p1.ip_address).toBe("fd00:1:0:1::2");
    const far = a.ok("CreatePort", {
      port_id: uuid(2),
      subnet_id: subnet.id,
      mac_address: mac(2),
      ip_address: "fd00:1:0:1:ffff::1",
    });
    expect(far.ip_address).toBe("fd00:1:0:1:ffff::1");
    a.fails(
      "CreatePort",
      {
        port_id: uuid(3),
        subnet_id: subnet.id,
        mac_address: mac(3),
        ip_address: "FD00:1:0:1:FFFF:0:0:1",
      },
      "IP_ALREADY_ALLOCATED",
    );
    expect(h.sm.allocatedIps(subnet.id)).toEqual(["fd00:1:0:1::2", "fd00:1:0:1:ffff::1"]);
    h.sm.checkInvariants();
    const restored = (
      h.sm.constructor as typeof import("../../src/statemachine/index.js").NetworkStateMachine
    ).restore(h.sm.snapshot());
    expect(restored.digest()).toBe(h.sm.digest());
  });
});

describe("port", () => {
  it("allocates next-fit: a freed address is not handed out again at once", () => {
    const { h, a } = setup();
    const subnet = a.child("default");
    const ip = (n: number) =>
      a.ok("CreatePort", { port_id: uuid(n), subnet_id: subnet, mac_address: mac(n) }).ip_address;
    expect([ip(1), ip(2), ip(3)]).toEqual(["10.0.0.2", "10.0.0.3", "10.0.0.4"]);
    a.ok("DeletePort", { port_id: uuid(2) });
    expect(h.sm.allocatedIps(subnet)).toEqual(["10.0.0.2", "10.0.0.4"]);
    expect(ip(4)).toBe("10.0.0.5");
  });

  it("checks static addresses", () => {
    const { a } = setup();
    const base = { subnet_id: a.child("default"), mac_address: mac(5) };
    a.ok("CreatePort", {
      port_id: uuid(1),
      subnet_id: a.child("default"),
      mac_address: mac(1),
      ip_address: "10.0.0.50",
    });
    a.fails(
      "CreatePort",
      { ...base, port_id: uuid(2), ip_address: "10.0.0.50" },
      "IP_ALREADY_ALLOCATED",
    );
    a.fails(
      "CreatePort",
      { ...base, port_id: uuid(2), ip_address: "10.0.1.50" },
      "IP_OUTSIDE_SUBNET",
    );
    a.fails("CreatePort", { ...base, port_id: uuid(2), ip_address: "10.0.0.1" }, "IP_RESERVED");
    a.fails(
      "CreatePort",
      { ...base, port_id: uuid(2), ip_address: "10.0.0.300" },
      "INVALID_ARGUMENT",
    );
    // Static addresses do not move the cursor.
    expect(a.ok("CreatePort", { ...base, port_id: uuid(2) }).ip_address).toBe("10.0.0.2");
  });

  it("keeps MACs unique per VPC (and only per VPC)", () => {
    const { h, a, b } = setup();
    b.ok("CreateVpc", { name: "b" });
    a.ok("CreatePort", {
      port_id: uuid(1),
      subnet_id: a.child("default"),
      mac_address: "FA:16:3E:00:00:01",
    });
    a.fails(
      "CreatePort",
      { port_id: uuid(2), subnet_id: a.child("default"), mac_address: "fa-16-3e-00-00-01" },
      "MAC_ADDRESS_IN_USE",
    );
    a.ok("CreateSubnet", { vpc_id: a.vpcId, name: "other", cidr: "10.0.5.0/24" });
    a.fails(
      "CreatePort",
      { port_id: uuid(2), subnet_id: a.child("other"), mac_address: mac(1) },
      "MAC_ADDRESS_IN_USE",
    );
    // What the RPC layer asks before proposing a generated MAC: per VPC, in stored form.
    expect(h.sm.macInUse(a.vpcId, "fa:16:3e:00:00:01")).toBe(true);
    expect(h.sm.macInUse(b.vpcId, "fa:16:3e:00:00:01")).toBe(false);
    expect(h.sm.macInUse(a.vpcId, "fa:16:3e:00:00:02")).toBe(false);
    b.ok("CreatePort", { port_id: uuid(3), subnet_id: b.child("default"), mac_address: mac(1) });
    a.fails(
      "CreatePort",
      { port_id: uuid(4), subnet_id: a.child("default"), mac_address: "01:00:5e:00:00:01" },
      "INVALID_ARGUMENT",
    );
  });

  it("checks ids, VM ids and the subnet", () => {
    const { a } = setup();
    a.ok("CreatePort", { port_id: uuid(1), subnet_id: a.child("default"), mac_address: mac(1) });
    a.fails(
      "CreatePort",
      { port_id: uuid(1).toUpperCase(), subnet_id: a.child("default"), mac_address: mac(2) },
      "ALREADY_EXISTS",
    );
    a.fails(
      "CreatePort",
      { port_id: "port-1", subnet_id: a.child("default"), mac_address: mac(2) },
      "INVALID_ARGUMENT",
    );
    a.fails(
      "CreatePort",
      { port_id: uuid(2), subnet_id: a.child("nope"), mac_address: mac(2) },
      "NOT_FOUND",
    );
    a.fails(
      "CreatePort",
      { port_id: uuid(2), subnet_id: a.child("default"), mac_address: mac(2), vm_id: "vm 1" },
      "INVALID_ARGUMENT",
    );
    a.fails("DeletePort", { port_id: uuid(77) }, "NOT_FOUND");
  });

  it("resolves security groups of the same project only", () => {
    const { a, b } = setup();
    b.ok("CreateVpc", { name: "b" });
    const subnet = a.child("default");
    a.ok("CreateSecurityGroup", { name: "web" });
    expect(
      a.ok("CreatePort", { port_id: uuid(1), subnet_id: subnet, mac_address: mac(1) })
        .security_group_ids,
    ).toEqual(["acme/web/default"]);
    expect(
      a.ok("CreatePort", {
        port_id: uuid(2),
        subnet_id: subnet,
        mac_address: mac(2),
        security_group_ids: ["web", "acme/web/web", "default"],
      }).security_group_ids,
    ).toEqual(["acme/web/web", "acme/web/default"]);
    expect(
      a.ok("CreatePort", {
        port_id: uuid(3),
        subnet_id: subnet,
        mac_address: mac(3),
        security_group_ids: [],
      }).security_group_ids,
    ).toEqual([]);
    a.fails(
      "CreatePort",
      { port_id: uuid(4), subnet_id: subnet, mac_address: mac(4), security_group_ids: ["nope"] },
      "SECURITY_GROUP_NOT_FOUND",
    );
    a.fails(
      "CreatePort",
      {
        port_id: uuid(4),
        subnet_id: subnet,
        mac_address: mac(4),
        security_group_ids: ["globex/shop/default"],
      },
      "SECURITY_GROUP_NOT_FOUND",
    );
    for (let i = 0; i < limits.securityGroupsPerPortMax; i++)
      a.ok("CreateSecurityGroup", { name: `g${i}` });
    const many = Array.from({ length: limits.securityGroupsPerPortMax + 1 }, (_, i) =>
      i === 0 ? "web" : `g${i - 1}`,
    );
    a.fails(
      "CreatePort",
      { port_id: uuid(4), subnet_id: subnet, mac_address: mac(4), security_group_ids: many },
      "LIMIT_EXCEEDED",
    );
    expect(
      a.ok("UpdatePort", { port_id: uuid(1), security_group_ids: ["web"] }).security_group_ids,
    ).toEqual(["acme/web/web"]);
    a.fails(
      "UpdatePort",
      { port_id: uuid(1), security_group_ids: ["nope"] },
      "SECURITY_GROUP_NOT_FOUND",
    );
  });

  it("attaches and detaches", () => {
    const { a } = setup();
    a.ok("CreatePort", {
      port_id: uuid(1),
      subnet_id: a.child("default"),
      mac_address: mac(1),
      vm_id: "vm-1",
    });
    const again = a.ok("AttachPort", { port_id: uuid(1), vm_id: "vm-1" });
    expect(again.vm_id).toBe("vm-1");
    a.fails("AttachPort", { port_id: uuid(1), vm_id: "vm-2" }, "PORT_ALREADY_ATTACHED");
    a.fails("DetachPort", { port_id: uuid(1), vm_id: "vm-2" }, "FAILED_PRECONDITION");
    expect(a.ok("DetachPort", { port_id: uuid(1), vm_id: "vm-1" }).vm_id).toBeNull();
    expect(a.ok("DetachPort", { port_id: uuid(1) }).vm_id).toBeNull();
    expect(a.ok("AttachPort", { port_id: uuid(1), vm_id: "vm-2" }).vm_id).toBe("vm-2");
    a.fails("AttachPort", { port_id: uuid(1), vm_id: "" }, "INVALID_ARGUMENT");
    a.fails("AttachPort", { port_id: uuid(8), vm_id: "vm-2" }, "NOT_FOUND");
  });

  it("frees the address and deletes DNAT rules pointing at it", () => {
    const { h, a } = setup();
    const port = a.ok("CreatePort", {
      port_id: uuid(1),
      subnet_id: a.child("default"),
      mac_address: mac(1),
    });
    a.ok("CreateDnat", {
      dnat_id: uuid(50),
      vpc_id: a.vpcId,
      external_port: 22,
      protocol: "TCP",
      internal_ip: port.ip_address,
      internal_port: 22,
    });
    expect(a.ok("DeletePort", { port_id: uuid(1) })).toEqual({ deleted_dnat_ids: [uuid(50)] });
    expect(h.sm.allocatedIps(a.child("default"))).toEqual([]);
    expect([...h.sm.externalIps()]).toEqual([]);
  });
});

describe("security group", () => {
  it("creates groups with validated rules and default egress", () => {
    const { a } = setup();
    const group = a.ok("CreateSecurityGroup", {
      name: "web",
      description: "web tier",
      ingress_rules: [
        tcp("http", 80, 80),
        tcp("v6", 443, 443, "2001:db8::/32"),
        {
          id: "icmp",
          protocol: "ICMP",
          port_range: { min: 8, max: 0 },
          source_type: "CIDR",
          source: "10.0.0.0/8",
        },
        { id: "self", protocol: "UDP", source_type: "SECURITY_GROUP", source: "web" },
        { id: "peer", protocol: "ALL", source_type: "SECURITY_GROUP", source: "acme/web/default" },
      ],
    });
    expect(group.id).toBe("acme/web/web");
    expect(group.ingress_rules.map((r) => r.source)).toEqual([
      "0.0.0.0/0",
      "2001:db8::/32",
      "10.0.0.0/8",
      "acme/web/web",
      "acme/web/default",
    ]);
    expect(group.egress_rules).toHaveLength(2);
    expect(a.ok("CreateSecurityGroup", { name: "closed", egress_rules: [] }).egress_rules).toEqual(
      [],
    );
  });

  it.each<[string, SecurityRuleSpec, string]>([
    ["inverted port range", tcp("r", 90, 80), "INVALID_ARGUMENT"],
    ["port 0", tcp("r", 0, 80), "INVALID_ARGUMENT"],
    ["port above 65535", tcp("r", 1, 65_536), "INVALID_ARGUMENT"],
    [
      "ALL with ports",
      {
        id: "r",
        protocol: "ALL",
        port_range: { min: 1, max: 2 },
        source_type: "CIDR",
        source: "0.0.0.0/0",
      },
      "INVALID_ARGUMENT",
    ],
    [
      "ICMP type 300",
      {
        id: "r",
        protocol: "ICMP",
        port_range: { min: 300, max: 0 },
        source_type: "CIDR",
        source: "0.0.0.0/0",
      },
      "INVALID_ARGUMENT",
    ],
    ["bad rule id", tcp("bad id", 80, 80), "INVALID_ARGUMENT"],
    ["bad CIDR", tcp("r", 80, 80, "10.0.0.1/8"), "INVALID_CIDR"],
    [
      "missing group",
      { id: "r", protocol: "TCP", source_type: "SECURITY_GROUP", source: "nope" },
      "SECURITY_GROUP_NOT_FOUND",
    ],
    [
      "other project's group",
      { id: "r", protocol: "TCP", source_type: "SECURITY_GROUP", source: "globex/shop/default" },
      "SECURITY_GROUP_NOT_FOUND",
    ],
  ])("refuses a rule with %s", (_name, rule, code) => {
    const { a, b } = setup();
    b.ok("CreateVpc", { name: "b" });
    a.fails("CreateSecurityGroup", { name: "g", ingress_rules: [rule] }, code);
    a.fails("AddSecurityRule", { security_group_id: "default", direction: "INGRESS", rule }, code);
  });

  it("refuses duplicates, bad names and too many rules", () => {
    const { a } = setup();
    a.fails("CreateSecurityGroup", { name: "default" }, "ALREADY_EXISTS");
    a.fails("CreateSecurityGroup", { name: "g", description: "x".repeat(256) }, "INVALID_ARGUMENT");
    a.fails("CreateSecurityGroup", { name: "" }, "INVALID_ARGUMENT");
    a.fails(
      "CreateSecurityGroup",
      { name: "g", ingress_rules: [tcp("a", 80, 80), tcp("b", 80, 80)] },
      "INVALID_ARGUMENT",
    );
    a.fails(
      "CreateSecurityGroup",
      { name: "g", ingress_rules: [tcp("a", 80, 80)], egress_rules: [tcp("a", 81, 81)] },
      "INVALID_ARGUMENT",
    );
    const rules = Array.from({ length: limits.rulesPerSecurityGroupMax + 1 }, (_, i) =>
      tcp(`r${i}`, i + 1, i + 1),
    );
    a.fails("CreateSecurityGroup", { name: "g", ingress_rules: rules }, "LIMIT_EXCEEDED");
    a.ok("CreateSecurityGroup", {
      name: "g",
      ingress_rules: rules.slice(0, limits.rulesPerSecurityGroupMax),
      egress_rules: [],
    });
    a.fails(
      "AddSecurityRule",
      { security_group_id: "g", direction: "EGRESS", rule: tcp("x", 1, 1) },
      "LIMIT_EXCEEDED",
    );
    a.fails(
      "AddSecurityRule",
      {
        security_group_id: "default",
        direction: "EGRESS",
        rule: { id: "dup", protocol: "ALL", source_type: "CIDR", source: "0.0.0.0/0" },
      },
      "ALREADY_EXISTS",
    );
    a.fails(
      "AddSecurityRule",
      { security_group_id: "default", direction: "EGRESS", rule: tcp("default-egress-ipv4", 1, 1) },
      "ALREADY_EXISTS",
    );
  });

  it("needs the project's VPC", () => {
    const h = new Harness().bootstrap();
    const c = h.client("acme", "novpc");
    c.fails("CreateSecurityGroup", { name: "g" }, "NOT_FOUND");
  });

  it("updates (replaces rules), adds and removes rules", () => {
    const { a } = setup();
    a.ok("CreateSecurityGroup", { name: "g", ingress_rules: [tcp("a", 80, 80)] });
    const updated = a.ok("UpdateSecurityGroup", {
      security_group_id: "g",
      description: "new",
      ingress_rules: [tcp("b", 22, 22)],
      egress_rules: [],
    });
    expect(updated).toMatchObject({ description: "new", egress_rules: [] });
    expect(updated.ingress_rules.map((r) => r.id)).toEqual(["b"]);
    const added = a.ok("AddSecurityRule", {
      security_group_id: "acme/web/g",
      direction: "EGRESS",
      rule: tcp("c", 53, 53),
    });
    expect(added.egress_rules.map((r) => r.id)).toEqual(["c"]);
    expect(
      a.ok("RemoveSecurityRule", { security_group_id: "g", rule_id: "b" }).ingress_rules,
    ).toEqual([]);
    a.fails("RemoveSecurityRule", { security_group_id: "g", rule_id: "b" }, "NOT_FOUND");
    a.fails(
      "UpdateSecurityGroup",
      { security_group_id: "nope", ingress_rules: [], egress_rules: [] },
      "NOT_FOUND",
    );
  });

  it("refuses to delete the default group or a group in use", () => {
    const { a } = setup();
    a.fails("DeleteSecurityGroup", { security_group_id: "default" }, "FAILED_PRECONDITION");
    a.ok("CreateSecurityGroup", { name: "db" });
    a.ok("CreateSecurityGroup", {
      name: "app",
      ingress_rules: [
        { id: "from-db", protocol: "TCP", source_type: "SECURITY_GROUP", source: "db" },
      ],
    });
    a.fails("DeleteSecurityGroup", { security_group_id: "db" }, "SECURITY_GROUP_IN_USE");
    a.ok("RemoveSecurityRule", { security_group_id: "app", rule_id: "from-db" });
    a.ok("CreatePort", {
      port_id: uuid(1),
      subnet_id: a.child("default"),
      mac_address: mac(1),
      security_group_ids: ["db"],
    });
    a.fails("DeleteSecurityGroup", { security_group_id: "db" }, "SECURITY_GROUP_IN_USE");
    a.ok("UpdatePort", { port_id: uuid(1), security_group_ids: [] });
    a.ok("DeleteSecurityGroup", { security_group_id: "db" });
    a.fails("DeleteSecurityGroup", { security_group_id: "db" }, "NOT_FOUND");
    // A group whose only reference is its own rule can go.
    a.ok("CreateSecurityGroup", {
      name: "self",
      ingress_rules: [{ id: "s", protocol: "ALL", source_type: "SECURITY_GROUP", source: "self" }],
    });
    a.ok("DeleteSecurityGroup", { security_group_id: "self" });
  });
});

describe("NAT", () => {
  it("creates SNAT from the pool and DNAT to a port of the VPC", () => {
    const { h, a } = setup();
    a.ok("CreatePort", { port_id: uuid(1), subnet_id: a.child("default"), mac_address: mac(1) });
    const snat = a.ok("CreateSnat", { vpc_id: a.vpcId });
    expect(snat).toMatchObject({ vpc_id: "acme/web", external_ip: "203.0.113.0", enabled: true });
    a.fails("CreateSnat", { vpc_id: a.vpcId }, "ALREADY_EXISTS");
    const dnat = a.ok("CreateDnat", {
      dnat_id: uuid(100),
      vpc_id: a.vpcId,
      external_ip: "203.0.113.0",
      external_port: 443,
      protocol: "TCP",
      internal_ip: "10.0.0.2",
      internal_port: 8443,
    });
    expect(dnat.external_ip).toBe("203.0.113.0");
    const base = {
      vpc_id: a.vpcId,
      external_ip: "203.0.113.0",
      protocol: "TCP" as const,
      internal_ip: "10.0.0.2",
    };
    a.fails(
      "CreateDnat",
      { ...base, dnat_id: uuid(101), external_port: 443, internal_port: 1 },
      "ALREADY_EXISTS",
    );
    a.fails(
      "CreateDnat",
      { ...base, dnat_id: uuid(101), external_port: 444, internal_port: 8443 },
      "ALREADY_EXISTS",
    );
    a.fails(
      "CreateDnat",
      { ...base, dnat_id: uuid(100), external_port: 444, internal_port: 1 },
      "ALREADY_EXISTS",
    );
    a.fails(
      "CreateDnat",
      { ...base, dnat_id: uuid(101), external_port: 0, internal_port: 1 },
      "INVALID_ARGUMENT",
    );
    a.fails(
      "CreateDnat",
      { ...base, dnat_id: "d", external_port: 1, internal_port: 1 },
      "INVALID_ARGUMENT",
    );
    a.fails(
      "CreateDnat",
      { ...base, dnat_id: uuid(101), external_port: 1, internal_port: 1, internal_ip: "10.0.0.99" },
      "NOT_FOUND",
    );
    a.ok("CreateDnat", {
      ...base,
      dnat_id: uuid(102),
      external_port: 443,
      internal_port: 8443,
      protocol: "UDP",
    });
    // Omitted external IP: a fresh one from the pool.
    const { external_ip: _, ...withoutIp } = base;
    const auto = a.ok("CreateDnat", {
      ...withoutIp,
      dnat_id: uuid(103),
      external_port: 80,
      internal_port: 80,
    });
    expect(auto.external_ip).toBe("203.0.113.1");
    a.ok("DeleteSnat", { vpc_id: a.vpcId });
    a.fails("DeleteSnat", { vpc_id: a.vpcId }, "NOT_FOUND");
    expect([...h.sm.externalIps()].map((e) => e.external_ip)).toEqual([
      "203.0.113.0",
      "203.0.113.1",
    ]);
    a.ok("DeleteDnat", { dnat_id: uuid(100) });
    a.ok("DeleteDnat", { dnat_id: uuid(102) });
    a.fails("DeleteDnat", { dnat_id: uuid(102) }, "NOT_FOUND");
    expect([...h.sm.externalIps()].map((e) => e.external_ip)).toEqual(["203.0.113.1"]);
  });

  it("creates a 1:1 DNAT (protocol ALL, ports 0) that holds its external IP alone", () => {
    const { h, a, b } = setup();
    a.ok("CreatePort", { port_id: uuid(1), subnet_id: a.child("default"), mac_address: mac(1) });
    a.ok("CreatePort", { port_id: uuid(2), subnet_id: a.child("default"), mac_address: mac(2) });
    const oneToOne = {
      vpc_id: a.vpcId,
      external_port: 0,
      internal_port: 0,
      protocol: "ALL" as const,
      internal_ip: "10.0.0.2",
    };
    // Ports 0 only with ALL, ALL only with ports 0.
    for (const [protocol, external_port, internal_port] of [
      ["ALL", 80, 80],
      ["ALL", 0, 80],
      ["ALL", 80, 0],
      ["TCP", 0, 0],
      ["UDP", 0, 0],
      ["TCP", 80, 0],
    ] as const) {
      const message = a.fails(
        "CreateDnat",
        { ...oneToOne, dnat_id: uuid(100), protocol, external_port, internal_port },
        "INVALID_ARGUMENT",
      );
      expect(message).toMatch(/1:1 DNAT/);
    }
    // Omitted external IP: one from the pool, which then carries nothing else.
    const fip = a.ok("CreateDnat", { ...oneToOne, dnat_id: uuid(100) });
    expect(fip).toMatchObject({
      external_ip: "203.0.113.0",
      external_port: 0,
      internal_port: 0,
      internal_ip: "10.0.0.2",
      protocol: "ALL",
    });
    const pf = {
      vpc_id: a.vpcId,
      external_port: 443,
      internal_port: 443,
      protocol: "TCP" as const,
      internal_ip: "10.0.0.3",
    };
    a.fails(
      "CreateDnat",
      { ...pf, dnat_id: uuid(101), external_ip: "203.0.113.0" },
      "EXTERNAL_IP_IN_USE",
    );
    a.fails("CreateSnat", { vpc_id: a.vpcId, external_ip: "203.0.113.0" }, "EXTERNAL_IP_IN_USE");
    a.fails(
      "CreateDnat",
      { ...oneToOne, dnat_id: uuid(101), internal_ip: "10.0.0.3", external_ip: "203.0.113.0" },
      "EXTERNAL_IP_IN_USE",
    );
    b.ok("CreateVpc", { name: "b" });
    b.fails("CreateSnat", { vpc_id: b.vpcId, external_ip: "203.0.113.0" }, "EXTERNAL_IP_IN_USE");
    // One 1:1 DNAT per internal IP, whatever the external IP.
    expect(a.fails("CreateDnat", { ...oneToOne, dnat_id: uuid(101) }, "ALREADY_EXISTS")).toMatch(
      /already has a 1:1 DNAT/,
    );
    a.fails(
      "CreateDnat",
      { ...oneToOne, dnat_id: uuid(101), external_ip: "203.0.113.9" },
      "ALREADY_EXISTS",
    );
    a.fails(
      "CreateDnat",
      { ...oneToOne, dnat_id: uuid(100), internal_ip: "10.0.0.3" },
      "ALREADY_EXISTS",
    );
    a.fails(
      "CreateDnat",
      { ...oneToOne, dnat_id: uuid(101), internal_ip: "10.0.0.99" },
      "NOT_FOUND",
    );
    // An external IP already used by this VPC's SNAT or port forwarding is not exclusive.
    a.ok("CreateSnat", { vpc_id: a.vpcId, external_ip: "203.0.113.1" });
    a.ok("CreateDnat", { ...pf, dnat_id: uuid(102), external_ip: "203.0.113.2" });
    for (const ip of ["203.0.113.1", "203.0.113.2"]) {
      a.fails(
        "CreateDnat",
        { ...oneToOne, dnat_id: uuid(103), internal_ip: "10.0.0.3", external_ip: ip },
        "EXTERNAL_IP_IN_USE",
      );
    }
    // Another VM gets its own 1:1 DNAT; the SNAT stays for the rest of the VPC.
    const second = a.ok("CreateDnat", {
      ...oneToOne,
      dnat_id: uuid(103),
      internal_ip: "10.0.0.3",
      external_ip: "203.0.113.3",
    });
    expect(second.external_ip).toBe("203.0.113.3");
    expect(h.sm.queries.getDnat(a.scope(), uuid(100))).toEqual({ ok: true, value: fip });
    // Deleting frees the IP: it can carry SNAT-free port forwarding again.
    a.ok("DeleteDnat", { dnat_id: uuid(100) });
    expect([...h.sm.externalIps()].map((e) => e.external_ip)).toEqual([
      "203.0.113.1",
      "203.0.113.2",
      "203.0.113.3",
    ]);
    a.ok("CreateDnat", {
      ...pf,
      dnat_id: uuid(104),
      external_ip: "203.0.113.0",
      internal_port: 444,
    });
    // Deleting the port deletes its 1:1 DNAT and frees the address.
    expect(a.ok("DeletePort", { port_id: uuid(2) })).toEqual({
      deleted_dnat_ids: [uuid(102), uuid(103), uuid(104)].sort(),
    });
    expect([...h.sm.externalIps()].map((e) => e.external_ip)).toEqual(["203.0.113.1"]);
    h.sm.checkInvariants();
    // A snapshot round trip keeps a 1:1 DNAT.
    a.ok("CreateDnat", { ...oneToOne, dnat_id: uuid(105) });
    const restored = NetworkStateMachine.restore(h.sm.snapshot());
    restored.checkInvariants();
    expect([...restored.dnats()]).toEqual([...h.sm.dnats()]);
  });

  it("gives an external IP to one VPC at a time and checks the pool", () => {
    const { a, b } = setup();
    b.ok("CreateVpc", { name: "b" });
    a.ok("CreateSnat", { vpc_id: a.vpcId, external_ip: "198.51.100.11" });
    b.fails("CreateSnat", { vpc_id: b.vpcId, external_ip: "198.51.100.11" }, "EXTERNAL_IP_IN_USE");
    b.fails("CreateSnat", { vpc_id: b.vpcId, external_ip: "192.0.2.1" }, "EXTERNAL_IP_NOT_IN_POOL");
    b.fails("CreateSnat", { vpc_id: b.vpcId, external_ip: "2001:db8::1" }, "INVALID_ARGUMENT");
    b.ok("CreatePort", { port_id: uuid(1), subnet_id: b.child("default"), mac_address: mac(1) });
    for (let i = 0; i < 18; i++) {
      b.ok("CreateDnat", {
        dnat_id: uuid(200 + i),
        vpc_id: b.vpcId,
        external_port: 1000,
        protocol: "TCP",
        internal_ip: "10.1.0.2",
        internal_port: 1000 + i,
      });
    }
    b.fails(
      "CreateDnat",
      {
        dnat_id: uuid(300),
        vpc_id: b.vpcId,
        external_port: 1000,
        protocol: "TCP",
        internal_ip: "10.1.0.2",
        internal_port: 1,
      },
      "EXTERNAL_IP_POOL_EXHAUSTED",
    );
    b.fails("CreateSnat", { vpc_id: b.vpcId }, "EXTERNAL_IP_POOL_EXHAUSTED");
    a.ok("DeleteSnat", { vpc_id: a.vpcId });
    expect(b.ok("CreateSnat", { vpc_id: b.vpcId }).external_ip).toBe("198.51.100.11");
  });

  it("bounds DNAT rules per VPC", () => {
    const { a } = setup();
    a.ok("CreatePort", { port_id: uuid(1), subnet_id: a.child("default"), mac_address: mac(1) });
    for (let i = 0; i < limits.dnatsPerVpcMax; i++) {
      a.ok("CreateDnat", {
        dnat_id: uuid(1000 + i),
        vpc_id: a.vpcId,
        external_ip: "203.0.113.5",
        external_port: 1 + i,
        protocol: "TCP",
        internal_ip: "10.0.0.2",
        internal_port: 1 + i,
      });
    }
    a.fails(
      "CreateDnat",
      {
        dnat_id: uuid(9999),
        vpc_id: a.vpcId,
        external_ip: "203.0.113.5",
        external_port: 9999,
        protocol: "UDP",
        internal_ip: "10.0.0.2",
        internal_port: 1,
      },
      "LIMIT_EXCEEDED",
    );
  });
});

describe("limits", () => {
  it("refuses invalid tenant ids and request ids", () => {
    const { h, a } = setup();
    const bad = { ...a.command("CreateSecurityGroup", { name: "g" }), org_id: "a/b" };
    expect(record(h.apply(bad))).toMatchObject({ code: "INVALID_ARGUMENT" });
    const zero = a.command("CreateSecurityGroup", { name: "g" }, 0);
    expect(record(h.apply(zero))).toMatchObject({ code: "INVALID_ARGUMENT" });
  });

  it("encodes commands small enough to stay far below the entry bound", () => {
    const { a } = setup();
    const rules = Array.from({ length: limits.rulesPerSecurityGroupMax }, (_, i) =>
      tcp(`rule-${i}`, i + 1, i + 1),
    );
    const bytes = encodeCommand(
      a.command("CreateSecurityGroup", { name: "g", ingress_rules: rules }),
    );
    expect(bytes.byteLength).toBeLessThan(limits.commandBytesMax / 16);
  });
});
