// Run a local NovaNET cluster (replica OS processes on loopback, auth off) until Ctrl-C.
//   npx tsx cluster/local.ts [--replicas 3|5] [--dir .cluster/local] [--fresh]
import { rmSync } from "node:fs";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { parseArgs } from "node:util";
import { ClusterClient } from "../src/client/index.js";
import { LocalCluster, projectRoot } from "./lib/replica-processes.js";

const { values } = parseArgs({
  options: {
    replicas: { type: "string", default: "3" },
    dir: { type: "string", default: join(projectRoot, ".cluster/local") },
    fresh: { type: "boolean", default: false },
  },
});
const replicas = Number(values.replicas);
if (replicas !== 3 && replicas !== 5) throw new Error("--replicas must be 3 or 5");
if (values.fresh) rmSync(values.dir!, { recursive: true, force: true });

const cluster = await LocalCluster.create({ kind: "novanet", dir: values.dir!, replicas });
cluster.startAll();
const endpoints = cluster.endpoints();
const admin = ClusterClient.connect({ endpoints });

let stopping = false;
const stop = async (code: number) => {
  if (stopping) return;
  stopping = true;
  admin.close();
  await cluster.stopAll();
  process.exit(code);
};
process.on("SIGINT", () => void stop(0));
process.on("SIGTERM", () => void stop(0));

const until = Date.now() + 30_000;
let statuses = await admin.statusAll();
while (Date.now() < until && !statuses.some((s) => s.status?.role === "leader")) {
  if (cluster.replicas.every((r) => !r.running())) break;
  await sleep(200);
  statuses = await admin.statusAll();
}
if (!statuses.some((s) => s.status?.role === "leader")) {
  console.error(`no leader within 30 s; see the logs in ${values.dir}`);
  await stop(1);
}

console.log(
  `NovaNET local cluster: ${replicas} replicas (auth off), data and logs in ${values.dir}`,
);
for (const [i, r] of cluster.replicas.entries()) {
  const s = statuses[i]?.status;
  console.log(
    `  ${r.spec.id}  api ${r.apiAddress}  peer 127.0.0.1:${r.spec.peerPort}  metrics http://127.0.0.1:${r.spec.metricsPort}/metrics  ${String(s?.role ?? "down").padEnd(9)} term ${s?.term ?? "-"}`,
  );
}
console.log(`
Try it:
  export NOVANET_ENDPOINTS=${endpoints.join(",")} NOVANET_ORG=org1 NOVANET_PROJECT=proj1
  npx tsx src/cli/novanetctl.ts vpc create --name main
  npx tsx src/cli/novanetctl.ts port create --subnet org1/proj1/default
  npx tsx src/cli/novanetctl.ts cluster status
  npx tsx examples/plasmavmc-flow.ts
Ctrl-C stops the cluster.`);

// Exit if every replica died.
setInterval(() => {
  if (cluster.replicas.every((r) => !r.running())) {
    console.error("all replicas exited; see the logs in", values.dir);
    void stop(1);
  }
}, 1000);
