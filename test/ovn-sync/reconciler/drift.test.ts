// Drift and ownership: hand edits of owned rows are repaired by full passes only (an incremental
// pass touches only its dirty VPCs); rows and references NovaNET does not own are never touched.

import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { OvnSync } from "../../../src/ovn-sync/index.js";
import {
  NB_DATABASE,
  type NbRows,
  namedUuid,
  type OvsdbClient,
  ovsMap,
  ovsSet,
  uuid as uuidAtom,
  whereUuid,
} from "../../../src/ovn-sync/ovsdb/index.js";
import { type Client, mac, uuid } from "../../statemachine/harness.js";
import { NbServer } from "../ovsdb/server-harness.js";
import {
  clusterId,
  converged,
  desiredOf,
  differences,
  httpFromAnywhere,
  newSync,
  observer,
  TrackedHarness,
  until,
} from "./helpers.js";

let server: NbServer;
let h: TrackedHarness;
let sync: OvnSync;
let obs: OvsdbClient<NbRows>;
let acme: Client;
let globex: Client;

beforeAll(async () => {
  server = await NbServer.create();
  h = new TrackedHarness().bootstrap();
  acme = h.client("acme", "web");
  globex = h.client("globex", "shop");
  for (const [c, n] of [
    [acme, 10],
    [globex, 20],
  ] as const) {
    c.ok("CreateVpc", { name: c.org, cidr: "10.1.0.0/16" });
    c.ok("CreateSecurityGroup", {
      name: "web",
      ingress_rules: [httpFromAnywhere],
    });
    for (let i = 0; i < 3; i++)
      c.ok("CreatePort", {
        port_id: uuid(n + i),
        subnet_id: c.child("default"),
        mac_address: mac(n + i),
        security_group_ids: ["web"],
      });
    c.ok("CreateSnat", { vpc_id: c.vpcId, external_ip: `203.0.113.${n / 2}` });
  }
  sync = newSync([server.unixRemote], h);
  h.syncs.push(sync);
  obs = await observer([server.unixRemote]);
  sync.start();
  sync.becomeLeader(1, h.index);
  await converged(sync, obs, h);
});

afterAll(async () => {
  await sync?.close();
  obs?.close();
  await server?.destroy();
});

function owned<T extends keyof NbRows & string>(table: T, key: string): NbRows[T][] {
  return [...obs.cache.table(table).values()].filter(
    (r) => r.external_ids["novanet:owner"] === clusterId && r.external_ids["novanet:key"] === key,
  );
}

function one<T extends keyof NbRows & string>(table: T, key: string): NbRows[T] {
  const rows = owned(table, key);
  expect(rows.length, `${table} ${key}`).toBe(1);
  return rows[0]!;
}

async function tx(ops: unknown[]): Promise<unknown> {
  return obs.transact(NB_DATABASE, ops as never);
}

async function fullPass(): Promise<void> {
  // Hand edits reach the sync's own monitor at about the same time as the observer's; give it
  // a moment so that the pass plans from a cache that has them.
  await new Promise((r) => setTimeout(r, 200));
  const before = sync.status().fullSyncs;
  sync.applied(h.index, { kind: "all" });
  await until(
    () => sync.status().fullSyncs > before,
    () => JSON.stringify(sync.status()),
  );
}

