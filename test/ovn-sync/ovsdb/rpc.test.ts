/** RPC-session behaviour that a healthy ovsdb-server cannot show: a fake peer over a socket pair. */
import net from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { JsonStreamParser } from "../../../src/ovn-sync/ovsdb/framing.js";
import {
  OvsdbConnectionError,
  OvsdbOverloadError,
  OvsdbRpcError,
  OvsdbTimeoutError,
  RpcSession,
} from "../../../src/ovn-sync/ovsdb/rpc.js";

interface Peer {
  readonly socket: net.Socket;
  readonly received: unknown[];
  send(msg: unknown): void;
}

const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const f of cleanups.splice(0)) f();
});

/** A fake OVSDB peer; `reply` decides what to answer to each message (undefined = stay silent). */
async function pair(
  reply: (msg: Record<string, unknown>) => unknown,
): Promise<{ client: net.Socket; peer: Peer }> {
  const server = net.createServer();
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const port = (server.address() as net.AddressInfo).port;
  const accepted = new Promise<net.Socket>((r) => server.once("connection", r));
  const client = net.createConnection({ host: "127.0.0.1", port });
  await new Promise<void>((r) => client.once("connect", () => r()));
  const socket = await accepted;
  const parser = new JsonStreamParser();
  const received: unknown[] = [];
  const peer: Peer = { socket, received, send: (m) => socket.write(JSON.stringify(m)) };
  socket.on("data", (d) => {
    for (const m of parser.feed(d)) {
      received.push(m);
      const r = reply(m as Record<string, unknown>);
      if (r !== undefined) peer.send(r);
    }
  });
  socket.on("error", () => {});
  cleanups.push(() => {
    client.destroy();
    socket.destroy();
    server.close();
  });
  return { client, peer };
}

const echoBack = (m: Record<string, unknown>) =>
  m.method === "echo" ? { id: m.id, result: m.params, error: null } : undefined;

describe("RpcSession", () => {
  it("answers the server's echo requests and delivers notifications", async () => {
    const { client, peer } = await pair(() => undefined);
    const s = new RpcSession(client, { inactivityProbeMs: 0 });
    const notes: unknown[] = [];
    s.on("notification", (method, params) => notes.push([method, params]));
    peer.send({ id: "echo", method: "echo", params: ["ping"] });
    peer.send({ id: null, method: "update2", params: ["m", {}] });
    peer.send({ id: 7, method: "bogus", params: [] });
    await vitestEventually(() => peer.received.length === 2);
    expect(peer.received).toEqual([
      { id: "echo", result: ["ping"], error: null },
      { id: 7, result: null, error: { error: "unknown method" } },
    ]);
    expect(notes).toEqual([["update2", ["m", {}]]]);
    expect(s.stats.echoRequestsAnswered).toBe(1);
    s.close();
  });

  it("keeps a live connection open with echo probes and closes a dead one", async () => {
    const live = await pair(echoBack);
    const s1 = new RpcSession(live.client, { inactivityProbeMs: 40 });
    const dead = await pair(() => undefined);
    const s2 = new RpcSession(dead.client, { inactivityProbeMs: 40 });
    const closed = new Promise<Error | undefined>((r) => s2.once("close", r));
    const pending = s2.request("transact", ["db"], 0).catch((e: unknown) => e);
    const err = await closed;
    expect(err).toBeInstanceOf(OvsdbConnectionError);
    expect(err?.message).toMatch(/inactivity probe/);
    expect(await pending).toBeInstanceOf(OvsdbConnectionError);
    expect(dead.peer.received.some((m) => (m as { method?: string }).method === "echo")).toBe(true);
    await new Promise((r) => setTimeout(r, 200));
    expect(s1.isClosed).toBe(false);
    expect(s1.stats.probesSent).toBeGreaterThan(1);
    s1.close();
  });

  it("times out requests, reports RPC errors, and bounds requests in flight and queued", async () => {
    const held: Record<string, unknown>[] = [];
    const { client, peer } = await pair((m) => {
      if (m.method === "fail")
        return { id: m.id, result: null, error: { error: "unknown database", details: "x" } };
      if (m.method === "hold") held.push(m);
      return undefined;
    });
    const s = new RpcSession(client, { inactivityProbeMs: 0, inFlightMax: 2, queuedMax: 1 });
    await expect(s.request("slow", [], 50)).rejects.toBeInstanceOf(OvsdbTimeoutError);
    const f = await s.request("fail", []).catch((e: unknown) => e);
    expect(f).toBeInstanceOf(OvsdbRpcError);
    expect((f as OvsdbRpcError).error).toBe("unknown database");
    expect((f as Error).message).toBe("fail: unknown database (x)");

    const a = s.request("hold", []);
    const b = s.request("hold", []);
    const c = s.request("hold", []); // queued
    await expect(s.request("hold", [])).rejects.toBeInstanceOf(OvsdbOverloadError);
    await vitestEventually(() => held.length === 2);
    expect(s.inFlightCount).toBe(2);
    peer.send({ id: held[0]!.id, result: "A", error: null });
    expect(await a).toBe("A");
    await vitestEventually(() => held.length === 3); // the queued one was sent
    peer.send({ id: held[1]!.id, result: "B", error: null });
    peer.send({ id: held[2]!.id, result: "C", error: null });
    expect([await b, await c]).toEqual(["B", "C"]);
    s.close();
  });

  it("closes the connection on an oversized message", async () => {
    const { client, peer } = await pair(() => undefined);
    const s = new RpcSession(client, { inactivityProbeMs: 0, messageBytesMax: 1000 });
    const closed = new Promise<Error | undefined>((r) => s.once("close", r));
    peer.send({ id: null, method: "update2", params: ["m", "x".repeat(5000)] });
    expect((await closed)?.message).toMatch(/larger than 1000 bytes/);
  });
});

async function vitestEventually(pred: () => boolean, timeoutMs = 2_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!pred()) {
    if (Date.now() > deadline) throw new Error("condition not met");
    await new Promise((r) => setTimeout(r, 5));
  }
}
