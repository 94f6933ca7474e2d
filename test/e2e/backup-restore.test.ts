// Backup and restore (issue 6): cluster A (three `novanet` processes, a real NB) is backed up
// through ClusterClient.saveBackup and stopped; `novanet restore` (the real command, one process
// per replica) writes three data dirs of a NEW cluster B from the file; B starts on them with
// ovn.adopt_cluster_ids = A. B has A's resources (same resource digest), answers for every port,
// keeps allocating without reusing an address, and takes over A's NB rows in place.
// A corrupted backup, or B's id equal to A's, is refused and writes nothing.
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import type { ExternalNetwork } from "../../cluster/lib/local-ovn.js";
import { LocalCluster } from "../../cluster/lib/replica-processes.js";
import {
  initialClusterOf,
  restoreArgs,
  restoreReplicaDataDirs,
  runNovanet,
} from "../../cluster/lib/restore-replicas.js";
import {
  type BackupResult,
  ClusterClient,
  NetworkClient,
  type Port,
  Protocol,
  SourceType,
} from "../../src/client/index.js";
import { NbServer, requirePrerequisites } from "../ovn-sync/ovsdb/server-harness.js";

function eventually(check: () => Promise<void>, timeoutMs: number): Promise<void> {
  return vi.waitFor(check, { timeout: timeoutMs, interval: 250 });
}

const dir = mkdtempSync(join(tmpdir(), "novanet-restore-e2e-"));
const idA = "backup-a";
const idB = "backup-b";
const external: ExternalNetwork = {
  cidr: "203.0.113.0/24",
  gateway: "203.0.113.1",
  ipPool: "203.0.113.16-203.0.113.250",
  physicalNetwork: "physnet1",
  gatewayChassis: ["chassis1"],
};
const backupPath = join(dir, "a.snap");

let nb: NbServer;
let a: LocalCluster;
let b: LocalCluster | undefined;
const clients: { close(): void }[] = [];

interface NbRow {
  uuid: string;
  table: string;
  name: string;
  owner: string;
}

const tables = [
  "Logical_Switch",
  "Logical_Switch_Port",
  "Logical_Router",
  "Logical_Router_Port",
  "Logical_Router_Static_Route",
  "Port_Group",
  "ACL",
  "NAT",
  "DHCP_Options",
  "Gateway_Chassis",
  "Load_Balancer",
];

/** Every NB row that carries a NovaNET owner. */
async function novanetRows(): Promise<NbRow[]> {
  const out: NbRow[] = [];
  for (const table of tables) {
    const text = await nb.nbctl("--format=json", "--columns=_uuid,external_ids", "list", table);
    const parsed = JSON.parse(text) as { data: [["uuid", string], ["map", [string, string][]]][] };
    const named =
      table === "Logical_Switch_Port"
        ? (JSON.parse(await nb.nbctl("--format=json", "--columns=_uuid,name", "list", table)) as {
            data: [["uuid", string], string][];
          })
        : undefined;
    const nameOf = new Map(named?.data.map(([[, u], n]) => [u, n]) ?? []);
    for (const [[, uuid], [, ids]] of parsed.data) {
      const owner = ids.find(([k]) => k === "novanet:owner")?.[1];
      if (owner !== undefined) out.push({ uuid, table, name: nameOf.get(uuid) ?? "", owner });
    }
  }
  return out;
}

async function lspUuids(): Promise<Map<string, string>> {
  const rows = await novanetRows();
  return new Map(
    rows.filter((r) => r.table === "Logical_Switch_Port").map((r) => [r.name, r.uuid] as const),
  );
}

async function fenceKeys(): Promise<string> {
  return nb.nbctl("get", "NB_Global", ".", "external_ids");
}

function connect(cluster: LocalCluster): { admin: ClusterClient; net: NetworkClient } {
  const admin = ClusterClient.connect({ endpoints: cluster.endpoints() });
  const net = NetworkClient.connect({
    endpoints: cluster.endpoints(),
    orgId: "org1",
    projectId: "p1",
  });
  clients.push(admin, net);
  return { admin, net };
}

