// Tenant isolation: for every command, acting on another tenant's resource fails exactly as if
// the resource did not exist (same code, same message modulo the id) and changes nothing. Runs
// for another organisation and for another project of the same organisation, whose VPC uses
// the same CIDR (overlapping CIDRs across tenants).

import { describe, expect, it } from "vitest";
import { commandTypes } from "../../src/statemachine/index.js";
import { type Client, type Fields, Harness, mac, type TenantType, uuid } from "./harness.js";

interface Case<T extends TenantType = TenantType> {
  type: T;
  /** Fields naming the victim's resource, and the same fields naming a missing one. */
  fields: (victim: Client, self: Client) => Fields<T>;
  ghost: (victim: Client, self: Client) => Fields<T>;
  code: "NOT_FOUND" | "SECURITY_GROUP_NOT_FOUND";
}

function c<T extends TenantType>(type: T) {
  return (x: Omit<Case<T>, "type">): Case => ({ type, ...x }) as unknown as Case;
}

const victimPort = uuid(1);
const victimDnat = uuid(2);
const ghostId = uuid(999);

const cases: Case[] = [
  c("DeleteVpc")({
    fields: (v) => ({ vpc_id: v.vpcId, cascade: true }),
    ghost: () => ({ vpc_id: "ghost/ghost", cascade: true }),
    code: "NOT_FOUND",
  }),
  c("CreateSubnet")({
    fields: (v) => ({ vpc_id: v.vpcId, name: "x", cidr: "10.0.7.0/24" }),
    ghost: () => ({ vpc_id: "ghost/ghost", name: "x", cidr: "10.0.7.0/24" }),
    code: "NOT_FOUND",
  }),
  c("UpdateSubnet")({
    fields: (v) => ({ subnet_id: v.child("default"), mtu: 1400 }),
    ghost: (v) => ({ subnet_id: v.child("ghost"), mtu: 1400 }),
    code: "NOT_FOUND",
  }),
  c("DeleteSubnet")({
    fields: (v) => ({ subnet_id: v.child("empty") }),
    ghost: (v) => ({ subnet_id: v.child("ghost") }),
    code: "NOT_FOUND",
  }),
  c("CreatePort")({
    fields: (v) => ({ port_id: uuid(50), subnet_id: v.child("default"), mac_address: mac(50) }),
    ghost: (v) => ({ port_id: uuid(50), subnet_id: v.child("ghost"), mac_address: mac(50) }),
    code: "NOT_FOUND",
  }),
  c("CreatePort")({
    fields: (v, s) => ({
      port_id: uuid(51),
      subnet_id: s.child("default"),
      mac_address: mac(51),
      security_group_ids: [v.child("web")],
    }),
    ghost: (v, s) => ({
      port_id: uuid(51),
      subnet_id: s.child("default"),
      mac_address: mac(51),
      security_group_ids: [v.child("ghost")],
    }),
    code: "SECURITY_GROUP_NOT_FOUND",
  }),
  c("UpdatePort")({
    fields: () => ({ port_id: victimPort, security_group_ids: [] }),
    ghost: () => ({ port_id: ghostId, security_group_ids: [] }),
    code: "NOT_FOUND",
  }),
  c("UpdatePort")({
    fields: (v) => ({ port_id: uuid(60), security_group_ids: [v.child("web")] }),
    ghost: (v) => ({ port_id: uuid(60), security_group_ids: [v.child("ghost")] }),
    code: "SECURITY_GROUP_NOT_FOUND",
  }),
  c("DeletePort")({
    fields: () => ({ port_id: victimPort }),
    ghost: () => ({ port_id: ghostId }),
    code: "NOT_FOUND",
  }),
  c("AttachPort")({
    fields: () => ({ port_id: victimPort, vm_id: "vm-x" }),
    ghost: () => ({ port_id: ghostId, vm_id: "vm-x" }),
    code: "NOT_FOUND",
  }),
  c("DetachPort")({
    fields: () => ({ port_id: victimPort }),
    ghost: () => ({ port_id: ghostId }),
    code: "NOT_FOUND",
  }),
  c("CreateSecurityGroup")({
    fields: (v) => ({
      name: "x",
      ingress_rules: [
        { id: "r", protocol: "TCP", source_type: "SECURITY_GROUP", source: v.child("web") },
      ],
    }),
    ghost: (v) => ({
      name: "x",
      ingress_rules: [
        { id: "r", protocol: "TCP", source_type: "SECURITY_GROUP", source: v.child("ghost") },
      ],
    }),
    code: "SECURITY_GROUP_NOT_FOUND",
  }),
  c("UpdateSecurityGroup")({
    fields: (v) => ({ security_group_id: v.child("web"), ingress_rules: [], egress_rules: [] }),
    ghost: (v) => ({ security_group_id: v.child("ghost"), ingress_rules: [], egress_rules: [] }),
    code: "NOT_FOUND",
  }),
  c("AddSecurityRule")({
    fields: (v) => ({
      security_group_id: v.child("web"),
      direction: "INGRESS",
      rule: { id: "r", protocol: "ALL", source_type: "CIDR", source: "10.0.0.0/8" },
    }),
    ghost: (v) => ({
      security_group_id: v.child("ghost"),
      direction: "INGRESS",
      rule: { id: "r", protocol: "ALL", source_type: "CIDR", source: "10.0.0.0/8" },
    }),
    code: "NOT_FOUND",
  }),
  c("AddSecurityRule")({
    fields: (v) => ({
      security_group_id: "default",
      direction: "INGRESS",
      rule: { id: "r", protocol: "ALL", source_type: "SECURITY_GROUP", source: v.child("web") },
    }),
    ghost: (v) => ({
      security_group_id: "default",
      direction: "INGRESS",
      rule: { id: "r", protocol: "ALL", source_type: "SECURITY_GROUP", source: v.child("ghost") },
    }),
    code: "SECURITY_GROUP_NOT_FOUND",
  }),
  c("RemoveSecurityRule")({
    fields: (v) => ({ security_group_id: v.child("web"), rule_id: "http" }),
    ghost: (v) => ({ security_group_id: v.child("ghost"), rule_id: "http" }),
    code: "NOT_FOUND",
  }),
  c("DeleteSecurityGroup")({
    fields: (v) => ({ security_group_id: v.child("web") }),
    ghost: (v) => ({ security_group_id: v.child("ghost") }),
    code: "NOT_FOUND",
  }),
  c("CreateSnat")({
    fields: (v) => ({ vpc_id: v.vpcId }),
    ghost: () => ({ vpc_id: "ghost/ghost" }),
    code: "NOT_FOUND",
  }),
  c("DeleteSnat")({
    fields: (v) => ({ vpc_id: v.vpcId }),
    ghost: () => ({ vpc_id: "ghost/ghost" }),
    code: "NOT_FOUND",
  }),
  c("CreateDnat")({
    fields: (v) => ({
      dnat_id: uuid(70),
      vpc_id: v.vpcId,
      external_port: 9,
      protocol: "TCP",
      internal_ip: "10.0.0.5",
      internal_port: 9,
    }),
    ghost: () => ({
      dnat_id: uuid(70),
      vpc_id: "ghost/ghost",
      external_port: 9,
      protocol: "TCP",
      internal_ip: "10.0.0.5",
      internal_port: 9,
    }),
    code: "NOT_FOUND",
  }),
  c("CreateDnat")({
    // Own VPC, but the internal IP is only a port of the victim's (overlapping) VPC.
    fields: (_v, s) => ({
      dnat_id: uuid(71),
      vpc_id: s.vpcId,
      external_port: 9,
      protocol: "TCP",
      internal_ip: "10.0.0.5",
      internal_port: 9,
    }),
    ghost: (_v, s) => ({
      dnat_id: uuid(71),
      vpc_id: s.vpcId,
      external_port: 9,
      protocol: "TCP",
      internal_ip: "10.0.0.6",
      internal_port: 9,
    }),
    code: "NOT_FOUND",
  }),
  c("DeleteDnat")({
    fields: () => ({ dnat_id: victimDnat }),
    ghost: () => ({ dnat_id: ghostId }),
    code: "NOT_FOUND",
  }),
];

