import { randomBytes } from "node:crypto";
import { createServer } from "node:net";
import {
  Client,
  credentials,
  Metadata,
  Server,
  ServerCredentials,
  type ServerReadableStream,
  type ServiceError,
  status,
} from "@grpc/grpc-js";
import pino from "pino";
import { afterEach, describe, expect, it } from "vitest";
import { encode } from "../../src/raft/codec.js";
import type { Message, NodeId } from "../../src/raft/core/types.js";
import {
  CLUSTER_ID_HEADER,
  estimateMessageBytes,
  FROM_HEADER,
  GrpcTransport,
  type GrpcTransportOptions,
  RAFT_STREAM_PATH,
} from "../../src/raft/transport/grpc-transport.js";

const logger = pino({ level: "silent" });
const CLUSTER = "cluster-test";

interface TestNode {
  id: NodeId;
  t: GrpcTransport;
  port: number;
  addr: string;
  got: Message[];
}

const open: GrpcTransport[] = [];

afterEach(async () => {
  await Promise.all(open.splice(0).map((t) => t.stop()));
});

async function makeNode(
  id: NodeId,
  extra: Partial<GrpcTransportOptions> & { port?: number } = {},
): Promise<TestNode> {
  const got: Message[] = [];
  const { port: fixedPort, ...rest } = extra;
  const t = new GrpcTransport({
    id,
    clusterId: CLUSTER,
    listenAddress: `127.0.0.1:${fixedPort ?? 0}`,
    onMessages: (msgs) => {
      for (const m of msgs) got.push(m);
    },
    logger,
    backoffMsMin: 20,
    backoffMsMax: 200,
    connectTimeoutMs: 2000,
    ...rest,
  });
  open.push(t);
  const port = await t.start();
  return { id, t, port, addr: `127.0.0.1:${port}`, got };
}

function connectAll(nodes: TestNode[]): void {
  const addresses: Record<NodeId, string> = {};
  for (const n of nodes) addresses[n.id] = n.addr;
  for (const n of nodes) n.t.setPeers(addresses);
}

function hb(from: NodeId, to: NodeId, commit: number): Message {
  return { type: "heartbeat", from, to, term: 1, commit, context: "" };
}

async function waitFor(cond: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

async function freePort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, "127.0.0.1", r));
  const addr = srv.address();
  await new Promise<void>((r) => srv.close(() => r()));
  if (addr === null || typeof addr === "string") throw new Error("no port");
  return addr.port;
}

/** Commits of the heartbeats `from` sent, in the order they were received. */
function commitsFrom(got: Message[], from: NodeId): number[] {
  return got
    .filter((m) => m.from === from && m.type === "heartbeat")
    .map((m) => (m as { commit: number }).commit);
}

function range(from: number, n: number): number[] {
  return Array.from({ length: n }, (_, i) => from + i);
}

function isStrictlyIncreasing(xs: number[]): boolean {
  return xs.every((x, i) => i === 0 || x > xs[i - 1]!);
}

/** Sockets, listeners and timers keeping the process alive. */
function liveHandles(): number {
  return process
    .getActiveResourcesInfo()
    .filter((r) => r === "TCPSocketWrap" || r === "TCPServerWrap" || r === "Timeout").length;
}

