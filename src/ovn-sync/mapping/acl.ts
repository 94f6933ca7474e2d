// Security group rules → OVN ACL match strings, in Neutron ML2/OVN's shape
// (neutron/common/ovn/acl.py): the port-group side first, then the address family, then the
// remote side, then the protocol.
//   ingress: outport == @<pg> && ip4 && ip4.src == <cidr | $<remote pg>_ip4> && tcp && tcp.dst == 22
//   egress:  inport == @<pg>  && ip4 && ip4.dst == <cidr | $<remote pg>_ip4> && ...
// A rule whose source is a security group carries no address family, so it becomes two ACLs (ip4
// and ip6), each against the remote group's automatic address set of that family.

import type { Direction, PortRange, Protocol } from "../../statemachine/index.js";
import type { AclDirection } from "./types.js";

export type Family = 4 | 6;

/** Neutron's priorities (neutron/common/ovn/constants.py): allow rules above the drop group. */
export const aclPriorityAllow = 1002;
export const aclPriorityDrop = 1001;

/** Ingress (traffic towards the port) is to-lport; egress (from the port) is from-lport. */
export function aclDirection(direction: Direction): AclDirection {
  return direction === "INGRESS" ? "to-lport" : "from-lport";
}

export interface RuleMatchInput {
  readonly portGroup: string;
  readonly direction: Direction;
  readonly family: Family;
  /** A canonical CIDR of `family`, or `$<address set>` of a remote group. */
  readonly remote: string;
  readonly protocol: Protocol;
  readonly portRange: PortRange | null;
}

function rangeMatch(field: string, range: PortRange): string {
  return range.min === range.max
    ? `${field} == ${range.min}`
    : `${field} >= ${range.min} && ${field} <= ${range.max}`;
}

export function ruleMatch(input: RuleMatchInput): string {
  const ip = `ip${input.family}`;
  const parts = [
    input.direction === "INGRESS"
      ? `outport == @${input.portGroup}`
      : `inport == @${input.portGroup}`,
    ip,
  ];
  // "any" (0.0.0.0/0, ::/0) adds nothing: `ip4` already says it.
  if (!input.remote.endsWith("/0")) {
    parts.push(`${ip}.${input.direction === "INGRESS" ? "src" : "dst"} == ${input.remote}`);
  }
  switch (input.protocol) {
    case "TCP":
    case "UDP": {
      const l4 = input.protocol === "TCP" ? "tcp" : "udp";
      parts.push(l4);
      if (input.portRange !== null) parts.push(rangeMatch(`${l4}.dst`, input.portRange));
      break;
    }
    case "ICMP": {
      // Neutron's convention: port_range.min is the ICMP type, port_range.max the code.
      const icmp = `icmp${input.family}`;
      parts.push(icmp);
      if (input.portRange !== null) {
        parts.push(
          `${icmp}.type == ${input.portRange.min}`,
          `${icmp}.code == ${input.portRange.max}`,
        );
      }
      break;
    }
    case "ALL":
      break;
    default: {
      const never: never = input.protocol;
      throw new TypeError(`unknown protocol ${String(never)}`);
    }
  }
  return parts.join(" && ");
}

/** The drop group's two ACLs (Neutron's neutron_pg_drop): all IP in and out of its ports. */
export function dropMatch(portGroup: string, direction: AclDirection): string {
  return direction === "from-lport"
    ? `inport == @${portGroup} && ip`
    : `outport == @${portGroup} && ip`;
}
