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
  env = await startNovanetOvn("nvdpe-");
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

describe("NovaNET → OVN → data plane", () => {
  it("a port plugged as a VM comes up, routes, SNATs out and is reachable through DNAT", async () => {
    const vpc = await net.createVpc({ name: "main" });
    const port = await net.createPort({ subnetId: `${vpc.id}/default` });
    const snat = await net.createSnat({ vpcId: vpc.id });
    const dnat = await net.createDnat({
      vpcId: vpc.id,
      externalPort: 8080,
      internalIp: port.ipAddress,
      internalPort: 80,
      protocol: Protocol.PROTOCOL_TCP,
    });
    // The default group admits only its own members; open tcp/80 to the world for the DNAT.
    await net.addSecurityGroupRule({
      securityGroupId: `${vpc.id}/default`,
      direction: Direction.DIRECTION_INGRESS,
      rule: {
        protocol: Protocol.PROTOCOL_TCP,
        portRange: { min: 80, max: 80 },
        sourceType: SourceType.SOURCE_TYPE_CIDR,
        source: "0.0.0.0/0",
      },
    });
    // The leader writes the port's LSP (named by the port id, the iface-id a hypervisor sets).
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
      name: `e2e${process.pid % 100_000}`,
      portId: port.id,
      mac: port.macAddress,
      ip: port.ipAddress,
      prefix: 24,
      gateway,
    });
    // NovaNET sees the port up (LSP.up from ovn-controller's binding).
    await waitFor(
      "port up in NovaNET",
      async () => ((await net.getPort({ portId: port.id })).up ? true : undefined),
      20_000,
      250,
    );
    await waitFor(
      "the NAT rows and load balancer",
      async () => {
        await ovn.syncHypervisor();
        const lbs = await ovn.nbctl("lb-list");
        return lbs.includes(`${dnat.externalIp}:8080`) ? true : undefined;
      },
      15_000,
      250,
    );
    expect(await ping(vm.ns, gateway)).toBe(true);

    const host = externalHost(ovn);
    const out = await tcpListen(host.ns, 9000, "outside", 60_000);
    listeners.push(out);
    expect(await ping(vm.ns, host.ip)).toBe(true);
    expect(await tcpRequest(vm.ns, host.ip, 9000)).toBe("outside");
    expect(out.peers).toEqual([snat.externalIp]);

    const web = await tcpListen(vm.ns, 80, "vm-web", 60_000);
    listeners.push(web);
    expect(await tcpRequest(host.ns, dnat.externalIp, 8080)).toBe("vm-web");
    expect(web.peers).toEqual([host.ip]);
  }, 90_000);
});
