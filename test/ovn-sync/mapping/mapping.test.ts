// Table tests, one block per mapping rule, on the fixture state (fixture.ts).

import { describe, expect, it } from "vitest";
import {
  addressSetOf,
  clusterWideKinds,
  type DesiredNb,
  derivedMac,
  desiredNorthbound,
  kinds,
  names,
  portGroupNamePattern,
  type RowTypes,
  rowKey,
  type TableName,
  tableNames,
} from "../../../src/ovn-sync/mapping/index.js";
import { uuid } from "../../statemachine/harness.js";
import { checkConsistency } from "./consistency.js";
import { buildFixture, options } from "./fixture.js";

const f = buildFixture();
const desired = desiredNorthbound(f.harness.sm, options);
const c = options.clusterId;
const acmeVpc = "acme/web";
const def = "acme/web/default";
const db = "acme/web/db";
const v6 = "acme/web/v6";
const webSg = "acme/web/web";
const defSg = "acme/web/default";

function row<T extends TableName>(d: DesiredNb, table: T, key: string): RowTypes[T] {
  const found = d.tables[table].get(key);
  if (found === undefined) throw new Error(`no ${table} ${key}`);
  return found;
}

/** VPC-derived rows also carry novanet:vpc: the first two segments of a tenant id ("org/project"). */
function ids(kind: string, id: string, key: string, vpc: string | null = vpcOf(kind, id)) {
  return {
    "novanet:owner": c,
    "novanet:kind": kind,
    "novanet:id": id,
    "novanet:key": key,
    ...(vpc === null ? {} : { "novanet:vpc": vpc }),
  };
}

function vpcOf(kind: string, id: string): string | null {
  if (clusterWideKinds.has(kind)) return null;
  const [org, project] = id.split("/");
  return project === undefined ? null : `${org}/${project}`;
}

describe("VPC → Logical_Router", () => {
  it("one router per VPC, with every subnet's router port and the gateway port", () => {
    const key = rowKey(kinds.router, acmeVpc);
    const lr = row(desired, "Logical_Router", key);
    expect(lr.name).toBe(names.router(c, acmeVpc));
    expect(lr.name).toMatch(/^nvr-[0-9a-f]{20}$/);
    expect(lr.ports).toEqual(
      [
        rowKey(kinds.gatewayRouterPort, acmeVpc),
        rowKey(kinds.routerPort, def),
        rowKey(kinds.routerPort, db),
        rowKey(kinds.routerPort, v6),
      ].sort(),
    );
    expect(lr.external_ids).toEqual(ids("router", acmeVpc, key));
    expect(lr.options).toEqual({
      always_learn_from_arp_request: "false",
      dynamic_neigh_routers: "true",
    });
    expect(desired.tables.Logical_Router.size).toBe(2);
  });

  it("overlapping tenants get distinct routers and switches", () => {
    expect(names.router(c, "globex/shop")).not.toBe(names.router(c, acmeVpc));
    expect(
      row(desired, "Logical_Switch", rowKey(kinds.switch, "globex/shop/default")).name,
    ).not.toBe(row(desired, "Logical_Switch", rowKey(kinds.switch, def)).name);
  });
});

