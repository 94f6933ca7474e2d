// Start, kill and restart replica OS processes on loopback; shared by cluster/local.ts, the
// real-process tests and the benchmarks.
import { type ChildProcess, spawn } from "node:child_process";
import { closeSync, createWriteStream, mkdirSync, openSync, type WriteStream } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import * as grpc from "@grpc/grpc-js";
import {
  LEADER_ADDRESS_METADATA,
  type ProposeResponse,
  type ReadResponse,
  ReplicaClient,
} from "../../src/server/bare/replica-api.js";
import { type ExternalNetwork, freePort } from "./local-ovn.js";

export { freePort };

export const projectRoot = resolve(dirname(fileURLToPath(import.meta.url)), "../..");

export interface ReplicaSpec {
  id: string;
  peerPort: number;
  apiPort: number;
  /** HTTP /metrics, /health, /ready (NovaNET replicas only). */
  metricsPort: number;
  dataDir: string;
}

/**
 * "novanet": the full server (src/server/main.ts, auth off, as a local development cluster).
 * "bare": the bare Raft replica with a digest state machine (src/server/bare/main.ts), for the
 * Raft benchmark and the Raft process tests.
 */
export type ReplicaKind = "novanet" | "bare";

export interface ClusterOptions {
  kind: ReplicaKind;
  /** Root folder for data dirs and logs. */
  dir: string;
  replicas: number;
  clusterId?: string;
  tickMs?: number;
  snapshotEntries?: number;
  logLevel?: string;
  /** NovaNET replicas: JWT auth with this HS256 secret file (default: auth off). */
  hs256SecretFile?: string;
  /** Fixed ports: API base+i, peer base+10+i, metrics base+20+i (default: free ports). */
  basePort?: number;
  /**
   * NovaNET replicas: the OVN they keep in sync (e.g. a LocalOvn's nbRemote and
   * externalNetwork). Without it the replicas run with ovn.sync_enabled=false (API only).
   */
  ovn?: ReplicaOvnOptions;
  /** More command-line arguments for one replica, appended last (e.g. per-replica overrides). */
  extraArgs?: (id: string) => string[];
}

export interface ReplicaOvnOptions {
  /** "tcp:127.0.0.1:PORT" (network.ovn_northbound_endpoint). */
  nbRemote: string;
  /** network.ovn_southbound_endpoint (optional). */
  sbRemote?: string;
  /** The provider network for SNAT/DNAT; its ipPool becomes network.external_ip_pool. */
  external?: ExternalNetwork | undefined;
  /** ovn.full_sync_interval_s (default: the config default). */
  fullSyncIntervalS?: number;
  /** ovn.adopt_cluster_ids: after a restore, the backup's cluster id. */
  adoptClusterIds?: readonly string[];
}

/**
 * The replica flags that point a NovaNET replica at an OVN: --ovn-nb-endpoint and the [ovn]
 * external network (ovn.external_cidr, ovn.external_gateway, ovn.physical_network,
 * ovn.gateway_chassis as a comma list), given in the --section.key=value form every config key
 * accepts. Without `ovn`: OVN sync off.
 */
export function ovnReplicaArgs(ovn: ReplicaOvnOptions | undefined): string[] {
  // TEST-NET-3: documentation addresses, never routed anywhere.
  const noExternalPool = "--network.external_ip_pool=203.0.113.0/24";
  if (!ovn) return [noExternalPool, "--ovn.sync_enabled=false"];
  const args = ["--ovn.sync_enabled=true", `--ovn-nb-endpoint=${ovn.nbRemote}`];
  if (ovn.sbRemote !== undefined) args.push(`--ovn-sb-endpoint=${ovn.sbRemote}`);
  if (ovn.fullSyncIntervalS !== undefined) {
    args.push(`--ovn.full_sync_interval_s=${ovn.fullSyncIntervalS}`);
  }
  if (ovn.adoptClusterIds !== undefined && ovn.adoptClusterIds.length > 0) {
    args.push(`--ovn.adopt_cluster_ids=${ovn.adoptClusterIds.join(",")}`);
  }
  const ext = ovn.external;
  if (!ext) {
    args.push(noExternalPool);
  } else {
    args.push(
      `--network.external_ip_pool=${ext.ipPool}`,
      `--ovn.external_cidr=${ext.cidr}`,
      `--ovn.external_gateway=${ext.gateway}`,
      `--ovn.physical_network=${ext.physicalNetwork}`,
      `--ovn.gateway_chassis=${ext.gatewayChassis.join(",")}`,
    );
  }
  return args;
}

