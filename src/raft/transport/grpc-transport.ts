// Raft messages between replicas over gRPC. Each replica keeps ONE outgoing client stream per
// peer and writes batches of messages into it; each replica runs one server that accepts the
// streams of its peers and hands every accepted batch to `onMessages` in arrival order.
//
// Wire format (hand-defined service, no .proto):
//   method  /novanet.raft.v1.RaftTransport/Stream, client streaming, request and response are raw
//           Buffers (identity serialize/deserialize); the response is an empty Buffer.
//   headers x-novanet-cluster-id and x-novanet-from (URI-encoded), checked when the stream opens.
//   request one message per batch: codec encode("message-batch", { from, clusterId, messages }).
// The server answers the stream open with its response headers (that is "connected" for the
// sender) and ends the stream with FAILED_PRECONDITION for a wrong cluster id, INVALID_ARGUMENT
// for an undecodable batch.
//
// Loss is allowed (Raft retransmits): a full queue drops, a broken stream loses what was in flight.
// Order is kept per sender: one stream at a time per peer, drained from a FIFO queue.
import {
  type CallOptions,
  type ChannelCredentials,
  type ChannelOptions,
  Client,
  type ClientWritableStream,
  credentials,
  Metadata,
  Server,
  ServerCredentials,
  type ServerReadableStream,
  type ServiceDefinition,
  type ServiceError,
  type StatusObject,
  type sendUnaryData,
  status,
  type UntypedServiceImplementation,
} from "@grpc/grpc-js";
import type { Logger } from "pino";
import { decode, encode } from "../codec.js";
import type { ConfChange, ConfState, Entry, Message, NodeId } from "../core/types.js";

/** Full gRPC method path: package novanet.raft.v1, service RaftTransport, method Stream. */
export const RAFT_STREAM_PATH = "/novanet.raft.v1.RaftTransport/Stream";
/** Request header carrying the sender's cluster id (URI-encoded). */
export const CLUSTER_ID_HEADER = "x-novanet-cluster-id";
/** Request header carrying the sender's node id (URI-encoded). */
export const FROM_HEADER = "x-novanet-from";

/** The payload of one request message, wrapped by the codec in a "message-batch" envelope. */
export interface WireBatch {
  from: NodeId;
  clusterId: string;
  messages: Message[];
}

/** Bound: largest gRPC message either side sends or accepts (one batch, or one big message). */
export const WIRE_BYTES_MAX = 64 << 20;
/** Bound: room kept in a wire message next to its largest single message (batch envelope). */
const WIRE_SLACK_BYTES = 64 << 10;
/** Bound: batches written to a stream but not yet flushed (memory beyond the queue). */
const INFLIGHT_BATCHES_MAX = 4;
/** Bound: onUnreachable and drop/reject warnings fire at most once per interval (per peer). */
const REPORT_INTERVAL_MS = 1000;
/** Bound: concurrent HTTP/2 streams the server allows on one connection (a peer uses one). */
const SERVER_STREAMS_PER_CONNECTION_MAX = 8;
/** Bound: stop() waits this long for a graceful server shutdown before forcing it. */
const STOP_GRACE_MS = 2000;

const defaults = {
  queueMsgsMax: 4096,
  queueBytesMax: 64 << 20,
  batchMsgsMax: 512,
  batchBytesMax: 1 << 20,
  backoffMsMin: 100,
  backoffMsMax: 5000,
  connectTimeoutMs: 5000,
  keepaliveTimeMs: 10_000,
  keepaliveTimeoutMs: 5000,
} as const;

