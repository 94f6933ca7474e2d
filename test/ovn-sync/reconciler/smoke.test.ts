import { afterAll, beforeAll, expect, it } from "vitest";
import { buildFixture } from "../mapping/fixture.js";
import { NbServer } from "../ovsdb/server-harness.js";
import { converged, newSync, observer } from "./helpers.js";

let server: NbServer;
beforeAll(async () => {
  server = await NbServer.create();
});
afterAll(async () => {
  await server?.destroy();
});

it("smoke: a full pass writes the fixture", async () => {
  const f = buildFixture();
  const sync = newSync([server.unixRemote], f.harness);
  const obs = await observer([server.unixRemote]);
  sync.start();
  sync.becomeLeader(1, f.harness.index);
  await converged(sync, obs, f.harness);
  expect(sync.status().phase).toBe("in-sync");
  await sync.close();
  obs.close();
});

it("inserts into tables without a unique index carry a guard: a second copy fails", async () => {
  const { OvsdbClient, NB_DATABASE, NB_MONITOR_COLUMNS } = await import(
    "../../../src/ovn-sync/ovsdb/index.js"
  );
  const { OwnedIndex } = await import("../../../src/ovn-sync/reconciler/owned.js");
  const { planStep } = await import("../../../src/ovn-sync/reconciler/plan.js");
  const { desiredOf } = await import("./helpers.js");
  const f = buildFixture();
  const c = new OvsdbClient({ remotes: [server.unixRemote] });
  c.start();
  await c.whenConnected();
  await c.monitor(NB_MONITOR_COLUMNS);
  // Another cluster id: the first test already wrote this state for "test-cluster".
  const owned = new OwnedIndex("guard-test");
  owned.rebuild(c.cache, Object.keys(NB_MONITOR_COLUMNS));
  const step = planStep({
    desired: desiredOf(f.harness, "guard-test"),
    cache: c.cache,
    owned,
    universe: () => owned.byUuid.values(),
    inUniverse: () => true,
    unitOpsMax: 100,
  });
  const unit = step.units.find((u) =>
    u.ops.some((o) => o.op === "insert" && o.table === "Logical_Router"),
  );
  expect(unit?.ops[0]).toMatchObject({
    op: "wait",
    table: "Logical_Router",
    until: "==",
    rows: [],
  });
  // Two leaders' worth of the same insert (e.g. from stale caches): only the first commits.
  await c.transact(NB_DATABASE, unit!.ops);
  await expect(c.transact(NB_DATABASE, unit!.ops)).rejects.toMatchObject({
    opIndex: 0,
    error: "timed out",
  });
  c.close();
});

it("without an external network: converges to the mapping without gateway rows", async () => {
  const { OvnSync } = await import("../../../src/ovn-sync/index.js");
  const { desiredNorthbound } = await import("../../../src/ovn-sync/mapping/index.js");
  const { differences, silent, until } = await import("./helpers.js");
  // Its own NB: LSPs are named by port UUID, so the fixture's ports exist once per database.
  const own = await NbServer.create();
  const f = buildFixture();
  const sync = new OvnSync({
    clusterId: "bare-cluster",
    nbRemotes: [own.unixRemote],
    state: () => f.harness.sm,
    logger: silent,
  });
  const obs = await observer([own.unixRemote]);
  sync.start();
  sync.becomeLeader(1, f.harness.index);
  const desired = desiredNorthbound(f.harness.sm, { clusterId: "bare-cluster" });
  expect(desired.tables.NAT.size).toBe(0);
  await until(
    () => sync.status().phase === "in-sync" && differences(obs, desired).length === 0,
    () => differences(obs, desired).join("; "),
  );
  await sync.close();
  obs.close();
  await own.destroy();
});

it("refuses bad options at construction", async () => {
  const { OvnSync } = await import("../../../src/ovn-sync/index.js");
  const { silent } = await import("./helpers.js");
  const base = {
    clusterId: "c",
    nbRemotes: [server.unixRemote],
    state: () => buildFixture().harness.sm,
    logger: silent,
  };
  expect(() => new OvnSync({ ...base, txnOpsMax: 3 })).toThrow(/txnOpsMax/);
  expect(
    () => new OvnSync({ ...base, external: { cidr: "203.0.113.0/24", gateway: "10.0.0.1" } }),
  ).toThrow(/external.gateway/);
  expect(() => new OvnSync({ ...base, nbRemotes: [] })).toThrow(/remotes/);
});
