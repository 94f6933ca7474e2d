// Property test: random command sequences over three tenants (two of one organisation), with
// retried requests and snapshot/restore in the middle. After every step the invariants of the
// issue are checked from the outside (with ipaddr.js, independently of the implementation's IP
// code), and at the end the whole log is replayed on a fresh replica, digest by digest.

import fc from "fast-check";
import ipaddr from "ipaddr.js";
import { describe, expect, it } from "vitest";
import {
  type ApplyContext,
  type CommandResult,
  defaultNetworkConfig,
  encodeCommand,
  type NetworkConfig,
  NetworkStateMachine,
  type Port,
  type SecurityRuleSpec,
  type TenantCommand,
} from "../../src/statemachine/index.js";
import { mac, uuid } from "./harness.js";

const config: NetworkConfig = {
  ...defaultNetworkConfig,
  external_ip_pool: ["203.0.113.0-203.0.113.0", "198.51.100.7-198.51.100.7"],
  subnet_reserved_trailing: 1,
  // Tiny default subnets (/29: 4 usable addresses) so that sequences reach exhaustion.
  default_subnet_size: 29,
};
/** Two pool addresses and two outside the pool (index 2, 3); 4 and 5 mean "allocate one". */
const externalPool = ["203.0.113.0", "198.51.100.7", "203.0.113.1", "198.51.100.8"];
const tenants = [
  { org: "acme", project: "web" },
  { org: "globex", project: "shop" },
  { org: "acme", project: "other" },
] as const;
const groupNames = ["default", "g0", "g1"];

type Op =
  | { k: "vpc"; cidr: number; v6: boolean }
  | { k: "delvpc"; cascade: boolean; really: number }
  | { k: "subnet"; slot: number; cidr: number; size: number }
  | { k: "delsubnet"; slot: number }
  | { k: "updsubnet"; slot: number; mtu: number }
  | { k: "port"; slot: number; id: number; mac: number; offset: number; sg: number; vm: number }
  | { k: "delport"; id: number }
  | { k: "updport"; id: number; sg: number }
  | { k: "attach"; id: number; vm: number }
  | { k: "detach"; id: number; vm: number }
  | { k: "sg"; name: number; rules: number[] }
  | { k: "updsg"; name: number; rules: number[] }
  | { k: "addrule"; name: number; rule: number; egress: boolean }
  | { k: "delrule"; name: number; rule: number }
  | { k: "delsg"; name: number }
  | { k: "snat"; ext: number }
  | { k: "delsnat" }
  | {
      k: "dnat";
      id: number;
      ext: number;
      port: number;
      proto: "TCP" | "UDP" | "ALL";
      offset: number;
    }
  | { k: "deldnat"; id: number };

type Action =
  | { a: "cmd"; tenant: number; op: Op }
  | { a: "retry"; back: number }
  | { a: "snapshot" }
  | { a: "time"; ms: number };