export interface GrpcTransportOptions {
  id: NodeId;
  clusterId: string;
  /** host:port to listen on; port 0 binds an ephemeral port (start() returns it). */
  listenAddress: string;
  /** Accepted batches, one call per batch, in arrival order. Must not throw (errors are logged). */
  onMessages: (msgs: Message[]) => void;
  /**
   * A peer's queue overflowed or its stream failed; at most once per second per peer, and
   * always asynchronously (never from inside send()).
   */
  onUnreachable?: ((peer: NodeId) => void) | undefined;
  logger: Logger;
  /** Bound: messages queued per peer (default 4096). */
  queueMsgsMax?: number | undefined;
  /** Bound: estimated bytes queued per peer (default 64 MiB). */
  queueBytesMax?: number | undefined;
  /** Bound: messages per wire batch (default 512). */
  batchMsgsMax?: number | undefined;
  /** Bound: estimated bytes per batch; a bigger message goes alone (default 1 MiB, max 16 MiB). */
  batchBytesMax?: number | undefined;
  /** Reconnect backoff: first delay (default 100 ms); doubles per failure, with jitter. */
  backoffMsMin?: number | undefined;
  /** Reconnect backoff: largest delay (default 5 s). */
  backoffMsMax?: number | undefined;
  /** Bound: a stream whose server has not answered within this is abandoned (default 5 s). */
  connectTimeoutMs?: number | undefined;
  /** HTTP/2 keepalive ping interval on both sides (default 10 s). */
  keepaliveTimeMs?: number | undefined;
  /** A ping unanswered for this long closes the connection (default 5 s). */
  keepaliveTimeoutMs?: number | undefined;
  serverCredentials?: ServerCredentials | undefined;
  channelCredentials?: ChannelCredentials | undefined;
  /**
   * Peer id → the address to dial instead of the one in the membership (a proxy or NAT between
   * replicas; the chaos tests' per-link fault proxies). The membership is unchanged.
   */
  dialOverrides?: Readonly<Record<NodeId, string>> | undefined;
  /** More services for the peer port (e.g. write forwarding between replicas). */
  extraServices?: { definition: ServiceDefinition; implementation: UntypedServiceImplementation }[];
}

export interface PeerStats {
  address: string;
  queuedMsgs: number;
  /** Estimated (upper bound of the encoded size). */
  queuedBytes: number;
  /** Messages and batches handed to the stream (not acknowledged by the peer). */
  sentMsgs: number;
  sentBatches: number;
  /** Encoded bytes handed to the stream. */
  sentBytes: number;
  /** Messages dropped: queue full, oversized, lost to an encoding error, or sent after stop(). */
  dropped: number;
  connected: boolean;
  /** Streams opened after the first one (each retry or re-dial counts). */
  reconnects: number;
  /** Why the last stream ended ("" if none ended yet). */
  lastError: string;
}

export interface TransportTotals {
  /** Messages passed to send() for a node that is not a peer. */
  droppedUnknownPeer: number;
  receivedBatches: number;
  receivedMsgs: number;
  /** Incoming streams refused when opened (wrong cluster id, missing or bad headers). */
  rejectedStreams: number;
  /** Incoming batches refused (wrong cluster id, sender mismatch, undecodable); ends the stream. */
  rejectedBatches: number;
  /** Received messages whose `to` is not this node (dropped). */
  misaddressedMsgs: number;
  /** Incoming streams currently open. */
  incomingStreams: number;
}

interface Queued {
  msg: Message;
  bytes: number;
}

interface OutStream {
  client: Client;
  call: ClientWritableStream<Buffer>;
  connected: boolean;
  connectedAt: number;
  ended: boolean;
  awaitingDrain: boolean;
  /** Writes whose completion callback has not fired. */
  inflight: number;
  connectTimer: NodeJS.Timeout | null;
}

interface Peer {
  id: NodeId;
  address: string;
  removed: boolean;
  /** FIFO with a moving head; slots before `head` are released. */
  queue: (Queued | undefined)[];
  head: number;
  queuedBytes: number;
  flushScheduled: boolean;
  stream: OutStream | null;
  retryTimer: NodeJS.Timeout | null;
  /** Consecutive failed attempts; drives the backoff. */
  attempt: number;
  opened: number;
  lastReportAt: number;
  lastDropLogAt: number;
  droppedSinceLog: number;
  sentMsgs: number;
  sentBatches: number;
  sentBytes: number;
  dropped: number;
  lastError: string;
}

interface Incoming {
  finish: (st: Partial<StatusObject> | null) => void;
}

const identity = (b: Buffer): Buffer => b;
const EMPTY = Buffer.alloc(0);

const serviceDefinition: ServiceDefinition = {
  Stream: {
    path: RAFT_STREAM_PATH,
    requestStream: true,
    responseStream: false,
    requestSerialize: identity,
    requestDeserialize: identity,
    responseSerialize: identity,
    responseDeserialize: identity,
  },
};

