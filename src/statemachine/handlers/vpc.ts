// VPCs: one per project, id "{org_id}/{project_id}". The CIDR is given (tenants may overlap
// each other freely) or auto-allocated next-fit from config.cidr_pool in vpc_prefix_length
// steps, so no two live VPCs ever hold the same auto CIDR and a freed block is reused only
// after the cursor has gone round the pool. Creating a VPC also creates its default subnet
// (the first default_subnet_size block) and its default security group.

import { assert } from "../assert.js";
import type {
  CreateVpcCommand,
  CreateVpcValue,
  DeleteVpcCommand,
  DeleteVpcValue,
} from "../commands.js";
import { type Err, err, ok, type Result } from "../errors.js";
import { type Cidr, isForbiddenVpcRange, makeCidr, parseCidr } from "../ip.js";
import {
  ipv4PrefixLengthMin,
  ipv6VpcPrefixLengthMax,
  ipv6VpcPrefixLengthMin,
  vpcsMax,
} from "../limits.js";
import { vpcIdOf } from "../state.js";
import { deepFreeze, type Vpc } from "../types.js";
import { isTenantId, isVpcName } from "../validate.js";
import { type Exec, findVpc, isErr, sortedIds } from "./common.js";
import { defaultSecurityGroup } from "./security-group.js";
import { prepareSubnet } from "./subnet.js";

function vpcCidr(x: Exec, text: string): Cidr | Err {
  const parsed = parseCidr(text);
  if (!parsed.ok) return err("INVALID_CIDR", `cidr ${text}: ${parsed.reason}`);
  const cidr = parsed.cidr;
  if (cidr.family !== 4)
    return err("INVALID_CIDR", `cidr ${text}: the VPC CIDR is IPv4 (use ipv6_cidr)`);
  const longest = x.config.raw.default_subnet_size;
  if (cidr.prefixLength < ipv4PrefixLengthMin || cidr.prefixLength > longest) {
    return err(
      "INVALID_CIDR",
      `cidr ${text}: a VPC must be /${ipv4PrefixLengthMin} to /${longest}`,
    );
  }
  if (isForbiddenVpcRange(cidr))
    return err("INVALID_CIDR", `cidr ${text}: address range not allowed`);
  return cidr;
}

function vpcIpv6Cidr(text: string): Cidr | Err {
  const parsed = parseCidr(text);
  if (!parsed.ok) return err("INVALID_CIDR", `ipv6_cidr ${text}: ${parsed.reason}`);
  const cidr = parsed.cidr;
  if (cidr.family !== 6) return err("INVALID_CIDR", `ipv6_cidr ${text} is not IPv6`);
  if (cidr.prefixLength < ipv6VpcPrefixLengthMin || cidr.prefixLength > ipv6VpcPrefixLengthMax) {
    return err(
      "INVALID_CIDR",
      `ipv6_cidr ${text}: must be /${ipv6VpcPrefixLengthMin} to /${ipv6VpcPrefixLengthMax}`,
    );
  }
  if (isForbiddenVpcRange(cidr))
    return err("INVALID_CIDR", `ipv6_cidr ${text}: address range not allowed`);
  return cidr;
}

