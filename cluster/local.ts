// A local NovaNET cluster: replica OS processes on loopback with LevelDB data directories under
// .cluster/local, auth off (a development cluster), in sync with a real local OVN under
// .cluster/local/ovn (NB/SB ovsdb-servers, ovn-northd and a hypervisor: OVS on the netdev
// datapath + ovn-controller as chassis1, with an external network on br-ex; cluster/lib/local-ovn.ts).
//   npx tsx cluster/local.ts up   [--replicas 3|5] [--base-port 50081] [--fresh] [--foreground]
//                                 [--no-chassis] [--no-ovn] [--restore FILE [--cluster-id NEW]]
//   npx tsx cluster/local.ts down
//   npx tsx cluster/local.ts status
// Ports: client API base+0.., peers base+10.., metrics base+20.. (50081–50083, 50091–50093,
// 50101–50103 by default), OVN NB base+30 and SB base+31 (50111, 50112).
// --restore FILE: the replicas start as a NEW cluster (id --cluster-id, default a fresh one) from a
// backup (`novanetctl cluster backup FILE`): each data dir is written by `novanet restore` (old
// data dirs are moved aside), and the replicas adopt the backup's cluster's OVN rows
// (ovn.adopt_cluster_ids). The new id is kept in <dir>/restored.json for later `up`s.
import { existsSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { parseArgs } from "node:util";
import { ClusterClient } from "../src/client/index.js";
import { LocalOvn } from "./lib/local-ovn.js";
import { LocalCluster, projectRoot } from "./lib/replica-processes.js";
import { readBackupManifest, restoreReplicaDataDirs } from "./lib/restore-replicas.js";

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    replicas: { type: "string", default: process.env.REPLICAS ?? "3" },
    "base-port": { type: "string", default: process.env.NOVANET_BASE_PORT ?? "50081" },
    dir: { type: "string", default: join(projectRoot, ".cluster/local") },
    fresh: { type: "boolean", default: false },
    foreground: { type: "boolean", default: false },
    // Central OVN only (NB, SB, northd): no OVS, no namespaces, no root needed.
    "no-chassis": { type: "boolean", default: false },
    // No OVN at all: the replicas run with ovn.sync_enabled=false.
    "no-ovn": { type: "boolean", default: false },
    // Start a new cluster from a backup file (and its manifest FILE.json).
    restore: { type: "string" },
    "cluster-id": { type: "string" },
  },
});
const dir = values.dir!;
const stateFile = join(dir, "cluster.json");
const ovnDir = join(dir, "ovn");
/** Written by `up --restore`: the restored cluster's id and the ids whose OVN rows it adopts. */
const restoredFile = join(dir, "restored.json");

interface Restored {
  clusterId: string;
  adoptClusterIds: string[];
}

