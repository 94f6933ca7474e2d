// One NovaNET replica: Raft node + network state machine + gRPC API (NetworkService,
// ClusterService, grpc.health.v1, reflection) + an HTTP endpoint for /metrics, /health, /ready.
import { createServer, type Server as HttpServer } from "node:http";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import * as grpc from "@grpc/grpc-js";
import { loadSync } from "@grpc/proto-loader";
import { ReflectionService } from "@grpc/reflection";
import { HealthImplementation, protoPath as healthProtoPath } from "grpc-health-check";
import type { Logger } from "pino";
import { ClusterServiceService } from "../api/gen/novanet/v1/cluster.js";
import { NetworkServiceService } from "../api/gen/novanet/v1/network.js";
import type { OvnSyncStatus } from "../ovn-sync/contract.js";
import { OvnSync, scopeOfCommand } from "../ovn-sync/index.js";
import type { ExternalNetwork } from "../ovn-sync/mapping/desired.js";
import type { TlsOptions } from "../ovn-sync/ovsdb/remote.js";
import type { NodeId } from "../raft/core/types.js";
import { RaftNode } from "../raft/node/raft-node.js";
import { createClusterService } from "../rpc/cluster-service.js";
import { type CallAuth, createNetworkService } from "../rpc/network-service.js";
import { forwardService, Proposer } from "../rpc/proposer.js";
import { Reader } from "../rpc/reader.js";
import { ReplicatedNetwork } from "../rpc/replicated-network.js";
import type { CommandResult, NetworkConfig } from "../statemachine/index.js";
import { Metrics } from "./metrics.js";

export interface NovanetServerOptions {
  id: NodeId;
  clusterId: string;
  dataDir: string;
  peerListen: string;
  peerAdvertise?: string;
  apiListen: string;
  /** The address clients should use for this replica (defaults to apiListen with the bound port). */
  apiAdvertise?: string;
  initialMembers?: Record<NodeId, string>;
  joinPeers?: Record<NodeId, string>;
  /** Client API addresses of the members known from configuration (hints for clients). */
  apiAddresses: Record<NodeId, string>;
  /** The replicated network configuration proposed when this replica first leads a new cluster. */
  network: NetworkConfig;
  auth: CallAuth;
  logger: Logger;
  tickMs?: number;
  snapshotEntries?: number;
  apiCredentials?: grpc.ServerCredentials;
  peerServerCredentials?: grpc.ServerCredentials;
  peerChannelCredentials?: grpc.ChannelCredentials;
  /**
   * Peer id → address this replica dials for that peer instead of its membership address
   * (replica.peer_dial_overrides): Raft traffic and write forwarding both use it.
   */
  peerDialOverrides?: Record<NodeId, string>;
  /** host:port for /metrics, /health and /ready; omitted: no HTTP endpoint. */
  metricsListen?: string;
  /** How long a call waits for a leader during an election. */
  leaderWaitMs?: number;
  /** Upper bound of any call's deadline. */
  callTimeoutMsMax?: number;
  /** OVN Northbound sync; omitted: no OVN connection. */
  ovn?: OvnOptions;
}

export interface OvnOptions {
  nbRemotes: readonly string[];
  tls?: TlsOptions;
  /** The provider network; omitted: SNAT/DNAT get no OVN rows. */
  external?: ExternalNetwork;
  fullSyncIntervalMs?: number;
  txnOpsMax?: number;
  nbMessageBytesMax?: number;
  /** Cluster ids whose NB rows this cluster takes over (ovn.adopt_cluster_ids). */
  adoptOwners?: readonly string[];
}

const protoDir = join(import.meta.dirname, "../../proto");

export class NovanetServer {
  readonly network = new ReplicatedNetwork();
  readonly metrics: Metrics;
  #raft: RaftNode<CommandResult> | undefined;
  #api: grpc.Server | undefined;
  #http: HttpServer | undefined;
  #proposer: Proposer | undefined;
  #health: HealthImplementation | undefined;
  #timer: NodeJS.Timeout | undefined;
  #healthState: "SERVING" | "NOT_SERVING" | undefined;
  #apiPort = 0;
  #metricsPort = 0;
  #apiAdvertise = "";
  #stopped = false;
  #ovn: OvnSync | undefined;
  /** Raised on every leader change; a leadership hand-over to the OVN sync checks it is current. */
  #leaderEpoch = 0;
  readonly #apiAddresses: Record<NodeId, string>;

