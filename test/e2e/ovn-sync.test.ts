// Three `novanet` replica processes keep a real OVN Northbound ovsdb-server in sync: the leader
// fences NB with its term and writes it; /ready, the metrics and GetPort report the sync; NB
// going away never blocks writes, and the sync catches up when it returns; a leader killed with
// SIGKILL is replaced by one that takes the fence with a newer term and keeps going.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { LocalCluster, type ReplicaProcess } from "../../cluster/lib/replica-processes.js";
import { ClusterClient, NetworkClient } from "../../src/client/index.js";
import { NbServer, requirePrerequisites } from "../ovn-sync/ovsdb/server-harness.js";

/** Retries an async assertion until it holds (bounded). */
function eventually(check: () => Promise<void>, timeoutMs: number): Promise<void> {
  return vi.waitFor(check, { timeout: timeoutMs, interval: 200 });
}

const dir = mkdtempSync(join(tmpdir(), "novanet-ovn-e2e-"));
const clusterId = "ovn-e2e";
let nb: NbServer;
let cluster: LocalCluster;
let admin: ClusterClient;
let net: NetworkClient;

interface Ready {
  ready: boolean;
  reason: string;
  ovn?: {
    phase: string;
    connected: boolean;
    term: number;
    appliedIndex: number;
    syncedIndex: number;
  };
}

async function ready(r: ReplicaProcess): Promise<{ status: number; body: Ready }> {
  const res = await fetch(`http://127.0.0.1:${r.spec.metricsPort}/ready`);
  return { status: res.status, body: (await res.json()) as Ready };
}

async function metric(r: ReplicaProcess, name: string): Promise<number | undefined> {
  const text = await (await fetch(`http://127.0.0.1:${r.spec.metricsPort}/metrics`)).text();
  const line = text.split("\n").find((l) => l.startsWith(`${name} `) || l.startsWith(`${name}{`));
  return line === undefined ? undefined : Number(line.slice(line.lastIndexOf(" ") + 1));
}

async function leader(): Promise<{ replica: ReplicaProcess; term: number }> {
  let found: { replica: ReplicaProcess; term: number } | undefined;
  await eventually(async () => {
    for (const s of await admin.statusAll({ deadlineMs: 1000 })) {
      if (s.status?.role !== "leader") continue;
      const r = cluster.replicas.find((x) => x.apiAddress === s.endpoint && x.running());
      if (r) found = { replica: r, term: Number(s.status.term) };
    }
    expect(found).toBeDefined();
  }, 30_000);
  return found!;
}

async function lspUuid(name: string): Promise<string> {
  return (
    await nb.nbctl("--bare", "--columns=_uuid", "find", "Logical_Switch_Port", `name=${name}`)
  ).trim();
}