interface ClusterState {
  endpoints: string[];
  pids: Record<string, number>;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

function readState(): ClusterState | undefined {
  if (!existsSync(stateFile)) return undefined;
  return JSON.parse(readFileSync(stateFile, "utf8")) as ClusterState;
}

async function printStatus(endpoints: string[]): Promise<boolean> {
  const admin = ClusterClient.connect({ endpoints, deadlineMs: 2000 });
  try {
    const all = await admin.statusAll();
    for (const s of all) {
      const st = s.status;
      console.log(
        `  ${s.endpoint.padEnd(16)} ${st ? `${st.id.padEnd(3)} ${st.role.padEnd(9)} term ${st.term}  applied ${st.appliedIndex}` : `down (${s.error?.message ?? "no answer"})`}`,
      );
    }
    return all.some((s) => s.status?.role === "leader");
  } finally {
    admin.close();
  }
}

async function up(): Promise<number> {
  const prior = readState();
  if (prior && Object.values(prior.pids).some(alive)) {
    console.error(
      `a local cluster is already running (${stateFile}); stop it with: bash cluster/down.sh`,
    );
    return 1;
  }
  const replicas = Number(values.replicas);
  if (replicas !== 3 && replicas !== 5) throw new Error("--replicas must be 3 or 5");
  const basePort = Number(values["base-port"]);
  if (values["cluster-id"] !== undefined && values.restore === undefined) {
    console.error("--cluster-id goes with --restore (a new cluster from a backup)");
    return 1;
  }
  let backupClusterId: string | undefined;
  if (values.restore !== undefined) {
    if (!existsSync(values.restore)) {
      console.error(`--restore: no such file ${values.restore}`);
      return 1;
    }
    backupClusterId = readBackupManifest(values.restore)?.clusterId;
    if (backupClusterId === undefined) {
      console.error(`--restore: no manifest ${values.restore}.json: OVN rows will not be adopted`);
    }
  }
  // An OVN left over from a cluster whose replicas are gone: stop it, then start afresh.
  await LocalOvn.attach(ovnDir)?.stop();
  if (values.fresh) rmSync(dir, { recursive: true, force: true });
  let restored = existsSync(restoredFile)
    ? (JSON.parse(readFileSync(restoredFile, "utf8")) as Restored)
    : undefined;
  if (values.restore !== undefined) {
    const clusterId = values["cluster-id"] ?? `novanet-local-${Date.now().toString(36)}`;
    if (clusterId === backupClusterId) {
      console.error(
        `--cluster-id ${clusterId} is the backup's own id: a restore starts a NEW cluster`,
      );
      return 1;
    }
    restored = { clusterId, adoptClusterIds: backupClusterId ? [backupClusterId] : [] };
  }
  let ovn: LocalOvn | undefined;
  if (!values["no-ovn"]) {
    try {
      ovn = await LocalOvn.start({
        dir: ovnDir,
        nbPort: basePort + 30,
        sbPort: basePort + 31,
        chassis: !values["no-chassis"],
      });
    } catch (err) {
      console.error(
        `${(err as Error).message}\n(start without the hypervisor: --no-chassis; without OVN: --no-ovn)`,
      );
      return 1;
    }
  }
  const cluster = await LocalCluster.create({
    kind: "novanet",
    dir,
    replicas,
    basePort,
    ...(restored ? { clusterId: restored.clusterId } : {}),
    ...(ovn
      ? {
          ovn: {
            nbRemote: ovn.nbRemote,
            sbRemote: ovn.sbRemote,
            external: ovn.externalNetwork,
            ...(restored ? { adoptClusterIds: restored.adoptClusterIds } : {}),
          },
        }
      : {}),
  });
  if (values.restore !== undefined && restored !== undefined) {
    // The old replicas' data is kept, out of the way.
    const aside = `before-restore-${Date.now().toString(36)}`;
    for (const r of cluster.replicas) {
      if (existsSync(r.spec.dataDir)) renameSync(r.spec.dataDir, `${r.spec.dataDir}.${aside}`);
    }
    try {
      await restoreReplicaDataDirs(cluster, resolve(values.restore));
    } catch (err) {
      console.error((err as Error).message);
      return 1;
    }
    writeFileSync(restoredFile, `${JSON.stringify(restored, null, 2)}\n`);
    console.log(
      `restored ${values.restore} into ${replicas} data dirs: new cluster ${restored.clusterId}${backupClusterId ? ` (adopting the OVN rows of ${backupClusterId})` : ""}`,
    );
  }
  for (const r of cluster.replicas) r.start({ detached: !values.foreground });
  const endpoints = cluster.endpoints();
  const pids = Object.fromEntries(cluster.replicas.map((r) => [r.spec.id, r.child?.pid ?? 0]));
  writeFileSync(
    stateFile,
    `${JSON.stringify({ endpoints, pids } satisfies ClusterState, null, 2)}\n`,
  );

  const until = Date.now() + 30_000;
  let ok = false;
  while (Date.now() < until && !ok) {
    await sleep(300);
    const admin = ClusterClient.connect({ endpoints, deadlineMs: 1000 });
    const all = await admin.statusAll();
    admin.close();
    ok = all.some((s) => s.status?.role === "leader") && all.every((s) => s.status);
  }
  console.log(`NovaNET local cluster: ${replicas} replicas (auth off), data and logs in ${dir}`);
  await printStatus(endpoints);
  if (ovn) printOvn(ovn);
  if (!ok) {
    console.error(`the cluster did not come up within 30 s; see the logs in ${dir}`);
    return 1;
  }
  console.log(`
endpoints: ${endpoints.join(",")}
metrics:   ${cluster.replicas.map((r) => `http://127.0.0.1:${r.spec.metricsPort}/metrics`).join(" ")}

Try it:
  export NOVANET_ENDPOINTS=${endpoints.join(",")} NOVANET_ORG=org1 NOVANET_PROJECT=proj1
  npm run --silent novanetctl -- vpc create --name main
  npm run --silent novanetctl -- port create --subnet org1/proj1/default
  npm run --silent novanetctl -- cluster status
  npx tsx examples/plasmavmc-flow.ts
Stop it with: bash cluster/down.sh`);
  if (!values.foreground) return 0;
  await new Promise<void>((resolve) => {
    process.once("SIGINT", () => resolve());
    process.once("SIGTERM", () => resolve());
  });
  return down();
}

function printOvn(ovn: LocalOvn): void {
  const s = ovn.status();
  console.log(`OVN (${s.running ? "running" : "NOT running"}), files and logs in ${s.dir}:`);
  console.log(`  NB ${s.nbRemote} (unix:${s.nbSocket})   SB ${s.sbRemote}`);
  for (const d of s.daemons) {
    console.log(`  ${d.name.padEnd(30)} ${d.running ? `pid ${d.pid}` : "down"}`);
  }
  if (s.chassis && s.externalNetwork) {
    const e = s.externalNetwork;
    console.log(
      `  chassis ${e.gatewayChassis.join(",")}: br-int and br-ex (${e.physicalNetwork}) in namespace ${s.hypervisorNetns}`,
    );
    console.log(
      `  external network ${e.cidr} (test-only), gateway ${e.gateway} in namespace ${s.externalNetns}, NAT pool ${e.ipPool}`,
    );
  }
}

async function stopOvn(): Promise<void> {
  const ovn = LocalOvn.attach(ovnDir);
  if (!ovn) return;
  await ovn.stop();
  console.log("local OVN stopped (Northbound DB kept in", ovnDir, ")");
}

async function down(): Promise<number> {
  const state = readState();
  if (!state) {
    await stopOvn();
    console.log("no local cluster state found; nothing to stop");
    return 0;
  }
  for (const pid of Object.values(state.pids)) if (alive(pid)) process.kill(pid, "SIGTERM");
  const until = Date.now() + 10_000;
  while (Date.now() < until && Object.values(state.pids).some(alive)) await sleep(100);
  for (const [id, pid] of Object.entries(state.pids)) {
    if (alive(pid)) {
      console.error(`${id} (pid ${pid}) did not stop in 10 s; killing it`);
      process.kill(pid, "SIGKILL");
    }
  }
  rmSync(stateFile, { force: true });
  await stopOvn();
  console.log("local cluster stopped (data kept in", dir, "; `up --fresh` starts over)");
  return 0;
}

async function status(): Promise<number> {
  const state = readState();
  const ovn = LocalOvn.attach(ovnDir);
  if (!state) {
    console.log("no local cluster is running");
    if (ovn?.pids().length) printOvn(ovn);
    return 1;
  }
  const leader = await printStatus(state.endpoints);
  if (ovn) printOvn(ovn);
  return leader && (ovn === undefined || ovn.running()) ? 0 : 1;
}

const command = positionals[0] ?? "up";
const run = { up, down, status }[command];
if (!run) {
  console.error(`usage: cluster/local.ts up|down|status [flags]`);
  process.exit(1);
}
process.exit(await run());
