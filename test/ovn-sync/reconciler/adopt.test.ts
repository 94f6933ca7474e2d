// Adoption (ovn.adopt_cluster_ids): a cluster restored from another's backup takes over the old
// cluster's NB rows in place: same uuids, owner rewritten, rows it does not need removed, the old
// fence key dropped; a third cluster's rows are never touched.

import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { OvnSync } from "../../../src/ovn-sync/index.js";
import { keyKey, ownerKey, tableNames } from "../../../src/ovn-sync/mapping/index.js";
import {
  NB_DATABASE,
  type NbRows,
  namedUuid,
  type OvsdbClient,
  ovsMap,
  ovsSet,
  uuid as uuidAtom,
} from "../../../src/ovn-sync/ovsdb/index.js";
import type { Atom } from "../../../src/ovn-sync/ovsdb/values.js";
import { NetworkStateMachine, rebaseSnapshot } from "../../../src/statemachine/index.js";
import { type Client, mac, uuid } from "../../statemachine/harness.js";
import { NbServer } from "../ovsdb/server-harness.js";
import {
  desiredOf,
  differences,
  httpFromAnywhere,
  newSync,
  observer,
  TrackedHarness,
  until,
} from "./helpers.js";

const oldId = "cluster-a";
const newId = "cluster-b";
const thirdId = "cluster-c";

let server: NbServer;
let obs: OvsdbClient<NbRows>;
const syncs: OvnSync[] = [];

interface RowInfo {
  table: string;
  uuid: string;
  owner: string;
  key: string;
  name: string | undefined;
}

/** Every NovaNET row in NB (any owner). */
function rows(): RowInfo[] {
  const out: RowInfo[] = [];
  for (const table of tableNames) {
    for (const row of obs.cache.table(table).values()) {
      const r = row as unknown as Record<string, unknown>;
      const ids = r.external_ids as Record<string, Atom> | undefined;
      const owner = ids?.[ownerKey];
      if (typeof owner !== "string") continue;
      out.push({
        table,
        uuid: String(r._uuid),
        owner,
        key: String(ids?.[keyKey]),
        name: typeof r.name === "string" ? r.name : undefined,
      });
    }
  }
  return out;
}

function fenceKeys(): Record<string, string> {
  const g = [...obs.cache.table("NB_Global").values()][0];
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(g?.external_ids ?? {})) out[k] = String(v);
  return out;
}

async function convergedAs(sync: OvnSync, h: TrackedHarness, id: string): Promise<void> {
  const desired = desiredOf(h, id);
  let diff: string[] = [];
  await until(
    () => {
      const s = sync.status();
      if (s.syncedIndex < h.index || s.phase !== "in-sync") return false;
      diff = differences(obs, desired);
      return diff.length === 0;
    },
    () => `status ${JSON.stringify(sync.status())} diff ${diff.slice(0, 10).join("; ")}`,
  );
}

function populate(h: TrackedHarness, orgs: readonly string[], base: number): Client[] {
  return orgs.map((org, n) => {
    const c = h.client(org, "p");
    c.ok("CreateVpc", { name: org, cidr: "10.1.0.0/16" });
    c.ok("CreateSecurityGroup", {
      name: "web",
      ingress_rules: [httpFromAnywhere],
    });
    for (let i = 0; i < 3; i++) {
      c.ok("CreatePort", {
        port_id: uuid(base + 10 * n + i),
        subnet_id: c.child("default"),
        mac_address: mac(base + 10 * n + i),
        security_group_ids: ["web"],
      });
    }
    c.ok("CreateSnat", { vpc_id: c.vpcId });
    return c;
  });
}

let a: TrackedHarness;
let before: RowInfo[];

beforeAll(async () => {
  server = await NbServer.create();
  obs = await observer([server.unixRemote]);
  // Cluster A, and a third cluster sharing the NB, each converged.
  a = new TrackedHarness().bootstrap();
  populate(a, ["acme", "globex"], 100);
  const c = new TrackedHarness().bootstrap();
  populate(c, ["initech"], 300);
  for (const [h, id] of [
    [a, oldId],
    [c, thirdId],
  ] as const) {
    const s = newSync([server.unixRemote], h, { clusterId: id });
    syncs.push(s);
    s.start();
    s.becomeLeader(3, h.index);
    await convergedAs(s, h, id);
    await s.close();
  }
  before = rows();
}, 60_000);

afterAll(async () => {
  for (const s of syncs) await s.close();
  obs?.close();
  await server?.destroy();
});

