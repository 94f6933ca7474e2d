// The replicated state and its derived indexes. Only the primary maps (vpcs, subnets, ports,
// securityGroups, dnats), the IPAM cursors, the config, the sessions and the applied position
// are serialised (snapshot.ts); everything else — per-VPC sets, MAC and IP indexes, reference
// counts, the IPAM bitmaps — is derived and rebuilt on restore through the same insert/remove
// helpers that apply uses, so the two paths cannot disagree. All iteration that can reach an
// output runs over Maps in insertion order, which is the log order on every replica.

import { assert } from "./assert.js";
import type { ResolvedConfig } from "./config.js";
import { externalAddress, externalOffset } from "./config.js";
import type { Result } from "./errors.js";
import {
  type Cidr,
  cidrContainsIp,
  cidrSize,
  formatIpv4,
  type IpFamily,
  parseCidr,
  parseIp,
  parseIpv4,
} from "./ip.js";
import { type BigOffsetRange, NextFitAllocator, SubnetIpam } from "./ipam.js";
import { SessionTable } from "./sessions.js";
import type {
  DnatConfig,
  Port,
  SecurityGroup,
  SecurityRule,
  SnatConfig,
  Subnet,
  Vpc,
} from "./types.js";

export interface VpcEntry {
  vpc: Vpc;
  readonly cidr: Cidr;
  readonly ipv6Cidr: Cidr | null;
  /** Block index in the auto-CIDR pool, or -1 for an explicit CIDR. */
  readonly autoBlock: number;
  readonly subnetIds: Set<string>;
  readonly securityGroupIds: Set<string>;
  readonly portIds: Set<string>;
  /** MAC → port id; MACs are unique per VPC. */
  readonly macs: Map<string, string>;
  /** Canonical IP → port id; subnets of a VPC never overlap, so IPs are unique per VPC. */
  readonly ips: Map<string, string>;
  snat: SnatConfig | null;
  readonly dnatIds: Set<string>;
  /** "ip|port|protocol" of the internal side → DNAT id. */
  readonly dnatInternal: Map<string, string>;
  /** External IP → number of NAT rules of this VPC using it (SNAT + DNATs). */
  readonly externalRefs: Map<string, number>;
}

export interface SubnetEntry {
  subnet: Subnet;
  readonly cidr: Cidr;
  readonly ipam: SubnetIpam;
  readonly portIds: Set<string>;
}

export interface PortEntry {
  port: Port;
  /** Offset of the port's address in its subnet. */
  readonly offset: bigint;
}

export interface SecurityGroupEntry {
  group: SecurityGroup;
  readonly vpcId: string;
  /** Ports that list this group. */
  readonly portIds: Set<string>;
  /** Other groups whose rules name this group as source → number of such rules. */
  readonly referencedBy: Map<string, number>;
}

export function vpcIdOf(orgId: string, projectId: string): string {
  return `${orgId}/${projectId}`;
}

export function childIdOf(orgId: string, projectId: string, name: string): string {
  return `${orgId}/${projectId}/${name}`;
}

export function externalKey(ip: string, port: number, protocol: string): string {
  return `${ip}|${port}|${protocol}`;
}

function mustParseCidr(text: string): Cidr {
  const parsed = parseCidr(text);
  assert(parsed.ok, `stored CIDR ${text} does not parse`);
  return parsed.cidr;
}

/** Offsets of a subnet that are never allocated: network, gateway, broadcast, config edges, ranges. */
export function subnetReservedRanges(
  cidr: Cidr,
  gatewayOffset: bigint,
  config: ResolvedConfig,
  userRanges: readonly BigOffsetRange[],
): BigOffsetRange[] {
  const size = cidrSize(cidr);
  const ranges: BigOffsetRange[] = [
    { lo: 0n, hi: 0n },
    { lo: gatewayOffset, hi: gatewayOffset },
    ...userRanges,
  ];
  const leading = BigInt(config.raw.subnet_reserved_leading);
  const trailing = BigInt(config.raw.subnet_reserved_trailing);
  if (leading > 0n) ranges.push({ lo: 1n, hi: leading });
  if (cidr.family === 4) {
    ranges.push({ lo: size - 1n, hi: size - 1n });
    if (trailing > 0n) ranges.push({ lo: size - 1n - trailing, hi: size - 2n });
  } else if (trailing > 0n) {
    ranges.push({ lo: size - trailing, hi: size - 1n });
  }
  return ranges;
}

