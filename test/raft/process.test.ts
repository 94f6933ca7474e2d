// Three replicas as real OS processes on loopback with LevelDB on disk: kill -9 the leader, a new
// leader is elected and writes continue; the killed replica restarts and catches up through
// InstallSnapshot because the log was compacted past what it has.
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { LocalCluster, ReplicaApiClient } from "../../cluster/lib/replica-processes.js";

const dir = mkdtempSync(join(tmpdir(), "novanet-process-"));
let cluster: LocalCluster;
let client: ReplicaApiClient;

beforeAll(async () => {
  cluster = await LocalCluster.create({
    kind: "bare",
    dir,
    replicas: 3,
    snapshotEntries: 40,
    tickMs: 50,
  });
  cluster.startAll();
  client = new ReplicaApiClient(cluster.endpoints());
});

afterAll(async () => {
  client?.close();
  await cluster?.stopAll();
  if (!process.env.KEEP_TEST_DIRS) rmSync(dir, { recursive: true, force: true });
});

async function writeMany(n: number, tag: string): Promise<number> {
  let last = 0;
  for (let i = 0; i < n; i++) {
    const out = await client.propose(new TextEncoder().encode(`${tag}-${i}`));
    expect(out.index).toBeGreaterThan(last);
    last = out.index;
  }
  return last;
}

async function waitFor<T>(what: string, fn: () => Promise<T | undefined>, ms = 20_000): Promise<T> {
  const until = Date.now() + ms;
  let lastErr: unknown;
  while (Date.now() < until) {
    try {
      const v = await fn();
      if (v !== undefined) return v;
    } catch (err) {
      lastErr = err;
    }
    await sleep(100);
  }
  throw new Error(`timed out waiting for ${what}: ${String(lastErr ?? "")}`);
}

describe("real replica processes", () => {
  it("survives kill -9 of the leader and the restarted replica catches up by snapshot", async () => {
    const firstLeader = await client.waitLeader();
    const acked = await writeMany(60, "before");

    const victim = cluster.replicas.find((r) => r.apiAddress === firstLeader)!;
    await victim.kill("SIGKILL");
    expect(victim.running()).toBe(false);
    const survivors = cluster.replicas.filter((r) => r !== victim).map((r) => r.apiAddress);

    const newLeader = await client.waitLeader(survivors, 20_000);
    expect(newLeader).not.toBe(firstLeader);
    const afterKill = await writeMany(120, "after");
    expect(afterKill).toBeGreaterThan(acked);

    // Nothing acknowledged is lost: the new leader has applied at least every acked index.
    const leaderRead = await client.read(newLeader, "linearizable");
    expect(leaderRead.appliedIndex).toBeGreaterThanOrEqual(afterKill);
    expect(leaderRead.count).toBe(180);

    // The survivors compacted past everything the victim has (snapshot every 40 entries).
    const leaderStatus = await client.status(newLeader);
    expect(Number(leaderStatus.snapshotIndex)).toBeGreaterThan(acked);

    victim.start();
    const caughtUp = await waitFor("the restarted replica to catch up", async () => {
      const s = await client.read(victim.apiAddress, "stale");
      return s.appliedIndex >= afterKill ? s : undefined;
    });
    const final = await client.read(newLeader, "linearizable");
    const victimRead = await waitFor(
      "the restarted replica to reach the leader's index",
      async () => {
        const s = await client.read(victim.apiAddress, "linearizable");
        return s.appliedIndex >= final.appliedIndex ? s : undefined;
      },
    );
    expect(caughtUp.count).toBeGreaterThanOrEqual(180);
    if (victimRead.appliedIndex === final.appliedIndex)
      expect(victimRead.digest).toBe(final.digest);
    expect(victimRead.count).toBe(final.count);

    const log = readFileSync(victim.logFile, "utf8");
    expect(log).toContain("state machine restored from snapshot");

    // A write through the restarted replica's cluster still works and reaches it.
    const last = await client.propose(new TextEncoder().encode("final"));
    const seen = await waitFor("the last write on every replica", async () => {
      const reads = await Promise.all(
        cluster.endpoints().map((ep) => client.read(ep, "linearizable")),
      );
      return reads.every((r) => r.appliedIndex >= last.index) ? reads : undefined;
    });
    expect(new Set(seen.map((r) => r.count)).size).toBe(1);
  }, 120_000);
});