describe("adopting the rows of the cluster a backup came from", () => {
  it("keeps uuids, rewrites the owner, removes what is not desired, leaves others alone", async () => {
    expect(before.filter((r) => r.owner === oldId).length).toBeGreaterThan(20);
    expect(fenceKeys()[`novanet:${oldId}:term`]).toBe("3");
    // Cluster B: A's state restored at a new position, then changed: globex's VPC and one of
    // acme's ports are gone, a port is new.
    const b = new TrackedHarness();
    b.sm = NetworkStateMachine.restore(rebaseSnapshot(a.sm.snapshot(), { index: 1, term: 1 }));
    b.index = 1;
    b.term = 2;
    b.timeMs = a.timeMs;
    const acme = b.client("acme", "p", "restored-acme");
    const globex = b.client("globex", "p", "restored-globex");
    const acmeVpc = acme.vpcId;
    globex.ok("DeleteVpc", { vpc_id: globex.vpcId, cascade: true });
    acme.ok("DeletePort", { port_id: uuid(101) });
    acme.ok("CreatePort", {
      port_id: uuid(199),
      subnet_id: acme.child("default"),
      mac_address: mac(199),
      security_group_ids: ["web"],
    });

    // A also left what NovaNET wrote before the drop groups were split per VPC: one cluster-wide
    // drop group keyed by its cluster id, with every VM port, and its two ACLs. Not desired by
    // B (its key is not rewritten: the kind is no longer cluster-wide), so it must go.
    const aPorts = [...obs.cache.table("Logical_Switch_Port").values()]
      .filter(
        (r) => r.external_ids[ownerKey] === oldId && r.external_ids["novanet:kind"] === "port",
      )
      .map((r) => uuidAtom(r._uuid));
    expect(aPorts.length).toBe(6);
    const legacyIds = (kind: string, key: string) =>
      ovsMap({ [ownerKey]: oldId, "novanet:kind": kind, "novanet:id": oldId, [keyKey]: key });
    await obs.transact(NB_DATABASE, [
      ...(["from-lport", "to-lport"] as const).map((direction, i) => ({
        op: "insert" as const,
        table: "ACL" as const,
        "uuid-name": `acl${i}`,
        row: {
          priority: 1001,
          direction,
          match: `${direction === "from-lport" ? "inport" : "outport"} == @nv_drop_legacy && ip`,
          action: "drop",
          external_ids: legacyIds("drop-acl", `drop-acl:${oldId}:${direction}`),
        },
      })),
      {
        op: "insert" as const,
        table: "Port_Group" as const,
        row: {
          name: "nv_drop_legacy",
          ports: ovsSet(aPorts),
          acls: ovsSet([namedUuid("acl0"), namedUuid("acl1")]),
          external_ids: legacyIds("drop-group", `drop-group:${oldId}`),
        },
      },
    ] as never);
    await until(
      () => rows().some((r) => r.key === `drop-group:${oldId}`),
      () => "legacy drop group not seen",
    );

    const sync = newSync([server.unixRemote], b, { clusterId: newId, adoptOwners: [oldId] });
    syncs.push(sync);
    b.syncs.push(sync);
    sync.start();
    sync.becomeLeader(2, b.index);
    await convergedAs(sync, b, newId);
    await until(
      () => rows().every((r) => r.owner !== oldId),
      () => `rows of ${oldId} left: ${JSON.stringify(rows().filter((r) => r.owner === oldId))}`,
    );

    const after = rows();
    const byKey = new Map(after.filter((r) => r.owner === newId).map((r) => [r.key, r]));
    const lsp = (port: number) =>
      after.find((r) => r.table === "Logical_Switch_Port" && r.name === uuid(port));
    const lspBefore = (port: number) =>
      before.find((r) => r.table === "Logical_Switch_Port" && r.name === uuid(port));
    // The remaining ports keep their logical switch port, and its uuid.
    for (const port of [100, 102]) {
      expect(lsp(port)?.uuid).toBe(lspBefore(port)?.uuid);
      expect(lsp(port)?.owner).toBe(newId);
    }
    // Every row of A that B still wants kept its uuid (the cluster-wide rows included: their
    // keys name the cluster, and are matched across).
    let kept = 0;
    for (const r of before.filter((x) => x.owner === oldId)) {
      const key = r.key.replace(`:${oldId}`, `:${newId}`);
      const now = byKey.get(key);
      if (now === undefined) continue;
      expect(now.uuid, `${r.table} ${r.key}`).toBe(r.uuid);
      kept++;
    }
    // acme's drop group (a VPC row) and the external switch (cluster-wide, matched across ids).
    for (const [oldKey, newKey] of [
      [`drop-group:${acmeVpc}`, `drop-group:${acmeVpc}`],
      [`external-switch:${oldId}`, `external-switch:${newId}`],
    ] as const) {
      const was = before.find((r) => r.owner === oldId && r.key === oldKey);
      expect(was, oldKey).toBeDefined();
      expect(byKey.get(newKey)?.uuid, newKey).toBe(was?.uuid);
    }
    // The old cluster-wide drop group is gone with its ACLs, and none was made for B.
    expect(
      after
        .filter((r) => r.owner === newId && r.key.startsWith("drop-"))
        .map((r) => r.key)
        .sort(),
    ).toEqual([
      `drop-acl:${acmeVpc}:from-lport`,
      `drop-acl:${acmeVpc}:to-lport`,
      `drop-group:${acmeVpc}`,
    ]);
    expect(after.some((r) => r.key.includes(`:${oldId}`) && r.owner !== thirdId)).toBe(false);
    expect(kept).toBeGreaterThan(15);
    // Not desired any more: the deleted port's LSP and all of globex's rows.
    expect(lsp(101)).toBeUndefined();
    for (const port of [110, 111, 112]) expect(lsp(port)).toBeUndefined();
    expect(after.some((r) => r.key.includes("globex/"))).toBe(false);
    expect(lsp(199)?.owner).toBe(newId);
    // The third cluster's rows are exactly as they were.
    const third = (list: RowInfo[]) =>
      list
        .filter((r) => r.owner === thirdId)
        .map((r) => `${r.table} ${r.uuid} ${r.key} ${r.name}`)
        .sort();
    expect(third(after)).toEqual(third(before));
    expect(third(after).length).toBeGreaterThan(10);
    // Fence: ours set, the adopted cluster's dropped, the third's untouched.
    const fence = fenceKeys();
    expect(fence[`novanet:${newId}:term`]).toBe("2");
    expect(fence[`novanet:${oldId}:term`]).toBeUndefined();
    expect(fence[`novanet:${thirdId}:term`]).toBe("3");
    expect(sync.status().lastError).toBeUndefined();
  }, 60_000);

  it("refuses to adopt its own cluster id", () => {
    const h = new TrackedHarness().bootstrap();
    expect(() =>
      newSync([server.unixRemote], h, { clusterId: newId, adoptOwners: [newId] }),
    ).toThrow(/own id/);
  });
});