/** Offsets of the subnet's configured reserved_ranges (already validated). */
export function userReservedOffsets(subnet: Subnet, cidr: Cidr): BigOffsetRange[] {
  return subnet.reserved_ranges.map((range) => {
    const start = parseIp(range.start);
    const end = parseIp(range.end);
    assert(start !== null && end !== null, "stored reserved range does not parse");
    return { lo: start.value - cidr.first, hi: end.value - cidr.first };
  });
}

export class State {
  config: ResolvedConfig | null = null;
  appliedIndex = 0;
  appliedTerm = 0;
  /** max(leader timestamps so far): log time never goes backwards, even across leaders. */
  logTimeMs = 0;
  readonly vpcs = new Map<string, VpcEntry>();
  readonly subnets = new Map<string, SubnetEntry>();
  readonly ports = new Map<string, PortEntry>();
  readonly securityGroups = new Map<string, SecurityGroupEntry>();
  readonly dnats = new Map<string, DnatConfig>();
  /** "external ip|port|protocol" → DNAT id; global, an external (IP, port, protocol) exists once. */
  readonly dnatByExternal = new Map<string, string>();
  /** External IP → owning VPC id; an external IP belongs to one VPC at a time. */
  readonly externalOwners = new Map<string, string>();
  cidrPool: NextFitAllocator | null = null;
  externalPool: NextFitAllocator | null = null;
  sessions = new SessionTable<Result<unknown>>();

  get configOrThrow(): ResolvedConfig {
    assert(this.config !== null, "not bootstrapped");
    return this.config;
  }

  installConfig(config: ResolvedConfig): void {
    assert(this.config === null, "config installed twice");
    this.config = config;
    this.cidrPool = new NextFitAllocator(config.cidrPoolBlocks);
    this.externalPool =
      config.externalPoolSize > 0 ? new NextFitAllocator(config.externalPoolSize) : null;
  }

  /** The CIDR of block `index` of the auto pool. */
  autoBlockCidr(index: number): string {
    const config = this.configOrThrow;
    const blockSize = 2 ** (32 - config.raw.vpc_prefix_length);
    const first = Number(config.cidrPool.first) + index * blockSize;
    return `${formatIpv4(first)}/${config.raw.vpc_prefix_length}`;
  }

  // --- VPCs -----------------------------------------------------------------------------------

  insertVpc(vpc: Vpc, autoBlock: number): VpcEntry {
    assert(!this.vpcs.has(vpc.id), "VPC inserted twice");
    if (autoBlock >= 0) {
      assert(
        this.cidrPool !== null && this.cidrPool.allocateAt(autoBlock) === "ok",
        "auto block taken",
      );
      assert(this.autoBlockCidr(autoBlock) === vpc.cidr, "auto block does not match the CIDR");
    }
    const entry: VpcEntry = {
      vpc,
      cidr: mustParseCidr(vpc.cidr),
      ipv6Cidr: vpc.ipv6_cidr === null ? null : mustParseCidr(vpc.ipv6_cidr),
      autoBlock,
      subnetIds: new Set(),
      securityGroupIds: new Set(),
      portIds: new Set(),
      macs: new Map(),
      ips: new Map(),
      snat: null,
      dnatIds: new Set(),
      dnatInternal: new Map(),
      externalRefs: new Map(),
    };
    this.vpcs.set(vpc.id, entry);
    return entry;
  }

  removeVpc(entry: VpcEntry): void {
    assert(entry.subnetIds.size === 0 && entry.portIds.size === 0, "VPC removed with children");
    assert(
      entry.securityGroupIds.size === 0 && entry.dnatIds.size === 0,
      "VPC removed with groups/NAT",
    );
    assert(entry.snat === null && entry.externalRefs.size === 0, "VPC removed with external IPs");
    if (entry.autoBlock >= 0) this.cidrPool!.release(entry.autoBlock);
    this.vpcs.delete(entry.vpc.id);
  }

  // --- Subnets --------------------------------------------------------------------------------

  insertSubnet(subnet: Subnet): SubnetEntry {
    const vpc = this.vpcs.get(subnet.vpc_id);
    assert(vpc !== undefined, "subnet without VPC");
    assert(!this.subnets.has(subnet.id), "subnet inserted twice");
    const cidr = mustParseCidr(subnet.cidr);
    const gateway = parseIp(subnet.gateway_ip);
    assert(gateway !== null && cidrContainsIp(cidr, gateway), "gateway outside its subnet");
    const reserved = subnetReservedRanges(
      cidr,
      gateway.value - cidr.first,
      this.configOrThrow,
      userReservedOffsets(subnet, cidr),
    );
    const entry: SubnetEntry = {
      subnet,
      cidr,
      ipam: new SubnetIpam(cidrSize(cidr), reserved),
      portIds: new Set(),
    };
    this.subnets.set(subnet.id, entry);
    vpc.subnetIds.add(subnet.id);
    return entry;
  }

