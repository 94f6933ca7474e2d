// Proves the data-plane harness — and the OVN plumbing NovaNET's NB mapping relies on — on a
// real local OVN (NB/SB ovsdb-servers, ovn-northd, ovs-vswitchd on the netdev datapath,
// ovn-controller), without NovaNET: the NB rows are written with ovn-nbctl in the shape
// src/ovn-sync/mapping writes them. Needs root and the ovn-central, ovn-host,
// openvswitch-switch, iputils-ping and busybox packages; a missing one fails the test (never a
// skip). Addresses exist only inside the namespaces created here.
//
// What OVN needs for SNAT/DNAT here (found on this machine, OVN 23.03 / OVS 3.1, netdev datapath):
// - chassis: Open_vSwitch external_ids ovn-bridge-mappings=physnet1:br-ex, br-ex itself a
//   netdev bridge (LocalOvn also sets ovn-bridge-datapath-type=netdev, which matters only if
//   ovn-controller creates br-int itself; see cluster/lib/local-ovn.ts);
// - an external Logical_Switch with a localnet LSP: type=localnet, addresses=["unknown"],
//   options:network_name=physnet1 (this is what makes ovn-controller patch br-int to br-ex);
// - the router's gateway LRP (an address in the external CIDR) with a Gateway_Chassis row for
//   chassis1 (lrp-set-gateway-chassis). NEEDED: without it the router has no distributed
//   gateway port (no cr-<lrp> Port_Binding) and the SNAT test fails; with it NAT and router
//   load balancers run on chassis1;
// - its peer LSP type=router, addresses=["router"], options:router-port. options:nat-addresses=router
//   is NOT needed here (the test passes without it: the gateway port's ARP responder answers
//   for the SNAT IP and for LB VIPs in its subnet); it only adds gratuitous ARPs for those addresses
//   (for upstream switches' tables). NovaNET's mapping sets it, and so does this test;
// - Logical_Router_Static_Route 0.0.0.0/0 → the external gateway, NAT{type=snat,
//   external_ip, logical_ip=<subnet CIDR>} and a Load_Balancer (protocol tcp,
//   vips{"VIP:port": "IP:port"}) in Logical_Router.load_balancer; a VIP may be the gateway
//   port's own address or another address of the external CIDR;
// - the DNAT target VM needs its default route via the subnet gateway: the external client's
//   address is not SNATed, so the reply goes back through the router (whose conntrack un-DNATs it).
// Not needed: static MAC_Binding rows (the router ARPs for the external gateway),
// Logical_Router options:chassis (that makes a gateway router instead), userspace conntrack tuning.
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { LocalOvn } from "../../cluster/lib/local-ovn.js";
import {
  addVm,
  dhcpLease,
  externalHost,
  ping,
  pingEventually,
  spoofedPing,
  type TcpListener,
  tcpListen,
  tcpRequest,
  type Vm,
} from "./vm.js";

const dir = mkdtempSync(join(tmpdir(), "nvdp-"));
const sfx = randomBytes(2).toString("hex");
const n = (s: string) => `${s}${sfx}`; // unique per run: names are global (namespaces)
let ovn: LocalOvn;
const listeners: TcpListener[] = [];

const vms: Record<string, Vm> = {};
const vm = (k: string): Vm => {
  const v = vms[k];
  if (!v) throw new Error(`no VM ${k}`);
  return v;
};

async function lsp(ls: string, name: string, mac: string, ip: string, portSecurity = true) {
  await ovn.nbctl("lsp-add", ls, name, "--", "lsp-set-addresses", name, `${mac} ${ip}`);
  if (portSecurity) await ovn.nbctl("lsp-set-port-security", name, `${mac} ${ip}`);
}

/** Router interface the way NovaNET maps a subnet: LRP + LSP type=router, addresses=router. */
async function routerInterface(lr: string, ls: string, lrp: string, mac: string, cidr: string) {
  await ovn.nbctl(
    "lrp-add",
    lr,
    lrp,
    mac,
    cidr,
    "--",
    "lsp-add",
    ls,
    `${lrp}-peer`,
    "--",
    "lsp-set-type",
    `${lrp}-peer`,
    "router",
    "--",
    "lsp-set-addresses",
    `${lrp}-peer`,
    "router",
    "--",
    "lsp-set-options",
    `${lrp}-peer`,
    `router-port=${lrp}`,
  );
}