describe("Subnet → Logical_Switch + router port + DHCP_Options", () => {
  it("IPv4 subnet with DHCP", () => {
    const lrpKey = rowKey(kinds.routerPort, def);
    const lrp = row(desired, "Logical_Router_Port", lrpKey);
    const lspKey = rowKey(kinds.routerSwitchPort, def);
    const lsp = row(desired, "Logical_Switch_Port", lspKey);
    expect(lrp).toEqual({
      name: `lrp-${lsp.name}`,
      mac: derivedMac(c, lrpKey),
      networks: ["10.1.0.1/24"],
      gateway_chassis: [],
      options: {},
      ipv6_ra_configs: {},
      external_ids: ids("router-port", def, lrpKey),
    });
    expect(Number.parseInt(lrp.mac.slice(0, 2), 16) & 3).toBe(2); // locally administered unicast
    expect(lsp).toEqual({
      name: names.subnetGatewayPort(c, def),
      type: "router",
      addresses: ["router"],
      port_security: [],
      options: { "router-port": lrp.name },
      dhcpv4_options: null,
      dhcpv6_options: null,
      external_ids: ids("router-switch-port", def, lspKey),
    });
    const dhcpKey = rowKey(kinds.dhcp, def);
    expect(row(desired, "DHCP_Options", dhcpKey)).toEqual({
      cidr: "10.1.0.0/24",
      options: {
        server_id: "10.1.0.1",
        server_mac: lrp.mac,
        router: "10.1.0.1",
        lease_time: "43200",
        mtu: "1442",
        dns_server: "{8.8.8.8, 1.1.1.1}",
      },
      external_ids: ids("dhcp", def, dhcpKey),
    });
    const ls = row(desired, "Logical_Switch", rowKey(kinds.switch, def));
    expect(ls.ports).toEqual(
      [lspKey, rowKey(kinds.port, f.ports.p1), rowKey(kinds.port, f.ports.p2)].sort(),
    );
  });

  it("a subnet without DHCP has no DHCP_Options, its MTU is the subnet's", () => {
    expect(desired.tables.DHCP_Options.has(rowKey(kinds.dhcp, db))).toBe(false);
    const lsp = row(desired, "Logical_Switch_Port", rowKey(kinds.port, f.ports.p3));
    expect(lsp.dhcpv4_options).toBeNull();
    expect(row(desired, "Logical_Router_Port", rowKey(kinds.routerPort, db)).networks).toEqual([
      "10.1.1.1/24",
    ]);
  });

  it("IPv6 subnet: DHCPv6 options with a MAC server_id, RA in stateful mode", () => {
    const lrp = row(desired, "Logical_Router_Port", rowKey(kinds.routerPort, v6));
    expect(lrp.networks).toEqual(["fd00:1:0:1::1/64"]);
    expect(lrp.ipv6_ra_configs).toEqual({
      address_mode: "dhcpv6_stateful",
      send_periodic: "true",
      mtu: "1442",
    });
    expect(row(desired, "DHCP_Options", rowKey(kinds.dhcp, v6)).options).toEqual({
      server_id: lrp.mac,
      dns_server: "{2001:4860:4860::8888}",
    });
    const port = row(desired, "Logical_Switch_Port", rowKey(kinds.port, f.ports.p4));
    expect(port.dhcpv6_options).toBe(rowKey(kinds.dhcp, v6));
    expect(port.dhcpv4_options).toBeNull();
  });

  it("the subnet MTU overrides the default", () => {
    const s = desiredNorthbound(f.harness.sm, {
      ...options,
      defaultMtu: 9000,
      dhcpLeaseTimeS: 600,
    });
    expect(row(s, "DHCP_Options", rowKey(kinds.dhcp, def)).options).toMatchObject({
      mtu: "9000",
      lease_time: "600",
    });
  });
});

describe("Port → Logical_Switch_Port", () => {
  it("named by the port id, addresses and port_security 'MAC IP', DHCP options", () => {
    const key = rowKey(kinds.port, f.ports.p1);
    expect(row(desired, "Logical_Switch_Port", key)).toEqual({
      name: f.ports.p1,
      type: "",
      addresses: ["fa:16:3e:00:00:01 10.1.0.10"],
      port_security: ["fa:16:3e:00:00:01 10.1.0.10"],
      options: {},
      dhcpv4_options: rowKey(kinds.dhcp, def),
      dhcpv6_options: null,
      external_ids: { ...ids("port", f.ports.p1, key, acmeVpc), "novanet:device_id": "vm-1" },
    });
  });

  it("every port address matches the state exactly", () => {
    for (const port of f.harness.sm.ports()) {
      const lsp = row(desired, "Logical_Switch_Port", rowKey(kinds.port, port.id));
      expect(lsp.addresses).toEqual([`${port.mac_address} ${port.ip_address}`]);
      expect(lsp.port_security).toEqual(lsp.addresses);
    }
  });

  it("a custom macOf is used for router ports", () => {
    let n = 0;
    const s = desiredNorthbound(f.harness.sm, {
      ...options,
      macOf: () => `02:00:00:00:00:${(++n).toString(16).padStart(2, "0")}`,
    });
    expect(row(s, "Logical_Router_Port", rowKey(kinds.routerPort, def)).mac).toMatch(
      /^02:00:00:00:00:/,
    );
    expect(() =>
      desiredNorthbound(f.harness.sm, { ...options, macOf: () => "01:00:00:00:00:01" }),
    ).toThrow(/not a unicast MAC/);
  });
});

