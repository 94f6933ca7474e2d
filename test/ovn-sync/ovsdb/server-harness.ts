/**
 * Starts a real ovsdb-server (OVN Northbound schema) in a temp dir for tests.
 * Missing binaries are a hard failure, never a skip.
 */

import { type ChildProcess, execFile, spawn } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import net from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";

const run = promisify(execFile);

export const NB_SCHEMA = "/usr/share/ovn/ovn-nb.ovsschema";
const BINARIES = ["ovsdb-server", "ovsdb-tool", "ovn-nbctl"] as const;

export async function requirePrerequisites(): Promise<void> {
  for (const b of BINARIES) {
    try {
      await run("sh", ["-c", `command -v ${b}`]);
    } catch {
      throw new Error(
        `prerequisite binary ${b} not found in PATH (install openvswitch-common / ovn-central)`,
      );
    }
  }
  if (!existsSync(NB_SCHEMA)) throw new Error(`prerequisite schema ${NB_SCHEMA} missing`);
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const a = s.address();
      const port = typeof a === "object" && a ? a.port : 0;
      s.close(() => resolve(port));
    });
  });
}

function canConnect(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.createConnection({ path });
    s.once("connect", () => {
      s.destroy();
      resolve(true);
    });
    s.once("error", () => resolve(false));
  });
}

export class NbServer {
  readonly dir: string;
  readonly dbPath: string;
  readonly sock: string;
  port = 0;
  private proc: ChildProcess | undefined;

  private constructor() {
    this.dir = mkdtempSync(join(tmpdir(), "novanet-ovsdb-"));
    this.dbPath = join(this.dir, "nb.db");
    this.sock = join(this.dir, "nb.sock");
  }

  static async create(): Promise<NbServer> {
    await requirePrerequisites();
    const s = new NbServer();
    await run("ovsdb-tool", ["create", s.dbPath, NB_SCHEMA]);
    s.port = await freePort();
    await s.start();
    return s;
  }

  get unixRemote(): string {
    return `unix:${this.sock}`;
  }

  get tcpRemote(): string {
    return `tcp:127.0.0.1:${this.port}`;
  }

  async start(): Promise<void> {
    rmSync(this.sock, { force: true });
    const proc = spawn(
      "ovsdb-server",
      [
        `--remote=punix:${this.sock}`,
        `--remote=ptcp:${this.port}:127.0.0.1`,
        `--pidfile=${join(this.dir, "ovsdb-server.pid")}`,
        `--unixctl=${join(this.dir, "ovsdb-server.ctl")}`,
        `--log-file=${join(this.dir, "ovsdb-server.log")}`,
        "--no-chdir",
        this.dbPath,
      ],
      { stdio: ["ignore", "ignore", "pipe"] },
    );
    let stderr = "";
    proc.stderr?.on("data", (d: Buffer) => {
      stderr += d.toString();
    });
    this.proc = proc;
    const deadline = Date.now() + 10_000;
    while (Date.now() < deadline) {
      if (proc.exitCode !== null) throw new Error(`ovsdb-server exited: ${stderr}`);
      if (await canConnect(this.sock)) return;
      await new Promise((r) => setTimeout(r, 20));
    }
    throw new Error(`ovsdb-server did not start: ${stderr}`);
  }

  /** SIGKILL the server and wait for it to exit. */
  async kill(): Promise<void> {
    const p = this.proc;
    this.proc = undefined;
    if (!p || p.exitCode !== null || p.signalCode !== null) return;
    await new Promise<void>((resolve) => {
      p.once("exit", () => resolve());
      p.kill("SIGKILL");
    });
  }

  async nbctl(...args: string[]): Promise<string> {
    const { stdout } = await run("ovn-nbctl", [`--db=${this.unixRemote}`, ...args]);
    return stdout.trim();
  }

  /** Run a transaction directly on the database file (server must be stopped). */
  async offlineTransact(ops: unknown[]): Promise<string> {
    const { stdout } = await run("ovsdb-tool", [
      "transact",
      this.dbPath,
      JSON.stringify(["OVN_Northbound", ...ops]),
    ]);
    return stdout;
  }

  async destroy(): Promise<void> {
    await this.kill();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** Poll until `pred` holds (bounded). */
export async function eventually(
  pred: () => boolean,
  what: string,
  timeoutMs = 5_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!pred()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** A 3-member clustered (Raft) NB database on unix sockets. */
export class NbCluster {
  readonly dir: string;
  private readonly procs = new Map<number, ChildProcess>();

  private constructor() {
    this.dir = mkdtempSync(join(tmpdir(), "novanet-ovsdb-cluster-"));
  }

  static async create(members = 3): Promise<NbCluster> {
    await requirePrerequisites();
    const c = new NbCluster();
    await run("ovsdb-tool", ["create-cluster", c.db(1), NB_SCHEMA, c.raft(1)]);
    for (let i = 2; i <= members; i++) {
      await run("ovsdb-tool", ["join-cluster", c.db(i), "OVN_Northbound", c.raft(i), c.raft(1)]);
    }
    for (let i = 1; i <= members; i++) await c.start(i);
    return c;
  }

  db(i: number): string {
    return join(this.dir, `s${i}.db`);
  }

  raft(i: number): string {
    return `unix:${join(this.dir, `s${i}.raft`)}`;
  }

  sock(i: number): string {
    return join(this.dir, `s${i}.sock`);
  }

  remote(i: number): string {
    return `unix:${this.sock(i)}`;
  }

  async start(i: number): Promise<void> {
    rmSync(this.sock(i), { force: true });
    const proc = spawn(
      "ovsdb-server",
      [
        `--remote=punix:${this.sock(i)}`,
        `--pidfile=${join(this.dir, `s${i}.pid`)}`,
        `--unixctl=${join(this.dir, `s${i}.ctl`)}`,
        `--log-file=${join(this.dir, `s${i}.log`)}`,
        "--no-chdir",
        this.db(i),
      ],
      { stdio: "ignore" },
    );
    this.procs.set(i, proc);
    const deadline = Date.now() + 10_000;
    while (!(await canConnect(this.sock(i)))) {
      if (proc.exitCode !== null || Date.now() > deadline)
        throw new Error(`cluster member ${i} did not start`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  /** "leader", "follower" or "candidate" (from cluster/status). */
  async role(i: number): Promise<string> {
    const { stdout } = await run("ovs-appctl", [
      "-t",
      join(this.dir, `s${i}.ctl`),
      "cluster/status",
      "OVN_Northbound",
    ]);
    return /Role: (\w+)/.exec(stdout)?.[1] ?? "unknown";
  }

  /** Member number of the leader, waiting for an election if needed. */
  async leader(timeoutMs = 10_000): Promise<number> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      for (const i of this.procs.keys()) {
        if ((await this.role(i).catch(() => "")) === "leader") return i;
      }
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error("no cluster leader");
  }

  async kill(i: number): Promise<void> {
    const p = this.procs.get(i);
    this.procs.delete(i);
    if (!p || p.exitCode !== null) return;
    await new Promise<void>((resolve) => {
      p.once("exit", () => resolve());
      p.kill("SIGKILL");
    });
  }

  async destroy(): Promise<void> {
    for (const i of [...this.procs.keys()]) await this.kill(i);
    rmSync(this.dir, { recursive: true, force: true });
  }
}
