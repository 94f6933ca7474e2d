import net from "node:net";
import { performance } from "node:perf_hooks";
import { type Proxy as ClientProxy, Toxiproxy } from "toxiproxy-node-client";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { ToxicProxy } from "./proxy.js";
import { startToxiproxyServer, type ToxiproxyServer } from "./server.js";
import { createRng } from "./toxics.js";

/** Upper bound for any single wait in these tests. */
const WAIT_MS_MAX = 3000;

interface Upstream {
  readonly address: string;
  close(): Promise<void>;
}

/** A loopback TCP server; `onConn` gets each socket. */
async function startUpstream(onConn: (s: net.Socket) => void): Promise<Upstream> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((s) => {
    sockets.add(s);
    s.on("close", () => sockets.delete(s));
    s.on("error", () => undefined);
    onConn(s);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const addr = server.address() as net.AddressInfo;
  return {
    address: `127.0.0.1:${addr.port}`,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

const startEcho = (): Promise<Upstream> => startUpstream((s) => s.pipe(s));
/** Sends `bytes` bytes on connect, then FIN. */
const startBlaster = (bytes: number): Promise<Upstream> =>
  startUpstream((s) => s.end(Buffer.alloc(bytes, 0x61)));

/** A client connection recording what it receives. */
class Client {
  readonly socket: net.Socket;
  private readonly chunks: Buffer[] = [];
  receivedBytes = 0;
  dataEvents = 0;
  ended = false;
  closed = false;
  error: NodeJS.ErrnoException | null = null;
  private readonly waiters = new Set<() => void>();

  constructor(address: string) {
    const [host, port] = address.split(":");
    this.socket = net.connect({ host: host ?? "127.0.0.1", port: Number(port) });
    this.socket.on("connect", () => this.notify());
    this.socket.on("data", (d: Buffer) => {
      this.chunks.push(d);
      this.receivedBytes += d.length;
      this.dataEvents++;
      this.notify();
    });
    this.socket.on("end", () => {
      this.ended = true;
      this.notify();
    });
    this.socket.on("close", () => {
      this.closed = true;
      this.notify();
    });
    this.socket.on("error", (e: NodeJS.ErrnoException) => {
      this.error = e;
      this.notify();
    });
  }

  get received(): Buffer {
    if (this.chunks.length > 1)
      this.chunks.splice(0, this.chunks.length, Buffer.concat(this.chunks));
    return this.chunks[0] ?? Buffer.alloc(0);
  }

  static async open(address: string): Promise<Client> {
    const c = new Client(address);
    await c.until(() => !c.socket.connecting || c.closed);
    if (c.error) throw c.error;
    return c;
  }

  private notify(): void {
    for (const w of this.waiters) w();
  }

  /** Resolves true when `pred` holds, false after `ms`. */
  until(pred: () => boolean, ms = WAIT_MS_MAX): Promise<boolean> {
    if (pred()) return Promise.resolve(true);
    return new Promise((resolve) => {
      const check = (): void => {
        if (!pred()) return;
        clearTimeout(timer);
        this.waiters.delete(check);
        resolve(true);
      };
      const timer = setTimeout(() => {
        this.waiters.delete(check);
        resolve(pred());
      }, ms);
      this.waiters.add(check);
    });
  }

  /** Sends `msg` and measures the time until `msg.length` more bytes came back. */
  async roundTrip(msg: string | Buffer, ms = WAIT_MS_MAX): Promise<number> {
    const target = this.receivedBytes + Buffer.byteLength(msg);
    const t0 = performance.now();
    this.socket.write(msg);
    const ok = await this.until(() => this.receivedBytes >= target, ms);
    if (!ok) throw new Error(`round trip timed out (${this.receivedBytes}/${target})`);
    return performance.now() - t0;
  }

  destroy(): void {
    this.socket.destroy();
  }
}

async function api(
  server: ToxiproxyServer,
  method: string,
  path: string,
  body?: string,
): Promise<{ status: number; json: unknown }> {
  const init: RequestInit = { method };
  if (body !== undefined) init.body = body;
  const res = await fetch(`${server.url}${path}`, init);
  const text = await res.text();
  return { status: res.status, json: text === "" ? undefined : JSON.parse(text) };
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe("toxiproxy-compatible server", () => {
  let server: ToxiproxyServer;
  let toxiproxy: Toxiproxy;
  let echo: Upstream;
  const clients: Client[] = [];
  const upstreams: Upstream[] = [];

  const connect = async (p: ClientProxy): Promise<Client> => {
    const c = await Client.open(p.listen);
    clients.push(c);
    return c;
  };
  const mkProxy = (name: string, upstream = echo.address): Promise<ClientProxy> =>
    toxiproxy.createProxy({ name, listen: "127.0.0.1:0", upstream });
  const blaster = async (bytes: number): Promise<Upstream> => {
    const u = await startBlaster(bytes);
    upstreams.push(u);
    return u;
  };

  beforeAll(async () => {
    server = await startToxiproxyServer({ host: "127.0.0.1", port: 0, seed: 42 });
    toxiproxy = new Toxiproxy(server.url);
    echo = await startEcho();
  });

  afterEach(async () => {
    for (const c of clients.splice(0)) c.destroy();
    for (const p of Object.values(await toxiproxy.getAll())) await p.remove();
    for (const u of upstreams.splice(0)) await u.close();
  });

  afterAll(async () => {
    await server.close();
    await echo.close();
  });

  it("serves /version and CRUD on proxies", async () => {
    expect(JSON.parse(await toxiproxy.getVersion())).toEqual({ version: "2.12.0" });
    const p = await mkProxy("crud");
    expect(p.listen).toMatch(/^127\.0\.0\.1:\d+$/);
    expect(p.listen).not.toBe("127.0.0.1:0");
    expect(p.enabled).toBe(true);
    const all = await toxiproxy.getAll();
    expect(Object.keys(all)).toEqual(["crud"]);
    expect((await toxiproxy.get("crud")).upstream).toBe(echo.address);

    const disabled = await p.update({ enabled: false, listen: p.listen, upstream: p.upstream });
    expect(disabled.enabled).toBe(false);
    expect(disabled.listen).toBe(p.listen);
    const shown = await api(server, "GET", "/proxies/crud");
    expect(shown.json).toEqual({
      name: "crud",
      listen: p.listen,
      upstream: echo.address,
      enabled: false,
      toxics: [],
    });
    // PATCH is accepted too (Toxiproxy >= 2.6).
    const patched = await api(server, "PATCH", "/proxies/crud", '{"enabled":true}');
    expect(patched.status).toBe(200);
    expect((patched.json as { enabled: boolean }).enabled).toBe(true);

    await p.remove();
    await expect(toxiproxy.get("crud")).rejects.toThrow(/404/);
    expect(await api(server, "DELETE", "/proxies/crud")).toEqual({
      status: 404,
      json: { error: "proxy not found", status: 404 },
    });
  });

  it("creates, shows, lists, updates and deletes toxics", async () => {
    const p = await mkProxy("tox");
    const t = await p.addToxic({
      type: "latency",
      attributes: { latency: 10, jitter: 0 },
    } as never);
    expect(t.toJson()).toEqual({
      name: "latency_downstream",
      type: "latency",
      stream: "downstream",
      toxicity: 1,
      attributes: { latency: 10, jitter: 0 },
    });
    await p.addToxic({
      name: "cut",
      type: "timeout",
      stream: "upstream",
      toxicity: 0.5,
      attributes: { timeout: 0 },
    });
    const listed = await api(server, "GET", "/proxies/tox/toxics");
    expect((listed.json as Array<{ name: string }>).map((x) => x.name)).toEqual([
      "latency_downstream",
      "cut",
    ]);
    const got = await p.getToxic("latency_downstream");
    const updated = await got.update({ attributes: { jitter: 5 } } as never);
    expect(updated.attributes).toEqual({ latency: 10, jitter: 5 });
    expect(updated.toxicity).toBe(1);
    const shown = await toxiproxy.get("tox");
    expect(shown.toJson().name).toBe("tox");
    expect(
      ((await api(server, "GET", "/proxies/tox")).json as { toxics: unknown[] }).toxics,
    ).toHaveLength(2);

    await updated.remove();
    await expect(p.getToxic("latency_downstream")).rejects.toThrow(/404/);
    expect(await api(server, "DELETE", "/proxies/tox/toxics/latency_downstream")).toEqual({
      status: 404,
      json: { error: "toxic not found", status: 404 },
    });
  });

  it("returns Toxiproxy's error bodies and status codes", async () => {
    const p = await mkProxy("errs");
    const dup = await api(
      server,
      "POST",
      "/proxies",
      JSON.stringify({ name: "errs", listen: "127.0.0.1:0", upstream: echo.address }),
    );
    expect(dup).toEqual({ status: 409, json: { error: "proxy already exists", status: 409 } });
    expect(await api(server, "GET", "/proxies/nope")).toEqual({
      status: 404,
      json: { error: "proxy not found", status: 404 },
    });
    expect(await api(server, "GET", "/proxies/errs/toxics/nope")).toEqual({
      status: 404,
      json: { error: "toxic not found", status: 404 },
    });
    const bad = await api(server, "POST", "/proxies", "{not json");
    expect(bad.status).toBe(400);
    expect((bad.json as { error: string }).error).toMatch(/^bad request body: /);
    expect(await api(server, "POST", "/proxies", JSON.stringify({ upstream: "x:1" }))).toEqual({
      status: 400,
      json: { error: "missing required field: name", status: 400 },
    });
    expect(await api(server, "POST", "/proxies", JSON.stringify({ name: "x" }))).toEqual({
      status: 400,
      json: { error: "missing required field: upstream", status: 400 },
    });
    expect(
      await api(server, "POST", "/proxies/errs/toxics", JSON.stringify({ type: "explode" })),
    ).toEqual({ status: 400, json: { error: "invalid toxic type", status: 400 } });
    const badStream = await api(
      server,
      "POST",
      "/proxies/errs/toxics",
      JSON.stringify({ type: "latency", stream: "sideways" }),
    );
    expect(badStream).toEqual({
      status: 400,
      json: { error: "stream was invalid, can be either upstream or downstream", status: 400 },
    });
    const toxic = JSON.stringify({ type: "latency", attributes: { latency: 1 } });
    expect((await api(server, "POST", "/proxies/errs/toxics", toxic)).status).toBe(200);
    expect(await api(server, "POST", "/proxies/errs/toxics", toxic)).toEqual({
      status: 409,
      json: { error: "toxic already exists", status: 409 },
    });
    expect((await api(server, "POST", "/proxies/nope/toxics", toxic)).status).toBe(404);
    expect((await api(server, "POST", "/proxies/nope/toxics", "{bad")).status).toBe(404);
    const badToxicJson = await api(server, "POST", "/proxies/errs/toxics", "{bad");
    expect(badToxicJson.status).toBe(400);
    expect((badToxicJson.json as { error: string }).error).toMatch(/^bad request body: /);
    // Listen address in use: Go surfaces the bind error as a 500.
    const inUse = await api(
      server,
      "POST",
      "/proxies",
      JSON.stringify({ name: "clash", listen: p.listen, upstream: echo.address }),
    );
    expect(inUse.status).toBe(500);
    expect(inUse.json).toEqual({
      error: `listen tcp ${p.listen}: bind: address already in use`,
      status: 500,
    });
    expect(Object.keys(await toxiproxy.getAll())).toEqual(["errs"]);
    // The client wraps HTTP errors in ToxiproxyError.
    await expect(mkProxy("errs")).rejects.toThrow(/409/);
  });

  it("proxies data unchanged without toxics", async () => {
    const p = await mkProxy("plain");
    const c = await connect(p);
    const payload = Buffer.alloc(300_000);
    for (let i = 0; i < payload.length; i++) payload[i] = (i * 31) & 0xff;
    await c.roundTrip(payload);
    expect(c.received.equals(payload)).toBe(true);
  });

  it("latency 200 ms adds >= 200 ms to a round trip, also on an open connection", async () => {
    const p = await mkProxy("lat");
    const c = await connect(p);
    const base = await c.roundTrip("hello");
    expect(base).toBeLessThan(100);
    await p.addToxic({
      name: "lat",
      type: "latency",
      stream: "downstream",
      toxicity: 1,
      attributes: { latency: 200, jitter: 0 },
    });
    const slowed = await c.roundTrip("hello");
    expect(slowed).toBeGreaterThanOrEqual(195);
    expect(slowed).toBeLessThan(1000);
    // Upstream latency adds up with downstream latency.
    await p.addToxic({
      name: "lat_up",
      type: "latency",
      stream: "upstream",
      toxicity: 1,
      attributes: { latency: 100, jitter: 0 },
    });
    const c2 = await connect(p);
    expect(await c2.roundTrip("x")).toBeGreaterThanOrEqual(295);
    // Updating a toxic applies to open connections too.
    await (await p.getToxic("lat")).update({ attributes: { latency: 400, jitter: 0 } } as never);
    expect(await c.roundTrip("hello")).toBeGreaterThanOrEqual(395);
    await (await p.getToxic("lat")).remove();
    await (await p.getToxic("lat_up")).remove();
    expect(await c.roundTrip("hello")).toBeLessThan(100);
  });

  it("timeout 0 stops an open connection's data at once; removing it releases the held data", async () => {
    const p = await mkProxy("partition");
    const c = await connect(p);
    await c.roundTrip("before");
    const toxic = await p.addToxic({
      name: "cut",
      type: "timeout",
      stream: "downstream",
      toxicity: 1,
      attributes: { timeout: 0 },
    });
    const before = c.receivedBytes;
    c.socket.write("during");
    expect(await c.until(() => c.receivedBytes > before, 400)).toBe(false);
    expect(c.closed).toBe(false);
    await toxic.remove();
    // Real Toxiproxy flushes the data the timeout toxic held once it is removed.
    expect(await c.until(() => c.receivedBytes >= before + 6, 1000)).toBe(true);
    expect(c.received.subarray(before).toString()).toBe("during");
    expect(await c.roundTrip("after")).toBeLessThan(100);
  });

  it("timeout > 0 stops data and closes the connection after the timeout", async () => {
    const p = await mkProxy("timeout");
    await p.addToxic({
      name: "t",
      type: "timeout",
      stream: "upstream",
      toxicity: 1,
      attributes: { timeout: 300 },
    });
    const t0 = performance.now();
    const c = await connect(p);
    c.socket.write("lost");
    expect(await c.until(() => c.closed)).toBe(true);
    const elapsed = performance.now() - t0;
    expect(elapsed).toBeGreaterThanOrEqual(280);
    expect(elapsed).toBeLessThan(1500);
    expect(c.receivedBytes).toBe(0);
  });

  it("reset_peer gives the client ECONNRESET", async () => {
    const p = await mkProxy("rst");
    await p.addToxic({
      name: "rst",
      type: "reset_peer",
      stream: "upstream",
      toxicity: 1,
      attributes: { timeout: 100 },
    } as never);
    const c = await connect(p);
    const t0 = performance.now();
    c.socket.write("boom");
    expect(await c.until(() => c.closed)).toBe(true);
    expect(performance.now() - t0).toBeGreaterThanOrEqual(90);
    expect(c.error?.code).toBe("ECONNRESET");
    expect(c.receivedBytes).toBe(0);
  });

  it("limit_data closes the connection after N bytes", async () => {
    const up = await blaster(50_000);
    const p = await mkProxy("limit", up.address);
    await p.addToxic({
      name: "lim",
      type: "limit_data",
      stream: "downstream",
      toxicity: 1,
      attributes: { bytes: 1000 },
    } as never);
    const c = await connect(p);
    expect(await c.until(() => c.closed)).toBe(true);
    expect(c.receivedBytes).toBe(1000);
    expect(c.error).toBeNull();
  });

  it("bandwidth slows a 200 KB transfer to the configured rate", async () => {
    const p = await mkProxy("bw");
    const payload = Buffer.alloc(200 * 1024, 0x62);
    const fast = await (await connect(p)).roundTrip(payload);
    expect(fast).toBeLessThan(150);
    await p.addToxic({
      name: "bw",
      type: "bandwidth",
      stream: "downstream",
      toxicity: 1,
      attributes: { rate: 500 },
    });
    const slow = await (await connect(p)).roundTrip(payload);
    // 200 KB at 500 KB/s is 400 ms; the first 100 ms slice leaves at once.
    expect(slow).toBeGreaterThanOrEqual(290);
    expect(slow).toBeLessThan(1500);
  });

  it("slicer delivers the data in many small chunks", async () => {
    const up = await blaster(4000);
    const p = await mkProxy("slicer", up.address);
    const plain = await connect(p);
    expect(await plain.until(() => plain.ended)).toBe(true);
    expect(plain.receivedBytes).toBe(4000);
    await p.addToxic({
      name: "sl",
      type: "slicer",
      stream: "downstream",
      toxicity: 1,
      attributes: { average_size: 100, size_variation: 20, delay: 2000 },
    });
    const c = await connect(p);
    expect(await c.until(() => c.ended)).toBe(true);
    expect(c.receivedBytes).toBe(4000);
    expect(c.received.equals(Buffer.alloc(4000, 0x61))).toBe(true);
    expect(c.dataEvents).toBeGreaterThanOrEqual(20);
    expect(c.dataEvents).toBeGreaterThan(plain.dataEvents * 10);
  });

  it("slow_close delays the close", async () => {
    const up = await blaster(10);
    const p = await mkProxy("slowclose", up.address);
    await p.addToxic({
      name: "sc",
      type: "slow_close",
      stream: "downstream",
      toxicity: 1,
      attributes: { delay: 300 },
    });
    const t0 = performance.now();
    const c = await connect(p);
    expect(await c.until(() => c.receivedBytes === 10)).toBe(true);
    expect(await c.until(() => c.ended)).toBe(true);
    const elapsed = performance.now() - t0;
    expect(elapsed).toBeGreaterThanOrEqual(280);
    expect(elapsed).toBeLessThan(1500);
  });

  it("a disabled proxy closes its connections and refuses new ones; enabling re-listens", async () => {
    const p = await mkProxy("down");
    const c = await connect(p);
    await c.roundTrip("up");
    await p.update({ enabled: false, listen: p.listen, upstream: p.upstream });
    expect(await c.until(() => c.closed)).toBe(true);
    await expect(Client.open(p.listen)).rejects.toMatchObject({ code: "ECONNREFUSED" });
    await p.update({ enabled: true, listen: p.listen, upstream: p.upstream });
    const c2 = await connect(p);
    expect(await c2.roundTrip("back")).toBeLessThan(100);
  });

  it("toxicity 0 never applies; toxicity 0.5 applies to some connections", async () => {
    const p = await mkProxy("toxicity");
    await p.addToxic({
      name: "never",
      type: "latency",
      stream: "downstream",
      toxicity: 0,
      attributes: { latency: 500, jitter: 0 },
    });
    const rtts = await Promise.all(
      Array.from({ length: 10 }, async () => (await connect(p)).roundTrip("x")),
    );
    for (const rtt of rtts) expect(rtt).toBeLessThan(250);

    await (await p.getToxic("never")).remove();
    await p.addToxic({
      name: "half",
      type: "latency",
      stream: "downstream",
      toxicity: 0.5,
      attributes: { latency: 300, jitter: 0 },
    });
    const mixed = await Promise.all(
      Array.from({ length: 20 }, async () => (await connect(p)).roundTrip("x")),
    );
    const slowed = mixed.filter((rtt) => rtt >= 290).length;
    const fast = mixed.filter((rtt) => rtt < 200).length;
    expect(slowed + fast).toBe(20);
    expect(slowed).toBeGreaterThan(0);
    expect(fast).toBeGreaterThan(0);
  });

  it("POST /reset enables all proxies and removes all toxics", async () => {
    const a = await mkProxy("ra");
    const b = await mkProxy("rb");
    await a.addToxic({
      name: "cut",
      type: "timeout",
      stream: "downstream",
      toxicity: 1,
      attributes: { timeout: 0 },
    });
    await b.update({ enabled: false, listen: b.listen, upstream: b.upstream });
    const held = await connect(a);
    held.socket.write("held");
    expect(await held.until(() => held.receivedBytes > 0, 200)).toBe(false);
    await toxiproxy.reset();
    const all = await api(server, "GET", "/proxies");
    for (const proxy of Object.values(
      all.json as Record<string, { enabled: boolean; toxics: [] }>,
    )) {
      expect(proxy.enabled).toBe(true);
      expect(proxy.toxics).toEqual([]);
    }
    expect(await held.until(() => held.received.toString() === "held", 1000)).toBe(true);
    expect(await (await connect(b)).roundTrip("ok")).toBeLessThan(100);
  });

  it("POST /populate creates proxies and keeps unchanged ones", async () => {
    const created = await toxiproxy.populate([
      { name: "pa", listen: "127.0.0.1:0", upstream: echo.address },
      { name: "pb", listen: "127.0.0.1:0", upstream: echo.address, enabled: false },
    ]);
    expect(Object.keys(created).sort()).toEqual(["pa", "pb"]);
    expect(created.pb?.enabled).toBe(false);
    const pa = created.pa;
    if (!pa) throw new Error("pa missing");
    const again = await toxiproxy.populate([pa.toJson()]);
    expect(again.pa?.listen).toBe(pa.listen);
    expect(await (await connect(pa)).roundTrip("pop")).toBeLessThan(100);
    const bad = await api(server, "POST", "/populate", JSON.stringify([{ name: "x" }]));
    expect(bad).toEqual({
      status: 400,
      json: { error: "missing required field: upstream", status: 400, proxies: [] },
    });
  });

  it("limits connections per proxy and close() shuts everything down", async () => {
    const own = await startToxiproxyServer({
      port: 0,
      seed: 7,
      limits: { connectionsMax: 2 },
    });
    const client = new Toxiproxy(own.url);
    const p = await client.createProxy({
      name: "lim",
      listen: "127.0.0.1:0",
      upstream: echo.address,
    });
    const a = await Client.open(p.listen);
    const b = await Client.open(p.listen);
    clients.push(a, b);
    await a.roundTrip("a");
    await b.roundTrip("b");
    const third = await Client.open(p.listen);
    clients.push(third);
    expect(await third.until(() => third.closed)).toBe(true);
    await own.close();
    expect(await a.until(() => a.closed)).toBe(true);
    expect(await b.until(() => b.closed)).toBe(true);
    await expect(Client.open(p.listen)).rejects.toMatchObject({ code: "ECONNREFUSED" });
    await expect(fetch(`${own.url}/version`)).rejects.toThrow();
  });
});

describe("backpressure", () => {
  it("a paused reader pauses the upstream instead of buffering without bound", async () => {
    const linkBufferBytesMax = 64 * 1024;
    const echo = await startEcho();
    const proxy = new ToxicProxy("bp", "127.0.0.1:0", echo.address, true, {
      rng: createRng(1),
      limits: { connectionsMax: 4, linkBufferBytesMax },
    });
    await proxy.start();
    // The client writes 64 MB as fast as it may but never reads the echo.
    const c = await Client.open(proxy.listen);
    c.socket.pause();
    const total = 64 * 1024 * 1024;
    const chunk = Buffer.alloc(64 * 1024, 1);
    let written = 0;
    let stalled = false;
    const pump = (): void => {
      while (written < total) {
        written += chunk.length;
        if (!c.socket.write(chunk)) {
          c.socket.once("drain", pump);
          return;
        }
      }
    };
    pump();
    let bufferedMax = 0;
    for (let i = 0; i < 60; i++) {
      bufferedMax = Math.max(bufferedMax, proxy.bufferedBytes);
      await sleep(10);
    }
    stalled = written < total;
    // Per direction: the queue (max + one read) plus one write past the high-water mark.
    expect(bufferedMax).toBeLessThanOrEqual(2 * (2 * linkBufferBytesMax + 128 * 1024));
    expect(stalled).toBe(true);
    c.socket.resume();
    await c.until(() => c.receivedBytes >= total, 10_000);
    expect(c.receivedBytes).toBe(total);
    c.destroy();
    await proxy.stop();
    await echo.close();
  });
});