  removeSubnet(entry: SubnetEntry): void {
    assert(
      entry.portIds.size === 0 && entry.ipam.allocatedCount === 0,
      "subnet removed with ports",
    );
    this.subnets.delete(entry.subnet.id);
    assert(
      this.vpcs.get(entry.subnet.vpc_id)!.subnetIds.delete(entry.subnet.id),
      "subnet not in its VPC",
    );
  }

  // --- Ports ----------------------------------------------------------------------------------

  /** Insert a port whose address the caller has already taken in the subnet's IPAM. */
  insertPort(port: Port, offset: bigint): void {
    const subnet = this.subnets.get(port.subnet_id);
    const vpc = this.vpcs.get(port.vpc_id);
    assert(subnet !== undefined && vpc !== undefined, "port without subnet or VPC");
    assert(subnet.subnet.vpc_id === vpc.vpc.id, "port subnet in another VPC");
    assert(!this.ports.has(port.id), "port inserted twice");
    assert(subnet.ipam.isAllocated(offset), "port address not taken in IPAM");
    assert(!vpc.macs.has(port.mac_address) && !vpc.ips.has(port.ip_address), "duplicate MAC or IP");
    this.ports.set(port.id, { port, offset });
    subnet.portIds.add(port.id);
    vpc.portIds.add(port.id);
    vpc.macs.set(port.mac_address, port.id);
    vpc.ips.set(port.ip_address, port.id);
    for (const groupId of port.security_group_ids)
      this.securityGroups.get(groupId)!.portIds.add(port.id);
    assert(
      subnet.portIds.size === subnet.ipam.allocatedCount,
      "IPAM count differs from the subnet's ports",
    );
  }

  /** Replace a port's mutable fields (vm_id, security groups), keeping indexes in step. */
  replacePort(port: Port): void {
    const entry = this.ports.get(port.id);
    assert(entry !== undefined, "replacing a missing port");
    const before = entry.port;
    assert(
      before.ip_address === port.ip_address && before.mac_address === port.mac_address,
      "immutable",
    );
    for (const groupId of before.security_group_ids)
      this.securityGroups.get(groupId)!.portIds.delete(port.id);
    for (const groupId of port.security_group_ids)
      this.securityGroups.get(groupId)!.portIds.add(port.id);
    entry.port = port;
  }

  removePort(entry: PortEntry): void {
    const { port } = entry;
    const subnet = this.subnets.get(port.subnet_id)!;
    const vpc = this.vpcs.get(port.vpc_id)!;
    for (const groupId of port.security_group_ids)
      this.securityGroups.get(groupId)!.portIds.delete(port.id);
    subnet.ipam.release(entry.offset);
    subnet.portIds.delete(port.id);
    vpc.portIds.delete(port.id);
    vpc.macs.delete(port.mac_address);
    vpc.ips.delete(port.ip_address);
    this.ports.delete(port.id);
    assert(
      subnet.portIds.size === subnet.ipam.allocatedCount,
      "IPAM count differs from the subnet's ports",
    );
  }

  // --- Security groups --------------------------------------------------------------------------