beforeAll(async () => {
  ovn = await LocalOvn.start({ dir, chassis: true, timeoutMs: 15_000 });

  // Two tenants, same CIDR 10.0.0.0/24.
  await ovn.nbctl("ls-add", n("ta"), "--", "ls-add", n("tb"));
  await lsp(n("ta"), n("pa1"), "50:54:00:0a:00:11", "10.0.0.11");
  await lsp(n("ta"), n("pa2"), "50:54:00:0a:00:12", "10.0.0.12");
  await lsp(n("tb"), n("pb1"), "50:54:00:0b:00:12", "10.0.0.12");

  // A router between 10.1.0.0/24 and 10.2.0.0/24.
  await ovn.nbctl("lr-add", n("r"), "--", "ls-add", n("s1"), "--", "ls-add", n("s2"));
  await routerInterface(n("r"), n("s1"), n("lrp1"), "02:00:00:01:00:01", "10.1.0.1/24");
  await routerInterface(n("r"), n("s2"), n("lrp2"), "02:00:00:02:00:01", "10.2.0.1/24");
  await lsp(n("s1"), n("p1"), "50:54:00:01:00:10", "10.1.0.10");
  await lsp(n("s2"), n("p2"), "50:54:00:02:00:10", "10.2.0.10");
  await lsp(n("s1"), n("p3"), "50:54:00:01:00:20", "10.1.0.20", false); // port security added later

  const plug = async (k: string, port: string, mac: string, ip?: string, gateway?: string) => {
    vms[k] = await addVm(ovn, {
      name: n(k),
      portId: n(port),
      mac,
      ...(ip !== undefined ? { ip, prefix: 24 } : {}),
      ...(gateway !== undefined ? { gateway } : {}),
    });
  };
  await plug("a1", "pa1", "50:54:00:0a:00:11", "10.0.0.11");
  await plug("a2", "pa2", "50:54:00:0a:00:12", "10.0.0.12");
  await plug("b1", "pb1", "50:54:00:0b:00:12", "10.0.0.12");
  await plug("v1", "p1", "50:54:00:01:00:10", "10.1.0.10", "10.1.0.1");
  await plug("v2", "p2", "50:54:00:02:00:10", "10.2.0.10", "10.2.0.1");
  await plug("v3", "p3", "50:54:00:01:00:20", "10.1.0.20", "10.1.0.1");
  await ovn.syncHypervisor();
}, 60_000);

afterAll(async () => {
  for (const l of listeners) l.close();
  await ovn?.stop();
  rmSync(dir, { recursive: true, force: true });
}, 30_000);

async function listen(ns: string, port: number, reply: string): Promise<TcpListener> {
  const l = await tcpListen(ns, port, reply, 100_000);
  listeners.push(l);
  return l;
}