  private constructor(readonly opts: NovanetServerOptions) {
    this.#apiAddresses = { ...opts.apiAddresses };
    this.metrics = new Metrics(
      () => this.#raft,
      this.network,
      () => this.#ovn?.status(),
    );
  }

  /** The OVN sync's state; undefined when this replica runs without OVN. */
  ovnStatus(): OvnSyncStatus | undefined {
    return this.#ovn?.status();
  }

  get raft(): RaftNode<CommandResult> {
    if (!this.#raft) throw new Error("server not started");
    return this.#raft;
  }

  get apiPort(): number {
    return this.#apiPort;
  }

  get metricsPort(): number {
    return this.#metricsPort;
  }

  get apiAddress(): string {
    return this.#apiAdvertise;
  }

  static async start(opts: NovanetServerOptions): Promise<NovanetServer> {
    const s = new NovanetServer(opts);
    try {
      await s.#start();
    } catch (err) {
      await s.stop();
      throw err;
    }
    return s;
  }

  async #start(): Promise<void> {
    const o = this.opts;
    const log = o.logger;
    const leaderWaitMs = o.leaderWaitMs ?? 3000;
    // The API port is bound first so that the proposer knows this replica's advertised address.
    const api = new grpc.Server({ "grpc.max_receive_message_length": 4 << 20 });
    this.#api = api;
    this.#apiPort = await new Promise<number>((resolve, reject) =>
      api.bindAsync(
        o.apiListen,
        o.apiCredentials ?? grpc.ServerCredentials.createInsecure(),
        (e, p) => (e ? reject(e) : resolve(p)),
      ),
    );
    this.#apiAdvertise = o.apiAdvertise ?? o.apiListen.replace(/:0$/, `:${this.#apiPort}`);
    this.#apiAddresses[o.id] = this.#apiAdvertise;

