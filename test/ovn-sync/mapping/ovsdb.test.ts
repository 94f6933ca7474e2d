// Validity against the real OVN: the desired rows of the fixture are inserted into a real
// ovsdb-server with the installed Northbound schema (one transaction, named-uuid references),
// read back, and processed by a real ovn-northd; ovn-trace then parses every logical flow,
// ACL matches included. A missing OVN/OVS binary fails this test: it does not skip.

import { type ChildProcess, execFileSync, spawn, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  type DesiredNb,
  desiredNorthbound,
  insertAllOperations,
  kinds,
  names,
  rowKey,
  tableNames,
} from "../../../src/ovn-sync/mapping/index.js";
import { buildFixture, options } from "./fixture.js";

const nbSchema = "/usr/share/ovn/ovn-nb.ovsschema";
const sbSchema = "/usr/share/ovn/ovn-sb.ovsschema";
const binaries = [
  "ovsdb-tool",
  "ovsdb-server",
  "ovsdb-client",
  "ovn-nbctl",
  "ovn-northd",
  "ovn-sbctl",
  "ovn-trace",
];

let dir = "";
const children: ChildProcess[] = [];
let desired: DesiredNb;

function run(cmd: string, args: readonly string[], timeout = 20_000): string {
  return execFileSync(cmd, args, { encoding: "utf8", timeout, stdio: ["ignore", "pipe", "pipe"] });
}

function runBoth(cmd: string, args: readonly string[]): { stdout: string; stderr: string } {
  const r = spawnSync(cmd, args, { encoding: "utf8", timeout: 20_000 });
  if (r.error !== undefined) throw r.error;
  return { stdout: r.stdout, stderr: r.stderr };
}

