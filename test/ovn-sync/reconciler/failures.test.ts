// NB failures never block the Raft side, and the sync converges once NB is back: NB killed in the
// middle of the first full pass of a large state, NB down when the sync starts, and a 3-member
// clustered NB reached through several remotes.

import { afterEach, expect, it } from "vitest";
import type { OvnSync } from "../../../src/ovn-sync/index.js";
import type { NbRows, OvsdbClient } from "../../../src/ovn-sync/ovsdb/index.js";
import { mac, uuid } from "../../statemachine/harness.js";
import { buildFixture } from "../mapping/fixture.js";
import { NbCluster, NbServer } from "../ovsdb/server-harness.js";
import { converged, newSync, observer, TrackedHarness, until } from "./helpers.js";

const cleanup: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f();
});

function large(ports: number): TrackedHarness {
  const h = new TrackedHarness().bootstrap();
  const acme = h.client("acme", "web");
  acme.ok("CreateVpc", { name: "acme", cidr: "10.0.0.0/16" });
  acme.ok("CreateSubnet", { vpc_id: acme.vpcId, name: "big", cidr: "10.0.16.0/20" });
  acme.ok("CreateSecurityGroup", { name: "web" });
  for (let i = 0; i < ports; i++)
    acme.ok("CreatePort", {
      port_id: uuid(10_000 + i),
      subnet_id: acme.child("big"),
      mac_address: mac(10_000 + i),
      security_group_ids: ["web"],
    });
  return h;
}

it("NB killed and restarted during the first full pass of 2000 ports: converges", async () => {
  const server = await NbServer.create();
  cleanup.push(() => server.destroy());
  const h = large(2000);
  // Small transactions make the first pass long enough to be cut in the middle.
  const sync = newSync([server.unixRemote], h, { txnOpsMax: 50 });
  h.syncs.push(sync);
  cleanup.push(() => sync.close());
  sync.start();
  sync.becomeLeader(3, h.index);
  await until(
    () => sync.status().transactions >= 5,
    () => JSON.stringify(sync.status()),
  );
  await server.kill();
  expect(sync.status().phase).not.toBe("in-sync");
  // Raft keeps going while NB is down; these calls return at once.
  const started = performance.now();
  const acme = h.client("acme", "web", "during-outage");
  for (let i = 0; i < 50; i++) acme.ok("DeletePort", { port_id: uuid(10_000 + i) });
  expect(performance.now() - started).toBeLessThan(1_000);
  await until(
    () => sync.status().phase === "disconnected",
    () => JSON.stringify(sync.status()),
  );
  await server.start();
  const obs = await observer([server.unixRemote]);
  cleanup.push(() => obs.close());
  await converged(sync, obs, h, 60_000);
});

it("becomeFollower stops writing at once (an in-flight transaction may finish)", async () => {
  const server = await NbServer.create();
  cleanup.push(() => server.destroy());
  const h = large(600);
  const sync = newSync([server.unixRemote], h, { txnOpsMax: 10 });
  h.syncs.push(sync);
  cleanup.push(() => sync.close());
  sync.start();
  sync.becomeLeader(3, h.index);
  await until(
    () => sync.status().transactions >= 5,
    () => JSON.stringify(sync.status()),
  );
  sync.becomeFollower();
  const at = sync.status().transactions;
  expect(sync.status()).toMatchObject({ phase: "follower", term: 0 });
  // Entries keep coming; a follower records the index and writes nothing.
  h.client("acme", "web", "after").ok("DeletePort", { port_id: uuid(10_000) });
  await new Promise((r) => setTimeout(r, 500));
  expect(sync.status().transactions).toBeLessThanOrEqual(at + 1);
  expect(sync.status().appliedIndex).toBe(h.index);
  // Leading again (a later term) resumes with a full pass.
  sync.becomeLeader(4, h.index);
  const obs = await observer([server.unixRemote]);
  cleanup.push(() => obs.close());
  await converged(sync, obs, h, 30_000);
});

it("NB down at start: Raft-side calls return at once, status disconnected, converges later", async () => {
  const server = await NbServer.create();
  cleanup.push(() => server.destroy());
  await server.kill();
  const h = new TrackedHarness().bootstrap();
  const sync = newSync([server.unixRemote], h);
  h.syncs.push(sync);
  cleanup.push(() => sync.close());
  const started = performance.now();
  sync.start();
  sync.becomeLeader(2, h.index);
  const acme = h.client("acme", "web");
  acme.ok("CreateVpc", { name: "acme", cidr: "10.1.0.0/16" });
  acme.ok("CreatePort", {
    port_id: uuid(1),
    subnet_id: acme.child("default"),
    mac_address: mac(1),
  });
  expect(performance.now() - started).toBeLessThan(200);
  await new Promise((r) => setTimeout(r, 300));
  const s = sync.status();
  expect(s.phase).toBe("disconnected");
  expect(s.connected).toBe(false);
  expect(s.appliedIndex).toBe(h.index);
  expect(s.syncedIndex).toBeLessThan(h.index);
  expect(sync.portStatus(uuid(1))).toBeUndefined();
  await server.start();
  const obs = await observer([server.unixRemote]);
  cleanup.push(() => obs.close());
  await converged(sync, obs, h);
  expect(sync.portStatus(uuid(1))?.up).toBe(false);
});

it("a 3-member clustered NB, reached through all its remotes", async () => {
  const cluster = await NbCluster.create(3);
  cleanup.push(() => cluster.destroy());
  const remotes = [1, 2, 3].map((i) => cluster.remote(i));
  const f = buildFixture();
  const sync = newSync(remotes, f.harness);
  cleanup.push(() => sync.close());
  sync.start();
  sync.becomeLeader(1, f.harness.index);
  const obs: OvsdbClient<NbRows> = await observer(remotes);
  cleanup.push(() => obs.close());
  await converged(sync, obs, f.harness, 30_000);
  // A follower replica (not leading) also answers port status from its own monitor.
  const follower: OvnSync = newSync(remotes, f.harness);
  cleanup.push(() => follower.close());
  follower.start();
  await until(
    () => follower.portStatus(f.ports.p1) !== undefined,
    () => JSON.stringify(follower.status()),
  );
  expect(follower.status().phase).toBe("follower");
  expect(follower.portStatus(f.ports.p1)).toEqual(sync.portStatus(f.ports.p1));
});
