// Scale (issue 8 point 5): with 100k and 1M ports — replica memory (RSS), snapshot size, snapshot
// install time, restart-to-ready time. Goal: restart to ready with 1M ports ≤ 30 s.
//
// Per size: the state is built in a child process (bench/lib/scale-build.ts: commands applied to
// a NetworkStateMachine, no Raft) and written as a backup file with its manifest; the real
// `novanet restore` writes 3 data dirs of a new cluster (run in parallel, one per replica); the 3
// real replica processes start (API only, no OVN) and are timed to /ready and to a linearizable
// read; the port count is checked on every replica (/metrics overlay_network_ports_total), a
// ListPorts of one tenant is paged through, and one follower's GetStatus resource digest is
// compared with the built state's. Then: a few hundred CreatePorts; a 4th replica added as a
// learner, timed until it has applied the leader's commit index (InstallSnapshot: the restored
// log starts after the snapshot); a follower stopped (SIGTERM) and restarted; the leader killed
// (SIGKILL) and restarted — both timed from spawn to /ready; last, one more follower restart
// under --cpu-prof (bench/lib/scale-profile.ts) says where a restart's time goes.
//
// Progress is watched through /ready and /metrics (commit/applied index), not GetStatus: GetStatus
// computes two full-state digests once per applied entry (src/statemachine/machine.ts), seconds
// at 1M ports, which would block the replica being watched while entries are applied.
import { spawn } from "node:child_process";
import { mkdirSync, readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import {
  LocalCluster,
  projectRoot,
  type ReplicaProcess,
} from "../../cluster/lib/replica-processes.js";
import { initialClusterOf, restoreArgs, runNovanet } from "../../cluster/lib/restore-replicas.js";
import { ClusterClient, NetworkClient } from "../../src/client/index.js";
import {
  type Chart,
  fmtBytes,
  fmtInt,
  fmtMs,
  type Goal,
  lineChart,
  pidRssBytes,
  type Suite,
  type SuiteContext,
  type SuiteResult,
  type Table,
} from "../lib/report.js";
import type { BuildResult } from "../lib/scale-build.js";
import { mainThreadProfile, type ProfileSummary } from "../lib/scale-profile.js";

const clusterId = "scale";
const goalMs = 30_000;
/** CreatePorts after the restored cluster is ready (RSS growth, and a log to replay on restart). */
const writesN = 300;

interface SizeResult {
  ports: number;
  build: BuildResult;
  /** Wall time of `novanet restore`, per replica (run in parallel). */
  restoreMs: number[];
  dataDirBytes: number;
  /** Spawn of all 3 → each replica's /ready 200. */
  startReadyMs: number[];
  /** Spawn → a leader in /metrics. */
  startLeaderMs: number;
  /** Spawn → a linearizable ListPorts answered (asked once a leader shows). */
  startReadMs: number;
  rssReady: number[];
  portsOnReplicas: number[];
  listedFirstTenant: number;
  listMs: number;
  /** One follower's GetStatus: resource digest and how long the call took. */
  digestMatch: boolean;
  getStatusMs: number;
  writes: number;
  writeErrors: number;
  writesMs: number;
  rssAfterWrites: number[];
  learner: {
    installMs: number;
    /** addLearner → the learner's /ready 200 (it knows the leader and applied what it knows). */
    readyMs: number;
    rss: number;
    /** Highest RSS sampled (every 100 ms) during the install: learner and leader. */
    peakRss: number;
    leaderPeakRss: number;
    dataDirBytes: number;
    ports: number;
  };
  followerRestart: { id: string; stopMs: number; readyMs: number; rss: number };
  leaderRestart: {
    id: string;
    readyMs: number;
    rss: number;
    /** Highest RSS sampled while it restarted. */
    peakRss: number;
    newLeaderMs: number;
  };
  /** A further follower restart under --cpu-prof: where the time goes. */
  profiled: { readyMs: number; profile: ProfileSummary | undefined };
}

export const suite: Suite = {
  name: "scale",
  title: "Scale: memory, snapshot size, snapshot install and restart with 100k and 1M ports",
  async run(ctx) {
    const sizes = ctx.quick ? [10_000, 50_000] : [100_000, 1_000_000];
    const results: SizeResult[] = [];
    for (const ports of sizes) results.push(await runSize(ctx, ports));
    return report(ctx, results);
  },
};

// ---- one size ----------------------------------------------------------------------------------

/** A bound scaled by size: `perTenThousandMs` per 10k ports, at least 60 s (about 2× what a loaded 2-core machine needed). */
function boundMs(ports: number, perTenThousandMs = 1_000): number {
  return Math.max(60_000, Math.ceil(ports / 10_000) * perTenThousandMs);
}

async function runSize(ctx: SuiteContext, ports: number): Promise<SizeResult> {
  const dir = join(ctx.dir, `p${ports}`);
  const label = fmtPorts(ports);
  const backup = join(ctx.dir, `backup-${ports}.bin`);

  // 1. State, snapshot, backup file.
  const build = await buildBackup(ctx, ports, backup);
  ctx.progress.log(
    `  ${label}: built ${fmtInt(build.ports)} ports in ${fmtMs(build.buildMs)} ms, snapshot ${fmtBytes(build.snapshotBytes)}`,
  );

  // 2. `novanet restore` into 3 data dirs of a new cluster (the backup's id is scale-build).
  const cluster = await LocalCluster.create({
    kind: "novanet",
    dir,
    replicas: 3,
    clusterId,
    logLevel: "warn",
  });
  ctx.onCleanup(() => cluster.stopAll());
  const initial = initialClusterOf(cluster);
  ctx.progress.start(`${label}: novanet restore ×3`, 3);
  let restored = 0;
  const restoreMs = await Promise.all(
    cluster.replicas.map(async (r) => {
      const t = performance.now();
      const out = await withTimeout(
        runNovanet(restoreArgs(r.spec, backup, clusterId, initial)),
        boundMs(ports, 10_000),
        `novanet restore ${r.spec.id}`,
      );
      if (out.code !== 0) {
        throw new Error(`novanet restore ${r.spec.id} exited ${out.code}: ${out.stderr.trim()}`);
      }
      ctx.progress.update(++restored);
      return performance.now() - t;
    }),
  );
  ctx.progress.stop();

  // 3. Start the restored cluster: spawn → /ready, → a linearizable read.
  const t0 = performance.now();
  cluster.startAll();
  const readyBound = boundMs(ports, 3_000);
  const readyP = cluster.replicas.map((r) => waitReady(r, readyBound).then((at) => at - t0));
  const client = NetworkClient.connect({
    endpoints: cluster.endpoints(),
    orgId: "org0",
    projectId: "p",
    // Long attempts: a request whose deadline passes inside the replica's read/propose path can
    // crash it (src/rpc/proposer.ts withDeadline leaves the Raft promise unobserved; see report).
    deadlineMs: 60_000,
    attemptTimeoutMs: 30_000,
  });
  ctx.onCleanup(() => client.close());
  const admin = ClusterClient.connect({
    endpoints: cluster.endpoints(),
    deadlineMs: 60_000,
    attemptTimeoutMs: 30_000,
  });
  ctx.onCleanup(() => admin.close());
  // Reads only once a leader shows in /metrics: a read refused for want of a leader just before
  // its deadline is what crashes a replica (above).
  const leaderP = leaderOf(cluster, readyBound).then(() => performance.now() - t0);
  const readP = leaderP.then(() =>
    waitFor(
      "a linearizable read",
      async () => {
        await client.listPorts({ pageSize: 1 }, { deadlineMs: 30_000 });
        return performance.now() - t0;
      },
      readyBound,
      200,
    ),
  );
  const startReadyMs = await progressWait(ctx, `${label}: start → /ready`, readyP, readyBound);
  const startLeaderMs = await leaderP;
  const startReadMs = await readP;
  const rssReady = cluster.replicas.map((r) => rssOf(r));
  const dataDirBytes = duBytes(cluster.replicas[0]!.spec.dataDir);

  // 4. Every replica holds all ports; one tenant paged through; one follower's digest.
  const portsOnReplicas = await Promise.all(
    cluster.replicas.map(async (r) => (await metrics(r)).ports),
  );
  for (const [i, n] of portsOnReplicas.entries()) {
    if (n !== build.ports) {
      throw new Error(`${cluster.replicas[i]!.spec.id} reports ${n} ports, built ${build.ports}`);
    }
  }
  const tl = performance.now();
  let listed = 0;
  for await (const _ of client.listAllPorts({ pageSize: 1000 })) {
    if (++listed > build.portsOfFirstTenant) break; // bounded: more than built is an error
  }
  const listMs = performance.now() - tl;
  if (listed !== build.portsOfFirstTenant) {
    throw new Error(`ListPorts of org0/p: ${listed} ports, built ${build.portsOfFirstTenant}`);
  }
  const leader = await leaderOf(cluster, readyBound);
  const follower = cluster.replicas.find((r) => r !== leader)!;
  const tg = performance.now();
  const st = await admin.status({ endpoint: follower.apiAddress, deadlineMs: readyBound });
  const getStatusMs = performance.now() - tg;
  const digestMatch = st.resourceDigest === build.resourceDigest;
  if (!digestMatch) {
    throw new Error(
      `${follower.spec.id} resource digest ${st.resourceDigest} differs from the built state's ${build.resourceDigest}`,
    );
  }
  ctx.progress.log(
    `  ${label}: ready in ${startReadyMs.map((m) => fmtMs(m)).join(" / ")} ms; ${fmtInt(build.ports)} ports on every replica, digest equal (GetStatus ${fmtMs(getStatusMs)} ms)`,
  );

  // 5. A few hundred CreatePorts (16 at a time), then RSS again.
  const w = await createPorts(ctx, client, label, boundMs(ports, 500));
  const rssAfterWrites = cluster.replicas.map((r) => rssOf(r));

  // 6. A learner catches up through InstallSnapshot (the restored log starts after index 1).
  const learner = await addLearner(ctx, cluster, admin, label, ports, build.ports + w.writes);

  // 7. Follower: SIGTERM, restart, spawn → /ready (snapshot from LevelDB, then the log).
  const leader2 = await leaderOf(cluster, readyBound);
  const f = cluster.replicas.find((r) => r !== leader2 && r.running())!;
  const ts = performance.now();
  await f.kill("SIGTERM", 30_000);
  const stopMs = performance.now() - ts;
  const tf = performance.now();
  f.start();
  const fReady =
    (
      await progressWait(
        ctx,
        `${label}: follower restart → /ready`,
        [waitReady(f, readyBound)],
        readyBound,
      )
    )[0]! - tf;
  const followerRestart = { id: f.spec.id, stopMs, readyMs: fReady, rss: rssOf(f) };

  // 8. Leader: SIGKILL, restart at once; spawn → /ready (the goal), and the others' new leader.
  const l = await leaderOf(cluster, readyBound);
  const others = cluster.replicas.filter((r) => r !== l && r.running());
  await l.kill("SIGKILL");
  const tk = performance.now();
  l.start();
  const lPeak = rssPeak(l);
  const newLeaderP = leaderOf(cluster, readyBound, others).then(() => performance.now() - tk);
  const lReady =
    (
      await progressWait(
        ctx,
        `${label}: leader kill -9 → /ready`,
        [waitReady(l, readyBound)],
        readyBound,
      )
    )[0]! - tk;
  const leaderRestart = {
    id: l.spec.id,
    peakRss: lPeak.stop(),
    readyMs: lReady,
    rss: rssOf(l),
    newLeaderMs: await newLeaderP,
  };
  ctx.progress.log(
    `  ${label}: follower restart → /ready ${fmtMs(fReady)} ms, leader kill -9 → /ready ${fmtMs(lReady)} ms`,
  );

  // 9. Once more, a follower under --cpu-prof (slower than unprofiled: not the goal's number),
  // stopped once ready so that the profile covers spawn → /ready.
  const profiled = await profiledRestart(ctx, cluster, label, readyBound);

  client.close();
  admin.close();
  await cluster.stopAll();
  return {
    ports: build.ports,
    build,
    restoreMs,
    dataDirBytes,
    startReadyMs,
    startLeaderMs,
    startReadMs,
    rssReady,
    portsOnReplicas,
    listedFirstTenant: listed,
    listMs,
    digestMatch,
    getStatusMs,
    writes: w.writes,
    writeErrors: w.errors,
    writesMs: w.ms,
    rssAfterWrites,
    learner,
    followerRestart,
    leaderRestart,
    profiled,
  };
}

async function profiledRestart(
  ctx: SuiteContext,
  cluster: LocalCluster,
  label: string,
  bound: number,
): Promise<SizeResult["profiled"]> {
  const leader = await leaderOf(cluster, bound);
  const f = cluster.replicas.find((r) => r !== leader && r.running())!;
  await f.kill("SIGTERM", 30_000);
  const profDir = join(ctx.dir, `prof-${f.spec.id}-${Date.now()}`);
  mkdirSync(profDir, { recursive: true });
  // ReplicaProcess.start reads NOVANET_REPLICA_NODE_ARGS; set for this one start only.
  const saved = process.env.NOVANET_REPLICA_NODE_ARGS;
  process.env.NOVANET_REPLICA_NODE_ARGS = `${saved ?? ""} --cpu-prof --cpu-prof-dir=${profDir}`;
  const t = performance.now();
  try {
    f.start();
  } finally {
    if (saved === undefined) delete process.env.NOVANET_REPLICA_NODE_ARGS;
    else process.env.NOVANET_REPLICA_NODE_ARGS = saved;
  }
  const at = (
    await progressWait(
      ctx,
      `${label}: profiled follower restart → /ready`,
      [waitReady(f, bound)],
      bound,
    )
  )[0]!;
  // SIGTERM: a clean exit writes the profile.
  await f.kill("SIGTERM", 60_000);
  const profile = mainThreadProfile(profDir);
  return { readyMs: at - t, profile };
}

/** Runs scale-build.ts in its own node (8 GiB heap limit: the builder holds state and snapshot). */
async function buildBackup(ctx: SuiteContext, ports: number, out: string): Promise<BuildResult> {
  const bound = boundMs(ports, 3_000);
  ctx.progress.start(`${fmtPorts(ports)}: build state`, ports);
  const child = spawn(
    process.execPath,
    [
      "--max-old-space-size=8192",
      "--import",
      "tsx",
      join(projectRoot, "bench/lib/scale-build.ts"),
      `--ports=${ports}`,
      `--out=${out}`,
    ],
    { cwd: projectRoot, stdio: ["ignore", "pipe", "pipe"] },
  );
  ctx.onCleanup(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
  });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (d: Buffer) => {
    stdout += d.toString();
  });
  child.stderr.on("data", (d: Buffer) => {
    const s = d.toString();
    for (const m of s.matchAll(/^progress (\d+)$/gm)) ctx.progress.update(Number(m[1]));
    stderr = (stderr + s).slice(-4000);
  });
  const code = await withTimeout(
    new Promise<number>((res, rej) => {
      child.once("error", rej);
      child.once("close", (c) => res(c ?? 1));
    }),
    bound,
    "building the state",
  );
  ctx.progress.stop();
  if (code !== 0) throw new Error(`scale-build exited ${code}: ${stderr.trim()}`);
  return JSON.parse(stdout) as BuildResult;
}

