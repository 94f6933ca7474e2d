// The chaos runner (issue 7): a LocalOvn (NB/SB/northd, no chassis) and a ChaosCluster of NovaNET
// replica processes behind a Toxiproxy-compatible server; ≥16 clients work on small subnets of
// several tenants while a seeded nemesis injects network and process faults; afterwards
// everything is healed, the final states of every replica and OVN NB are read, and the checkers
// run over the recorded history. See docs/chaos.md.
//
//   npm run chaos -- --profile quick|long --seed N [--replicas 3|5] [--keep]
//
// The seed is printed first. The fault schedule is generated up front from the seed alone and
// written to schedule.json, so the same seed replays the same schedule (targets named by role,
// e.g. "the leader", are resolved when the fault starts).
import { spawn } from "node:child_process";
import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { LocalOvn, requireBinary } from "../../cluster/lib/local-ovn.js";
import { neverSent } from "../../src/client/errors.js";
import {
  type ClusterStatus,
  Consistency,
  NetworkClient,
  NovanetError,
  Protocol,
} from "../../src/client/index.js";
import { names as ovnNames } from "../../src/ovn-sync/mapping/names.js";
import { convergence } from "./checkers/convergence.js";
import { linearizablePorts } from "./checkers/linearizable.js";
import { noLostWrites } from "./checkers/lost-writes.js";
import type {
  DnatRecord,
  FinalState,
  PortRecord,
  ReplicaState,
  SnatRecord,
} from "./checkers/model.js";
import { type ExpectedLsp, type NbLogicalSwitchPort, ovnMatches } from "./checkers/ovn.js";
import { uniqueIps } from "./checkers/unique-ips.js";
import { ChaosCluster } from "./cluster.js";
import { HistoryRecorder, readHistory } from "./history/recorder.js";
import type { ClassifyOptions, HistoryEvent, OpName } from "./history/types.js";
import { startToxiproxyServer } from "./toxiproxy/index.js";
import { createRng } from "./toxiproxy/toxics.js";

// ---- options and profiles ---------------------------------------------------------------------

export type ProfileName = "quick" | "long";

export interface Profile {
  replicas: 3 | 5;
  /** Length of the fault period (ms). */
  faultMs: number;
  clients: number;
  tenants: number;
  opsPerClient: number;
  /** Bound of the whole run (ms); the run aborts (as a failure) past it. */
  totalMs: number;
  membershipChange: boolean;
}

export const profiles: Record<ProfileName, Profile> = {
  quick: {
    replicas: 3,
    faultMs: 60_000,
    clients: 16,
    tenants: 4,
    opsPerClient: 600,
    totalMs: 230_000,
    membershipChange: true,
  },
  long: {
    replicas: 5,
    faultMs: 300_000,
    clients: 24,
    tenants: 4,
    opsPerClient: 5_000,
    totalMs: 600_000,
    membershipChange: true,
  },
};

export interface RunOptions {
  profile: ProfileName;
  seed: number;
  replicas?: 3 | 5;
  keep?: boolean;
  /** Overrides of the profile (tests). */
  faultMs?: number;
  clients?: number;
  log?: (line: string) => void;
}

export interface Verdict {
  name: string;
  ok: boolean;
  violations: string[];
  unchecked: string[];
  note?: string;
}

export interface RunResult {
  ok: boolean;
  seed: number;
  dir: string;
  historyPath: string;
  verdicts: Verdict[];
  faults: number;
  ops: { ok: number; fail: number; info: number };
  runtimeMs: number;
  error?: string;
  /** What the checkers ran on (for the self-test that doctors it). */
  inputs?: FinalInputs;
}

// ---- PRNG and schedule ------------------------------------------------------------------------

const pick = <T>(r: () => number, xs: readonly T[]): T => xs[Math.floor(r() * xs.length)]!;
const between = (r: () => number, lo: number, hi: number) => lo + Math.floor(r() * (hi - lo + 1));

/** A replica id, or "leader" (resolved when the fault starts), or "follower" (a non-leader). */
type Target = string;

export type Fault =
  | { kind: "latency"; link: "all" | "peers"; ms: number; jitter: number }
  | { kind: "cut-link"; from: Target; to: Target }
  | { kind: "partition"; groups: string[][] }
  | { kind: "isolate"; target: Target }
  | { kind: "majorities-ring" }
  | { kind: "reset-peer"; link: string; timeoutMs: number }
  | { kind: "bandwidth"; link: string; rateKBps: number }
  | { kind: "slicer"; link: string; averageSize: number; delayUs: number }
  | { kind: "limit-data"; link: string; bytes: number }
  | { kind: "disable-proxy"; link: string }
  | { kind: "kill"; target: Target }
  | { kind: "pause"; target: Target }
  | { kind: "restart"; target: Target }
  | { kind: "kill-nb" }
  /** Membership change under load: remove `remove`, then add a fresh replica `add` as a voter. */
  | { kind: "membership"; remove: Target; add: string };

export interface ScheduledFault {
  /** Offset from the start of the fault period (ms). */
  at: number;
  /** How long the fault holds before it is healed (ms). */
  durationMs: number;
  fault: Fault;
}

export interface Schedule {
  seed: number;
  profile: ProfileName;
  replicas: number;
  faultMs: number;
  faults: ScheduledFault[];
}

/**
 * The fault with its replica ids (targets, groups, links `peer-<a>-<b>` / `api-<a>`) mapped by
 * `current` ("leader", "follower", "all", "peers" stay as they are).
 */
