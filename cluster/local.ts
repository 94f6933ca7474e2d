// Run a local cluster of replicas as OS processes on loopback until Ctrl-C.
//   npx tsx cluster/local.ts [--replicas 3] [--dir .cluster/local] [--fresh]
import { rmSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { LocalCluster, projectRoot, ReplicaApiClient } from "./lib/replica-processes.js";

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

const cluster = await LocalCluster.create({ dir: values.dir!, replicas });
cluster.startAll();
const client = new ReplicaApiClient(cluster.endpoints());
const leader = await client.waitLeader();
const out = await client.propose(new TextEncoder().encode("hello from cluster/local.ts"));
console.log(`NovaNET local cluster: ${replicas} replicas, data and logs in ${values.dir}`);
for (const r of cluster.replicas) {
  const s = await client.status(r.apiAddress);
  console.log(
    `  ${r.spec.id}  api ${r.apiAddress}  peer 127.0.0.1:${r.spec.peerPort}  ${String(s.role).padEnd(9)} term ${s.term}  applied ${s.applied}`,
  );
}
console.log(
  `leader at ${leader}; a test write committed at index ${out.index}. Ctrl-C stops the cluster.`,
);

let stopping = false;
const stop = async () => {
  if (stopping) return;
  stopping = true;
  client.close();
  await cluster.stopAll();
  process.exit(0);
};
process.on("SIGINT", () => void stop());
process.on("SIGTERM", () => void stop());
// Exit if every replica died.
setInterval(() => {
  if (cluster.replicas.every((r) => !r.running())) {
    console.error("all replicas exited; see the logs in", values.dir);
    process.exit(1);
  }
}, 1000);
