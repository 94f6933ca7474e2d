// Security groups: rules are TCP/UDP/ICMP/ALL with a validated port range and a source that is
// a CIDR (IPv4 or IPv6) or a group of the same project. The default group (ingress from itself,
// egress to all) is created with the VPC and cannot be deleted; a group that a port uses or that
// another group's rule names refuses deletion (SECURITY_GROUP_IN_USE).

import { assert, assertNever } from "../assert.js";
import type {
  AddSecurityRuleCommand,
  CreateSecurityGroupCommand,
  DeleteSecurityGroupCommand,
  Empty,
  RemoveSecurityRuleCommand,
  SecurityRuleSpec,
  TenantFields,
  UpdateSecurityGroupCommand,
} from "../commands.js";
import { type Err, err, ok, type Result } from "../errors.js";
import { parseCidr } from "../ip.js";
import { rulesPerSecurityGroupMax, securityGroupsPerVpcMax } from "../limits.js";
import { childIdOf } from "../state.js";
import { deepFreeze, type PortRange, type SecurityGroup, type SecurityRule } from "../types.js";
import { isDescription, isResourceName, isRuleId } from "../validate.js";
import { type Exec, findOwnVpc, findSecurityGroup, isErr, securityGroupIdFor } from "./common.js";

export const defaultSecurityGroupName = "default";

const allowAllEgress: readonly SecurityRule[] = [
  {
    id: "default-egress-ipv4",
    protocol: "ALL",
    port_range: null,
    source_type: "CIDR",
    source: "0.0.0.0/0",
  },
  {
    id: "default-egress-ipv6",
    protocol: "ALL",
    port_range: null,
    source_type: "CIDR",
    source: "::/0",
  },
];

/** The default group of a project: ingress from members of the same group, egress to all. */
export function defaultSecurityGroup(
  orgId: string,
  projectId: string,
  nowMs: number,
): SecurityGroup {
  const id = childIdOf(orgId, projectId, defaultSecurityGroupName);
  return deepFreeze({
    id,
    org_id: orgId,
    project_id: projectId,
    name: defaultSecurityGroupName,
    description: "Default security group",
    ingress_rules: [
      {
        id: "default-ingress-self",
        protocol: "ALL",
        port_range: null,
        source_type: "SECURITY_GROUP",
        source: id,
      },
    ],
    egress_rules: [...allowAllEgress],
    created_at: nowMs,
    updated_at: nowMs,
  });
}

function portRangeFor(spec: SecurityRuleSpec): PortRange | null | Err {
  const range = spec.port_range;
  if (range === undefined) return null;
  switch (spec.protocol) {
    case "TCP":
    case "UDP":
      if (range.min < 1 || range.max > 65_535 || range.min > range.max) {
        return err(
          "INVALID_ARGUMENT",
          `rule ${spec.id}: port range must satisfy 1 ≤ min ≤ max ≤ 65535`,
        );
      }
      return { min: range.min, max: range.max };
    case "ICMP":
      // Neutron's convention: min is the ICMP type, max the ICMP code.
      if (range.min < 0 || range.min > 255 || range.max < 0 || range.max > 255) {
        return err("INVALID_ARGUMENT", `rule ${spec.id}: ICMP type and code must lie in 0..255`);
      }
      return { min: range.min, max: range.max };
    case "ALL":
      return err("INVALID_ARGUMENT", `rule ${spec.id}: protocol ALL takes no port range`);
    default:
      return assertNever(spec.protocol);
  }
}