export function renameFault(f: Fault, current: (id: string) => string): Fault {
  const target = (t: Target) => (t === "leader" || t === "follower" ? t : current(t));
  const link = (l: string) => {
    const peer = /^peer-([^-]+)-([^-]+)$/.exec(l);
    if (peer) return `peer-${current(peer[1]!)}-${current(peer[2]!)}`;
    const api = /^api-([^-]+)$/.exec(l);
    return api ? `api-${current(api[1]!)}` : l;
  };
  switch (f.kind) {
    case "cut-link":
      return { ...f, from: target(f.from), to: target(f.to) };
    case "partition":
      return { ...f, groups: f.groups.map((g) => g.map(current)) };
    case "isolate":
    case "kill":
    case "pause":
    case "restart":
      return { ...f, target: target(f.target) };
    case "membership":
      return { ...f, remove: target(f.remove) };
    case "reset-peer":
    case "bandwidth":
    case "slicer":
    case "limit-data":
    case "disable-proxy":
      return { ...f, link: link(f.link) };
    default:
      return f;
  }
}

/** The fault schedule: a function of (seed, profile, replicas) only. */
export function makeSchedule(
  seed: number,
  profile: ProfileName,
  replicas: 3 | 5,
  faultMs: number,
): Schedule {
  const r = createRng(seed ^ 0x5eed);
  const ids = Array.from({ length: replicas }, (_, i) => `n${i + 1}`);
  const peerLink = () => {
    const from = pick(r, ids);
    const to = pick(
      r,
      ids.filter((x) => x !== from),
    );
    return `peer-${from}-${to}`;
  };
  const anyLink = () => (r() < 0.7 ? peerLink() : `api-${pick(r, ids)}`);
  const shuffled = () => {
    const a = [...ids];
    for (let i = a.length - 1; i > 0; i--) {
      const j = Math.floor(r() * (i + 1));
      [a[i], a[j]] = [a[j]!, a[i]!];
    }
    return a;
  };
  const makers: [number, () => Fault][] = [
    [
      3,
      () => ({
        kind: "latency",
        link: pick(r, ["all", "peers"] as const),
        ms: between(r, 20, 150),
        jitter: between(r, 5, 80),
      }),
    ],
    [
      3,
      () => {
        const from = pick(r, ["leader", ...ids]);
        return { kind: "cut-link", from, to: pick(r, ["follower", ...ids]) };
      },
    ],
    [
      3,
      () => {
        const s = shuffled();
        const minority = replicas === 3 ? 1 : between(r, 1, 2);
        return { kind: "partition", groups: [s.slice(0, minority), s.slice(minority)] };
      },
    ],
    [3, () => ({ kind: "isolate", target: r() < 0.7 ? "leader" : pick(r, ids) })],
    [2, () => ({ kind: "reset-peer", link: anyLink(), timeoutMs: between(r, 0, 500) })],
    [1, () => ({ kind: "bandwidth", link: anyLink(), rateKBps: between(r, 1, 32) })],
    [
      1,
      () => ({
        kind: "slicer",
        link: anyLink(),
        averageSize: between(r, 8, 64),
        delayUs: between(r, 100, 2000),
      }),
    ],
    [1, () => ({ kind: "limit-data", link: anyLink(), bytes: between(r, 500, 20_000) })],
    [2, () => ({ kind: "disable-proxy", link: anyLink() })],
    [3, () => ({ kind: "kill", target: r() < 0.5 ? "leader" : pick(r, ids) })],
    [3, () => ({ kind: "pause", target: r() < 0.5 ? "leader" : pick(r, ids) })],
    [2, () => ({ kind: "restart", target: pick(r, ["leader", ...ids]) })],
    [2, () => ({ kind: "kill-nb" })],
  ];
  if (replicas === 5) makers.push([3, () => ({ kind: "majorities-ring" })]);
  // Membership changes: fresh ids n<replicas+1>, n<replicas+2>, … in schedule order.
  const membership = profiles[profile].membershipChange;
  let nextId = replicas;
  const replace = (remove: Target): Fault => ({
    kind: "membership",
    remove,
    add: `n${++nextId}`,
  });
  if (membership && profile === "long") {
    makers.push([1, () => replace(r() < 0.5 ? "leader" : "follower")]);
  }
  const total = makers.reduce((s, [w]) => s + w, 0);
  const faults: ScheduledFault[] = [];
  // The first faults cover the kinds the issue names most (a leader kill, a pause, a partition,
  // an NB restart), then random ones.
  const firsts: Fault[] = [
    { kind: "kill", target: "leader" },
    { kind: "pause", target: "leader" },
    { kind: "isolate", target: "leader" },
    { kind: "kill-nb" },
    // Quick: one follower replaced; long: a follower, then the leader (more may follow).
    ...(membership ? [replace("follower")] : []),
    ...(membership && profile === "long" ? [replace("leader")] : []),
  ];
  let at = 2_000;
  for (let i = 0; i < 1000 && at < faultMs - 3_000; i++) {
    let fault: Fault;
    if (i < firsts.length) fault = firsts[i]!;
    else {
      let x = r() * total;
      let made: Fault | undefined;
      for (const [w, mk] of makers) {
        x -= w;
        if (x < 0) {
          made = mk();
          break;
        }
      }
      fault = made ?? makers[0]![1]();
    }
    // Pauses and isolations longer than the election timeout (≈ 0.5–1 s at a 50 ms tick).
    const durationMs = Math.min(between(r, 2_000, 6_000), faultMs - at - 1_000);
    faults.push({ at, durationMs, fault });
    at += durationMs + between(r, 1_000, 2_500);
  }
  return { seed, profile, replicas, faultMs, faults };
}

// ---- small helpers ----------------------------------------------------------------------------

async function waitFor<T>(
  what: string,
  fn: () => Promise<T | undefined>,
  ms: number,
  everyMs = 200,
): Promise<T> {
  const until = Date.now() + ms;
  for (let i = 0; i < 100_000 && Date.now() < until; i++) {
    const v = await fn().catch(() => undefined);
    if (v !== undefined) return v;
    await sleep(everyMs);
  }
  throw new Error(`timed out after ${ms} ms waiting for ${what}`);
}

