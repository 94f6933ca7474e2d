/**
 * Typed rows for the OVN Northbound tables NovaNET uses (decoded form, see
 * values.ts), and the columns to monitor so that cached rows match them.
 * Columns exist in NB schema 7.0.0 (Debian bookworm, OVN 23.03) and later.
 * Optional columns (min 0, max 1) are arrays of 0 or 1 element.
 */

export const NB_DATABASE = "OVN_Northbound";

type Strings = Record<string, string>;

interface Base {
  readonly _uuid: string;
  readonly external_ids: Strings;
}

export interface NbGlobal extends Base {
  readonly name: string;
  readonly nb_cfg: number;
  readonly sb_cfg: number;
  readonly hv_cfg: number;
  readonly options: Strings;
}

export interface LogicalRouter extends Base {
  readonly name: string;
  readonly ports: string[];
  readonly static_routes: string[];
  readonly policies: string[];
  readonly nat: string[];
  readonly load_balancer: string[];
  readonly enabled: boolean[];
  readonly options: Strings;
}

export interface LogicalRouterPort extends Base {
  readonly name: string;
  readonly mac: string;
  readonly networks: string[];
  readonly peer: string[];
  readonly enabled: boolean[];
  readonly gateway_chassis: string[];
  readonly ha_chassis_group: string[];
  readonly options: Strings;
  readonly ipv6_ra_configs: Strings;
}

export interface LogicalRouterStaticRoute extends Base {
  readonly ip_prefix: string;
  readonly nexthop: string;
  readonly policy: string[];
  readonly output_port: string[];
  readonly route_table: string;
  readonly options: Strings;
}

export interface GatewayChassis extends Base {
  readonly name: string;
  readonly chassis_name: string;
  readonly priority: number;
  readonly options: Strings;
}

export interface LogicalSwitch extends Base {
  readonly name: string;
  readonly ports: string[];
  readonly acls: string[];
  readonly load_balancer: string[];
  readonly other_config: Strings;
}

export interface LogicalSwitchPort extends Base {
  readonly name: string;
  readonly type: string;
  readonly addresses: string[];
  readonly port_security: string[];
  readonly dynamic_addresses: string[];
  readonly up: boolean[];
  readonly enabled: boolean[];
  readonly dhcpv4_options: string[];
  readonly dhcpv6_options: string[];
  readonly parent_name: string[];
  readonly tag_request: number[];
  readonly options: Strings;
}

export interface DhcpOptions extends Base {
  readonly cidr: string;
  readonly options: Strings;
}

export interface PortGroup extends Base {
  readonly name: string;
  readonly ports: string[];
  readonly acls: string[];
}

export type AclAction = "allow" | "allow-related" | "allow-stateless" | "drop" | "reject" | "pass";

export interface Acl extends Base {
  readonly name: string[];
  readonly priority: number;
  readonly direction: "from-lport" | "to-lport";
  readonly match: string;
  readonly action: AclAction;
  readonly log: boolean;
  readonly severity: string[];
  readonly meter: string[];
  readonly label: number;
  readonly options: Strings;
}

export interface AddressSet extends Base {
  readonly name: string;
  readonly addresses: string[];
}

export interface Nat extends Base {
  readonly type: "dnat" | "snat" | "dnat_and_snat";
  readonly external_ip: string;
  readonly external_mac: string[];
  readonly external_port_range: string;
  readonly logical_ip: string;
  readonly logical_port: string[];
  readonly gateway_port: string[];
  readonly options: Strings;
}

export interface LoadBalancer extends Base {
  readonly name: string;
  readonly vips: Strings;
  readonly protocol: string[];
  readonly options: Strings;
}

/** Table name → row type; use as OvsdbClient<NbRows>. */
export interface NbRows {
  NB_Global: NbGlobal;
  Logical_Router: LogicalRouter;
  Logical_Router_Port: LogicalRouterPort;
  Logical_Router_Static_Route: LogicalRouterStaticRoute;
  Gateway_Chassis: GatewayChassis;
  Logical_Switch: LogicalSwitch;
  Logical_Switch_Port: LogicalSwitchPort;
  DHCP_Options: DhcpOptions;
  Port_Group: PortGroup;
  ACL: Acl;
  Address_Set: AddressSet;
  NAT: Nat;
  Load_Balancer: LoadBalancer;
}

export type NbTable = keyof NbRows;

type Columns<R> = readonly Exclude<keyof R, "_uuid">[];

/** Columns to monitor per table so that cached rows have exactly the typed shape. */
export const NB_MONITOR_COLUMNS = {
  NB_Global: ["name", "nb_cfg", "sb_cfg", "hv_cfg", "options", "external_ids"],
  Logical_Router: [
    "name",
    "ports",
    "static_routes",
    "policies",
    "nat",
    "load_balancer",
    "enabled",
    "options",
    "external_ids",
  ],
  Logical_Router_Port: [
    "name",
    "mac",
    "networks",
    "peer",
    "enabled",
    "gateway_chassis",
    "ha_chassis_group",
    "options",
    "ipv6_ra_configs",
    "external_ids",
  ],
  Logical_Router_Static_Route: [
    "ip_prefix",
    "nexthop",
    "policy",
    "output_port",
    "route_table",
    "options",
    "external_ids",
  ],
  Gateway_Chassis: ["name", "chassis_name", "priority", "options", "external_ids"],
  Logical_Switch: ["name", "ports", "acls", "load_balancer", "other_config", "external_ids"],
  Logical_Switch_Port: [
    "name",
    "type",
    "addresses",
    "port_security",
    "dynamic_addresses",
    "up",
    "enabled",
    "dhcpv4_options",
    "dhcpv6_options",
    "parent_name",
    "tag_request",
    "options",
    "external_ids",
  ],
  DHCP_Options: ["cidr", "options", "external_ids"],
  Port_Group: ["name", "ports", "acls", "external_ids"],
  ACL: [
    "name",
    "priority",
    "direction",
    "match",
    "action",
    "log",
    "severity",
    "meter",
    "label",
    "options",
    "external_ids",
  ],
  Address_Set: ["name", "addresses", "external_ids"],
  NAT: [
    "type",
    "external_ip",
    "external_mac",
    "external_port_range",
    "logical_ip",
    "logical_port",
    "gateway_port",
    "options",
    "external_ids",
  ],
  Load_Balancer: ["name", "vips", "protocol", "options", "external_ids"],
} as const satisfies {
  NB_Global: Columns<NbGlobal>;
  Logical_Router: Columns<LogicalRouter>;
  Logical_Router_Port: Columns<LogicalRouterPort>;
  Logical_Router_Static_Route: Columns<LogicalRouterStaticRoute>;
  Gateway_Chassis: Columns<GatewayChassis>;
  Logical_Switch: Columns<LogicalSwitch>;
  Logical_Switch_Port: Columns<LogicalSwitchPort>;
  DHCP_Options: Columns<DhcpOptions>;
  Port_Group: Columns<PortGroup>;
  ACL: Columns<Acl>;
  Address_Set: Columns<AddressSet>;
  NAT: Columns<Nat>;
  Load_Balancer: Columns<LoadBalancer>;
};
