// Snapshot: the whole replicated state as one msgpack value, with a checksum.
//
//   snapshot = pack([ "novanet.snapshot", snapshotFormatVersion, body, sha256hex(body) ])
//   body     = pack({ applied, config, cursors, vpcs, subnets, security_groups, ports, snats,
//                     dnats, sessions })            — records are positional tuples (compact)
//
// Only primary data is written; every derived index (IPAM bitmaps, per-VPC sets, MAC/IP maps,
// reference counts, pool occupancy) is rebuilt on restore through the same State helpers that
// apply uses, then the full invariant check runs. Lists are written in Map insertion order and
// re-inserted in that order, so a restored replica iterates exactly like the original. The
// digest of a state is sha256(body): two replicas at the same applied index must agree on it.

import { createHash } from "node:crypto";
import { assert } from "./assert.js";
import { packr } from "./codec.js";
import { type NetworkConfig, resolveConfig } from "./config.js";
import type { Result } from "./errors.js";
import { checkStateInvariants } from "./invariants.js";
import { parseIp } from "./ip.js";
import type { SessionRecord } from "./sessions.js";
import { SessionTable } from "./sessions.js";
import { State } from "./state.js";
import {
  type DnatConfig,
  deepFreeze,
  type NatProtocol,
  type Port,
  type Protocol,
  type SecurityGroup,
  type SecurityRule,
  type SourceType,
  type Subnet,
  type Vpc,
} from "./types.js";

export const snapshotMagic = "novanet.snapshot";
export const snapshotFormatVersion = 1;

export class SnapshotError extends Error {
  override name = "SnapshotError";
}

type VpcRecord = [string, string, string, string, string, string | null, number, number, number];
type RuleRecord = [string, Protocol, number, number, SourceType, string];
type GroupRecord = [
  string,
  string,
  string,
  string,
  string,
  RuleRecord[],
  RuleRecord[],
  number,
  number,
];
type SubnetRecord = [
  string,
  string,
  string,
  string,
  string,
  string,
  string,
  string[],
  boolean,
  number | null,
  [string, string][],
  number,
  number,
  number,
];
type PortRecord = [
  string,
  string,
  string,
  string,
  string,
  string | null,
  string,
  string,
  string[],
  number,
  number,
];
type SnatRecord = [string, string, boolean, number];
type DnatRecord = [string, string, string, number, string, number, NatProtocol, number];

interface Body {
  applied: [number, number, number];
  config: NetworkConfig | null;
  cursors: [number, number];
  vpcs: VpcRecord[];
  subnets: SubnetRecord[];
  security_groups: GroupRecord[];
  ports: PortRecord[];
  snats: SnatRecord[];
  dnats: DnatRecord[];
  sessions: SessionRecord<Result<unknown>>[];
}

function ruleRecord(r: SecurityRule): RuleRecord {
  return [
    r.id,
    r.protocol,
    r.port_range?.min ?? -1,
    r.port_range?.max ?? -1,
    r.source_type,
    r.source,
  ];
}

function ruleOf([id, protocol, min, max, sourceType, source]: RuleRecord): SecurityRule {
  return {
    id,
    protocol,
    port_range: min < 0 ? null : { min, max },
    source_type: sourceType,
    source,
  };
}