export class GrpcTransport {
  private readonly id: NodeId;
  private readonly clusterId: string;
  private readonly listenAddress: string;
  private readonly onMessages: (msgs: Message[]) => void;
  private readonly onUnreachable: ((peer: NodeId) => void) | undefined;
  private readonly log: Logger;
  private readonly queueMsgsMax: number;
  private readonly queueBytesMax: number;
  private readonly batchMsgsMax: number;
  private readonly batchBytesMax: number;
  private readonly backoffMsMin: number;
  private readonly backoffMsMax: number;
  private readonly connectTimeoutMs: number;
  private readonly serverCredentials: ServerCredentials;
  private readonly extraServices: NonNullable<GrpcTransportOptions["extraServices"]>;
  private readonly dialOverrides: Readonly<Record<NodeId, string>> | undefined;
  private readonly channelCredentials: ChannelCredentials;
  private readonly channelOptions: ChannelOptions;
  private readonly serverOptions: ChannelOptions;
  /** Bound: estimated size of one message; larger ones are dropped (they could never be sent). */
  private readonly messageBytesMax: number;
  private readonly batchOverheadBytes: number;

  private readonly peers = new Map<NodeId, Peer>();
  /** Bound: one open incoming stream per sender id; a newer stream supersedes the older one. */
  private readonly incoming = new Map<NodeId, Incoming>();
  private server: Server | null = null;
  private startPromise: Promise<number> | null = null;
  private stopPromise: Promise<void> | null = null;
  private started = false;
  private stopped = false;
  private lastUnknownLogAt = 0;
  private lastRejectLogAt = 0;
  private readonly totals: TransportTotals = {
    droppedUnknownPeer: 0,
    receivedBatches: 0,
    receivedMsgs: 0,
    rejectedStreams: 0,
    rejectedBatches: 0,
    misaddressedMsgs: 0,
    incomingStreams: 0,
  };

  constructor(opts: GrpcTransportOptions) {
    if (opts.id === "") throw new Error("GrpcTransport: id must not be empty");
    this.id = opts.id;
    this.clusterId = opts.clusterId;
    this.listenAddress = opts.listenAddress;
    this.onMessages = opts.onMessages;
    this.onUnreachable = opts.onUnreachable;
    this.log = opts.logger.child({ component: "raft-transport", node: opts.id });
    this.queueMsgsMax = positiveInt("queueMsgsMax", opts.queueMsgsMax ?? defaults.queueMsgsMax);
    this.queueBytesMax = positiveInt("queueBytesMax", opts.queueBytesMax ?? defaults.queueBytesMax);
    this.batchMsgsMax = positiveInt("batchMsgsMax", opts.batchMsgsMax ?? defaults.batchMsgsMax);
    this.batchBytesMax = positiveInt("batchBytesMax", opts.batchBytesMax ?? defaults.batchBytesMax);
    if (this.batchBytesMax > WIRE_BYTES_MAX / 4) {
      throw new Error(`GrpcTransport: batchBytesMax must be <= ${WIRE_BYTES_MAX / 4}`);
    }
    this.backoffMsMin = positiveInt("backoffMsMin", opts.backoffMsMin ?? defaults.backoffMsMin);
    this.backoffMsMax = positiveInt("backoffMsMax", opts.backoffMsMax ?? defaults.backoffMsMax);
    if (this.backoffMsMax < this.backoffMsMin) {
      throw new Error("GrpcTransport: backoffMsMax must be >= backoffMsMin");
    }
    this.connectTimeoutMs = positiveInt(
      "connectTimeoutMs",
      opts.connectTimeoutMs ?? defaults.connectTimeoutMs,
    );
    const keepaliveTimeMs = positiveInt(
      "keepaliveTimeMs",
      opts.keepaliveTimeMs ?? defaults.keepaliveTimeMs,
    );
    const keepaliveTimeoutMs = positiveInt(
      "keepaliveTimeoutMs",
      opts.keepaliveTimeoutMs ?? defaults.keepaliveTimeoutMs,
    );
    this.serverCredentials = opts.serverCredentials ?? ServerCredentials.createInsecure();
    this.extraServices = opts.extraServices ?? [];
    this.dialOverrides = opts.dialOverrides ? { ...opts.dialOverrides } : undefined;
    this.channelCredentials = opts.channelCredentials ?? credentials.createInsecure();
    this.batchOverheadBytes = 64 + strBytes(this.id) + strBytes(this.clusterId);
    this.messageBytesMax = WIRE_BYTES_MAX - WIRE_SLACK_BYTES - this.batchOverheadBytes;
    const common: ChannelOptions = {
      "grpc.max_send_message_length": WIRE_BYTES_MAX,
      "grpc.max_receive_message_length": WIRE_BYTES_MAX,
      "grpc.keepalive_time_ms": keepaliveTimeMs,
      "grpc.keepalive_timeout_ms": keepaliveTimeoutMs,
      "grpc.enable_channelz": 0,
    };
    this.channelOptions = {
      ...common,
      "grpc.keepalive_permit_without_calls": 1,
      // Retries would buffer writes and complete them before they reach the socket, which
      // defeats the write backpressure; this transport reconnects on its own.
      "grpc.enable_retries": 0,
      // A fresh channel per stream attempt, not shared with other transports in the process.
      "grpc.use_local_subchannel_pool": 1,
      "grpc.initial_reconnect_backoff_ms": this.backoffMsMin,
      "grpc.max_reconnect_backoff_ms": this.backoffMsMax,
    };
    this.serverOptions = {
      ...common,
      "grpc.max_concurrent_streams": SERVER_STREAMS_PER_CONNECTION_MAX,
    };
  }

