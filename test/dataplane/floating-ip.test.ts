import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type LocalOvn, waitFor } from "../../cluster/lib/local-ovn.js";
import { Direction, NetworkClient, Protocol, SourceType } from "../../src/client/index.js";
import { type NovanetOvn, startNovanetOvn } from "./novanet-fixture.js";
import { addVm, externalHost, ping, type TcpListener, tcpListen, tcpRequest } from "./vm.js";

let env: NovanetOvn;
let ovn: LocalOvn;
let net: NetworkClient;
const listeners: TcpListener[] = [];

beforeAll(async () => {
  env = await startNovanetOvn("nvfip-");
  ovn = env.ovn;
  net = NetworkClient.connect({
    endpoints: env.cluster.endpoints(),
    orgId: "org1",
    projectId: "p1",
  });
}, 90_000);

afterAll(async () => {
  for (const l of listeners) l.close();
  net?.close();
  await env?.stop();
}, 60_000);

/** external_ip of the NB NAT rows of one type. */
async function natIps(type: string): Promise<string[]> {
  const out = await ovn.nbctl("--bare", "--columns=external_ip", "find", "NAT", `type=${type}`);
  return out
    .split(/\s+/)
    .map((s) => s.replace(/"/g, ""))
    .filter((s) => s !== "");
}

describe("1:1 DNAT (floating IP) → NAT dnat_and_snat → data plane", () => {
  it("reaches the VM on any port via the floating IP, and the VM egresses from it", async () => {
    const vpc = await net.createVpc({ name: "fip" });
    const port = await net.createPort({ subnetId: `${vpc.id}/default` });
    const snat = await net.createSnat({ vpcId: vpc.id });
    const fip = await net.createDnat({
      vpcId: vpc.id,
      externalPort: 0,
      internalIp: port.ipAddress,
      internalPort: 0,
      protocol: Protocol.PROTOCOL_ALL,
    });
    expect(fip).toMatchObject({
      externalPort: 0,
      internalPort: 0,
      internalIp: port.ipAddress,
      protocol: Protocol.PROTOCOL_ALL,
    });
    expect(fip.externalIp).not.toBe(snat.externalIp);
    for (const p of [80, 8443]) {
      await net.addSecurityGroupRule({
        securityGroupId: `${vpc.id}/default`,
        direction: Direction.DIRECTION_INGRESS,
        rule: {
          protocol: Protocol.PROTOCOL_TCP,
          portRange: { min: p, max: p },
          sourceType: SourceType.SOURCE_TYPE_CIDR,
          source: "0.0.0.0/0",
        },
      });
    }
    await waitFor(
      "the port's Logical_Switch_Port",
      async () =>
        (
          await ovn.nbctl(
            "--bare",
            "--columns=name",
            "find",
            "Logical_Switch_Port",
            `name=${port.id}`,
          )
        ).trim() === port.id
          ? true
          : undefined,
      15_000,
      200,
    );
    const gateway = port.ipAddress.replace(/\.\d+$/, ".1");
    const vm = await addVm(ovn, {
      name: `fip${process.pid % 100_000}`,
      portId: port.id,
      mac: port.macAddress,
      ip: port.ipAddress,
      prefix: 24,
      gateway,
    });
    await waitFor(
      "port up in NovaNET",
      async () => ((await net.getPort({ portId: port.id })).up ? true : undefined),
      20_000,
      250,
    );
    await waitFor(
      "the dnat_and_snat row",
      async () => {
        await ovn.syncHypervisor();
        return (await natIps("dnat_and_snat")).includes(fip.externalIp) ? true : undefined;
      },
      15_000,
      250,
    );
    const nat = await ovn.nbctl(
      "--bare",
      "--columns=logical_ip,logical_port,external_mac",
      "find",
      "NAT",
      "type=dnat_and_snat",
    );
    // Centralized on the gateway chassis: no logical_port / external_mac.
    expect(nat.split(/\s+/).filter((s) => s !== "")).toEqual([port.ipAddress]);
    expect(await natIps("snat")).toEqual([snat.externalIp]);
    expect(await ping(vm.ns, gateway)).toBe(true);

    const host = externalHost(ovn);
    // Inbound: two ports, no per-port rule in NovaNET, the peer is the external host itself.
    for (const p of [80, 8443]) {
      const web = await tcpListen(vm.ns, p, `vm-${p}`, 60_000);
      listeners.push(web);
      expect(await tcpRequest(host.ns, fip.externalIp, p)).toBe(`vm-${p}`);
      expect(web.peers).toEqual([host.ip]);
    }
    // Outbound: from the floating IP, not from the VPC's SNAT address.
    const out = await tcpListen(host.ns, 9000, "outside", 60_000);
    listeners.push(out);
    expect(await tcpRequest(vm.ns, host.ip, 9000)).toBe("outside");
    expect(out.peers).toEqual([fip.externalIp]);

    // Deleting the 1:1 DNAT removes its row; the VM then leaves through the SNAT address.
    await net.deleteDnat({ dnatId: fip.id });
    await waitFor(
      "the dnat_and_snat row gone",
      async () => {
        await ovn.syncHypervisor();
        return (await natIps("dnat_and_snat")).length === 0 ? true : undefined;
      },
      15_000,
      250,
    );
    const after = await waitFor(
      "egress through SNAT",
      async () => ((await tcpRequest(vm.ns, host.ip, 9000)) === "outside" ? true : undefined),
      15_000,
      500,
    );
    expect(after).toBe(true);
    expect(out.peers.at(-1)).toBe(snat.externalIp);
  }, 120_000);
});
