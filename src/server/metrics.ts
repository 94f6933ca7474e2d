// Prometheus metrics: the spec's overlay_network_* names (§11.2) plus Raft and RPC metrics.
import { Counter, Gauge, Histogram, Registry } from "prom-client";
import type { RaftNode } from "../raft/node/raft-node.js";
import type { ReplicatedNetwork } from "../rpc/replicated-network.js";
import type { CommandResult } from "../statemachine/index.js";

export class Metrics {
  readonly registry = new Registry();
  readonly leaderChanges: Counter;
  readonly #calls: Counter;
  readonly #callSeconds: Histogram;

  constructor(raft: () => RaftNode<CommandResult> | undefined, network: ReplicatedNetwork) {
    const r = this.registry;
    const raftGauge = (name: string, help: string, value: (n: RaftNode<CommandResult>) => number) =>
      new Gauge({
        name,
        help,
        registers: [r],
        collect() {
          const n = raft();
          if (n) this.set(value(n));
        },
      });
    raftGauge("novanet_raft_term", "Current Raft term", (n) => n.status().term);
    raftGauge("novanet_raft_is_leader", "1 when this replica leads", (n) =>
      n.status().role === "leader" ? 1 : 0,
    );
    raftGauge("novanet_raft_commit_index", "Highest committed log index", (n) => n.status().commit);
    raftGauge("novanet_raft_applied_index", "Highest applied log index", (n) => n.appliedIndex());
    raftGauge(
      "novanet_raft_snapshot_index",
      "Index of the latest snapshot",
      (n) => n.status().snapshotIndex,
    );
    raftGauge(
      "novanet_raft_proposals_total",
      "Proposals accepted by this replica as leader",
      (n) => n.status().counters.proposals,
    );
    raftGauge(
      "novanet_raft_synced_writes_total",
      "Durable (fsynced) log writes",
      (n) => n.status().counters.syncedWrites,
    );
    raftGauge(
      "novanet_raft_snapshots_total",
      "Snapshots taken",
      (n) => n.status().counters.snapshotsTaken,
    );
    this.leaderChanges = new Counter({
      name: "novanet_raft_leader_changes_total",
      help: "Times this replica saw the leader change",
      registers: [r],
    });
    const stat = (
      name: string,
      help: string,
      key: "vpcs" | "subnets" | "ports" | "ip_allocations",
    ) =>
      new Gauge({
        name,
        help,
        registers: [r],
        collect() {
          this.set(network.sm.stats()[key]);
        },
      });
    stat("overlay_network_vpcs_total", "Total number of VPCs", "vpcs");
    stat("overlay_network_subnets_total", "Total number of subnets", "subnets");
    stat("overlay_network_ports_total", "Total number of ports", "ports");
    stat("overlay_network_ip_allocations_total", "Total IP allocations", "ip_allocations");
    this.#calls = new Counter({
      name: "novanet_grpc_requests_total",
      help: "gRPC calls by method and result code",
      labelNames: ["method", "code"],
      registers: [r],
    });
    this.#callSeconds = new Histogram({
      name: "novanet_grpc_request_duration_seconds",
      help: "gRPC call latency by method and result code",
      labelNames: ["method", "code"],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers: [r],
    });
  }

  observeCall(method: string, code: string, seconds: number): void {
    this.#calls.inc({ method, code });
    this.#callSeconds.observe({ method, code }, seconds);
  }
}
