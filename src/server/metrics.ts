// Prometheus metrics: the spec's overlay_network_* names (§11.2) plus Raft and RPC metrics.
import { Counter, Gauge, Histogram, Registry } from "prom-client";
import type { OvnSyncPhase, OvnSyncStatus } from "../ovn-sync/contract.js";
import type { RaftNode } from "../raft/node/raft-node.js";
import type { ReplicatedNetwork } from "../rpc/replicated-network.js";
import type { CommandResult } from "../statemachine/index.js";

export class Metrics {
  readonly registry = new Registry();
  readonly leaderChanges: Counter;
  readonly #calls: Counter;
  readonly #callSeconds: Histogram;
  /** Spec §11.2: OVN operation latency (one NB transaction). */
  readonly ovnTransactionSeconds: Histogram;

  constructor(
    raft: () => RaftNode<CommandResult> | undefined,
    network: ReplicatedNetwork,
    ovn: () => OvnSyncStatus | undefined,
  ) {
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
    raftGauge(
      "novanet_raft_ticks_caught_up_total",
      "Election ticks a busy event loop delayed, counted late by a follower (event-loop stalls)",
      (n) => n.status().counters.ticksCaughtUp,
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
    this.ovnTransactionSeconds = new Histogram({
      name: "overlay_network_ovn_operations_duration_seconds",
      help: "OVN Northbound transaction latency by result",
      labelNames: ["result"],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers: [r],
    });
    const ovnGauge = (name: string, help: string, value: (s: OvnSyncStatus) => number) =>
      new Gauge({
        name,
        help,
        registers: [r],
        collect() {
          const st = ovn();
          if (st) this.set(value(st));
        },
      });
    ovnGauge("novanet_ovn_connected", "1 while connected to OVN Northbound", (s) =>
      s.connected ? 1 : 0,
    );
    ovnGauge(
      "novanet_ovn_sync_lag_entries",
      "Applied log entries not yet reflected in OVN Northbound (leader; 0 elsewhere)",
      (s) => (s.term > 0 ? Math.max(0, s.appliedIndex - s.syncedIndex) : 0),
    );
    ovnGauge(
      "novanet_ovn_synced_index",
      "Applied index that OVN Northbound reflects",
      (s) => s.syncedIndex,
    );
    ovnGauge(
      "novanet_ovn_fence_term",
      "Raft term this replica fences NB with (0: not leading)",
      (s) => s.term,
    );
    ovnGauge("novanet_ovn_full_syncs_total", "Full diff-and-repair passes", (s) => s.fullSyncs);
    ovnGauge(
      "novanet_ovn_last_full_sync_seconds",
      "Duration of the last full pass",
      (s) => s.lastFullSyncMs / 1000,
    );
    ovnGauge("novanet_ovn_transactions_total", "NB transactions sent", (s) => s.transactions);
    ovnGauge(
      "novanet_ovn_failed_transactions_total",
      "NB transactions that failed",
      (s) => s.failedTransactions,
    );
    ovnGauge("novanet_ovn_operations_total", "NB operations sent", (s) => s.operations);
    ovnGauge(
      "novanet_ovn_repaired_rows_total",
      "NB rows a full pass rewrote, recreated or removed to undo drift",
      (s) => s.repairedRows,
    );
    const phases: readonly OvnSyncPhase[] = [
      "stopped",
      "follower",
      "disconnected",
      "full-sync",
      "in-sync",
      "fenced",
    ];
    new Gauge({
      name: "novanet_ovn_sync_phase",
      help: "1 for the OVN sync's current phase",
      labelNames: ["phase"],
      registers: [r],
      collect() {
        const st = ovn();
        if (!st) return;
        for (const p of phases) this.set({ phase: p }, st.phase === p ? 1 : 0);
      },
    });
  }

  observeCall(method: string, code: string, seconds: number): void {
    this.#calls.inc({ method, code });
    this.#callSeconds.observe({ method, code }, seconds);
  }
}
