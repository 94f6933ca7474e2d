// Maintenance on `novanet` replica OS processes (API only, no OVN):
//  4. drain + rolling restart: each replica in turn — leadership transferred away first when it
//     leads — gets SIGTERM, is started again and waits until ready, while a client keeps creating
//     and reading ports: not one call fails (the client retries UNAVAILABLE with the same
//     request id), every acknowledged port exists, the replicas converge;
//  5. quorum loss: with 2 of 3 stopped a write fails within seconds with UNAVAILABLE, a STALE
//     read is answered, a linearizable read fails. (test/rpc/server.test.ts covers the same
//     in-process; here it is the real processes and a tighter time bound.)
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { LocalCluster } from "../../cluster/lib/replica-processes.js";
import { ClusterClient, Consistency, NetworkClient, NovanetError } from "../../src/client/index.js";
import {
  checkPorts,
  converged,
  leaderStatus,
  PortWriter,
  statusOf,
  waitFor,
  waitReady,
} from "./ops-helpers.js";

const dir = mkdtempSync(join(tmpdir(), "novanet-ops-restart-"));
const subnetId = "ops/p1/big";
let cluster: LocalCluster;
let admin: ClusterClient;
let client: NetworkClient;
const log = (...args: unknown[]) => console.log("[operations-restart]", ...args);

beforeAll(async () => {
  cluster = await LocalCluster.create({ kind: "novanet", dir, replicas: 3, tickMs: 50 });
  cluster.startAll();
  admin = ClusterClient.connect({ endpoints: cluster.endpoints(), deadlineMs: 10_000 });
  await leaderStatus(admin, cluster.replicas, 30_000);
  client = NetworkClient.connect({
    endpoints: cluster.endpoints(),
    orgId: "ops",
    projectId: "p1",
    deadlineMs: 30_000,
  });
  await client.createVpc({ name: "main", cidr: "10.64.0.0/16" });
  await client.createSubnet({ name: "big", cidr: "10.64.128.0/18" });
}, 60_000);

afterAll(async () => {
  client?.close();
  admin?.close();
  await cluster?.stopAll();
  if (!process.env.KEEP_TEST_DIRS) rmSync(dir, { recursive: true, force: true });
});

describe("maintenance on replica processes", () => {
  it("restarts every replica in turn, draining the leader first, with zero failed client calls", async () => {
    const t0 = Date.now();
    const writer = new PortWriter(client, subnetId, {
      workers: 4,
      maxPerWorker: 1_500,
      maxMs: 100_000,
      reads: true,
    }).start();
    await writer.progress(50);
    const transfers: string[] = [];
    for (const r of cluster.replicas) {
      const { replica: leader } = await leaderStatus(admin, cluster.replicas);
      if (leader === r) {
        const st = await admin.transferLeadership();
        transfers.push(`${r.spec.id}→${st.leaderId}`);
        expect(st.leaderId).not.toBe(r.spec.id);
        const { replica: next } = await leaderStatus(admin, cluster.replicas);
        expect(next).not.toBe(r);
      }
      const stopped = Date.now();
      await r.kill("SIGTERM");
      expect(r.running()).toBe(false);
      await writer.progress(30);
      r.start();
      await waitReady(r);
      const { status: ls } = await leaderStatus(admin, cluster.replicas);
      await waitFor(
        `${r.spec.id} to catch up`,
        async () => ((await statusOf(admin, r)).appliedIndex >= ls.commitIndex ? true : undefined),
        20_000,
      );
      log(`${r.spec.id} restarted and caught up in ${Date.now() - stopped} ms`);
      await writer.progress(30);
    }
    await writer.stop();
    log(
      `rolling restart: ${writer.acked.length} ports, ${writer.reads} reads, transfers ${transfers.join(" ")}, ${writer.failures.length} failures, ${Date.now() - t0} ms`,
    );
    expect(transfers.length).toBeGreaterThan(0);
    expect(writer.failures, writer.describeFailures()).toEqual([]);
    await checkPorts(client, writer.acked);
    await converged(admin, cluster.replicas);
  }, 120_000);

  it("with 2 of 3 replicas down: writes fail fast with UNAVAILABLE, stale reads answer", async () => {
    const port = await client.createPort({ subnetId });
    const [survivor, ...others] = cluster.replicas;
    // One attempt, pinned to the survivor: what the replica itself answers.
    const single = NetworkClient.connect({
      endpoints: [survivor!.apiAddress],
      orgId: "ops",
      projectId: "p1",
      deadlineMs: 15_000,
      retry: { attemptsMax: 1 },
      followLeaderHints: false,
    });
    try {
      // The client session exists before the quorum goes: the write below is the CreatePort.
      await single.register();
      await Promise.all(others.map((r) => r.kill("SIGTERM")));
      const started = Date.now();
      const err = await single.createPort({ subnetId }).then(
        () => undefined,
        (e: unknown) => e,
      );
      const ms = Date.now() - started;
      log(`write with quorum lost failed after ${ms} ms: ${String(err)}`);
      expect(err).toBeInstanceOf(NovanetError);
      expect((err as NovanetError).grpcCode).toBe(14); // UNAVAILABLE
      expect(ms).toBeLessThan(5_000);
      const stale = await single.getPort(
        { portId: port.id, consistency: Consistency.CONSISTENCY_STALE },
        { endpoint: survivor!.apiAddress },
      );
      expect(stale.ipAddress).toBe(port.ipAddress);
      const lin = await single.getPort({ portId: port.id }, { deadlineMs: 5_000 }).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect((lin as NovanetError | undefined)?.grpcCode).toBe(14);
    } finally {
      single.close();
    }
  }, 60_000);
});