function classify(e: unknown): ClassifyOptions {
  return e instanceof NovanetError && neverSent(e) ? { notSent: true } : {};
}

/** Plain JSON of a response (drops undefined, bigint → string). */
function plain(v: unknown): unknown {
  if (v === undefined) return null;
  return JSON.parse(JSON.stringify(v, (_k, x) => (typeof x === "bigint" ? x.toString() : x)));
}

// ---- NB ovsdb-server faults (LocalOvn has no public restart of one daemon) -------------------

function nbPid(ovnDir: string): number | undefined {
  try {
    const n = Number(readFileSync(join(ovnDir, "nb.pid"), "utf8").trim());
    if (!Number.isInteger(n) || n <= 0) return undefined;
    const cmd = readFileSync(`/proc/${n}/cmdline`, "utf8");
    return cmd.includes(`--pidfile=${join(ovnDir, "nb.pid")}`) ? n : undefined;
  } catch {
    return undefined;
  }
}

function killNb(ovnDir: string): boolean {
  const pid = nbPid(ovnDir);
  if (pid === undefined) return false;
  process.kill(pid, "SIGKILL");
  return true;
}

/** Starts the NB ovsdb-server again exactly as LocalOvn does (same db, sockets, TCP port). */
async function startNb(ovnDir: string, nbRemote: string): Promise<void> {
  if (nbPid(ovnDir) !== undefined) return;
  const port = nbRemote.split(":").pop();
  const args = [
    "--detach",
    "--no-chdir",
    `--pidfile=${join(ovnDir, "nb.pid")}`,
    `--log-file=${join(ovnDir, "nb.log")}`,
    `--remote=punix:${join(ovnDir, "nb.sock")}`,
    `--remote=ptcp:${port}:127.0.0.1`,
    `--unixctl=${join(ovnDir, "nb.ctl")}`,
    join(ovnDir, "nb.db"),
  ];
  const env = {
    ...process.env,
    OVS_RUNDIR: ovnDir,
    OVS_LOGDIR: ovnDir,
    OVS_DBDIR: ovnDir,
    OVN_RUNDIR: ovnDir,
    OVN_LOGDIR: ovnDir,
    OVN_DBDIR: ovnDir,
  };
  for (let attempt = 0; attempt < 20; attempt++) {
    // The killed server's pid file may still be locked for a moment.
    const code = await new Promise<number | null>((res) => {
      const c = spawn(requireBinary("ovsdb-server"), args, { env, stdio: "ignore" });
      const t = setTimeout(() => c.kill("SIGKILL"), 10_000);
      c.once("exit", (code) => {
        clearTimeout(t);
        res(code);
      });
      c.once("error", () => res(-1));
    });
    if (code === 0 && nbPid(ovnDir) !== undefined) return;
    await sleep(250);
  }
  throw new Error("could not restart the NB ovsdb-server");
}

// ---- workload ---------------------------------------------------------------------------------

interface Tenant {
  org: string;
  project: string;
  vpcId: string;
  subnets: { id: string; cidr: string; prefix: string; offset: number }[];
  /** Port ids this run knows (created ok or listed), to pick targets from. */
  ports: Map<string, { ip: string }>;
  dnats: Set<string>;
}

interface WorkloadStats {
  ok: number;
  fail: number;
  info: number;
}

class Worker {
  #gen = 0;
  #macSeq = 0;
  #proc: string;
  constructor(
    readonly index: number,
    readonly client: NetworkClient,
    readonly tenant: Tenant,
    readonly rec: HistoryRecorder,
    readonly random: () => number,
    readonly stats: WorkloadStats,
  ) {
    this.#proc = `c${index}`;
  }

