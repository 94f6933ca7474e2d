// ClusterService (admin role): status, membership, leadership, snapshots and backups.
import { createHash, randomUUID } from "node:crypto";
import { open, rename, rm, writeFile } from "node:fs/promises";
import { status as GrpcStatus } from "@grpc/grpc-js";
import {
  type BackupChunk,
  ClusterServiceService as C,
  type ClusterStatus,
  type ListMembersResponse,
  type SnapshotResponse,
} from "../api/gen/novanet/v1/cluster.js";
import { NovanetError, toNovanetError } from "./errors.js";
import {
  type CallOptions,
  type Plan,
  RunError,
  Transport,
  type TransportOptions,
} from "./transport.js";

export interface EndpointStatus {
  endpoint: string;
  status?: ClusterStatus;
  error?: NovanetError;
}

export interface BackupResult {
  /** The backup file (the raw state-machine bytes the cluster streamed). */
  path: string;
  /** `<path>.json`: what the backup holds (cluster, applied index, digests). */
  manifestPath: string;
  endpoint: string;
  clusterId: string;
  appliedIndex: number;
  term: number;
  stateDigest: string;
  bytes: number;
  /** sha256 of the file, hex; verified against the cluster's. */
  sha256: string;
}

export interface BackupOptions extends CallOptions {
  /** Overall deadline of the backup (default 10 minutes). */
  deadlineMs?: number | undefined;
}

export const defaultBackupDeadlineMs = 600_000;

export class ClusterClient {
  readonly transport: Transport;

  constructor(transport: Transport) {
    this.transport = transport;
  }

  /** Creates a client; connections open lazily. The token needs the admin role. */
  static connect(opts: TransportOptions): ClusterClient {
    return new ClusterClient(new Transport(opts));
  }

  get leader(): string | undefined {
    return this.transport.leader;
  }

  close(): void {
    this.transport.close();
  }

  private async run<T>(plan: Plan<T>): Promise<T> {
    try {
      return await this.transport.run(plan);
    } catch (e) {
      throw e instanceof RunError ? e.failure.error : toNovanetError(e);
    }
  }

  /**
   * Membership and leadership changes carry no idempotency key: they are retried only when the
   * replica was unavailable (e.g. redirected to the leader), never after a deadline.
   */
  private change<Res>(attempt: Plan<Res>["attempt"], opts: CallOptions | undefined): Promise<Res> {
    return this.run<Res>({ route: "leader", retryUnknownOutcome: false, options: opts, attempt });
  }

  /** The status as seen by one replica (`opts.endpoint`, or the first reachable one). */
  status(opts?: CallOptions): Promise<ClusterStatus> {
    return this.run({
      route: opts?.readFrom ?? "any",
      retryUnknownOutcome: true,
      options: opts,
      attempt: (ep, dl, md) => this.transport.unary(C.getStatus, {}, ep, dl, md),
    });
  }

  /** The status of every configured endpoint, in order; one attempt each, in parallel. */
  async statusAll(opts?: CallOptions): Promise<EndpointStatus[]> {
    const timeout = opts?.deadlineMs ?? this.transport.attemptTimeoutMs;
    return Promise.all(
      this.transport.endpoints.map(async (endpoint): Promise<EndpointStatus> => {
        try {
          const md = await this.transport.metadata(opts?.token);
          const r = await this.transport.unary(
            C.getStatus,
            {},
            endpoint,
            new Date(Date.now() + timeout),
            md,
          );
          if (r.value.leaderApiAddress !== "") this.transport.learnLeader(r.value.leaderApiAddress);
          return { endpoint, status: r.value };
        } catch (e) {
          return { endpoint, error: toNovanetError(e, endpoint) };
        }
      }),
    );
  }

  members(opts?: CallOptions): Promise<ListMembersResponse> {
    return this.run({
      route: opts?.readFrom ?? "leader",
      retryUnknownOutcome: true,
      options: opts,
      attempt: (ep, dl, md) => this.transport.unary(C.listMembers, {}, ep, dl, md),
    });
  }

  /** Adds a non-voting member; promote it once it has caught up. */
  addLearner(
    member: { id: string; peerAddress: string; apiAddress: string },
    opts?: CallOptions,
  ): Promise<ListMembersResponse> {
    const req = { id: member.id, peerAddress: member.peerAddress, apiAddress: member.apiAddress };
    return this.change((ep, dl, md) => this.transport.unary(C.addLearner, req, ep, dl, md), opts);
  }