async function fenceTerm(): Promise<string> {
  return (
    await nb.nbctl(
      "--if-exists",
      "get",
      "NB_Global",
      ".",
      `external_ids:"novanet:${clusterId}:term"`,
    )
  )
    .trim()
    .replace(/"/g, "");
}

beforeAll(async () => {
  await requirePrerequisites();
  nb = await NbServer.create();
  cluster = await LocalCluster.create({
    kind: "novanet",
    dir,
    replicas: 3,
    tickMs: 50,
    clusterId,
    ovn: { nbRemote: nb.tcpRemote, fullSyncIntervalS: 2 },
  });
  cluster.startAll();
  admin = ClusterClient.connect({ endpoints: cluster.endpoints() });
  net = NetworkClient.connect({ endpoints: cluster.endpoints(), orgId: "org1", projectId: "p1" });
}, 60_000);

afterAll(async () => {
  net?.close();
  admin?.close();
  await cluster?.stopAll();
  await nb?.destroy();
  if (!process.env.KEEP_TEST_DIRS) rmSync(dir, { recursive: true, force: true });
}, 60_000);

describe("the OVN sync of a NovaNET cluster", () => {
  it("fences NB with the leader's term and reports the sync on /ready, metrics and GetPort", async () => {
    const { replica: lead, term } = await leader();
    await eventually(async () => expect(await fenceTerm()).toBe(String(term)), 20_000);

    const vpc = await net.createVpc({ name: "main" });
    const port = await net.createPort({ subnetId: `${vpc.id}/default` });
    await eventually(async () => expect(await lspUuid(port.id)).toMatch(/^[0-9a-f-]{36}$/), 20_000);
    const uuid = await lspUuid(port.id);
    // Every replica reports the logical port's uuid (followers watch NB without writing it).
    for (const endpoint of cluster.endpoints()) {
      const one = NetworkClient.connect({ endpoints: [endpoint], orgId: "org1", projectId: "p1" });
      try {
        await eventually(async () => {
          const p = await one.getPort({ portId: port.id });
          expect(p.ovnPortUuid).toBe(uuid);
          expect(p.up).toBe(false); // no hypervisor binds it here
        }, 10_000);
      } finally {
        one.close();
      }
    }

    await eventually(async () => {
      const r = await ready(lead);
      expect(r.status).toBe(200);
      expect(r.body.ovn?.phase).toBe("in-sync");
      expect(r.body.ovn?.term).toBe(term);
      expect(r.body.ovn?.syncedIndex).toBe(r.body.ovn?.appliedIndex);
    }, 20_000);
    for (const f of cluster.replicas.filter((r) => r !== lead)) {
      const r = await ready(f);
      expect(r.status).toBe(200);
      expect(r.body.ovn?.phase).toBe("follower");
      expect(r.body.ovn?.connected).toBe(true);
    }
    // ClusterService.GetStatus carries the same phase and synced index.
    const statuses = await admin.statusAll({ deadlineMs: 2000 });
    const mine = statuses.find((x) => x.endpoint === lead.apiAddress)?.status;
    expect(mine?.ovnSyncState).toBe("in-sync");
    expect(Number(mine?.ovnSyncedIndex)).toBeGreaterThan(0);
    // Caught up, the synced index is the applied index, even when the last entries (the leader's
    // no-op, session registrations) changed nothing in NB.
    expect(Number(mine?.ovnSyncedIndex)).toBe(Number(mine?.appliedIndex));
    for (const x of statuses.filter((x) => x.endpoint !== lead.apiAddress)) {
      expect(x.status?.ovnSyncState).toBe("follower");
    }
    expect(await metric(lead, "novanet_ovn_sync_lag_entries")).toBe(0);
    expect(await metric(lead, "novanet_ovn_connected")).toBe(1);
    expect(await metric(lead, "novanet_ovn_fence_term")).toBe(term);
    expect(
      await metric(lead, 'overlay_network_ovn_operations_duration_seconds_count{result="ok"}'),
    ).toBeGreaterThan(0);
  }, 90_000);

  it("keeps accepting writes while NB is down and catches up when it returns", async () => {
    const { replica: lead } = await leader();
    await nb.kill();
    const down = await net.createPort({ subnetId: "org1/p1/default" });
    expect(down.ipAddress).toMatch(/^10\./);
    await eventually(async () => {
      const r = await ready(lead);
      expect(r.status).toBe(503);
      expect(r.body.reason).toBe("OVN Northbound not connected");
      expect(r.body.ovn?.connected).toBe(false);
    }, 15_000);
    const lag = await metric(lead, "novanet_ovn_sync_lag_entries");
    expect(lag).toBeGreaterThan(0);
    // A few more writes while NB is away: none of them waits for OVN.
    const started = Date.now();
    const more = [];
    for (let i = 0; i < 5; i++) more.push(await net.createPort({ subnetId: "org1/p1/default" }));
    expect(Date.now() - started).toBeLessThan(10_000);

    await nb.start();
    for (const p of [down, ...more]) {
      await eventually(async () => expect(await lspUuid(p.id)).not.toBe(""), 30_000);
    }
    await eventually(async () => {
      expect((await ready(lead)).status).toBe(200);
      expect(await metric(lead, "novanet_ovn_sync_lag_entries")).toBe(0);
    }, 20_000);
  }, 120_000);

  it("repairs drift: a port deleted by hand in NB comes back, a row of a deleted port goes", async () => {
    const port = await net.createPort({ subnetId: "org1/p1/default" });
    await eventually(async () => expect(await lspUuid(port.id)).not.toBe(""), 20_000);
    const switchName = (
      await nb.nbctl(
        "--bare",
        "--columns=name",
        "find",
        "Logical_Switch",
        `ports{>=}${await lspUuid(port.id)}`,
      )
    ).trim();
    expect(switchName).not.toBe("");
    await nb.nbctl("lsp-del", port.id);
    expect(await lspUuid(port.id)).toBe("");
    // The periodic full pass (every 2 s here) puts it back.
    await eventually(async () => expect(await lspUuid(port.id)).not.toBe(""), 20_000);

    await net.deletePort({ portId: port.id });
    await eventually(async () => expect(await lspUuid(port.id)).toBe(""), 20_000);
  }, 60_000);

  it("a new leader after SIGKILL takes the fence with a newer term and syncs new writes", async () => {
    const { replica: old, term } = await leader();
    await old.kill("SIGKILL");
    const { term: newTerm } = await leader();
    expect(newTerm).toBeGreaterThan(term);
    await eventually(async () => expect(Number(await fenceTerm())).toBe(newTerm), 30_000);
    const before = await nb.nbctl("--bare", "--columns=name", "list", "Logical_Switch_Port");
    const port = await net.createPort({ subnetId: "org1/p1/default" });
    await eventually(async () => expect(await lspUuid(port.id)).not.toBe(""), 20_000);
    // Nothing that existed was torn down by the hand-over.
    const after = await nb.nbctl("--bare", "--columns=name", "list", "Logical_Switch_Port");
    for (const name of before.split(/\s+/).filter((n) => n !== "")) expect(after).toContain(name);
    old.start();
    await sleep(500);
  }, 90_000);
});