  #mac(): string {
    const n = ++this.#macSeq;
    const hex = (x: number) => (x & 0xff).toString(16).padStart(2, "0");
    return `0a:${hex(this.index)}:${hex(n >> 16)}:${hex(n >> 8)}:${hex(n)}:${hex(this.#gen)}`;
  }

  async #run(op: OpName, args: Record<string, unknown>, fn: () => Promise<unknown>) {
    const r = await this.rec.run(this.#proc, op, args, async () => plain(await fn()), classify);
    this.stats[r.type]++;
    if (r.type === "info") this.#proc = `c${this.index}.${++this.#gen}`;
    return r;
  }

  #base(): Record<string, unknown> {
    return { org_id: this.tenant.org, project_id: this.tenant.project, vpc_id: this.tenant.vpcId };
  }

  #knownPort(): string | undefined {
    const ids = [...this.tenant.ports.keys()];
    return ids.length === 0 ? undefined : pick(this.random, ids);
  }

  async step(): Promise<void> {
    const r = this.random;
    const t = this.tenant;
    const c = this.client;
    const x = r() * 100;
    const consistency =
      r() < 0.7 ? Consistency.CONSISTENCY_LINEARIZABLE : Consistency.CONSISTENCY_STALE;
    const readFrom =
      consistency === Consistency.CONSISTENCY_STALE ? ("any" as const) : ("leader" as const);
    if (x < 30) {
      const subnet = pick(r, t.subnets);
      const mac = this.#mac();
      const staticIp =
        r() < 0.3 ? `${subnet.prefix}${subnet.offset + between(r, 2, 14)}` : undefined;
      const res = await this.#run(
        "CreatePort",
        {
          ...this.#base(),
          subnet_id: subnet.id,
          mac_address: mac,
          ...(staticIp ? { ip_address: staticIp } : {}),
        },
        () =>
          c.createPort({
            subnetId: subnet.id,
            macAddress: mac,
            ...(staticIp ? { ipAddress: staticIp } : {}),
          }),
      );
      if (res.type === "ok") {
        const p = res.value as { id?: string; ipAddress?: string };
        if (p.id) t.ports.set(p.id, { ip: p.ipAddress ?? "" });
      }
      return;
    }
    const portId = this.#knownPort();
    if (x < 48) {
      if (portId === undefined) return;
      const res = await this.#run("DeletePort", { ...this.#base(), port_id: portId }, () =>
        c.deletePort({ portId }),
      );
      if (
        res.type === "ok" ||
        (res.type === "fail" && (res.error as NovanetError).code === "NOT_FOUND")
      )
        t.ports.delete(portId);
      return;
    }
    if (x < 56) {
      if (portId === undefined) return;
      const vm = `vm-${between(r, 1, 4)}`;
      await this.#run("AttachPort", { ...this.#base(), port_id: portId, vm_id: vm }, () =>
        c.attachPort({ portId, vmId: vm }),
      );
      return;
    }
    if (x < 62) {
      if (portId === undefined) return;
      await this.#run("DetachPort", { ...this.#base(), port_id: portId }, () =>
        c.detachPort({ portId }),
      );
      return;
    }
    if (x < 72) {
      if (portId === undefined) return;
      await this.#run("GetPort", { ...this.#base(), port_id: portId, consistency }, () =>
        c.getPort({ portId, consistency }, { readFrom }),
      );
      return;
    }
    if (x < 80) {
      const res = await this.#run(
        "ListPorts",
        { ...this.#base(), consistency, page_size: 500 },
        () => c.listPorts({ consistency, pageSize: 500 }, { readFrom }),
      );
      if (res.type === "ok" && consistency === Consistency.CONSISTENCY_LINEARIZABLE) {
        for (const p of (res.value as { ports?: { id: string; ipAddress: string }[] }).ports ?? [])
          if (!t.ports.has(p.id)) t.ports.set(p.id, { ip: p.ipAddress });
      }
      return;
    }
    if (x < 84) {
      await this.#run("CreateSnat", this.#base(), () => c.createSnat({ vpcId: t.vpcId }));
      return;
    }
    if (x < 87) {
      await this.#run("DeleteSnat", this.#base(), () => c.deleteSnat({ vpcId: t.vpcId }));
      return;
    }
    if (x < 89) {
      await this.#run("GetSnat", { ...this.#base(), consistency }, () =>
        c.getSnat({ vpcId: t.vpcId, consistency }, { readFrom }),
      );
      return;
    }
    if (x < 94) {
      const target = portId === undefined ? undefined : t.ports.get(portId);
      if (target === undefined || target.ip === "") return;
      const req = {
        vpcId: t.vpcId,
        externalPort: between(r, 8000, 8003),
        internalIp: target.ip,
        internalPort: between(r, 80, 81),
        protocol: r() < 0.5 ? Protocol.PROTOCOL_TCP : Protocol.PROTOCOL_UDP,
      };
      const res = await this.#run(
        "CreateDnat",
        {
          ...this.#base(),
          external_port: req.externalPort,
          internal_ip: req.internalIp,
          internal_port: req.internalPort,
          protocol: req.protocol,
        },
        () => c.createDnat(req),
      );
      if (res.type === "ok") {
        const id = (res.value as { id?: string }).id;
        if (id) t.dnats.add(id);
      }
      return;
    }
    if (x < 97) {
      const ids = [...t.dnats];
      if (ids.length === 0) return;
      const dnatId = pick(r, ids);
      const res = await this.#run("DeleteDnat", { ...this.#base(), dnat_id: dnatId }, () =>
        c.deleteDnat({ dnatId }),
      );
      if (res.type !== "info") t.dnats.delete(dnatId);
      return;
    }
    const res = await this.#run("ListDnats", { ...this.#base(), consistency, page_size: 500 }, () =>
      c.listDnats({ vpcId: t.vpcId, consistency, pageSize: 500 }, { readFrom }),
    );
    if (res.type === "ok" && consistency === Consistency.CONSISTENCY_LINEARIZABLE)
      for (const d of (res.value as { dnats?: { id: string }[] }).dnats ?? []) t.dnats.add(d.id);
  }
}

// ---- final states and checks ------------------------------------------------------------------

export interface FinalInputs {
  history: readonly HistoryEvent[];
  finals: readonly ReplicaState[];
  statuses: readonly { id: string; appliedIndex: number; resourceDigest: string }[];
  /** NB LSPs per logical switch (undefined: OVN not checked). */
  nb?: Record<string, NbLogicalSwitchPort[]>;
  expectedNb?: ExpectedLsp[];
  /** Why OVN could not be checked (counts as a violation). */
  nbError?: string;
}

/** Runs every checker on the collected inputs. */
export function finalCheck(inp: FinalInputs): Verdict[] {
  const out: Verdict[] = [];
  const u = uniqueIps(inp.history, inp.finals);
  const ports = inp.finals.map((f) => `${f.replica}=${f.state.ports.length}`).join(" ");
  out.push({
    name: "uniqueIps",
    ok: u.ok,
    violations: u.violations,
    unchecked: [],
    note: `final ports per replica: ${ports}`,
  });
  const l = noLostWrites(inp.history, inp.finals);
  out.push({ name: "noLostWrites", ok: l.ok, violations: l.violations, unchecked: l.unchecked });
  const c = convergence(inp.statuses);
  out.push({ name: "convergence", ok: c.ok, violations: c.violations, unchecked: [] });
  if (inp.nb !== undefined && inp.expectedNb !== undefined) {
    const o = ovnMatches(inp.nb, inp.expectedNb);
    const lsps = Object.values(inp.nb).reduce((n, l) => n + l.length, 0);
    out.push({
      name: "ovnMatches",
      ok: o.ok,
      violations: o.violations,
      unchecked: [],
      note: `${inp.expectedNb.length} LSPs expected, ${lsps} in NB`,
    });
  } else {
    out.push({
      name: "ovnMatches",
      ok: false,
      violations: [`OVN NB not checked: ${inp.nbError ?? "no NB contents"}`],
      unchecked: [],
    });
  }
  const knownPorts = inp.finals.flatMap((f) => f.state.ports);
  const lin = linearizablePorts(inp.history, { knownPorts });
  out.push({
    name: "linearizablePorts",
    ok: lin.ok,
    violations: lin.violations,
    unchecked: lin.unchecked,
    note: `${lin.checked} port histories checked`,
  });
  return out;
}

