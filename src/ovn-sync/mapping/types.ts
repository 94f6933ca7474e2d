// The desired OVN Northbound rows, as plain data. One row type per NB table NovaNET writes; each
// type lists exactly the columns NovaNET manages (the reconciler diffs these and leaves every
// other column alone). A reference to another row is that row's NovaNET key (a string); the
// reconciler turns keys into named-uuid (rows inserted in the same transaction) or uuid.
// `columns` below says, per table, which columns are references and to which table, so code
// that converts rows (ovsdb-json.ts) needs no knowledge of the row types.

/** external_ids keys on every NovaNET row. */
export const ownerKey = "novanet:owner";
export const kindKey = "novanet:kind";
export const idKey = "novanet:id";
export const keyKey = "novanet:key";
/** On every row derived from one VPC (= one project): "{org_id}/{project_id}". Cluster-wide rows
 * (the external switch and its localnet port) have none. */
export const vpcKey = "novanet:vpc";

export type StringMap = Readonly<Record<string, string>>;

export interface LogicalRouterRow {
  readonly name: string;
  /** Keys of Logical_Router_Port rows. */
  readonly ports: readonly string[];
  /** Keys of Logical_Router_Static_Route rows. */
  readonly static_routes: readonly string[];
  /** Keys of NAT rows. */
  readonly nat: readonly string[];
  /** Keys of Load_Balancer rows (weak reference in the schema). */
  readonly load_balancer: readonly string[];
  readonly options: StringMap;
  readonly external_ids: StringMap;
}

export interface LogicalRouterPortRow {
  readonly name: string;
  readonly mac: string;
  /** "address/prefix", e.g. "10.1.0.1/24". */
  readonly networks: readonly string[];
  /** Keys of Gateway_Chassis rows. */
  readonly gateway_chassis: readonly string[];
  readonly options: StringMap;
  readonly ipv6_ra_configs: StringMap;
  readonly external_ids: StringMap;
}

export interface LogicalRouterStaticRouteRow {
  readonly ip_prefix: string;
  readonly nexthop: string;
  readonly external_ids: StringMap;
}

export interface GatewayChassisRow {
  readonly name: string;
  readonly chassis_name: string;
  readonly priority: number;
  readonly external_ids: StringMap;
}

export type NatType = "snat" | "dnat" | "dnat_and_snat";

export interface NatRow {
  readonly type: NatType;
  readonly external_ip: string;
  readonly logical_ip: string;
  /** Key of the router's gateway Logical_Router_Port, or null. */
  readonly gateway_port: string | null;
  readonly external_ids: StringMap;
}

export interface LoadBalancerRow {
  readonly name: string;
  readonly protocol: "tcp" | "udp";
  /** "extip:extport" → "intip:intport". */
  readonly vips: StringMap;
  readonly external_ids: StringMap;
}

export interface LogicalSwitchRow {
  readonly name: string;
  /** Keys of Logical_Switch_Port rows. */
  readonly ports: readonly string[];
  readonly other_config: StringMap;
  readonly external_ids: StringMap;
}

export interface LogicalSwitchPortRow {
  readonly name: string;
  /** "" for a VM port, "router" for a router peer, "localnet" for the provider port. */
  readonly type: string;
  readonly addresses: readonly string[];
  readonly port_security: readonly string[];
  readonly options: StringMap;
  /** Key of a DHCP_Options row, or null. */
  readonly dhcpv4_options: string | null;
  readonly dhcpv6_options: string | null;
  readonly external_ids: StringMap;
}

export interface DhcpOptionsRow {
  readonly cidr: string;
  readonly options: StringMap;
  readonly external_ids: StringMap;
}

export interface PortGroupRow {
  readonly name: string;
  /** Keys of Logical_Switch_Port rows (weak reference in the schema). */
  readonly ports: readonly string[];
  /** Keys of ACL rows. */
  readonly acls: readonly string[];
  readonly external_ids: StringMap;
}

export type AclDirection = "from-lport" | "to-lport";
export type AclAction = "allow-related" | "drop";

export interface AclRow {
  readonly priority: number;
  readonly direction: AclDirection;
  readonly match: string;
  readonly action: AclAction;
  readonly external_ids: StringMap;
}