async function waitFor(what: string, check: () => boolean, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

function start(cmd: string, args: readonly string[]): void {
  const child = spawn(cmd, args, { stdio: "ignore" });
  child.on("error", (error) => {
    throw error;
  });
  children.push(child);
}

function transact(socket: string, db: string, ops: readonly unknown[]): unknown[] {
  return JSON.parse(
    run("ovsdb-client", ["transact", `unix:${socket}`, JSON.stringify([db, ...ops])]),
  ) as unknown[];
}

beforeAll(async () => {
  for (const binary of binaries) {
    // Loud failure, never a skip: this test exists to check against the real thing.
    expect(
      () => run("which", [binary]),
      `${binary} must be installed (apt-get install ovn-central)`,
    ).not.toThrow();
  }
  expect(existsSync(nbSchema), nbSchema).toBe(true);
  dir = mkdtempSync(join(tmpdir(), "novanet-ovn-mapping-"));
  const nb = join(dir, "nb.sock");
  const sb = join(dir, "sb.sock");
  run("ovsdb-tool", ["create", join(dir, "nb.db"), nbSchema]);
  run("ovsdb-tool", ["create", join(dir, "sb.db"), sbSchema]);
  for (const [db, sock] of [
    ["nb", nb],
    ["sb", sb],
  ] as const) {
    start("ovsdb-server", [
      "--no-chdir",
      `--remote=punix:${sock}`,
      `--unixctl=${join(dir, `${db}.ctl`)}`,
      `--log-file=${join(dir, `${db}.log`)}`,
      `--pidfile=${join(dir, `${db}.pid`)}`,
      join(dir, `${db}.db`),
    ]);
  }
  await waitFor("ovsdb sockets", () => existsSync(nb) && existsSync(sb));
  start("ovn-northd", [
    "--no-chdir",
    `--ovnnb-db=unix:${nb}`,
    `--ovnsb-db=unix:${sb}`,
    `--unixctl=${join(dir, "northd.ctl")}`,
    `--log-file=${join(dir, "northd.log")}`,
    `--pidfile=${join(dir, "northd.pid")}`,
  ]);
  desired = desiredNorthbound(buildFixture().harness.sm, options);
});

afterAll(() => {
  for (const child of children) child.kill("SIGTERM");
  if (dir !== "") rmSync(dir, { recursive: true, force: true });
});

describe("desired rows on a real OVN Northbound", () => {
  it("the schema accepts every row in one transaction", () => {
    const ops = insertAllOperations(desired);
    const result = transact(join(dir, "nb.sock"), "OVN_Northbound", ops);
    const errors = result.filter((r) => r !== null && typeof r === "object" && "error" in r);
    expect(errors).toEqual([]);
    expect(result.length).toBe(ops.length);
  });

  it("every row is stored (no orphan was garbage-collected) with its managed columns", () => {
    for (const table of tableNames) {
      const [selected] = transact(join(dir, "nb.sock"), "OVN_Northbound", [
        { op: "select", table, where: [], columns: ["external_ids"] },
      ]) as [{ rows: { external_ids: ["map", [string, string][]] }[] }];
      const keys = selected.rows
        .map((r) => Object.fromEntries(r.external_ids[1])["novanet:key"])
        .sort();
      expect(keys, table).toEqual([...desired.tables[table].keys()]);
    }
    const acls = JSON.parse(
      run("ovn-nbctl", [
        `--db=unix:${join(dir, "nb.sock")}`,
        "--format=json",
        "--columns=match,direction,action,priority",
        "list",
        "ACL",
      ]),
    ) as { data: [string, string, string, number][] };
    const stored = acls.data
      .map(([match, direction, action, priority]) => `${direction} ${priority} ${action} ${match}`)
      .sort();
    const wanted = [...desired.tables.ACL.values()]
      .map((a) => `${a.direction} ${a.priority} ${a.action} ${a.match}`)
      .sort();
    expect(stored).toEqual(wanted);
    const show = run("ovn-nbctl", [`--db=unix:${join(dir, "nb.sock")}`, "show"]);
    for (const lr of desired.tables.Logical_Router.values()) expect(show).toContain(lr.name);
    for (const lsp of desired.tables.Logical_Switch_Port.values()) expect(show).toContain(lsp.name);
    const nat = run("ovn-nbctl", [
      `--db=unix:${join(dir, "nb.sock")}`,
      "lr-nat-list",
      names.router(options.clusterId, "acme/web"),
    ]);
    expect(nat).toMatch(/snat .*203\.0\.113\.5 .*10\.1\.0\.0\/24/);
    expect(nat).toMatch(/snat .*203\.0\.113\.5 .*10\.1\.1\.0\/24/);
    const lbs = run("ovn-nbctl", [
      `--db=unix:${join(dir, "nb.sock")}`,
      "lr-lb-list",
      names.router(options.clusterId, "acme/web"),
    ]);
    expect(lbs).toContain("203.0.113.5:8080");
    expect(lbs).toContain("10.1.0.10:80");
  });

  it("ovn-northd processes the rows without warnings, with the port groups' address sets", async () => {
    const nb = `--db=unix:${join(dir, "nb.sock")}`;
    run("ovn-nbctl", [nb, "--timeout=20", "--wait=sb", "sync"], 30_000);
    const log = readFileSync(join(dir, "northd.log"), "utf8");
    const bad = log.split("\n").filter((line) => /\|(WARN|ERR|EMER)\|/.test(line));
    expect(bad).toEqual([]);
    const sets = run("ovn-sbctl", [
      `--db=unix:${join(dir, "sb.sock")}`,
      "--bare",
      "--columns=name",
      "list",
      "Address_Set",
    ]);
    const pg = names.securityGroup(options.clusterId, "acme/web/default");
    expect(sets).toContain(`${pg}_ip4`);
    expect(sets).toContain(`${pg}_ip6`);
    const flows = run("ovn-sbctl", [
      `--db=unix:${join(dir, "sb.sock")}`,
      "--bare",
      "--columns=match",
      "list",
      "Logical_Flow",
    ]);
    for (const acl of desired.tables.ACL.values()) expect(flows).toContain(acl.match);
    const dhcp = desired.tables.DHCP_Options.get(rowKey(kinds.dhcp, "acme/web/default"))!;
    expect(flows).toContain(
      `inport == "${desired.tables.Logical_Switch_Port.get(rowKey(kinds.port, "00000000-0000-4000-8000-000000000001"))!.name}"`,
    );
    expect(dhcp.options.server_mac).toMatch(/^[0-9a-f:]{17}$/);
  });

  it("ovn-trace parses every logical flow (ACL matches are valid OVN syntax)", () => {
    const port = "00000000-0000-4000-8000-000000000002";
    const lsp = desired.tables.Logical_Switch_Port.get(rowKey(kinds.port, port))!;
    const [mac, ip] = lsp.addresses[0]!.split(" ") as [string, string];
    const ls = desired.tables.Logical_Switch.get(rowKey(kinds.switch, "acme/web/default"))!;
    const { stdout, stderr } = runBoth("ovn-trace", [
      `--db=unix:${join(dir, "sb.sock")}`,
      ls.name,
      `inport == "00000000-0000-4000-8000-000000000001" && eth.src == fa:16:3e:00:00:01 && eth.dst == ${mac} && ip4.src == 10.1.0.10 && ip4.dst == ${ip} && ip.ttl == 64 && tcp && tcp.dst == 22`,
    ]);
    expect(stderr).not.toMatch(/pars|error|WARN/i);
    // Allowed at 1002 (+1000 in the logical flow) by a group ACL — "default" lets members talk
    // to each other and "web" allows TCP 22 from "default"; either may be the one hit.
    expect(stdout).toMatch(
      /ls_out_acl .*\(outport == @nv_sg_\w+ && ip4 && ip4\.src == \$nv_sg_\w+_ip4.*\), priority 2002/,
    );
    expect(stdout).toMatch(/output;\s+\/\* output to "[^"]+", type "" \*\/\s*$/);
  });

  it("a port in no security group is default-deny (drop group)", () => {
    const port = "00000000-0000-4000-8000-000000000003";
    const lsp = desired.tables.Logical_Switch_Port.get(rowKey(kinds.port, port))!;
    const [mac, ip] = lsp.addresses[0]!.split(" ") as [string, string];
    const router = desired.tables.Logical_Router_Port.get(rowKey(kinds.routerPort, "acme/web/db"))!;
    const ls = desired.tables.Logical_Switch.get(rowKey(kinds.switch, "acme/web/db"))!;
    const { stdout, stderr } = runBoth("ovn-trace", [
      `--db=unix:${join(dir, "sb.sock")}`,
      ls.name,
      `inport == "${port}" && eth.src == ${mac} && eth.dst == ${router.mac} && ip4.src == ${ip} && ip4.dst == 8.8.8.8 && ip.ttl == 64 && udp && udp.dst == 53`,
    ]);
    expect(stderr).not.toMatch(/pars|error|WARN/i);
    const drop = names.dropGroup(options.clusterId, "acme/web");
    expect(stdout).toMatch(new RegExp(`ls_in_acl .*inport == @${drop} && ip\\)?, priority 2001`));
    expect(stdout).toMatch(/drop;\s*$/);
  });
});