export function createVpc(x: Exec, c: CreateVpcCommand): Result<CreateVpcValue> {
  assert(
    isTenantId(c.org_id) && isTenantId(c.project_id),
    "tenant ids are checked before dispatch",
  );
  const id = vpcIdOf(c.org_id, c.project_id);
  if (x.state.vpcs.has(id)) return err("ALREADY_EXISTS", `the project already has VPC ${id}`);
  if (!isVpcName(c.name)) return err("INVALID_ARGUMENT", "VPC name is invalid");
  if (x.state.vpcs.size >= vpcsMax) return err("LIMIT_EXCEEDED", `at most ${vpcsMax} VPCs`);
  const explicit = c.cidr === undefined ? null : vpcCidr(x, c.cidr);
  if (isErr(explicit)) return explicit;
  const ipv6 = c.ipv6_cidr === undefined ? null : vpcIpv6Cidr(c.ipv6_cidr);
  if (isErr(ipv6)) return ipv6;
  const pool = x.state.cidrPool!;
  const autoBlock = explicit === null ? pool.peekNext() : -1;
  if (explicit === null && autoBlock < 0) {
    return err(
      "CIDR_POOL_EXHAUSTED",
      `no free /${x.config.raw.vpc_prefix_length} left in ${x.config.raw.cidr_pool}`,
    );
  }
  const auto = parseCidr(autoBlock >= 0 ? x.state.autoBlockCidr(autoBlock) : "0.0.0.0/0");
  assert(auto.ok, "auto block CIDR does not parse");
  const cidr = explicit ?? auto.cidr;
  // The default subnet is validated before anything changes (it always fits a fresh VPC).
  const subnet = prepareSubnet(
    x,
    {
      orgId: c.org_id,
      projectId: c.project_id,
      vpcId: id,
      vpcCidr: cidr,
      vpcIpv6Cidr: ipv6,
      siblings: [],
    },
    { name: "default", cidr: makeCidr(4, cidr.first, x.config.raw.default_subnet_size).text },
  );
  assert(subnet.ok, `default subnet refused: ${subnet.ok ? "" : subnet.message}`);
  const vpc: Vpc = deepFreeze({
    id,
    org_id: c.org_id,
    project_id: c.project_id,
    name: c.name,
    cidr: cidr.text,
    ipv6_cidr: ipv6 === null ? null : ipv6.text,
    cidr_auto_allocated: autoBlock >= 0,
    created_at: x.nowMs,
    updated_at: x.nowMs,
  });
  x.state.insertVpc(vpc, autoBlock); // takes the auto block, as snapshot restore does
  if (autoBlock >= 0) pool.setCursor(autoBlock);
  x.state.insertSubnet(subnet.value);
  const group = defaultSecurityGroup(c.org_id, c.project_id, x.nowMs);
  x.state.insertSecurityGroup(group);
  return ok(deepFreeze({ vpc, default_subnet: subnet.value, default_security_group: group }));
}

export function deleteVpc(x: Exec, c: DeleteVpcCommand): Result<DeleteVpcValue> {
  const entry = findVpc(x, c, c.vpc_id);
  if (isErr(entry)) return entry;
  if (entry.portIds.size > 0 && c.cascade !== true) {
    return err(
      "FAILED_PRECONDITION",
      `VPC ${c.vpc_id} still holds ${entry.portIds.size} ports (use cascade)`,
    );
  }
  const state = x.state;
  const value: DeleteVpcValue = deepFreeze({
    deleted_subnet_ids: sortedIds(entry.subnetIds),
    deleted_port_ids: sortedIds(entry.portIds),
    deleted_security_group_ids: sortedIds(entry.securityGroupIds),
    deleted_dnat_ids: sortedIds(entry.dnatIds),
    deleted_snat: entry.snat !== null,
  });
  for (const dnatId of [...entry.dnatIds]) state.removeDnat(state.dnats.get(dnatId)!);
  if (entry.snat !== null) state.removeSnat(entry);
  for (const portId of [...entry.portIds]) state.removePort(state.ports.get(portId)!);
  for (const subnetId of [...entry.subnetIds]) state.removeSubnet(state.subnets.get(subnetId)!);
  // Drop rules first so that groups referencing each other can go in any order.
  for (const groupId of entry.securityGroupIds) {
    const group = state.securityGroups.get(groupId)!.group;
    state.replaceSecurityGroup(deepFreeze({ ...group, ingress_rules: [], egress_rules: [] }));
  }
  for (const groupId of [...entry.securityGroupIds])
    state.removeSecurityGroup(state.securityGroups.get(groupId)!);
  state.removeVpc(entry);
  assert(!state.vpcs.has(c.vpc_id), "VPC still present");
  return ok(value);
}