/** Validate one rule; `selfId` (the group being written) is an allowed source. */
function normalizeRule(
  x: Exec,
  c: TenantFields,
  selfId: string,
  spec: SecurityRuleSpec,
): SecurityRule | Err {
  if (!isRuleId(spec.id)) return err("INVALID_ARGUMENT", `rule id ${spec.id} is invalid`);
  const portRange = portRangeFor(spec);
  if (isErr(portRange)) return portRange;
  let source: string;
  switch (spec.source_type) {
    case "CIDR": {
      const parsed = parseCidr(spec.source);
      if (!parsed.ok)
        return err("INVALID_CIDR", `rule ${spec.id}: source ${spec.source}: ${parsed.reason}`);
      source = parsed.cidr.text;
      break;
    }
    case "SECURITY_GROUP": {
      source = securityGroupIdFor(c, spec.source);
      if (source !== selfId) {
        const group = findSecurityGroup(x, c, spec.source, "SECURITY_GROUP_NOT_FOUND");
        if (isErr(group)) return group;
      }
      break;
    }
    default:
      return assertNever(spec.source_type);
  }
  return {
    id: spec.id,
    protocol: spec.protocol,
    port_range: portRange,
    source_type: spec.source_type,
    source,
  };
}

function ruleKey(rule: SecurityRule): string {
  const range = rule.port_range === null ? "*" : `${rule.port_range.min}-${rule.port_range.max}`;
  return `${rule.protocol}|${range}|${rule.source_type}|${rule.source}`;
}

interface RuleSet {
  readonly ingress: SecurityRule[];
  readonly egress: SecurityRule[];
}

/** Validate whole rule lists: ids unique in the group, no duplicate rule in a direction. */
function normalizeRules(
  x: Exec,
  c: TenantFields,
  selfId: string,
  ingress: readonly SecurityRuleSpec[],
  egress: readonly SecurityRuleSpec[],
): RuleSet | Err {
  if (ingress.length + egress.length > rulesPerSecurityGroupMax) {
    return err(
      "LIMIT_EXCEEDED",
      `a security group holds at most ${rulesPerSecurityGroupMax} rules`,
    );
  }
  const ids = new Set<string>();
  const result: RuleSet = { ingress: [], egress: [] };
  for (const [specs, out] of [
    [ingress, result.ingress],
    [egress, result.egress],
  ] as const) {
    const keys = new Set<string>();
    for (const spec of specs) {
      const rule = normalizeRule(x, c, selfId, spec);
      if (isErr(rule)) return rule;
      if (ids.has(rule.id)) return err("INVALID_ARGUMENT", `rule id ${rule.id} is used twice`);
      if (keys.has(ruleKey(rule)))
        return err("INVALID_ARGUMENT", `rule ${rule.id} duplicates another rule`);
      ids.add(rule.id);
      keys.add(ruleKey(rule));
      out.push(rule);
    }
  }
  return result;
}

export function createSecurityGroup(x: Exec, c: CreateSecurityGroupCommand): Result<SecurityGroup> {
  const vpc = findOwnVpc(x, c);
  if (isErr(vpc)) return vpc;
  if (!isResourceName(c.name))
    return err("INVALID_ARGUMENT", `security group name ${c.name} is invalid`);
  const id = childIdOf(c.org_id, c.project_id, c.name);
  if (x.state.securityGroups.has(id))
    return err("ALREADY_EXISTS", `security group ${c.name} already exists`);
  const description = c.description ?? "";
  if (!isDescription(description)) return err("INVALID_ARGUMENT", "description is invalid");
  if (vpc.securityGroupIds.size >= securityGroupsPerVpcMax) {
    return err(
      "LIMIT_EXCEEDED",
      `a project holds at most ${securityGroupsPerVpcMax} security groups`,
    );
  }
  const egressSpecs = c.egress_rules ?? allowAllEgress.map(({ port_range: _, ...rest }) => rest);
  const rules = normalizeRules(x, c, id, c.ingress_rules ?? [], egressSpecs);
  if (isErr(rules)) return rules;
  const group: SecurityGroup = deepFreeze({
    id,
    org_id: c.org_id,
    project_id: c.project_id,
    name: c.name,
    description,
    ingress_rules: rules.ingress,
    egress_rules: rules.egress,
    created_at: x.nowMs,
    updated_at: x.nowMs,
  });
  x.state.insertSecurityGroup(group);
  return ok(group);
}

