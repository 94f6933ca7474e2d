// Writes: any replica accepts them. The leader stamps its clock and proposes the command; a
// follower forwards the command to the leader over the peer port and relays the result. During an
// election a write waits a bounded time for a leader, then fails with UNAVAILABLE and a retry hint.
// Retrying a command inside the server is safe: it carries (client_id, request_id), so the state
// machine answers a duplicate with the original result.
import { randomUUID } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import * as grpc from "@grpc/grpc-js";
import type { Logger } from "pino";
import type { NodeId } from "../raft/core/types.js";
import { type RaftNode, RaftNodeError } from "../raft/node/raft-node.js";
import {
  type Command,
  type CommandResult,
  decodeCommand,
  encodeCommand,
  limits,
} from "../statemachine/index.js";
import { encodeEntry, packr, type ReplicatedNetwork } from "./replicated-network.js";
import { RpcError, type RpcErrorCode } from "./status.js";

interface ForwardRequest {
  command: Uint8Array;
  deadlineMs: number;
}
type ForwardResponse =
  | { result: CommandResult; leaderId: string; leaderApiAddress: string }
  /** The leader could not propose: its error, relayed as is. */
  | { error: { code: RpcErrorCode; message: string } };

const bytes = {
  serialize: (v: unknown) => Buffer.from(packr.pack(v)),
  deserialize: (b: Buffer) => packr.unpack(b) as unknown,
};

/** The peer-port service a follower uses to hand a write to the leader. */
export const forwardService = {
  propose: {
    path: "/novanet.replica.v1.Forward/Propose",
    requestStream: false,
    responseStream: false,
    requestSerialize: bytes.serialize,
    requestDeserialize: bytes.deserialize as (b: Buffer) => ForwardRequest,
    responseSerialize: bytes.serialize,
    responseDeserialize: bytes.deserialize as (b: Buffer) => ForwardResponse,
  },
} satisfies grpc.ServiceDefinition;

const ForwardClient = grpc.makeGenericClientConstructor(forwardService, "Forward");

export interface ProposerOptions {
  raft: () => RaftNode<CommandResult>;
  network: ReplicatedNetwork;
  logger: Logger;
  /** This replica's client API address, told to callers as the leader's when it leads. */
  selfApiAddress: string;
  /** Known client API addresses of the members (best effort, for hints). */
  apiAddresses: () => Record<NodeId, string>;
  /**
   * Records a member's client API address learned from the leader's answer to a forwarded write
   * (members added after start are otherwise known only to the replica that added them).
   */
  rememberApiAddress?: (id: NodeId, address: string) => void;
  peerCredentials: grpc.ChannelCredentials;
  /** Peer id → address to dial for forwarding instead of the membership address. */
  peerDialOverrides?: Readonly<Record<NodeId, string>> | undefined;
  /** How long a write waits for a leader to appear before UNAVAILABLE. */
  leaderWaitMs: number;
}

export interface Proposed {
  result: CommandResult;
  leaderId: string;
  leaderApiAddress: string;
}

export class Proposer {
  readonly #o: ProposerOptions;
  readonly #clients = new Map<string, grpc.Client>();
  /** The server's own session for callers that send no client_id (e.g. grpcurl). */
  readonly #serverClientId = randomUUID();
  #serverSession: Promise<void> | undefined;
  #serverRequestId = 0;

  constructor(o: ProposerOptions) {
    this.#o = o;
  }

