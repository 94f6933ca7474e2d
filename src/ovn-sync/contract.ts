// What a replica's shell sees of the OVN sync. The server wires these calls; the reconciler
// (./reconciler/) implements them. Reads the state machine, never changes it.
import type { Logger } from "pino";
import type { ExternalNetwork, StateReader } from "./mapping/desired.js";
import type { TlsOptions } from "./ovsdb/remote.js";

export interface OvnSyncOptions {
  readonly clusterId: string;
  /** NB remotes ("tcp:h:p", "ssl:h:p", "unix:/path"); several for a clustered NB. */
  readonly nbRemotes: readonly string[];
  readonly tls?: TlsOptions;
  /** The provider network; omitted: no external switch, and SNAT/DNAT get no OVN rows. */
  readonly external?: ExternalNetwork;
  /** The live state machine; read synchronously, never held across an await. */
  readonly state: () => StateReader;
  readonly logger: Logger;
  /** Period of the full diff-and-repair pass while leading. Default 60 s. */
  readonly fullSyncIntervalMs?: number;
  /** Operations per NB transaction. Default 1000. */
  readonly txnOpsMax?: number;
  /**
   * Largest NB message accepted. The first monitor reply carries all monitored rows, so this
   * bounds the NB size a replica can follow. Default 500 MiB.
   */
  readonly nbMessageBytesMax?: number;
  /**
   * Other cluster ids whose rows count as ours (a cluster restored from another's backup): full
   * passes rewrite their owner to clusterId in place (same uuids) and remove the undesired ones;
   * taking the fence drops their fence keys. Never a cluster that still writes NB.
   */
  readonly adoptOwners?: readonly string[];
  /** Told of every NB transaction's outcome and latency (metrics). Must not throw. */
  readonly onTransaction?: (result: "ok" | "error", seconds: number, ops: number) => void;
  // --- Optional tuning (reconciler) ---
  /** Dirty VPCs remembered between passes; beyond this the next pass is a full one. Default 256. */
  readonly dirtyVpcsMax?: number;
  /** While fenced, how often to look at NB_Global again. Default 5 s. */
  readonly fenceRecheckMs?: number;
  /** Longest wait before retrying a failed pass (doubling from 100 ms). Default 5 s. */
  readonly retryDelayMaxMs?: number;
  /** Longest NB reconnect backoff. Default 2 s. */
  readonly reconnectBackoffMaxMs?: number;
}

/** Which tenants an applied entry may have changed. */
export type SyncScope =
  | { readonly kind: "none" }
  | { readonly kind: "all" }
  | { readonly kind: "vpcs"; readonly vpcIds: readonly string[] };

export type OvnSyncPhase =
  | "stopped"
  /** Not the leader: monitors NB for port status, never writes. */
  | "follower"
  /** Leading, NB not reachable. */
  | "disconnected"
  /** Leading, taking the fence and running the first full diff. */
  | "full-sync"
  /** Leading, NB matches the state up to syncedIndex. */
  | "in-sync"
  /** Leading but NB_Global holds a newer term: another leader owns NB. */
  | "fenced";

export interface OvnSyncStatus {
  readonly phase: OvnSyncPhase;
  readonly connected: boolean;
  /** The Raft term this replica fences NB with (0 when not leading). */
  readonly term: number;
  /** Highest applied index the sync was told of. */
  readonly appliedIndex: number;
  /** NB reflects the state as of this applied index. */
  readonly syncedIndex: number;
  readonly lastError: string | undefined;
  readonly fullSyncs: number;
  readonly lastFullSyncMs: number;
  readonly transactions: number;
  readonly failedTransactions: number;
  readonly operations: number;
  /** Rows written by full passes to undo drift (rows changed, recreated or removed). */
  readonly repairedRows: number;
}

export interface PortOvnStatus {
  readonly ovnPortUuid: string;
  readonly up: boolean;
}