const nat = (max: number) => fc.integer({ min: 0, max });
const opArb: fc.Arbitrary<Op> = fc.oneof(
  {
    arbitrary: fc.record({ k: fc.constant("vpc" as const), cidr: nat(3), v6: fc.boolean() }),
    weight: 4,
  },
  fc.record({ k: fc.constant("delvpc" as const), cascade: fc.boolean(), really: nat(5) }),
  {
    arbitrary: fc.record({
      k: fc.constant("subnet" as const),
      slot: nat(4),
      cidr: nat(3),
      size: fc.constantFrom(24, 28, 29, 29),
    }),
    weight: 2,
  },
  fc.record({ k: fc.constant("delsubnet" as const), slot: nat(4) }),
  fc.record({
    k: fc.constant("updsubnet" as const),
    slot: nat(4),
    mtu: fc.constantFrom(1400, 9000, 10),
  }),
  {
    arbitrary: fc.record({
      k: fc.constant("port" as const),
      slot: fc.oneof({ arbitrary: fc.constant(0), weight: 3 }, nat(4)),
      id: nat(40),
      mac: nat(40),
      offset: nat(20),
      sg: nat(8),
      vm: nat(3),
    }),
    weight: 8,
  },
  { arbitrary: fc.record({ k: fc.constant("delport" as const), id: nat(40) }), weight: 2 },
  fc.record({ k: fc.constant("updport" as const), id: nat(40), sg: nat(4) }),
  fc.record({ k: fc.constant("attach" as const), id: nat(40), vm: nat(3) }),
  fc.record({ k: fc.constant("detach" as const), id: nat(40), vm: nat(3) }),
  fc.record({
    k: fc.constant("sg" as const),
    name: nat(2),
    rules: fc.array(nat(7), { maxLength: 3 }),
  }),
  fc.record({
    k: fc.constant("updsg" as const),
    name: nat(2),
    rules: fc.array(nat(7), { maxLength: 3 }),
  }),
  fc.record({
    k: fc.constant("addrule" as const),
    name: nat(2),
    rule: nat(7),
    egress: fc.boolean(),
  }),
  fc.record({ k: fc.constant("delrule" as const), name: nat(2), rule: nat(7) }),
  fc.record({ k: fc.constant("delsg" as const), name: nat(2) }),
  fc.record({ k: fc.constant("snat" as const), ext: nat(5) }),
  fc.record({ k: fc.constant("delsnat" as const) }),
  {
    arbitrary: fc.record({
      k: fc.constant("dnat" as const),
      id: nat(5),
      ext: nat(5),
      port: nat(2),
      // ALL: a 1:1 DNAT (ports 0).
      proto: fc.constantFrom("TCP" as const, "UDP" as const, "ALL" as const),
      offset: nat(4),
    }),
    weight: 2,
  },
  fc.record({ k: fc.constant("deldnat" as const), id: nat(5) }),
);
const actionArb: fc.Arbitrary<Action> = fc.oneof(
  {
    arbitrary: fc.record({ a: fc.constant("cmd" as const), tenant: nat(2), op: opArb }),
    weight: 20,
  },
  { arbitrary: fc.record({ a: fc.constant("retry" as const), back: nat(30) }), weight: 3 },
  { arbitrary: fc.record({ a: fc.constant("snapshot" as const) }), weight: 1 },
  {
    arbitrary: fc.record({
      a: fc.constant("time" as const),
      ms: fc.integer({ min: -5000, max: 60_000 }),
    }),
    weight: 1,
  },
);

/** Builds concrete commands; looks at the state only to aim inside the caller's VPC. */
class Driver {
  /** Bootstrap, sessions, and VPCs for two tenants (overlapping: auto 10.0/16 and explicit 10.0/16). */
  start(): this {
    this.apply(encodeCommand({ type: "Bootstrap", config }));
    for (let t = 0; t < 3; t++)
      this.apply(encodeCommand({ type: "RegisterClient", client_id: `c${t}` }));
    this.apply(encodeCommand(this.command(0, { k: "vpc", cidr: 0, v6: true })));
    this.apply(encodeCommand(this.command(1, { k: "vpc", cidr: 1, v6: false })));
    return this;
  }

  sm = new NetworkStateMachine();
  readonly log: { bytes: Uint8Array; ctx: ApplyContext; digest: string }[] = [];
  readonly sent: { command: TenantCommand; result: CommandResult }[] = [];
  readonly requestIds = [0, 0, 0];
  timeMs = 1_700_000_000_000;

  apply(bytes: Uint8Array): CommandResult {
    this.timeMs += 7;
    const ctx = {
      index: this.log.length + 1,
      term: 1 + Math.floor(this.log.length / 50),
      timestampMs: this.timeMs,
    };
    const result = this.sm.apply(bytes, ctx);
    this.log.push({ bytes, ctx, digest: this.sm.digest() });
    return result;
  }

  vpcBase(t: number): number[] {
    const { org, project } = tenants[t]!;
    const vpc = this.sm.queries.getVpc({ org_id: org, project_id: project }, `${org}/${project}`);
    const cidr = vpc.ok ? vpc.value.cidr : "10.99.0.0/16";
    return ipaddr.IPv4.parse(cidr.split("/")[0]!).octets;
  }

