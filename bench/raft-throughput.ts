// Raft write throughput and latency: NovaNET's 3 replicas against a 3-member etcd (Debian's
// etcd-server) on the same machine, same load generator, fsync on in both.
//   npm run bench:raft -- [--concurrency 1,16,64,256] [--seconds 5] [--value-bytes 256]
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { LocalCluster, projectRoot, ReplicaApiClient } from "../cluster/lib/replica-processes.js";
import { EtcdCluster } from "./lib/etcd-cluster.js";
import { type LoadResult, runLoad } from "./lib/load.js";

const { values } = parseArgs({
  options: {
    concurrency: { type: "string", default: "1,16,64,256" },
    seconds: { type: "string", default: "5" },
    "value-bytes": { type: "string", default: "256" },
    "requests-max": { type: "string", default: "200000" },
  },
});
const levels = values.concurrency!.split(",").map(Number);
const durationMs = Number(values.seconds) * 1000;
const valueBytes = Number(values["value-bytes"]);
const requestsMax = Number(values["requests-max"]);
const value = Buffer.alloc(valueBytes, 0x61);

const dir = mkdtempSync(join(tmpdir(), "novanet-bench-raft-"));
const progress = (label: string, c: number) => (done: number) =>
  process.stdout.write(`\r  ${label.padEnd(8)} c=${String(c).padStart(3)}  ${done} requests`);

async function benchNovanet(): Promise<LoadResult[]> {
  const cluster = await LocalCluster.create({
    kind: "bare",
    dir: join(dir, "novanet"),
    replicas: 3,
    logLevel: "warn",
    snapshotEntries: 50_000,
  });
  cluster.startAll();
  const client = new ReplicaApiClient(cluster.endpoints());
  try {
    await client.waitLeader();
    await client.propose(value); // warm the leader route
    const out: LoadResult[] = [];
    for (const c of levels) {
      out.push(
        await runLoad({
          concurrency: c,
          durationMs,
          requestsMax,
          op: () => client.propose(value),
          onProgress: progress("novanet", c),
        }),
      );
      process.stdout.write("\n");
    }
    return out;
  } finally {
    client.close();
    await cluster.stopAll();
  }
}

async function benchEtcd(): Promise<LoadResult[]> {
  const etcd = await EtcdCluster.start(join(dir, "etcd"));
  const client = etcd.client();
  try {
    const out: LoadResult[] = [];
    for (const c of levels) {
      out.push(
        await runLoad({
          concurrency: c,
          durationMs,
          requestsMax,
          op: async (w, seq) => {
            await client.put(`k/${w}/${seq % 1000}`).value(value);
          },
          onProgress: progress("etcd", c),
        }),
      );
      process.stdout.write("\n");
    }
    return out;
  } finally {
    client.close();
    await etcd.stop();
  }
}

try {
  console.log(
    `Raft write benchmark: ${valueBytes}-byte writes, ${values.seconds}s per level, fsync on`,
  );
  const novanet = await benchNovanet();
  const etcd = await benchEtcd();
  const rows = levels.map((c, i) => ({ c, n: novanet[i]!, e: etcd[i]! }));
  const f = (x: number) => x.toFixed(1);
  console.log(
    "\nclients | NovaNET writes/s  p50 ms  p99 ms  p999 ms | etcd Put/s  p50 ms  p99 ms | ratio",
  );
  for (const { c, n, e } of rows) {
    console.log(
      `${String(c).padStart(7)} | ${f(n.throughput).padStart(16)} ${f(n.p50Ms).padStart(7)} ${f(n.p99Ms).padStart(7)} ${f(n.p999Ms).padStart(8)} | ${f(e.throughput).padStart(10)} ${f(e.p50Ms).padStart(7)} ${f(e.p99Ms).padStart(7)} | ${(n.throughput / e.throughput).toFixed(2)}x`,
    );
  }
  const errors = rows.reduce((s, r) => s + r.n.errors + r.e.errors, 0);
  if (errors > 0) console.log(`(${errors} failed requests in total)`);
  const resultsDir = join(projectRoot, "bench/results");
  mkdirSync(resultsDir, { recursive: true });
  const file = join(resultsDir, "raft-throughput.json");
  writeFileSync(
    file,
    `${JSON.stringify({ date: new Date().toISOString(), valueBytes, durationMs, novanet, etcd }, null, 2)}\n`,
  );
  console.log(`results saved to ${file}`);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
