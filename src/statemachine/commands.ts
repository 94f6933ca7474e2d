// Commands: the only inputs of the state machine. A typed discriminated union on `type`, encoded
// with msgpackr inside a versioned envelope (codec.ts). Everything a replica could otherwise
// choose differently — resource UUIDs, random MACs, rule ids — is chosen before proposing and
// carried here; apply() validates it. Field names are the spec's request fields (snake_case).
//
// Every mutating command carries the client session (client_id, request_id) that makes it
// exactly-once, and the caller's tenant (org_id, project_id) taken from the auth token: any
// resource outside that tenant is reported NOT_FOUND, as if it did not exist.

import type { NetworkConfig } from "./config.js";
import type {
  Direction,
  DnatConfig,
  IpRange,
  NatProtocol,
  Port,
  PortRange,
  Protocol,
  SecurityGroup,
  SnatConfig,
  SourceType,
  Subnet,
  Vpc,
} from "./types.js";

/** Bumped when the encoding of a command changes incompatibly (see decodeCommand). */
export const commandFormatVersion = 1;

export interface SessionFields {
  /** Chosen by the client (a UUID), registered with RegisterClient. */
  readonly client_id: string;
  /** Unique per client; a retry reuses it and receives the original result. */
  readonly request_id: number;
}

export interface TenantFields extends SessionFields {
  readonly org_id: string;
  readonly project_id: string;
}

export interface SecurityRuleSpec {
  /** Rule id chosen before proposing (a UUID in practice), unique within the group. */
  readonly id: string;
  readonly protocol: Protocol;
  readonly port_range?: PortRange;
  readonly source_type: SourceType;
  /** CIDR (IPv4 or IPv6), or a security group id / name of the same project. */
  readonly source: string;
}

/** Sets the replicated configuration; the first command of a cluster's log. No session. */
export interface BootstrapCommand {
  readonly type: "Bootstrap";
  readonly config: NetworkConfig;
}

/** Opens (or refreshes) a client session (Raft dissertation §6.3). No request id. */
export interface RegisterClientCommand {
  readonly type: "RegisterClient";
  readonly client_id: string;
}

export interface CloseSessionCommand {
  readonly type: "CloseSession";
  readonly client_id: string;
}

export interface CreateVpcCommand extends TenantFields {
  readonly type: "CreateVpc";
  readonly name: string;
  /** Omitted: auto-allocated from config.cidr_pool. */
  readonly cidr?: string;
  readonly ipv6_cidr?: string;
}

export interface DeleteVpcCommand extends TenantFields {
  readonly type: "DeleteVpc";
  readonly vpc_id: string;
  /** Also delete ports (and their DNAT rules). Without it a VPC with ports is refused. */
  readonly cascade?: boolean;
}

export interface CreateSubnetCommand extends TenantFields {
  readonly type: "CreateSubnet";
  readonly vpc_id: string;
  readonly name: string;
  readonly cidr: string;
  /** Omitted: the first usable address. */
  readonly gateway_ip?: string;
  readonly dns_servers?: readonly string[];
  /** Omitted: true (Neutron's default). */
  readonly dhcp_enabled?: boolean;
  readonly mtu?: number;
  readonly reserved_ranges?: readonly IpRange[];
}

export interface UpdateSubnetCommand extends TenantFields {
  readonly type: "UpdateSubnet";
  readonly subnet_id: string;
  readonly dns_servers?: readonly string[];
  readonly dhcp_enabled?: boolean;
  /** null clears the MTU. */
  readonly mtu?: number | null;
}

export interface DeleteSubnetCommand extends TenantFields {
  readonly type: "DeleteSubnet";
  readonly subnet_id: string;
}

export interface CreatePortCommand extends TenantFields {
  readonly type: "CreatePort";
  readonly port_id: string;
  readonly subnet_id: string;
  /** Always present: a user-given MAC, or one generated before proposing (generateMacAddress). */
  readonly mac_address: string;
  /** Omitted: allocated inside apply (next-fit). */
  readonly ip_address?: string;
  /** Omitted: the project's default group. Ids or bare names of the caller's project. */
  readonly security_group_ids?: readonly string[];
  readonly vm_id?: string;
}

export interface UpdatePortCommand extends TenantFields {
  readonly type: "UpdatePort";
  readonly port_id: string;
  readonly security_group_ids: readonly string[];
}

export interface DeletePortCommand extends TenantFields {
  readonly type: "DeletePort";
  readonly port_id: string;
}

export interface AttachPortCommand extends TenantFields {
  readonly type: "AttachPort";
  readonly port_id: string;
  readonly vm_id: string;
}

export interface DetachPortCommand extends TenantFields {
  readonly type: "DetachPort";
  readonly port_id: string;
  /** When given, the port must be attached to this VM (guards against a stale detach). */
  readonly vm_id?: string;
}

export interface CreateSecurityGroupCommand extends TenantFields {
  readonly type: "CreateSecurityGroup";
  readonly name: string;
  readonly description?: string;
  readonly ingress_rules?: readonly SecurityRuleSpec[];
  /** Omitted: allow all egress (IPv4 and IPv6), as Neutron and AWS do for a new group. */
  readonly egress_rules?: readonly SecurityRuleSpec[];
}

