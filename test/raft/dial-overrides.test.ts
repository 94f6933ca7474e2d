// Per-replica dial overrides: n1 dials n2 through a TCP forwarder instead of n2's membership
// address; killing the forwarder cuts n1→n2 while n2 stays reachable directly for the others.
import { mkdtempSync, rmSync } from "node:fs";
import { connect, createServer, type Server, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { pino } from "pino";
import { afterEach, describe, expect, it } from "vitest";
import { freePort } from "../../cluster/lib/replica-processes.js";
import { RaftNode } from "../../src/raft/node/raft-node.js";
import { BareStateMachine } from "../../src/server/bare/bare-state-machine.js";

const logger = pino({ level: "silent" });
const cleanups: (() => Promise<void> | void)[] = [];

afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** A plain TCP pipe listenPort → 127.0.0.1:upstreamPort that counts connections and bytes. */
class Forwarder {
  connections = 0;
  bytes = 0;
  #server: Server | undefined;
  readonly #sockets = new Set<Socket>();

  constructor(
    readonly listenPort: number,
    readonly upstreamPort: number,
  ) {}

  async start(): Promise<void> {
    const server = createServer((down) => {
      this.connections++;
      const up = connect(this.upstreamPort, "127.0.0.1");
      for (const s of [down, up]) {
        this.#sockets.add(s);
        s.on("close", () => this.#sockets.delete(s));
        s.on("error", () => {
          down.destroy();
          up.destroy();
        });
      }
      down.on("data", (b: Buffer) => {
        this.bytes += b.length;
      });
      down.pipe(up);
      up.pipe(down);
    });
    await new Promise<void>((res, rej) => {
      server.once("error", rej);
      server.listen(this.listenPort, "127.0.0.1", () => res());
    });
    this.#server = server;
  }

  /** Stops listening and drops every live connection. */
  async kill(): Promise<void> {
    const server = this.#server;
    this.#server = undefined;
    for (const s of this.#sockets) s.destroy();
    this.#sockets.clear();
    if (server) await new Promise<void>((res) => server.close(() => res()));
  }
}

async function until<T>(what: string, fn: () => T | undefined, ms = 10_000): Promise<T> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    const v = fn();
    if (v !== undefined) return v;
    await sleep(20);
  }
  throw new Error(`timed out waiting for ${what}`);
}

describe("RaftNode transport dial overrides", () => {
  it("dials an overridden peer at the override address, never at its membership address", async () => {
    const dir = mkdtempSync(join(tmpdir(), "novanet-dial-"));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    const ids = ["n1", "n2", "n3"];
    const ports = await Promise.all(ids.map(() => freePort()));
    const initial = Object.fromEntries(ids.map((id, i) => [id, `127.0.0.1:${ports[i]}`]));
    const fwd = new Forwarder(await freePort(), ports[1]!);
    await fwd.start();
    cleanups.push(() => fwd.kill());
    const viaFwd = `127.0.0.1:${fwd.listenPort}`;

    const nodes = await Promise.all(
      ids.map(async (id, i) => {
        const node = await RaftNode.start({
          id,
          clusterId: "test",
          dataDir: join(dir, id),
          peerListen: `127.0.0.1:${ports[i]}`,
          initialMembers: initial,
          stateMachine: new BareStateMachine(),
          logger,
          tickMs: 20,
          transport: {
            backoffMsMin: 20,
            backoffMsMax: 200,
            ...(id === "n1" ? { dialOverrides: { n2: viaFwd } } : {}),
          },
        });
        cleanups.push(() => node.stop());
        return node;
      }),
    );
    const [n1, n2, n3] = nodes as [RaftNode, RaftNode, RaftNode];

    // The membership keeps n2's real address; only n1's dialing differs.
    await until("n1 connected to n2 via the forwarder", () =>
      n1.status().transport.n2?.connected ? true : undefined,
    );
    expect(n1.status().transport.n2?.address).toBe(viaFwd);
    expect(n3.status().transport.n2?.address).toBe(initial.n2);
    expect(fwd.connections).toBeGreaterThan(0);
    const leader = await until("a leader", () => nodes.find((n) => n.status().role === "leader"));
    for (let i = 0; i < 5; i++) await leader.propose(new TextEncoder().encode(`w${i}`));
    await until("n1→n2 traffic through the forwarder", () => (fwd.bytes > 0 ? true : undefined));

    // Kill the forwarder: n1 cannot reach n2 any more (it does not fall back to the membership
    // address), although n2 is up and n3 reaches it directly.
    await fwd.kill();
    await until("n1 sees n2 unreachable", () =>
      n1.status().transport.n2?.connected === false ? true : undefined,
    );
    const reconnectsBefore = n1.status().transport.n2?.reconnects ?? 0;
    await sleep(1000);
    const s1 = n1.status().transport.n2;
    expect(s1?.connected).toBe(false);
    expect(s1?.address).toBe(viaFwd);
    expect(s1?.reconnects ?? 0).toBeGreaterThan(reconnectsBefore);
    expect(n3.status().transport.n2?.connected).toBe(true);
    expect(n2.status().transport.n3?.connected).toBe(true);

    // The cluster still commits (n2 and n3 are a majority with or without n1), and n1 reconnects
    // as soon as the forwarder is back on the same port.
    const bytesBefore = fwd.bytes;
    await fwd.start();
    await until("n1 reconnected to n2 via the forwarder", () =>
      n1.status().transport.n2?.connected ? true : undefined,
    );
    const l = await until("a leader", () => nodes.find((n) => n.status().role === "leader"));
    await l.propose(new TextEncoder().encode("after"));
    await until("traffic through the restarted forwarder", () =>
      fwd.bytes > bytesBefore ? true : undefined,
    );
  }, 30_000);
});