export class ReplicaProcess {
  child: ChildProcess | undefined;
  #log: WriteStream | undefined;
  exits = 0;

  constructor(
    readonly spec: ReplicaSpec,
    private readonly script: string,
    private readonly args: string[],
    readonly logFile: string,
  ) {}

  get apiAddress(): string {
    return `127.0.0.1:${this.spec.apiPort}`;
  }

  /** Starts the process; `detached` lets it outlive this one (its output goes straight to the log). */
  start(opts: { detached?: boolean } = {}): void {
    if (this.child && this.child.exitCode === null && this.child.signalCode === null) {
      throw new Error(`${this.spec.id} is already running`);
    }
    // Extra node flags for profiling, e.g. NOVANET_REPLICA_NODE_ARGS="--cpu-prof --cpu-prof-dir=/tmp/p".
    const nodeArgs = (process.env.NOVANET_REPLICA_NODE_ARGS ?? "").split(" ").filter(Boolean);
    const argv = [...nodeArgs, "--import", "tsx", join(projectRoot, this.script), ...this.args];
    // The name sits under the [replica] config section's env prefix, where the replica's config
    // loader rightly refuses unknown keys: it is for this launcher only.
    const { NOVANET_REPLICA_NODE_ARGS: _launcherOnly, ...env } = process.env;
    let child: ChildProcess;
    if (opts.detached) {
      const fd = openSync(this.logFile, "a");
      child = spawn(process.execPath, argv, {
        cwd: projectRoot,
        env,
        stdio: ["ignore", fd, fd],
        detached: true,
      });
      closeSync(fd);
      child.unref();
    } else {
      this.#log = createWriteStream(this.logFile, { flags: "a" });
      child = spawn(process.execPath, argv, {
        cwd: projectRoot,
        env,
        stdio: ["ignore", "pipe", "pipe"],
      });
      child.stdout?.pipe(this.#log, { end: false });
      child.stderr?.pipe(this.#log, { end: false });
    }
    child.once("exit", () => {
      this.exits++;
    });
    this.child = child;
  }

  running(): boolean {
    return (
      this.child !== undefined && this.child.exitCode === null && this.child.signalCode === null
    );
  }

  /** Send a signal and wait (bounded) for the process to exit when the signal ends it. */
  async kill(signal: NodeJS.Signals = "SIGKILL", waitMs = 10_000): Promise<void> {
    const child = this.child;
    if (!child || !this.running()) return;
    const exited = new Promise<void>((res) => child.once("exit", () => res()));
    child.kill(signal);
    if (signal === "SIGSTOP" || signal === "SIGCONT") return;
    await Promise.race([exited, sleep(waitMs)]);
    if (this.running()) {
      child.kill("SIGKILL");
      await exited;
    }
  }
}

export class LocalCluster {
  readonly replicas: ReplicaProcess[] = [];

  private constructor(readonly opts: ClusterOptions) {}

  static async create(opts: ClusterOptions): Promise<LocalCluster> {
    const c = new LocalCluster(opts);
    mkdirSync(opts.dir, { recursive: true });
    const specs: ReplicaSpec[] = [];
    const base = opts.basePort;
    for (let i = 1; i <= opts.replicas; i++) {
      specs.push({
        id: `n${i}`,
        apiPort: base ? base + i - 1 : await freePort(),
        peerPort: base ? base + 10 + i - 1 : await freePort(),
        metricsPort: base ? base + 20 + i - 1 : await freePort(),
        dataDir: join(opts.dir, `n${i}`),
      });
    }
    const initial = specs.map((s) => `${s.id}=127.0.0.1:${s.peerPort}`).join(",");
    const apis = specs.map((s) => `${s.id}=127.0.0.1:${s.apiPort}`).join(",");
    for (const s of specs) c.replicas.push(c.#replica(s, initial, apis, false));
    return c;
  }

  #replica(s: ReplicaSpec, initial: string, apis: string, joining: boolean): ReplicaProcess {
    const opts = this.opts;
    const clusterId = opts.clusterId ?? "novanet-local";
    const args =
      opts.kind === "bare"
        ? [
            `--id=${s.id}`,
            `--cluster-id=${clusterId}`,
            `--data-dir=${s.dataDir}`,
            `--peer-listen=127.0.0.1:${s.peerPort}`,
            `--api-listen=127.0.0.1:${s.apiPort}`,
            `--initial-cluster=${initial}`,
            `--api-addresses=${apis}`,
            `--tick-ms=${opts.tickMs ?? 50}`,
            `--snapshot-entries=${opts.snapshotEntries ?? 10_000}`,
            `--log-level=${opts.logLevel ?? "info"}`,
          ]
        : [
            `--replica.id=${s.id}`,
            `--replica.cluster_id=${clusterId}`,
            `--replica.data_dir=${s.dataDir}`,
            `--replica.peer_listen_addr=127.0.0.1:${s.peerPort}`,
            `--server.listen_addr=127.0.0.1:${s.apiPort}`,
            `--metrics.listen_addr=127.0.0.1:${s.metricsPort}`,
            `--replica.initial_cluster=${initial}`,
            `--replica.initial_cluster_api=${apis}`,
            ...(joining ? ["--replica.join=true"] : []),
            `--replica.tick_ms=${opts.tickMs ?? 50}`,
            `--replica.snapshot_entries=${opts.snapshotEntries ?? 10_000}`,
            ...ovnReplicaArgs(opts.ovn),
            ...(opts.hs256SecretFile
              ? ["--auth.mode=jwt", `--auth.hs256_secret_file=${opts.hs256SecretFile}`]
              : ["--auth.mode=none"]),
            `--log.level=${opts.logLevel ?? "info"}`,
          ];
    const script = opts.kind === "bare" ? "src/server/bare/main.ts" : "src/server/main.ts";
    args.push(...(opts.extraArgs?.(s.id) ?? []));
    return new ReplicaProcess(s, script, args, join(opts.dir, `${s.id}.log`));
  }

  /**
   * NovaNET replicas: a new replica process (free ports, an empty data dir `<dir>/<id>`) that
   * starts with `replica.join = true` and `initial_cluster` naming `contact` (default: the
   * replicas of this cluster that are running) plus itself. Not started; once running it waits
   * to be added (`ClusterClient.addLearner` with its `spec`).
   */
  async addJoiningReplica(id: string, contact?: ReplicaProcess[]): Promise<ReplicaProcess> {
    if (this.opts.kind !== "novanet") throw new Error("joining replicas: NovaNET replicas only");
    if (this.replicas.some((r) => r.spec.id === id)) throw new Error(`replica ${id} exists`);
    const s: ReplicaSpec = {
      id,
      apiPort: await freePort(),
      peerPort: await freePort(),
      metricsPort: await freePort(),
      dataDir: join(this.opts.dir, id),
    };
    const members = [
      ...(contact ?? this.replicas.filter((r) => r.running())).map((r) => r.spec),
      s,
    ];
    const initial = members.map((m) => `${m.id}=127.0.0.1:${m.peerPort}`).join(",");
    const apis = members.map((m) => `${m.id}=127.0.0.1:${m.apiPort}`).join(",");
    const r = this.#replica(s, initial, apis, true);
    this.replicas.push(r);
    return r;
  }

  startAll(): void {
    for (const r of this.replicas) r.start();
  }

  byId(id: string): ReplicaProcess {
    const r = this.replicas.find((x) => x.spec.id === id);
    if (!r) throw new Error(`no replica ${id}`);
    return r;
  }

  endpoints(): string[] {
    return this.replicas.map((r) => r.apiAddress);
  }

  async stopAll(): Promise<void> {
    await Promise.all(this.replicas.map((r) => r.kill("SIGTERM")));
  }
}

type Unary<Req, Res> = (
  req: Req,
  md: grpc.Metadata,
  opts: grpc.CallOptions,
  cb: (err: grpc.ServiceError | null, res?: Res) => void,
) => void;

/** A client of the replica API that follows the leader; used by tests and benchmarks. */
export class ReplicaApiClient {
  readonly #clients = new Map<string, grpc.Client>();
  #leader: string | undefined;

  constructor(readonly endpoints: string[]) {}

  client(endpoint: string): grpc.Client {
    let c = this.#clients.get(endpoint);
    if (!c) {
      c = new ReplicaClient(endpoint, grpc.credentials.createInsecure());
      this.#clients.set(endpoint, c);
    }
    return c;
  }

  call<Req, Res>(endpoint: string, method: string, req: Req, deadlineMs = 5000): Promise<Res> {
    const c = this.client(endpoint) as unknown as Record<string, Unary<Req, Res>>;
    const fn = c[method];
    if (!fn) throw new Error(`no method ${method}`);
    return new Promise((res, rej) => {
      fn.call(c, req, new grpc.Metadata(), { deadline: Date.now() + deadlineMs }, (err, out) =>
        err ? rej(err) : res(out as Res),
      );
    });
  }

  /** Propose through the leader, following redirects; bounded attempts within deadlineMs. */
  async propose(data: Uint8Array, deadlineMs = 10_000): Promise<ProposeResponse> {
    const until = Date.now() + deadlineMs;
    let attempt = 0;
    let lastErr: unknown;
    while (Date.now() < until && attempt < 200) {
      const target = this.#leader ?? this.endpoints[attempt % this.endpoints.length]!;
      attempt++;
      try {
        const out = await this.call<{ data: string }, ProposeResponse>(
          target,
          "propose",
          { data: Buffer.from(data).toString("base64") },
          Math.max(1, Math.min(5000, until - Date.now())),
        );
        this.#leader = target;
        return out;
      } catch (err) {
        lastErr = err;
        const e = err as grpc.ServiceError;
        const hinted = e.metadata?.get(LEADER_ADDRESS_METADATA)[0];
        if (typeof hinted === "string" && hinted !== "" && hinted !== target) {
          this.#leader = hinted;
          continue;
        }
        this.#leader = undefined;
        await sleep(Math.min(50 * attempt, 250));
      }
    }
    throw lastErr ?? new Error("propose: deadline exceeded");
  }

  read(endpoint: string, consistency: "linearizable" | "stale"): Promise<ReadResponse> {
    return this.call(endpoint, "read", { consistency });
  }

  status(endpoint: string, deadlineMs = 2000): Promise<Record<string, unknown>> {
    return this.call(endpoint, "status", {}, deadlineMs);
  }

  /** The endpoint of the replica that reports itself leader, polling until deadlineMs. */
  async waitLeader(endpoints = this.endpoints, deadlineMs = 15_000): Promise<string> {
    const until = Date.now() + deadlineMs;
    while (Date.now() < until) {
      for (const ep of endpoints) {
        try {
          const s = await this.status(ep, 500);
          if (s.role === "leader") return ep;
        } catch {
          // Not up yet.
        }
      }
      await sleep(100);
    }
    throw new Error(`no leader among ${endpoints.join(", ")} within ${deadlineMs} ms`);
  }

  close(): void {
    for (const c of this.#clients.values()) c.close();
    this.#clients.clear();
  }
}
