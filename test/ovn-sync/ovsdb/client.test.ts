import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import {
  deleteOp,
  failIfNameExists,
  insertOp,
  mapDeleteKeys,
  mapInsert,
  mutateOp,
  NB_DATABASE,
  NB_MONITOR_COLUMNS,
  type NbRows,
  namedUuid,
  OvsdbClient,
  type OvsdbClientOptions,
  OvsdbTransactionError,
  ovsMap,
  ovsSet,
  selectOp,
  setInsert,
  type UpdateEvent,
  updateOp,
  uuid,
  whereName,
  whereUuid,
} from "../../../src/ovn-sync/ovsdb/index.js";
import { eventually, NbServer } from "./server-harness.js";

let server: NbServer;
const clients: OvsdbClient<NbRows>[] = [];

function newClient(opts: Partial<OvsdbClientOptions> = {}): OvsdbClient<NbRows> {
  const c = new OvsdbClient<NbRows>({
    remotes: [server.unixRemote],
    backoffInitialMs: 20,
    backoffMaxMs: 200,
    ...opts,
  });
  clients.push(c);
  c.start();
  return c;
}

beforeAll(async () => {
  server = await NbServer.create();
});

afterEach(() => {
  for (const c of clients.splice(0)) c.close();
});

afterAll(async () => {
  await server?.destroy();
});

async function cleanDb(c: OvsdbClient<NbRows>): Promise<void> {
  await c.transact(NB_DATABASE, [
    deleteOp("Logical_Switch", []),
    deleteOp("Port_Group", []),
    deleteOp("Address_Set", []),
    deleteOp("Logical_Router", []),
  ]);
}

