// One replica process: a Raft node with the bare state machine and the replica API.
import * as grpc from "@grpc/grpc-js";
import type { Logger } from "pino";
import { RaftNode, RaftNodeError } from "../../raft/node/raft-node.js";
import { type BareApplyResult, BareStateMachine } from "./bare-state-machine.js";
import {
  LEADER_ADDRESS_METADATA,
  LEADER_ID_METADATA,
  type ProposeRequest,
  type ReadRequest,
  replicaService,
  type TransferRequest,
} from "./replica-api.js";

export interface ReplicaOptions {
  id: string;
  clusterId: string;
  dataDir: string;
  peerListen: string;
  apiListen: string;
  /** id → "peerHost:peerPort" for a new cluster; undefined to join an existing one. */
  initialMembers?: Record<string, string>;
  /** With --join: peer addresses of current members to contact. */
  joinPeers?: Record<string, string>;
  /** id → "apiHost:apiPort" of every replica, so that followers can name the leader's API. */
  apiAddresses: Record<string, string>;
  tickMs: number;
  snapshotEntries: number;
  logger: Logger;
}

export class Replica {
  private constructor(
    readonly raft: RaftNode<BareApplyResult>,
    readonly sm: BareStateMachine,
    private readonly server: grpc.Server,
    readonly apiPort: number,
  ) {}

  static async start(opts: ReplicaOptions): Promise<Replica> {
    const sm = new BareStateMachine();
    const raft = await RaftNode.start<BareApplyResult>({
      id: opts.id,
      clusterId: opts.clusterId,
      dataDir: opts.dataDir,
      peerListen: opts.peerListen,
      ...(opts.initialMembers ? { initialMembers: opts.initialMembers } : {}),
      ...(opts.joinPeers ? { joinPeers: opts.joinPeers } : {}),
      stateMachine: sm,
      logger: opts.logger,
      tickMs: opts.tickMs,
      snapshotEntries: opts.snapshotEntries,
    });
    const server = new grpc.Server();
    const leaderError = (err: unknown): Partial<grpc.StatusObject> => {
      if (!(err instanceof RaftNodeError)) {
        opts.logger.error({ err }, "replica API call failed");
        return { code: grpc.status.INTERNAL, details: "internal error" };
      }
      const md = new grpc.Metadata();
      if (err.leader !== "") {
        md.set(LEADER_ID_METADATA, err.leader);
        md.set(LEADER_ADDRESS_METADATA, opts.apiAddresses[err.leader] ?? "");
      }
      const code =
        err.code === "not-leader" || err.code === "transfer-in-progress"
          ? grpc.status.FAILED_PRECONDITION
          : err.code === "overloaded" || err.code === "uncommitted-size-exceeded"
            ? grpc.status.RESOURCE_EXHAUSTED
            : err.code === "timeout"
              ? grpc.status.DEADLINE_EXCEEDED
              : grpc.status.UNAVAILABLE;
      return { code, details: `${err.code}: ${err.message}`, metadata: md };
    };
    const handle =
      <Req, Res>(fn: (req: Req) => Promise<Res>) =>
      (call: grpc.ServerUnaryCall<Req, Res>, cb: grpc.sendUnaryData<Res>) => {
        fn(call.request).then(
          (res) => cb(null, res),
          (err: unknown) => cb(leaderError(err)),
        );
      };
    server.addService(replicaService, {
      propose: handle(async (req: ProposeRequest) => {
        const out = await raft.propose(Buffer.from(req.data, "base64"));
        return { index: out.index, term: out.term, count: out.result.count };
      }),
      read: handle(async (req: ReadRequest) => {
        if (req.consistency !== "stale") await raft.readIndex();
        return { appliedIndex: raft.appliedIndex(), count: sm.count, digest: sm.digest };
      }),
      status: handle(async () => ({ ...raft.status(), count: sm.count, digest: sm.digest })),
      transferLeadership: handle(async (req: TransferRequest) => {
        raft.transferLeadership(req.target);
        return {};
      }),
      compact: handle(async () => ({ index: (await raft.compactNow()).index })),
    });
    const apiPort = await new Promise<number>((resolve, reject) =>
      server.bindAsync(opts.apiListen, grpc.ServerCredentials.createInsecure(), (err, port) =>
        err ? reject(err) : resolve(port),
      ),
    );
    return new Replica(raft, sm, server, apiPort);
  }

  async stop(): Promise<void> {
    await new Promise<void>((resolve) => this.server.tryShutdown(() => resolve()));
    await this.raft.stop();
  }
}
