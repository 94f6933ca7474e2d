// Reads are served by the replica that receives them: linearizable by default (ReadIndex: the
// leader confirms its commit index with a quorum and this replica waits until it has applied up
// to it), or stale on request (local state at once). Both report the applied index they reflect.
import { setTimeout as sleep } from "node:timers/promises";
import * as pb from "../api/gen/novanet/v1/network.js";
import { type RaftNode, RaftNodeError } from "../raft/node/raft-node.js";
import type { CommandResult, Queries, Result } from "../statemachine/index.js";
import { withDeadline } from "./proposer.js";
import type { ReplicatedNetwork } from "./replicated-network.js";
import { RpcError } from "./status.js";

export interface ReadOutcome<T> {
  value: T;
  appliedIndex: number;
}

export class Reader {
  constructor(
    private readonly raft: () => RaftNode<CommandResult>,
    private readonly network: ReplicatedNetwork,
    private readonly leaderWaitMs: number,
  ) {}

  async read<T>(
    consistency: pb.Consistency,
    deadline: number,
    query: (q: Queries) => Result<T>,
  ): Promise<ReadOutcome<T>> {
    if (consistency !== pb.Consistency.CONSISTENCY_STALE) await this.#barrier(deadline);
    const raft = this.raft();
    const result = query(this.network.sm.queries);
    if (!result.ok) throw new RpcError(result.code, result.message);
    return { value: result.value, appliedIndex: raft.appliedIndex() };
  }

  async #barrier(deadline: number): Promise<void> {
    const until = Math.min(deadline, Date.now() + this.leaderWaitMs);
    for (let attempt = 0; attempt < 50; attempt++) {
      try {
        await withDeadline(() => this.raft().readIndex(), deadline);
        return;
      } catch (err) {
        if (err instanceof RpcError) throw err;
        const retry =
          err instanceof RaftNodeError && (err.code === "not-leader" || err.code === "timeout");
        if (!retry || Date.now() >= until) {
          throw new RpcError(
            "NO_LEADER",
            "cannot confirm a linearizable read without a leader; retry, or ask for a stale read",
            {
              retryAfterMs: 500,
            },
          );
        }
        await sleep(25);
      }
    }
    throw new RpcError("NO_LEADER", "cannot confirm a linearizable read", { retryAfterMs: 500 });
  }
}
