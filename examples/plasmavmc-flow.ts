// The network side of a PlasmaVMC VM's life, with the NovaNET client library:
// create VPC (auto CIDR) → subnet → port → attach to the VM → detach → delete port → delete
// subnet → delete VPC.
//
//   npx tsx examples/plasmavmc-flow.ts --endpoints 127.0.0.1:8081[,…] [--token T]
//       [--org org1 --project proj1] [--vm vm-123]
//
// Endpoints and token also come from NOVANET_ENDPOINTS / NOVANET_TOKEN, the tenant from
// NOVANET_ORG / NOVANET_PROJECT. The token's org_id/project_id claims must match the tenant.
import { realpathSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { NetworkClient, NovanetError } from "../src/client/index.js";

export interface FlowOptions {
  orgId: string;
  projectId: string;
  vmId: string;
}

/** The second /24 of the VPC's block (the first is the VPC's default subnet). */
export function subnetCidrIn(vpcCidr: string): string {
  const m = /^(\d+)\.(\d+)\.(\d+)\.(\d+)\/(\d+)$/.exec(vpcCidr);
  if (m === null || Number(m[5]) > 23) throw new Error(`cannot carve a /24 out of ${vpcCidr}`);
  const base = ((Number(m[1]) << 24) | (Number(m[2]) << 16) | (Number(m[3]) << 8)) >>> 0;
  const next = base + 256;
  return `${next >>> 24}.${(next >>> 16) & 255}.${(next >>> 8) & 255}.0/24`;
}

export async function plasmavmcFlow(
  client: NetworkClient,
  opts: FlowOptions,
  log: (line: string) => void = console.log,
): Promise<void> {
  const tenant = { orgId: opts.orgId, projectId: opts.projectId };

  // 1. The project's VPC; the CIDR is allocated from the pool when none is given.
  const vpc = await client.createVpc({ ...tenant, name: "my-vpc" });
  log(`1. created VPC ${vpc.id} cidr=${vpc.cidr}${vpc.cidrAutoAllocated ? " (auto)" : ""}`);

  // 2. A subnet inside it.
  const subnet = await client.createSubnet({
    ...tenant,
    vpcId: vpc.id,
    name: "web",
    cidr: subnetCidrIn(vpc.cidr),
    dhcpEnabled: true,
    dnsServers: ["8.8.8.8"],
  });
  log(`2. created subnet ${subnet.id} cidr=${subnet.cidr} gateway=${subnet.gatewayIp}`);

  // 3. A port for the VM's NIC: MAC generated, IP allocated, the project's default security
  //    group. Retries reuse the request id, so a timeout never leaves a second port behind.
  const port = await client.createPort({ ...tenant, subnetId: subnet.id });
  log(`3. created port ${port.id} ip=${port.ipAddress} mac=${port.macAddress}`);

  // 4. Attach it to the VM (PlasmaVMC then plugs the TAP device into OVS with this port id).
  const attached = await client.attachPort({ ...tenant, portId: port.id, vmId: opts.vmId });
  log(`4. attached port ${attached.id} to ${attached.vmId}`);

  // 5–8. Tear down in reverse order.
  await client.detachPort({ ...tenant, portId: port.id, vmId: opts.vmId });
  log(`5. detached port ${port.id} from ${opts.vmId}`);
  await client.deletePort({ ...tenant, portId: port.id });
  log(`6. deleted port ${port.id}`);
  await client.deleteSubnet({ ...tenant, subnetId: subnet.id });
  log(`7. deleted subnet ${subnet.id}`);
  // cascade: the VPC's default subnet and security group were created with it.
  await client.deleteVpc({ ...tenant, vpcId: vpc.id, cascade: true });
  log(`8. deleted VPC ${vpc.id}`);
}

async function main(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      endpoints: { type: "string" },
      token: { type: "string" },
      org: { type: "string" },
      project: { type: "string" },
      vm: { type: "string" },
    },
  });
  const endpoints = (values.endpoints ?? process.env.NOVANET_ENDPOINTS ?? "127.0.0.1:8081")
    .split(",")
    .filter((e) => e !== "");
  const client = NetworkClient.connect({
    endpoints,
    token: values.token ?? process.env.NOVANET_TOKEN,
  });
  try {
    await plasmavmcFlow(client, {
      orgId: values.org ?? process.env.NOVANET_ORG ?? "org1",
      projectId: values.project ?? process.env.NOVANET_PROJECT ?? "proj1",
      vmId: values.vm ?? "vm-123",
    });
    console.log("done");
    return 0;
  } catch (e) {
    console.error(e instanceof NovanetError ? `error: ${e.code}: ${e.message}` : e);
    return 1;
  } finally {
    client.close();
  }
}

function isEntryPoint(): boolean {
  const script = process.argv[1];
  try {
    return (
      script !== undefined && realpathSync(script) === realpathSync(fileURLToPath(import.meta.url))
    );
  } catch {
    return false;
  }
}

if (isEntryPoint()) process.exitCode = await main(process.argv.slice(2));