function bodyOf(state: State): Body {
  const vpcs = [...state.vpcs.values()];
  return {
    applied: [state.appliedIndex, state.appliedTerm, state.logTimeMs],
    config: state.config === null ? null : state.config.raw,
    cursors: [state.cidrPool?.cursor ?? -1, state.externalPool?.cursor ?? -1],
    vpcs: vpcs.map(({ vpc: v, autoBlock }) => [
      v.id,
      v.org_id,
      v.project_id,
      v.name,
      v.cidr,
      v.ipv6_cidr,
      autoBlock,
      v.created_at,
      v.updated_at,
    ]),
    subnets: [...state.subnets.values()].map(({ subnet: s, ipam }) => [
      s.id,
      s.org_id,
      s.project_id,
      s.vpc_id,
      s.name,
      s.cidr,
      s.gateway_ip,
      [...s.dns_servers],
      s.dhcp_enabled,
      s.mtu,
      s.reserved_ranges.map((r) => [r.start, r.end]),
      s.created_at,
      s.updated_at,
      ipam.window.cursor,
    ]),
    security_groups: [...state.securityGroups.values()].map(({ group: g }) => [
      g.id,
      g.org_id,
      g.project_id,
      g.name,
      g.description,
      g.ingress_rules.map(ruleRecord),
      g.egress_rules.map(ruleRecord),
      g.created_at,
      g.updated_at,
    ]),
    ports: [...state.ports.values()].map(({ port: p }) => [
      p.id,
      p.org_id,
      p.project_id,
      p.vpc_id,
      p.subnet_id,
      p.vm_id,
      p.mac_address,
      p.ip_address,
      [...p.security_group_ids],
      p.created_at,
      p.updated_at,
    ]),
    snats: vpcs.flatMap(({ snat }) =>
      snat === null
        ? []
        : [[snat.vpc_id, snat.external_ip, snat.enabled, snat.created_at] as SnatRecord],
    ),
    dnats: [...state.dnats.values()].map((d) => [
      d.id,
      d.vpc_id,
      d.external_ip,
      d.external_port,
      d.internal_ip,
      d.internal_port,
      d.protocol,
      d.created_at,
    ]),
    sessions: state.sessions.records(),
  };
}

export function encodeBody(state: State): Uint8Array {
  return packr.pack(bodyOf(state));
}

/** The body without the applied position and the sessions: the resources alone. */
export function encodeResourceBody(state: State): Uint8Array {
  return packr.pack({ ...bodyOf(state), applied: [0, 0, 0], sessions: [] });
}

export function sha256Hex(bytes: Uint8Array): string {
  return createHash("sha256").update(bytes).digest("hex");
}

export function encodeSnapshot(state: State): Uint8Array {
  const body = encodeBody(state);
  return packr.pack([snapshotMagic, snapshotFormatVersion, body, sha256Hex(body)]);
}

function unpackBody(bytes: Uint8Array): Body {
  let envelope: unknown;
  try {
    envelope = packr.unpack(bytes);
  } catch (e) {
    throw new SnapshotError(`undecodable snapshot: ${(e as Error).message}`);
  }
  if (!Array.isArray(envelope) || envelope.length !== 4 || envelope[0] !== snapshotMagic) {
    throw new SnapshotError("not a snapshot");
  }
  if (envelope[1] !== snapshotFormatVersion) {
    throw new SnapshotError(`unsupported snapshot version ${String(envelope[1])}`);
  }
  const body = envelope[2] as unknown;
  if (!(body instanceof Uint8Array) || sha256Hex(body) !== envelope[3]) {
    throw new SnapshotError("snapshot checksum mismatch");
  }
  return packr.unpack(body) as Body;
}

function restoreTopology(state: State, body: Body): void {
  for (const [
    id,
    org_id,
    project_id,
    name,
    cidr,
    ipv6_cidr,
    autoBlock,
    created_at,
    updated_at,
  ] of body.vpcs) {
    const vpc: Vpc = {
      id,
      org_id,
      project_id,
      name,
      cidr,
      ipv6_cidr,
      cidr_auto_allocated: autoBlock >= 0,
      created_at,
      updated_at,
    };
    state.insertVpc(deepFreeze(vpc), autoBlock);
  }
  for (const record of body.subnets) {
    const [
      id,
      org_id,
      project_id,
      vpc_id,
      name,
      cidr,
      gateway_ip,
      dns_servers,
      dhcp_enabled,
      mtu,
      ranges,
    ] = record;
    const [, , , , , , , , , , , created_at, updated_at, cursor] = record;
    const ip_version = cidr.includes(":") ? 6 : 4;
    const reserved_ranges = ranges.map(([start, end]) => ({ start, end }));
    const subnet: Subnet = {
      id,
      org_id,
      project_id,
      vpc_id,
      name,
      cidr,
      ip_version,
      gateway_ip,
      dns_servers,
      dhcp_enabled,
      mtu,
      reserved_ranges,
      created_at,
      updated_at,
    };
    state.insertSubnet(deepFreeze(subnet)).ipam.window.setCursor(cursor);
  }
  // Groups may name groups created after them: insert all without rules, then set the rules.
  const groups: SecurityGroup[] = body.security_groups.map(
    ([id, org_id, project_id, name, description, ingress, egress, created_at, updated_at]) =>
      deepFreeze({
        id,
        org_id,
        project_id,
        name,
        description,
        ingress_rules: ingress.map(ruleOf),
        egress_rules: egress.map(ruleOf),
        created_at,
        updated_at,
      }),
  );
  for (const g of groups)
    state.insertSecurityGroup(deepFreeze({ ...g, ingress_rules: [], egress_rules: [] }));
  for (const g of groups) state.replaceSecurityGroup(g);
}