describe("drift", () => {
  it("an incremental pass repairs only its dirty VPC; a full pass repairs everything", async () => {
    const globexLr = one("Logical_Router", `router:${globex.vpcId}`);
    const globexPort = one("Logical_Switch_Port", `port:${uuid(20)}`);
    const globexDhcp = one("DHCP_Options", `dhcp:${globex.child("default")}`);
    const globexPg = one("Port_Group", `security-group:${globex.child("web")}`);
    const globexLs = one("Logical_Switch", `switch:${globex.child("default")}`);
    const acl = owned("ACL", `security-rule:${globex.child("web")}/http:ingress:ip4`)[0]!;
    const repairedBefore = sync.status().repairedRows;
    await tx([
      // Edited columns.
      {
        op: "update",
        table: "Logical_Switch_Port",
        where: whereUuid(globexPort._uuid),
        row: { addresses: ovsSet(["00:00:00:00:00:01 10.9.9.9"]) },
      },
      {
        op: "update",
        table: "Logical_Router",
        where: whereUuid(globexLr._uuid),
        row: { options: ovsMap({ hand: "edit" }) },
      },
      // Deleted rows: a root row, and an ACL (unlinked, so OVSDB collects it).
      { op: "delete", table: "DHCP_Options", where: whereUuid(globexDhcp._uuid) },
      {
        op: "mutate",
        table: "Port_Group",
        where: whereUuid(globexPg._uuid),
        mutations: [["acls", "delete", ovsSet([uuidAtom(acl._uuid)])]],
      },
      // An extra owned row of a deleted object, and a duplicate of an owned row.
      {
        op: "insert",
        table: "Logical_Switch",
        row: {
          name: "stale",
          external_ids: ovsMap({
            "novanet:owner": clusterId,
            "novanet:key": `switch:${globex.child("gone")}`,
            "novanet:vpc": globex.vpcId,
          }),
        },
      },
      {
        op: "insert",
        table: "Logical_Switch",
        row: { name: globexLs.name, external_ids: ovsMap(globexLs.external_ids as never) },
      },
    ]);
    await until(
      () => differences(obs, desiredOf(h)).length >= 6,
      () => differences(obs, desiredOf(h)).join("; "),
    );
    const drift = differences(obs, desiredOf(h));
    if (process.env.SHOW_DRIFT) console.log(drift);

    // A change in acme: an incremental pass for acme alone.
    acme.ok("CreatePort", {
      port_id: uuid(99),
      subnet_id: acme.child("default"),
      mac_address: mac(99),
    });
    await until(
      () => sync.status().syncedIndex >= h.index,
      () => JSON.stringify(sync.status()),
    );
    expect(sync.status().fullSyncs).toBe(1);
    one("Logical_Switch_Port", `port:${uuid(99)}`);
    // globex's drift is untouched.
    expect(differences(obs, desiredOf(h))).toEqual(drift);

    // The full pass puts it all back.
    await fullPass();
    expect(differences(obs, desiredOf(h))).toEqual([]);
    expect(sync.status().repairedRows).toBeGreaterThanOrEqual(repairedBefore + 6);
  });

  it("an incremental pass of a VPC repairs that VPC's drift", async () => {
    const port = one("Logical_Switch_Port", `port:${uuid(10)}`);
    await tx([
      {
        op: "update",
        table: "Logical_Switch_Port",
        where: whereUuid(port._uuid),
        row: { port_security: ovsSet([]) },
      },
    ]);
    await until(
      () => differences(obs, desiredOf(h)).length === 1,
      () => "drift not seen",
    );
    await new Promise((r) => setTimeout(r, 200)); // the sync's monitor sees it too
    acme.ok("AttachPort", { port_id: uuid(11), vm_id: "vm-11" });
    await converged(sync, obs, h);
  });
});