  subnetName(slot: number): string {
    return slot === 0 ? "default" : `s${slot}`;
  }

  /** An address at `offset` of the tenant's subnet in `slot` (or of a guess when it is missing). */
  subnetIp(t: number, slot: number, offset: number): string {
    const { org, project } = tenants[t]!;
    const subnet = this.sm.queries.getSubnet(
      { org_id: org, project_id: project },
      `${org}/${project}/${this.subnetName(slot)}`,
    );
    if (subnet.ok && subnet.value.ip_version === 6)
      return `${subnet.value.cidr.split("/")[0]}${offset}`;
    if (subnet.ok) {
      const octets = ipaddr.IPv4.parse(subnet.value.cidr.split("/")[0]!).octets;
      return `${octets[0]}.${octets[1]}.${octets[2]}.${octets[3]! + offset}`;
    }
    const [a, b] = this.vpcBase(t);
    return `${a}.${b}.${slot}.${offset}`;
  }

  rule(t: number, n: number): SecurityRuleSpec {
    const other = tenants[(t + 1) % 3]!;
    const specs: SecurityRuleSpec[] = [
      {
        id: "r0",
        protocol: "TCP",
        port_range: { min: 80, max: 80 },
        source_type: "CIDR",
        source: "0.0.0.0/0",
      },
      {
        id: "r1",
        protocol: "UDP",
        port_range: { min: 53, max: 53 },
        source_type: "CIDR",
        source: "fd00::/8",
      },
      { id: "r2", protocol: "ALL", source_type: "SECURITY_GROUP", source: "g0" },
      { id: "r3", protocol: "ICMP", source_type: "SECURITY_GROUP", source: "g1" },
      {
        id: "r4",
        protocol: "TCP",
        port_range: { min: 9, max: 1 },
        source_type: "CIDR",
        source: "10.0.0.0/8",
      },
      {
        id: "r5",
        protocol: "ALL",
        source_type: "SECURITY_GROUP",
        source: `${other.org}/${other.project}/default`,
      },
      { id: "r6", protocol: "ALL", source_type: "SECURITY_GROUP", source: "default" },
      {
        id: "r7",
        protocol: "TCP",
        port_range: { min: 80, max: 80 },
        source_type: "CIDR",
        source: "0.0.0.0/0",
      },
    ];
    return specs[n]!;
  }

  groups(t: number, sg: number): string[] | undefined {
    const other = tenants[(t + 1) % 3]!;
    return (
      [undefined, [], ["g0"], ["g1", "default"], [`${other.org}/${other.project}/g0`]][sg] ??
      undefined
    );
  }

