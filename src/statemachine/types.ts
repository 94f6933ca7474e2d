// Resources as the rest of the system sees them. Field names are the spec's (§5.1), snake_case,
// so that the gRPC layer maps them one to one. Objects handed out are deep-frozen: the state
// replaces a resource on update instead of mutating it, so a reader can never alias live state.
// Times are the leader-stamped log time in milliseconds.

export type Protocol = "TCP" | "UDP" | "ICMP" | "ALL";
export const protocols: readonly Protocol[] = ["TCP", "UDP", "ICMP", "ALL"];

export type SourceType = "CIDR" | "SECURITY_GROUP";
export const sourceTypes: readonly SourceType[] = ["CIDR", "SECURITY_GROUP"];

export type Direction = "INGRESS" | "EGRESS";
export const directions: readonly Direction[] = ["INGRESS", "EGRESS"];

/** "ALL" (with both ports 0) is a 1:1 DNAT: every protocol and port of the external IP. */
export type NatProtocol = "TCP" | "UDP" | "ALL";
export const natProtocols: readonly NatProtocol[] = ["TCP", "UDP", "ALL"];

export interface Vpc {
  /** "{org_id}/{project_id}" */
  readonly id: string;
  readonly org_id: string;
  readonly project_id: string;
  readonly name: string;
  readonly cidr: string;
  /** Optional IPv6 block; IPv6 subnets must lie inside it. */
  readonly ipv6_cidr: string | null;
  /** True when `cidr` came from the auto-allocation pool. */
  readonly cidr_auto_allocated: boolean;
  readonly created_at: number;
  readonly updated_at: number;
}

/** Inclusive address range, e.g. { start: "10.1.0.10", end: "10.1.0.19" }. */
export interface IpRange {
  readonly start: string;
  readonly end: string;
}

export interface Subnet {
  /** "{org_id}/{project_id}/{subnet_name}" */
  readonly id: string;
  readonly org_id: string;
  readonly project_id: string;
  readonly vpc_id: string;
  readonly name: string;
  readonly cidr: string;
  readonly ip_version: 4 | 6;
  readonly gateway_ip: string;
  readonly dns_servers: readonly string[];
  readonly dhcp_enabled: boolean;
  readonly mtu: number | null;
  /** Ranges never allocated, in addition to network, gateway, broadcast and the config edges. */
  readonly reserved_ranges: readonly IpRange[];
  readonly created_at: number;
  readonly updated_at: number;
}

/**
 * A VM network interface. `ovn_port_uuid` and the `up` status of the spec are reported by the
 * OVN sync and merged by the gRPC layer; they are not replicated state.
 */
export interface Port {
  /** UUID, chosen before proposing. */
  readonly id: string;
  readonly org_id: string;
  readonly project_id: string;
  readonly vpc_id: string;
  readonly subnet_id: string;
  /** null when detached. */
  readonly vm_id: string | null;
  readonly mac_address: string;
  /** Always set: the address is allocated when the port is created. */
  readonly ip_address: string;
  readonly security_group_ids: readonly string[];
  readonly created_at: number;
  readonly updated_at: number;
}

export interface PortRange {
  /** TCP/UDP: first port. ICMP (Neutron convention): the ICMP type. */
  readonly min: number;
  /** TCP/UDP: last port. ICMP (Neutron convention): the ICMP code. */
  readonly max: number;
}

export interface SecurityRule {
  readonly id: string;
  readonly protocol: Protocol;
  /** null: all ports (all ICMP types). */
  readonly port_range: PortRange | null;
  readonly source_type: SourceType;
  /** A canonical CIDR, or a security group id "{org_id}/{project_id}/{sg_name}". */
  readonly source: string;
}

export interface SecurityGroup {
  /** "{org_id}/{project_id}/{sg_name}" */
  readonly id: string;
  readonly org_id: string;
  readonly project_id: string;
  readonly name: string;
  readonly description: string;
  readonly ingress_rules: readonly SecurityRule[];
  readonly egress_rules: readonly SecurityRule[];
  readonly created_at: number;
  readonly updated_at: number;
}

export interface SnatConfig {
  readonly vpc_id: string;
  readonly external_ip: string;
  readonly enabled: boolean;
  readonly created_at: number;
}

export interface DnatConfig {
  /** UUID, chosen before proposing. */
  readonly id: string;
  readonly vpc_id: string;
  readonly external_ip: string;
  readonly external_port: number;
  readonly internal_ip: string;
  readonly internal_port: number;
  readonly protocol: NatProtocol;
  readonly created_at: number;
}

/** Neutron's network IP availability, per subnet. Counts are decimal strings (IPv6 is big). */
export interface SubnetUsage {
  readonly subnet_id: string;
  readonly total_ips: string;
  readonly used_ips: string;
}

/** Deep-freeze plain data (objects and arrays) so handed-out values cannot alias live state. */
export function deepFreeze<T>(value: T): T {
  if (typeof value === "object" && value !== null && !Object.isFrozen(value)) {
    for (const key of Object.keys(value)) deepFreeze((value as Record<string, unknown>)[key]);
    Object.freeze(value);
  }
  return value;
}