describe("Security group → Port_Group + ACLs", () => {
  const webPg = names.securityGroup(c, webSg);
  const defPg = names.securityGroup(c, defSg);
  const acl = (id: string, suffix: string) =>
    row(desired, "ACL", rowKey(kinds.securityRule, id, suffix));

  it("port group names follow OVN's rules and hold the member ports", () => {
    for (const pg of desired.tables.Port_Group.values())
      expect(pg.name).toMatch(portGroupNamePattern);
    expect(row(desired, "Port_Group", rowKey(kinds.securityGroup, webSg)).ports).toEqual([
      rowKey(kinds.port, f.ports.p2),
    ]);
    expect(row(desired, "Port_Group", rowKey(kinds.securityGroup, defSg)).ports).toEqual(
      [
        rowKey(kinds.port, f.ports.p1),
        rowKey(kinds.port, f.ports.p2),
        rowKey(kinds.port, f.ports.p4),
      ].sort(),
    );
  });

  it.each([
    [
      "http",
      "ingress:ip4",
      "to-lport",
      `outport == @${webPg} && ip4 && tcp && tcp.dst >= 80 && tcp.dst <= 90`,
    ],
    [
      "ssh",
      "ingress:ip4",
      "to-lport",
      `outport == @${webPg} && ip4 && ip4.src == $${defPg}_ip4 && tcp && tcp.dst == 22`,
    ],
    [
      "ssh",
      "ingress:ip6",
      "to-lport",
      `outport == @${webPg} && ip6 && ip6.src == $${defPg}_ip6 && tcp && tcp.dst == 22`,
    ],
    [
      "ping",
      "ingress:ip4",
      "to-lport",
      `outport == @${webPg} && ip4 && ip4.src == 192.0.2.0/24 && icmp4 && icmp4.type == 8 && icmp4.code == 0`,
    ],
    [
      "dns",
      "ingress:ip6",
      "to-lport",
      `outport == @${webPg} && ip6 && ip6.src == 2001:db8::/32 && udp`,
    ],
    ["out", "egress:ip4", "from-lport", `inport == @${webPg} && ip4 && ip4.dst == 10.0.0.0/8`],
  ])("rule %s (%s): %s %s", (rule, suffix, direction, match) => {
    const id = `${webSg}/${rule}`;
    const key = rowKey(kinds.securityRule, id, suffix);
    expect(acl(id, suffix)).toEqual({
      priority: 1002,
      direction,
      match,
      action: "allow-related",
      external_ids: { ...ids("security-rule", id, key), "novanet:security_group_id": webSg },
    });
  });

  it("web has exactly one ACL per rule and family", () => {
    expect(row(desired, "Port_Group", rowKey(kinds.securityGroup, webSg)).acls).toHaveLength(6);
  });

  it("the default group: ingress from itself (both families), egress to all", () => {
    const pg = row(desired, "Port_Group", rowKey(kinds.securityGroup, defSg));
    const matches = pg.acls.map((k) => {
      const a = row(desired, "ACL", k);
      return `${a.direction} ${a.priority} ${a.action} ${a.match}`;
    });
    expect(matches.sort()).toEqual(
      [
        `to-lport 1002 allow-related outport == @${defPg} && ip4 && ip4.src == $${addressSetOf(defPg, 4)}`,
        `to-lport 1002 allow-related outport == @${defPg} && ip6 && ip6.src == $${addressSetOf(defPg, 6)}`,
        `from-lport 1002 allow-related inport == @${defPg} && ip4`,
        `from-lport 1002 allow-related inport == @${defPg} && ip6`,
      ].sort(),
    );
  });

  it("each VPC's drop group holds exactly its VM ports and drops all IP both ways at 1001", () => {
    const globexVpc = "globex/shop";
    const vpcPorts: [string, string[]][] = [
      [acmeVpc, [f.ports.p1, f.ports.p2, f.ports.p3, f.ports.p4]],
      [globexVpc, [f.ports.p5]],
    ];
    // One drop group per VPC, and no other (no cluster-wide one).
    const dropGroups = [...desired.tables.Port_Group.entries()].filter(
      ([, pg]) => pg.external_ids["novanet:kind"] === "drop-group",
    );
    expect(dropGroups.map(([key]) => key).sort()).toEqual(
      vpcPorts.map(([vpc]) => rowKey(kinds.dropGroup, vpc)).sort(),
    );
    for (const [vpc, ports] of vpcPorts) {
      const key = rowKey(kinds.dropGroup, vpc);
      const pg = row(desired, "Port_Group", key);
      expect(pg.name).toBe(names.dropGroup(c, vpc));
      expect(pg.name).toMatch(/^nv_drop_[0-9a-f]{20}$/);
      expect(pg.name).toMatch(portGroupNamePattern);
      expect(pg.external_ids).toEqual(ids("drop-group", vpc, key, vpc));
      expect(pg.ports).toEqual(ports.map((p) => rowKey(kinds.port, p)).sort());
      expect(pg.acls.map((k) => row(desired, "ACL", k))).toEqual([
        {
          priority: 1001,
          direction: "from-lport",
          match: `inport == @${pg.name} && ip`,
          action: "drop",
          external_ids: ids("drop-acl", vpc, rowKey(kinds.dropAcl, vpc, "from-lport"), vpc),
        },
        {
          priority: 1001,
          direction: "to-lport",
          match: `outport == @${pg.name} && ip`,
          action: "drop",
          external_ids: ids("drop-acl", vpc, rowKey(kinds.dropAcl, vpc, "to-lport"), vpc),
        },
      ]);
    }
    // Every VM port is in exactly one drop group: its own VPC's.
    const allPorts = vpcPorts.flatMap(([, ports]) => ports.map((p) => rowKey(kinds.port, p)));
    expect(dropGroups.flatMap(([, pg]) => pg.ports).sort()).toEqual(allPorts.sort());
    expect(names.dropGroup(c, acmeVpc)).not.toBe(names.dropGroup(c, globexVpc));
  });

  it("a VPC with no ports still has its (empty) drop group", () => {
    const h = buildFixture();
    const empty = h.harness.client("initech", "lab");
    empty.ok("CreateVpc", { name: "lab", cidr: "10.9.0.0/16" });
    const d = desiredNorthbound(h.harness.sm, options);
    const pg = row(d, "Port_Group", rowKey(kinds.dropGroup, empty.vpcId));
    expect(pg.ports).toEqual([]);
    expect(pg.acls).toHaveLength(2);
  });

  it("a port with no group is only in its VPC's drop group (default deny)", () => {
    const key = rowKey(kinds.port, f.ports.p3);
    const groups = [...desired.tables.Port_Group.values()].filter((pg) => pg.ports.includes(key));
    expect(groups.map((g) => g.name)).toEqual([names.dropGroup(c, acmeVpc)]);
  });
});

