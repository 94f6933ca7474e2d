// Ports: MAC unique in the VPC, IP static or allocated here (next-fit), security groups of the
// same project, attach/detach to a VM. Deleting a port frees its address and deletes the DNAT
// rules that pointed at it (Neutron deletes port forwardings with their internal port).

import { assert } from "../assert.js";
import type {
  AttachPortCommand,
  CreatePortCommand,
  DeletePortCommand,
  DeletePortValue,
  DetachPortCommand,
  TenantFields,
  UpdatePortCommand,
} from "../commands.js";
import { type Err, err, ok, type Result } from "../errors.js";
import { cidrContainsIp, formatIp, parseIp } from "../ip.js";
import { portsMax, portsPerVpcMax, securityGroupsPerPortMax } from "../limits.js";
import { childIdOf, type SubnetEntry } from "../state.js";
import { deepFreeze, type Port } from "../types.js";
import { canonicalMac, canonicalUuid, isVmId } from "../validate.js";
import { type Exec, findPort, findSecurityGroup, findSubnet, isErr, sortedIds } from "./common.js";
import { defaultSecurityGroupName } from "./security-group.js";

/** Resolve group references to ids of the caller's project, deduplicated in order. */
function securityGroupIds(x: Exec, c: TenantFields, references: readonly string[]): string[] | Err {
  const ids: string[] = [];
  for (const reference of references) {
    const group = findSecurityGroup(x, c, reference, "SECURITY_GROUP_NOT_FOUND");
    if (isErr(group)) return group;
    if (!ids.includes(group.group.id)) ids.push(group.group.id);
  }
  if (ids.length > securityGroupsPerPortMax) {
    return err(
      "LIMIT_EXCEEDED",
      `a port takes at most ${securityGroupsPerPortMax} security groups`,
    );
  }
  return ids;
}

/** Check a requested static address; returns its offset in the subnet. */
function staticOffset(subnet: SubnetEntry, text: string): bigint | Err {
  const address = parseIp(text);
  if (address === null) return err("INVALID_ARGUMENT", `ip_address ${text} is not an IP address`);
  if (!cidrContainsIp(subnet.cidr, address)) {
    return err("IP_OUTSIDE_SUBNET", `ip_address ${text} is not within ${subnet.subnet.cidr}`);
  }
  const offset = address.value - subnet.cidr.first;
  if (subnet.ipam.isReserved(offset))
    return err("IP_RESERVED", `ip_address ${text} is reserved in the subnet`);
  if (subnet.ipam.isAllocated(offset))
    return err("IP_ALREADY_ALLOCATED", `ip_address ${text} is already allocated`);
  return offset;
}