  /** The forwarding service implementation for the peer port. */
  forwardImplementation(): grpc.UntypedServiceImplementation {
    return {
      propose: (
        call: grpc.ServerUnaryCall<ForwardRequest, ForwardResponse>,
        cb: grpc.sendUnaryData<ForwardResponse>,
      ) => {
        const decoded = decodeCommand(call.request.command);
        if (!decoded.ok) {
          cb(null, { error: { code: decoded.code, message: decoded.message } });
          return;
        }
        const deadline = Math.min(call.request.deadlineMs, Date.now() + 60_000);
        this.#proposeAsLeader(call.request.command, deadline).then(
          (r) => cb(null, r),
          (err: unknown) => {
            const e = err instanceof RpcError ? err : new RpcError("INTERNAL", "forward failed");
            if (!(err instanceof RpcError))
              this.#o.logger.error({ err }, "forwarded proposal failed");
            cb(null, { error: { code: e.code, message: e.message } });
          },
        );
      },
    };
  }

  /** Fills in the server's own session for a caller that gave none. */
  async withSession<C extends Command>(command: C, deadline: number): Promise<C> {
    if (!("client_id" in command) || command.type === "RegisterClient") return command;
    if ((command as { client_id: string }).client_id !== "") return command;
    await this.#ensureServerSession(deadline);
    return { ...command, client_id: this.#serverClientId, request_id: ++this.#serverRequestId };
  }

  #ensureServerSession(deadline: number): Promise<void> {
    if (this.#serverSession === undefined) {
      this.#serverSession = this.submit(
        { type: "RegisterClient", client_id: this.#serverClientId },
        deadline,
      ).then((p) => {
        if (!p.result.ok) throw new RpcError(p.result.code, p.result.message);
      });
      this.#serverSession.catch(() => {
        this.#serverSession = undefined;
      });
    }
    return this.#serverSession;
  }

  /** Replicate a command and return its result, from whichever replica leads. */
  async submit(command: Command, deadline: number): Promise<Proposed> {
    // Refused here, before forwarding or proposing, so that every replica answers alike.
    const encoded = encodeCommand(command);
    const size = encoded.byteLength;
    if (size > limits.commandBytesMax) {
      throw new RpcError(
        "INVALID_ARGUMENT",
        `request of ${size} bytes exceeds the ${limits.commandBytesMax}-byte command limit`,
      );
    }
    let lastErr: RpcError | undefined;
    // Without a leader, give up after leaderWaitMs (not the whole deadline): the caller learns
    // early that the cluster is unavailable and can retry elsewhere or later.
    const giveUpAt = Math.min(deadline, Date.now() + this.#o.leaderWaitMs);
    for (let attempt = 0; attempt < 50 && (attempt === 0 || Date.now() < giveUpAt); attempt++) {
      const raft = this.#o.raft();
      const st = raft.status();
      try {
        if (st.role === "leader") return await this.#proposeAsLeader(encoded, deadline);
        if (st.leader !== "")
          return await this.#forward(
            st.leader,
            this.#o.peerDialOverrides?.[st.leader] ?? st.leaderAddress,
            encoded,
            deadline,
          );
        lastErr = new RpcError("NO_LEADER", "no leader is known (an election is in progress)");
      } catch (err) {
        if (!(err instanceof RpcError) || !retryable(err)) throw err;
        lastErr = err;
      }
      await this.#waitForLeader(giveUpAt);
    }
    const hint = this.#hint();
    throw new RpcError(
      lastErr?.code === "TIMEOUT" ? "TIMEOUT" : "NO_LEADER",
      lastErr?.message ?? "no leader",
      {
        ...hint,
        retryAfterMs: 500,
      },
    );
  }

  /** `command` is encodeCommand() bytes, already checked to decode. */
  async #proposeAsLeader(command: Uint8Array, deadline: number): Promise<Proposed> {
    const raft = this.#o.raft();
    if (raft.status().role !== "leader") throw new RpcError("NO_LEADER", "not the leader");
    const payload = encodeEntry({
      timestampMs: this.#o.network.nextTimestamp(Date.now()),
      command,
    });
    try {
      const out = await withDeadline(() => raft.propose(payload), deadline);
      return { result: out.result, leaderId: raft.id, leaderApiAddress: this.#o.selfApiAddress };
    } catch (err) {
      throw fromRaftError(err);
    }
  }

  async #forward(
    leader: NodeId,
    peerAddress: string,
    command: Uint8Array,
    deadline: number,
  ): Promise<Proposed> {
    if (peerAddress === "") throw new RpcError("NO_LEADER", `no address for leader ${leader}`);
    const client = this.#client(peerAddress) as unknown as {
      propose(
        req: ForwardRequest,
        md: grpc.Metadata,
        opts: grpc.CallOptions,
        cb: (err: grpc.ServiceError | null, res?: ForwardResponse) => void,
      ): void;
    };
    return new Promise((resolve, reject) => {
      client.propose(
        { command, deadlineMs: deadline },
        new grpc.Metadata(),
        { deadline },
        (err, res) => {
          if (err || !res) {
            const code = err?.code === grpc.status.DEADLINE_EXCEEDED ? "TIMEOUT" : "NO_LEADER";
            reject(
              new RpcError(
                code,
                `forwarding to leader ${leader} failed: ${err?.details ?? "no answer"}`,
              ),
            );
            return;
          }
          if ("error" in res) {
            reject(new RpcError(res.error.code, res.error.message));
            return;
          }
          if (res.leaderId !== "" && res.leaderApiAddress !== "") {
            this.#o.rememberApiAddress?.(res.leaderId, res.leaderApiAddress);
          }
          resolve(res);
        },
      );
    });
  }

  #client(address: string): grpc.Client {
    let c = this.#clients.get(address);
    if (!c) {
      c = new ForwardClient(address, this.#o.peerCredentials);
      this.#clients.set(address, c);
    }
    return c;
  }

  #hint(): { leaderId?: string; leaderAddress?: string } {
    const st = this.#o.raft().status();
    if (st.leader === "") return {};
    const api = st.leader === st.id ? this.#o.selfApiAddress : this.#o.apiAddresses()[st.leader];
    return { leaderId: st.leader, ...(api ? { leaderAddress: api } : {}) };
  }

  async #waitForLeader(until: number): Promise<void> {
    const raft = this.#o.raft();
    const start = raft.status();
    while (Date.now() < until) {
      const st = raft.status();
      if (st.leader !== "" && (st.leader !== start.leader || st.term !== start.term)) return;
      if (st.leader !== "" && st.role === "leader") return;
      await sleep(Math.min(25, Math.max(1, until - Date.now())));
    }
  }

  close(): void {
    for (const c of this.#clients.values()) c.close();
    this.#clients.clear();
  }
}