  command(t: number, op: Op): TenantCommand {
    const { org, project } = tenants[t]!;
    const base = {
      client_id: `c${t}`,
      request_id: ++this.requestIds[t]!,
      org_id: org,
      project_id: project,
    };
    const vpc_id = `${org}/${project}`;
    const child = (name: string) => `${org}/${project}/${name}`;
    const opt = <K extends string, V>(key: K, value: V | undefined) =>
      value === undefined ? {} : { [key]: value };
    switch (op.k) {
      case "vpc":
        return {
          ...base,
          type: "CreateVpc",
          name: "v",
          ...opt("cidr", [undefined, "10.0.0.0/16", "10.1.0.0/16", "172.16.0.0/16"][op.cidr]),
          ...opt("ipv6_cidr", op.v6 ? "fd00:1::/48" : undefined),
        };
      case "delvpc":
        // Mostly aimed at a missing VPC, so that VPCs live long enough to fill their subnets.
        return {
          ...base,
          type: "DeleteVpc",
          vpc_id: op.really === 0 ? vpc_id : `${org}/gone`,
          cascade: op.cascade,
        };
      case "subnet": {
        const [a, b] = this.vpcBase(t);
        const cidr =
          op.slot === 4
            ? "fd00:1:0:4::/64"
            : op.cidr === 3
              ? "192.168.0.0/24"
              : `${a}.${b}.${op.cidr}.${op.size === 29 ? 8 * op.slot : 0}/${op.size}`;
        const third = `${a}.${b}.${op.cidr}`;
        return {
          ...base,
          type: "CreateSubnet",
          vpc_id,
          name: this.subnetName(op.slot),
          cidr,
          ...opt(
            "reserved_ranges",
            op.size === 24 && op.cidr < 3
              ? [{ start: `${third}.5`, end: `${third}.6` }]
              : undefined,
          ),
        };
      }
      case "delsubnet":
        return { ...base, type: "DeleteSubnet", subnet_id: child(this.subnetName(op.slot)) };
      case "updsubnet":
        return {
          ...base,
          type: "UpdateSubnet",
          subnet_id: child(this.subnetName(op.slot)),
          mtu: op.mtu,
        };
      case "port": {
        const ip = this.subnetIp(t, op.slot, op.offset);
        return {
          ...base,
          type: "CreatePort",
          port_id: uuid(op.id),
          subnet_id: child(this.subnetName(op.slot)),
          mac_address: mac(op.mac),
          ...opt("ip_address", op.offset > 9 ? undefined : ip),
          ...opt("security_group_ids", this.groups(t, op.sg)),
          ...opt("vm_id", op.vm === 0 ? undefined : `vm-${op.vm}`),
        };
      }
      case "delport":
        return { ...base, type: "DeletePort", port_id: uuid(op.id) };
      case "updport":
        return {
          ...base,
          type: "UpdatePort",
          port_id: uuid(op.id),
          security_group_ids: this.groups(t, op.sg) ?? ["default"],
        };
      case "attach":
        return { ...base, type: "AttachPort", port_id: uuid(op.id), vm_id: `vm-${op.vm}` };
      case "detach":
        return {
          ...base,
          type: "DetachPort",
          port_id: uuid(op.id),
          ...opt("vm_id", op.vm === 0 ? undefined : `vm-${op.vm}`),
        };
      case "sg":
        return {
          ...base,
          type: "CreateSecurityGroup",
          name: groupNames[op.name]!,
          ingress_rules: op.rules.map((r) => this.rule(t, r)),
        };
      case "updsg":
        return {
          ...base,
          type: "UpdateSecurityGroup",
          security_group_id: groupNames[op.name]!,
          ingress_rules: op.rules.map((r) => this.rule(t, r)),
          egress_rules: [],
        };
      case "addrule":
        return {
          ...base,
          type: "AddSecurityRule",
          security_group_id: groupNames[op.name]!,
          direction: op.egress ? "EGRESS" : "INGRESS",
          rule: this.rule(t, op.rule),
        };
      case "delrule":
        return {
          ...base,
          type: "RemoveSecurityRule",
          security_group_id: groupNames[op.name]!,
          rule_id: `r${op.rule}`,
        };
      case "delsg":
        return { ...base, type: "DeleteSecurityGroup", security_group_id: groupNames[op.name]! };
      case "snat":
        return { ...base, type: "CreateSnat", vpc_id, ...opt("external_ip", externalPool[op.ext]) };
      case "delsnat":
        return { ...base, type: "DeleteSnat", vpc_id };
      case "dnat":
        return {
          ...base,
          type: "CreateDnat",
          dnat_id: uuid(500 + op.id),
          vpc_id,
          ...opt("external_ip", externalPool[op.ext]),
          external_port: op.proto === "ALL" ? 0 : [80, 443, 8080][op.port]!,
          protocol: op.proto,
          internal_ip: this.subnetIp(t, 0, 2 + op.offset),
          internal_port: op.proto === "ALL" ? 0 : 80,
        };
      case "deldnat":
        return { ...base, type: "DeleteDnat", dnat_id: uuid(500 + op.id) };
    }
  }
}