export function createPort(x: Exec, c: CreatePortCommand): Result<Port> {
  const subnet = findSubnet(x, c, c.subnet_id);
  if (isErr(subnet)) return subnet;
  const vpc = x.state.vpcs.get(subnet.subnet.vpc_id)!;
  const id = canonicalUuid(c.port_id);
  if (id === null) return err("INVALID_ARGUMENT", `port_id ${c.port_id} is not a UUID`);
  if (x.state.ports.has(id)) return err("ALREADY_EXISTS", `port ${id} already exists`);
  const mac = canonicalMac(c.mac_address);
  if (mac === null)
    return err("INVALID_ARGUMENT", `mac_address ${c.mac_address} is not a unicast MAC`);
  if (vpc.macs.has(mac))
    return err("MAC_ADDRESS_IN_USE", `mac_address ${mac} is already used in the VPC`);
  if (c.vm_id !== undefined && !isVmId(c.vm_id)) return err("INVALID_ARGUMENT", "vm_id is invalid");
  const references = c.security_group_ids ?? [
    childIdOf(c.org_id, c.project_id, defaultSecurityGroupName),
  ];
  const groups = securityGroupIds(x, c, references);
  if (isErr(groups)) return groups;
  if (vpc.portIds.size >= portsPerVpcMax || x.state.ports.size >= portsMax) {
    return err("LIMIT_EXCEEDED", "too many ports");
  }
  let offset: bigint;
  if (c.ip_address !== undefined) {
    const wanted = staticOffset(subnet, c.ip_address);
    if (isErr(wanted)) return wanted;
    assert(subnet.ipam.allocateAt(wanted) === "ok", "static address refused after its checks");
    offset = wanted;
  } else {
    if (!subnet.ipam.canAllocate)
      return err("SUBNET_EXHAUSTED", `subnet ${c.subnet_id} has no free address`);
    const next = subnet.ipam.allocateNext();
    assert(next !== null, "allocation failed after the free check");
    offset = next;
  }
  const port: Port = deepFreeze({
    id,
    org_id: c.org_id,
    project_id: c.project_id,
    vpc_id: vpc.vpc.id,
    subnet_id: subnet.subnet.id,
    vm_id: c.vm_id ?? null,
    mac_address: mac,
    ip_address: formatIp(subnet.cidr.family, subnet.cidr.first + offset),
    security_group_ids: groups,
    created_at: x.nowMs,
    updated_at: x.nowMs,
  });
  x.state.insertPort(port, offset);
  return ok(port);
}

export function updatePort(x: Exec, c: UpdatePortCommand): Result<Port> {
  const entry = findPort(x, c, c.port_id);
  if (isErr(entry)) return entry;
  const groups = securityGroupIds(x, c, c.security_group_ids);
  if (isErr(groups)) return groups;
  const port: Port = deepFreeze({ ...entry.port, security_group_ids: groups, updated_at: x.nowMs });
  x.state.replacePort(port);
  return ok(port);
}

export function deletePort(x: Exec, c: DeletePortCommand): Result<DeletePortValue> {
  const entry = findPort(x, c, c.port_id);
  if (isErr(entry)) return entry;
  const vpc = x.state.vpcs.get(entry.port.vpc_id)!;
  const dnats = [...vpc.dnatIds]
    .map((id) => x.state.dnats.get(id)!)
    .filter((dnat) => dnat.internal_ip === entry.port.ip_address);
  for (const dnat of dnats) x.state.removeDnat(dnat);
  x.state.removePort(entry);
  assert(!vpc.ips.has(entry.port.ip_address), "address still indexed after delete");
  return ok(deepFreeze({ deleted_dnat_ids: sortedIds(dnats.map((d) => d.id)) }));
}

export function attachPort(x: Exec, c: AttachPortCommand): Result<Port> {
  const entry = findPort(x, c, c.port_id);
  if (isErr(entry)) return entry;
  if (!isVmId(c.vm_id)) return err("INVALID_ARGUMENT", "vm_id is invalid");
  const current = entry.port.vm_id;
  if (current === c.vm_id) return ok(entry.port);
  if (current !== null)
    return err("PORT_ALREADY_ATTACHED", `port ${c.port_id} is attached to another VM`);
  const port: Port = deepFreeze({ ...entry.port, vm_id: c.vm_id, updated_at: x.nowMs });
  x.state.replacePort(port);
  return ok(port);
}

export function detachPort(x: Exec, c: DetachPortCommand): Result<Port> {
  const entry = findPort(x, c, c.port_id);
  if (isErr(entry)) return entry;
  if (c.vm_id !== undefined && !isVmId(c.vm_id)) return err("INVALID_ARGUMENT", "vm_id is invalid");
  const current = entry.port.vm_id;
  if (current === null) return ok(entry.port);
  if (c.vm_id !== undefined && current !== c.vm_id) {
    return err("FAILED_PRECONDITION", `port ${c.port_id} is not attached to VM ${c.vm_id}`);
  }
  const port: Port = deepFreeze({ ...entry.port, vm_id: null, updated_at: x.nowMs });
  x.state.replacePort(port);
  return ok(port);
}
