import { createHash } from "node:crypto";
import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { status } from "@grpc/grpc-js";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { ClusterClient, NovanetError } from "../../src/client/index.js";
import { deadAddress, type FakeCluster, failure, startFakeCluster } from "./fake-cluster.js";

let cluster: FakeCluster | undefined;
let client: ClusterClient | undefined;
let dir = "";

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "novanet-client-"));
});

afterEach(async () => {
  client?.close();
  cluster?.stop();
  client = undefined;
  cluster = undefined;
  await rm(dir, { recursive: true, force: true });
});

function connect(endpoints: string[]): ClusterClient {
  client = ClusterClient.connect({
    endpoints,
    token: "admin",
    retry: { attemptsMax: 4, backoffMsMin: 5, backoffMsMax: 20 },
  });
  return client;
}

describe("ClusterClient", () => {
  it("reports status per endpoint, including unreachable ones", async () => {
    cluster = await startFakeCluster({ replicas: 2, leader: 1 });
    const dead = await deadAddress();
    const c = connect([...cluster.addresses, dead]);
    const rows = await c.statusAll();
    expect(rows.map((r) => r.status?.role ?? r.error?.code)).toEqual([
      "follower",
      "leader",
      "UNAVAILABLE",
    ]);
    expect(rows[2]!.endpoint).toBe(dead);
    expect(c.leader).toBe(cluster.addresses[1]);
    const one = await c.status({ endpoint: cluster.addresses[1] });
    expect(one.id).toBe("n2");
    expect(
      cluster.calls.every((x) => x.authorization === "Bearer admin" || x.method === "saveBackup"),
    ).toBe(true);
  });

  it("changes membership on the leader, following its hint", async () => {
    cluster = await startFakeCluster({ replicas: 3, leader: 2 });
    const c = connect(cluster.addresses);
    const added = await c.addLearner({
      id: "n4",
      peerAddress: "10.0.0.4:7000",
      apiAddress: "10.0.0.4:8081",
    });
    expect(added.members.find((m) => m.id === "n4")?.isLearner).toBe(true);
    expect(cluster.callsOf("addLearner").map((x) => x.replica)).toEqual([0, 2]);
    const promoted = await c.promote("n4");
    expect(promoted.members.find((m) => m.id === "n4")?.isLearner).toBe(false);
    const removed = await c.remove("n4");
    expect(removed.members.map((m) => m.id)).toEqual(["n1", "n2", "n3"]);
    const members = await c.members();
    expect(members.leaderId).toBe("n3");
    const s = await c.transferLeadership("n1");
    expect(cluster.leaderIndex).toBe(0);
    expect(s.leaderId).toBe("n1");
  });

  it("does not retry a membership change after a deadline (no idempotency key)", async () => {
    cluster = await startFakeCluster({ replicas: 1 });
    const c = connect(cluster.addresses);
    cluster.replicas[0]!.inject("promoteMember", {
      kind: "fail",
      code: status.DEADLINE_EXCEEDED,
      details: "TIMEOUT: not committed in time",
    });
    const e = await failure(c.promote("n1"));
    expect(e.code).toBe("TIMEOUT");
    expect(cluster.callsOf("promoteMember")).toHaveLength(1);
  });

  it("snapshots the chosen replica", async () => {
    cluster = await startFakeCluster({ replicas: 2 });
    const c = connect(cluster.addresses);
    const r = await c.snapshot({ endpoint: cluster.addresses[1] });
    expect(r.bytes).toBe(1234);
    expect(cluster.callsOf("snapshot").map((x) => x.replica)).toEqual([1]);
  });

  it("saves a verified backup and a manifest", async () => {
    cluster = await startFakeCluster({ replicas: 1 });
    const c = connect(cluster.addresses);
    const path = join(dir, "backup.bin");
    const r = await c.saveBackup(path);
    const data = await readFile(path);
    expect(data.equals(cluster.store.backupData)).toBe(true);
    const sha = createHash("sha256").update(data).digest("hex");
    expect(r).toMatchObject({
      path,
      bytes: data.length,
      sha256: sha,
      clusterId: "fake",
      stateDigest: "abc123",
    });
    const manifest = JSON.parse(await readFile(`${path}.json`, "utf8")) as Record<string, unknown>;
    expect(manifest.sha256).toBe(sha);
    expect(manifest.bytes).toBe(data.length);
  });

  it("restarts a backup stream that failed with UNAVAILABLE", async () => {
    cluster = await startFakeCluster({ replicas: 1 });
    const c = connect(cluster.addresses);
    cluster.replicas[0]!.inject("saveBackup", {
      kind: "fail",
      code: status.UNAVAILABLE,
      details: "NO_LEADER: x",
    });
    const r = await c.saveBackup(join(dir, "b"));
    expect(r.bytes).toBe(cluster.store.backupData.length);
    expect(cluster.callsOf("saveBackup")).toHaveLength(2);
  });

  it("rejects a backup whose checksum does not match and leaves no file behind", async () => {
    cluster = await startFakeCluster({ replicas: 1 });
    cluster.store.backupSha = "00".repeat(32);
    const c = connect(cluster.addresses);
    const e = await failure(c.saveBackup(join(dir, "bad.bin")));
    expect(e).toBeInstanceOf(NovanetError);
    expect(e.code).toBe("BACKUP_CHECKSUM_MISMATCH");
    expect(await readdir(dir)).toEqual([]);
    expect(cluster.callsOf("saveBackup")).toHaveLength(1);
  });
});
