import { afterEach, expect, it } from "vitest";
import { plasmavmcFlow, subnetCidrIn } from "../../examples/plasmavmc-flow.js";
import { NetworkClient } from "../../src/client/index.js";
import { type FakeCluster, startFakeCluster } from "./fake-cluster.js";

let cluster: FakeCluster | undefined;
afterEach(() => cluster?.stop());

it("carves the subnet after the VPC's default one", () => {
  expect(subnetCidrIn("10.1.0.0/16")).toBe("10.1.1.0/24");
  expect(subnetCidrIn("10.255.255.0/23")).toBe("11.0.0.0/24");
  expect(() => subnetCidrIn("10.1.0.0/24")).toThrow();
});

it("runs the PlasmaVMC flow end to end against a 3-replica fake and leaves nothing behind", async () => {
  cluster = await startFakeCluster({ replicas: 3, leader: 2 });
  const client = NetworkClient.connect({ endpoints: cluster.addresses });
  const lines: string[] = [];
  try {
    await plasmavmcFlow(client, { orgId: "org1", projectId: "proj1", vmId: "vm-123" }, (l) =>
      lines.push(l),
    );
  } finally {
    client.close();
  }
  expect(lines.map((l) => l.split(" ").slice(0, 3).join(" "))).toEqual([
    "1. created VPC",
    "2. created subnet",
    "3. created port",
    "4. attached port",
    "5. detached port",
    "6. deleted port",
    "7. deleted subnet",
    "8. deleted VPC",
  ]);
  expect(lines[3]).toMatch(/to vm-123$/);
  expect(cluster.store.vpcs.size + cluster.store.subnets.size + cluster.store.ports.size).toBe(0);
  // All writes after the first redirect went straight to the leader.
  expect(cluster.calls.filter((c) => c.replica !== 2).map((c) => c.method)).toEqual([
    "registerClient",
  ]);
});
