// Fencing through NB_Global.external_ids "novanet:<cluster>:term": a deposed leader's writes are
// refused by NB itself, and a leader of an older term never writes.

import { afterAll, beforeAll, expect, it } from "vitest";
import type { OvnSync } from "../../../src/ovn-sync/index.js";
import type { NbRows, OvsdbClient } from "../../../src/ovn-sync/ovsdb/index.js";
import { mac, uuid } from "../../statemachine/harness.js";
import { NbServer } from "../ovsdb/server-harness.js";
import {
  clusterId,
  converged,
  desiredOf,
  differences,
  newSync,
  observer,
  TrackedHarness,
  until,
} from "./helpers.js";

let server: NbServer;
const syncs: OvnSync[] = [];
let obs: OvsdbClient<NbRows>;

beforeAll(async () => {
  server = await NbServer.create();
  obs = await observer([server.unixRemote]);
});
afterAll(async () => {
  for (const s of syncs) await s.close();
  obs?.close();
  await server?.destroy();
});

function build(ports: number): TrackedHarness {
  const h = new TrackedHarness().bootstrap();
  const acme = h.client("acme", "web");
  acme.ok("CreateVpc", { name: "acme", cidr: "10.1.0.0/16" });
  for (let i = 0; i < ports; i++)
    acme.ok("CreatePort", {
      port_id: uuid(i + 1),
      subnet_id: acme.child("default"),
      mac_address: mac(i + 1),
    });
  return h;
}

const termOf = () =>
  [...obs.cache.table("NB_Global").values()][0]?.external_ids[`novanet:${clusterId}:term`];

it("a stale leader's writes are rejected; an older term is fenced at once", async () => {
  // The old leader (term 5) knows 3 ports; the new one (term 6) knows 5.
  const hOld = build(3);
  const hNew = build(5);
  // Small transactions, so that the old leader is mid-pass when the new one takes the fence.
  const old = newSync([server.unixRemote], hOld, { txnOpsMax: 10 });
  const next = newSync([server.unixRemote], hNew);
  hOld.syncs.push(old);
  hNew.syncs.push(next);
  syncs.push(old, next);
  old.start();
  next.start();
  next.becomeFollower();
  old.becomeLeader(5, hOld.index);
  await converged(old, obs, hOld);
  expect(termOf()).toBe("5");

  // The old leader, not yet told it lost, starts a long incremental pass (many ports)...
  const late = hOld.client("acme", "web", "late");
  late.ok("CreateSubnet", { vpc_id: "acme/web", name: "big", cidr: "10.1.4.0/22" });
  for (let i = 0; i < 600; i++)
    late.ok("CreatePort", {
      port_id: uuid(5000 + i),
      subnet_id: late.child("big"),
      mac_address: mac(5000 + i),
    });
  const failedBefore = old.status().failedTransactions;
  const txBefore = old.status().transactions;
  await until(
    () => old.status().transactions >= txBefore + 2,
    () => JSON.stringify(old.status()),
  );
  // ...while the new leader takes the fence: NB refuses the old one's next transaction.
  next.becomeLeader(6, hNew.index);
  await converged(next, obs, hNew);
  expect(termOf()).toBe("6");
  await until(
    () => old.status().phase === "fenced",
    () => JSON.stringify(old.status()),
  );
  expect(old.status().failedTransactions).toBeGreaterThan(failedBefore);
  expect(old.status().syncedIndex).toBeLessThan(hOld.index);
  // Also a periodic full pass of the stale leader changes nothing.
  old.applied(hOld.index, { kind: "all" });
  await new Promise((r) => setTimeout(r, 500));
  expect(old.status().phase).toBe("fenced");
  expect(differences(obs, desiredOf(hNew))).toEqual([]);
  expect(termOf()).toBe("6");

  // A leader of term 4 (after 6) does not even try.
  const older = newSync([server.unixRemote], hOld);
  syncs.push(older);
  older.start();
  older.becomeLeader(4, hOld.index);
  await until(
    () => older.status().phase === "fenced",
    () => JSON.stringify(older.status()),
  );
  expect(older.status().transactions).toBe(0);
  expect(differences(obs, desiredOf(hNew))).toEqual([]);

  // The new leader keeps working.
  hNew.client("acme", "web", "more").ok("DeletePort", { port_id: uuid(5) });
  await converged(next, obs, hNew);
  expect(termOf()).toBe("6");
  await old.close();
  await older.close();
});