  /** Binds the server and starts dialing the peers; resolves to the bound port. */
  start(): Promise<number> {
    if (this.stopped) return Promise.reject(new Error("GrpcTransport: stopped"));
    if (this.startPromise) return this.startPromise;
    const server = new Server(this.serverOptions);
    server.addService(serviceDefinition, {
      Stream: (call: ServerReadableStream<Buffer, Buffer>, callback: sendUnaryData<Buffer>) =>
        this.handleIncoming(call, callback),
    });
    for (const svc of this.extraServices) server.addService(svc.definition, svc.implementation);
    this.server = server;
    this.startPromise = new Promise<number>((resolve, reject) => {
      server.bindAsync(this.listenAddress, this.serverCredentials, (err, port) => {
        if (err) reject(err);
        else resolve(port);
      });
    }).then((port) => {
      if (this.stopped) return port;
      this.started = true;
      this.log.info({ listen: this.listenAddress, port }, "raft transport listening");
      for (const peer of this.peers.values()) this.connect(peer);
      return port;
    });
    return this.startPromise;
  }

  /** Closes every stream, channel and the server. Idempotent; later sends are dropped. */
  stop(): Promise<void> {
    if (!this.stopPromise) this.stopPromise = this.doStop();
    return this.stopPromise;
  }

  /** Replaces the peer set: dials new peers, closes removed ones, re-dials changed addresses. */
  setPeers(addresses: Record<NodeId, string>): void {
    if (this.stopped) return;
    for (const [id, peer] of this.peers) {
      if (id !== this.id && Object.hasOwn(addresses, id)) continue;
      peer.removed = true;
      this.clearRetry(peer);
      if (peer.stream) this.endStream(peer, peer.stream, "peer removed", false);
      peer.queue = [];
      peer.head = 0;
      peer.queuedBytes = 0;
      this.peers.delete(id);
      this.log.info({ peer: id }, "raft peer removed");
    }
    for (const [id, memberAddress] of Object.entries(addresses)) {
      if (id === this.id) continue;
      const override = this.dialOverrides?.[id];
      const address = override !== undefined && override !== "" ? override : memberAddress;
      const peer = this.peers.get(id);
      if (!peer) {
        const p = newPeer(id, address);
        this.peers.set(id, p);
        this.log.info({ peer: id, address }, "raft peer added");
        if (this.started) this.connect(p);
      } else if (peer.address !== address) {
        this.log.info({ peer: id, from: peer.address, to: address }, "raft peer address changed");
        peer.address = address;
        this.clearRetry(peer);
        if (peer.stream) this.endStream(peer, peer.stream, "address changed", false);
        peer.attempt = 0;
        if (this.started) this.connect(peer);
      }
    }
  }

  /** Queues messages per destination; never blocks and never throws for I/O. */
  send(msgs: Message[]): void {
    for (const msg of msgs) {
      const peer = this.peers.get(msg.to);
      if (!peer) {
        this.totals.droppedUnknownPeer++;
        const now = Date.now();
        if (now - this.lastUnknownLogAt >= REPORT_INTERVAL_MS) {
          this.lastUnknownLogAt = now;
          this.log.warn(
            { to: msg.to, droppedUnknownPeer: this.totals.droppedUnknownPeer },
            "raft message to unknown peer dropped",
          );
        }
        continue;
      }
      if (this.stopped) {
        peer.dropped++;
        continue;
      }
      const bytes = estimateMessageBytes(msg);
      const queued = peer.queue.length - peer.head;
      if (
        queued >= this.queueMsgsMax ||
        peer.queuedBytes + bytes > this.queueBytesMax ||
        bytes > this.messageBytesMax
      ) {
        this.drop(peer, 1, bytes > this.messageBytesMax ? "message too large" : "queue full");
        continue;
      }
      peer.queue.push({ msg, bytes });
      peer.queuedBytes += bytes;
      this.scheduleFlush(peer);
    }
  }

