// Membership operations on `novanet` replica OS processes (API only, no OVN), one cluster for
// the whole file, while a client keeps creating ports:
//  1. 3 → 5 → 3 replicas: two replicas join as learners (one started before add-learner, one
//     after, so its lag is visible), are promoted, then two original voters are removed — the
//     leader among them;
//  2. a SIGKILLed follower is removed and replaced by a fresh replica;
//  3. every member compacts its log (Snapshot RPC) and a new learner catches up through
//     InstallSnapshot.
// After each: every acknowledged port exists with its IP, no IP twice in a subnet, and all
// members have the same resource digest at the same applied index.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { LocalCluster, type ReplicaProcess } from "../../cluster/lib/replica-processes.js";
import { main as novanetctl } from "../../src/cli/novanetctl.js";
import { ClusterClient, NetworkClient } from "../../src/client/index.js";
import {
  type Acked,
  checkPorts,
  converged,
  leaderStatus,
  PortWriter,
  peerAddress,
  promote,
  statusOf,
  waitCaughtUp,
  waitFor,
} from "./ops-helpers.js";

const dir = mkdtempSync(join(tmpdir(), "novanet-ops-"));
const subnetId = "ops/p1/big";
let cluster: LocalCluster;
let admin: ClusterClient;
let client: NetworkClient;
/** Every port acknowledged by any scenario. */
const acked: Acked[] = [];
const log = (...args: unknown[]) => console.log("[operations]", ...args);

beforeAll(async () => {
  cluster = await LocalCluster.create({ kind: "novanet", dir, replicas: 3, tickMs: 50 });
  cluster.startAll();
  admin = ClusterClient.connect({ endpoints: cluster.endpoints(), deadlineMs: 10_000 });
  await leaderStatus(admin, cluster.replicas, 30_000);
  // The client knows only the founding replicas, as a client configured before the changes.
  client = NetworkClient.connect({
    endpoints: cluster.endpoints(),
    orgId: "ops",
    projectId: "p1",
    deadlineMs: 30_000,
  });
  await client.createVpc({ name: "main", cidr: "10.64.0.0/16" });
  // 16k addresses: room for every port the scenarios create.
  const subnet = await client.createSubnet({ name: "big", cidr: "10.64.128.0/18" });
  expect(subnet.id).toBe(subnetId);
}, 60_000);

afterAll(async () => {
  client?.close();
  admin?.close();
  await cluster?.stopAll();
  if (!process.env.KEEP_TEST_DIRS) rmSync(dir, { recursive: true, force: true });
});

/** The running replicas that are members (voters or learners) according to the leader. */
async function members(): Promise<ReplicaProcess[]> {
  const m = await admin.members();
  return m.members.map((x) => cluster.byId(x.id)).filter((r) => r.running());
}

/**
 * As the runbook says: after a membership change, point admin tools at the current members.
 * (A replica added later is known by its API address only to itself and to the replica that
 * added it; the others learn it only from forwarded writes — see the report.)
 */
function refreshAdmin(): void {
  const current = cluster.replicas.filter((r) => r.running());
  admin.close();
  admin = ClusterClient.connect({
    endpoints: current.map((r) => r.apiAddress),
    deadlineMs: 10_000,
  });
}

/**
 * Between scenarios, the application's endpoint list is updated too: a client whose configured
 * endpoints are all gone still writes (it follows the leader named in answers) but cannot read
 * (reads go to configured endpoints only).
 */
function refreshClient(): void {
  client.close();
  client = NetworkClient.connect({
    endpoints: cluster.replicas.filter((r) => r.running()).map((r) => r.apiAddress),
    orgId: "ops",
    projectId: "p1",
    deadlineMs: 30_000,
  });
}

async function finish(writer: PortWriter): Promise<void> {
  await writer.stop();
  acked.push(...writer.acked);
  if (writer.failures.length > 0) log(`client failures:\n${writer.describeFailures()}`);
  expect(writer.failures, writer.describeFailures()).toEqual([]);
  const { listed } = await checkPorts(client, acked);
  expect(listed).toBeGreaterThanOrEqual(acked.length);
  const voters = await members();
  const st = await converged(admin, voters);
  log(
    `converged: ${st.map((s) => `${s.id}@${s.appliedIndex}`).join(" ")} digest ${st[0]!.resourceDigest.slice(0, 16)}`,
  );
}

