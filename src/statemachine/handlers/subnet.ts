// Subnets: a CIDR inside the VPC (SUBNET_OUTSIDE_VPC), disjoint from its siblings
// (CIDR_OVERLAP), a gateway (first usable address unless given), DNS servers, DHCP flag, MTU,
// and reserved ranges that IPAM never hands out.

import { assert } from "../assert.js";
import type {
  CreateSubnetCommand,
  DeleteSubnetCommand,
  Empty,
  UpdateSubnetCommand,
} from "../commands.js";
import { type Err, err, ok, type Result } from "../errors.js";
import {
  type Cidr,
  canonicalIp,
  cidrContainsCidr,
  cidrContainsIp,
  cidrLast,
  cidrSize,
  cidrsOverlap,
  formatIp,
  parseCidr,
  parseIp,
} from "../ip.js";
import { mergeBigRanges } from "../ipam.js";
import {
  dnsServersMax,
  ipv4PrefixLengthMin,
  ipv4SubnetPrefixLengthMax,
  ipv6SubnetPrefixLengthMax,
  ipv6SubnetPrefixLengthMin,
  mtuIpv6Min,
  mtuMax,
  mtuMin,
  reservedRangesPerSubnetMax,
  subnetsPerVpcMax,
} from "../limits.js";
import { childIdOf, subnetReservedRanges, type VpcEntry } from "../state.js";
import { deepFreeze, type IpRange, type Subnet } from "../types.js";
import { isResourceName } from "../validate.js";
import { type Exec, findSubnet, findVpc, isErr } from "./common.js";

export interface SubnetSpec {
  readonly name: string;
  readonly cidr: string;
  readonly gateway_ip?: string;
  readonly dns_servers?: readonly string[];
  readonly dhcp_enabled?: boolean;
  readonly mtu?: number;
  readonly reserved_ranges?: readonly IpRange[];
}

export interface SubnetParent {
  readonly orgId: string;
  readonly projectId: string;
  readonly vpcId: string;
  readonly vpcCidr: Cidr;
  readonly vpcIpv6Cidr: Cidr | null;
  readonly siblings: readonly Cidr[];
}

function subnetCidr(parent: SubnetParent, text: string): Cidr | Err {
  const parsed = parseCidr(text);
  if (!parsed.ok) return err("INVALID_CIDR", `cidr ${text}: ${parsed.reason}`);
  const cidr = parsed.cidr;
  const [lo, hi] =
    cidr.family === 4
      ? [ipv4PrefixLengthMin, ipv4SubnetPrefixLengthMax]
      : [ipv6SubnetPrefixLengthMin, ipv6SubnetPrefixLengthMax];
  if (cidr.prefixLength < lo || cidr.prefixLength > hi) {
    return err("INVALID_CIDR", `cidr ${text}: IPv${cidr.family} subnets must be /${lo} to /${hi}`);
  }
  const outer = cidr.family === 4 ? parent.vpcCidr : parent.vpcIpv6Cidr;
  if (outer === null || !cidrContainsCidr(outer, cidr)) {
    return err("SUBNET_OUTSIDE_VPC", `cidr ${cidr.text} is not within the VPC CIDR`);
  }
  const overlapping = parent.siblings.find((sibling) => cidrsOverlap(sibling, cidr));
  if (overlapping !== undefined) {
    return err("CIDR_OVERLAP", `cidr ${cidr.text} overlaps subnet CIDR ${overlapping.text}`);
  }
  return cidr;
}

/** Offset of the gateway: the first usable address (offset 1) unless given. */
function gatewayOffset(cidr: Cidr, text: string | undefined): bigint | Err {
  if (text === undefined) return 1n;
  const address = parseIp(text);
  if (address === null) return err("INVALID_ARGUMENT", `gateway_ip ${text} is not an IP address`);
  if (!cidrContainsIp(cidr, address))
    return err("IP_OUTSIDE_SUBNET", `gateway_ip ${text} is outside ${cidr.text}`);
  const offset = address.value - cidr.first;
  const isBroadcast = cidr.family === 4 && address.value === cidrLast(cidr);
  if (offset === 0n || isBroadcast) {
    return err("IP_RESERVED", `gateway_ip ${text} is the network or broadcast address`);
  }
  return offset;
}

export function dnsServerList(list: readonly string[]): string[] | Err {
  if (list.length > dnsServersMax)
    return err("LIMIT_EXCEEDED", `more than ${dnsServersMax} dns_servers`);
  const servers: string[] = [];
  for (const text of list) {
    const canonical = canonicalIp(text);
    if (canonical === null)
      return err("INVALID_ARGUMENT", `dns server ${text} is not an IP address`);
    if (servers.includes(canonical))
      return err("INVALID_ARGUMENT", `dns server ${text} listed twice`);
    servers.push(canonical);
  }
  return servers;
}

export function mtuCheck(family: 4 | 6, mtu: number): Err | null {
  const lo = family === 4 ? mtuMin : mtuIpv6Min;
  if (mtu < lo || mtu > mtuMax) return err("INVALID_ARGUMENT", `mtu must lie in ${lo}..${mtuMax}`);
  return null;
}