describe("OvsdbClient against a real ovsdb-server", () => {
  it("keeps updates that arrive right behind the monitor reply (monitor under write load)", async () => {
    const writer = newClient();
    await writer.whenConnected();
    await cleanDb(writer);
    let writing = true;
    let written = 0;
    const load = (async () => {
      while (writing) {
        await writer.transact(NB_DATABASE, [
          insertOp("Logical_Switch", { name: `load-${written}` }),
        ]);
        written++;
      }
    })();
    // Many monitors established while the writer commits: some replies are followed, in the
    // same read, by update2 notifications the snapshot does not hold.
    const readers: OvsdbClient<NbRows>[] = [];
    for (let i = 0; i < 20; i++) {
      const r = newClient();
      readers.push(r);
      await r.whenConnected();
      await r.monitor({ Logical_Switch: ["name"] });
    }
    writing = false;
    await load;
    const names = (r: OvsdbClient<NbRows>) =>
      [...r.cache.table("Logical_Switch").values()].filter((x) => x.name.startsWith("load-"))
        .length;
    await eventually(() => readers.every((r) => names(r) === written), "every replica complete");
    await cleanDb(writer);
  });

  it("lists databases and fetches the NB schema", async () => {
    const c = newClient({ remotes: [server.tcpRemote] });
    await c.whenConnected();
    expect(c.remote).toBe(server.tcpRemote);
    expect(await c.listDbs()).toEqual(expect.arrayContaining(["OVN_Northbound", "_Server"]));
    const schema = await c.getSchema(NB_DATABASE);
    expect(schema.name).toBe("OVN_Northbound");
    const lsp = schema.tables.Logical_Switch_Port!;
    expect(lsp.isRoot).toBe(false);
    expect(lsp.columns.addresses!.type.max).toBe(Number.POSITIVE_INFINITY);
    expect(lsp.columns.options!.type.value?.type).toBe("string");
    expect(await c.echo("x", 1)).toEqual(["x", 1]);
  });

  it("transacts insert/select/update/mutate/delete with named-uuid references", async () => {
    const c = newClient();
    await c.whenConnected();
    await cleanDb(c);
    const r = await c.transact(NB_DATABASE, [
      failIfNameExists("Logical_Switch", "ls-a"),
      insertOp(
        "Logical_Switch",
        { name: "ls-a", external_ids: ovsMap({ "novanet:owner": "t1" }) },
        { uuidName: "ls" },
      ),
      insertOp(
        "Logical_Switch_Port",
        { name: "lsp-a1", addresses: ovsSet(["aa:00:00:00:00:01 10.0.0.2"]) },
        { uuidName: "p1" },
      ),
      mutateOp(
        "Logical_Switch",
        [["_uuid", "==", namedUuid("ls")]],
        [setInsert("ports", [namedUuid("p1")])],
      ),
    ]);
    expect(r).toHaveLength(4);
    const lsUuid = r[1]!.uuid![1];
    const lspUuid = r[2]!.uuid![1];
    expect(r[3]).toEqual({ count: 1 });

    const sel = await c.transact(NB_DATABASE, [
      selectOp("Logical_Switch", whereUuid(lsUuid), ["name", "ports"]),
    ]);
    expect(sel[0]!.rows).toEqual([{ name: "ls-a", ports: ["uuid", lspUuid] }]); // one-element set as bare atom

    const upd = await c.transact(NB_DATABASE, [
      updateOp("Logical_Switch_Port", whereName("lsp-a1"), { external_ids: ovsMap({ k: "v" }) }),
      mutateOp("Logical_Switch", whereUuid(lsUuid), [mapInsert("external_ids", { extra: "1" })]),
    ]);
    expect(upd).toEqual([{ count: 1 }, { count: 1 }]);
    expect(await server.nbctl("get", "Logical_Switch_Port", "lsp-a1", "external_ids:k")).toMatch(
      /^"?v"?$/,
    );
    expect(await server.nbctl("get", "Logical_Switch", lsUuid, "external_ids")).toBe(
      '{extra="1", "novanet:owner"=t1}',
    );

    const del = await c.transact(NB_DATABASE, [deleteOp("Logical_Switch", whereUuid(lsUuid))]);
    expect(del).toEqual([{ count: 1 }]);
    // The LSP (non-root) is garbage-collected with its switch.
    const after = await c.transact(NB_DATABASE, [
      selectOp("Logical_Switch_Port", whereName("lsp-a1")),
    ]);
    expect(after[0]!.rows).toEqual([]);
  });

  it("surfaces error op results with error and details", async () => {
    const c = newClient();
    await c.whenConnected();
    await cleanDb(c);
    await c.transact(NB_DATABASE, [insertOp("Logical_Switch", { name: "dup" })]);

    // wait guard: the first op fails, later results are null.
    const err1 = await c
      .transact(NB_DATABASE, [
        failIfNameExists("Logical_Switch", "dup"),
        insertOp("Logical_Switch", { name: "dup" }),
      ])
      .catch((e: unknown) => e);
    expect(err1).toBeInstanceOf(OvsdbTransactionError);
    const e1 = err1 as OvsdbTransactionError;
    expect(e1.opIndex).toBe(0);
    expect(e1.error).toBe("timed out");
    expect(e1.results[1]).toBeNull();
    expect(e1.message).toMatch(/op 0 \(wait Logical_Switch\): timed out/);

    // commit-time error: duplicate unique index, reported after the ops.
    const ops = [
      insertOp("Port_Group", { name: "pg_x" }),
      insertOp("Port_Group", { name: "pg_x" }),
    ];
    const e2 = (await c
      .transact(NB_DATABASE, ops)
      .catch((e: unknown) => e)) as OvsdbTransactionError;
    expect(e2).toBeInstanceOf(OvsdbTransactionError);
    expect(e2.opIndex).toBe(2);
    expect(e2.error).toBe("constraint violation");
    expect(e2.details).toMatch(/Port_Group/);

    // transactRaw returns the results without throwing.
    const raw = await c.transactRaw(NB_DATABASE, [
      updateOp("Logical_Switch", [], { no_such_column: 1 }),
    ]);
    expect(raw[0]?.error).toBeTypeOf("string");
  });

  it("monitor_cond: initial snapshot, then updates made by ovn-nbctl, with set/map diff semantics", async () => {
    const c = newClient();
    await c.whenConnected();
    await cleanDb(c);
    await server.nbctl(
      "ls-add",
      "pre-existing",
      "--",
      "set",
      "Logical_Switch",
      "pre-existing",
      "external_ids:a=1",
    );
    const events: UpdateEvent[] = [];
    c.on("update", (e) => events.push(e));
    const h = await c.monitor(NB_MONITOR_COLUMNS);
    expect(events[0]?.kind).toBe("reset");
    const ls = () => c.cache.find("Logical_Switch", (r) => r.name === "sw1");
    expect(c.cache.find("Logical_Switch", (r) => r.name === "pre-existing")?.external_ids).toEqual({
      a: "1",
    });

    await server.nbctl("ls-add", "sw1");
    await eventually(() => ls() !== undefined, "sw1 in cache");
    expect(ls()).toMatchObject({
      name: "sw1",
      ports: [],
      acls: [],
      external_ids: {},
      other_config: {},
    });

    await server.nbctl(
      "lsp-add",
      "sw1",
      "p1",
      "--",
      "lsp-set-addresses",
      "p1",
      "aa:00:00:00:00:01 10.0.0.5",
    );
    await eventually(() => ls()?.ports.length === 1, "port in switch");
    const p1 = () => c.cache.find("Logical_Switch_Port", (r) => r.name === "p1");
    expect(p1()?._uuid).toBe(ls()?.ports[0]);
    expect(p1()?.addresses).toEqual(["aa:00:00:00:00:01 10.0.0.5"]);

    // Set: replace one element by two (the diff carries the symmetric difference).
    await server.nbctl(
      "lsp-set-addresses",
      "p1",
      "aa:00:00:00:00:01 10.0.0.6",
      "aa:00:00:00:00:02 10.0.0.7",
    );
    await eventually(() => p1()?.addresses.length === 2, "addresses changed");
    expect([...p1()!.addresses].sort()).toEqual([
      "aa:00:00:00:00:01 10.0.0.6",
      "aa:00:00:00:00:02 10.0.0.7",
    ]);
    await server.nbctl("lsp-set-addresses", "p1", "aa:00:00:00:00:02 10.0.0.7");
    await eventually(() => p1()?.addresses.length === 1, "address removed");
    expect(p1()?.addresses).toEqual(["aa:00:00:00:00:02 10.0.0.7"]);

    // Map: add keys, change one, remove one.
    await server.nbctl("set", "Logical_Switch", "sw1", "external_ids:a=1", "external_ids:b=2");
    await eventually(() => ls()?.external_ids.b === "2", "map keys added");
    await server.nbctl("set", "Logical_Switch", "sw1", "external_ids:a=10");
    await eventually(() => ls()?.external_ids.a === "10", "map value changed");
    await server.nbctl("remove", "Logical_Switch", "sw1", "external_ids", "b");
    await eventually(() => !("b" in (ls()?.external_ids ?? { b: 1 })), "map key removed");
    expect(ls()?.external_ids).toEqual({ a: "10" });

    // Optional column (min 0, max 1): set, change, clear (modify carries the new value).
    await server.nbctl("set", "Logical_Switch_Port", "p1", "tag_request=7");
    await eventually(() => p1()?.tag_request[0] === 7, "optional set");
    await server.nbctl("set", "Logical_Switch_Port", "p1", "tag_request=9");
    await eventually(() => p1()?.tag_request[0] === 9, "optional changed");
    expect(p1()?.tag_request).toEqual([9]);
    await server.nbctl("clear", "Logical_Switch_Port", "p1", "tag_request");
    await eventually(() => p1()?.tag_request.length === 0, "optional cleared");

    // Our own transaction: the update is applied before the transact reply.
    await c.transact(NB_DATABASE, [
      mutateOp("Logical_Switch", whereName("sw1"), [
        mapDeleteKeys("external_ids", ["a"]),
        mapInsert("other_config", { x: "y" }),
      ]),
    ]);
    expect(ls()?.external_ids).toEqual({});
    expect(ls()?.other_config).toEqual({ x: "y" });

    // Delete: the switch and its (garbage-collected) port leave the cache.
    await server.nbctl("ls-del", "sw1");
    await eventually(() => ls() === undefined && p1() === undefined, "switch deleted");
    const deltas = events.filter((e) => e.kind === "delta").flatMap((e) => e.changes);
    expect(deltas.some((d) => d.kind === "delete" && d.table === "Logical_Switch_Port")).toBe(true);

    // The cache matches a fresh snapshot.
    const fresh = newClient();
    await fresh.whenConnected();
    await fresh.monitor(NB_MONITOR_COLUMNS);
    for (const t of Object.keys(NB_MONITOR_COLUMNS)) {
      expect(Object.fromEntries(c.cache.table(t))).toEqual(
        Object.fromEntries(fresh.cache.table(t)),
      );
    }

    await h.cancel();
    expect(c.cache.table("Logical_Switch").size).toBe(0);
    await server.nbctl("ls-add", "after-cancel");
    await new Promise((r) => setTimeout(r, 100));
    expect(c.cache.table("Logical_Switch").size).toBe(0);
  });

  it("falls back to plain monitor (update with old/new) and keeps the same cache", async () => {
    const c = newClient({ monitorMethod: "monitor" });
    const connected = new Promise((resolve) => c.once("connected", resolve));
    await c.whenConnected();
    expect(await connected).toMatchObject({ monitorMethod: "monitor" });
    await cleanDb(c);
    await c.monitor({
      Logical_Switch: NB_MONITOR_COLUMNS.Logical_Switch,
      Logical_Switch_Port: NB_MONITOR_COLUMNS.Logical_Switch_Port,
    });
    await server.nbctl("ls-add", "m1", "--", "lsp-add", "m1", "mp1");
    const ls = () => c.cache.find("Logical_Switch", (r) => r.name === "m1");
    await eventually(() => ls()?.ports.length === 1, "monitor insert");
    await server.nbctl("set", "Logical_Switch", "m1", "external_ids:k=v");
    await eventually(() => ls()?.external_ids.k === "v", "monitor modify");
    expect(ls()?.ports).toHaveLength(1);
    await server.nbctl("ls-del", "m1");
    await eventually(() => ls() === undefined, "monitor delete");
    expect(c.cache.table("Logical_Switch_Port").size).toBe(0);
  });

  it("moves on from an unreachable remote to the next one", async () => {
    const failures: string[] = [];
    const c = newClient({ remotes: [`unix:${server.dir}/nope.sock`, server.unixRemote] });
    c.on("connectFailed", (f) => failures.push(f.remote));
    await c.whenConnected();
    expect(c.remote).toBe(server.unixRemote);
    expect(failures[0]).toContain("nope.sock");
  });

  it("reconnects after ovsdb-server is killed and restarted: cache reset, monitors re-established", async () => {
    const c = newClient();
    await c.whenConnected();
    await cleanDb(c);
    await server.nbctl("ls-add", "keep", "--", "ls-add", "gone");
    const events: string[] = [];
    c.on("connected", () => events.push("connected"));
    c.on("disconnected", () => events.push("disconnected"));
    c.on("update", (e) => events.push(e.kind));
    await c.monitor({ Logical_Switch: NB_MONITOR_COLUMNS.Logical_Switch });
    expect(c.cache.table("Logical_Switch").size).toBe(2);
    const byName = (n: string) => c.cache.find("Logical_Switch", (r) => r.name === n);

    await server.kill();
    await eventually(() => !c.connected, "client noticed the dead server");
    // Change the database while no server runs: only a full resync can see this.
    const goneUuid = byName("gone")!._uuid;
    await server.offlineTransact([
      { op: "delete", table: "Logical_Switch", where: [["_uuid", "==", uuid(goneUuid)]] },
      { op: "insert", table: "Logical_Switch", row: { name: "offline" } },
    ]);
    await server.start();
    await c.whenConnected(10_000);
    expect(events).toEqual(["reset", "disconnected", "reset", "connected"]);
    expect(byName("gone")).toBeUndefined();
    expect(byName("offline")).toBeDefined();
    expect(byName("keep")).toBeDefined();
    expect(c.stats.connects).toBe(2);

    // The re-established monitor delivers new changes.
    await server.nbctl("ls-add", "after-restart");
    await eventually(() => byName("after-restart") !== undefined, "update after reconnect");
    // Writes work again.
    await c.transact(NB_DATABASE, [deleteOp("Logical_Switch", whereName("keep"))]);
    expect(byName("keep")).toBeUndefined();
  });

  it("sends echo as an inactivity probe and stays connected to a live server", async () => {
    const c = newClient({ inactivityProbeMs: 50 });
    await c.whenConnected();
    await new Promise((r) => setTimeout(r, 400));
    expect(c.stats.probesSent).toBeGreaterThan(1);
    expect(c.connected).toBe(true);
    expect(c.stats.connects).toBe(1);
  });

  it("rejects requests while disconnected", async () => {
    const c = new OvsdbClient({ remotes: [server.unixRemote] });
    await expect(c.listDbs()).rejects.toThrow(/not connected/);
    c.close();
    await expect(c.whenConnected()).rejects.toThrow(/closed/);
    expect(() => new OvsdbClient({ remotes: ["http://x"] })).toThrow(/bad remote/);
  });
});