function capture() {
  let text = "";
  return {
    stream: (s: string) => {
      text += s;
    },
    text: () => text,
  };
}

describe("membership operations on replica processes", () => {
  it("grows 3 → 5 → 3 replicas under writes, removing the leader", async () => {
    const t0 = Date.now();
    const writer = new PortWriter(client, subnetId, {
      workers: 4,
      maxPerWorker: 1_000,
      maxMs: 90_000,
    }).start();
    await writer.progress(100);

    // n4: started first (it waits empty), then added as a learner.
    const n4 = await cluster.addJoiningReplica("n4");
    n4.start();
    await waitFor("n4 to listen", () => statusOf(admin, n4).then(() => true), 20_000, 100);
    const added = await admin.addLearner({
      id: "n4",
      peerAddress: peerAddress(n4),
      apiAddress: n4.apiAddress,
    });
    expect(added.members.find((m) => m.id === "n4")?.isLearner).toBe(true);
    const c4 = await waitCaughtUp(admin, cluster, "n4");
    log("n4 caught up", { ...c4, states: [...c4.states] });
    const s4 = await statusOf(admin, n4);
    expect(s4.learners).toContain("n4");
    expect(s4.role).toBe("follower");
    log(`n4 promoted after ${await promote(admin, "n4")} attempt(s)`);

    // n5: added first, its process started only after the lag has been seen, in the status and
    // in `novanetctl cluster status`.
    const n5 = await cluster.addJoiningReplica("n5");
    await admin.addLearner({ id: "n5", peerAddress: peerAddress(n5), apiAddress: n5.apiAddress });
    await writer.progress(50);
    const { status: ls } = await leaderStatus(admin, cluster.replicas);
    const p5 = ls.progress.find((p) => p.id === "n5");
    expect(p5?.isLearner).toBe(true);
    expect(p5?.lagEntries).toBeGreaterThan(100);
    expect(p5?.lagBytes).toBeGreaterThan(0);
    const out = capture();
    const code = await novanetctl(["cluster", "status"], {
      stdout: out.stream,
      stderr: out.stream,
      env: { NOVANET_ENDPOINTS: cluster.endpoints().join(",") },
    });
    expect(code, out.text()).toBe(0);
    log(`novanetctl cluster status while n5 is behind:\n${out.text()}`);
    expect(out.text()).toMatch(/LAG ENTRIES\s+LAG BYTES/);
    expect(out.text()).toMatch(/\bn5\s+learner\s+\S+\s+\d+\s+[1-9]\d*\s+[1-9]\d*/);
    n5.start();
    const c5 = await waitCaughtUp(admin, cluster, "n5");
    log("n5 caught up", { ...c5, states: [...c5.states] });
    expect(c5.maxLagEntries).toBeGreaterThan(100);
    log(`n5 promoted after ${await promote(admin, "n5")} attempt(s)`);
    refreshAdmin();
    const five = await admin.members();
    expect(
      five.members
        .filter((m) => !m.isLearner)
        .map((m) => m.id)
        .sort(),
    ).toEqual(["n1", "n2", "n3", "n4", "n5"]);
    await writer.progress(50);

    // Remove the leader (one of the founders, made so by a transfer if needed), then another
    // founder; stop both processes.
    let { replica: leader } = await leaderStatus(admin, cluster.replicas);
    if (!["n1", "n2", "n3"].includes(leader.spec.id)) {
      await admin.transferLeadership("n1");
      leader = cluster.byId("n1");
    }
    const oldLeader = leader.spec.id;
    const removed = await admin.remove(oldLeader);
    expect(removed.members.map((m) => m.id)).not.toContain(oldLeader);
    const { replica: newLeader } = await leaderStatus(
      admin,
      cluster.replicas.filter((r) => r !== leader),
    );
    expect(newLeader.spec.id).not.toBe(oldLeader);
    await leader.kill("SIGTERM");
    refreshAdmin();
    await writer.progress(50);
    const second = ["n1", "n2", "n3"].find((id) => id !== oldLeader && id !== newLeader.spec.id)!;
    await admin.remove(second);
    await cluster.byId(second).kill("SIGTERM");
    await writer.progress(50);
    const three = await admin.members();
    expect(three.members.map((m) => m.id).sort()).toEqual(
      ["n1", "n2", "n3", "n4", "n5"].filter((id) => id !== oldLeader && id !== second),
    );
    log(`removed ${oldLeader} (leader) and ${second}; leader now ${newLeader.spec.id}`);
    refreshAdmin();
    await finish(writer);
    log(`3→5→3: ${acked.length} ports in ${Date.now() - t0} ms`);
  }, 120_000);

  it("replaces a SIGKILLed follower with a fresh replica", async () => {
    const t0 = Date.now();
    refreshClient();
    const writer = new PortWriter(client, subnetId, {
      workers: 4,
      maxPerWorker: 1_000,
      maxMs: 60_000,
    }).start();
    await writer.progress(50);
    const { replica: leader } = await leaderStatus(admin, cluster.replicas);
    const victim = (await members()).find((r) => r !== leader)!;
    await victim.kill("SIGKILL");
    await writer.progress(50);
    await admin.remove(victim.spec.id);
    const n6 = await cluster.addJoiningReplica("n6");
    n6.start();
    await admin.addLearner({ id: "n6", peerAddress: peerAddress(n6), apiAddress: n6.apiAddress });
    const c6 = await waitCaughtUp(admin, cluster, "n6");
    log("n6 caught up", { ...c6, states: [...c6.states] });
    log(`n6 promoted after ${await promote(admin, "n6")} attempt(s)`);
    refreshAdmin();
    const before = writer.acked.length;
    await writer.progress(50);
    expect(writer.acked.length).toBeGreaterThan(before);
    const m = await admin.members();
    expect(m.members.map((x) => x.id)).not.toContain(victim.spec.id);
    expect(m.members.filter((x) => !x.isLearner)).toHaveLength(3);
    await finish(writer);
    log(`replaced ${victim.spec.id} by n6 in ${Date.now() - t0} ms`);
  }, 90_000);

  it("brings a learner behind a compacted log up to date through a snapshot", async () => {
    const t0 = Date.now();
    refreshClient();
    refreshAdmin();
    const writer = new PortWriter(client, subnetId, {
      workers: 2,
      maxPerWorker: 1_000,
      maxMs: 60_000,
    }).start();
    await writer.progress(50);
    const voters = await members();
    for (const r of voters) {
      const snap = await admin.snapshot({ endpoint: r.apiAddress });
      expect(snap.index).toBeGreaterThan(1);
    }
    await writer.progress(20);
    const { status: ls } = await leaderStatus(admin, cluster.replicas);
    expect(ls.firstIndex).toBeGreaterThan(1);
    const n7 = await cluster.addJoiningReplica("n7");
    n7.start();
    await waitFor("n7 to listen", () => statusOf(admin, n7).then(() => true), 20_000, 100);
    await admin.addLearner({ id: "n7", peerAddress: peerAddress(n7), apiAddress: n7.apiAddress });
    const c7 = await waitCaughtUp(admin, cluster, "n7");
    log("n7 caught up", { ...c7, states: [...c7.states] });
    const s7 = await statusOf(admin, n7);
    // snapshot_entries is the default 10,000 and n7 applied far fewer entries itself: a snapshot
    // index > 0 and a first index > 1 come only from the leader's snapshot.
    expect(s7.snapshotIndex).toBeGreaterThan(1);
    expect(s7.firstIndex).toBe(s7.snapshotIndex + 1);
    expect(s7.snapshotIndex).toBeGreaterThanOrEqual(ls.firstIndex - 1);
    await writer.progress(20);
    await writer.stop();
    acked.push(...writer.acked);
    expect(writer.failures, writer.describeFailures()).toEqual([]);
    await converged(admin, [...(await members())]);
    // Done with the learner: removing one is a plain membership change.
    await admin.remove("n7");
    await n7.kill("SIGTERM");
    await checkPorts(client, acked);
    await converged(admin, await members());
    log(`learner through a snapshot in ${Date.now() - t0} ms`);
  }, 90_000);
});
