// The full consistency check of the state: O(state), run by tests after every step and by
// restore after rebuilding the derived indexes. The cheap per-operation assertions live next to
// the data they guard (bitmap.ts, ipam.ts, state.ts).

import { assert } from "./assert.js";
import { externalOffset } from "./config.js";
import { cidrContainsCidr, cidrContainsIp, cidrsOverlap, parseIp, parseIpv4 } from "./ip.js";
import { externalKey, type State, vpcIdOf } from "./state.js";

function sameSet<T>(a: Iterable<T>, b: Iterable<T>, what: string): void {
  const left = new Set(a);
  const right = new Set(b);
  assert(left.size === right.size, `${what}: sizes ${left.size} and ${right.size} differ`);
  for (const item of left) assert(right.has(item), `${what}: ${String(item)} missing`);
}

function checkSubnets(state: State): void {
  for (const [id, entry] of state.subnets) {
    const vpc = state.vpcs.get(entry.subnet.vpc_id);
    assert(vpc !== undefined, `subnet ${id} without VPC`);
    assert(vpc.subnetIds.has(id), `subnet ${id} not in its VPC`);
    const outer = state.vpcCidrFor(vpc, entry.cidr.family);
    assert(outer !== null && cidrContainsCidr(outer, entry.cidr), `subnet ${id} outside its VPC`);
    for (const siblingId of vpc.subnetIds) {
      if (siblingId === id) continue;
      assert(
        !cidrsOverlap(state.subnets.get(siblingId)!.cidr, entry.cidr),
        `subnet ${id} overlaps ${siblingId}`,
      );
    }
    entry.ipam.checkInvariants();
    const portOffsets = [...entry.portIds].map((portId) => state.ports.get(portId)!.offset);
    sameSet(entry.ipam.allocatedOffsets(), portOffsets, `IPAM of ${id} vs its port addresses`);
    assert(entry.ipam.allocatedCount === entry.portIds.size, `IPAM count of ${id}`);
  }
}

function checkPorts(state: State): void {
  for (const [id, { port, offset }] of state.ports) {
    const subnet = state.subnets.get(port.subnet_id);
    const vpc = state.vpcs.get(port.vpc_id);
    assert(subnet !== undefined && vpc !== undefined, `port ${id} dangling`);
    assert(subnet.portIds.has(id) && vpc.portIds.has(id), `port ${id} not indexed`);
    const address = parseIp(port.ip_address);
    assert(
      address !== null && cidrContainsIp(subnet.cidr, address),
      `port ${id} address outside its subnet`,
    );
    assert(
      address.value - subnet.cidr.first === offset,
      `port ${id} offset disagrees with its address`,
    );
    assert(!subnet.ipam.isReserved(offset), `port ${id} holds a reserved address`);
    assert(
      vpc.macs.get(port.mac_address) === id && vpc.ips.get(port.ip_address) === id,
      `port ${id} indexes`,
    );
    for (const groupId of port.security_group_ids) {
      const group = state.securityGroups.get(groupId);
      assert(
        group !== undefined && group.vpcId === vpc.vpc.id,
        `port ${id} group ${groupId} not in project`,
      );
      assert(group.portIds.has(id), `group ${groupId} does not list port ${id}`);
    }
  }
}

function checkSecurityGroups(state: State): void {
  const referencedBy = new Map<string, Map<string, number>>();
  for (const [id, entry] of state.securityGroups) {
    const vpc = state.vpcs.get(entry.vpcId);
    assert(vpc !== undefined, `group ${id} without VPC`);
    assert(vpc.securityGroupIds.has(id), `group ${id} not in its VPC`);
    assert(entry.vpcId === vpcIdOf(entry.group.org_id, entry.group.project_id), `group ${id} VPC`);
    for (const rule of [...entry.group.ingress_rules, ...entry.group.egress_rules]) {
      if (rule.source_type !== "SECURITY_GROUP" || rule.source === id) continue;
      const target = state.securityGroups.get(rule.source);
      assert(
        target !== undefined && target.vpcId === entry.vpcId,
        `group ${id} rule source outside project`,
      );
      const counts = referencedBy.get(rule.source) ?? new Map<string, number>();
      counts.set(id, (counts.get(id) ?? 0) + 1);
      referencedBy.set(rule.source, counts);
    }
    for (const portId of entry.portIds) {
      assert(
        state.ports.get(portId)?.port.security_group_ids.includes(id) === true,
        `group ${id} port list`,
      );
    }
  }
  for (const [id, entry] of state.securityGroups) {
    const expected = referencedBy.get(id) ?? new Map<string, number>();
    sameSet(entry.referencedBy.keys(), expected.keys(), `references to ${id}`);
    for (const [from, count] of expected)
      assert(entry.referencedBy.get(from) === count, `reference count ${id}`);
  }
}