async function createPorts(
  ctx: SuiteContext,
  client: NetworkClient,
  label: string,
  bound: number,
): Promise<{ writes: number; errors: number; ms: number }> {
  ctx.progress.start(`${label}: CreatePort ×${writesN}`, writesN);
  let next = 0;
  let done = 0;
  let errors = 0;
  const t = performance.now();
  const until = t + bound;
  await Promise.all(
    Array.from({ length: 16 }, async () => {
      while (next < writesN && performance.now() < until) {
        const i = next++;
        try {
          await client.createPort({ subnetId: `org0/p/s${i % 4}` }, { deadlineMs: 30_000 });
          ctx.progress.update(++done);
        } catch {
          errors++;
        }
      }
    }),
  );
  ctx.progress.stop();
  if (done === 0) throw new Error(`${label}: no CreatePort succeeded (${errors} errors)`);
  return { writes: done, errors, ms: performance.now() - t };
}

async function addLearner(
  ctx: SuiteContext,
  cluster: LocalCluster,
  admin: ClusterClient,
  label: string,
  ports: number,
  expectPorts: number,
): Promise<SizeResult["learner"]> {
  const bound = boundMs(ports, 3_000);
  const n4 = await cluster.addJoiningReplica("n4");
  n4.start();
  ctx.onCleanup(() => n4.kill("SIGTERM"));
  await waitFor("n4 to listen", () => metrics(n4).then(() => true), 60_000, 100);
  const leader = await leaderOf(cluster, bound);
  const peaks = [rssPeak(n4), rssPeak(leader)];
  const t = performance.now();
  await admin.addLearner({
    id: "n4",
    peerAddress: `127.0.0.1:${n4.spec.peerPort}`,
    apiAddress: n4.apiAddress,
  });
  let readyMs = Number.NaN;
  const readyP = waitReady(n4, bound).then((at) => {
    readyMs = at - t;
  });
  const target = (await metrics(leader)).commit;
  ctx.progress.start(`${label}: learner InstallSnapshot → applied ${fmtInt(target)}`, target);
  // The leader's commit index after addLearner (no writes run now): the learner must apply it.
  await waitFor(
    "the learner to apply the leader's commit index",
    async () => {
      const m = await metrics(n4);
      ctx.progress.update(m.applied, `applied ${fmtInt(m.applied)}`);
      return m.applied >= target ? true : undefined;
    },
    bound,
    100,
  );
  const installMs = performance.now() - t;
  ctx.progress.stop();
  await readyP;
  const m = await metrics(n4);
  if (m.ports !== expectPorts)
    throw new Error(`learner holds ${m.ports} ports, expected ${expectPorts}`);
  const out = {
    installMs,
    readyMs,
    rss: rssOf(n4),
    peakRss: peaks[0]!.stop(),
    leaderPeakRss: peaks[1]!.stop(),
    dataDirBytes: duBytes(n4.spec.dataDir),
    ports: m.ports,
  };
  // Tidy: out of the membership and stopped, so the restarts below run on the 3 voters.
  await admin.remove("n4", { deadlineMs: 30_000 });
  await n4.kill("SIGTERM", 30_000);
  cluster.replicas.splice(cluster.replicas.indexOf(n4), 1);
  ctx.progress.log(
    `  ${label}: learner applied ${fmtInt(target)} in ${fmtMs(installMs)} ms (snapshot install), RSS ${fmtBytes(out.rss)}`,
  );
  return out;
}

