// A small but complete NovaNET state, built through the state machine's apply() API: two
// tenants, IPv4 and IPv6 subnets, DHCP on and off, several security groups (CIDR, group and ICMP
// rules), SNAT and port forwarding.

import type { MappingOptions } from "../../../src/ovn-sync/mapping/index.js";
import { type Client, Harness, mac, uuid } from "../../statemachine/harness.js";

export const options: MappingOptions = {
  clusterId: "test-cluster",
  external: {
    cidr: "203.0.113.0/24",
    gateway: "203.0.113.254",
    physicalNetwork: "physnet1",
    gatewayChassis: ["chassis-a", "chassis-b"],
  },
};

export interface Fixture {
  readonly harness: Harness;
  readonly acme: Client;
  readonly globex: Client;
  readonly ports: {
    readonly p1: string;
    readonly p2: string;
    readonly p3: string;
    readonly p4: string;
    readonly p5: string;
  };
  readonly dnats: { readonly http: string; readonly dns: string };
}

export function buildFixture(): Fixture {
  const harness = new Harness().bootstrap();
  const acme = harness.client("acme", "web");
  const globex = harness.client("globex", "shop");
  acme.ok("CreateVpc", { name: "acme web", cidr: "10.1.0.0/16", ipv6_cidr: "fd00:1::/48" });
  globex.ok("CreateVpc", { name: "globex", cidr: "10.1.0.0/16" }); // overlapping on purpose
  acme.ok("CreateSubnet", {
    vpc_id: acme.vpcId,
    name: "db",
    cidr: "10.1.1.0/24",
    dhcp_enabled: false,
    mtu: 1400,
  });
  acme.ok("CreateSubnet", {
    vpc_id: acme.vpcId,
    name: "v6",
    cidr: "fd00:1:0:1::/64",
    dns_servers: ["2001:4860:4860::8888"],
  });
  acme.ok("UpdateSubnet", {
    subnet_id: acme.child("default"),
    dns_servers: ["8.8.8.8", "1.1.1.1"],
  });
  acme.ok("CreateSecurityGroup", {
    name: "web",
    ingress_rules: [
      {
        id: "http",
        protocol: "TCP",
        port_range: { min: 80, max: 90 },
        source_type: "CIDR",
        source: "0.0.0.0/0",
      },
      {
        id: "ssh",
        protocol: "TCP",
        port_range: { min: 22, max: 22 },
        source_type: "SECURITY_GROUP",
        source: "default",
      },
      {
        id: "ping",
        protocol: "ICMP",
        port_range: { min: 8, max: 0 },
        source_type: "CIDR",
        source: "192.0.2.0/24",
      },
      { id: "dns", protocol: "UDP", source_type: "CIDR", source: "2001:db8::/32" },
    ],
    egress_rules: [{ id: "out", protocol: "ALL", source_type: "CIDR", source: "10.0.0.0/8" }],
  });
  const p1 = uuid(1);
  const p2 = uuid(2);
  const p3 = uuid(3);
  const p4 = uuid(4);
  const p5 = uuid(5);
  acme.ok("CreatePort", {
    port_id: p1,
    subnet_id: acme.child("default"),
    mac_address: mac(1),
    ip_address: "10.1.0.10",
    vm_id: "vm-1",
  });
  acme.ok("CreatePort", {
    port_id: p2,
    subnet_id: acme.child("default"),
    mac_address: mac(2),
    security_group_ids: ["default", "web"],
  });
  acme.ok("CreatePort", {
    port_id: p3,
    subnet_id: acme.child("db"),
    mac_address: mac(3),
    security_group_ids: [],
  });
  acme.ok("CreatePort", { port_id: p4, subnet_id: acme.child("v6"), mac_address: mac(4) });
  globex.ok("CreatePort", {
    port_id: p5,
    subnet_id: globex.child("default"),
    mac_address: mac(5),
    ip_address: "10.1.0.10",
  });
  acme.ok("CreateSnat", { vpc_id: acme.vpcId, external_ip: "203.0.113.5" });
  const http = uuid(101);
  const dns = uuid(102);
  acme.ok("CreateDnat", {
    dnat_id: http,
    vpc_id: acme.vpcId,
    external_ip: "203.0.113.5",
    external_port: 8080,
    protocol: "TCP",
    internal_ip: "10.1.0.10",
    internal_port: 80,
  });
  const p2ip = harness.sm.queries.getPort(acme.scope(), p2);
  if (!p2ip.ok) throw new Error("port 2 missing");
  acme.ok("CreateDnat", {
    dnat_id: dns,
    vpc_id: acme.vpcId,
    external_ip: "203.0.113.6",
    external_port: 53,
    protocol: "UDP",
    internal_ip: p2ip.value.ip_address,
    internal_port: 5353,
  });
  globex.ok("CreateDnat", {
    dnat_id: uuid(103),
    vpc_id: globex.vpcId,
    external_ip: "203.0.113.9",
    external_port: 443,
    protocol: "TCP",
    internal_ip: "10.1.0.10",
    internal_port: 443,
  });
  return { harness, acme, globex, ports: { p1, p2, p3, p4, p5 }, dnats: { http, dns } };
}