export interface RowTypes {
  Logical_Router: LogicalRouterRow;
  Logical_Router_Port: LogicalRouterPortRow;
  Logical_Router_Static_Route: LogicalRouterStaticRouteRow;
  Gateway_Chassis: GatewayChassisRow;
  NAT: NatRow;
  Load_Balancer: LoadBalancerRow;
  Logical_Switch: LogicalSwitchRow;
  Logical_Switch_Port: LogicalSwitchPortRow;
  DHCP_Options: DhcpOptionsRow;
  Port_Group: PortGroupRow;
  ACL: AclRow;
}

export type TableName = keyof RowTypes;
export type AnyRow = RowTypes[TableName];

/** Every table NovaNET writes, children before the parents that reference them. */
export const tableNames: readonly TableName[] = [
  "DHCP_Options",
  "Load_Balancer",
  "Gateway_Chassis",
  "Logical_Router_Port",
  "Logical_Router_Static_Route",
  "NAT",
  "Logical_Router",
  "Logical_Switch_Port",
  "Logical_Switch",
  "ACL",
  "Port_Group",
];

/**
 * How a managed column is encoded in OVSDB:
 * - "atom": a scalar (string, integer) — min 1, max 1;
 * - "set": a set of strings; "map": a string→string map;
 * - "ref:T": exactly one reference to T; "ref?:T": zero or one (null); "refs:T": a set.
 */
export type ColumnKind =
  | "atom"
  | "set"
  | "map"
  | `ref:${TableName}`
  | `ref?:${TableName}`
  | `refs:${TableName}`;

/** Whether the NB schema marks the table as a root table (non-root rows need a parent). */
export const rootTables: ReadonlySet<TableName> = new Set<TableName>([
  "Logical_Router",
  "Logical_Switch",
  "DHCP_Options",
  "Port_Group",
  "Load_Balancer",
]);

export const columns: {
  readonly [T in TableName]: { readonly [C in keyof RowTypes[T]]: ColumnKind };
} = {
  Logical_Router: {
    name: "atom",
    ports: "refs:Logical_Router_Port",
    static_routes: "refs:Logical_Router_Static_Route",
    nat: "refs:NAT",
    load_balancer: "refs:Load_Balancer",
    options: "map",
    external_ids: "map",
  },
  Logical_Router_Port: {
    name: "atom",
    mac: "atom",
    networks: "set",
    gateway_chassis: "refs:Gateway_Chassis",
    options: "map",
    ipv6_ra_configs: "map",
    external_ids: "map",
  },
  Logical_Router_Static_Route: { ip_prefix: "atom", nexthop: "atom", external_ids: "map" },
  Gateway_Chassis: { name: "atom", chassis_name: "atom", priority: "atom", external_ids: "map" },
  NAT: {
    type: "atom",
    external_ip: "atom",
    logical_ip: "atom",
    gateway_port: "ref?:Logical_Router_Port",
    external_ids: "map",
  },
  Load_Balancer: { name: "atom", protocol: "atom", vips: "map", external_ids: "map" },
  Logical_Switch: {
    name: "atom",
    ports: "refs:Logical_Switch_Port",
    other_config: "map",
    external_ids: "map",
  },
  Logical_Switch_Port: {
    name: "atom",
    type: "atom",
    addresses: "set",
    port_security: "set",
    options: "map",
    dhcpv4_options: "ref?:DHCP_Options",
    dhcpv6_options: "ref?:DHCP_Options",
    external_ids: "map",
  },
  DHCP_Options: { cidr: "atom", options: "map", external_ids: "map" },
  Port_Group: {
    name: "atom",
    ports: "refs:Logical_Switch_Port",
    acls: "refs:ACL",
    external_ids: "map",
  },
  ACL: { priority: "atom", direction: "atom", match: "atom", action: "atom", external_ids: "map" },
};

/** Desired rows per table, keyed by NovaNET key (also in external_ids["novanet:key"]), key order. */
export type DesiredTables = { readonly [T in TableName]: ReadonlyMap<string, RowTypes[T]> };

export interface DesiredNb {
  readonly clusterId: string;
  readonly tables: DesiredTables;
  /**
   * State that could not be mapped, in a stable order (e.g. an external IP outside the
   * configured external network). The affected rows are left out; everything else is mapped.
   */
  readonly problems: readonly string[];
}