// ---- helpers -----------------------------------------------------------------------------------

function fmtPorts(n: number): string {
  return n >= 1_000_000 ? `${n / 1_000_000}M ports` : `${n / 1000}k ports`;
}

function rssOf(r: ReplicaProcess): number {
  return r.child?.pid !== undefined ? pidRssBytes(r.child.pid) : Number.NaN;
}

/** Samples the replica's RSS every 100 ms until stopped; stop() gives the highest seen. */
function rssPeak(r: ReplicaProcess): { stop(): number } {
  let peak = 0;
  const sample = () => {
    const v = rssOf(r); // NaN while the process is not (yet) there
    if (v > peak) peak = v;
  };
  sample();
  const timer = setInterval(sample, 100);
  return {
    stop() {
      sample();
      clearInterval(timer);
      return peak > 0 ? peak : Number.NaN;
    },
  };
}

/** Bytes of the files under `dir` (the data dir on disk: LevelDB tables and log). */
function duBytes(dir: string): number {
  let n = 0;
  for (const e of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (e.isFile()) n += statSync(join(e.parentPath, e.name)).size;
  }
  return n;
}

async function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      p,
      new Promise<never>((_, rej) => {
        timer = setTimeout(() => rej(new Error(`${what}: no result in ${ms} ms`)), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/** Polls `fn` until it returns a value; bounded by time and by count. */
async function waitFor<T>(
  what: string,
  fn: () => Promise<T | undefined>,
  ms: number,
  everyMs: number,
): Promise<T> {
  const until = performance.now() + ms;
  let last: unknown;
  for (let i = 0; performance.now() < until && i < Math.ceil(ms / everyMs) + 10; i++) {
    try {
      const v = await fn();
      if (v !== undefined) return v;
    } catch (e) {
      if (e instanceof Fatal) throw e;
      last = e;
    }
    await sleep(everyMs);
  }
  throw new Error(`timed out waiting for ${what}${last ? `: ${(last as Error).message}` : ""}`);
}

/** An error that ends a wait at once (e.g. the process being waited for exited). */
class Fatal extends Error {}

/** The last lines of a replica's log (the suite's dir is removed afterwards). */
function logTail(r: ReplicaProcess, lines = 15): string {
  try {
    return readFileSync(r.logFile, "utf8").trimEnd().split("\n").slice(-lines).join("\n");
  } catch {
    return "(no log)";
  }
}

/** performance.now() when the replica's /ready first answers 200. */
function waitReady(r: ReplicaProcess, ms: number): Promise<number> {
  return waitFor(
    `${r.spec.id} /ready`,
    async () => {
      if (!r.running()) throw new Fatal(`${r.spec.id} exited:\n${logTail(r)}`);
      const res = await fetch(`http://127.0.0.1:${r.spec.metricsPort}/ready`, {
        signal: AbortSignal.timeout(2_000),
      });
      await res.arrayBuffer();
      return res.status === 200 ? performance.now() : undefined;
    },
    ms,
    50,
  );
}

/** Waits for all, with a bar counting the ones done. */
async function progressWait(
  ctx: SuiteContext,
  label: string,
  ps: Promise<number>[],
  bound: number,
): Promise<number[]> {
  ctx.progress.start(label, ps.length);
  let done = 0;
  const t = performance.now();
  const tick = setInterval(
    () =>
      ctx.progress.update(
        done,
        `${((performance.now() - t) / 1000).toFixed(0)} s of ≤ ${bound / 1000} s`,
      ),
    1_000,
  );
  try {
    return await Promise.all(
      ps.map((p) =>
        p.then((v) => {
          ctx.progress.update(++done);
          return v;
        }),
      ),
    );
  } finally {
    clearInterval(tick);
    ctx.progress.stop();
  }
}

interface Metrics {
  leader: boolean;
  commit: number;
  applied: number;
  ports: number;
}

/** The replica's Raft position and port count from /metrics (cheap, unlike GetStatus). */
async function metrics(r: ReplicaProcess): Promise<Metrics> {
  const res = await fetch(`http://127.0.0.1:${r.spec.metricsPort}/metrics`, {
    signal: AbortSignal.timeout(5_000),
  });
  const text = await res.text();
  const get = (name: string) => {
    const m = new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)$`, "m").exec(text);
    return m ? Number(m[1]) : Number.NaN;
  };
  return {
    leader: get("novanet_raft_is_leader") === 1,
    commit: get("novanet_raft_commit_index"),
    applied: get("novanet_raft_applied_index"),
    ports: get("overlay_network_ports_total"),
  };
}

/** The running replica (among `among`) whose /metrics says it leads. */
function leaderOf(
  cluster: LocalCluster,
  ms: number,
  among: ReplicaProcess[] = cluster.replicas,
): Promise<ReplicaProcess> {
  return waitFor(
    "a leader",
    async () => {
      for (const r of among) {
        if (!r.running()) continue;
        const m = await metrics(r).catch(() => undefined);
        if (m?.leader) return r;
      }
      return undefined;
    },
    ms,
    100,
  );
}

// ---- report ------------------------------------------------------------------------------------

function report(ctx: SuiteContext, rs: SizeResult[]): SuiteResult {
  const cols = ["measure", ...rs.map((r) => fmtPorts(r.ports))];
  const max = (xs: number[]) => Math.max(...xs);
  const row = (name: string, f: (r: SizeResult) => string): (string | number)[] => [
    name,
    ...rs.map(f),
  ];
  const ms = (n: number) => `${fmtMs(n)} ms`;
  const s = (n: number) => (n >= 10_000 ? `${(n / 1000).toFixed(1)} s` : ms(n));
  const tables: Table[] = [
    {
      title: "State and snapshot",
      columns: cols,
      rows: [
        row(
          "ports (VPCs / subnets)",
          (r) => `${fmtInt(r.ports)} (${r.build.vpcs} / ${r.build.subnets})`,
        ),
        row(
          "build: commands applied in-process",
          (r) => `${fmtInt(r.build.commands)} in ${s(r.build.buildMs)}`,
        ),
        row("snapshot encode", (r) => s(r.build.snapshotMs)),
        row("snapshot size", (r) => fmtBytes(r.build.snapshotBytes)),
        row("snapshot bytes per port", (r) => `${fmtInt(r.build.snapshotBytes / r.ports)} B`),
        row("novanet restore, per replica (3 in parallel)", (r) => s(max(r.restoreMs))),
        row("data dir on disk after start", (r) => fmtBytes(r.dataDirBytes)),
        row("builder RSS (state + snapshot)", (r) => fmtBytes(r.build.builderRssBytes)),
      ],
      notes: [
        "Built by applying CreateVpc/CreateSubnet/CreatePort commands to a NetworkStateMachine (bench/lib/scale-build.ts), written as a backup file with its manifest and restored with `novanet restore` into a new cluster.",
      ],
    },
    {
      title: "Restored cluster: start and memory",
      columns: cols,
      rows: [
        row("spawn → /ready (slowest of 3)", (r) => s(max(r.startReadyMs))),
        row("spawn → a leader elected", (r) => s(r.startLeaderMs)),
        row("spawn → linearizable ListPorts", (r) => s(r.startReadMs)),
        row("RSS per replica when ready (max)", (r) => fmtBytes(max(r.rssReady))),
        row(`RSS after ${writesN} CreatePorts (max)`, (r) => fmtBytes(max(r.rssAfterWrites))),
        row("RSS per port", (r) => `${fmtInt(max(r.rssReady) / r.ports)} B`),
        row("ports on every replica (/metrics)", (r) => fmtInt(r.portsOnReplicas[0]!)),
        row(
          "ListPorts org0/p paged (1000/page)",
          (r) => `${fmtInt(r.listedFirstTenant)} in ${s(r.listMs)}`,
        ),
        row("resource digest = built state's", (r) => (r.digestMatch ? "yes" : "NO")),
        row("one GetStatus (2 full digests, first call after an entry)", (r) => s(r.getStatusMs)),
        row(
          `CreatePort ×${writesN} (16 at a time)`,
          (r) => `${s(r.writesMs)}, ${r.writeErrors} errors`,
        ),
      ],
    },
    {
      title: "Snapshot install (a 4th replica added as a learner)",
      columns: cols,
      rows: [
        row("addLearner → applied the leader's commit", (r) => s(r.learner.installMs)),
        row("addLearner → learner /ready", (r) => s(r.learner.readyMs)),
        row(
          "learner RSS (peak during install)",
          (r) => `${fmtBytes(r.learner.rss)} (${fmtBytes(r.learner.peakRss)})`,
        ),
        row("leader RSS peak while sending the snapshot", (r) => fmtBytes(r.learner.leaderPeakRss)),
        row("learner data dir", (r) => fmtBytes(r.learner.dataDirBytes)),
        row("learner ports (/metrics)", (r) => fmtInt(r.learner.ports)),
      ],
      notes: [
        "The restored log begins after the snapshot (index 1), so a learner can only catch up through InstallSnapshot.",
      ],
    },
    {
      title: "Restart to ready",
      columns: cols,
      rows: [
        row("follower SIGTERM → exited", (r) => s(r.followerRestart.stopMs)),
        row("follower restart: spawn → /ready", (r) => s(r.followerRestart.readyMs)),
        row("leader kill -9, restart: spawn → /ready", (r) => s(r.leaderRestart.readyMs)),
        row("  meanwhile a new leader among the others", (r) => s(r.leaderRestart.newLeaderMs)),
        row("leader restart: RSS peak while restoring", (r) => fmtBytes(r.leaderRestart.peakRss)),
        row("RSS after restart", (r) =>
          fmtBytes(max([r.followerRestart.rss, r.leaderRestart.rss])),
        ),
      ],
      notes: [
        "A restarting replica reads the snapshot from LevelDB, decodes it, rebuilds the indexes, checks the invariants, replays the log after it, then waits for a leader and catches up.",
      ],
    },
    profileTable(rs, cols),
  ];
  const big = rs[rs.length - 1]!;
  const restart = big.leaderRestart.readyMs;
  const goals: Goal[] = [
    {
      goal: `restart to ready with ${fmtPorts(big.ports)}`,
      target: ctx.quick ? "≤ 30 s (at 1M ports; quick run: smaller)" : "≤ 30 s",
      measured: `${s(restart)} (leader kill -9 → /ready; follower ${s(big.followerRestart.readyMs)})`,
      met: restart <= goalMs,
      ...(restart > goalMs
        ? {
            limit: `missed by ${s(restart - goalMs)} (${(restart / goalMs).toFixed(2)}× the goal); ${limitNote(big)}`,
          }
        : {}),
    },
  ];
  const values = rs.flatMap((r) => [
    {
      ports: r.ports,
      measure: "leader kill -9 → /ready (s)",
      value: r.leaderRestart.readyMs / 1000,
    },
    {
      ports: r.ports,
      measure: "follower restart → /ready (s)",
      value: r.followerRestart.readyMs / 1000,
    },
    { ports: r.ports, measure: "learner snapshot install (s)", value: r.learner.installMs / 1000 },
    { ports: r.ports, measure: "RSS per replica (GiB)", value: max(r.rssReady) / 1024 ** 3 },
    { ports: r.ports, measure: "snapshot size (GiB)", value: r.build.snapshotBytes / 1024 ** 3 },
  ]);
  const charts: Chart[] = [
    {
      file: "scale.svg",
      spec: lineChart({
        title: "Scale: restart, snapshot install and memory against ports",
        x: { field: "ports", title: "ports", log: true },
        // Log y: seconds (1 … 100) and GiB (0.01 … 2) on one readable axis.
        y: { field: "value", title: "seconds / GiB (log)", log: true },
        series: "measure",
        values,
      }),
    },
  ];
  return {
    suite: "scale",
    title: suite.title,
    command: "npm run bench -- --only scale",
    tables,
    goals,
    charts,
    data: rs,
  };
}

/** Category rows of the profiled restarts (ms and share of spawn → /ready). */
function profileTable(rs: SizeResult[], cols: string[]): Table {
  const names = [...new Set(rs.flatMap((r) => Object.keys(r.profiled.profile?.ms ?? {})))].sort(
    (a, b) =>
      Math.max(...rs.map((r) => r.profiled.profile?.ms[b] ?? 0)) -
      Math.max(...rs.map((r) => r.profiled.profile?.ms[a] ?? 0)),
  );
  const cell = (r: SizeResult, name: string) => {
    const p = r.profiled.profile;
    const v = p?.ms[name];
    if (p === undefined || v === undefined) return "–";
    return `${fmtSeconds(v)} (${((100 * v) / p.wallMs).toFixed(0)} %)`;
  };
  return {
    title: "Where a restart's time goes (CPU profile of a restarted follower, main thread)",
    columns: cols,
    rows: [
      ["spawn → /ready under --cpu-prof", ...rs.map((r) => fmtSeconds(r.profiled.readyMs))],
      [
        "profile wall time (until stopped)",
        ...rs.map((r) => fmtSeconds(r.profiled.profile?.wallMs ?? Number.NaN)),
      ],
      ...names.map((n) => [n, ...rs.map((r) => cell(r, n))]),
    ],
    notes: [
      "Each sample counted once, by the innermost matching frame: index rebuild = decodeSnapshot outside msgpack unpack and checkStateInvariants; garbage collection is not attributed to a caller (most of it happens during the rebuild). The profiled replica is stopped as soon as it is ready.",
    ],
  };
}

function fmtSeconds(n: number): string {
  return n >= 10_000 ? `${(n / 1000).toFixed(1)} s` : `${fmtMs(n)} ms`;
}

/** What limits restart to ready, from the profile of the same size's restart. */
function limitNote(r: SizeResult): string {
  const p = r.profiled.profile;
  if (p === undefined) return "no profile was written";
  const busy = Object.entries(p.ms)
    .filter(([k]) => !k.startsWith("idle"))
    .sort((a, b) => b[1] - a[1]);
  const top = busy
    .slice(0, 4)
    .map(([k, v]) => `${k} ${fmtSeconds(v)}`)
    .join(", ");
  const state = [
    "index rebuild",
    "invariant check",
    "snapshot decode (msgpack)",
    "garbage collection",
  ]
    .map((k) => p.ms[k] ?? 0)
    .reduce((a, b) => a + b, 0);
  return `the profiled restart (${fmtSeconds(r.profiled.readyMs)}) spent ${fmtSeconds(state)} (${((100 * state) / p.wallMs).toFixed(0)} %) restoring the state machine from the snapshot on one thread — ${top}; LevelDB read ${fmtSeconds(p.ms.LevelDB ?? 0)}, idle (I/O, election, Raft catch-up) ${fmtSeconds(p.ms["idle (I/O, timers, waiting for peers)"] ?? 0)}`;
}