  #referenceCounts(group: SecurityGroup, delta: 1 | -1): void {
    const rules: SecurityRule[] = [...group.ingress_rules, ...group.egress_rules];
    for (const rule of rules) {
      if (rule.source_type !== "SECURITY_GROUP" || rule.source === group.id) continue;
      const target = this.securityGroups.get(rule.source);
      assert(target !== undefined, `rule source ${rule.source} missing`);
      const count = (target.referencedBy.get(group.id) ?? 0) + delta;
      assert(count >= 0, "negative reference count");
      if (count === 0) target.referencedBy.delete(group.id);
      else target.referencedBy.set(group.id, count);
    }
  }

  insertSecurityGroup(group: SecurityGroup): void {
    const vpcId = vpcIdOf(group.org_id, group.project_id);
    const vpc = this.vpcs.get(vpcId);
    assert(vpc !== undefined, "security group without VPC");
    assert(!this.securityGroups.has(group.id), "security group inserted twice");
    this.securityGroups.set(group.id, {
      group,
      vpcId,
      portIds: new Set(),
      referencedBy: new Map(),
    });
    vpc.securityGroupIds.add(group.id);
    this.#referenceCounts(group, 1);
  }

  replaceSecurityGroup(group: SecurityGroup): void {
    const entry = this.securityGroups.get(group.id);
    assert(entry !== undefined, "replacing a missing security group");
    this.#referenceCounts(entry.group, -1);
    entry.group = group;
    this.#referenceCounts(group, 1);
  }

  removeSecurityGroup(entry: SecurityGroupEntry): void {
    assert(entry.portIds.size === 0, "security group removed while ports use it");
    this.#referenceCounts(entry.group, -1);
    this.securityGroups.delete(entry.group.id);
    assert(
      this.vpcs.get(entry.vpcId)!.securityGroupIds.delete(entry.group.id),
      "group not in its VPC",
    );
  }

  // --- External IPs and NAT ----------------------------------------------------------------------

  /** Take an external IP for a VPC: a given one (already checked free or owned) or the next free. */
  acquireExternal(vpc: VpcEntry, given: string | null): string {
    const pool = this.externalPool;
    assert(pool !== null, "no external pool");
    let ip = given;
    if (ip === null) {
      const offset = pool.allocateNext();
      assert(offset >= 0, "external pool exhausted after the check");
      ip = formatIpv4(externalAddress(this.configOrThrow, offset));
    } else if (!this.externalOwners.has(ip)) {
      const address = parseIpv4(ip);
      assert(address !== null, "bad external IP");
      assert(
        pool.allocateAt(externalOffset(this.configOrThrow, address)) === "ok",
        "external IP taken",
      );
    }
    const owner = this.externalOwners.get(ip);
    assert(owner === undefined || owner === vpc.vpc.id, "external IP owned by another VPC");
    this.externalOwners.set(ip, vpc.vpc.id);
    vpc.externalRefs.set(ip, (vpc.externalRefs.get(ip) ?? 0) + 1);
    return ip;
  }

  releaseExternal(vpc: VpcEntry, ip: string): void {
    const refs = vpc.externalRefs.get(ip);
    assert(
      refs !== undefined && refs >= 1 && this.externalOwners.get(ip) === vpc.vpc.id,
      "not owned",
    );
    if (refs > 1) {
      vpc.externalRefs.set(ip, refs - 1);
      return;
    }
    vpc.externalRefs.delete(ip);
    this.externalOwners.delete(ip);
    this.externalPool!.release(externalOffset(this.configOrThrow, parseIpv4(ip)!));
  }

  setSnat(vpc: VpcEntry, snat: SnatConfig): void {
    assert(vpc.snat === null && snat.vpc_id === vpc.vpc.id, "SNAT set twice");
    assert(this.externalOwners.get(snat.external_ip) === vpc.vpc.id, "SNAT IP not acquired");
    vpc.snat = snat;
  }

  removeSnat(vpc: VpcEntry): void {
    assert(vpc.snat !== null, "no SNAT");
    const ip = vpc.snat.external_ip;
    vpc.snat = null;
    this.releaseExternal(vpc, ip);
  }

  insertDnat(dnat: DnatConfig): void {
    const vpc = this.vpcs.get(dnat.vpc_id);
    assert(vpc !== undefined && !this.dnats.has(dnat.id), "DNAT without VPC or inserted twice");
    assert(this.externalOwners.get(dnat.external_ip) === vpc.vpc.id, "DNAT IP not acquired");
    assert(vpc.ips.has(dnat.internal_ip), "DNAT internal IP is not a port of the VPC");
    const outside = externalKey(dnat.external_ip, dnat.external_port, dnat.protocol);
    const inside = externalKey(dnat.internal_ip, dnat.internal_port, dnat.protocol);
    assert(!this.dnatByExternal.has(outside) && !vpc.dnatInternal.has(inside), "duplicate DNAT");
    this.dnats.set(dnat.id, dnat);
    this.dnatByExternal.set(outside, dnat.id);
    vpc.dnatInternal.set(inside, dnat.id);
    vpc.dnatIds.add(dnat.id);
  }

  removeDnat(dnat: DnatConfig): void {
    const vpc = this.vpcs.get(dnat.vpc_id)!;
    this.dnats.delete(dnat.id);
    this.dnatByExternal.delete(externalKey(dnat.external_ip, dnat.external_port, dnat.protocol));
    vpc.dnatInternal.delete(externalKey(dnat.internal_ip, dnat.internal_port, dnat.protocol));
    vpc.dnatIds.delete(dnat.id);
    this.releaseExternal(vpc, dnat.external_ip);
  }

  /** Family of a VPC's CIDR for a subnet family. */
  vpcCidrFor(vpc: VpcEntry, family: IpFamily): Cidr | null {
    return family === 4 ? vpc.cidr : vpc.ipv6Cidr;
  }
}