    const proposer = new Proposer({
      raft: () => this.raft,
      network: this.network,
      logger: log,
      selfApiAddress: this.#apiAdvertise,
      apiAddresses: () => this.#apiAddresses,
      rememberApiAddress: (id, addr) => {
        if (id !== o.id) this.#apiAddresses[id] = addr;
      },
      peerCredentials: o.peerChannelCredentials ?? grpc.credentials.createInsecure(),
      peerDialOverrides: o.peerDialOverrides,
      leaderWaitMs,
    });
    this.#proposer = proposer;
    if (o.ovn) {
      const ovn = new OvnSync({
        clusterId: o.clusterId,
        nbRemotes: o.ovn.nbRemotes,
        ...(o.ovn.tls ? { tls: o.ovn.tls } : {}),
        ...(o.ovn.external ? { external: o.ovn.external } : {}),
        state: () => this.network.sm,
        logger: log.child({ component: "ovn-sync" }),
        ...(o.ovn.fullSyncIntervalMs ? { fullSyncIntervalMs: o.ovn.fullSyncIntervalMs } : {}),
        ...(o.ovn.txnOpsMax ? { txnOpsMax: o.ovn.txnOpsMax } : {}),
        ...(o.ovn.nbMessageBytesMax ? { nbMessageBytesMax: o.ovn.nbMessageBytesMax } : {}),
        ...(o.ovn.adoptOwners ? { adoptOwners: o.ovn.adoptOwners } : {}),
        onTransaction: (result, seconds) =>
          this.metrics.ovnTransactionSeconds.observe({ result }, seconds),
      });
      this.#ovn = ovn;
      this.network.setListener({
        applied: (index, command) => ovn.applied(index, scopeOfCommand(command)),
        restored: (index) => ovn.applied(index, { kind: "all" }),
      });
      ovn.start();
    }
    this.#raft = await RaftNode.start<CommandResult>({
      id: o.id,
      clusterId: o.clusterId,
      dataDir: o.dataDir,
      peerListen: o.peerListen,
      ...(o.peerAdvertise ? { peerAdvertise: o.peerAdvertise } : {}),
      ...(o.initialMembers ? { initialMembers: o.initialMembers } : {}),
      ...(o.joinPeers ? { joinPeers: o.joinPeers } : {}),
      stateMachine: this.network,
      logger: log,
      ...(o.tickMs ? { tickMs: o.tickMs } : {}),
      ...(o.snapshotEntries ? { snapshotEntries: o.snapshotEntries } : {}),
      transport: {
        extraServices: [
          { definition: forwardService, implementation: proposer.forwardImplementation() },
        ],
        ...(o.peerServerCredentials ? { serverCredentials: o.peerServerCredentials } : {}),
        ...(o.peerChannelCredentials ? { channelCredentials: o.peerChannelCredentials } : {}),
        ...(o.peerDialOverrides ? { dialOverrides: o.peerDialOverrides } : {}),
      },
    });
    this.#raft.onLeaderChange((leader, term) => {
      this.metrics.leaderChanges.inc();
      const epoch = ++this.#leaderEpoch;
      if (leader === o.id) {
        void this.#bootstrapAsLeader();
        if (this.#ovn) void this.#leadOvn(epoch, term);
      } else {
        this.#ovn?.becomeFollower();
      }
    });

    const reader = new Reader(() => this.raft, this.network, leaderWaitMs);
    const callTimeoutMsMax = o.callTimeoutMsMax ?? 30_000;
    api.addService(
      NetworkServiceService,
      createNetworkService({
        proposer,
        reader,
        auth: o.auth,
        portStatus: (portId) => this.#ovn?.portStatus(portId),
        macInUse: (vpcId, mac) => this.network.sm.macInUse(vpcId, mac),
        logger: log,
        callTimeoutMsMax,
        onCall: (rpc, code, seconds) => this.metrics.observeCall(rpc, code, seconds),
      }),
    );
    api.addService(
      ClusterServiceService,
      createClusterService({
        clusterId: o.clusterId,
        raft: () => this.raft,
        network: this.network,
        auth: o.auth,
        logger: log,
        selfApiAddress: this.#apiAdvertise,
        apiAddresses: () => this.#apiAddresses,
        ovnSync: () => {
          const st = this.#ovn?.status();
          if (st === undefined) return undefined;
          // The sync counts only entries that changed the state. With nothing pending, NB
          // reflects the state at Raft's applied index: the entries after the last change
          // (no-ops, membership, refused commands) changed nothing NB shows.
          const caughtUp = st.phase === "in-sync" && st.syncedIndex >= st.appliedIndex;
          return {
            state: st.phase,
            syncedIndex: caughtUp
              ? Math.max(st.syncedIndex, this.raft.appliedIndex())
              : st.syncedIndex,
          };
        },
        rememberApiAddress: (id, addr) => {
          this.#apiAddresses[id] = addr;
        },
        backupChunkBytes: 1 << 20,
      }),
    );
    const health = new HealthImplementation({
      "": "NOT_SERVING",
      "novanet.v1.NetworkService": "NOT_SERVING",
      "novanet.v1.ClusterService": "SERVING",
    });
    health.addToServer(api);
    this.#health = health;
    const pkg = loadSync(
      [
        join(protoDir, "novanet/v1/network.proto"),
        join(protoDir, "novanet/v1/cluster.proto"),
        healthProtoPath,
      ],
      { includeDirs: [protoDir] },
    );
    new ReflectionService(pkg).addToServer(api);
    this.#timer = setInterval(() => this.#updateHealth(), 250);
    this.#updateHealth();

    if (o.metricsListen) await this.#startHttp(o.metricsListen);
    log.info(
      { api: this.#apiAdvertise, peer: this.raft.peerAddress(), metricsPort: this.#metricsPort },
      "novanet replica serving",
    );
  }

  /**
   * HTTP /ready (spec §11.2: includes OVN connectivity): the API is ready and, with OVN, this
   * replica reaches NB and (when leading) holds the NB fence. The gRPC health status is the API
   * part alone: clients route by it, and OVN being down must never stop writes.
   */
  httpReadiness(): { ready: boolean; reason: string; ovn?: OvnSyncStatus } {
    const api = this.readiness();
    const ovn = this.#ovn?.status();
    if (ovn === undefined || !api.ready) return { ...api, ...(ovn ? { ovn } : {}) };
    if (!ovn.connected) return { ready: false, reason: "OVN Northbound not connected", ovn };
    if (ovn.phase === "fenced") {
      return { ready: false, reason: "OVN Northbound fenced by a newer leader's term", ovn };
    }
    return { ready: true, reason: "ok", ovn };
  }

  /** Ready: a leader is known, the cluster is bootstrapped and this replica has caught up. */
  readiness(): { ready: boolean; reason: string } {
    if (!this.#raft) return { ready: false, reason: "starting" };
    const st = this.#raft.status();
    if (st.leader === "") return { ready: false, reason: "no leader" };
    if (!this.network.sm.bootstrapped) return { ready: false, reason: "cluster not bootstrapped" };
    if (st.applied < st.commit)
      return { ready: false, reason: `applying (${st.applied}/${st.commit})` };
    return { ready: true, reason: "ok" };
  }

  #updateHealth(): void {
    const state = this.readiness().ready ? "SERVING" : "NOT_SERVING";
    // Watchers hear only of changes.
    if (state === this.#healthState) return;
    this.#healthState = state;
    this.#health?.setStatus("", state);
    this.#health?.setStatus("novanet.v1.NetworkService", state);
  }

  /**
   * Hands NB to the OVN sync once this leader has applied everything committed before its term
   * (a ReadIndex confirms that): a new leader that wrote NB from a state missing its predecessor's
   * last acknowledged writes would tear down ports that exist.
   */
  async #leadOvn(epoch: number, term: number): Promise<void> {
    const raft = this.raft;
    for (let attempt = 0; attempt < 1000 && !this.#stopped; attempt++) {
      if (epoch !== this.#leaderEpoch || raft.status().role !== "leader") return;
      try {
        await raft.readIndex();
        if (epoch !== this.#leaderEpoch || raft.status().term !== term) return;
        this.#ovn?.becomeLeader(term, raft.appliedIndex());
        return;
      } catch {
        await sleep(100);
      }
    }
  }

  async #bootstrapAsLeader(): Promise<void> {
    // The first leader of a new cluster writes the network configuration into the log.
    const raft = this.raft;
    for (let attempt = 0; attempt < 100 && !this.#stopped; attempt++) {
      if (this.network.sm.bootstrapped || raft.status().role !== "leader") return;
      try {
        const p = await this.#proposer!.submit(
          { type: "Bootstrap", config: this.opts.network },
          Date.now() + 5000,
        );
        if (!p.result.ok) {
          this.opts.logger.error({ result: p.result }, "bootstrap command refused");
          return;
        }
        this.opts.logger.info(
          { config: p.result.value },
          "cluster bootstrapped with network config",
        );
        return;
      } catch (err) {
        this.opts.logger.warn({ err }, "bootstrap not yet possible; retrying");
        await sleep(200);
      }
    }
  }

  async #startHttp(listen: string): Promise<void> {
    const [host, port] = splitHostPort(listen);
    const http = createServer((req, res) => {
      const url = req.url ?? "/";
      if (url === "/metrics") {
        this.metrics.registry.metrics().then(
          (text) => {
            res.writeHead(200, { "content-type": this.metrics.registry.contentType });
            res.end(text);
          },
          () => {
            res.writeHead(500);
            res.end();
          },
        );
        return;
      }
      if (url === "/health") {
        res.writeHead(200, { "content-type": "application/json" });
        res.end(JSON.stringify({ status: "ok" }));
        return;
      }
      if (url === "/ready") {
        const r = this.httpReadiness();
        res.writeHead(r.ready ? 200 : 503, { "content-type": "application/json" });
        res.end(JSON.stringify(r));
        return;
      }
      res.writeHead(404);
      res.end();
    });
    this.#http = http;
    await new Promise<void>((resolve, reject) => {
      http.once("error", reject);
      http.listen(port, host, () => resolve());
    });
    const addr = http.address();
    this.#metricsPort = typeof addr === "object" && addr ? addr.port : 0;
  }

  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    if (this.#timer) clearInterval(this.#timer);
    const api = this.#api;
    if (api) await new Promise<void>((r) => api.tryShutdown(() => r()));
    this.#proposer?.close();
    this.#ovn?.becomeFollower();
    await this.#raft?.stop();
    await this.#ovn?.close();
    const http = this.#http;
    if (http) await new Promise<void>((r) => http.close(() => r()));
  }
}

function splitHostPort(addr: string): [string, number] {
  const i = addr.lastIndexOf(":");
  if (i < 0) throw new Error(`expected host:port, got "${addr}"`);
  return [addr.slice(0, i).replace(/^\[|\]$/g, ""), Number(addr.slice(i + 1))];
}
