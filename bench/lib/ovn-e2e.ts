// The end-to-end half of the OVN sync suite: an NB monitor that timestamps Logical_Switch_Port
// rows as they appear and come up, the "VM" plug, and the background writers that load the
// cluster while the measured ports are created.
import { readFileSync } from "node:fs";
import { monitorEventLoopDelay } from "node:perf_hooks";
import { setTimeout as sleep } from "node:timers/promises";
import { type LocalOvn, waitFor } from "../../cluster/lib/local-ovn.js";
import type { NetworkClient } from "../../src/client/index.js";
import { OvsdbClient } from "../../src/ovn-sync/ovsdb/index.js";

import { type Percentiles, percentiles, pidCpuMs, pidRunQueueMs } from "./report.js";

const now = () => performance.now();

function isTrue(v: unknown): boolean {
  return v === true || (Array.isArray(v) && v[0] === true);
}

/**
 * Timestamps (performance.now) of each Logical_Switch_Port name's first appearance and first
 * up=true, from a monitor's update events (no polling); waiters resolve on the event.
 */
export class LspWatch {
  readonly seen = new Map<string, number>();
  readonly up = new Map<string, number>();
  #waiters: { map: Map<string, number>; name: string; done: (t: number) => void }[] = [];

  constructor(client: OvsdbClient) {
    client.on("update", (e) => {
      const t = now();
      for (const c of e.changes) {
        if (c.table !== "Logical_Switch_Port" || c.new === undefined) continue;
        const name = String(c.new.name);
        if (!this.seen.has(name)) this.seen.set(name, t);
        if (isTrue(c.new.up) && !this.up.has(name)) this.up.set(name, t);
      }
      if (this.#waiters.length === 0) return;
      this.#waiters = this.#waiters.filter((w) => {
        const at = w.map.get(w.name);
        if (at === undefined) return true;
        w.done(at);
        return false;
      });
    });
  }

  /** The time `name` was first seen (kind "seen") or first up, waiting at most timeoutMs. */
  wait(kind: "seen" | "up", name: string, timeoutMs: number): Promise<number> {
    const map = kind === "seen" ? this.seen : this.up;
    const at = map.get(name);
    if (at !== undefined) return Promise.resolve(at);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#waiters = this.#waiters.filter((w) => w.done !== done);
        reject(new Error(`LSP ${name} not ${kind} in NB within ${timeoutMs} ms`));
      }, timeoutMs);
      const done = (t: number) => {
        clearTimeout(timer);
        resolve(t);
      };
      this.#waiters.push({ map, name, done });
    });
  }
}

export async function lspMonitor(
  remote: string,
  timeoutMs: number,
): Promise<{ client: OvsdbClient; watch: LspWatch }> {
  const client = new OvsdbClient({ remotes: [remote], backoffMaxMs: 500 });
  const watch = new LspWatch(client);
  client.start();
  await client.whenConnected(timeoutMs);
  await client.monitor({ Logical_Switch_Port: ["name", "up"] });
  return { client, watch };
}

/**
 * Moves the plugged internal port `name` (a tap device in the hypervisor namespace) into its own
 * namespace nvvm-<name> (registered with LocalOvn, so its stop() deletes it), sets the MAC and
 * brings the link up: what LocalOvn.plugInternalPort does after its add-port.
 */
export async function finishVm(ovn: LocalOvn, name: string, mac: string, timeoutMs: number) {
  const ns = `nvvm-${name}`;
  const hv = ovn.hypervisorNetns;
  await waitFor(
    `tap ${name} in ${hv}`,
    async () => ((await ovn.ip("-n", hv, "link", "show", name)) ? true : undefined),
    timeoutMs,
    20,
  );
  ovn.registerNetns(ns);
  await ovn.ip("netns", "add", ns);
  await ovn.ip("-n", ns, "link", "set", "lo", "up");
  await ovn.ip("-n", hv, "link", "set", name, "netns", ns);
  await ovn.ip("-n", ns, "link", "set", name, "address", mac);
  await ovn.ip("-n", ns, "link", "set", name, "up");
}

/** What the background writers did inside one measured window. */
export interface LoadWindow {
  seconds: number;
  writes: number;
  errors: number;
  throughput: number;
  latencyMs: Percentiles;
  /** Event-loop delay of the benchmark process (it also timestamps NB), ms. */
  benchLoopDelayMs: { p50: number; p99: number; max: number };
}

/**
 * `clients` NetworkClients, each creating ports one at a time in its own subnet until stopped,
 * maxWrites / clients each or `maxMs` passed (whichever first). Completions are kept with their time,
 * so a window [from, to] can be cut out afterwards.
 */
export class BackgroundLoad {
  readonly #done: { t: number; ms: number }[] = [];
  readonly #errors: number[] = [];
  #stopped = false;
  #workers: Promise<void>[] = [];
  readonly #loop = monitorEventLoopDelay({ resolution: 5 });

  constructor(
    readonly clients: { net: NetworkClient; subnetId: string }[],
    readonly maxWrites: number,
    readonly maxMs: number,
  ) {}

  get completed(): number {
    return this.#done.length;
  }