export function updateSecurityGroup(x: Exec, c: UpdateSecurityGroupCommand): Result<SecurityGroup> {
  const entry = findSecurityGroup(x, c, c.security_group_id, "NOT_FOUND");
  if (isErr(entry)) return entry;
  const description = c.description ?? entry.group.description;
  if (!isDescription(description)) return err("INVALID_ARGUMENT", "description is invalid");
  const rules = normalizeRules(x, c, entry.group.id, c.ingress_rules, c.egress_rules);
  if (isErr(rules)) return rules;
  const group: SecurityGroup = deepFreeze({
    ...entry.group,
    description,
    ingress_rules: rules.ingress,
    egress_rules: rules.egress,
    updated_at: x.nowMs,
  });
  x.state.replaceSecurityGroup(group);
  return ok(group);
}

export function addSecurityRule(x: Exec, c: AddSecurityRuleCommand): Result<SecurityGroup> {
  const entry = findSecurityGroup(x, c, c.security_group_id, "NOT_FOUND");
  if (isErr(entry)) return entry;
  const before = entry.group;
  const rule = normalizeRule(x, c, before.id, c.rule);
  if (isErr(rule)) return rule;
  const all = [...before.ingress_rules, ...before.egress_rules];
  if (all.some((r) => r.id === rule.id))
    return err("ALREADY_EXISTS", `rule ${rule.id} already exists`);
  const sameDirection = c.direction === "INGRESS" ? before.ingress_rules : before.egress_rules;
  if (sameDirection.some((r) => ruleKey(r) === ruleKey(rule))) {
    return err("ALREADY_EXISTS", `an identical ${c.direction.toLowerCase()} rule already exists`);
  }
  if (all.length >= rulesPerSecurityGroupMax) {
    return err(
      "LIMIT_EXCEEDED",
      `a security group holds at most ${rulesPerSecurityGroupMax} rules`,
    );
  }
  const group: SecurityGroup = deepFreeze({
    ...before,
    ingress_rules:
      c.direction === "INGRESS" ? [...before.ingress_rules, rule] : [...before.ingress_rules],
    egress_rules:
      c.direction === "EGRESS" ? [...before.egress_rules, rule] : [...before.egress_rules],
    updated_at: x.nowMs,
  });
  x.state.replaceSecurityGroup(group);
  return ok(group);
}

export function removeSecurityRule(x: Exec, c: RemoveSecurityRuleCommand): Result<SecurityGroup> {
  const entry = findSecurityGroup(x, c, c.security_group_id, "NOT_FOUND");
  if (isErr(entry)) return entry;
  const before = entry.group;
  const ingress = before.ingress_rules.filter((r) => r.id !== c.rule_id);
  const egress = before.egress_rules.filter((r) => r.id !== c.rule_id);
  if (ingress.length + egress.length === before.ingress_rules.length + before.egress_rules.length) {
    return err("NOT_FOUND", `rule ${c.rule_id} not found`);
  }
  const group: SecurityGroup = deepFreeze({
    ...before,
    ingress_rules: ingress,
    egress_rules: egress,
    updated_at: x.nowMs,
  });
  x.state.replaceSecurityGroup(group);
  return ok(group);
}

export function deleteSecurityGroup(x: Exec, c: DeleteSecurityGroupCommand): Result<Empty> {
  const entry = findSecurityGroup(x, c, c.security_group_id, "NOT_FOUND");
  if (isErr(entry)) return entry;
  if (entry.group.name === defaultSecurityGroupName) {
    return err("FAILED_PRECONDITION", "the default security group cannot be deleted");
  }
  if (entry.portIds.size > 0) {
    return err(
      "SECURITY_GROUP_IN_USE",
      `security group ${c.security_group_id} is used by ${entry.portIds.size} ports`,
    );
  }
  if (entry.referencedBy.size > 0) {
    return err(
      "SECURITY_GROUP_IN_USE",
      `security group ${c.security_group_id} is a rule source of other groups`,
    );
  }
  x.state.removeSecurityGroup(entry);
  assert(!x.state.securityGroups.has(entry.group.id), "group still present");
  return ok({});
}