describe("foreign rows", () => {
  it("are never modified or deleted, nor unlinked from our sets", async () => {
    const ourLs = one("Logical_Switch", `switch:${acme.child("default")}`);
    const ourPg = one("Port_Group", `security-group:${acme.child("web")}`);
    // acme's drop group: the incremental passes below change its members.
    const dropPg = one("Port_Group", `drop-group:${acme.vpcId}`);
    const other = {
      "novanet:owner": "other-cluster",
      "novanet:key": `switch:${acme.child("default")}`,
    };
    await tx([
      // Wholly foreign: a switch with a port, a group with an ACL, another cluster's switch.
      {
        op: "insert",
        table: "Logical_Switch_Port",
        row: { name: "foreign-lsp" },
        "uuid-name": "flsp",
      },
      {
        op: "insert",
        table: "Logical_Switch",
        row: { name: "foreign-ls", ports: ovsSet([namedUuid("flsp")]) },
      },
      {
        op: "insert",
        table: "ACL",
        "uuid-name": "facl",
        row: { priority: 1, direction: "to-lport", match: "ip4", action: "allow" },
      },
      {
        op: "insert",
        table: "Port_Group",
        row: { name: "foreign_pg", acls: ovsSet([namedUuid("facl")]) },
      },
      {
        op: "insert",
        table: "Logical_Switch",
        row: { name: "other", external_ids: ovsMap(other) },
      },
      // Foreign members of our sets: an LSP in our switch, an ACL in our group, a port in the
      // drop group.
      {
        op: "insert",
        table: "Logical_Switch_Port",
        row: { name: "foreign-in-ours" },
        "uuid-name": "fin",
      },
      {
        op: "mutate",
        table: "Logical_Switch",
        where: whereUuid(ourLs._uuid),
        mutations: [["ports", "insert", ovsSet([namedUuid("fin")])]],
      },
      {
        op: "insert",
        table: "ACL",
        "uuid-name": "facl2",
        row: { priority: 2, direction: "from-lport", match: "ip4", action: "allow" },
      },
      {
        op: "mutate",
        table: "Port_Group",
        where: whereUuid(ourPg._uuid),
        mutations: [["acls", "insert", ovsSet([namedUuid("facl2")])]],
      },
      {
        op: "mutate",
        table: "Port_Group",
        where: whereUuid(dropPg._uuid),
        mutations: [["ports", "insert", ovsSet([namedUuid("flsp")])]],
      },
    ]);
    const snapshot = () => {
      const lsps = [...obs.cache.table("Logical_Switch_Port").values()];
      const fin = lsps.find((r) => r.name === "foreign-in-ours");
      const flsp = lsps.find((r) => r.name === "foreign-lsp");
      const acls = [...obs.cache.table("ACL").values()];
      const facl2 = acls.find((r) => r.priority === 2);
      const ls = obs.cache.get("Logical_Switch", ourLs._uuid);
      const pg = obs.cache.get("Port_Group", ourPg._uuid);
      const drop = obs.cache.get("Port_Group", dropPg._uuid);
      return {
        foreignLs: [...obs.cache.table("Logical_Switch").values()]
          .filter((r) => r.name === "foreign-ls" || r.name === "other")
          .map((r) => [r.name, r.ports.length, r.external_ids])
          .sort(),
        foreignPg: [...obs.cache.table("Port_Group").values()]
          .filter((r) => r.name === "foreign_pg")
          .map((r) => r.acls.length),
        acls: acls.filter((r) => r.external_ids["novanet:owner"] === undefined).length,
        finInOurs: fin !== undefined && ls?.ports.includes(fin._uuid) === true,
        aclInOurs: facl2 !== undefined && pg?.acls.includes(facl2._uuid) === true,
        inDrop: flsp !== undefined && drop?.ports.includes(flsp._uuid) === true,
      };
    };
    await until(
      () => snapshot().inDrop,
      () => "foreign rows not seen",
    );
    const before = snapshot();
    expect(before).toMatchObject({ finInOurs: true, aclInOurs: true, inDrop: true, acls: 2 });

    // A full pass, and incremental passes that change the very sets holding foreign members.
    await fullPass();
    acme.ok("CreatePort", {
      port_id: uuid(98),
      subnet_id: acme.child("default"),
      mac_address: mac(98),
      security_group_ids: ["web"],
    });
    acme.ok("RemoveSecurityRule", { security_group_id: "web", rule_id: "http" });
    acme.ok("DeletePort", { port_id: uuid(12) });
    await converged(sync, obs, h);
    await fullPass();
    expect(differences(obs, desiredOf(h))).toEqual([]);
    expect(snapshot()).toEqual(before);
  });
});