function checkNat(state: State): void {
  const refs = new Map<string, number>();
  const addRef = (ip: string) => refs.set(ip, (refs.get(ip) ?? 0) + 1);
  for (const vpc of state.vpcs.values()) {
    if (vpc.snat !== null) {
      assert(state.externalOwners.get(vpc.snat.external_ip) === vpc.vpc.id, "SNAT IP owner");
      addRef(vpc.snat.external_ip);
    }
  }
  for (const [id, dnat] of state.dnats) {
    const vpc = state.vpcs.get(dnat.vpc_id);
    assert(vpc !== undefined, `DNAT ${id} without VPC`);
    assert(vpc.dnatIds.has(id), `DNAT ${id} not in its VPC`);
    assert(state.externalOwners.get(dnat.external_ip) === dnat.vpc_id, `DNAT ${id} IP owner`);
    assert(vpc.ips.has(dnat.internal_ip), `DNAT ${id} internal IP is not a port of the VPC`);
    assert(
      state.dnatByExternal.get(externalKey(dnat.external_ip, dnat.external_port, dnat.protocol)) ===
        id,
      "DNAT",
    );
    assert(
      vpc.dnatInternal.get(externalKey(dnat.internal_ip, dnat.internal_port, dnat.protocol)) === id,
      `DNAT ${id} internal index`,
    );
    if (dnat.protocol === "ALL") {
      // A 1:1 DNAT: ports 0, and its external IP carries no other NAT rule.
      assert(dnat.external_port === 0 && dnat.internal_port === 0, `1:1 DNAT ${id} ports`);
      assert(vpc.externalRefs.get(dnat.external_ip) === 1, `1:1 DNAT ${id} IP not exclusive`);
    } else {
      assert(dnat.external_port >= 1 && dnat.internal_port >= 1, `DNAT ${id} ports`);
    }
    addRef(dnat.external_ip);
  }
  assert(state.dnatByExternal.size === state.dnats.size, "external DNAT index size");
  sameSet(state.externalOwners.keys(), refs.keys(), "external IP owners vs NAT rules");
  for (const [ip, owner] of state.externalOwners) {
    assert(
      state.vpcs.get(owner)?.externalRefs.get(ip) === refs.get(ip),
      `external IP ${ip} reference count`,
    );
    const offset = externalOffset(state.configOrThrow, parseIpv4(ip)!);
    assert(
      offset >= 0 && state.externalPool!.isAllocated(offset),
      `external IP ${ip} not taken in the pool`,
    );
  }
  assert(
    (state.externalPool?.allocatedCount ?? 0) === state.externalOwners.size,
    "external pool count",
  );
  state.externalPool?.checkInvariants();
}

export function checkStateInvariants(state: State): void {
  if (state.config === null) {
    assert(state.vpcs.size === 0 && state.sessions.size === 0, "state without config");
    return;
  }
  let autoBlocks = 0;
  for (const [id, vpc] of state.vpcs) {
    assert(id === vpcIdOf(vpc.vpc.org_id, vpc.vpc.project_id), `VPC id ${id}`);
    assert(vpc.vpc.cidr_auto_allocated === vpc.autoBlock >= 0, `VPC ${id} auto flag`);
    if (vpc.autoBlock >= 0) {
      autoBlocks++;
      assert(state.cidrPool!.isAllocated(vpc.autoBlock), `VPC ${id} block not taken`);
    }
    assert(
      vpc.macs.size === vpc.portIds.size && vpc.ips.size === vpc.portIds.size,
      `VPC ${id} MAC/IP uniqueness`,
    );
    assert(vpc.securityGroupIds.has(`${id}/default`), `VPC ${id} lost its default group`);
    for (const portId of vpc.portIds)
      assert(state.ports.get(portId)?.port.vpc_id === id, `VPC ${id} port list`);
  }
  assert(state.cidrPool!.allocatedCount === autoBlocks, "auto CIDR pool count");
  state.cidrPool!.checkInvariants();
  checkSubnets(state);
  checkPorts(state);
  checkSecurityGroups(state);
  checkNat(state);
  state.sessions.checkInvariants(state.config.raw);
}