  /** Per-peer counters, for metrics and tests. */
  stats(): Record<NodeId, PeerStats> {
    const out: Record<NodeId, PeerStats> = {};
    for (const [id, p] of this.peers) {
      out[id] = {
        address: p.address,
        queuedMsgs: p.queue.length - p.head,
        queuedBytes: p.queuedBytes,
        sentMsgs: p.sentMsgs,
        sentBatches: p.sentBatches,
        sentBytes: p.sentBytes,
        dropped: p.dropped,
        connected: p.stream?.connected ?? false,
        reconnects: Math.max(0, p.opened - 1),
        lastError: p.lastError,
      };
    }
    return out;
  }

  /** Counters not tied to one peer: the receiving side and drops for unknown destinations. */
  transportTotals(): TransportTotals {
    return { ...this.totals, incomingStreams: this.incoming.size };
  }

  // ---- outgoing ---------------------------------------------------------------------------

  private connect(peer: Peer): void {
    if (this.stopped || peer.removed || peer.stream || peer.retryTimer) return;
    const md = new Metadata();
    md.set(CLUSTER_ID_HEADER, encodeURIComponent(this.clusterId));
    md.set(FROM_HEADER, encodeURIComponent(this.id));
    let client: Client;
    try {
      client = new Client(peer.address, this.channelCredentials, this.channelOptions);
    } catch (err) {
      peer.lastError = `bad address: ${errorMessage(err)}`;
      this.log.warn({ peer: peer.id, address: peer.address, err }, "raft peer address invalid");
      this.scheduleRetry(peer);
      return;
    }
    peer.opened++;
    let s: OutStream | null = null;
    let early: string | null = null;
    const callOptions: CallOptions = {};
    const call = client.makeClientStreamRequest<Buffer, Buffer>(
      RAFT_STREAM_PATH,
      identity,
      identity,
      md,
      callOptions,
      (err: ServiceError | null) => {
        const reason = err ? `${status[err.code] ?? err.code}: ${err.details}` : "ended by peer";
        if (s) this.endStream(peer, s, reason);
        else early = reason;
      },
    );
    const stream: OutStream = {
      client,
      call,
      connected: false,
      connectedAt: 0,
      ended: false,
      awaitingDrain: false,
      inflight: 0,
      connectTimer: null,
    };
    s = stream;
    peer.stream = stream;
    stream.connectTimer = setTimeout(() => {
      stream.connectTimer = null;
      if (!stream.connected) this.endStream(peer, stream, "connect timeout");
    }, this.connectTimeoutMs);
    call.on("metadata", () => this.onConnected(peer, stream));
    call.on("error", (err: Error) => this.endStream(peer, stream, `stream error: ${err.message}`));
    if (early !== null) this.endStream(peer, stream, early);
  }

  private onConnected(peer: Peer, s: OutStream): void {
    if (s.ended || s.connected || peer.stream !== s) return;
    s.connected = true;
    s.connectedAt = Date.now();
    if (s.connectTimer) {
      clearTimeout(s.connectTimer);
      s.connectTimer = null;
    }
    this.log.info({ peer: peer.id, address: peer.address }, "raft peer connected");
    this.pump(peer);
  }

  /** Ends a stream once; with `retry`, reports the peer and schedules a reconnect. */
  private endStream(peer: Peer, s: OutStream, reason: string, retry = true): void {
    if (s.ended) return;
    s.ended = true;
    if (s.connectTimer) {
      clearTimeout(s.connectTimer);
      s.connectTimer = null;
    }
    s.call.cancel();
    s.client.close();
    if (peer.stream !== s) return;
    peer.stream = null;
    peer.lastError = reason;
    const now = Date.now();
    if (s.connected) {
      this.log.info({ peer: peer.id, address: peer.address, reason }, "raft peer disconnected");
      // A stream that stayed up for a while resets the backoff; a flapping one keeps growing it.
      if (now - s.connectedAt >= this.backoffMsMax) peer.attempt = 0;
    } else if (retry && peer.attempt === 0) {
      this.log.warn(
        { peer: peer.id, address: peer.address, reason },
        "raft peer unreachable, retrying with backoff",
      );
    } else {
      this.log.debug({ peer: peer.id, address: peer.address, reason }, "raft peer dial failed");
    }
    if (!retry || this.stopped || peer.removed) return;
    this.reportUnreachable(peer);
    this.scheduleRetry(peer);
  }