  promote(id: string, opts?: CallOptions): Promise<ListMembersResponse> {
    return this.change(
      (ep, dl, md) => this.transport.unary(C.promoteMember, { id }, ep, dl, md),
      opts,
    );
  }

  remove(id: string, opts?: CallOptions): Promise<ListMembersResponse> {
    return this.change(
      (ep, dl, md) => this.transport.unary(C.removeMember, { id }, ep, dl, md),
      opts,
    );
  }

  /** Hands leadership to `targetId` ("" or omitted: the most up-to-date voter). */
  transferLeadership(targetId = "", opts?: CallOptions): Promise<ClusterStatus> {
    return this.change(
      (ep, dl, md) => this.transport.unary(C.transferLeadership, { targetId }, ep, dl, md),
      opts,
    );
  }

  /** Snapshots and compacts the log on the replica that receives the call (`opts.endpoint`). */
  snapshot(opts?: CallOptions): Promise<SnapshotResponse> {
    return this.run({
      route: opts?.readFrom ?? "any",
      retryUnknownOutcome: true,
      options: opts,
      attempt: (ep, dl, md) => this.transport.unary(C.snapshot, {}, ep, dl, md),
    });
  }

  /**
   * Streams a consistent backup into `path` (written to a temporary file, verified against the
   * cluster's sha256 and size, then renamed into place) and writes a manifest `<path>.json`.
   * A broken stream is restarted from the beginning.
   */
  async saveBackup(path: string, opts?: BackupOptions): Promise<BackupResult> {
    const deadlineMs = opts?.deadlineMs ?? defaultBackupDeadlineMs;
    return this.run({
      route: opts?.readFrom ?? "any",
      retryUnknownOutcome: true,
      options: { ...opts, deadlineMs },
      attemptTimeoutMs: deadlineMs,
      attempt: async (endpoint, deadline, md) => {
        const stream = this.transport.serverStream(C.saveBackup, {}, endpoint, deadline, md);
        const value = await writeBackup(path, endpoint, stream);
        return { value };
      },
    });
  }
}

function checksumError(message: string, endpoint: string): NovanetError {
  return new NovanetError({
    code: "BACKUP_CHECKSUM_MISMATCH",
    grpcCode: GrpcStatus.DATA_LOSS,
    message,
    endpoint,
  });
}

async function writeBackup(
  path: string,
  endpoint: string,
  chunks: AsyncIterable<BackupChunk>,
): Promise<BackupResult> {
  const tmp = `${path}.partial-${randomUUID().slice(0, 8)}`;
  const file = await open(tmp, "wx", 0o600);
  let closed = false;
  try {
    const hash = createHash("sha256");
    let first: BackupChunk | undefined;
    let expected = "";
    let bytes = 0;
    for await (const chunk of chunks) {
      first ??= chunk;
      if (chunk.data.length > 0) {
        hash.update(chunk.data);
        bytes += chunk.data.length;
        await file.write(chunk.data);
      }
      if (chunk.sha256 !== "") expected = chunk.sha256;
    }
    await file.sync();
    await file.close();
    closed = true;
    if (first === undefined) throw checksumError("the backup stream was empty", endpoint);
    const digest = hash.digest();
    const hex = digest.toString("hex");
    if (expected === "") throw checksumError("the backup stream ended without a sha256", endpoint);
    if (expected.toLowerCase() !== hex && expected !== digest.toString("base64")) {
      throw checksumError(
        `sha256 mismatch: cluster sent ${expected}, received data is ${hex}`,
        endpoint,
      );
    }
    if (first.totalBytes !== 0 && first.totalBytes !== bytes) {
      throw checksumError(
        `size mismatch: cluster announced ${first.totalBytes} bytes, received ${bytes}`,
        endpoint,
      );
    }
    await rename(tmp, path);
    const result: BackupResult = {
      path,
      manifestPath: `${path}.json`,
      endpoint,
      clusterId: first.clusterId,
      appliedIndex: first.appliedIndex,
      term: first.term,
      stateDigest: first.stateDigest,
      bytes,
      sha256: hex,
    };
    const { path: _p, manifestPath: _m, ...manifest } = result;
    await writeFile(result.manifestPath, `${JSON.stringify(manifest, null, 2)}\n`);
    return result;
  } catch (e) {
    if (!closed) await file.close().catch(() => {});
    await rm(tmp, { force: true });
    throw e;
  }
}