async function leaderStatus(admin: ClusterClient) {
  let found: Awaited<ReturnType<ClusterClient["status"]>> | undefined;
  await eventually(async () => {
    const all = await admin.statusAll({ deadlineMs: 1000 });
    found = all.find((s) => s.status?.role === "leader")?.status;
    expect(found).toBeDefined();
    expect(all.every((s) => s.status !== undefined)).toBe(true);
  }, 30_000);
  return found!;
}

// What A held when it was backed up.
let backup: BackupResult;
let digestA = "";
const portsA: Port[] = [];
let lspA = new Map<string, string>();

beforeAll(async () => {
  await requirePrerequisites();
  nb = await NbServer.create();
  a = await LocalCluster.create({
    kind: "novanet",
    dir: join(dir, "a"),
    replicas: 3,
    tickMs: 50,
    clusterId: idA,
    ovn: { nbRemote: nb.tcpRemote, fullSyncIntervalS: 2, external },
  });
  a.startAll();
  const { admin, net } = connect(a);
  await leaderStatus(admin);
  const vpc = await net.createVpc({ name: "main" });
  const web = await net.createSubnet({ vpcId: vpc.id, name: "web", cidr: "10.0.1.0/24" });
  const sg = await net.createSecurityGroup({
    name: "web-sg",
    ingressRules: [
      {
        id: "http",
        protocol: Protocol.PROTOCOL_TCP,
        portRange: { min: 80, max: 80 },
        sourceType: SourceType.SOURCE_TYPE_CIDR,
        source: "0.0.0.0/0",
      },
    ],
  });
  for (let i = 0; i < 4; i++) {
    portsA.push(
      await net.createPort({
        subnetId: i < 2 ? web.id : `${vpc.id}/default`,
        securityGroupIds: i % 2 === 0 ? [sg.id] : [],
      }),
    );
  }
  // A deleted port: its address must stay free, and B must not bring it back.
  const gone = await net.createPort({ subnetId: web.id });
  await net.deletePort({ portId: gone.id });
  await net.createSnat({});
  await net.createDnat({
    externalPort: 8080,
    internalIp: portsA[0]!.ipAddress,
    internalPort: 80,
    protocol: Protocol.PROTOCOL_TCP,
  });
  // NB has every port before the backup.
  await eventually(async () => {
    const lsps = await lspUuids();
    for (const p of portsA) expect(lsps.get(p.id)).toMatch(/^[0-9a-f-]{36}$/);
    expect(lsps.has(gone.id)).toBe(false);
  }, 30_000);
  lspA = await lspUuids();
  // A new leader's empty entry: Raft's applied index (in the manifest) passes the state's.
  await admin.transferLeadership();
  backup = await admin.saveBackup(backupPath);
  digestA = (await leaderStatus(admin)).resourceDigest;
  await a.stopAll();
}, 120_000);

afterAll(async () => {
  for (const c of clients) c.close();
  await b?.stopAll();
  await a?.stopAll();
  await nb?.destroy();
  if (!process.env.KEEP_TEST_DIRS) rmSync(dir, { recursive: true, force: true });
}, 60_000);

