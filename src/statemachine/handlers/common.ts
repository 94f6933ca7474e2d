// Shared lookups. Every lookup is tenant-scoped: a resource of another tenant is reported with
// exactly the code and message a missing one gets (the message only echoes the caller's input).

import type { TenantFields } from "../commands.js";
import type { ResolvedConfig } from "../config.js";
import { type Err, err } from "../errors.js";
import {
  childIdOf,
  type PortEntry,
  type SecurityGroupEntry,
  type State,
  type SubnetEntry,
  type VpcEntry,
  vpcIdOf,
} from "../state.js";
import { canonicalUuid } from "../validate.js";

/** What a handler sees: the state, the config, and the log time of the entry being applied. */
export interface Exec {
  readonly state: State;
  readonly config: ResolvedConfig;
  readonly nowMs: number;
}

export function isErr(value: unknown): value is Err {
  return typeof value === "object" && value !== null && (value as { ok?: unknown }).ok === false;
}

function ownedBy(entry: { org_id: string; project_id: string }, c: TenantFields): boolean {
  return entry.org_id === c.org_id && entry.project_id === c.project_id;
}

export function findVpc(x: Exec, c: TenantFields, vpcId: string): VpcEntry | Err {
  const entry = vpcId === vpcIdOf(c.org_id, c.project_id) ? x.state.vpcs.get(vpcId) : undefined;
  if (entry === undefined || !ownedBy(entry.vpc, c))
    return err("NOT_FOUND", `VPC ${vpcId} not found`);
  return entry;
}

/** The caller's own VPC (for commands that create inside the project). */
export function findOwnVpc(x: Exec, c: TenantFields): VpcEntry | Err {
  return findVpc(x, c, vpcIdOf(c.org_id, c.project_id));
}

export function findSubnet(x: Exec, c: TenantFields, subnetId: string): SubnetEntry | Err {
  const entry = x.state.subnets.get(subnetId);
  if (entry === undefined || !ownedBy(entry.subnet, c))
    return err("NOT_FOUND", `subnet ${subnetId} not found`);
  return entry;
}

export function findPort(x: Exec, c: TenantFields, portId: string): PortEntry | Err {
  const id = canonicalUuid(portId);
  const entry = id === null ? undefined : x.state.ports.get(id);
  if (entry === undefined || !ownedBy(entry.port, c))
    return err("NOT_FOUND", `port ${portId} not found`);
  return entry;
}

/** A group reference is a full id "{org}/{project}/{name}" or a bare name of the caller's project. */
export function securityGroupIdFor(c: TenantFields, reference: string): string {
  return reference.includes("/") ? reference : childIdOf(c.org_id, c.project_id, reference);
}

export function findSecurityGroup(
  x: Exec,
  c: TenantFields,
  reference: string,
  code: "NOT_FOUND" | "SECURITY_GROUP_NOT_FOUND",
): SecurityGroupEntry | Err {
  const entry = x.state.securityGroups.get(securityGroupIdFor(c, reference));
  if (entry === undefined || !ownedBy(entry.group, c)) {
    return err(code, `security group ${reference} not found`);
  }
  return entry;
}

/** Deterministic, sorted copy (results must not depend on derived-index order). */
export function sortedIds(ids: Iterable<string>): string[] {
  return [...ids].sort();
}