describe("GrpcTransport", () => {
  // First, so that the baseline is not disturbed by other tests.
  it("stop() is idempotent and leaves no open sockets or timers", async () => {
    const baseline = liveHandles();
    const a = await makeNode("a");
    const b = await makeNode("b");
    connectAll([a, b]);
    a.t.send([hb("a", "b", 1)]);
    b.t.send([hb("b", "a", 1)]);
    await waitFor(() => a.got.length === 1 && b.got.length === 1, "exchange");
    expect(liveHandles()).toBeGreaterThan(baseline);

    await Promise.all([a.t.stop(), a.t.stop()]);
    await a.t.stop();
    await b.t.stop();
    await b.t.stop();
    expect(() => a.t.send([hb("a", "b", 2)])).not.toThrow();
    expect(a.t.stats().b!.dropped).toBe(1);
    expect(a.t.stats().b!.connected).toBe(false);
    await expect(a.t.start()).rejects.toThrow(/stopped/);
    await waitFor(() => liveHandles() <= baseline, "sockets and timers released", 5000);
  });

  it("two transports exchange batches in order", async () => {
    const lines: { level: number; msg: string; peer?: string }[] = [];
    const captured = pino({ level: "debug" }, { write: (l: string) => lines.push(JSON.parse(l)) });
    const a = await makeNode("a", { batchMsgsMax: 100, logger: captured });
    const b = await makeNode("b", { batchMsgsMax: 100 });
    connectAll([a, b]);
    a.t.send(range(0, 1000).map((i) => hb("a", "b", i)));
    b.t.send(range(0, 1000).map((i) => hb("b", "a", i)));
    await waitFor(() => a.got.length === 1000 && b.got.length === 1000, "1000 messages each way");
    expect(commitsFrom(b.got, "a")).toEqual(range(0, 1000));
    expect(commitsFrom(a.got, "b")).toEqual(range(0, 1000));
    expect(b.got.every((m) => m.to === "b")).toBe(true);
    const s = a.t.stats().b!;
    expect(s.connected).toBe(true);
    expect(s.sentMsgs).toBe(1000);
    expect(s.sentBatches).toBeGreaterThanOrEqual(10);
    expect(s.sentBatches).toBeLessThan(1000);
    expect(s.dropped).toBe(0);
    expect(s.queuedMsgs).toBe(0);
    expect(s.queuedBytes).toBe(0);
    expect(b.t.transportTotals().receivedMsgs).toBe(1000);
    // Connection up is logged at info; nothing is logged per message.
    expect(
      lines.some((l) => l.level === 30 && l.msg === "raft peer connected" && l.peer === "b"),
    ).toBe(true);
    expect(lines.length).toBeLessThan(20);
  });

  it("three transports exchange batches, each sender's order kept", async () => {
    const nodes = await Promise.all(
      ["a", "b", "c"].map((id) => makeNode(id, { batchMsgsMax: 64 })),
    );
    connectAll(nodes);
    for (let round = 0; round < 10; round++) {
      for (const n of nodes) {
        const msgs: Message[] = [];
        for (let i = 0; i < 50; i++) {
          for (const other of nodes) {
            if (other !== n) msgs.push(hb(n.id, other.id, round * 50 + i));
          }
        }
        n.t.send(msgs);
      }
      await new Promise((r) => setImmediate(r));
    }
    await waitFor(() => nodes.every((n) => n.got.length === 1000), "500 messages from each peer");
    for (const n of nodes) {
      for (const other of nodes) {
        if (other !== n) expect(commitsFrom(n.got, other.id)).toEqual(range(0, 500));
      }
    }
  });

  it("reaches a peer that starts later, after reconnecting", async () => {
    const port = await freePort();
    const a = await makeNode("a");
    a.t.setPeers({ a: a.addr, b: `127.0.0.1:${port}` });
    a.t.send(range(0, 50).map((i) => hb("a", "b", i)));
    await waitFor(() => (a.t.stats().b?.reconnects ?? 0) >= 2, "failed dial attempts");
    expect(a.t.stats().b!.connected).toBe(false);
    expect(a.t.stats().b!.lastError).not.toBe("");

    const b = await makeNode("b", { port });
    b.t.setPeers({ a: a.addr, b: b.addr });
    await waitFor(() => a.t.stats().b!.connected, "a connected to b");
    a.t.send(range(1000, 50).map((i) => hb("a", "b", i)));
    await waitFor(() => commitsFrom(b.got, "a").includes(1049), "messages sent after b came up");
    const commits = commitsFrom(b.got, "a");
    // Earlier ones are delivered or dropped, never reordered; later ones all arrive.
    expect(isStrictlyIncreasing(commits)).toBe(true);
    expect(commits.filter((c) => c >= 1000)).toEqual(range(1000, 50));
    expect(commits.length).toBeLessThanOrEqual(100);
  });

  it("recovers when a peer stops and restarts on the same port", async () => {
    const a = await makeNode("a");
    const b = await makeNode("b");
    connectAll([a, b]);
    a.t.send([hb("a", "b", 1)]);
    await waitFor(() => b.got.length === 1, "first message");
    const port = b.port;
    await b.t.stop();
    await waitFor(() => !a.t.stats().b!.connected, "a noticed b went down");
    const reconnectsBefore = a.t.stats().b!.reconnects;

    const b2 = await makeNode("b", { port });
    b2.t.setPeers({ a: a.addr, b: b2.addr });
    await waitFor(() => a.t.stats().b!.connected, "a reconnected to restarted b");
    expect(a.t.stats().b!.reconnects).toBeGreaterThan(reconnectsBefore);
    a.t.send(range(10, 20).map((i) => hb("a", "b", i)));
    b2.t.send([hb("b", "a", 7)]);
    await waitFor(() => commitsFrom(b2.got, "a").includes(29), "messages after restart");
    await waitFor(() => commitsFrom(a.got, "b").includes(7), "restarted b reaches a");
    const commits = commitsFrom(b2.got, "a");
    expect(isStrictlyIncreasing(commits)).toBe(true);
    expect(commits.filter((c) => c >= 10)).toEqual(range(10, 20));
  });

  it("setPeers removes peers (closing their connections) and follows address changes", async () => {
    const a = await makeNode("a");
    const b = await makeNode("b");
    const c = await makeNode("c");
    a.t.setPeers({ a: a.addr, b: b.addr });
    a.t.send([hb("a", "b", 1), hb("a", "c", 1)]);
    await waitFor(() => b.got.length === 1, "a reaches b");
    expect(a.t.transportTotals().droppedUnknownPeer).toBe(1);
    expect(Object.keys(a.t.stats())).toEqual(["b"]);
    await waitFor(() => b.t.transportTotals().incomingStreams === 1, "b sees a's stream");

    const sockets = process.getActiveResourcesInfo().filter((r) => r === "TCPSocketWrap").length;
    a.t.setPeers({});
    expect(a.t.stats()).toEqual({});
    await waitFor(() => b.t.transportTotals().incomingStreams === 0, "a's stream to b closed");
    // Both ends of the a->b connection go away.
    await waitFor(
      () =>
        process.getActiveResourcesInfo().filter((r) => r === "TCPSocketWrap").length <= sockets - 2,
      "a->b connection closed",
    );

    // "b" at c's address: c refuses messages that are not addressed to it.
    a.t.setPeers({ b: c.addr });
    a.t.send([hb("a", "b", 2)]);
    await waitFor(() => c.t.transportTotals().misaddressedMsgs === 1, "c drops a message for b");
    expect(c.got).toEqual([]);
    a.t.setPeers({ b: b.addr });
    expect(a.t.stats().b!.address).toBe(b.addr);
    await waitFor(() => a.t.stats().b!.connected, "a reconnected to b's address");
    a.t.send([hb("a", "b", 3)]);
    await waitFor(() => b.got.length === 2, "a reaches b again");
    expect(commitsFrom(b.got, "a")).toEqual([1, 3]);
  });

  it("bounds the queue of an unreachable peer by count, drops and reports the surplus", async () => {
    const port = await freePort();
    const unreachable: NodeId[] = [];
    const a = await makeNode("a", {
      queueMsgsMax: 100,
      onUnreachable: (p) => unreachable.push(p),
    });
    a.t.setPeers({ b: `127.0.0.1:${port}` });
    a.t.send(range(0, 150).map((i) => hb("a", "b", i)));
    const s = a.t.stats().b!;
    expect(s.queuedMsgs).toBe(100);
    expect(s.dropped).toBe(50);
    expect(s.sentMsgs).toBe(0);
    expect(unreachable).toEqual([]); // reported asynchronously, never from inside send()
    await waitFor(() => unreachable.includes("b"), "onUnreachable(b)");
    // Reports are rate-limited: 50 drops in a burst do not mean 50 callbacks.
    expect(unreachable.length).toBeLessThan(5);

    a.t.send([hb("a", "nobody", 1)]);
    expect(a.t.transportTotals().droppedUnknownPeer).toBe(1);
    expect(a.t.stats().nobody).toBeUndefined();

    // The queued messages are delivered, in order, once the peer comes up.
    const b = await makeNode("b", { port });
    await waitFor(() => b.got.length === 100, "queued messages delivered");
    expect(commitsFrom(b.got, "a")).toEqual(range(0, 100));
  });

  it("bounds the queue by bytes", async () => {
    const port = await freePort();
    const a = await makeNode("a", { queueBytesMax: 10_000 });
    a.t.setPeers({ b: `127.0.0.1:${port}` });
    const app = (i: number): Message => ({
      type: "app",
      from: "a",
      to: "b",
      term: 1,
      index: i,
      logTerm: 1,
      commit: 0,
      entries: [{ kind: "normal", index: i + 1, term: 1, data: new Uint8Array(1000) }],
    });
    a.t.send(range(0, 20).map(app));
    const s = a.t.stats().b!;
    expect(s.queuedBytes).toBeLessThanOrEqual(10_000);
    expect(s.queuedMsgs).toBeGreaterThan(0);
    expect(s.queuedMsgs).toBeLessThan(20);
    expect(s.queuedMsgs + s.dropped).toBe(20);
  });

  it("stops writing to a peer that stops reading: the queue fills up and drops", async () => {
    // A server that accepts the stream and then never reads from it.
    const stalled = new Server();
    const calls: ServerReadableStream<Buffer, Buffer>[] = [];
    stalled.addService(
      {
        Stream: {
          path: RAFT_STREAM_PATH,
          requestStream: true,
          responseStream: false,
          requestSerialize: (v: Buffer) => v,
          requestDeserialize: (v: Buffer) => v,
          responseSerialize: (v: Buffer) => v,
          responseDeserialize: (v: Buffer) => v,
        },
      },
      {
        Stream: (call: ServerReadableStream<Buffer, Buffer>) => {
          calls.push(call);
          call.sendMetadata(new Metadata());
          call.pause();
        },
      },
    );
    const port = await new Promise<number>((resolve, reject) =>
      stalled.bindAsync("127.0.0.1:0", ServerCredentials.createInsecure(), (err, p) =>
        err ? reject(err) : resolve(p),
      ),
    );
    try {
      const a = await makeNode("a", { queueMsgsMax: 50, batchBytesMax: 64 << 10 });
      a.t.setPeers({ b: `127.0.0.1:${port}` });
      await waitFor(() => a.t.stats().b!.connected, "stream accepted");
      const big = (i: number): Message => ({
        type: "app",
        from: "a",
        to: "b",
        term: 1,
        index: i,
        logTerm: 1,
        commit: 0,
        entries: [{ kind: "normal", index: i + 1, term: 1, data: new Uint8Array(64 << 10) }],
      });
      // 400 messages of 64 KiB (25 MiB), sent over time so that the writer gets every chance.
      for (let round = 0; round < 40; round++) {
        a.t.send(range(round * 10, 10).map(big));
        await new Promise((r) => setTimeout(r, 5));
      }
      const s = a.t.stats().b!;
      expect(s.connected).toBe(true);
      // Flow control held the writer back: a few MiB at most left the queue.
      expect(s.sentBytes).toBeLessThan(8 << 20);
      expect(s.queuedMsgs).toBe(50);
      expect(s.dropped).toBeGreaterThan(0);
      expect(s.sentMsgs + s.queuedMsgs + s.dropped).toBe(400);
    } finally {
      stalled.forceShutdown();
    }
  });

  it("rejects a stream from another cluster", async () => {
    const b = await makeNode("b");
    const a = await makeNode("a", { clusterId: "other-cluster" });
    a.t.setPeers({ b: b.addr });
    a.t.send([hb("a", "b", 1)]);
    await waitFor(() => b.t.transportTotals().rejectedStreams >= 2, "repeated rejections");
    const s = a.t.stats().b!;
    expect(s.connected).toBe(false);
    expect(s.lastError).toContain("FAILED_PRECONDITION");
    expect(b.got).toEqual([]);
  });

  it("rejects a batch with the wrong cluster id after delivering the good ones", async () => {
    const b = await makeNode("b");
    const client = new Client(b.addr, credentials.createInsecure());
    try {
      const md = new Metadata();
      md.set(CLUSTER_ID_HEADER, CLUSTER);
      md.set(FROM_HEADER, "x");
      const result = new Promise<ServiceError | null>((resolve) => {
        const call = client.makeClientStreamRequest<Buffer, Buffer>(
          RAFT_STREAM_PATH,
          (v) => v,
          (v) => v,
          md,
          (err) => resolve(err),
        );
        const good = encode("message-batch", {
          from: "x",
          clusterId: CLUSTER,
          messages: [hb("x", "b", 1)],
        });
        const bad = encode("message-batch", {
          from: "x",
          clusterId: "intruder",
          messages: [hb("x", "b", 2)],
        });
        call.write(Buffer.from(good));
        call.write(Buffer.from(bad));
        call.write(Buffer.from(good));
        call.end();
      });
      const err = await result;
      expect(err?.code).toBe(status.FAILED_PRECONDITION);
      expect(commitsFrom(b.got, "x")).toEqual([1]);
      expect(b.t.transportTotals().rejectedBatches).toBe(1);
    } finally {
      client.close();
    }
  });

  it("carries a 1 MiB snapshot chunk intact", async () => {
    const a = await makeNode("a");
    const b = await makeNode("b");
    connectAll([a, b]);
    const data = new Uint8Array(randomBytes(1 << 20));
    const snap: Message = {
      type: "snap",
      from: "a",
      to: "b",
      term: 3,
      chunk: {
        meta: {
          index: 42,
          term: 3,
          confState: { voters: ["a", "b"], learners: [], addresses: { a: a.addr, b: b.addr } },
        },
        offset: 1 << 20,
        total: 3 << 20,
        data,
      },
    };
    a.t.send([hb("a", "b", 1), snap, hb("a", "b", 2)]);
    await waitFor(() => b.got.length === 3, "snapshot chunk and heartbeats");
    expect(b.got.map((m) => m.type)).toEqual(["heartbeat", "snap", "heartbeat"]);
    const got = b.got[1]!;
    if (got.type !== "snap") throw new Error("not a snap");
    expect(got.chunk.offset).toBe(1 << 20);
    expect(got.chunk.total).toBe(3 << 20);
    expect(got.chunk.meta).toEqual(snap.chunk.meta);
    expect(got.chunk.data.byteLength).toBe(1 << 20);
    expect(Buffer.compare(Buffer.from(got.chunk.data), Buffer.from(data))).toBe(0);
  });

  it("delivers a burst of 20k small messages complete and in order", async () => {
    const a = await makeNode("a", { queueMsgsMax: 25_000 });
    const b = await makeNode("b");
    connectAll([a, b]);
    a.t.send([hb("a", "b", -1)]);
    await waitFor(() => b.got.length === 1, "stream up");
    for (let i = 0; i < 20_000; i++) a.t.send([hb("a", "b", i)]);
    await waitFor(() => b.got.length === 20_001, "20k messages", 20_000);
    expect(commitsFrom(b.got, "a")).toEqual([-1, ...range(0, 20_000)]);
    const s = a.t.stats().b!;
    expect(s.dropped).toBe(0);
    expect(s.sentMsgs).toBe(20_001);
    // Batched: far fewer batches than messages.
    expect(s.sentBatches).toBeLessThan(500);
  });

  it("estimates message sizes as upper bounds of their encoding", () => {
    const msgs: Message[] = [
      hb("n1", "n2", 123_456_789),
      { type: "heartbeat-resp", from: "n1", to: "n2", term: 2 ** 40, context: "ctx-é-漢字" },
      {
        type: "app-resp",
        from: "n1",
        to: "n2",
        term: 2 ** 50,
        index: 2 ** 50,
        reject: true,
        rejectHint: 2 ** 50,
        logTerm: 2 ** 50,
      },
      {
        type: "app",
        from: "node-with-a-long-name",
        to: "n2",
        term: 7,
        index: 2 ** 40,
        logTerm: 2 ** 40,
        commit: 2 ** 40,
        entries: [
          { kind: "normal", index: 2 ** 40, term: 2 ** 40, data: new Uint8Array(0) },
          { kind: "normal", index: 2 ** 40, term: 2 ** 40, data: new Uint8Array(70_000) },
          {
            kind: "conf",
            index: 2 ** 40,
            term: 2 ** 40,
            change: { type: "add-learner", nodeId: "n9", address: "10.0.0.9:7000" },
          },
          { kind: "conf", index: 2 ** 40, term: 2 ** 40, change: { type: "remove", nodeId: "n9" } },
        ],
      },
      { type: "vote", from: "n1", to: "n2", term: 1, index: 2 ** 40, logTerm: 9, transfer: true },
      { type: "pre-vote-resp", from: "n1", to: "n2", term: 1, reject: false },
      {
        type: "snap-resp",
        from: "n1",
        to: "n2",
        term: 1,
        snapIndex: 2 ** 40,
        snapTerm: 2 ** 40,
        offset: 2 ** 40,
      },
      {
        type: "read-index-resp",
        from: "n1",
        to: "n2",
        term: 1,
        context: "r".repeat(300),
        index: 1,
        reject: false,
      },
      { type: "timeout-now", from: "n1", to: "n2", term: 1 },
      { type: "transfer-leader", from: "n1", to: "n2", term: 1, target: "n3" },
      {
        type: "snap",
        from: "n1",
        to: "n2",
        term: 1,
        chunk: {
          meta: {
            index: 2 ** 40,
            term: 2 ** 40,
            confState: {
              voters: ["n1", "n2", "n3"],
              learners: ["n4"],
              addresses: { n1: "10.0.0.1:7000", n2: "10.0.0.2:7000", n3: "h3:1", n4: "h4:1" },
            },
          },
          offset: 2 ** 40,
          total: 2 ** 40,
          data: new Uint8Array(100_000),
        },
      },
    ];
    for (const m of msgs) {
      // The envelope around a lone message is larger than a message's share of a batch.
      expect(estimateMessageBytes(m), m.type).toBeGreaterThanOrEqual(
        encode("message-batch", m).length,
      );
    }
  });
});
