// Three `novanet` replica OS processes on loopback (LevelDB on disk, real gRPC): the PlasmaVMC
// example flow and novanetctl against them, then concurrent CreatePort calls through the client
// library while the leader is killed with SIGKILL — every acknowledged port survives and no IP
// is handed out twice.
import { execFile } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { LocalCluster, projectRoot } from "../../cluster/lib/replica-processes.js";
import { main as novanetctl } from "../../src/cli/novanetctl.js";
import { ClusterClient, NetworkClient } from "../../src/client/index.js";

const run = promisify(execFile);
const dir = mkdtempSync(join(tmpdir(), "novanet-e2e-"));
let cluster: LocalCluster;
let admin: ClusterClient;

beforeAll(async () => {
  cluster = await LocalCluster.create({ kind: "novanet", dir, replicas: 3, tickMs: 50 });
  cluster.startAll();
  admin = ClusterClient.connect({ endpoints: cluster.endpoints() });
  const until = Date.now() + 30_000;
  while (Date.now() < until) {
    const all = await admin.statusAll();
    if (all.some((s) => s.status?.role === "leader") && all.every((s) => s.status)) break;
    await sleep(200);
  }
}, 60_000);

afterAll(async () => {
  admin?.close();
  await cluster?.stopAll();
  if (!process.env.KEEP_TEST_DIRS) rmSync(dir, { recursive: true, force: true });
});

function capture() {
  let text = "";
  return {
    stream: (s: string) => {
      text += s;
    },
    text: () => text,
  };
}

describe("a NovaNET cluster of OS processes", () => {
  it("runs the PlasmaVMC example flow", async () => {
    const { stdout } = await run(
      process.execPath,
      ["--import", "tsx", join(projectRoot, "examples/plasmavmc-flow.ts")],
      {
        cwd: projectRoot,
        env: {
          ...process.env,
          NOVANET_ENDPOINTS: cluster.endpoints().join(","),
          NOVANET_ORG: "acme",
          NOVANET_PROJECT: "web",
        },
        timeout: 60_000,
      },
    );
    expect(stdout).toMatch(/created port .* ip=10\./);
    expect(stdout).toMatch(/attached port .* to vm-123/);
    expect(stdout.trim().split("\n").at(-1)).toBe("done");
  }, 90_000);

  it("answers novanetctl with tables and JSON", async () => {
    const env = { NOVANET_ENDPOINTS: cluster.endpoints().join(",") };
    const out = capture();
    const err = capture();
    const io = { stdout: out.stream, stderr: err.stream, env };
    expect(
      await novanetctl(["--org", "cli", "--project", "p1", "vpc", "create", "--name", "main"], io),
    ).toBe(0);
    expect(out.text()).toMatch(/cli\/p1\s+main\s+10\./);
    const json = capture();
    expect(
      await novanetctl(["--org", "cli", "--project", "p1", "-o", "json", "subnet", "list"], {
        ...io,
        stdout: json.stream,
      }),
    ).toBe(0);
    expect(JSON.stringify(JSON.parse(json.text()))).toContain('"name":"default"');
    const bad = capture();
    expect(
      await novanetctl(
        [
          "--org",
          "cli",
          "--project",
          "p1",
          "port",
          "create",
          "--subnet",
          "cli/p1/default",
          "--ip",
          "8.8.8.8",
        ],
        { ...io, stderr: bad.stream },
      ),
    ).toBe(2);
    expect(bad.text()).toMatch(/IP_OUTSIDE_SUBNET/);
  }, 60_000);

  it("keeps every acknowledged port and hands out no IP twice while the leader is killed", async () => {
    const client = NetworkClient.connect({
      endpoints: cluster.endpoints(),
      orgId: "load",
      projectId: "p1",
      deadlineMs: 30_000,
    });
    try {
      await client.createVpc({ name: "main" });
      const acked: { id: string; ip: string }[] = [];
      const failures: unknown[] = [];
      let stop = false;
      const worker = async () => {
        for (let i = 0; i < 300 && !stop; i++) {
          try {
            const p = await client.createPort({ subnetId: "load/p1/default" });
            acked.push({ id: p.id, ip: p.ipAddress });
          } catch (e) {
            failures.push(e);
          }
        }
      };
      const workers = Array.from({ length: 8 }, worker);
      const waitFor = async (n: number, ms: number) => {
        const until = Date.now() + ms;
        while (acked.length < n && Date.now() < until) await sleep(20);
      };
      await waitFor(50, 20_000);
      const st = await admin.statusAll();
      const leaderId = st.find((s) => s.status?.role === "leader")?.status?.id;
      expect(leaderId).toBeDefined();
      await cluster.byId(leaderId!).kill("SIGKILL");
      const beforeKill = acked.length;
      await waitFor(beforeKill + 100, 30_000);
      stop = true;
      await Promise.all(workers);
      // Writes continued under a new leader.
      expect(acked.length).toBeGreaterThanOrEqual(beforeKill + 100);
      expect(acked.length).toBeGreaterThan(100);
      expect(new Set(acked.map((p) => p.ip)).size).toBe(acked.length);
      const listed = new Map<string, string>();
      for await (const p of client.listAllPorts({})) listed.set(p.id, p.ipAddress);
      for (const p of acked) expect(listed.get(p.id)).toBe(p.ip);
      expect(new Set(listed.values()).size).toBe(listed.size);
      // The client's retries reuse request ids: nothing exists beyond what was attempted.
      expect(listed.size).toBeLessThanOrEqual(acked.length + failures.length);
    } finally {
      client.close();
    }
  }, 120_000);
});