function reservedRangeList(cidr: Cidr, ranges: readonly IpRange[]): IpRange[] | Err {
  if (ranges.length > reservedRangesPerSubnetMax) {
    return err("LIMIT_EXCEEDED", `more than ${reservedRangesPerSubnetMax} reserved_ranges`);
  }
  const canonical: IpRange[] = [];
  for (const range of ranges) {
    const start = parseIp(range.start);
    const end = parseIp(range.end);
    if (start === null || end === null)
      return err("INVALID_ARGUMENT", "reserved range bound is not an IP address");
    if (!cidrContainsIp(cidr, start) || !cidrContainsIp(cidr, end)) {
      return err(
        "IP_OUTSIDE_SUBNET",
        `reserved range ${range.start}-${range.end} is outside ${cidr.text}`,
      );
    }
    if (start.value > end.value)
      return err("INVALID_ARGUMENT", "reserved range start is after its end");
    canonical.push({
      start: formatIp(start.family, start.value),
      end: formatIp(end.family, end.value),
    });
  }
  return canonical;
}

/** Validate a subnet for a parent VPC and build it; nothing is changed. */
export function prepareSubnet(x: Exec, parent: SubnetParent, spec: SubnetSpec): Result<Subnet> {
  if (!isResourceName(spec.name))
    return err("INVALID_ARGUMENT", `subnet name ${spec.name} is invalid`);
  const cidr = subnetCidr(parent, spec.cidr);
  if (isErr(cidr)) return cidr;
  const gateway = gatewayOffset(cidr, spec.gateway_ip);
  if (isErr(gateway)) return gateway;
  const dnsServers = dnsServerList(spec.dns_servers ?? []);
  if (isErr(dnsServers)) return dnsServers;
  const mtuError = spec.mtu === undefined ? null : mtuCheck(cidr.family, spec.mtu);
  if (mtuError !== null) return mtuError;
  const reservedRanges = reservedRangeList(cidr, spec.reserved_ranges ?? []);
  if (isErr(reservedRanges)) return reservedRanges;
  const size = cidrSize(cidr);
  const userOffsets = reservedRanges.map((r) => ({
    lo: parseIp(r.start)!.value - cidr.first,
    hi: parseIp(r.end)!.value - cidr.first,
  }));
  const reserved = mergeBigRanges(subnetReservedRanges(cidr, gateway, x.config, userOffsets), size);
  const reservedCount = reserved.reduce((sum, r) => sum + (r.hi - r.lo + 1n), 0n);
  if (reservedCount >= size)
    return err("INVALID_ARGUMENT", `subnet ${cidr.text} has no usable address left`);
  return ok(
    deepFreeze({
      id: childIdOf(parent.orgId, parent.projectId, spec.name),
      org_id: parent.orgId,
      project_id: parent.projectId,
      vpc_id: parent.vpcId,
      name: spec.name,
      cidr: cidr.text,
      ip_version: cidr.family,
      gateway_ip: formatIp(cidr.family, cidr.first + gateway),
      dns_servers: dnsServers,
      dhcp_enabled: spec.dhcp_enabled ?? true,
      mtu: spec.mtu ?? null,
      reserved_ranges: reservedRanges,
      created_at: x.nowMs,
      updated_at: x.nowMs,
    }),
  );
}

export function subnetParentOf(x: Exec, vpc: VpcEntry): SubnetParent {
  return {
    orgId: vpc.vpc.org_id,
    projectId: vpc.vpc.project_id,
    vpcId: vpc.vpc.id,
    vpcCidr: vpc.cidr,
    vpcIpv6Cidr: vpc.ipv6Cidr,
    siblings: [...vpc.subnetIds].map((id) => x.state.subnets.get(id)!.cidr),
  };
}

export function createSubnet(x: Exec, c: CreateSubnetCommand): Result<Subnet> {
  const vpc = findVpc(x, c, c.vpc_id);
  if (isErr(vpc)) return vpc;
  if (!isResourceName(c.name)) return err("INVALID_ARGUMENT", `subnet name ${c.name} is invalid`);
  if (x.state.subnets.has(childIdOf(c.org_id, c.project_id, c.name))) {
    return err("ALREADY_EXISTS", `subnet ${c.name} already exists`);
  }
  if (vpc.subnetIds.size >= subnetsPerVpcMax) {
    return err("LIMIT_EXCEEDED", `a VPC holds at most ${subnetsPerVpcMax} subnets`);
  }
  const subnet = prepareSubnet(x, subnetParentOf(x, vpc), c);
  if (!subnet.ok) return subnet;
  x.state.insertSubnet(subnet.value);
  return subnet;
}

export function updateSubnet(x: Exec, c: UpdateSubnetCommand): Result<Subnet> {
  const entry = findSubnet(x, c, c.subnet_id);
  if (isErr(entry)) return entry;
  const before = entry.subnet;
  const dnsServers =
    c.dns_servers === undefined ? before.dns_servers : dnsServerList(c.dns_servers);
  if (isErr(dnsServers)) return dnsServers;
  const mtu = c.mtu === undefined ? before.mtu : c.mtu;
  const mtuError = mtu === null ? null : mtuCheck(before.ip_version, mtu);
  if (mtuError !== null) return mtuError;
  const subnet: Subnet = deepFreeze({
    ...before,
    dns_servers: [...dnsServers],
    dhcp_enabled: c.dhcp_enabled ?? before.dhcp_enabled,
    mtu,
    updated_at: x.nowMs,
  });
  entry.subnet = subnet;
  return ok(subnet);
}

export function deleteSubnet(x: Exec, c: DeleteSubnetCommand): Result<Empty> {
  const entry = findSubnet(x, c, c.subnet_id);
  if (isErr(entry)) return entry;
  if (entry.portIds.size > 0) {
    return err(
      "FAILED_PRECONDITION",
      `subnet ${c.subnet_id} still holds ${entry.portIds.size} ports`,
    );
  }
  x.state.removeSubnet(entry);
  assert(!x.state.subnets.has(entry.subnet.id), "subnet still present");
  return ok({});
}
