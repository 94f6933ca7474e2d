// Between the generated API messages and the state machine's commands and resources.
import * as pb from "../api/gen/novanet/v1/network.js";
import type * as sm from "../statemachine/index.js";
import { RpcError } from "./status.js";

const protocolToDomain: Partial<Record<pb.Protocol, sm.Protocol>> = {
  [pb.Protocol.PROTOCOL_TCP]: "TCP",
  [pb.Protocol.PROTOCOL_UDP]: "UDP",
  [pb.Protocol.PROTOCOL_ICMP]: "ICMP",
  [pb.Protocol.PROTOCOL_ALL]: "ALL",
};

const protocolToProto: Record<sm.Protocol, pb.Protocol> = {
  TCP: pb.Protocol.PROTOCOL_TCP,
  UDP: pb.Protocol.PROTOCOL_UDP,
  ICMP: pb.Protocol.PROTOCOL_ICMP,
  ALL: pb.Protocol.PROTOCOL_ALL,
};

export function protocolOf(p: pb.Protocol, field: string): sm.Protocol {
  const d = protocolToDomain[p];
  if (d === undefined)
    throw new RpcError("INVALID_ARGUMENT", `${field}: protocol must be TCP, UDP, ICMP or ALL`);
  return d;
}

/** TCP/UDP: port forwarding; ALL (with both ports 0): a 1:1 DNAT. The state machine checks ports. */
export function natProtocolOf(p: pb.Protocol): sm.NatProtocol {
  if (p === pb.Protocol.PROTOCOL_TCP) return "TCP";
  if (p === pb.Protocol.PROTOCOL_UDP) return "UDP";
  if (p === pb.Protocol.PROTOCOL_ALL) return "ALL";
  throw new RpcError(
    "INVALID_ARGUMENT",
    "protocol: DNAT needs TCP or UDP (port forwarding) or ALL (1:1, both ports 0)",
  );
}

export function sourceTypeOf(t: pb.SourceType, field: string): sm.SourceType {
  if (t === pb.SourceType.SOURCE_TYPE_CIDR) return "CIDR";
  if (t === pb.SourceType.SOURCE_TYPE_SECURITY_GROUP) return "SECURITY_GROUP";
  throw new RpcError("INVALID_ARGUMENT", `${field}: source_type must be CIDR or SECURITY_GROUP`);
}

export function directionOf(d: pb.Direction): sm.Direction {
  if (d === pb.Direction.DIRECTION_INGRESS) return "INGRESS";
  if (d === pb.Direction.DIRECTION_EGRESS) return "EGRESS";
  throw new RpcError("INVALID_ARGUMENT", "direction must be INGRESS or EGRESS");
}

export function ruleSpecOf(
  r: pb.SecurityRule,
  field: string,
  newId: () => string,
): sm.SecurityRuleSpec {
  return {
    id: r.id === "" ? newId() : r.id,
    protocol: protocolOf(r.protocol, field),
    ...(r.portRange ? { port_range: { min: r.portRange.min, max: r.portRange.max } } : {}),
    source_type: sourceTypeOf(r.sourceType, field),
    source: r.source,
  };
}

export function vpcToProto(v: sm.Vpc): pb.Vpc {
  return {
    id: v.id,
    orgId: v.org_id,
    projectId: v.project_id,
    name: v.name,
    cidr: v.cidr,
    createdAt: v.created_at,
    updatedAt: v.updated_at,
    ipv6Cidr: v.ipv6_cidr ?? "",
    cidrAutoAllocated: v.cidr_auto_allocated,
  };
}

export function subnetToProto(s: sm.Subnet): pb.Subnet {
  return {
    id: s.id,
    orgId: s.org_id,
    projectId: s.project_id,
    vpcId: s.vpc_id,
    name: s.name,
    cidr: s.cidr,
    gatewayIp: s.gateway_ip,
    dnsServers: [...s.dns_servers],
    dhcpEnabled: s.dhcp_enabled,
    createdAt: s.created_at,
    updatedAt: s.updated_at,
    mtu: s.mtu ?? 0,
    reservedRanges: s.reserved_ranges.map((r) => ({ start: r.start, end: r.end })),
    ipVersion: s.ip_version,
  };
}

/** OVN status is not replicated state: the OVN sync reports it per port. */
export interface PortOvnStatus {
  ovnPortUuid: string;
  up: boolean;
}

export function portToProto(p: sm.Port, ovn?: PortOvnStatus): pb.Port {
  return {
    id: p.id,
    orgId: p.org_id,
    projectId: p.project_id,
    subnetId: p.subnet_id,
    vmId: p.vm_id ?? "",
    macAddress: p.mac_address,
    ipAddress: p.ip_address,
    securityGroupIds: [...p.security_group_ids],
    ovnPortUuid: ovn?.ovnPortUuid ?? "",
    createdAt: p.created_at,
    vpcId: p.vpc_id,
    updatedAt: p.updated_at,
    up: ovn?.up ?? false,
  };
}

function ruleToProto(r: sm.SecurityRule): pb.SecurityRule {
  return {
    protocol: protocolToProto[r.protocol],
    portRange: r.port_range ? { min: r.port_range.min, max: r.port_range.max } : undefined,
    sourceType:
      r.source_type === "CIDR"
        ? pb.SourceType.SOURCE_TYPE_CIDR
        : pb.SourceType.SOURCE_TYPE_SECURITY_GROUP,
    source: r.source,
    id: r.id,
  };
}

export function securityGroupToProto(g: sm.SecurityGroup): pb.SecurityGroup {
  return {
    id: g.id,
    orgId: g.org_id,
    projectId: g.project_id,
    name: g.name,
    description: g.description,
    ingressRules: g.ingress_rules.map(ruleToProto),
    egressRules: g.egress_rules.map(ruleToProto),
    createdAt: g.created_at,
    updatedAt: g.updated_at,
  };
}

export function snatToProto(s: sm.SnatConfig): pb.SnatConfig {
  return {
    vpcId: s.vpc_id,
    externalIp: s.external_ip,
    enabled: s.enabled,
    createdAt: s.created_at,
  };
}

export function dnatToProto(d: sm.DnatConfig): pb.DnatConfig {
  return {
    vpcId: d.vpc_id,
    externalIp: d.external_ip,
    externalPort: d.external_port,
    internalIp: d.internal_ip,
    internalPort: d.internal_port,
    protocol: protocolToProto[d.protocol],
    id: d.id,
    createdAt: d.created_at,
  };
}