function retryable(e: RpcError): boolean {
  return e.code === "NO_LEADER";
}

function fromRaftError(err: unknown): RpcError {
  if (err instanceof RpcError) return err;
  if (!(err instanceof RaftNodeError)) return new RpcError("INTERNAL", "proposal failed");
  switch (err.code) {
    case "not-leader":
    case "transfer-in-progress":
    case "dropped":
    case "outcome-unknown":
    case "stopped":
      // Retrying is safe: the command's (client_id, request_id) is deduplicated.
      return new RpcError("NO_LEADER", err.message, { leaderId: err.leader });
    case "timeout":
      return new RpcError("TIMEOUT", "the write was not confirmed in time; its outcome is unknown");
    case "overloaded":
    case "uncommitted-size-exceeded":
    case "too-many-pending-reads":
      return new RpcError("OVERLOADED", err.message);
    case "proposal-too-large":
      return new RpcError("INVALID_ARGUMENT", err.message);
    case "conf-change-pending":
    case "conf-change-invalid":
    case "learner-not-caught-up":
      return new RpcError("FAILED_PRECONDITION", err.message);
  }
}

/**
 * Starts `start()` unless the deadline has passed, and stops waiting for it at the deadline. The
 * operation is only created once it will be awaited: a promise created and then abandoned
 * would reject later with nobody listening, and an unhandled rejection ends the process.
 */
export function withDeadline<T>(start: () => Promise<T>, deadline: number): Promise<T> {
  const ms = deadline - Date.now();
  if (ms <= 0) return Promise.reject(new RpcError("TIMEOUT", "deadline exceeded; outcome unknown"));
  const p = start();
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new RpcError("TIMEOUT", "deadline exceeded; outcome unknown")),
      ms,
    );
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}