describe("data-plane harness on a real local OVN", () => {
  it("binds the VM ports on chassis1 (LSP up)", async () => {
    const up = await ovn.nbctl(
      "--bare",
      "--columns=up",
      "find",
      "Logical_Switch_Port",
      `name=${n("p1")}`,
    );
    expect(up.trim()).toBe("true");
    const chassis = await ovn.sbctl(
      "--bare",
      "--columns=chassis",
      "find",
      "Port_Binding",
      `logical_port=${n("p1")}`,
    );
    expect(chassis.trim()).not.toBe("");
  });

  it("isolates two tenants' switches with the same CIDR", async () => {
    expect(await pingEventually(vm("a1").ns, "10.0.0.12")).toBe(true);
    await listen(vm("a2").ns, 7000, "tenant-a");
    await listen(vm("b1").ns, 7000, "tenant-b");
    // 10.0.0.12 exists in both tenants; tenant A's VM reaches tenant A's.
    expect(await tcpRequest(vm("a1").ns, "10.0.0.12", 7000)).toBe("tenant-a");
    // Tenant B has no 10.0.0.11: nothing answers from tenant A.
    expect(await ping(vm("b1").ns, "10.0.0.11", { count: 1 })).toBe(false);
  });

  it("routes between two subnets through a logical router", async () => {
    expect(await pingEventually(vm("v1").ns, "10.2.0.10")).toBe(true);
    expect(await ping(vm("v2").ns, "10.1.0.10")).toBe(true);
    expect(await ping(vm("v1").ns, "10.1.0.1")).toBe(true); // the router port answers
  });

  it("drops a spoofed source address with port security (and passes it without)", async () => {
    const v3 = vm("v3");
    // Control: no port_security on p3, so a foreign source address works.
    expect(await spoofedPing(v3, "10.1.0.98", "10.1.0.1")).toBe(true);
    await ovn.nbctl("lsp-set-port-security", n("p3"), "50:54:00:01:00:20 10.1.0.20");
    await ovn.syncHypervisor();
    expect(await spoofedPing(v3, "10.1.0.99", "10.1.0.1")).toBe(false);
    expect(await spoofedPing(v3, "10.1.0.99", "10.1.0.10")).toBe(false);
    // Its own address still works.
    expect(await ping(v3.ns, "10.1.0.1")).toBe(true);
  });

  it("applies Port_Group ACLs: default drop at 1001, allow-related tcp.dst at 1002", async () => {
    await listen(vm("v2").ns, 8080, "web");
    await listen(vm("v2").ns, 8081, "admin");
    expect(await tcpRequest(vm("v1").ns, "10.2.0.10", 8081)).toBe("admin");
    const pg = n("pg_web").replaceAll("-", "_");
    await ovn.nbctl("pg-add", pg, n("p2"));
    await ovn.nbctl("acl-add", pg, "to-lport", "1001", `outport == @${pg} && ip4`, "drop");
    await ovn.nbctl(
      "acl-add",
      pg,
      "to-lport",
      "1002",
      `outport == @${pg} && ip4 && tcp && tcp.dst == 8080`,
      "allow-related",
    );
    await ovn.syncHypervisor();
    expect(await tcpRequest(vm("v1").ns, "10.2.0.10", 8080)).toBe("web");
    expect(await tcpRequest(vm("v1").ns, "10.2.0.10", 8081, 1500)).toBeUndefined();
    expect(await ping(vm("v1").ns, "10.2.0.10", { count: 1 })).toBe(false);
  });

  it("answers DHCP with exactly the logical port's address", async () => {
    const opts = (
      await ovn.nbctl(
        "create",
        "DHCP_Options",
        "cidr=10.1.0.0/24",
        'options="lease_time"="3600" "router"="10.1.0.1" "server_id"="10.1.0.1" "server_mac"="02:00:00:01:00:01"',
      )
    ).trim();
    await ovn.nbctl(
      "lsp-add",
      n("s1"),
      n("pd"),
      "--",
      "lsp-set-addresses",
      n("pd"),
      "50:54:00:01:00:42 10.1.0.42",
    );
    await ovn.nbctl("lsp-set-port-security", n("pd"), "50:54:00:01:00:42 10.1.0.42");
    await ovn.nbctl("lsp-set-dhcpv4-options", n("pd"), opts);
    const d = await addVm(ovn, { name: n("d"), portId: n("pd"), mac: "50:54:00:01:00:42" });
    await ovn.syncHypervisor();
    const lease = await dhcpLease(d.ns, d.iface);
    expect(lease?.ip).toBe("10.1.0.42");
    expect(lease?.router).toBe("10.1.0.1");
    expect(lease?.leaseS).toBe(3600);
  });

  it("SNATs to the gateway port and DNATs a Load_Balancer VIP:port on the router", async () => {
    const ext = ovn.externalNetwork!;
    const host = externalHost(ovn);
    const r = n("r");
    const exSw = n("ext");
    const gw = n("lrpx");
    // The external network: one switch with a localnet port on physnet1 (br-ex).
    await ovn.nbctl(
      "ls-add",
      exSw,
      "--",
      "lsp-add",
      exSw,
      n("ln"),
      "--",
      "lsp-set-type",
      n("ln"),
      "localnet",
      "--",
      "lsp-set-addresses",
      n("ln"),
      "unknown",
      "--",
      "lsp-set-options",
      n("ln"),
      `network_name=${ext.physicalNetwork}`,
    );
    // The router's gateway port on it, bound to chassis1 through Gateway_Chassis.
    await routerInterface(r, exSw, gw, "02:00:00:ff:00:01", "198.51.100.10/24");
    await ovn.nbctl("lsp-set-options", `${gw}-peer`, `router-port=${gw}`, "nat-addresses=router");
    for (const [i, ch] of ext.gatewayChassis.entries()) {
      await ovn.nbctl("lrp-set-gateway-chassis", gw, ch, String(32767 - i));
    }
    await ovn.nbctl("lr-route-add", r, "0.0.0.0/0", ext.gateway);
    await ovn.nbctl("lr-nat-add", r, "snat", "198.51.100.10", "10.1.0.0/24");
    // DNAT with ports: a router load balancer (VIP other than the gateway port address, and one on it).
    await ovn.nbctl("lb-add", n("lb"), "198.51.100.20:8080", "10.1.0.10:80", "tcp");
    await ovn.nbctl("lb-add", n("lb"), "198.51.100.10:2222", "10.1.0.10:80", "tcp");
    await ovn.nbctl("lr-lb-add", r, n("lb"));
    await ovn.syncHypervisor();
    const binding = await ovn.sbctl(
      "--bare",
      "--columns=chassis",
      "find",
      "Port_Binding",
      `logical_port=cr-${gw}`,
    );
    expect(binding.trim()).not.toBe("");

    // SNAT: the external host sees the gateway address, not 10.1.0.10.
    const seen = await listen(host.ns, 9000, "outside");
    expect(await pingEventually(vm("v1").ns, host.ip)).toBe(true);
    expect(await tcpRequest(vm("v1").ns, host.ip, 9000)).toBe("outside");
    expect(seen.peers).toEqual(["198.51.100.10"]);

    // DNAT: the external host reaches VM:80 through VIP:port.
    const web = await listen(vm("v1").ns, 80, "vm1-web");
    expect(await tcpRequest(host.ns, "198.51.100.20", 8080)).toBe("vm1-web");
    expect(await tcpRequest(host.ns, "198.51.100.10", 2222)).toBe("vm1-web");
    expect(web.peers).toEqual([host.ip, host.ip]);
    // Only the mapped port is forwarded.
    expect(await tcpRequest(host.ns, "198.51.100.20", 80, 1500)).toBeUndefined();
  });
});