describe("NAT", () => {
  const gwKey = rowKey(kinds.gatewayRouterPort, acmeVpc);

  it("a gateway port on the external network, pinned to the gateway chassis", () => {
    const lrp = row(desired, "Logical_Router_Port", gwKey);
    expect(lrp.networks).toEqual(["203.0.113.5/24"]);
    expect(lrp.gateway_chassis.map((k) => row(desired, "Gateway_Chassis", k))).toEqual([
      {
        name: `${lrp.name}_chassis-a`,
        chassis_name: "chassis-a",
        priority: 32767,
        external_ids: ids(
          "gateway-chassis",
          acmeVpc,
          rowKey(kinds.gatewayChassis, acmeVpc, "chassis-a"),
        ),
      },
      {
        name: `${lrp.name}_chassis-b`,
        chassis_name: "chassis-b",
        priority: 32766,
        external_ids: ids(
          "gateway-chassis",
          acmeVpc,
          rowKey(kinds.gatewayChassis, acmeVpc, "chassis-b"),
        ),
      },
    ]);
    const lsp = row(desired, "Logical_Switch_Port", rowKey(kinds.gatewaySwitchPort, acmeVpc));
    expect(lsp).toMatchObject({
      type: "router",
      addresses: ["router"],
      options: { "router-port": lrp.name, "nat-addresses": "router" },
    });
    const ext = row(desired, "Logical_Switch", rowKey(kinds.externalSwitch, c));
    expect(ext.ports).toEqual(
      [
        rowKey(kinds.localnetPort, c),
        rowKey(kinds.gatewaySwitchPort, acmeVpc),
        rowKey(kinds.gatewaySwitchPort, "globex/shop"),
      ].sort(),
    );
    expect(row(desired, "Logical_Switch_Port", rowKey(kinds.localnetPort, c))).toMatchObject({
      type: "localnet",
      addresses: ["unknown"],
      options: { network_name: "physnet1" },
    });
    const lr = row(desired, "Logical_Router", rowKey(kinds.router, acmeVpc));
    expect(lr.static_routes.map((k) => row(desired, "Logical_Router_Static_Route", k))).toEqual([
      {
        ip_prefix: "0.0.0.0/0",
        nexthop: "203.0.113.254",
        external_ids: ids("default-route", acmeVpc, rowKey(kinds.defaultRoute, acmeVpc)),
      },
    ]);
  });

  it("SNAT: one snat row per IPv4 subnet of the VPC on the gateway port", () => {
    const lr = row(desired, "Logical_Router", rowKey(kinds.router, acmeVpc));
    expect(lr.nat.map((k) => row(desired, "NAT", k))).toEqual(
      [db, def].map((subnet) => ({
        type: "snat",
        external_ip: "203.0.113.5",
        logical_ip: subnet === def ? "10.1.0.0/24" : "10.1.1.0/24",
        gateway_port: gwKey,
        external_ids: {
          ...ids("snat", acmeVpc, rowKey(kinds.snat, acmeVpc, subnet)),
          "novanet:subnet_id": subnet,
        },
      })),
    );
  });

  it("a disabled SNAT keeps the gateway port but has no NAT rows", () => {
    f.acme.ok("DeleteSnat", { vpc_id: acmeVpc });
    f.acme.ok("CreateSnat", { vpc_id: acmeVpc, external_ip: "203.0.113.5", enabled: false });
    const s = desiredNorthbound(f.harness.sm, options);
    expect(row(s, "Logical_Router", rowKey(kinds.router, acmeVpc)).nat).toEqual([]);
    expect(row(s, "Logical_Router_Port", gwKey).networks).toEqual(["203.0.113.5/24"]);
    f.acme.ok("DeleteSnat", { vpc_id: acmeVpc });
    f.acme.ok("CreateSnat", { vpc_id: acmeVpc, external_ip: "203.0.113.5" });
    expect(desiredNorthbound(f.harness.sm, options)).toEqual(desired);
  });

  it("DNAT with ports: a Load_Balancer per external IP and protocol on the router", () => {
    const lr = row(desired, "Logical_Router", rowKey(kinds.router, acmeVpc));
    const lbs = lr.load_balancer.map((k) => row(desired, "Load_Balancer", k));
    const p2 = f.harness.sm.queries.getPort(f.acme.scope(), f.ports.p2);
    if (!p2.ok) throw new Error("p2");
    expect(lbs.map((lb) => [lb.protocol, lb.vips])).toEqual([
      ["tcp", { "203.0.113.5:8080": "10.1.0.10:80" }],
      ["udp", { "203.0.113.6:53": `${p2.value.ip_address}:5353` }],
    ]);
    expect(lbs[0]!.external_ids["novanet:dnat_ids"]).toBe(f.dnats.http);
    // globex has only DNAT: its gateway port takes the DNAT address.
    expect(
      row(desired, "Logical_Router_Port", rowKey(kinds.gatewayRouterPort, "globex/shop")).networks,
    ).toEqual(["203.0.113.9/24"]);
  });

  it("1:1 DNAT: a dnat_and_snat row on the gateway port, centralized (no logical_port)", () => {
    const g = buildFixture();
    const p3 = g.harness.sm.queries.getPort(g.acme.scope(), g.ports.p3);
    if (!p3.ok) throw new Error("p3");
    const fip = "00000000-0000-4000-8000-000000000201";
    g.acme.ok("CreateDnat", {
      dnat_id: fip,
      vpc_id: acmeVpc,
      external_ip: "203.0.113.7",
      external_port: 0,
      protocol: "ALL",
      internal_ip: p3.value.ip_address,
      internal_port: 0,
    });
    // globex: a lower 1:1 IP does not take the gateway port's address from port forwarding.
    const globexFip = "00000000-0000-4000-8000-000000000202";
    g.globex.ok("CreateDnat", {
      dnat_id: globexFip,
      vpc_id: "globex/shop",
      external_ip: "203.0.113.2",
      external_port: 0,
      protocol: "ALL",
      internal_ip: "10.1.0.10",
      internal_port: 0,
    });
    const s = desiredNorthbound(g.harness.sm, options);
    expect(s.problems).toEqual([]);
    const key = rowKey(kinds.floatingIp, fip);
    expect(row(s, "NAT", key)).toEqual({
      type: "dnat_and_snat",
      external_ip: "203.0.113.7",
      logical_ip: p3.value.ip_address,
      gateway_port: gwKey,
      external_ids: { ...ids("floating-ip", fip, key, acmeVpc), "novanet:dnat_id": fip },
    });
    const lr = row(s, "Logical_Router", rowKey(kinds.router, acmeVpc));
    expect(lr.nat).toEqual(
      [key, rowKey(kinds.snat, acmeVpc, def), rowKey(kinds.snat, acmeVpc, db)].sort(),
    );
    // No load balancer for it; the port-forwarding ones are unchanged.
    expect(lr.load_balancer).toEqual(
      row(desired, "Logical_Router", rowKey(kinds.router, acmeVpc)).load_balancer,
    );
    expect([...s.tables.Load_Balancer.keys()]).toEqual([...desired.tables.Load_Balancer.keys()]);
    const globexGw = rowKey(kinds.gatewayRouterPort, "globex/shop");
    expect(row(s, "Logical_Router_Port", globexGw).networks).toEqual(["203.0.113.9/24"]);
    expect(row(s, "NAT", rowKey(kinds.floatingIp, globexFip))).toMatchObject({
      type: "dnat_and_snat",
      external_ip: "203.0.113.2",
      logical_ip: "10.1.0.10",
      gateway_port: globexGw,
    });
    checkConsistency(s, g.harness.sm);
    // Without an external network: no row (as for SNAT).
    const { external: _, ...rest } = options;
    expect(desiredNorthbound(g.harness.sm, rest).tables.NAT.size).toBe(0);
    // A VPC with only a 1:1 DNAT still gets its gateway port, on the 1:1 address.
    g.globex.ok("DeleteDnat", { dnat_id: uuid(103) });
    const only = desiredNorthbound(g.harness.sm, options);
    expect(row(only, "Logical_Router_Port", globexGw).networks).toEqual(["203.0.113.2/24"]);
    expect(row(only, "Logical_Router", rowKey(kinds.router, "globex/shop")).nat).toEqual([
      rowKey(kinds.floatingIp, globexFip),
    ]);
    // Deleting the 1:1 DNATs removes exactly their rows.
    g.globex.ok("DeleteDnat", { dnat_id: globexFip });
    g.acme.ok("DeleteDnat", { dnat_id: fip });
    const after = desiredNorthbound(g.harness.sm, options);
    expect(after.tables.NAT).toEqual(desired.tables.NAT);
    expect(after.tables.Logical_Router_Port.has(globexGw)).toBe(false);
  });

  it("an external IP outside the external network is a problem, not a row", () => {
    const s = desiredNorthbound(f.harness.sm, {
      ...options,
      external: { cidr: "198.51.100.0/24", gateway: "198.51.100.1" },
    });
    expect(s.problems).toHaveLength(2);
    expect(s.problems[0]).toMatch(/VPC acme\/web: external IP 203\.0\.113\.5/);
    expect(s.tables.NAT.size).toBe(0);
    expect(s.tables.Load_Balancer.size).toBe(0);
    expect(row(s, "Logical_Router", rowKey(kinds.router, acmeVpc)).static_routes).toEqual([]);
    // Without physicalNetwork there is no localnet port.
    expect(s.tables.Logical_Switch_Port.has(rowKey(kinds.localnetPort, c))).toBe(false);
  });
});