function reservedOffsets(
  size: number,
  gatewayOffset: number,
  ranges: { start: string; end: string }[],
  base: number,
) {
  const reserved = new Set<number>([0, gatewayOffset, size - 1, size - 2]); // network, gateway, broadcast, trailing 1
  for (const r of ranges) {
    const lo = ipv4Number(r.start) - base;
    const hi = ipv4Number(r.end) - base;
    for (let o = lo; o <= hi; o++) reserved.add(o);
  }
  return reserved;
}

function ipv4Number(text: string): number {
  return ipaddr.IPv4.parse(text).octets.reduce((n, o) => n * 256 + o, 0);
}

/** The invariants, checked through the public API only. */
function checkFromOutside(sm: NetworkStateMachine): void {
  const ports = [...sm.ports()];
  const byVpc = new Map<string, Port[]>();
  for (const port of ports) byVpc.set(port.vpc_id, [...(byVpc.get(port.vpc_id) ?? []), port]);
  for (const vpcPorts of byVpc.values()) {
    expect(new Set(vpcPorts.map((p) => p.ip_address)).size).toBe(vpcPorts.length);
    expect(new Set(vpcPorts.map((p) => p.mac_address)).size).toBe(vpcPorts.length);
  }
  for (const subnet of sm.subnets()) {
    const inSubnet = ports.filter((p) => p.subnet_id === subnet.id);
    const [network, prefix] = ipaddr.parseCIDR(subnet.cidr);
    for (const port of inSubnet) {
      const address = ipaddr.parse(port.ip_address);
      expect(address.kind()).toBe(network.kind());
      expect(address.match(network, prefix)).toBe(true);
      expect(port.ip_address).not.toBe(subnet.gateway_ip);
      if (subnet.ip_version === 4) {
        const base = ipv4Number(network.toString());
        const offset = ipv4Number(port.ip_address) - base;
        const reserved = reservedOffsets(
          2 ** (32 - prefix),
          ipv4Number(subnet.gateway_ip) - base,
          [...subnet.reserved_ranges],
          base,
        );
        expect(reserved.has(offset), `${port.ip_address} is reserved in ${subnet.cidr}`).toBe(
          false,
        );
      } else {
        expect(address.toNormalizedString()).not.toBe(network.toNormalizedString());
      }
    }
    const portIps = inSubnet.map((p) => p.ip_address).sort();
    expect([...sm.allocatedIps(subnet.id)].sort()).toEqual(portIps);
  }
  const external = [...sm.externalIps()];
  expect(new Set(external.map((e) => e.external_ip)).size).toBe(external.length);
  const owner = new Map(external.map((e) => [e.external_ip, e.vpc_id]));
  const natIps = new Set<string>();
  for (const snat of sm.snats()) {
    expect(owner.get(snat.external_ip)).toBe(snat.vpc_id);
    natIps.add(snat.external_ip);
  }
  const forwarded = new Set<string>();
  for (const dnat of sm.dnats()) {
    expect(owner.get(dnat.external_ip)).toBe(dnat.vpc_id);
    natIps.add(dnat.external_ip);
    const key = `${dnat.external_ip}|${dnat.external_port}|${dnat.protocol}`;
    expect(forwarded.has(key)).toBe(false);
    forwarded.add(key);
    expect(byVpc.get(dnat.vpc_id)?.some((p) => p.ip_address === dnat.internal_ip)).toBe(true);
  }
  expect(natIps.size).toBe(owner.size);
  // A 1:1 DNAT's external IP carries no other rule, and an internal IP has at most one.
  const oneToOne = [...sm.dnats()].filter((d) => d.protocol === "ALL");
  for (const fip of oneToOne) {
    expect([fip.external_port, fip.internal_port]).toEqual([0, 0]);
    const sharing = [...sm.dnats()].filter((d) => d.external_ip === fip.external_ip);
    expect(sharing.map((d) => d.id)).toEqual([fip.id]);
    expect([...sm.snats()].some((x) => x.external_ip === fip.external_ip)).toBe(false);
  }
  expect(new Set(oneToOne.map((d) => `${d.vpc_id}|${d.internal_ip}`)).size).toBe(oneToOne.length);
  sm.checkInvariants();
}