function world(attackerOrg: string, attackerProject: string) {
  const h = new Harness().bootstrap();
  const victim = h.client("acme", "web");
  const attacker = h.client(attackerOrg, attackerProject);
  victim.ok("CreateVpc", { name: "v", cidr: "10.0.0.0/16" });
  victim.ok("CreateSubnet", { vpc_id: victim.vpcId, name: "empty", cidr: "10.0.9.0/24" });
  victim.ok("CreateSecurityGroup", {
    name: "web",
    ingress_rules: [
      {
        id: "http",
        protocol: "TCP",
        port_range: { min: 80, max: 80 },
        source_type: "CIDR",
        source: "0.0.0.0/0",
      },
    ],
  });
  victim.ok("CreatePort", {
    port_id: victimPort,
    subnet_id: victim.child("default"),
    mac_address: mac(1),
    ip_address: "10.0.0.5",
  });
  victim.ok("CreateSnat", { vpc_id: victim.vpcId });
  victim.ok("CreateDnat", {
    dnat_id: victimDnat,
    vpc_id: victim.vpcId,
    external_port: 22,
    protocol: "TCP",
    internal_ip: "10.0.0.5",
    internal_port: 22,
  });
  attacker.ok("CreateVpc", { name: "a", cidr: "10.0.0.0/16" });
  attacker.ok("CreatePort", {
    port_id: uuid(60),
    subnet_id: attacker.child("default"),
    mac_address: mac(1),
  });
  return { h, victim, attacker };
}

