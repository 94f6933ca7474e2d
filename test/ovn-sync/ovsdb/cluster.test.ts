import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  insertOp,
  NB_DATABASE,
  NB_MONITOR_COLUMNS,
  type NbRows,
  OvsdbClient,
} from "../../../src/ovn-sync/ovsdb/index.js";
import { eventually, NbCluster } from "./server-harness.js";

let cluster: NbCluster;

beforeAll(async () => {
  cluster = await NbCluster.create(3);
});

afterAll(async () => {
  await cluster?.destroy();
});

describe("OvsdbClient with a clustered (Raft) NB database", () => {
  it("connects only to the leader and follows leadership after the leader is killed", async () => {
    const leader = await cluster.leader();
    const order = [1, 2, 3].filter((i) => i !== leader).concat(leader); // followers first
    const c = new OvsdbClient<NbRows>({
      remotes: order.map((i) => cluster.remote(i)),
      backoffInitialMs: 50,
      backoffMaxMs: 300,
    });
    const failures: string[] = [];
    const models: string[] = [];
    c.on("connectFailed", (f) => failures.push(f.error.message));
    c.on("connected", (e) => models.push(e.model));
    c.start();
    try {
      await c.whenConnected(10_000);
      expect(c.remote).toBe(cluster.remote(leader));
      expect(models).toEqual(["clustered"]);
      expect(
        failures.filter((m) => /not the cluster leader|not connected to its cluster/.test(m))
          .length,
      ).toBeGreaterThanOrEqual(1);

      await c.monitor({ Logical_Switch: NB_MONITOR_COLUMNS.Logical_Switch });
      await c.transact(NB_DATABASE, [insertOp("Logical_Switch", { name: "before-failover" })]);
      expect(c.cache.find("Logical_Switch", (r) => r.name === "before-failover")).toBeDefined();

      await cluster.kill(leader);
      await eventually(() => !c.connected, "client left the dead leader", 5_000);
      const newLeader = await cluster.leader(15_000);
      await eventually(
        () => c.remote === cluster.remote(newLeader),
        "client on the new leader",
        15_000,
      );
      expect(c.cache.find("Logical_Switch", (r) => r.name === "before-failover")).toBeDefined();
      await c.transact(NB_DATABASE, [insertOp("Logical_Switch", { name: "after-failover" })]);
      expect(c.cache.table("Logical_Switch").size).toBe(2);
    } finally {
      c.close();
    }
  }, 60_000);

  it("with leaderOnly false, accepts a follower", async () => {
    const leader = await cluster.leader();
    const alive = [1, 2, 3].filter((i) => i !== leader);
    let follower: number | undefined;
    for (const i of alive) if ((await cluster.role(i).catch(() => "")) === "follower") follower = i;
    if (follower === undefined) throw new Error("no follower alive");
    const c = new OvsdbClient({ remotes: [cluster.remote(follower)], leaderOnly: false });
    c.start();
    try {
      await c.whenConnected(10_000);
      expect(c.remote).toBe(cluster.remote(follower));
    } finally {
      c.close();
    }
  });
});