  private scheduleRetry(peer: Peer): void {
    if (this.stopped || peer.removed || peer.retryTimer) return;
    const base = Math.min(this.backoffMsMax, this.backoffMsMin * 2 ** Math.min(peer.attempt, 30));
    peer.attempt++;
    const delay = Math.round(base / 2 + (Math.random() * base) / 2);
    peer.retryTimer = setTimeout(() => {
      peer.retryTimer = null;
      this.connect(peer);
    }, delay);
  }

  private clearRetry(peer: Peer): void {
    if (peer.retryTimer) {
      clearTimeout(peer.retryTimer);
      peer.retryTimer = null;
    }
  }

  private scheduleFlush(peer: Peer): void {
    if (peer.flushScheduled) return;
    peer.flushScheduled = true;
    // Messages queued in the same turn of the event loop go out in the same batches.
    queueMicrotask(() => {
      peer.flushScheduled = false;
      this.pump(peer);
    });
  }

  /** Writes batches while the stream is up, not awaiting 'drain', and under the in-flight bound. */
  private pump(peer: Peer): void {
    const s = peer.stream;
    if (!s?.connected || s.ended) return;
    while (peer.head < peer.queue.length && s.inflight < INFLIGHT_BATCHES_MAX && !s.awaitingDrain) {
      const msgs = this.takeBatch(peer);
      let body: Buffer;
      try {
        body = asBuffer(
          encode("message-batch", { from: this.id, clusterId: this.clusterId, messages: msgs }),
        );
      } catch (err) {
        this.log.error({ peer: peer.id, err, msgs: msgs.length }, "raft batch encoding failed");
        this.drop(peer, msgs.length, "encoding failed", false);
        continue;
      }
      if (body.length > WIRE_BYTES_MAX) {
        this.log.error({ peer: peer.id, bytes: body.length }, "raft batch exceeds the wire limit");
        this.drop(peer, msgs.length, "batch too large", false);
        continue;
      }
      s.inflight++;
      let ok: boolean;
      try {
        ok = s.call.write(body, () => {
          s.inflight--;
          if (!s.ended) this.pump(peer);
        });
      } catch (err) {
        this.endStream(peer, s, `write failed: ${errorMessage(err)}`);
        return;
      }
      peer.sentMsgs += msgs.length;
      peer.sentBatches++;
      peer.sentBytes += body.length;
      if (!ok) {
        s.awaitingDrain = true;
        s.call.once("drain", () => {
          s.awaitingDrain = false;
          if (!s.ended) this.pump(peer);
        });
      }
    }
  }

  /** Takes the next batch off the queue, in order: at least one message, then within the bounds. */
  private takeBatch(peer: Peer): Message[] {
    const msgs: Message[] = [];
    let bytes = this.batchOverheadBytes;
    while (peer.head < peer.queue.length && msgs.length < this.batchMsgsMax) {
      const q = peer.queue[peer.head]!;
      if (msgs.length > 0 && bytes + q.bytes > this.batchBytesMax) break;
      msgs.push(q.msg);
      bytes += q.bytes;
      peer.queuedBytes -= q.bytes;
      peer.queue[peer.head] = undefined;
      peer.head++;
    }
    if (peer.head === peer.queue.length) {
      peer.queue = [];
      peer.head = 0;
    } else if (peer.head >= 1024 && peer.head * 2 >= peer.queue.length) {
      peer.queue = peer.queue.slice(peer.head);
      peer.head = 0;
    }
    return msgs;
  }

  private drop(peer: Peer, n: number, why: string, report = true): void {
    peer.dropped += n;
    peer.droppedSinceLog += n;
    const now = Date.now();
    if (now - peer.lastDropLogAt >= REPORT_INTERVAL_MS) {
      this.log.warn(
        {
          peer: peer.id,
          why,
          droppedSinceLastLog: peer.droppedSinceLog,
          dropped: peer.dropped,
          queuedMsgs: peer.queue.length - peer.head,
          queuedBytes: peer.queuedBytes,
        },
        "raft messages dropped",
      );
      peer.lastDropLogAt = now;
      peer.droppedSinceLog = 0;
    }
    if (report) this.reportUnreachable(peer);
  }

  private reportUnreachable(peer: Peer): void {
    if (!this.onUnreachable) return;
    const now = Date.now();
    if (now - peer.lastReportAt < REPORT_INTERVAL_MS) return;
    peer.lastReportAt = now;
    const report = this.onUnreachable;
    // Deferred, so that the callback never runs inside send() (it may call back into Raft).
    queueMicrotask(() => {
      if (this.stopped || peer.removed) return;
      try {
        report(peer.id);
      } catch (err) {
        this.log.error({ peer: peer.id, err }, "onUnreachable threw");
      }
    });
  }