async function readFinalState(
  client: NetworkClient,
  endpoint: string,
  tenants: readonly Tenant[],
): Promise<FinalState> {
  const opts = { endpoint, readFrom: "any" as const, deadlineMs: 5_000 };
  const stale = Consistency.CONSISTENCY_STALE;
  const ports: PortRecord[] = [];
  const snats: SnatRecord[] = [];
  const dnats: DnatRecord[] = [];
  for (const t of tenants) {
    const scope = { orgId: t.org, projectId: t.project };
    let token = "";
    for (let page = 0; page < 100; page++) {
      const res = await client.listPorts(
        { ...scope, consistency: stale, pageSize: 500, pageToken: token },
        opts,
      );
      for (const p of res.ports)
        ports.push({
          id: p.id,
          vpc_id: p.vpcId,
          ip_address: p.ipAddress,
          mac_address: p.macAddress,
          vm_id: p.vmId,
          subnet_id: p.subnetId,
        });
      token = res.nextPageToken;
      if (token === "") break;
    }
    try {
      const s = await client.getSnat({ ...scope, vpcId: t.vpcId, consistency: stale }, opts);
      snats.push({ vpc_id: s.vpcId || t.vpcId, external_ip: s.externalIp });
    } catch (e) {
      if (!(e instanceof NovanetError && e.code === "NOT_FOUND")) throw e;
    }
    token = "";
    for (let page = 0; page < 100; page++) {
      const res = await client.listDnats(
        { ...scope, vpcId: t.vpcId, consistency: stale, pageSize: 500, pageToken: token },
        opts,
      );
      for (const d of res.dnats)
        dnats.push({
          id: d.id,
          vpc_id: d.vpcId,
          external_ip: d.externalIp,
          external_port: d.externalPort,
          internal_ip: d.internalIp,
          internal_port: d.internalPort,
          protocol: d.protocol,
        });
      token = res.nextPageToken;
      if (token === "") break;
    }
  }
  return { ports, snats, dnats };
}

/** ovsdb JSON "set"/"uuid" values → plain lists. */
function ovsSet(v: unknown): unknown[] {
  if (Array.isArray(v) && v[0] === "set" && Array.isArray(v[1])) return v[1] as unknown[];
  if (Array.isArray(v) && v[0] === "uuid") return [v];
  return v === undefined || v === null ? [] : [v];
}

async function readNb(ovn: LocalOvn): Promise<Record<string, NbLogicalSwitchPort[]>> {
  type Table = { headings: string[]; data: unknown[][] };
  const table = async (name: string, cols: string[]) =>
    JSON.parse(
      await ovn.nbctl("--format=json", `--columns=${cols.join(",")}`, "list", name),
    ) as Table;
  const lsps = await table("Logical_Switch_Port", ["_uuid", "name", "addresses"]);
  const byUuid = new Map<string, NbLogicalSwitchPort>();
  for (const row of lsps.data) {
    const uuid = (row[0] as [string, string])[1];
    const addresses = ovsSet(row[2]).map(String);
    byUuid.set(uuid, { name: String(row[1]), addresses });
  }
  const switches = await table("Logical_Switch", ["name", "ports"]);
  const out: Record<string, NbLogicalSwitchPort[]> = {};
  for (const row of switches.data) {
    const ports = ovsSet(row[1])
      .map((u) => byUuid.get((u as [string, string])[1]))
      .filter((p): p is NbLogicalSwitchPort => p !== undefined);
    out[String(row[0])] = ports;
  }
  return out;
}

function expectedNbOf(
  clusterId: string,
  tenants: readonly Tenant[],
  ports: readonly PortRecord[],
): ExpectedLsp[] {
  const out: ExpectedLsp[] = [];
  for (const t of tenants)
    for (const s of t.subnets) {
      const sw = ovnNames.switch(clusterId, s.id);
      out.push({ switch: sw, name: ovnNames.subnetGatewayPort(clusterId, s.id), ips: [] });
      for (const p of ports)
        if (p.subnet_id === s.id)
          out.push({
            switch: sw,
            name: p.id,
            ips: [p.ip_address],
            ...(p.mac_address ? { mac: p.mac_address } : {}),
          });
    }
  return out;
}

// ---- the run ----------------------------------------------------------------------------------

/** Set while a run is in progress: tears it down on a signal (CLI only). */
let emergencyStop: (() => Promise<void>) | undefined;