export interface UpdateSecurityGroupCommand extends TenantFields {
  readonly type: "UpdateSecurityGroup";
  readonly security_group_id: string;
  readonly description?: string;
  /** Replace all rules. */
  readonly ingress_rules: readonly SecurityRuleSpec[];
  readonly egress_rules: readonly SecurityRuleSpec[];
}

export interface AddSecurityRuleCommand extends TenantFields {
  readonly type: "AddSecurityRule";
  readonly security_group_id: string;
  readonly direction: Direction;
  readonly rule: SecurityRuleSpec;
}

export interface RemoveSecurityRuleCommand extends TenantFields {
  readonly type: "RemoveSecurityRule";
  readonly security_group_id: string;
  readonly rule_id: string;
}

export interface DeleteSecurityGroupCommand extends TenantFields {
  readonly type: "DeleteSecurityGroup";
  readonly security_group_id: string;
}

export interface CreateSnatCommand extends TenantFields {
  readonly type: "CreateSnat";
  readonly vpc_id: string;
  /** Omitted: allocated from config.external_ip_pool. */
  readonly external_ip?: string;
  /** Omitted: true. */
  readonly enabled?: boolean;
}

export interface DeleteSnatCommand extends TenantFields {
  readonly type: "DeleteSnat";
  readonly vpc_id: string;
}

export interface CreateDnatCommand extends TenantFields {
  readonly type: "CreateDnat";
  readonly dnat_id: string;
  readonly vpc_id: string;
  /** Omitted: allocated from config.external_ip_pool. */
  readonly external_ip?: string;
  readonly external_port: number;
  readonly protocol: NatProtocol;
  /** Must be the address of a port of the VPC. */
  readonly internal_ip: string;
  readonly internal_port: number;
}

export interface DeleteDnatCommand extends TenantFields {
  readonly type: "DeleteDnat";
  readonly dnat_id: string;
}

export type SessionlessCommand = BootstrapCommand | RegisterClientCommand | CloseSessionCommand;

export type TenantCommand =
  | CreateVpcCommand
  | DeleteVpcCommand
  | CreateSubnetCommand
  | UpdateSubnetCommand
  | DeleteSubnetCommand
  | CreatePortCommand
  | UpdatePortCommand
  | DeletePortCommand
  | AttachPortCommand
  | DetachPortCommand
  | CreateSecurityGroupCommand
  | UpdateSecurityGroupCommand
  | AddSecurityRuleCommand
  | RemoveSecurityRuleCommand
  | DeleteSecurityGroupCommand
  | CreateSnatCommand
  | DeleteSnatCommand
  | CreateDnatCommand
  | DeleteDnatCommand;

export type Command = SessionlessCommand | TenantCommand;
export type CommandType = Command["type"];

export const commandTypes: readonly CommandType[] = [
  "Bootstrap",
  "RegisterClient",
  "CloseSession",
  "CreateVpc",
  "DeleteVpc",
  "CreateSubnet",
  "UpdateSubnet",
  "DeleteSubnet",
  "CreatePort",
  "UpdatePort",
  "DeletePort",
  "AttachPort",
  "DetachPort",
  "CreateSecurityGroup",
  "UpdateSecurityGroup",
  "AddSecurityRule",
  "RemoveSecurityRule",
  "DeleteSecurityGroup",
  "CreateSnat",
  "DeleteSnat",
  "CreateDnat",
  "DeleteDnat",
];

export type Empty = Readonly<Record<never, never>>;

export interface CreateVpcValue {
  readonly vpc: Vpc;
  readonly default_subnet: Subnet;
  readonly default_security_group: SecurityGroup;
}

export interface DeleteVpcValue {
  readonly deleted_subnet_ids: readonly string[];
  readonly deleted_port_ids: readonly string[];
  readonly deleted_security_group_ids: readonly string[];
  readonly deleted_dnat_ids: readonly string[];
  readonly deleted_snat: boolean;
}

export interface DeletePortValue {
  /** DNAT rules that pointed at the port's address are deleted with it (as Neutron does). */
  readonly deleted_dnat_ids: readonly string[];
}

/** The value of a successful result, per command type. */
export interface CommandValues {
  Bootstrap: NetworkConfig;
  RegisterClient: { readonly client_id: string };
  CloseSession: Empty;
  CreateVpc: CreateVpcValue;
  DeleteVpc: DeleteVpcValue;
  CreateSubnet: Subnet;
  UpdateSubnet: Subnet;
  DeleteSubnet: Empty;
  CreatePort: Port;
  UpdatePort: Port;
  DeletePort: DeletePortValue;
  AttachPort: Port;
  DetachPort: Port;
  CreateSecurityGroup: SecurityGroup;
  UpdateSecurityGroup: SecurityGroup;
  AddSecurityRule: SecurityGroup;
  RemoveSecurityRule: SecurityGroup;
  DeleteSecurityGroup: Empty;
  CreateSnat: SnatConfig;
  DeleteSnat: Empty;
  CreateDnat: DnatConfig;
  DeleteDnat: Empty;
}

export type CommandValue = CommandValues[CommandType];