  // ---- incoming ---------------------------------------------------------------------------

  private handleIncoming(
    call: ServerReadableStream<Buffer, Buffer>,
    callback: sendUnaryData<Buffer>,
  ): void {
    const clusterId = headerValue(call.metadata, CLUSTER_ID_HEADER);
    const from = headerValue(call.metadata, FROM_HEADER);
    const peerAddr = call.getPeer();
    if (this.stopped) {
      callback({ code: status.UNAVAILABLE, details: "transport stopping" });
      return;
    }
    if (clusterId !== this.clusterId || !from || from === this.id) {
      this.totals.rejectedStreams++;
      const why =
        clusterId !== this.clusterId
          ? `cluster id ${JSON.stringify(clusterId)}, expected ${JSON.stringify(this.clusterId)}`
          : `bad sender id ${JSON.stringify(from)}`;
      this.logRejection({ from, remote: peerAddr, why }, "raft stream rejected");
      callback({ code: status.FAILED_PRECONDITION, details: why });
      return;
    }
    let done = false;
    const entry: Incoming = {
      finish: (st) => {
        if (done) return;
        done = true;
        if (this.incoming.get(from) === entry) this.incoming.delete(from);
        this.log.debug(
          { peer: from, remote: peerAddr, status: st?.code ?? 0 },
          "raft stream closed",
        );
        if (st) callback(st);
        else callback(null, EMPTY);
      },
    };
    const previous = this.incoming.get(from);
    if (previous) {
      this.log.info({ peer: from, remote: peerAddr }, "raft stream superseded by a newer one");
      previous.finish({ code: status.ABORTED, details: "superseded by a newer stream" });
    }
    this.incoming.set(from, entry);
    this.log.debug({ peer: from, remote: peerAddr }, "raft stream opened");
    // Answering the open right away tells the sender the stream is accepted ("connected").
    call.sendMetadata(new Metadata());

    call.on("data", (buf: Buffer) => {
      if (done || this.stopped) return;
      let batch: WireBatch;
      try {
        batch = decode<WireBatch>("message-batch", buf);
        if (!isWireBatch(batch)) throw new Error("not a message batch");
      } catch (err) {
        this.totals.rejectedBatches++;
        this.logRejection({ from, remote: peerAddr, err }, "raft batch undecodable");
        entry.finish({ code: status.INVALID_ARGUMENT, details: "undecodable batch" });
        return;
      }
      if (batch.clusterId !== this.clusterId || batch.from !== from) {
        const want = JSON.stringify(this.clusterId);
        this.totals.rejectedBatches++;
        const why =
          batch.clusterId !== this.clusterId
            ? `batch cluster id ${JSON.stringify(batch.clusterId)}, expected ${want}`
            : `batch sender ${JSON.stringify(batch.from)} on the stream of ${JSON.stringify(from)}`;
        this.logRejection({ from, remote: peerAddr, why }, "raft batch rejected");
        entry.finish({ code: status.FAILED_PRECONDITION, details: why });
        return;
      }
      let msgs = batch.messages;
      if (msgs.some((m) => m.to !== this.id)) {
        const before = msgs.length;
        msgs = msgs.filter((m) => m.to === this.id);
        this.totals.misaddressedMsgs += before - msgs.length;
      }
      this.totals.receivedBatches++;
      this.totals.receivedMsgs += msgs.length;
      if (msgs.length === 0) return;
      try {
        this.onMessages(msgs);
      } catch (err) {
        this.log.error({ from, err }, "onMessages threw");
      }
    });
    call.on("end", () => entry.finish(null));
    call.on("cancelled", () => entry.finish({ code: status.CANCELLED, details: "cancelled" }));
    call.on("error", (err: Error) =>
      entry.finish({ code: status.INTERNAL, details: `stream error: ${err.message}` }),
    );
  }

  private logRejection(fields: Record<string, unknown>, msg: string): void {
    const now = Date.now();
    if (now - this.lastRejectLogAt < REPORT_INTERVAL_MS) return;
    this.lastRejectLogAt = now;
    this.log.warn(fields, msg);
  }

  // ---- shutdown ---------------------------------------------------------------------------

