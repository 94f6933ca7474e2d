// desiredNorthbound: NovaNET state → the OVN Northbound rows the leader must hold. Pure and
// deterministic: it only reads the state (through its iteration generators), sorts every input
// by id, and derives names and MACs from hashes, so the same state gives a deep-equal result on
// every replica, whatever the insertion order. See README.md for the conventions and reasons.

import type {
  DnatConfig,
  Page,
  PageRequest,
  Port,
  PortFilter,
  Result,
  Scope,
  SecurityGroup,
  SecurityRule,
  SnatConfig,
  Subnet,
  Vpc,
} from "../../statemachine/index.js";
import { parseCidr, parseIp } from "../../statemachine/ip.js";
import {
  aclDirection,
  aclPriorityAllow,
  aclPriorityDrop,
  dropMatch,
  type Family,
  ruleMatch,
} from "./acl.js";
import { addressSetOf, derivedMac, isUnicastMac, names } from "./names.js";
import {
  type AclDirection,
  type DesiredNb,
  type DesiredTables,
  idKey,
  keyKey,
  kindKey,
  ownerKey,
  type RowTypes,
  type StringMap,
  type TableName,
  tableNames,
  vpcKey,
} from "./types.js";

/** What the mapping reads: NetworkStateMachine satisfies it. */
export interface StateReader {
  vpcs(): Iterable<Vpc>;
  subnets(): Iterable<Subnet>;
  ports(): Iterable<Port>;
  securityGroups(): Iterable<SecurityGroup>;
  snats(): Iterable<SnatConfig>;
  dnats(): Iterable<DnatConfig>;
  /** Per-project reads; when present a scoped mapping costs O(scope), not O(state). */
  readonly queries?: ScopedQueries;
}

/** The part of the state machine's Queries a scoped mapping uses (NetworkStateMachine has it). */
export interface ScopedQueries {
  getVpc(scope: Scope, vpcId: string): Result<Vpc>;
  listSubnets(scope: Scope, request?: PageRequest): Result<Page<Subnet>>;
  listPorts(scope: Scope, filter?: PortFilter, request?: PageRequest): Result<Page<Port>>;
  listSecurityGroups(scope: Scope, request?: PageRequest): Result<Page<SecurityGroup>>;
  getSnat(scope: Scope, vpcId: string): Result<SnatConfig>;
  listDnats(scope: Scope, request?: PageRequest): Result<Page<DnatConfig>>;
}

/** The provider ("public") network that VPC routers reach through their gateway port. */
export interface ExternalNetwork {
  /** IPv4 CIDR of the provider network; the SNAT/DNAT external IPs lie in it. */
  readonly cidr: string;
  /** The upstream router on it: next hop of every VPC router's default route. */
  readonly gateway: string;
  /** network_name of the localnet port (ovn-bridge-mappings); omitted: no localnet port. */
  readonly physicalNetwork?: string;
  /** Chassis that may host the gateway ports, highest priority first. */
  readonly gatewayChassis?: readonly string[];
}

export interface MappingOptions {
  /** Names this NovaNET cluster in every row (external_ids novanet:owner) and in every hash. */
  readonly clusterId: string;
  /** The provider network; omitted: no external switch, and SNAT/DNAT get no OVN rows. */
  readonly external?: ExternalNetwork;
  /** MAC of a router port from its row key; default: a locally administered hash of the key. */
  readonly macOf?: (key: string) => string;
  /** DHCPv4 lease_time in seconds; default 43200 (Neutron's dhcp_default_lease_time). */
  readonly dhcpLeaseTimeS?: number;
  /** DHCP/RA MTU when the subnet has none; default 1442 (1500 less Geneve over IPv4). */
  readonly defaultMtu?: number;
  /**
   * Map only these VPCs ("{org_id}/{project_id}"): their rows (their drop groups included), plus
   * the cluster-wide rows whose reference sets then hold only this scope's members (the external
   * switch's ports). The reconciler mutates those sets; it never rewrites them from a scoped map.
   */
  readonly scope?: ReadonlySet<string>;
}

export const defaultDhcpLeaseTimeS = 43_200;
export const defaultMtu = 1442;
/** Gateway_Chassis priorities count down from OVN's maximum, as Neutron's do. */
const gatewayChassisPriorityMax = 32_767;

// biome-ignore lint/suspicious/noControlCharactersInRegex: the point is to reject them.
const controlPattern = /[\x00-\x1f\x7f]/;