function restorePortsAndNat(state: State, body: Body): void {
  for (const [
    id,
    org_id,
    project_id,
    vpc_id,
    subnet_id,
    vm_id,
    mac_address,
    ip_address,
    groups,
    created_at,
    updated_at,
  ] of body.ports) {
    const subnet = state.subnets.get(subnet_id);
    const address = parseIp(ip_address);
    assert(subnet !== undefined && address !== null, `port ${id} dangling`);
    const offset = address.value - subnet.cidr.first;
    assert(subnet.ipam.allocateAt(offset) === "ok", `port ${id} address not allocatable`);
    const port: Port = {
      id,
      org_id,
      project_id,
      vpc_id,
      subnet_id,
      vm_id,
      mac_address,
      ip_address,
      security_group_ids: groups,
      created_at,
      updated_at,
    };
    state.insertPort(deepFreeze(port), offset);
  }
  for (const [vpc_id, external_ip, enabled, created_at] of body.snats) {
    const vpc = state.vpcs.get(vpc_id);
    assert(vpc !== undefined, "SNAT without VPC");
    state.acquireExternal(vpc, external_ip);
    state.setSnat(vpc, deepFreeze({ vpc_id, external_ip, enabled, created_at }));
  }
  for (const [
    id,
    vpc_id,
    external_ip,
    external_port,
    internal_ip,
    internal_port,
    protocol,
    created_at,
  ] of body.dnats) {
    const vpc = state.vpcs.get(vpc_id);
    assert(vpc !== undefined, "DNAT without VPC");
    state.acquireExternal(vpc, external_ip);
    const dnat: DnatConfig = {
      id,
      vpc_id,
      external_ip,
      external_port,
      internal_ip,
      internal_port,
      protocol,
      created_at,
    };
    state.insertDnat(deepFreeze(dnat));
  }
}

/** Where a rebased snapshot sits in the log of the cluster that will load it. */
export interface LogPosition {
  readonly index: number;
  readonly term: number;
}

/**
 * The same state at another log position: resources, sessions and log time unchanged, only the
 * applied index and term replaced (a restore starts a new cluster whose log begins there).
 * Verifies the input like a restore does (checksum, shape, invariants); throws SnapshotError.
 * The resource digest is unchanged; the full digest is not (it covers the applied position).
 */
export function rebaseSnapshot(bytes: Uint8Array, position: LogPosition): Uint8Array {
  assert(
    Number.isSafeInteger(position.index) && position.index >= 1,
    `rebase: index ${position.index} must be a positive integer`,
  );
  assert(
    Number.isSafeInteger(position.term) && position.term >= 1,
    `rebase: term ${position.term} must be a positive integer`,
  );
  const state = decodeSnapshot(bytes);
  state.appliedIndex = position.index;
  state.appliedTerm = position.term;
  return encodeSnapshot(state);
}

export function decodeSnapshot(bytes: Uint8Array): State {
  const body = unpackBody(bytes);
  const state = new State();
  try {
    [state.appliedIndex, state.appliedTerm, state.logTimeMs] = body.applied;
    if (body.config !== null) {
      const config = resolveConfig(body.config);
      if (!config.ok) throw new SnapshotError(`snapshot config invalid: ${config.message}`);
      state.installConfig(config.value);
      restoreTopology(state, body);
      restorePortsAndNat(state, body);
      state.cidrPool!.setCursor(body.cursors[0]);
      if (state.externalPool !== null) state.externalPool.setCursor(body.cursors[1]);
    }
    state.sessions = SessionTable.fromRecords(
      body.sessions.map(([c, t, f, r]) => [c, t, f, r.map(([id, res]) => [id, deepFreeze(res)])]),
    );
    checkStateInvariants(state);
  } catch (e) {
    if (e instanceof SnapshotError) throw e;
    throw new SnapshotError(`inconsistent snapshot: ${(e as Error).message}`, { cause: e });
  }
  return state;
}