describe.each([
  ["another organisation", "globex", "shop"],
  ["another project of the same organisation", "acme", "other"],
])("cross-tenant: %s", (_name, org, project) => {
  it("covers every tenant command (CreateVpc only ever acts on the caller's own project)", () => {
    const covered = new Set(cases.map((x) => x.type));
    const tenantTypes = commandTypes.filter(
      (t) => !["Bootstrap", "RegisterClient", "CloseSession", "CreateVpc"].includes(t),
    );
    expect(tenantTypes.filter((t) => !covered.has(t as TenantType))).toEqual([]);
  });

  it.each(cases.map((x, i) => [`${i} ${x.type}`, x] as const))("%s", (_label, x) => {
    const { h, victim, attacker } = world(org, project);
    const before = h.sm.resourceDigest();
    const result = attacker.send(x.type, x.fields(victim, attacker));
    expect(result.ok ? "ok" : result.code).toBe(x.code);
    expect(h.sm.resourceDigest()).toBe(before);
    // Exactly as if it did not exist: the same code and message for a missing resource.
    const ghost = attacker.send(x.type, x.ghost(victim, attacker));
    expect(ghost.ok ? "ok" : ghost.code).toBe(x.code);
    const normalise = (m: string) => m.replaceAll(/[0-9a-f-]{36}|\S+\/\S+|10\.0\.0\.\d+/g, "<id>");
    if (!result.ok && !ghost.ok) expect(normalise(result.message)).toBe(normalise(ghost.message));
    h.sm.checkInvariants();
  });

  it("hides the victim's resources from every read", () => {
    const { h, victim, attacker } = world(org, project);
    const q = h.sm.queries;
    const scope = attacker.scope();
    expect(q.getVpc(scope, victim.vpcId)).toMatchObject({ code: "NOT_FOUND" });
    expect(q.getSubnet(scope, victim.child("default"))).toMatchObject({ code: "NOT_FOUND" });
    expect(q.getSubnetUsage(scope, victim.child("default"))).toMatchObject({ code: "NOT_FOUND" });
    expect(q.getPort(scope, victimPort)).toMatchObject({ code: "NOT_FOUND" });
    expect(q.getSecurityGroup(scope, victim.child("web"))).toMatchObject({ code: "NOT_FOUND" });
    expect(q.getSnat(scope, victim.vpcId)).toMatchObject({ code: "NOT_FOUND" });
    expect(q.getDnat(scope, victimDnat)).toMatchObject({ code: "NOT_FOUND" });
    const ids = (r: {
      ok: boolean;
      value?: { items: readonly { id?: string; vpc_id?: string }[] };
    }) => (r.value?.items ?? []).map((item) => item.id ?? item.vpc_id);
    expect(ids(q.listVpcs(scope))).toEqual([attacker.vpcId]);
    expect(ids(q.listSubnets(scope))).toEqual([attacker.child("default")]);
    expect(ids(q.listPorts(scope))).toEqual([uuid(60)]);
    expect(ids(q.listPorts(scope, { subnet_id: victim.child("default") }))).toEqual([]);
    expect(ids(q.listSecurityGroups(scope))).toEqual([attacker.child("default")]);
    expect(ids(q.listDnats(scope))).toEqual([]);
  });
});