export async function runChaos(o: RunOptions): Promise<RunResult> {
  const started = Date.now();
  const log = o.log ?? ((l: string) => console.log(l));
  const prof = profiles[o.profile];
  const replicas = o.replicas ?? prof.replicas;
  const faultMs = o.faultMs ?? prof.faultMs;
  const nClients = o.clients ?? prof.clients;
  log(`seed: ${o.seed}`);
  const stamp = new Date().toISOString().replace(/[:.]/g, "").slice(0, 15);
  const dir = join(tmpdir(), `novanet-chaos-${o.seed}-${stamp}`);
  mkdirSync(dir, { recursive: true });
  const historyPath = join(dir, "history.jsonl");
  const schedule = makeSchedule(o.seed, o.profile, replicas, faultMs);
  writeFileSync(join(dir, "schedule.json"), `${JSON.stringify(schedule, null, 2)}\n`);
  log(
    `profile ${o.profile}: ${replicas} replicas, ${nClients} clients, ${prof.tenants} tenants, ${schedule.faults.length} faults over ${faultMs} ms; dir ${dir}`,
  );
  const faultLog: string[] = [];
  const stats: WorkloadStats = { ok: 0, fail: 0, info: 0 };
  const result: RunResult = {
    ok: false,
    seed: o.seed,
    dir,
    historyPath,
    verdicts: [],
    faults: 0,
    ops: stats,
    runtimeMs: 0,
  };
  const deadline = started + prof.totalMs;
  const remaining = () => Math.max(1_000, deadline - Date.now());

  let proxyServer: { url: string; close(): Promise<void> } | undefined;
  let ovn: LocalOvn | undefined;
  let cluster: ChaosCluster | undefined;
  const clients: NetworkClient[] = [];
  const rec = new HistoryRecorder(historyPath);
  // Ctrl-C / SIGTERM of the CLI: stop the replicas, OVN and the proxies (bounded), keep the dir.
  emergencyStop = async () => {
    for (const r of cluster?.local.replicas ?? []) r.child?.kill("SIGKILL");
    await Promise.race([
      Promise.all([ovn?.stop(), proxyServer?.close()].map((p) => p?.catch(() => {}))),
      sleep(15_000),
    ]);
    log(`interrupted; history: ${historyPath}`);
  };
  try {
    const url = process.env.TOXIPROXY_URL;
    proxyServer =
      url !== undefined
        ? { url, close: async () => {} }
        : await startToxiproxyServer({ port: 0, seed: o.seed });
    const ovnDir = join(dir, "ovn");
    ovn = await LocalOvn.start({ dir: ovnDir, chassis: false });
    cluster = await ChaosCluster.start({
      replicas,
      dir: join(dir, "replicas"),
      toxiproxyUrl: proxyServer.url,
      ovn: { nbRemote: ovn.nbRemote },
      seed: o.seed,
    });
    const c = cluster;
    const leader0 = await c.waitLeader(30_000);
    log(`leader ${leader0}`);
    const clusterId = (await c.status(leader0))?.clusterId ?? "novanet-chaos";

    // Setup (direct endpoints, no faults yet): one VPC and two /28 subnets per tenant.
    const tenants: Tenant[] = [];
    const setup = NetworkClient.connect({ endpoints: c.directEndpoints(), deadlineMs: 20_000 });
    clients.push(setup);
    for (let i = 0; i < prof.tenants; i++) {
      const org = `org${i % 2}`;
      const project = `proj${i}`;
      const scope = { orgId: org, projectId: project };
      const vpcRes = await rec.run(
        "setup",
        "CreateVpc",
        { org_id: org, project_id: project },
        async () =>
          plain(await setup.createVpc({ ...scope, name: `vpc${i}`, cidr: `10.${i}.0.0/24` })),
      );
      if (vpcRes.type !== "ok") throw new Error(`setup: CreateVpc failed: ${String(vpcRes.error)}`);
      const vpcId = (vpcRes.value as { id: string }).id;
      // A VPC comes with a default subnet: delete it (the workload uses two /28s only).
      for (const sub of (await setup.listSubnets({ ...scope, vpcId })).subnets) {
        const dRes = await rec.run(
          "setup",
          "DeleteSubnet",
          { org_id: org, project_id: project, vpc_id: vpcId, subnet_id: sub.id },
          async () => plain(await setup.deleteSubnet({ ...scope, subnetId: sub.id })),
        );
        if (dRes.type !== "ok")
          throw new Error(`setup: DeleteSubnet failed: ${String(dRes.error)}`);
      }
      const subnets: Tenant["subnets"] = [];
      for (const base of [0, 16]) {
        const cidr = `10.${i}.0.${base}/28`;
        const sRes = await rec.run(
          "setup",
          "CreateSubnet",
          { org_id: org, project_id: project, vpc_id: vpcId, cidr },
          async () => plain(await setup.createSubnet({ ...scope, vpcId, name: `s${base}`, cidr })),
        );
        if (sRes.type !== "ok")
          throw new Error(`setup: CreateSubnet failed: ${String(sRes.error)}`);
        // Static IPs are drawn from offset+2 … offset+14 (sometimes taken: IP_ALREADY_ALLOCATED).
        subnets.push({
          id: (sRes.value as { id: string }).id,
          cidr,
          prefix: `10.${i}.0.`,
          offset: base,
        });
      }
      tenants.push({ org, project, vpcId, subnets, ports: new Map(), dnats: new Set() });
    }

    // Workload.
    const stopAt = Date.now() + faultMs + 2_000;
    let stopping = false;
    const workers: Promise<void>[] = [];
    for (let i = 0; i < nClients; i++) {
      const t = tenants[i % tenants.length]!;
      const eps = c.clientEndpoints();
      const rot = [...eps.slice(i % eps.length), ...eps.slice(0, i % eps.length)];
      const client = NetworkClient.connect({
        endpoints: rot,
        followLeaderHints: false,
        deadlineMs: 4_000,
        orgId: t.org,
        projectId: t.project,
      });
      clients.push(client);
      const w = new Worker(i, client, t, rec, createRng(o.seed * 1000 + i + 1), stats);
      const wr = w.random;
      workers.push(
        (async () => {
          for (let n = 0; n < prof.opsPerClient && !stopping && Date.now() < stopAt; n++) {
            try {
              await w.step();
            } catch (e) {
              log(`client ${i}: ${String(e)}`);
            }
            await sleep(20 + Math.floor(wr() * 60));
          }
        })(),
      );
    }

    // Nemesis.
    const t0 = Date.now();
    const paused = new Set<string>();
    const ids = c.ids;
    const resolve = async (target: Target, exclude?: string): Promise<string> => {
      if (target === "leader") return (await c.leader()) ?? pick(Math.random, ids);
      if (target === "follower") {
        const l = await c.leader();
        return ids.find((x) => x !== l && x !== exclude) ?? ids[0]!;
      }
      return target;
    };
    /** Replica removed by a membership fault → the replica added in its place. */
    const replacedBy = new Map<string, string>();
    const current = (id: string): string => {
      let x = id;
      for (let n = 0; n < 100 && replacedBy.has(x); n++) x = replacedBy.get(x)!;
      return x;
    };
    for (const sf of schedule.faults) {
      if (Date.now() > deadline - 60_000) {
        log("time budget: skipping the remaining faults");
        break;
      }
      const wait = t0 + sf.at - Date.now();
      if (wait > 0) await sleep(wait);
      // The schedule names the initial replicas: a replaced one stands for its replacement.
      const f = renameFault(sf.fault, current);
      let what: string = f.kind;
      let undo: () => Promise<void> = async () => {};
      try {
        switch (f.kind) {
          case "latency":
            await c.addLatency(f.link, f.ms, f.jitter);
            await c.addLatency(f.link, f.ms, f.jitter, "downstream");
            what = `latency ${f.link} ${f.ms}±${f.jitter} ms`;
            break;
          case "cut-link": {
            const from = await resolve(f.from);
            let to = await resolve(f.to, from);
            if (to === from) to = ids.find((x) => x !== from)!;
            await c.cutLink(from, to);
            what = `cut link ${from}→${to} (asymmetric)`;
            break;
          }
          case "partition":
            await c.partition(f.groups);
            what = `partition ${f.groups.map((g) => g.join(",")).join(" | ")}`;
            break;
          case "isolate": {
            const id = await resolve(f.target);
            await c.isolate(id);
            what = `isolate ${id}${f.target === "leader" ? " (leader)" : ""}`;
            break;
          }
          case "majorities-ring": {
            const sees = await c.majoritiesRing();
            what = `majorities ring ${JSON.stringify(sees)}`;
            break;
          }
          case "reset-peer":
            await c.resetPeer(f.link, f.timeoutMs);
            what = `reset_peer ${f.link} after ${f.timeoutMs} ms`;
            break;
          case "bandwidth":
            await c.bandwidth(f.link, f.rateKBps);
            what = `bandwidth ${f.link} ${f.rateKBps} KB/s`;
            break;
          case "slicer":
            await c.slicer(f.link, f.averageSize, Math.floor(f.averageSize / 2), f.delayUs);
            what = `slicer ${f.link} ${f.averageSize} B / ${f.delayUs} µs`;
            break;
          case "limit-data":
            await c.limitData(f.link, f.bytes);
            what = `limit_data ${f.link} ${f.bytes} B`;
            break;
          case "disable-proxy":
            await c.setEnabled(f.link, false);
            what = `disable proxy ${f.link}`;
            break;
          case "kill": {
            const id = await resolve(f.target);
            await c.kill(id);
            what = `kill -9 ${id}${f.target === "leader" ? " (leader)" : ""}`;
            undo = async () => {
              if (!c.replica(id).running()) c.replica(id).start();
            };
            break;
          }
          case "pause": {
            const id = await resolve(f.target);
            await c.pause(id);
            paused.add(id);
            what = `SIGSTOP ${id}${f.target === "leader" ? " (leader)" : ""}`;
            undo = async () => {
              await c.resume(id);
              paused.delete(id);
            };
            break;
          }
          case "restart": {
            const id = await resolve(f.target);
            await c.restart(id, "SIGTERM");
            what = `restart ${id}${f.target === "leader" ? " (leader)" : ""}`;
            break;
          }
          case "membership": {
            const id = await resolve(f.remove);
            const role = f.remove === "leader" ? " (leader)" : "";
            what = `membership: remove ${id}${role}`;
            await c.removeReplica(id);
            replacedBy.set(id, f.add);
            what += `, add ${f.add}`;
            const took = await c.addReplica(f.add);
            what += ` (${took}); members ${ids.join(",")}`;
            break;
          }
          case "kill-nb":
            killNb(ovnDir);
            what = "kill -9 NB ovsdb-server";
            undo = async () => startNb(ovnDir, ovn!.nbRemote);
            break;
        }
      } catch (e) {
        what += ` (failed to apply: ${String(e)})`;
      }
      result.faults++;
      const line = `+${((Date.now() - t0) / 1000).toFixed(1)}s ${what} for ${sf.durationMs} ms`;
      faultLog.push(line);
      log(`fault ${line}`);
      await sleep(sf.durationMs);
      try {
        await undo();
        await c.heal();
      } catch (e) {
        log(`heal after ${what}: ${String(e)}`);
      }
    }
    const faultEnd = t0 + faultMs;
    if (Date.now() < faultEnd) await sleep(Math.min(faultEnd - Date.now(), remaining()));

    // Heal everything, stop the workload.
    log("healing");
    await c.heal();
    for (const id of ids) {
      await c.resume(id).catch(() => {});
      if (!c.replica(id).running()) c.replica(id).start();
    }
    await startNb(ovnDir, ovn.nbRemote);
    stopping = true;
    await Promise.race([Promise.all(workers), sleep(30_000)]);
    rec.flush();
    log(`workload: ${stats.ok} ok, ${stats.fail} fail, ${stats.info} info`);

    // Convergence (bounded), then OVN sync lag 0 (bounded).
    let statuses: ClusterStatus[] = [];
    try {
      statuses = await waitFor(
        "one leader and equal applied index / digest on every replica",
        async () => {
          const st = [...(await c.statuses(2_000)).values()];
          if (st.length !== ids.length) return undefined;
          if (st.filter((s) => s.role === "leader").length !== 1) return undefined;
          const a = st[0]!;
          return st.every(
            (s) => s.appliedIndex === a.appliedIndex && s.resourceDigest === a.resourceDigest,
          )
            ? st
            : undefined;
        },
        Math.min(60_000, remaining()),
        250,
      );
      log(`converged at applied index ${statuses[0]?.appliedIndex}`);
    } catch (e) {
      log(String(e));
      statuses = [...(await c.statuses(2_000)).values()];
    }
    let nbError: string | undefined;
    try {
      await waitFor(
        "OVN sync lag 0",
        async () => {
          const l = await c.leader();
          const s = l === undefined ? undefined : await c.status(l, 2_000);
          // ovnSyncedIndex only advances when a pass runs, so trailing entries that change no
          // NB row (session bookkeeping) can leave it below appliedIndex: "in-sync" is the
          // signal, and the NB comparison below re-reads (bounded) while the last pass lands.
          return s !== undefined &&
            (s.ovnSyncedIndex >= s.appliedIndex || s.ovnSyncState === "in-sync")
            ? s
            : undefined;
        },
        Math.min(45_000, remaining()),
        250,
      );
    } catch (e) {
      nbError = String(e);
    }

    // Final states from every replica (stale reads on each one's direct endpoint).
    const reader = NetworkClient.connect({
      endpoints: c.directEndpoints(),
      deadlineMs: 5_000,
      followLeaderHints: false,
    });
    clients.push(reader);
    const finals: ReplicaState[] = [];
    for (const id of ids) {
      // Bounded retries: a replica restarted late may still be loading.
      const state = await waitFor(
        `final state of ${id}`,
        () => readFinalState(reader, c.replica(id).apiAddress, tenants),
        Math.min(20_000, remaining()),
        500,
      );
      finals.push({ replica: id, state });
    }
    const finalPorts = finals[0]!.state.ports;
    let nb: Record<string, NbLogicalSwitchPort[]> | undefined;
    let expectedNb: ExpectedLsp[] | undefined;
    if (nbError === undefined) {
      // The reconciler may need a pass after the lag reached 0; a few bounded re-reads.
      expectedNb = expectedNbOf(clusterId, tenants, finalPorts);
      for (let i = 0; i < 15; i++) {
        nb = await readNb(ovn);
        if (ovnMatches(nb, expectedNb).ok) break;
        await sleep(1_000);
      }
    }
    rec.close();
    const history = readHistory(historyPath);
    result.inputs = {
      history,
      finals,
      statuses: statuses.map((s) => ({
        id: s.id,
        appliedIndex: s.appliedIndex,
        resourceDigest: s.resourceDigest,
      })),
      ...(nb !== undefined ? { nb } : {}),
      ...(expectedNb !== undefined ? { expectedNb } : {}),
      ...(nbError !== undefined ? { nbError } : {}),
    };
    result.verdicts = finalCheck(result.inputs);
    if (statuses.length !== ids.length)
      result.verdicts.push({
        name: "statuses",
        ok: false,
        violations: [`only ${statuses.length} of ${ids.length} replicas answered Status`],
        unchecked: [],
      });
    result.ok = result.verdicts.every((v) => v.ok);
  } catch (e) {
    result.error = e instanceof Error ? (e.stack ?? e.message) : String(e);
    result.ok = false;
  } finally {
    try {
      rec.close();
    } catch {}
    for (const cl of clients) cl.close();
    await cluster?.stop().catch(() => {});
    await ovn?.stop().catch(() => {});
    await proxyServer?.close().catch(() => {});
    writeFileSync(join(dir, "faults.log"), `${faultLog.join("\n")}\n`);
    emergencyStop = undefined;
  }
  result.runtimeMs = Date.now() - started;
  for (const v of result.verdicts) {
    log(`${v.ok ? "PASS" : "FAIL"} ${v.name}${v.note ? ` (${v.note})` : ""}`);
    for (const x of v.violations.slice(0, 20)) log(`    violation: ${x}`);
    if (v.violations.length > 20) log(`    … ${v.violations.length - 20} more`);
    if (v.unchecked.length > 0) {
      log(`    unchecked (${v.unchecked.length}):`);
      for (const x of v.unchecked.slice(0, 20)) log(`      ${x}`);
      if (v.unchecked.length > 20) log(`      … ${v.unchecked.length - 20} more`);
    }
  }
  if (result.error) log(`ERROR: ${result.error}`);
  log(
    `${result.ok ? "OK" : "VIOLATION"}: seed ${o.seed}, ${result.faults} faults, ops ${stats.ok} ok / ${stats.fail} fail / ${stats.info} info, ${(result.runtimeMs / 1000).toFixed(1)} s`,
  );
  if (result.ok && !o.keep) {
    rmSync(dir, { recursive: true, force: true });
    log(`history: ${historyPath} (removed: run passed; --keep keeps it)`);
  } else log(`history: ${historyPath}`);
  return result;
}