function byId<T extends { readonly id: string }>(items: Iterable<T>): T[] {
  return [...items].sort((a, b) => compare(a.id, b.id));
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function sortedKeys(keys: Iterable<string>): string[] {
  return [...keys].sort(compare);
}

interface ResolvedOptions {
  readonly clusterId: string;
  /** The external network's CIDR, or null when there is none (no gateway, NAT or LB rows). */
  readonly externalCidr: string | null;
  readonly externalPrefixLength: number;
  readonly externalFirst: bigint;
  readonly externalLast: bigint;
  readonly externalGateway: string;
  readonly physicalNetwork: string | null;
  readonly gatewayChassis: readonly string[];
  readonly macOf: (key: string) => string;
  readonly leaseTime: number;
  readonly mtu: number;
}

function resolveOptions(options: MappingOptions): ResolvedOptions {
  const { clusterId, external } = options;
  if (clusterId.length === 0 || controlPattern.test(clusterId))
    throw new TypeError("clusterId must be a non-empty string without control characters");
  const ext = external === undefined ? null : resolveExternal(external);
  const leaseTime = options.dhcpLeaseTimeS ?? defaultDhcpLeaseTimeS;
  if (!Number.isSafeInteger(leaseTime) || leaseTime < 1)
    throw new TypeError("dhcpLeaseTimeS must be a positive integer");
  const mtu = options.defaultMtu ?? defaultMtu;
  if (!Number.isSafeInteger(mtu) || mtu < 68 || mtu > 65_535)
    throw new TypeError("defaultMtu must lie in 68..65535");
  const macOf = options.macOf ?? ((key: string) => derivedMac(clusterId, key));
  return {
    clusterId,
    externalCidr: ext?.cidr ?? null,
    externalPrefixLength: ext?.prefixLength ?? 0,
    externalFirst: ext?.first ?? 0n,
    externalLast: ext?.last ?? 0n,
    externalGateway: ext?.gateway ?? "",
    physicalNetwork: ext?.physnet ?? null,
    gatewayChassis: ext?.chassis ?? [],
    macOf: (key) => {
      const mac = macOf(key);
      if (!isUnicastMac(mac)) throw new TypeError(`macOf(${key}) gave ${mac}, not a unicast MAC`);
      return mac;
    },
    leaseTime,
    mtu,
  };
}

function resolveExternal(external: ExternalNetwork) {
  const cidr = parseCidr(external.cidr);
  if (!cidr.ok || cidr.cidr.family !== 4)
    throw new TypeError(`external.cidr ${external.cidr} is not an IPv4 CIDR`);
  const first = cidr.cidr.first;
  const last = first + (1n << BigInt(32 - cidr.cidr.prefixLength)) - 1n;
  const gateway = parseIp(external.gateway);
  if (gateway === null || gateway.family !== 4 || gateway.value < first || gateway.value > last)
    throw new TypeError(
      `external.gateway ${external.gateway} is not an address of ${external.cidr}`,
    );
  const physnet = external.physicalNetwork ?? null;
  if (physnet !== null && (physnet.length === 0 || controlPattern.test(physnet)))
    throw new TypeError("external.physicalNetwork must be a non-empty name");
  const chassis = external.gatewayChassis ?? [];
  if (new Set(chassis).size !== chassis.length || chassis.some((c) => c.length === 0))
    throw new TypeError("external.gatewayChassis must hold distinct non-empty names");
  if (chassis.length > gatewayChassisPriorityMax) throw new TypeError("too many gateway chassis");
  return {
    cidr: external.cidr,
    prefixLength: cidr.cidr.prefixLength,
    first,
    last,
    gateway: external.gateway,
    physnet,
    chassis,
  };
}

type MutableTables = { [T in TableName]: Map<string, RowTypes[T]> };

/** Row kinds (external_ids novanet:kind). */
export const kinds = {
  router: "router",
  switch: "switch",
  routerPort: "router-port",
  routerSwitchPort: "router-switch-port",
  dhcp: "dhcp",
  port: "port",
  securityGroup: "security-group",
  securityRule: "security-rule",
  dropGroup: "drop-group",
  dropAcl: "drop-acl",
  externalSwitch: "external-switch",
  localnetPort: "localnet-port",
  gatewayRouterPort: "gateway-router-port",
  gatewaySwitchPort: "gateway-switch-port",
  gatewayChassis: "gateway-chassis",
  defaultRoute: "default-route",
  snat: "snat",
  portForwarding: "port-forwarding",
  /** A 1:1 DNAT (floating IP): NAT dnat_and_snat. */
  floatingIp: "floating-ip",
} as const;

export type Kind = (typeof kinds)[keyof typeof kinds];

/**
 * Kinds of the rows shared by the whole cluster (no novanet:vpc); every other kind has one.
 * (The drop group and its ACLs were cluster-wide, keyed "drop-group:<cluster id>", before they
 * became one per VPC: such a row left in NB is owned and not desired, so a full pass removes it.)
 */
export const clusterWideKinds: ReadonlySet<string> = new Set<Kind>([
  kinds.externalSwitch,
  kinds.localnetPort,
]);

/** The NovaNET key of a row: "<kind>:<id>" plus a suffix when one object gives several rows. */
export function rowKey(kind: Kind, id: string, suffix?: string): string {
  return suffix === undefined ? `${kind}:${id}` : `${kind}:${id}:${suffix}`;
}

class Builder {
  readonly tables: MutableTables = {
    Logical_Router: new Map(),
    Logical_Router_Port: new Map(),
    Logical_Router_Static_Route: new Map(),
    Gateway_Chassis: new Map(),
    NAT: new Map(),
    Load_Balancer: new Map(),
    Logical_Switch: new Map(),
    Logical_Switch_Port: new Map(),
    DHCP_Options: new Map(),
    Port_Group: new Map(),
    ACL: new Map(),
  };
  readonly #keys = new Set<string>();
  readonly #names = new Map<string, string>();
  readonly problems: string[] = [];

  constructor(readonly clusterId: string) {}

  ids(kind: Kind, id: string, key: string, extra: StringMap = {}): StringMap {
    return { [ownerKey]: this.clusterId, [kindKey]: kind, [idKey]: id, [keyKey]: key, ...extra };
  }

  add<T extends TableName>(table: T, key: string, row: RowTypes[T]): void {
    if (this.#keys.has(key)) throw new Error(`duplicate NovaNET key ${key}`);
    this.#keys.add(key);
    if ("name" in row && typeof row.name === "string") {
      // Names must be unique per table: LSP/LRP/Port_Group/Gateway_Chassis by schema index, the
      // others so that an operator (and ovn-nbctl) can address rows by name.
      const nameKey = `${table}\0${row.name}`;
      const other = this.#names.get(nameKey);
      if (other !== undefined) throw new Error(`${table} name ${row.name} of ${key} and ${other}`);
      this.#names.set(nameKey, key);
    }
    this.tables[table].set(key, row);
  }

  finish(): DesiredNb {
    const tables = {} as { [T in TableName]: ReadonlyMap<string, RowTypes[T]> };
    for (const table of tableNames) {
      const rows = this.tables[table] as Map<string, RowTypes[typeof table]>;
      (tables as Record<TableName, ReadonlyMap<string, unknown>>)[table] = new Map(
        sortedKeys(rows.keys()).map((key) => [key, rows.get(key)!]),
      );
    }
    return { clusterId: this.clusterId, tables: tables as DesiredTables, problems: this.problems };
  }
}

function ipFamily(ip: string): Family {
  return ip.includes(":") ? 6 : 4;
}

function dnsOption(servers: readonly string[], family: Family): StringMap {
  const list = servers.filter((s) => ipFamily(s) === family);
  // OVN's set syntax inside the option string, as Neutron writes it.
  return list.length === 0 ? {} : { dns_server: `{${list.join(", ")}}` };
}

/**
 * The desired Northbound rows for the state. Throws TypeError on invalid options, and Error
 * only if the state breaks its own invariants (e.g. a port whose subnet does not exist).
 */
export function desiredNorthbound(state: StateReader, options: MappingOptions): DesiredNb {
  const o = resolveOptions(options);
  const c = o.clusterId;
  const b = new Builder(c);

  const input = options.scope === undefined ? gatherAll(state) : gatherScope(state, options.scope);
  const vpcs = byId(input.vpcs);
  const subnets = byId(input.subnets);
  const ports = byId(input.ports);
  const groups = byId(input.groups);
  const snats = [...input.snats].sort((x, y) => compare(x.vpc_id, y.vpc_id));
  const dnats = byId(input.dnats);

  const subnetById = new Map(subnets.map((s) => [s.id, s]));
  const groupById = new Map(groups.map((g) => [g.id, g]));
  const vpcIds = new Set(vpcs.map((v) => v.id));
  const switchPorts = new Map<string, string[]>(subnets.map((s) => [s.id, []]));
  const routerPorts = new Map<string, string[]>(vpcs.map((v) => [v.id, []]));
  const routerNat = new Map<string, string[]>(vpcs.map((v) => [v.id, []]));
  const routerLbs = new Map<string, string[]>(vpcs.map((v) => [v.id, []]));
  const routerRoutes = new Map<string, string[]>(vpcs.map((v) => [v.id, []]));
  const dhcpKeyOf = new Map<string, string>();

  // --- Subnets: switch, router port + its router-type switch port, DHCP options --------------
  for (const subnet of subnets) {
    if (!vpcIds.has(subnet.vpc_id)) throw new Error(`subnet ${subnet.id}: no VPC ${subnet.vpc_id}`);
    const cidr = parseCidr(subnet.cidr);
    if (!cidr.ok) throw new Error(`subnet ${subnet.id}: cidr ${subnet.cidr}: ${cidr.reason}`);
    const family = cidr.cidr.family;
    const mtu = subnet.mtu ?? o.mtu;
    const lspName = names.subnetGatewayPort(c, subnet.id);
    const lrpName = names.routerPort(lspName);
    const lrpKey = rowKey(kinds.routerPort, subnet.id);
    const lspKey = rowKey(kinds.routerSwitchPort, subnet.id);
    const mac = o.macOf(lrpKey);
    b.add("Logical_Router_Port", lrpKey, {
      name: lrpName,
      mac,
      networks: [`${subnet.gateway_ip}/${cidr.cidr.prefixLength}`],
      gateway_chassis: [],
      options: {},
      // IPv6: routers advertise the prefix with M=1 so that hosts ask OVN's DHCPv6 server.
      ipv6_ra_configs:
        family === 6 && subnet.dhcp_enabled
          ? { address_mode: "dhcpv6_stateful", send_periodic: "true", mtu: String(mtu) }
          : {},
      external_ids: b.ids(kinds.routerPort, subnet.id, lrpKey, { [vpcKey]: subnet.vpc_id }),
    });
    routerPorts.get(subnet.vpc_id)!.push(lrpKey);
    b.add("Logical_Switch_Port", lspKey, {
      name: lspName,
      type: "router",
      addresses: ["router"],
      port_security: [],
      options: { "router-port": lrpName },
      dhcpv4_options: null,
      dhcpv6_options: null,
      external_ids: b.ids(kinds.routerSwitchPort, subnet.id, lspKey, { [vpcKey]: subnet.vpc_id }),
    });
    switchPorts.get(subnet.id)!.push(lspKey);
    if (subnet.dhcp_enabled) {
      const dhcpKey = rowKey(kinds.dhcp, subnet.id);
      dhcpKeyOf.set(subnet.id, dhcpKey);
      const dhcpOptions: StringMap =
        family === 4
          ? {
              server_id: subnet.gateway_ip,
              server_mac: mac,
              router: subnet.gateway_ip,
              lease_time: String(o.leaseTime),
              mtu: String(mtu),
              ...dnsOption(subnet.dns_servers, 4),
            }
          : { server_id: mac, ...dnsOption(subnet.dns_servers, 6) };
      b.add("DHCP_Options", dhcpKey, {
        cidr: cidr.cidr.text,
        options: dhcpOptions,
        external_ids: b.ids(kinds.dhcp, subnet.id, dhcpKey, { [vpcKey]: subnet.vpc_id }),
      });
    }
  }

  // --- Ports ---------------------------------------------------------------------------------
  /** A VPC's VM ports: the members of its drop group. */
  const vpcPorts = new Map<string, string[]>(vpcs.map((v) => [v.id, []]));
  const groupMembers = new Map<string, string[]>(groups.map((g) => [g.id, []]));
  for (const port of ports) {
    const subnet = subnetById.get(port.subnet_id);
    if (subnet === undefined) throw new Error(`port ${port.id}: no subnet ${port.subnet_id}`);
    const key = rowKey(kinds.port, port.id);
    const address = `${port.mac_address} ${port.ip_address}`;
    const dhcp = dhcpKeyOf.get(subnet.id) ?? null;
    b.add("Logical_Switch_Port", key, {
      name: port.id,
      type: "",
      addresses: [address],
      // MAC + IP: OVN drops frames from another MAC, IP packets from another address, and ARP/ND
      // claiming another binding (the spec's §8.3 and §8.4).
      port_security: [address],
      options: {},
      dhcpv4_options: subnet.ip_version === 4 ? dhcp : null,
      dhcpv6_options: subnet.ip_version === 6 ? dhcp : null,
      external_ids: b.ids(kinds.port, port.id, key, {
        "novanet:device_id": port.vm_id ?? "",
        [vpcKey]: port.vpc_id,
      }),
    });
    switchPorts.get(subnet.id)!.push(key);
    const members = vpcPorts.get(port.vpc_id);
    if (members === undefined) throw new Error(`port ${port.id}: no VPC ${port.vpc_id}`);
    members.push(key);
    for (const sgId of port.security_group_ids) {
      const members = groupMembers.get(sgId);
      if (members === undefined) throw new Error(`port ${port.id}: no security group ${sgId}`);
      members.push(key);
    }
  }

  // --- Switches ------------------------------------------------------------------------------
  for (const subnet of subnets) {
    const key = rowKey(kinds.switch, subnet.id);
    b.add("Logical_Switch", key, {
      name: names.switch(c, subnet.id),
      ports: sortedKeys(switchPorts.get(subnet.id)!),
      other_config: {},
      external_ids: b.ids(kinds.switch, subnet.id, key, {
        "novanet:cidr": subnet.cidr,
        [vpcKey]: subnet.vpc_id,
      }),
    });
  }

  // --- Security groups -----------------------------------------------------------------------
  for (const group of groups) {
    const pg = names.securityGroup(c, group.id);
    const groupVpc = `${group.org_id}/${group.project_id}`;
    const acls: string[] = [];
    const rules: [SecurityRule, "INGRESS" | "EGRESS"][] = [
      ...group.ingress_rules.map((r) => [r, "INGRESS"] as [SecurityRule, "INGRESS"]),
      ...group.egress_rules.map((r) => [r, "EGRESS"] as [SecurityRule, "EGRESS"]),
    ];
    for (const [rule, direction] of rules) {
      const id = `${group.id}/${rule.id}`;
      let remotes: [Family, string][];
      if (rule.source_type === "CIDR") {
        const cidr = parseCidr(rule.source);
        if (!cidr.ok) throw new Error(`rule ${id}: source ${rule.source}: ${cidr.reason}`);
        remotes = [[cidr.cidr.family, cidr.cidr.text]];
      } else {
        if (!groupById.has(rule.source)) {
          b.problems.push(`rule ${id}: source group ${rule.source} does not exist; rule left out`);
          continue;
        }
        const remotePg = names.securityGroup(c, rule.source);
        remotes = [
          [4, `$${addressSetOf(remotePg, 4)}`],
          [6, `$${addressSetOf(remotePg, 6)}`],
        ];
      }
      for (const [family, remote] of remotes) {
        const aclDir = aclDirection(direction);
        const key = rowKey(kinds.securityRule, id, `${direction.toLowerCase()}:ip${family}`);
        b.add("ACL", key, {
          priority: aclPriorityAllow,
          direction: aclDir,
          match: ruleMatch({
            portGroup: pg,
            direction,
            family,
            remote,
            protocol: rule.protocol,
            portRange: rule.port_range,
          }),
          action: "allow-related",
          external_ids: b.ids(kinds.securityRule, id, key, {
            "novanet:security_group_id": group.id,
            [vpcKey]: groupVpc,
          }),
        });
        acls.push(key);
      }
    }
    const key = rowKey(kinds.securityGroup, group.id);
    b.add("Port_Group", key, {
      name: pg,
      ports: sortedKeys(groupMembers.get(group.id)!),
      acls: sortedKeys(acls),
      external_ids: b.ids(kinds.securityGroup, group.id, key, { [vpcKey]: groupVpc }),
    });
  }

  // --- The drop groups: one per VPC with its VM ports, default deny -------------------------
  for (const vpc of vpcs) {
    const pg = names.dropGroup(c, vpc.id);
    const acls: string[] = [];
    for (const direction of ["from-lport", "to-lport"] as AclDirection[]) {
      const key = rowKey(kinds.dropAcl, vpc.id, direction);
      b.add("ACL", key, {
        priority: aclPriorityDrop,
        direction,
        match: dropMatch(pg, direction),
        action: "drop",
        external_ids: b.ids(kinds.dropAcl, vpc.id, key, { [vpcKey]: vpc.id }),
      });
      acls.push(key);
    }
    const key = rowKey(kinds.dropGroup, vpc.id);
    b.add("Port_Group", key, {
      name: pg,
      ports: sortedKeys(vpcPorts.get(vpc.id)!),
      acls: sortedKeys(acls),
      external_ids: b.ids(kinds.dropGroup, vpc.id, key, { [vpcKey]: vpc.id }),
    });
  }

  // --- External network: one switch per cluster, a gateway port per VPC that uses NAT ---------
  const externalSwitchPorts: string[] = [];
  if (o.physicalNetwork !== null) {
    const key = rowKey(kinds.localnetPort, c);
    b.add("Logical_Switch_Port", key, {
      name: names.localnetPort(c),
      type: "localnet",
      addresses: ["unknown"],
      port_security: [],
      options: { network_name: o.physicalNetwork },
      dhcpv4_options: null,
      dhcpv6_options: null,
      external_ids: b.ids(kinds.localnetPort, c, key),
    });
    externalSwitchPorts.push(key);
  }

  const snatOf = new Map(snats.map((s) => [s.vpc_id, s]));
  const dnatsOf = new Map<string, DnatConfig[]>();
  for (const dnat of dnats) {
    if (!vpcIds.has(dnat.vpc_id)) throw new Error(`DNAT ${dnat.id}: no VPC ${dnat.vpc_id}`);
    const list = dnatsOf.get(dnat.vpc_id) ?? [];
    list.push(dnat);
    dnatsOf.set(dnat.vpc_id, list);
  }
  for (const snat of snats)
    if (!vpcIds.has(snat.vpc_id)) throw new Error(`SNAT: no VPC ${snat.vpc_id}`);

  for (const vpc of vpcs) {
    const snat = snatOf.get(vpc.id) ?? null;
    const vpcDnats = dnatsOf.get(vpc.id) ?? [];
    const external = externalAddressOf(snat, vpcDnats);
    if (external === null || o.externalCidr === null) continue;
    const outside = [snat?.external_ip, ...vpcDnats.map((d) => d.external_ip)].filter(
      (ip): ip is string => ip !== undefined && !isExternalHost(o, ip),
    );
    if (outside.length > 0) {
      b.problems.push(
        `VPC ${vpc.id}: external IP ${outside[0]} is not a host address of ${o.externalCidr} ` +
          `(or is its gateway); its gateway port, NAT and port forwarding are left out`,
      );
      continue;
    }
    const lspName = names.vpcGatewayPort(c, vpc.id);
    const lrpName = names.routerPort(lspName);
    const lrpKey = rowKey(kinds.gatewayRouterPort, vpc.id);
    const chassisKeys = o.gatewayChassis.map((chassis, i) => {
      const key = rowKey(kinds.gatewayChassis, vpc.id, chassis);
      b.add("Gateway_Chassis", key, {
        name: names.gatewayChassis(lrpName, chassis),
        chassis_name: chassis,
        priority: gatewayChassisPriorityMax - i,
        external_ids: b.ids(kinds.gatewayChassis, vpc.id, key, { [vpcKey]: vpc.id }),
      });
      return key;
    });
    b.add("Logical_Router_Port", lrpKey, {
      name: lrpName,
      mac: o.macOf(lrpKey),
      networks: [`${external}/${o.externalPrefixLength}`],
      gateway_chassis: sortedKeys(chassisKeys),
      options: {},
      ipv6_ra_configs: {},
      external_ids: b.ids(kinds.gatewayRouterPort, vpc.id, lrpKey, { [vpcKey]: vpc.id }),
    });
    routerPorts.get(vpc.id)!.push(lrpKey);
    const lspKey = rowKey(kinds.gatewaySwitchPort, vpc.id);
    b.add("Logical_Switch_Port", lspKey, {
      name: lspName,
      type: "router",
      addresses: ["router"],
      port_security: [],
      // nat-addresses=router: the gateway chassis announces (GARP) the NAT and VIP addresses.
      options: { "router-port": lrpName, "nat-addresses": "router" },
      dhcpv4_options: null,
      dhcpv6_options: null,
      external_ids: b.ids(kinds.gatewaySwitchPort, vpc.id, lspKey, { [vpcKey]: vpc.id }),
    });
    externalSwitchPorts.push(lspKey);
    const routeKey = rowKey(kinds.defaultRoute, vpc.id);
    b.add("Logical_Router_Static_Route", routeKey, {
      ip_prefix: "0.0.0.0/0",
      nexthop: o.externalGateway,
      external_ids: b.ids(kinds.defaultRoute, vpc.id, routeKey, { [vpcKey]: vpc.id }),
    });
    routerRoutes.get(vpc.id)!.push(routeKey);

    // SNAT: one row per IPv4 subnet of the VPC (Neutron's update_nat_rules).
    if (snat?.enabled === true) {
      for (const subnet of subnets) {
        if (subnet.vpc_id !== vpc.id || subnet.ip_version !== 4) continue;
        const key = rowKey(kinds.snat, vpc.id, subnet.id);
        b.add("NAT", key, {
          type: "snat",
          external_ip: snat.external_ip,
          logical_ip: subnet.cidr,
          gateway_port: lrpKey,
          external_ids: b.ids(kinds.snat, vpc.id, key, {
            "novanet:subnet_id": subnet.id,
            [vpcKey]: vpc.id,
          }),
        });
        routerNat.get(vpc.id)!.push(key);
      }
    }

    // 1:1 DNAT (protocol ALL, ports 0): Neutron's floating IP, NAT dnat_and_snat on the
    // gateway port. No logical_port/external_mac: the NAT is centralized on the gateway chassis
    // (distributed would need a localnet path on the VM's chassis).
    for (const dnat of vpcDnats) {
      if (dnat.protocol !== "ALL") continue;
      const key = rowKey(kinds.floatingIp, dnat.id);
      b.add("NAT", key, {
        type: "dnat_and_snat",
        external_ip: dnat.external_ip,
        logical_ip: dnat.internal_ip,
        gateway_port: lrpKey,
        external_ids: b.ids(kinds.floatingIp, dnat.id, key, {
          "novanet:dnat_id": dnat.id,
          [vpcKey]: vpc.id,
        }),
      });
      routerNat.get(vpc.id)!.push(key);
    }

    // DNAT with ports: NAT has no L4 ports, so a Load_Balancer on the router, one per
    // (external IP, protocol) as Neutron's port forwarding does.
    const lbs = new Map<string, DnatConfig[]>();
    for (const dnat of vpcDnats) {
      if (dnat.protocol === "ALL") continue;
      const id = `${vpc.id}/${dnat.external_ip}/${dnat.protocol.toLowerCase()}`;
      lbs.set(id, [...(lbs.get(id) ?? []), dnat]);
    }
    for (const id of sortedKeys(lbs.keys())) {
      const rules = lbs.get(id)!;
      const first = rules[0]!;
      const vips: Record<string, string> = {};
      for (const rule of rules)
        vips[`${rule.external_ip}:${rule.external_port}`] =
          `${rule.internal_ip}:${rule.internal_port}`;
      const key = rowKey(kinds.portForwarding, id);
      b.add("Load_Balancer", key, {
        name: names.portForwarding(c, id),
        protocol: first.protocol === "TCP" ? "tcp" : "udp",
        vips: Object.fromEntries(sortedKeys(Object.keys(vips)).map((k) => [k, vips[k]!])),
        external_ids: b.ids(kinds.portForwarding, id, key, {
          "novanet:dnat_ids": rules.map((r) => r.id).join(","),
          [vpcKey]: vpc.id,
        }),
      });
      routerLbs.get(vpc.id)!.push(key);
    }
  }

  if (o.externalCidr !== null) {
    const key = rowKey(kinds.externalSwitch, c);
    b.add("Logical_Switch", key, {
      name: names.externalSwitch(c),
      ports: sortedKeys(externalSwitchPorts),
      other_config: {},
      external_ids: b.ids(kinds.externalSwitch, c, key, {
        "novanet:cidr": o.externalCidr,
      }),
    });
  }

  // --- Routers -------------------------------------------------------------------------------
  for (const vpc of vpcs) {
    const key = rowKey(kinds.router, vpc.id);
    b.add("Logical_Router", key, {
      name: names.router(c, vpc.id),
      ports: sortedKeys(routerPorts.get(vpc.id)!),
      static_routes: sortedKeys(routerRoutes.get(vpc.id)!),
      nat: sortedKeys(routerNat.get(vpc.id)!),
      load_balancer: sortedKeys(routerLbs.get(vpc.id)!),
      // Neutron's router options: do not create MAC_Binding rows for every ARP request seen,
      // and learn neighbour routers on demand (both keep SB MAC_Binding small at scale).
      options: { always_learn_from_arp_request: "false", dynamic_neigh_routers: "true" },
      external_ids: b.ids(kinds.router, vpc.id, key, { [vpcKey]: vpc.id }),
    });
  }

  return b.finish();
}

interface Input {
  readonly vpcs: Iterable<Vpc>;
  readonly subnets: Iterable<Subnet>;
  readonly ports: Iterable<Port>;
  readonly groups: Iterable<SecurityGroup>;
  readonly snats: Iterable<SnatConfig>;
  readonly dnats: Iterable<DnatConfig>;
}

function gatherAll(state: StateReader): Input {
  return {
    vpcs: state.vpcs(),
    subnets: state.subnets(),
    ports: state.ports(),
    groups: state.securityGroups(),
    snats: state.snats(),
    dnats: state.dnats(),
  };
}

/** Pages per list call in a scoped read; bounds the loop (1000 × pageSizeMax items). */
const scopePagesMax = 1000;

function allPages<T>(list: (request: PageRequest) => Result<Page<T>>): T[] {
  const out: T[] = [];
  let token = "";
  for (let page = 0; page < scopePagesMax; page++) {
    const r = list({ page_size: 1000, page_token: token });
    if (!r.ok) throw new Error(`scoped read failed: ${r.code} ${r.message}`);
    out.push(...r.value.items);
    token = r.value.next_page_token;
    if (token === "") return out;
  }
  throw new Error(`scoped read: more than ${scopePagesMax} pages`);
}

/** The objects of the given VPCs only; through `queries` when the reader has it. */
function gatherScope(state: StateReader, scope: ReadonlySet<string>): Input {
  const q = state.queries;
  if (q === undefined) {
    const inScope = (x: { readonly vpc_id: string }) => scope.has(x.vpc_id);
    return {
      vpcs: [...state.vpcs()].filter((v) => scope.has(v.id)),
      subnets: [...state.subnets()].filter(inScope),
      ports: [...state.ports()].filter(inScope),
      groups: [...state.securityGroups()].filter((g) => scope.has(`${g.org_id}/${g.project_id}`)),
      snats: [...state.snats()].filter(inScope),
      dnats: [...state.dnats()].filter(inScope),
    };
  }
  const input = {
    vpcs: [] as Vpc[],
    subnets: [] as Subnet[],
    ports: [] as Port[],
    groups: [] as SecurityGroup[],
    snats: [] as SnatConfig[],
    dnats: [] as DnatConfig[],
  };
  for (const vpcId of scope) {
    const slash = vpcId.indexOf("/");
    if (slash <= 0) continue; // not a VPC id: maps to nothing
    const s: Scope = { org_id: vpcId.slice(0, slash), project_id: vpcId.slice(slash + 1) };
    const vpc = q.getVpc(s, vpcId);
    // Security groups live inside their VPC (deleted with it): no VPC, nothing to map.
    if (!vpc.ok) continue;
    input.vpcs.push(vpc.value);
    input.subnets.push(...allPages((r) => q.listSubnets(s, r)));
    input.ports.push(...allPages((r) => q.listPorts(s, {}, r)));
    input.groups.push(...allPages((r) => q.listSecurityGroups(s, r)));
    const snat = q.getSnat(s, vpcId);
    if (snat.ok) input.snats.push(snat.value);
    input.dnats.push(...allPages((r) => q.listDnats(s, r)));
  }
  return input;
}

/** The address of a VPC's gateway port: its SNAT IP, else its lowest DNAT IP, else none. */
/**
 * The gateway port's address: the SNAT IP, else the lowest port-forwarding DNAT IP, else the
 * lowest 1:1 DNAT IP (a floating IP is the router's own address only when nothing else is).
 */
function externalAddressOf(snat: SnatConfig | null, dnats: readonly DnatConfig[]): string | null {
  if (snat !== null) return snat.external_ip;
  let best: { ip: string; value: bigint; oneToOne: boolean } | null = null;
  for (const dnat of dnats) {
    const value = parseIp(dnat.external_ip)?.value ?? 0n;
    const oneToOne = dnat.protocol === "ALL";
    if (
      best === null ||
      (best.oneToOne && !oneToOne) ||
      (best.oneToOne === oneToOne && value < best.value)
    )
      best = { ip: dnat.external_ip, value, oneToOne };
  }
  return best?.ip ?? null;
}

function isExternalHost(o: ResolvedOptions, ip: string): boolean {
  const address = parseIp(ip);
  return (
    address !== null &&
    address.family === 4 &&
    address.value > o.externalFirst &&
    address.value < o.externalLast &&
    ip !== o.externalGateway
  );
}