describe("ownership and options", () => {
  it("every row carries owner, kind, id and its key in external_ids", () => {
    for (const table of tableNames) {
      for (const [key, r] of desired.tables[table] as ReadonlyMap<
        string,
        { external_ids: Record<string, string> }
      >) {
        expect(r.external_ids["novanet:owner"]).toBe(c);
        expect(r.external_ids["novanet:key"]).toBe(key);
        expect(
          key.startsWith(`${r.external_ids["novanet:kind"]}:${r.external_ids["novanet:id"]}`),
        ).toBe(true);
      }
    }
    expect(desired.problems).toEqual([]);
  });

  it("another cluster id gives disjoint names", () => {
    const other = desiredNorthbound(f.harness.sm, { ...options, clusterId: "other" });
    for (const table of [
      "Logical_Router",
      "Logical_Switch",
      "Port_Group",
      "Load_Balancer",
    ] as const) {
      const mine = new Set([...desired.tables[table].values()].map((r) => r.name));
      for (const r of other.tables[table].values()) expect(mine.has(r.name)).toBe(false);
    }
  });

  it.each([
    [{ clusterId: "" }, /clusterId/],
    [{ external: { cidr: "203.0.113.0/33", gateway: "203.0.113.1" } }, /external.cidr/],
    [{ external: { cidr: "203.0.113.0/24", gateway: "198.51.100.1" } }, /external.gateway/],
    [{ external: { ...options.external!, gatewayChassis: ["a", "a"] } }, /gatewayChassis/],
    [{ dhcpLeaseTimeS: 0 }, /dhcpLeaseTimeS/],
  ])("refuses invalid options %#", (override, message) => {
    expect(() => desiredNorthbound(f.harness.sm, { ...options, ...override })).toThrow(message);
  });

  it("without an external network: no external switch, gateway, NAT or port forwarding", () => {
    const { external: _, ...rest } = options;
    const bare = desiredNorthbound(f.harness.sm, rest);
    expect(bare.problems).toEqual([]);
    for (const table of [
      "NAT",
      "Load_Balancer",
      "Gateway_Chassis",
      "Logical_Router_Static_Route",
    ] as const)
      expect(bare.tables[table].size).toBe(0);
    const kindsLeft = new Set(
      tableNames.flatMap((t) =>
        [...bare.tables[t].values()].map(
          (r) => (r.external_ids as Record<string, string>)["novanet:kind"],
        ),
      ),
    );
    for (const k of [
      "external-switch",
      "localnet-port",
      "gateway-router-port",
      "gateway-switch-port",
    ])
      expect(kindsLeft.has(k)).toBe(false);
    // Everything else is as with one (routers keep their subnet ports).
    for (const [key, row] of bare.tables.Logical_Switch_Port)
      expect(desired.tables.Logical_Switch_Port.get(key)).toEqual(row);
    checkConsistency(bare, f.harness.sm);
  });

  it("passes the structural checks (keys, references, parents, addresses)", () => {
    checkConsistency(desired, f.harness.sm);
  });

  it("does not change the state", () => {
    const before = f.harness.sm.digest();
    desiredNorthbound(f.harness.sm, options);
    expect(f.harness.sm.digest()).toBe(before);
  });
});
