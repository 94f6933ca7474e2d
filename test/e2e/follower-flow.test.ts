// Three `novanet` replica OS processes on loopback (auth off). (a) The PlasmaVMC flow through the
// client library with a client that knows ONLY a follower and does not follow leader hints: every
// write is forwarded by that follower, and every answer comes from it. (b) Read-your-writes: a
// port acknowledged by the leader is visible at once in a linearizable read on every follower.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { LocalCluster } from "../../cluster/lib/replica-processes.js";
import {
  type CallOptions,
  ClusterClient,
  Consistency,
  NetworkClient,
  NovanetError,
  type ResponseInfo,
} from "../../src/client/index.js";

const dir = mkdtempSync(join(tmpdir(), "novanet-follower-"));
let cluster: LocalCluster;
let admin: ClusterClient;
/** Client API addresses, as the replicas saw themselves when the cluster had settled. */
let leader: string;
let followers: string[];

/** Waits until exactly one leader is known to all replicas (same id, same term), and all have applied what it committed. */
async function settledCluster(ms: number): Promise<{ leader: string; followers: string[] }> {
  const until = Date.now() + ms;
  let last = "";
  while (Date.now() < until) {
    const all = await admin.statusAll({ deadlineMs: 1_000 });
    const leaders = all.filter((s) => s.status?.role === "leader");
    const lead = leaders[0]?.status;
    if (
      leaders.length === 1 &&
      lead !== undefined &&
      lead.commitIndex > 0 &&
      all.every(
        (s) =>
          s.status !== undefined &&
          s.status.leaderId === lead.id &&
          s.status.term === lead.term &&
          s.status.appliedIndex >= lead.commitIndex,
      )
    ) {
      return {
        leader: leaders[0]!.endpoint,
        followers: all.filter((s) => s.status?.role === "follower").map((s) => s.endpoint),
      };
    }
    last = JSON.stringify(all.map((s) => [s.endpoint, s.status?.role, s.error?.code]));
    await sleep(100);
  }
  throw new Error(`the cluster did not settle within ${ms} ms: ${last}`);
}

beforeAll(async () => {
  cluster = await LocalCluster.create({ kind: "novanet", dir, replicas: 3, tickMs: 50 });
  cluster.startAll();
  admin = ClusterClient.connect({ endpoints: cluster.endpoints(), deadlineMs: 5_000 });
  // A first write through the retrying client: the cluster has bootstrapped its config.
  const warm = NetworkClient.connect({
    endpoints: cluster.endpoints(),
    orgId: "warmup",
    projectId: "p1",
    deadlineMs: 30_000,
  });
  try {
    await settledCluster(40_000);
    await warm.createVpc({ name: "warmup" });
  } finally {
    warm.close();
  }
  ({ leader, followers } = await settledCluster(10_000));
  expect(followers).toHaveLength(2);
}, 60_000);

afterAll(async () => {
  admin?.close();
  await cluster?.stopAll();
  if (!process.env.KEEP_TEST_DIRS) rmSync(dir, { recursive: true, force: true });
});

/** Expects `p` to fail with a NovanetError answered by `endpoint`; returns it. */
async function failure(p: Promise<unknown>, endpoint: string): Promise<NovanetError> {
  const e = await p.then(
    () => undefined,
    (x: unknown) => x,
  );
  expect(e).toBeInstanceOf(NovanetError);
  expect((e as NovanetError).endpoint).toBe(endpoint);
  return e as NovanetError;
}

