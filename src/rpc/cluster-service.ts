// ClusterService: status, membership, leadership, snapshots and backups. Admin only.
// Membership changes need the leader: a follower answers UNAVAILABLE naming the leader.
import { createHash } from "node:crypto";
import * as grpc from "@grpc/grpc-js";
import type { Logger } from "pino";
import type * as pb from "../api/gen/novanet/v1/cluster.js";
import { leaderAddressMetadata, leaderIdMetadata } from "../api/protocol.js";
import type { ConfChange, NodeId } from "../raft/core/types.js";
import { type RaftNode, RaftNodeError } from "../raft/node/raft-node.js";
import type { CommandResult } from "../statemachine/index.js";
import type { CallAuth } from "./network-service.js";
import type { ReplicatedNetwork } from "./replicated-network.js";
import { RpcError, toServiceError } from "./status.js";

export interface ClusterServiceDeps {
  clusterId: string;
  raft: () => RaftNode<CommandResult>;
  network: ReplicatedNetwork;
  auth: CallAuth;
  logger: Logger;
  selfApiAddress: string;
  apiAddresses: () => Record<NodeId, string>;
  rememberApiAddress: (id: NodeId, address: string) => void;
  /** OVN sync state for status (filled in by the OVN reconciler). */
  ovnSync?: () => { state: string; syncedIndex: number } | undefined;
  backupChunkBytes: number;
}