describe("a row that cannot be written", () => {
  it("does not hold back the others, and is written once the conflict goes", async () => {
    // A foreign LSP already holds the name (the port UUID) of a port NovaNET is about to create.
    await tx([
      { op: "insert", table: "Logical_Switch_Port", row: { name: uuid(77) }, "uuid-name": "squat" },
      {
        op: "insert",
        table: "Logical_Switch",
        row: { name: "squatters", ports: ovsSet([namedUuid("squat")]) },
      },
    ]);
    for (const n of [76, 77, 78])
      acme.ok("CreatePort", {
        port_id: uuid(n),
        subnet_id: acme.child("default"),
        mac_address: mac(n),
      });
    await until(
      () =>
        owned("Logical_Switch_Port", `port:${uuid(76)}`).length === 1 &&
        owned("Logical_Switch_Port", `port:${uuid(78)}`).length === 1 &&
        (sync.status().lastError ?? "").includes("constraint violation"),
      () => JSON.stringify(sync.status()),
    );
    expect(owned("Logical_Switch_Port", `port:${uuid(77)}`)).toEqual([]);
    const squatters = [...obs.cache.table("Logical_Switch").values()].find(
      (r) => r.name === "squatters",
    )!;
    await tx([{ op: "delete", table: "Logical_Switch", where: whereUuid(squatters._uuid) }]);
    await converged(sync, obs, h);
  });
});

describe("a missing cluster-wide row", () => {
  it("turns an incremental pass into a full one (the shared sets need every VPC)", async () => {
    const ext = one("Logical_Switch", `external-switch:${clusterId}`);
    // Both VPCs have a gateway port on it, plus the localnet port.
    expect(ext.ports.length).toBe(3);
    await tx([{ op: "delete", table: "Logical_Switch", where: whereUuid(ext._uuid) }]);
    await until(
      () => obs.cache.get("Logical_Switch", ext._uuid) === undefined,
      () => "external switch still there",
    );
    await new Promise((r) => setTimeout(r, 200)); // the sync's monitor sees it too
    const fullSyncs = sync.status().fullSyncs;
    acme.ok("AttachPort", { port_id: uuid(10), vm_id: "vm-10b" });
    await converged(sync, obs, h);
    expect(sync.status().fullSyncs).toBe(fullSyncs + 1);
    // Both VPCs' gateway ports are back on the external switch.
    const again = one("Logical_Switch", `external-switch:${clusterId}`);
    expect(again.ports.length).toBe(3);
  });
});

