import { execFile, spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import net from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { NB_DATABASE, OvsdbClient, selectOp } from "../../../src/ovn-sync/ovsdb/index.js";
import { freePort, NB_SCHEMA, requirePrerequisites } from "./server-harness.js";

const run = promisify(execFile);
let dir: string;
let port: number;
let proc: ReturnType<typeof spawn> | undefined;

async function cert(name: string, ca?: string): Promise<void> {
  const key = join(dir, `${name}.key`);
  const crt = join(dir, `${name}.crt`);
  if (!ca) {
    await run("openssl", [
      "req",
      "-x509",
      "-newkey",
      "rsa:2048",
      "-nodes",
      "-keyout",
      key,
      "-out",
      crt,
      "-days",
      "1",
      "-subj",
      `/CN=${name}`,
    ]);
    return;
  }
  const csr = join(dir, `${name}.csr`);
  await run("openssl", [
    "req",
    "-newkey",
    "rsa:2048",
    "-nodes",
    "-keyout",
    key,
    "-out",
    csr,
    "-subj",
    `/CN=${name}`,
  ]);
  await run("openssl", [
    "x509",
    "-req",
    "-in",
    csr,
    "-CA",
    join(dir, `${ca}.crt`),
    "-CAkey",
    join(dir, `${ca}.key`),
    "-CAcreateserial",
    "-out",
    crt,
    "-days",
    "1",
  ]);
}

beforeAll(async () => {
  await requirePrerequisites();
  dir = mkdtempSync(join(tmpdir(), "novanet-ovsdb-ssl-"));
  await cert("ca");
  await cert("server", "ca");
  await cert("client", "ca");
  const db = join(dir, "nb.db");
  await run("ovsdb-tool", ["create", db, NB_SCHEMA]);
  port = await freePort();
  proc = spawn(
    "ovsdb-server",
    [
      `--remote=pssl:${port}:127.0.0.1`,
      `--private-key=${join(dir, "server.key")}`,
      `--certificate=${join(dir, "server.crt")}`,
      `--ca-cert=${join(dir, "ca.crt")}`,
      `--unixctl=${join(dir, "ctl")}`,
      `--log-file=${join(dir, "log")}`,
      "--no-chdir",
      db,
    ],
    { stdio: "ignore" },
  );
  const deadline = Date.now() + 10_000;
  for (;;) {
    const ok = await new Promise<boolean>((r) => {
      const s = net.createConnection({ host: "127.0.0.1", port }, () => {
        s.destroy();
        r(true);
      });
      s.once("error", () => r(false));
    });
    if (ok) break;
    if (Date.now() > deadline || proc.exitCode !== null)
      throw new Error("ovsdb-server (ssl) did not start");
    await new Promise((r) => setTimeout(r, 20));
  }
});

afterAll(() => {
  proc?.kill("SIGKILL");
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe("ssl remote", () => {
  it("connects with a CA, client certificate and key", async () => {
    const c = new OvsdbClient({
      remotes: [`ssl:127.0.0.1:${port}`],
      tls: {
        ca: readFileSync(join(dir, "ca.crt")),
        cert: readFileSync(join(dir, "client.crt")),
        key: readFileSync(join(dir, "client.key")),
      },
    });
    c.start();
    try {
      await c.whenConnected(10_000);
      const r = await c.transact(NB_DATABASE, [selectOp("Logical_Switch", [])]);
      expect(r[0]?.rows).toEqual([]);
    } finally {
      c.close();
    }
  });

  it("refuses a server whose certificate is not signed by the given CA", async () => {
    const c = new OvsdbClient({
      remotes: [`ssl:127.0.0.1:${port}`],
      tls: { ca: readFileSync(join(dir, "client.crt")) },
    });
    const failed = new Promise<Error>((r) => c.once("connectFailed", (f) => r(f.error)));
    c.start();
    try {
      expect((await failed).message).toMatch(/certificate/i);
      expect(c.connected).toBe(false);
    } finally {
      c.close();
    }
  });
});