describe("backup and restore into a new cluster", () => {
  it("the backup is a file with a manifest naming A", () => {
    expect(backup.clusterId).toBe(idA);
    expect(backup.bytes).toBeGreaterThan(0);
    const manifest = JSON.parse(readFileSync(`${backupPath}.json`, "utf8")) as { sha256: string };
    expect(manifest.sha256).toBe(backup.sha256);
  });

  it("refuses a corrupted backup, and B's id equal to A's, writing nothing", async () => {
    const bytes = readFileSync(backupPath);
    const corrupt = join(dir, "corrupt.snap");
    const flipped = Buffer.from(bytes);
    const at = Math.floor(flipped.length / 2);
    flipped[at] = (flipped[at] ?? 0) ^ 0xff;
    writeFileSync(corrupt, flipped);
    writeFileSync(`${corrupt}.json`, readFileSync(`${backupPath}.json`));
    const spec = { id: "n1", peerPort: 1, apiPort: 2, metricsPort: 3, dataDir: join(dir, "x1") };
    const members = "n1=127.0.0.1:1";
    const r1 = await runNovanet(restoreArgs(spec, corrupt, idB, members));
    expect(r1.code).toBe(1);
    expect(r1.stderr).toMatch(/sha256 [0-9a-f]+ differs from its manifest.*corrupted/);
    expect(existsSync(spec.dataDir)).toBe(false);
    // Without the manifest the snapshot's own checksum catches it.
    rmSync(`${corrupt}.json`);
    const r2 = await runNovanet(restoreArgs(spec, corrupt, idB, members));
    expect(r2.code).toBe(1);
    expect(r2.stderr).toMatch(
      /not a valid NovaNET snapshot: .*(checksum|undecodable|not a snapshot)/,
    );
    expect(existsSync(spec.dataDir)).toBe(false);
    const r3 = await runNovanet(restoreArgs(spec, backupPath, idA, members));
    expect(r3.code).toBe(1);
    expect(r3.stderr).toMatch(/is the backup's own cluster id/);
    expect(existsSync(spec.dataDir)).toBe(false);
    const r4 = await runNovanet(["restore", `--backup=${backupPath}`]);
    expect(r4.code).toBe(2);
    expect(r4.stderr).toMatch(/--replica.data_dir is required/);
  }, 60_000);

  it("starts B from the backup: same resources, new cluster id, writes continue", async () => {
    b = await LocalCluster.create({
      kind: "novanet",
      dir: join(dir, "b"),
      replicas: 3,
      tickMs: 50,
      clusterId: idB,
      ovn: { nbRemote: nb.tcpRemote, fullSyncIntervalS: 2, external, adoptClusterIds: [idA] },
    });
    const outputs = await restoreReplicaDataDirs(b, backupPath);
    expect(outputs).toHaveLength(3);
    for (const o of outputs) {
      expect(o.stdout).toContain(`resource_digest ${digestA}`);
      const summary = JSON.parse(o.stdout.trim().split("\n").at(-1)!) as {
        backupClusterId: string;
        backupAppliedIndex: number;
      };
      expect(summary.backupClusterId).toBe(idA);
      expect(summary.backupAppliedIndex).toBeLessThan(backup.appliedIndex);
    }
    expect(initialClusterOf(b).split(",")).toHaveLength(3);
    b.startAll();
    const { admin, net } = connect(b);
    const st = await leaderStatus(admin);
    expect(st.clusterId).toBe(idB);
    expect(st.resourceDigest).toBe(digestA);
    // The new log starts after the restored snapshot at index 1.
    expect(Number(st.snapshotIndex)).toBeGreaterThanOrEqual(1);
    expect(Number(st.firstIndex)).toBeGreaterThanOrEqual(2);
    for (const s of await admin.statusAll()) {
      expect(s.status?.clusterId).toBe(idB);
      await eventually(async () => {
        const one = (await admin.statusAll()).find((x) => x.endpoint === s.endpoint)?.status;
        expect(one?.resourceDigest).toBe(digestA);
      }, 10_000);
    }
    for (const p of portsA) {
      const got = await net.getPort({ portId: p.id });
      expect(got.ipAddress).toBe(p.ipAddress);
      expect(got.macAddress).toBe(p.macAddress);
      expect(got.securityGroupIds).toEqual(p.securityGroupIds);
    }
    // IPAM continues: the new port gets an address no restored port holds.
    const fresh = await net.createPort({ subnetId: portsA[0]!.subnetId });
    expect(portsA.map((p) => p.ipAddress)).not.toContain(fresh.ipAddress);
    expect((await leaderStatus(admin)).resourceDigest).not.toBe(digestA);

    // NB converges to B: A's rows taken over in place, none left with A's owner.
    await eventually(async () => {
      const rows = await novanetRows();
      expect(rows.filter((r) => r.owner === idA)).toEqual([]);
      expect(rows.every((r) => r.owner === idB)).toBe(true);
      const lsps = await lspUuids();
      for (const p of portsA) expect(lsps.get(p.id)).toBe(lspA.get(p.id));
      expect(lsps.get(fresh.id)).toMatch(/^[0-9a-f-]{36}$/);
      const fence = await fenceKeys();
      expect(fence).toMatch(new RegExp(`"novanet:${idB}:term"="\\d+"`));
      expect(fence).not.toContain(`novanet:${idA}:term`);
    }, 30_000);
    await eventually(async () => {
      const all = await admin.statusAll();
      expect(all.some((s) => s.status?.ovnSyncState === "in-sync")).toBe(true);
    }, 20_000);
  }, 120_000);
});