describe("the drop groups", () => {
  const dropGroups = () =>
    [...obs.cache.table("Port_Group").values()].filter(
      (r) =>
        r.external_ids["novanet:owner"] === clusterId &&
        r.external_ids["novanet:kind"] === "drop-group",
    );

  it("are one per VPC, each holding exactly that VPC's ports", () => {
    const groups = dropGroups();
    expect(groups.map((g) => g.external_ids["novanet:vpc"]).sort()).toEqual(
      [acme.vpcId, globex.vpcId].sort(),
    );
    for (const g of groups) {
      const vpc = g.external_ids["novanet:vpc"];
      const ports = [...h.sm.ports()]
        .filter((p) => p.vpc_id === vpc)
        .map((p) => one("Logical_Switch_Port", `port:${p.id}`)._uuid)
        .sort();
      expect(ports.length).toBeGreaterThan(0);
      // (acme's also holds the foreign port the test above put there: foreign members stay.)
      const ownedMembers = g.ports.filter(
        (u) => obs.cache.get("Logical_Switch_Port", u)?.external_ids["novanet:owner"] === clusterId,
      );
      expect(ownedMembers.sort()).toEqual(ports);
      expect(g.acls.length).toBe(2);
    }
  });

  it("a deleted one is recreated by its VPC's incremental pass (it is not cluster-wide)", async () => {
    const drop = one("Port_Group", `drop-group:${globex.vpcId}`);
    await tx([{ op: "delete", table: "Port_Group", where: whereUuid(drop._uuid) }]);
    await until(
      () => obs.cache.get("Port_Group", drop._uuid) === undefined,
      () => "drop group still there",
    );
    await new Promise((r) => setTimeout(r, 200)); // the sync's monitor sees it too
    const fullSyncs = sync.status().fullSyncs;
    globex.ok("AttachPort", { port_id: uuid(20), vm_id: "vm-20b" });
    await converged(sync, obs, h);
    expect(sync.status().fullSyncs).toBe(fullSyncs);
    const again = one("Port_Group", `drop-group:${globex.vpcId}`);
    expect(again.ports.length).toBe(
      [...h.sm.ports()].filter((p) => p.vpc_id === globex.vpcId).length,
    );
    expect(again.acls.length).toBe(2);
  });

  it("the old cluster-wide drop group (before the split) is removed by a full pass", async () => {
    // What NB holds after the older NovaNET: one drop group with every VM port, keyed by the
    // cluster, with no novanet:vpc, and its two drop ACLs.
    const ports = [...obs.cache.table("Logical_Switch_Port").values()]
      .filter(
        (r) =>
          r.external_ids["novanet:owner"] === clusterId &&
          r.external_ids["novanet:kind"] === "port",
      )
      .map((r) => uuidAtom(r._uuid));
    expect(ports.length).toBe([...h.sm.ports()].length);
    const legacyName = "nv_drop_legacy0123456789";
    const ids = (kind: string, key: string) =>
      ovsMap({
        "novanet:owner": clusterId,
        "novanet:kind": kind,
        "novanet:id": clusterId,
        "novanet:key": key,
      });
    await tx([
      ...(["from-lport", "to-lport"] as const).map((direction, i) => ({
        op: "insert",
        table: "ACL",
        "uuid-name": `acl${i}`,
        row: {
          priority: 1001,
          direction,
          match: `${direction === "from-lport" ? "inport" : "outport"} == @${legacyName} && ip`,
          action: "drop",
          external_ids: ids("drop-acl", `drop-acl:${clusterId}:${direction}`),
        },
      })),
      {
        op: "insert",
        table: "Port_Group",
        row: {
          name: legacyName,
          ports: ovsSet(ports),
          acls: ovsSet([namedUuid("acl0"), namedUuid("acl1")]),
          external_ids: ids("drop-group", `drop-group:${clusterId}`),
        },
      },
    ]);
    const legacy = () => owned("Port_Group", `drop-group:${clusterId}`);
    const legacyAcls = () =>
      [...obs.cache.table("ACL").values()].filter((r) =>
        r.external_ids["novanet:key"]?.startsWith(`drop-acl:${clusterId}:`),
      );
    await until(
      () => legacy().length === 1 && legacyAcls().length === 2,
      () => "legacy drop group not seen",
    );
    await new Promise((r) => setTimeout(r, 200)); // the sync's monitor sees it too
    // An incremental pass does not look at it (it belongs to no VPC and is no cluster-wide kind).
    acme.ok("CreatePort", {
      port_id: uuid(60),
      subnet_id: acme.child("default"),
      mac_address: mac(60),
    });
    await until(
      () =>
        sync.status().syncedIndex >= h.index &&
        sync.status().phase === "in-sync" &&
        owned("Logical_Switch_Port", `port:${uuid(60)}`).length === 1,
      () => JSON.stringify(sync.status()),
    );
    expect(differences(obs, desiredOf(h)).sort()).toEqual([
      `extra ACL drop-acl:${clusterId}:from-lport`,
      `extra ACL drop-acl:${clusterId}:to-lport`,
      `extra Port_Group drop-group:${clusterId}`,
    ]);
    // A full pass (the first one of every leadership) removes it and its ACLs.
    await fullPass();
    await until(
      () => legacy().length === 0 && legacyAcls().length === 0,
      () => "legacy drop group still there",
    );
    expect(differences(obs, desiredOf(h))).toEqual([]);
    expect(dropGroups().length).toBe(2);
  });
});