// ---- CLI --------------------------------------------------------------------------------------

function parseArgs(argv: readonly string[]): RunOptions {
  let profile: ProfileName = "quick";
  let seed = Math.floor(Math.random() * 2 ** 31);
  let replicas: 3 | 5 | undefined;
  let keep = false;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const v = argv[i + 1];
    if (a === "--profile" && (v === "quick" || v === "long")) {
      profile = v;
      i++;
    } else if (a === "--seed" && v !== undefined && /^\d+$/.test(v)) {
      seed = Number(v);
      i++;
    } else if (a === "--replicas" && (v === "3" || v === "5")) {
      replicas = v === "3" ? 3 : 5;
      i++;
    } else if (a === "--keep") keep = true;
    else
      throw new Error(
        `usage: npm run chaos -- --profile quick|long --seed N [--replicas 3|5] [--keep] (bad: ${a})`,
      );
  }
  return { profile, seed, keep, ...(replicas !== undefined ? { replicas } : {}) };
}

if (process.argv[1] !== undefined && /[/\\]test[/\\]chaos[/\\]run\.ts$/.test(process.argv[1])) {
  const opts = parseArgs(process.argv.slice(2));
  for (const sig of ["SIGINT", "SIGTERM"] as const) {
    process.once(sig, () => {
      const stop = emergencyStop ?? (async () => {});
      void stop().finally(() => process.exit(130));
    });
  }
  runChaos(opts).then(
    (r) => process.exit(r.ok ? 0 : 1),
    (e) => {
      console.error(e);
      process.exit(2);
    },
  );
}