export function createClusterService(deps: ClusterServiceDeps): pb.ClusterServiceServer {
  const { auth, logger } = deps;

  function leaderHints(): { leaderId?: string; leaderAddress?: string } {
    const st = deps.raft().status();
    if (st.leader === "") return {};
    const api = st.leader === st.id ? deps.selfApiAddress : deps.apiAddresses()[st.leader];
    return { leaderId: st.leader, ...(api ? { leaderAddress: api } : {}) };
  }

  function unary<Req, Res>(
    name: string,
    fn: (req: Req) => Promise<Res>,
  ): grpc.handleUnaryCall<Req, Res> {
    return (call, cb) => {
      auth
        .admin(call.metadata)
        .then(() => fn(call.request))
        .then(
          (res) => {
            const md = new grpc.Metadata();
            const h = leaderHints();
            if (h.leaderId) md.set(leaderIdMetadata, h.leaderId);
            if (h.leaderAddress) md.set(leaderAddressMetadata, h.leaderAddress);
            cb(null, res, md);
          },
          (err: unknown) => {
            if (!(err instanceof RpcError))
              logger.error({ err, rpc: name }, "ClusterService call failed");
            cb(toServiceError(err));
          },
        );
    };
  }

  function status(): pb.ClusterStatus {
    const raft = deps.raft();
    const st = raft.status();
    const hints = leaderHints();
    const ovn = deps.ovnSync?.();
    const lagBytes = st.role === "leader" ? raft.lagBytes() : {};
    return {
      clusterId: deps.clusterId,
      id: st.id,
      role: st.role,
      term: st.term,
      leaderId: st.leader,
      leaderApiAddress: hints.leaderAddress ?? "",
      commitIndex: st.commit,
      appliedIndex: st.applied,
      snapshotIndex: st.snapshotIndex,
      firstIndex: st.firstIndex,
      lastIndex: st.lastIndex,
      voters: st.confState.voters,
      learners: st.confState.learners,
      progress: Object.entries(st.progress).map(([id, p]) => ({
        id,
        match: p.match,
        next: p.next,
        state: p.state,
        recentActive: p.recentActive,
        isLearner: p.isLearner,
        lagEntries: Math.max(0, st.lastIndex - p.match),
        lagBytes: lagBytes[id] ?? 0,
      })),
      stateDigest: deps.network.sm.digest(),
      resourceDigest: deps.network.sm.resourceDigest(),
      ovnSyncState: ovn?.state ?? "disabled",
      ovnSyncedIndex: ovn?.syncedIndex ?? 0,
    };
  }

  function members(): pb.ListMembersResponse {
    const st = deps.raft().status();
    const api = deps.apiAddresses();
    const cs = st.confState;
    const list = [...cs.voters, ...cs.learners].map((id) => ({
      id,
      peerAddress: cs.addresses[id] ?? "",
      apiAddress: id === st.id ? deps.selfApiAddress : (api[id] ?? ""),
      isLearner: cs.learners.includes(id),
    }));
    return { members: list, leaderId: st.leader };
  }

  async function change(cc: ConfChange): Promise<pb.ListMembersResponse> {
    const raft = deps.raft();
    if (raft.status().role !== "leader") {
      throw new RpcError("NO_LEADER", "membership changes go to the leader", {
        ...leaderHints(),
        retryAfterMs: 100,
      });
    }
    try {
      await raft.proposeConfChange(cc);
    } catch (err) {
      if (err instanceof RaftNodeError) {
        const code =
          err.code === "not-leader"
            ? "NO_LEADER"
            : err.code === "timeout"
              ? "TIMEOUT"
              : err.code === "conf-change-invalid"
                ? "INVALID_ARGUMENT"
                : "FAILED_PRECONDITION";
        throw new RpcError(code, `${err.code}: ${err.message}`, leaderHints());
      }
      throw err;
    }
    return members();
  }

  return {
    getStatus: unary("GetStatus", async () => status()),
    listMembers: unary("ListMembers", async () => members()),
    addLearner: unary("AddLearner", async (req: pb.AddLearnerRequest) => {
      if (req.id === "" || req.peerAddress === "") {
        throw new RpcError("INVALID_ARGUMENT", "id and peer_address are required");
      }
      if (req.apiAddress !== "") deps.rememberApiAddress(req.id, req.apiAddress);
      return change({ type: "add-learner", nodeId: req.id, address: req.peerAddress });
    }),
    promoteMember: unary("PromoteMember", async (req: pb.PromoteMemberRequest) =>
      change({ type: "promote", nodeId: req.id }),
    ),
    removeMember: unary("RemoveMember", async (req: pb.RemoveMemberRequest) =>
      change({ type: "remove", nodeId: req.id }),
    ),
    transferLeadership: unary("TransferLeadership", async (req: pb.TransferLeadershipRequest) => {
      const raft = deps.raft();
      const st = raft.status();
      if (st.role !== "leader") {
        throw new RpcError("NO_LEADER", "leadership transfer goes to the leader", leaderHints());
      }
      let target = req.targetId;
      if (target === "") {
        // The most up-to-date other voter.
        let best = -1;
        for (const id of st.confState.voters) {
          const m = st.progress[id]?.match ?? -1;
          if (id !== st.id && m > best) {
            best = m;
            target = id;
          }
        }
      }
      if (target === "" || !st.confState.voters.includes(target) || target === st.id) {
        throw new RpcError("INVALID_ARGUMENT", `cannot transfer leadership to "${target}"`);
      }
      raft.transferLeadership(target);
      const until = Date.now() + 5000;
      while (Date.now() < until && raft.status().leader !== target) {
        await new Promise((r) => setTimeout(r, 20));
      }
      if (raft.status().leader !== target) {
        throw new RpcError("TIMEOUT", `${target} did not take over in time`, leaderHints());
      }
      return status();
    }),
    snapshot: unary("Snapshot", async () => {
      const meta = await deps.raft().compactNow();
      return { index: meta.index, term: meta.term, bytes: 0 };
    }),
    saveBackup: (call: grpc.ServerWritableStream<pb.SaveBackupRequest, pb.BackupChunk>) => {
      auth
        .admin(call.metadata)
        .then(async () => {
          const raft = deps.raft();
          await raft.readIndex();
          // Taken synchronously: one consistent state at one applied index.
          const st = raft.status();
          const data = deps.network.snapshot();
          const digest = deps.network.sm.digest();
          const hash = createHash("sha256").update(data).digest("hex");
          const size = deps.backupChunkBytes;
          for (let off = 0, first = true; off < data.length || first; off += size, first = false) {
            const last = off + size >= data.length;
            call.write({
              appliedIndex: first ? raft.appliedIndex() : 0,
              term: first ? st.term : 0,
              clusterId: first ? deps.clusterId : "",
              stateDigest: first ? digest : "",
              totalBytes: first ? data.length : 0,
              data: Buffer.from(
                data.buffer,
                data.byteOffset + off,
                Math.min(size, data.length - off),
              ),
              sha256: last ? hash : "",
            });
          }
          call.end();
        })
        .catch((err: unknown) => {
          if (!(err instanceof RpcError)) logger.error({ err }, "SaveBackup failed");
          call.destroy(Object.assign(new Error("backup failed"), toServiceError(err)));
        });
    },
  };
}
