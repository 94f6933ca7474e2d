// The Raft layer alone against etcd: three bare Raft replicas (src/server/bare: the Raft node,
// LevelDB with fsync and a digest state machine, no network model, no API validation) and a
// 3-member etcd, same closed-loop generator, 256-byte values. Tells how much of the CreatePort
// cost (suite "throughput") is replication and how much is the API and state machine above it.
import { join } from "node:path";
import { LocalCluster, ReplicaApiClient } from "../../cluster/lib/replica-processes.js";
import { EtcdCluster } from "../lib/etcd-cluster.js";
import { type LoadResult, runLoad } from "../lib/load.js";
import {
  fmtInt,
  fmtMs,
  fmtRatio,
  type Progress,
  type Suite,
  type SuiteContext,
  type Table,
} from "../lib/report.js";

const valueBytes = 256;
const requestsMax = 200_000;

interface Plan {
  levels: number[];
  durationMs: number;
}

async function levelsOf(
  ctx: SuiteContext,
  plan: Plan,
  label: string,
  op: (worker: number, seq: number) => Promise<unknown>,
): Promise<LoadResult[]> {
  const out: LoadResult[] = [];
  for (const c of plan.levels) {
    out.push(await level(ctx.progress, `${label} c=${c}`, c, plan.durationMs, op));
  }
  return out;
}

function level(
  progress: Progress,
  label: string,
  concurrency: number,
  durationMs: number,
  op: (worker: number, seq: number) => Promise<unknown>,
): Promise<LoadResult> {
  // The bar runs on time: a level ends at its duration (or at requestsMax, whichever is first).
  const started = performance.now();
  progress.start(label, Math.ceil(durationMs / 1000));
  return runLoad({
    concurrency,
    durationMs,
    requestsMax,
    op,
    onProgress: (done) => {
      const s = (performance.now() - started) / 1000;
      progress.update(Math.floor(s), `${fmtInt(done / Math.max(s, 0.001))}/s`);
    },
  }).finally(() => progress.stop());
}

async function benchRaft(ctx: SuiteContext, plan: Plan): Promise<LoadResult[]> {
  const value = Buffer.alloc(valueBytes, 0x61);
  const cluster = await LocalCluster.create({
    kind: "bare",
    dir: join(ctx.dir, "novanet"),
    replicas: 3,
    logLevel: "warn",
    snapshotEntries: 50_000,
  });
  cluster.startAll();
  ctx.onCleanup(() => cluster.stopAll());
  const client = new ReplicaApiClient(cluster.endpoints());
  ctx.onCleanup(() => client.close());
  await client.waitLeader();
  await client.propose(value); // warm the leader route
  return levelsOf(ctx, plan, "bare Raft", () => client.propose(value));
}

async function benchEtcd(ctx: SuiteContext, plan: Plan): Promise<LoadResult[]> {
  const value = Buffer.alloc(valueBytes, 0x61);
  const etcd = await EtcdCluster.start(join(ctx.dir, "etcd"));
  ctx.onCleanup(() => etcd.stop());
  const client = etcd.client();
  ctx.onCleanup(() => client.close());
  return levelsOf(ctx, plan, "etcd Put", async (w, seq) => {
    await client.put(`k/${w}/${seq % 1000}`).value(value);
  });
}

export const suite: Suite = {
  name: "raft",
  title: "Raft layer: bare Raft writes against etcd Put",
  async run(ctx) {
    const plan: Plan = ctx.quick
      ? { levels: [1, 16], durationMs: 1500 }
      : { levels: [1, 16, 64, 256], durationMs: 5000 };
    const raft = await benchRaft(ctx, plan);
    const etcd = await benchEtcd(ctx, plan);
    const table: Table = {
      title: `Bare Raft proposals vs etcd Put, ${valueBytes}-byte values, 3 members, fsync on`,
      columns: [
        "clients",
        "Raft writes/s",
        "p50 ms",
        "p99 ms",
        "p999 ms",
        "etcd Put/s",
        "p50 ms",
        "p99 ms",
        "p999 ms",
        "Raft/etcd",
      ],
      rows: plan.levels.map((c, i) => {
        const r = raft[i]!;
        const e = etcd[i]!;
        return [
          c,
          fmtInt(r.throughput),
          fmtMs(r.p50Ms),
          fmtMs(r.p99Ms),
          fmtMs(r.p999Ms),
          fmtInt(e.throughput),
          fmtMs(e.p50Ms),
          fmtMs(e.p99Ms),
          fmtMs(e.p999Ms),
          fmtRatio(r.throughput / e.throughput),
        ];
      }),
      notes: [
        `Closed loop: each client waits for its acknowledgement before the next write; ${plan.durationMs / 1000} s per level.` +
          ` Raft writes are acknowledged once applied on the leader. Failed requests: Raft ${raft.reduce((s, r) => s + r.errors, 0)}, etcd ${etcd.reduce((s, r) => s + r.errors, 0)}.`,
      ],
    };
    return {
      suite: "raft",
      title: this.title,
      command: "npm run bench -- --only raft",
      tables: [table],
      goals: [],
      charts: [],
      data: { valueBytes, durationMs: plan.durationMs, raft, etcd },
    };
  },
};