  private async doStop(): Promise<void> {
    this.stopped = true;
    for (const peer of this.peers.values()) {
      this.clearRetry(peer);
      if (peer.stream) this.endStream(peer, peer.stream, "transport stopped", false);
      peer.queue = [];
      peer.head = 0;
      peer.queuedBytes = 0;
    }
    if (this.startPromise) await this.startPromise.catch(() => undefined);
    for (const inc of [...this.incoming.values()]) {
      inc.finish({ code: status.UNAVAILABLE, details: "transport stopping" });
    }
    const server = this.server;
    this.server = null;
    if (!server) return;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        server.forceShutdown();
        resolve();
      }, STOP_GRACE_MS);
      server.tryShutdown(() => {
        clearTimeout(timer);
        resolve();
      });
    });
    if (this.started) this.log.info("raft transport stopped");
  }
}

// ---- helpers ----------------------------------------------------------------------------------

function newPeer(id: NodeId, address: string): Peer {
  return {
    id,
    address,
    removed: false,
    queue: [],
    head: 0,
    queuedBytes: 0,
    flushScheduled: false,
    stream: null,
    retryTimer: null,
    attempt: 0,
    opened: 0,
    lastReportAt: 0,
    lastDropLogAt: 0,
    droppedSinceLog: 0,
    sentMsgs: 0,
    sentBatches: 0,
    sentBytes: 0,
    dropped: 0,
    lastError: "",
  };
}

function positiveInt(name: string, v: number): number {
  if (!Number.isSafeInteger(v) || v < 1) {
    throw new Error(`GrpcTransport: ${name} must be a positive integer, got ${v}`);
  }
  return v;
}

function asBuffer(u: Uint8Array): Buffer {
  return Buffer.isBuffer(u) ? u : Buffer.from(u.buffer, u.byteOffset, u.byteLength);
}

function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

function headerValue(md: Metadata, key: string): string {
  const v = md.get(key)[0];
  if (typeof v !== "string") return "";
  try {
    return decodeURIComponent(v);
  } catch {
    return "";
  }
}

function isWireBatch(v: unknown): v is WireBatch {
  if (typeof v !== "object" || v === null) return false;
  const b = v as Partial<WireBatch>;
  if (typeof b.from !== "string" || typeof b.clusterId !== "string") return false;
  if (!Array.isArray(b.messages)) return false;
  for (const m of b.messages as unknown[]) {
    if (typeof m !== "object" || m === null) return false;
    const mm = m as { type?: unknown; to?: unknown; from?: unknown };
    if (typeof mm.type !== "string" || typeof mm.to !== "string" || typeof mm.from !== "string") {
      return false;
    }
  }
  return true;
}

// Size estimates: upper bounds of the msgpack encoding (every key, a 9-byte number per numeric
// field, a 5-byte header per string/bin/array/map), without encoding twice.
const MSG_BASE_BYTES = 128;
const ENTRY_BASE_BYTES = 64;
const CONF_ENTRY_BASE_BYTES = 112;
const SNAP_BASE_BYTES = 256;

function strBytes(s: string): number {
  // UTF-16 length * 3 bounds the UTF-8 length; exact for the common ASCII ids is not needed.
  return 5 + (s.length <= 64 ? s.length * 3 : Buffer.byteLength(s));
}

function confChangeBytes(c: ConfChange): number {
  let n = strBytes(c.nodeId);
  if (c.type === "add-learner" || c.type === "add-voter") n += strBytes(c.address);
  return n;
}

function entryBytes(e: Entry): number {
  return e.kind === "normal"
    ? ENTRY_BASE_BYTES + e.data.byteLength
    : CONF_ENTRY_BASE_BYTES + confChangeBytes(e.change);
}

function confStateBytes(c: ConfState): number {
  let n = 0;
  for (const v of c.voters) n += strBytes(v);
  for (const l of c.learners) n += strBytes(l);
  for (const [id, addr] of Object.entries(c.addresses)) n += strBytes(id) + strBytes(addr);
  return n;
}

/** An upper bound of the encoded size of one message inside a batch; used for the queue bounds. */
export function estimateMessageBytes(m: Message): number {
  let n = MSG_BASE_BYTES + strBytes(m.from) + strBytes(m.to);
  switch (m.type) {
    case "app":
      for (const e of m.entries) n += entryBytes(e);
      break;
    case "heartbeat":
    case "heartbeat-resp":
    case "read-index":
    case "read-index-resp":
      n += strBytes(m.context);
      break;
    case "snap":
      n += SNAP_BASE_BYTES + confStateBytes(m.chunk.meta.confState) + m.chunk.data.byteLength;
      break;
    case "transfer-leader":
      n += strBytes(m.target);
      break;
    default:
      break;
  }
  return n;
}