describe("writes sent to a follower", () => {
  it("runs the PlasmaVMC flow through a client that knows only a follower", async () => {
    const follower = followers[0]!;
    const client = NetworkClient.connect({
      endpoints: [follower],
      followLeaderHints: false,
      orgId: "flow",
      projectId: "p1",
      deadlineMs: 10_000,
    });
    const answers: ResponseInfo[] = [];
    /** Per-call options that record who answered, and check it was the follower. */
    const via = (): CallOptions => ({
      deadlineMs: 10_000,
      onResponse: (info) => answers.push(info),
    });
    const answered = (kind: "write" | "read") => {
      const info = answers.at(-1);
      expect(info?.endpoint).toBe(follower);
      // A forwarded write names the leader that applied it.
      if (kind === "write") expect(info?.leader).toBe(leader);
      answers.length = 0;
    };
    try {
      // 1. VPC, CIDR from the pool.
      const vpc = await client.createVpc({ name: "my-vpc" }, via());
      answered("write");
      expect(vpc).toMatchObject({
        id: "flow/p1",
        orgId: "flow",
        projectId: "p1",
        name: "my-vpc",
        cidrAutoAllocated: true,
      });
      const m = /^10\.(\d+)\.0\.0\/16$/.exec(vpc.cidr);
      expect(m, vpc.cidr).not.toBeNull();
      const net = `10.${m![1]}`;
      expect(await client.getVpc({}, via())).toEqual(vpc);
      answered("read");

      // 2. Subnet: the second /24 of the VPC.
      const subnet = await client.createSubnet(
        {
          vpcId: vpc.id,
          name: "web",
          cidr: `${net}.1.0/24`,
          dhcpEnabled: true,
          dnsServers: ["8.8.8.8"],
        },
        via(),
      );
      answered("write");
      expect(subnet).toMatchObject({
        id: "flow/p1/web",
        vpcId: "flow/p1",
        name: "web",
        cidr: `${net}.1.0/24`,
        gatewayIp: `${net}.1.1`,
        dnsServers: ["8.8.8.8"],
        dhcpEnabled: true,
        ipVersion: 4,
      });

      // 3. Port: MAC generated, IP allocated, the default group.
      const port = await client.createPort({ subnetId: subnet.id }, via());
      answered("write");
      expect(port.id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
      expect(port).toMatchObject({
        orgId: "flow",
        projectId: "p1",
        subnetId: "flow/p1/web",
        vpcId: "flow/p1",
        vmId: "",
        securityGroupIds: ["flow/p1/default"],
      });
      expect(port.macAddress).toMatch(/^fa:16:3e(:[0-9a-f]{2}){3}$/);
      expect(port.ipAddress.startsWith(`${net}.1.`)).toBe(true);
      expect([`${net}.1.0`, `${net}.1.1`, `${net}.1.255`]).not.toContain(port.ipAddress);
      expect(await client.getPort({ portId: port.id }, via())).toEqual(port);
      answered("read");

      // 4. Attach to the VM.
      const attached = await client.attachPort({ portId: port.id, vmId: "vm-123" }, via());
      answered("write");
      expect(attached).toMatchObject({ id: port.id, vmId: "vm-123", ipAddress: port.ipAddress });
      const byVm = await client.listPorts({ vmId: "vm-123" }, via());
      answered("read");
      expect(byVm.ports.map((p) => p.id)).toEqual([port.id]);

      // 5. Detach.
      await client.detachPort({ portId: port.id, vmId: "vm-123" }, via());
      answered("write");
      expect((await client.getPort({ portId: port.id }, via())).vmId).toBe("");
      answered("read");

      // 6. Delete the port.
      await client.deletePort({ portId: port.id }, via());
      answered("write");
      expect((await failure(client.getPort({ portId: port.id }, via()), follower)).code).toBe(
        "NOT_FOUND",
      );

      // 7. Delete the subnet.
      await client.deleteSubnet({ subnetId: subnet.id }, via());
      answered("write");
      expect((await failure(client.getSubnet({ subnetId: subnet.id }, via()), follower)).code).toBe(
        "NOT_FOUND",
      );
      const left = await client.listSubnets({}, via());
      answered("read");
      expect(left.subnets.map((s) => s.id)).toEqual(["flow/p1/default"]);

      // 8. Delete the VPC (no ports are left, so no cascade is needed): the default subnet and
      //    group go with it.
      await client.deleteVpc({ vpcId: vpc.id }, via());
      answered("write");
      expect((await failure(client.getVpc({}, via()), follower)).code).toBe("NOT_FOUND");
      expect((await client.listSubnets({}, via())).subnets).toEqual([]);
      answered("read");
      expect((await client.listSecurityGroups({}, via())).securityGroups).toEqual([]);
      answered("read");

      // The client never learned another endpoint: it had nowhere else to go.
      expect(client.transport.endpoints).toEqual([follower]);
      expect(client.leader).toBe(follower);
    } finally {
      client.close();
    }
  }, 60_000);

  it("shows a port acknowledged by the leader to a linearizable read on every follower at once", async () => {
    const tenant = { orgId: "ryw", projectId: "p1" };
    const writer = NetworkClient.connect({
      endpoints: [leader],
      followLeaderHints: false,
      ...tenant,
      deadlineMs: 10_000,
    });
    const readers = followers.map((endpoint) =>
      NetworkClient.connect({
        endpoints: [endpoint],
        followLeaderHints: false,
        ...tenant,
        consistency: Consistency.CONSISTENCY_LINEARIZABLE,
        retry: { attemptsMax: 1 },
        deadlineMs: 5_000,
      }),
    );
    try {
      await writer.createVpc({ name: "ryw" });
      for (let i = 0; i < 30; i++) {
        let wroteAt: string | undefined;
        const port = await writer.createPort(
          { subnetId: "ryw/p1/default", vmId: `vm-${i}` },
          { onResponse: (info) => (wroteAt = info.endpoint) },
        );
        expect(wroteAt).toBe(leader);
        // Immediately, on both followers at the same time, with no retry.
        const seen = await Promise.all(
          readers.map(async (r, k) => {
            let answeredBy: string | undefined;
            const p = await r.getPort(
              { portId: port.id, consistency: Consistency.CONSISTENCY_LINEARIZABLE },
              { onResponse: (info) => (answeredBy = info.endpoint) },
            );
            expect(answeredBy).toBe(followers[k]);
            return p;
          }),
        );
        for (const p of seen) {
          expect(p.id).toBe(port.id);
          expect(p.ipAddress).toBe(port.ipAddress);
          expect(p.vmId).toBe(`vm-${i}`);
        }
      }
      // Thirty distinct addresses, all of them listed by each follower.
      for (const r of readers) {
        const listed = await r.listPorts({ pageSize: 100 });
        expect(new Set(listed.ports.map((p) => p.ipAddress)).size).toBe(30);
      }
    } finally {
      writer.close();
      for (const r of readers) r.close();
    }
  }, 60_000);
});