  start(): void {
    const deadline = now() + this.maxMs;
    this.#loop.enable();
    // Each writer's share of maxWrites, so none outgrows its subnet however the others fare.
    const perWorker = Math.floor(this.maxWrites / this.clients.length);
    this.#workers = this.clients.map(async ({ net, subnetId }) => {
      for (let n = 0; n < perWorker && !this.#stopped && now() < deadline; n++) {
        const t0 = now();
        try {
          await net.createPort({ subnetId });
          const t = now();
          this.#done.push({ t, ms: t - t0 });
        } catch {
          this.#errors.push(now());
          await sleep(50); // a failing cluster must not turn this into a busy loop
        }
      }
    });
  }

  /** Stops issuing and waits for the calls in flight (each bounded by the client's deadline). */
  async stop(): Promise<void> {
    this.#stopped = true;
    await Promise.all(this.#workers);
    this.#loop.disable();
  }

  /** Resets the event-loop histogram: call at the start of a window. */
  markWindow(): number {
    this.#loop.reset();
    return now();
  }

  window(from: number, to: number): LoadWindow {
    const inside = this.#done.filter((d) => d.t >= from && d.t <= to);
    const seconds = (to - from) / 1000;
    const ns = (x: number) => x / 1e6;
    return {
      seconds,
      writes: inside.length,
      errors: this.#errors.filter((t) => t >= from && t <= to).length,
      throughput: inside.length / seconds,
      latencyMs: percentiles(inside.map((d) => d.ms)),
      benchLoopDelayMs: {
        p50: ns(this.#loop.percentile(50)),
        p99: ns(this.#loop.percentile(99)),
        max: ns(this.#loop.max),
      },
    };
  }
}

/** Linux CPU pressure: total µs some runnable task waited for a CPU (NaN without PSI). */
function cpuPressureUs(): number {
  try {
    const m = /^some .*total=(\d+)/m.exec(readFileSync("/proc/pressure/cpu", "utf8"));
    return m ? Number(m[1]) : Number.NaN;
  } catch {
    return Number.NaN;
  }
}

/** Where the CPU went during a window. */
export interface CpuWindow {
  /** Cores used by each group (CPU seconds per second, all threads). */
  cores: Record<string, number>;
  /** Share of the window the main thread of each group's processes waited for a CPU (summed). */
  runQueue: Record<string, number>;
  /** Share of the window some runnable task on the machine waited for a CPU (PSI "some"). */
  pressure: number;
}

/** CPU use of named groups of processes over a window. */
export class CpuMeter {
  #t = 0;
  #cpu = new Map<string, number>();
  #rq = new Map<string, number>();
  #psi = 0;

  constructor(readonly groups: () => Record<string, number[]>) {}

  #read(f: (pid: number) => number): Map<string, number> {
    return new Map(
      Object.entries(this.groups()).map(([k, pids]) => [
        k,
        pids.reduce((sum, pid) => sum + f(pid), 0),
      ]),
    );
  }

  start(): void {
    this.#t = now();
    this.#cpu = this.#read(pidCpuMs);
    this.#rq = this.#read(pidRunQueueMs);
    this.#psi = cpuPressureUs();
  }

  stop(): CpuWindow {
    const ms = now() - this.#t;
    const per = (end: Map<string, number>, start: Map<string, number>) =>
      Object.fromEntries([...end].map(([k, v]) => [k, (v - (start.get(k) ?? Number.NaN)) / ms]));
    return {
      cores: per(this.#read(pidCpuMs), this.#cpu),
      runQueue: per(this.#read(pidRunQueueMs), this.#rq),
      pressure: (cpuPressureUs() - this.#psi) / 1000 / ms,
    };
  }
}

/** A replica's Prometheus metrics, each metric's samples summed over its labels. */
export async function scrapeMetrics(port: number, timeoutMs = 5_000): Promise<Map<string, number>> {
  const res = await fetch(`http://127.0.0.1:${port}/metrics`, {
    signal: AbortSignal.timeout(timeoutMs),
  });
  const out = new Map<string, number>();
  for (const line of (await res.text()).split("\n")) {
    if (line.startsWith("#") || line.trim() === "") continue;
    const m = /^([a-zA-Z_:][\w:]*)(\{[^}]*\})?\s+(\S+)/.exec(line);
    if (!m) continue;
    const v = Number(m[3]);
    if (Number.isFinite(v)) out.set(m[1]!, (out.get(m[1]!) ?? 0) + v);
  }
  return out;
}

/** The leader's NB transactions over a window (from its metrics). */
export interface NbTxnWindow {
  transactions: number;
  perSecond: number;
  operationsPerTxn: number;
  /** Mean NB transaction latency as the leader measured it (send → reply), ms. */
  meanTxnMs: number;
  /** Share of the window the leader had an NB transaction outstanding. */
  busy: number;
}

export function nbTxnWindow(
  a: Map<string, number>,
  b: Map<string, number>,
  seconds: number,
): NbTxnWindow {
  const d = (k: string) => (b.get(k) ?? 0) - (a.get(k) ?? 0);
  const h = "overlay_network_ovn_operations_duration_seconds";
  const txns = d(`${h}_count`);
  return {
    transactions: txns,
    perSecond: txns / seconds,
    operationsPerTxn: d("novanet_ovn_operations_total") / txns,
    meanTxnMs: (d(`${h}_sum`) / txns) * 1000,
    busy: d(`${h}_sum`) / seconds,
  };
}