function run(actions: Action[]): void {
  const d = new Driver().start();
  const codes = new Set<string>();
  for (const action of actions) {
    switch (action.a) {
      case "cmd": {
        const command = d.command(action.tenant, action.op);
        const before = d.sm.resourceDigest();
        const result = d.apply(encodeCommand(command));
        codes.add(result.ok ? "ok" : result.code);
        expect(result.ok || result.code !== "OVN_CONNECTION_FAILED").toBe(true);
        expect(
          result.ok ||
            !["INVALID_COMMAND", "SESSION_EXPIRED", "STALE_REQUEST"].includes(result.code),
        ).toBe(true);
        if (!result.ok) expect(d.sm.resourceDigest()).toBe(before);
        d.sent.push({ command, result });
        break;
      }
      case "retry": {
        const original = d.sent[d.sent.length - 1 - action.back];
        if (original === undefined) break;
        const before = d.sm.resourceDigest();
        expect(d.apply(encodeCommand(original.command))).toEqual(original.result);
        expect(d.sm.resourceDigest()).toBe(before);
        break;
      }
      case "snapshot": {
        const digest = d.sm.digest();
        d.sm = NetworkStateMachine.restore(d.sm.snapshot());
        expect(d.sm.digest()).toBe(digest);
        break;
      }
      case "time":
        d.timeMs += action.ms;
        break;
    }
    checkFromOutside(d.sm);
    expect(NetworkStateMachine.restore(d.sm.snapshot()).digest()).toBe(d.sm.digest());
  }
  // Replay the whole log on a fresh replica: the same digest after every entry.
  const replica = new NetworkStateMachine();
  for (const entry of d.log) {
    replica.apply(entry.bytes, entry.ctx);
    expect(replica.digest()).toBe(entry.digest);
  }
}

describe("random command sequences", () => {
  it("keep every invariant, replay to the same digests and survive snapshot/restore", () => {
    fc.assert(
      fc.property(fc.array(actionArb, { minLength: 10, maxLength: 100 }), (actions) =>
        run(actions),
      ),
      { numRuns: Number(process.env.SM_PROPERTY_RUNS ?? 120) },
    );
  }, 3_600_000);

  it("reach the interesting outcomes (the generator is not vacuous)", () => {
    const seen = new Set<string>();
    for (const actions of fc.sample(fc.array(actionArb, { minLength: 100, maxLength: 100 }), {
      numRuns: 40,
      seed: 20_251_208,
    })) {
      const d = new Driver().start();
      for (const action of actions) {
        if (action.a !== "cmd") continue;
        const result = d.apply(encodeCommand(d.command(action.tenant, action.op)));
        const key = `${action.op.k}:${result.ok ? "ok" : result.code}`;
        seen.add(key);
        if (action.op.k === "dnat" && action.op.proto === "ALL")
          seen.add(`fip:${result.ok ? "ok" : result.code}`);
      }
    }
    for (const expected of [
      "vpc:ok",
      "port:ok",
      "port:IP_ALREADY_ALLOCATED",
      "port:MAC_ADDRESS_IN_USE",
      "port:SUBNET_EXHAUSTED",
      "port:IP_RESERVED",
      "port:SECURITY_GROUP_NOT_FOUND",
      "subnet:CIDR_OVERLAP",
      "subnet:SUBNET_OUTSIDE_VPC",
      "attach:ok",
      "detach:ok",
      "snat:EXTERNAL_IP_POOL_EXHAUSTED",
      "snat:EXTERNAL_IP_IN_USE",
      "snat:EXTERNAL_IP_NOT_IN_POOL",
      "dnat:ok",
      "fip:ok",
      "fip:EXTERNAL_IP_IN_USE",
      "snat:ok",
      "delport:NOT_FOUND",
      "attach:PORT_ALREADY_ATTACHED",
      "delsg:SECURITY_GROUP_IN_USE",
      "delvpc:ok",
    ]) {
      expect(seen, expected).toContain(expected);
    }
  });
});
