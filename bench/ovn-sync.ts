// OVN sync benchmark: how fast a committed change reaches OVN, and what a full resync costs.
//
//   npm run bench:ovn-sync -- [--ports 200] [--up-ports 20] [--seconds 60]
//                             [--vpcs 50] [--subnets 2] [--ports-per-subnet 100] [--delete 1000]
//                             [--only e2e|resync]
//
// 1. Commit → NB row: a 3-replica NovaNET cluster (OS processes, LocalCluster with `ovn`) in sync
//    with a real local OVN (LocalOvn with a chassis). Ports are created one at a time through the
//    client library; an independent OVSDB monitor on NB (event-driven) timestamps the moment the
//    Logical_Switch_Port named by the port id appears. Reported from the CreatePort
//    acknowledgement (committed and applied on the leader) and from the call start.
// 2. Commit → port up: a smaller number of ports (the id is chosen by the server, so nothing can
//    be pre-plugged), each plugged right after its acknowledgement as a "VM": `ovs-vsctl
//    add-port br-int` with iface-id = port id (the plug), then, while OVN binds it, the tap moved
//    into its own namespace with the port's MAC. Time until NB shows Logical_Switch_Port.up =
//    true (ovn-controller bound it, northd reported it), from the acknowledgement and from the
//    moment add-port returned.
// 3. Full resync in-process (no Raft): a NetworkStateMachine with vpcs × subnets × ports ports
//    (plus security groups with rules, SNAT and DNAT) built by applying commands, an OvnSync over
//    it against a fresh standalone NB ovsdb-server (no northd, which would compete for the CPUs):
//    the initial load into an empty NB, a pass with nothing to change, and a repair pass after
//    `--delete` Logical_Switch_Ports were removed by hand. Rows, transactions, wall and CPU time
//    (this process and ovsdb-server), memory.
//
// Everything is bounded (counts, --seconds for the loops, a timeout on every wait); processes,
// namespaces and temp dirs are removed on exit, on error and on SIGINT/SIGTERM.
// Results: bench/results/ovn-sync.json. Needs root (network namespaces, ovs-vswitchd) for 1 and 2.
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { cpus, loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { parseArgs } from "node:util";
import { pino } from "pino";
import { LocalOvn, requireBinary, run, waitFor } from "../cluster/lib/local-ovn.js";
import { LocalCluster, projectRoot } from "../cluster/lib/replica-processes.js";
import { ClusterClient, NetworkClient } from "../src/client/index.js";
import { OvnSync, type OvnSyncStatus } from "../src/ovn-sync/index.js";
import type { ExternalNetwork } from "../src/ovn-sync/mapping/desired.js";
import { ownerKey, tableNames } from "../src/ovn-sync/mapping/index.js";
import {
  cond,
  mutateOp,
  NB_DATABASE,
  type OperationResult,
  OvsdbClient,
  ovsMap,
  selectOp,
  setDelete,
  uuid,
} from "../src/ovn-sync/ovsdb/index.js";
import {
  type ApplyContext,
  type Command,
  defaultNetworkConfig,
  encodeCommand,
  NetworkStateMachine,
  type TenantCommand,
} from "../src/statemachine/index.js";
import { percentile } from "./lib/load.js";

const { values } = parseArgs({
  options: {
    ports: { type: "string", default: "200" },
    "up-ports": { type: "string", default: "20" },
    seconds: { type: "string", default: "60" },
    vpcs: { type: "string", default: "50" },
    subnets: { type: "string", default: "2" },
    "ports-per-subnet": { type: "string", default: "100" },
    delete: { type: "string", default: "1000" },
    only: { type: "string" },
  },
});
const portsN = bounded("ports", 1, 1000);
const upPortsN = bounded("up-ports", 0, 100);
const loopMs = bounded("seconds", 1, 3600) * 1000;
const vpcsN = bounded("vpcs", 1, 200);
const subnetsN = bounded("subnets", 1, 4);
const portsPerSubnet = bounded("ports-per-subnet", 1, 250);
const deleteN = bounded("delete", 0, 100_000);
const only = values.only;
if (only !== undefined && only !== "e2e" && only !== "resync") {
  throw new Error("--only must be e2e or resync");
}
/** Bound of every single wait (a row, a phase, a daemon). */
const waitMs = 120_000;

function bounded(name: keyof typeof values, min: number, max: number): number {
  const n = Number(values[name]);
  if (!Number.isInteger(n) || n < min || n > max) {
    throw new Error(`--${name} must be an integer in [${min}, ${max}]`);
  }
  return n;
}

const log = pino(
  { level: process.env.NOVANET_BENCH_LOG ?? "warn", base: null },
  pino.destination(2),
);

// ---- cleanup: on exit, on error, on SIGINT/SIGTERM -----------------------------------------

const cleanups: (() => Promise<void> | void)[] = [];
function onCleanup(fn: () => Promise<void> | void): void {
  cleanups.push(fn);
}
let cleaning: Promise<void> | undefined;
/**
 * Runs the registered cleanups, last first. One run at a time: a signal arriving while the main
 * flow cleans up (or the other way round) waits for the same run instead of exiting under it.
 */
function cleanupAll(): Promise<void> {
  cleaning ??= (async () => {
    while (cleanups.length > 0) {
      const fn = cleanups.pop()!;
      try {
        await fn();
      } catch (err) {
        console.error(`cleanup: ${(err as Error).message}`);
      }
    }
  })().finally(() => {
    cleaning = undefined;
  });
  return cleaning;
}
let interrupted = false;
for (const sig of ["SIGINT", "SIGTERM"] as const) {
  process.on(sig, () => {
    if (interrupted) return; // a second Ctrl-C while cleaning up: keep cleaning
    interrupted = true;
    console.error(`\n${sig}: cleaning up`);
    void cleanupAll().finally(() => process.exit(130));
  });
}

// ---- helpers ---------------------------------------------------------------------------------

const now = () => performance.now();
const progress = (text: string) => process.stderr.write(`\r  ${text}\x1b[K`);
const progressDone = () => process.stderr.write("\n");

interface Percentiles {
  n: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
}

function percentiles(xs: readonly number[]): Percentiles {
  const s = [...xs].sort((a, b) => a - b);
  return {
    n: s.length,
    p50: percentile(s, 50),
    p90: percentile(s, 90),
    p99: percentile(s, 99),
    max: s.length > 0 ? s[s.length - 1]! : Number.NaN,
  };
}

function printPercentiles(title: string, rows: [string, Percentiles][]): void {
  const f = (x: number) => x.toFixed(1).padStart(8);
  console.log(`\n${title}`);
  console.log(`${"interval".padEnd(36)} |   n |   p50 ms   p90 ms   p99 ms   max ms`);
  for (const [label, p] of rows) {
    console.log(
      `${label.padEnd(36)} | ${String(p.n).padStart(3)} | ${f(p.p50)} ${f(p.p90)} ${f(p.p99)} ${f(p.max)}`,
    );
  }
}

function isTrue(v: unknown): boolean {
  return v === true || (Array.isArray(v) && v[0] === true);
}

/**
 * Timestamps (performance.now) of each Logical_Switch_Port name's first appearance and first
 * up=true, from a monitor's update events (no polling); waiters resolve on the event.
 */
class LspWatch {
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

async function lspMonitor(remote: string): Promise<{ client: OvsdbClient; watch: LspWatch }> {
  const client = new OvsdbClient({ remotes: [remote], backoffMaxMs: 500 });
  const watch = new LspWatch(client);
  client.start();
  await client.whenConnected(waitMs);
  await client.monitor({ Logical_Switch_Port: ["name", "up"] });
  return { client, watch };
}

/** Polls `pred` every `everyMs` (used only for OvnSync's status, which has no events). */
async function until(what: string, pred: () => boolean, timeoutMs: number, everyMs = 5) {
  const deadline = Date.now() + timeoutMs;
  while (!pred()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms: ${what}`);
    await sleep(everyMs);
  }
}

function mib(bytes: number): string {
  return `${(bytes / 1024 / 1024).toFixed(0)} MiB`;
}

function memory() {
  const m = process.memoryUsage();
  return {
    rssBytes: m.rss,
    heapUsedBytes: m.heapUsed,
    /** Peak RSS of this process so far (getrusage). */
    maxRssBytes: process.resourceUsage().maxRSS * 1024,
  };
}

function pidRssBytes(pid: number): number | undefined {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
    return m ? Number(m[1]) * 1024 : undefined;
  } catch {
    return undefined;
  }
}

// ---- 1 and 2: end to end through a 3-replica cluster ------------------------------------------

interface E2eResult {
  ports: number;
  ackToNbMs: Percentiles;
  callToNbMs: Percentiles;
  callToAckMs: Percentiles;
  /** Ports whose LSP was in NB before the client had the acknowledgement. */
  nbBeforeAck: number;
  upPorts: number;
  upAckToNbMs: Percentiles;
  ackToUpMs: Percentiles;
  plugToUpMs: Percentiles;
  plugMs: Percentiles;
  vmReadyMs: Percentiles;
}

/**
 * Moves the plugged internal port `name` (a tap device in the hypervisor namespace) into its own
 * namespace nvvm-<name> (registered with LocalOvn, so its stop() deletes it), sets the MAC and
 * brings the link up: what LocalOvn.plugInternalPort does after its add-port.
 */
async function finishVm(ovn: LocalOvn, name: string, mac: string): Promise<void> {
  const ns = `nvvm-${name}`;
  const hv = ovn.hypervisorNetns;
  await waitFor(
    `tap ${name} in ${hv}`,
    async () => ((await ovn.ip("-n", hv, "link", "show", name)) ? true : undefined),
    waitMs,
    20,
  );
  ovn.registerNetns(ns);
  await ovn.ip("netns", "add", ns);
  await ovn.ip("-n", ns, "link", "set", "lo", "up");
  await ovn.ip("-n", hv, "link", "set", name, "netns", ns);
  await ovn.ip("-n", ns, "link", "set", name, "address", mac);
  await ovn.ip("-n", ns, "link", "set", name, "up");
}

async function benchE2e(dir: string): Promise<E2eResult> {
  progress("starting local OVN (NB, SB, northd, ovs-vswitchd, ovn-controller)");
  const ovn = await LocalOvn.start({ dir: join(dir, "ovn"), chassis: true });
  onCleanup(() => ovn.stop());
  console.error(
    `\n  local OVN in ${ovn.dir} (namespaces ${ovn.hypervisorNetns}, ${ovn.externalNetns})`,
  );
  progress("starting 3 NovaNET replicas");
  const cluster = await LocalCluster.create({
    kind: "novanet",
    dir: join(dir, "cluster"),
    replicas: 3,
    logLevel: "warn",
    ovn: { nbRemote: ovn.nbRemote, sbRemote: ovn.sbRemote, external: ovn.externalNetwork },
  });
  cluster.startAll();
  onCleanup(() => cluster.stopAll());
  const admin = ClusterClient.connect({ endpoints: cluster.endpoints(), deadlineMs: 1000 });
  onCleanup(() => admin.close());
  const leaderUntil = Date.now() + 60_000;
  for (;;) {
    const all = await admin.statusAll();
    if (all.some((s) => s.status?.role === "leader")) break;
    if (Date.now() > leaderUntil) throw new Error("no leader within 60 s");
    await sleep(200);
  }
  const { client: nb, watch } = await lspMonitor(ovn.nbRemote);
  onCleanup(() => nb.close());
  const net = NetworkClient.connect({
    endpoints: cluster.endpoints(),
    orgId: "bench",
    projectId: "p1",
    deadlineMs: 20_000,
  });
  onCleanup(() => net.close());

  const vpc = await net.createVpc({ name: "bench" });
  const [a, b] = vpc.cidr.split(".");
  // A /21 (2,045 addresses) holds the largest run: 1 + 1,000 + 100 ports.
  const subnet = await net.createSubnet({ vpcId: vpc.id, name: "bench", cidr: `${a}.${b}.8.0/21` });
  // Warm-up (not measured): the first port also waits for the leader's first full pass.
  progress("warm-up port");
  const warm = await net.createPort({ subnetId: subnet.id });
  await watch.wait("seen", warm.id, waitMs);

  const callToAck: number[] = [];
  const ackToNb: number[] = [];
  const callToNb: number[] = [];
  let nbBeforeAck = 0;
  const loopUntil = now() + loopMs;
  for (let i = 0; i < portsN && now() < loopUntil; i++) {
    const t0 = now();
    const port = await net.createPort({ subnetId: subnet.id });
    const tAck = now();
    const tNb = await watch.wait("seen", port.id, waitMs);
    callToAck.push(tAck - t0);
    ackToNb.push(tNb - tAck);
    callToNb.push(tNb - t0);
    if (tNb < tAck) nbBeforeAck++;
    if (i % 10 === 9) progress(`commit → NB row: ${i + 1}/${portsN} ports`);
  }
  progressDone();

  const ackToUp: number[] = [];
  const plugToUp: number[] = [];
  const plugTook: number[] = [];
  const upAckToNb: number[] = [];
  const vmReady: number[] = [];
  const upUntil = now() + loopMs;
  const tag = process.pid % 10_000;
  for (let j = 0; j < upPortsN && now() < upUntil; j++) {
    const port = await net.createPort({ subnetId: subnet.id });
    const tAck = now();
    // The plug, as a hypervisor does it: an OVS port on br-int with iface-id = the port id.
    const name = `b${tag}x${j}`;
    await ovn.vsctl(
      "add-port",
      "br-int",
      name,
      "--",
      "set",
      "interface",
      name,
      "type=internal",
      `external_ids:iface-id=${port.id}`,
    );
    const tPlugged = now();
    // The rest of the "VM" (its namespace, MAC, link up) while OVN binds the port.
    const vm = finishVm(ovn, name, port.macAddress).then(() => now());
    const tNb = await watch.wait("seen", port.id, waitMs);
    const tUp = await watch.wait("up", port.id, waitMs);
    vmReady.push((await vm) - tAck);
    plugTook.push(tPlugged - tAck);
    upAckToNb.push(tNb - tAck);
    ackToUp.push(tUp - tAck);
    plugToUp.push(tUp - tPlugged);
    progress(`commit → port up: ${j + 1}/${upPortsN} ports`);
  }
  if (upPortsN > 0) progressDone();
  return {
    ports: ackToNb.length,
    ackToNbMs: percentiles(ackToNb),
    callToNbMs: percentiles(callToNb),
    callToAckMs: percentiles(callToAck),
    nbBeforeAck,
    upPorts: ackToUp.length,
    upAckToNbMs: percentiles(upAckToNb),
    ackToUpMs: percentiles(ackToUp),
    plugToUpMs: percentiles(plugToUp),
    plugMs: percentiles(plugTook),
    vmReadyMs: percentiles(vmReady),
  };
}

// ---- 3: full resync in-process ----------------------------------------------------------------

const external: ExternalNetwork = {
  cidr: "198.51.100.0/24",
  gateway: "198.51.100.1",
  physicalNetwork: "physnet1",
  gatewayChassis: ["chassis1"],
};

function portUuid(n: number): string {
  return `00000000-0000-4000-8000-${n.toString(16).padStart(12, "0")}`;
}

function mac(n: number): string {
  const hex = n.toString(16).padStart(6, "0");
  return `fa:16:3e:${hex.slice(0, 2)}:${hex.slice(2, 4)}:${hex.slice(4, 6)}`;
}

/** A tenant command without its session and tenant fields (filled in by the builder). */
type TenantInput = TenantCommand extends infer C
  ? C extends TenantCommand
    ? Omit<C, "client_id" | "request_id" | "org_id" | "project_id">
    : never
  : never;

interface StateCounts {
  vpcs: number;
  subnets: number;
  ports: number;
  securityGroups: number;
  rules: number;
  snats: number;
  dnats: number;
  commands: number;
  buildMs: number;
}

/**
 * vpcsN projects, each: a VPC (10.t.0.0/16, its default subnet and group), subnetsN /24 subnets
 * with portsPerSubnet ports, groups "web" (4 ingress rules, one from a group) and "db" (2 rules),
 * ports alternating default / default+web / db; SNAT on every VPC, 2 DNATs on every other one.
 */
function buildState(): { sm: NetworkStateMachine; applied: number; counts: StateCounts } {
  const sm = new NetworkStateMachine();
  let index = 0;
  let timeMs = 1_700_000_000_000;
  const apply = (command: Command) => {
    const ctx: ApplyContext = { index: ++index, term: 1, timestampMs: ++timeMs };
    const result = sm.apply(encodeCommand(command), ctx);
    if (!result.ok) throw new Error(`${command.type}: ${result.code} ${result.message}`);
    return result.value;
  };
  const t0 = now();
  apply({
    type: "Bootstrap",
    config: { ...defaultNetworkConfig, external_ip_pool: ["198.51.100.16-198.51.100.250"] },
  });
  apply({ type: "RegisterClient", client_id: "bench" });
  let request = 0;
  let portN = 0;
  const counts: StateCounts = {
    vpcs: 0,
    subnets: 0,
    ports: 0,
    securityGroups: 0,
    rules: 0,
    snats: 0,
    dnats: 0,
    commands: 0,
    buildMs: 0,
  };
  for (let t = 0; t < vpcsN; t++) {
    const tenant = { client_id: "bench", org_id: `org${t}`, project_id: "p" };
    const cmd = (c: TenantInput): Command =>
      ({ ...tenant, request_id: ++request, ...c }) as unknown as Command;
    const vpcId = `org${t}/p`;
    apply(cmd({ type: "CreateVpc", name: `vpc ${t}`, cidr: `10.${t}.0.0/16` }));
    counts.vpcs++;
    counts.subnets++; // the default subnet
    counts.securityGroups++; // the default group
    apply(
      cmd({
        type: "CreateSecurityGroup",
        name: "web",
        ingress_rules: [
          {
            id: "http",
            protocol: "TCP",
            port_range: { min: 80, max: 80 },
            source_type: "CIDR",
            source: "0.0.0.0/0",
          },
          {
            id: "https",
            protocol: "TCP",
            port_range: { min: 443, max: 443 },
            source_type: "CIDR",
            source: "0.0.0.0/0",
          },
          {
            id: "ssh",
            protocol: "TCP",
            port_range: { min: 22, max: 22 },
            source_type: "SECURITY_GROUP",
            source: "default",
          },
          {
            id: "ping",
            protocol: "ICMP",
            port_range: { min: 8, max: 0 },
            source_type: "CIDR",
            source: "192.0.2.0/24",
          },
        ],
      }),
    );
    apply(
      cmd({
        type: "CreateSecurityGroup",
        name: "db",
        ingress_rules: [
          {
            id: "pg",
            protocol: "TCP",
            port_range: { min: 5432, max: 5432 },
            source_type: "SECURITY_GROUP",
            source: "web",
          },
        ],
        egress_rules: [{ id: "out", protocol: "ALL", source_type: "CIDR", source: "10.0.0.0/8" }],
      }),
    );
    counts.securityGroups += 2;
    counts.rules += 4 + 2;
    const groups = [undefined, ["default", "web"], ["db"]] as const;
    let firstIp: string | undefined;
    for (let s = 0; s < subnetsN; s++) {
      apply(
        cmd({ type: "CreateSubnet", vpc_id: vpcId, name: `s${s}`, cidr: `10.${t}.${s + 1}.0/24` }),
      );
      counts.subnets++;
      for (let i = 0; i < portsPerSubnet; i++) {
        portN++;
        const sg = groups[portN % 3];
        const port = apply(
          cmd({
            type: "CreatePort",
            port_id: portUuid(portN),
            subnet_id: `${vpcId}/s${s}`,
            mac_address: mac(portN),
            ...(sg !== undefined ? { security_group_ids: sg } : {}),
          }),
        ) as { ip_address: string };
        firstIp ??= port.ip_address;
        counts.ports++;
      }
    }
    const snat = apply(cmd({ type: "CreateSnat", vpc_id: vpcId })) as { external_ip: string };
    counts.snats++;
    if (t % 2 === 0 && firstIp !== undefined) {
      for (const [k, proto] of (["TCP", "UDP"] as const).entries()) {
        apply(
          cmd({
            type: "CreateDnat",
            dnat_id: portUuid(1_000_000 + t * 10 + k),
            vpc_id: vpcId,
            external_ip: snat.external_ip,
            external_port: 8080 + k,
            protocol: proto,
            internal_ip: firstIp,
            internal_port: 80,
          }),
        );
        counts.dnats++;
      }
    }
    if (t % 10 === 9) progress(`state: ${t + 1}/${vpcsN} VPCs, ${counts.ports} ports`);
  }
  progressDone();
  counts.commands = index;
  counts.buildMs = now() - t0;
  return { sm, applied: index, counts };
}

/** A standalone NB ovsdb-server (no northd) in `dir`, on a unix socket. */
async function startNb(dir: string): Promise<{ remote: string; pid: number }> {
  mkdirSync(dir, { recursive: true });
  const db = join(dir, "nb.db");
  const pidFile = join(dir, "nb.pid");
  await run(requireBinary("ovsdb-tool"), ["create", db, "/usr/share/ovn/ovn-nb.ovsschema"]);
  await run(requireBinary("ovsdb-server"), [
    "--detach",
    "--no-chdir",
    `--pidfile=${pidFile}`,
    `--log-file=${join(dir, "nb.log")}`,
    `--remote=punix:${join(dir, "nb.sock")}`,
    `--unixctl=${join(dir, "nb.ctl")}`,
    db,
  ]);
  const pid = Number(readFileSync(pidFile, "utf8").trim());
  onCleanup(async () => {
    try {
      process.kill(pid, "SIGTERM");
    } catch {
      return;
    }
    for (let i = 0; i < 100; i++) {
      try {
        process.kill(pid, 0);
      } catch {
        return;
      }
      await sleep(50);
    }
    process.kill(pid, "SIGKILL");
  });
  return { remote: `unix:${join(dir, "nb.sock")}`, pid };
}

/** Rows per NB table carrying our owner key (one select transaction). */
async function ownedRowCounts(client: OvsdbClient, owner: string): Promise<Record<string, number>> {
  const owned = [cond("external_ids", "includes", ovsMap({ [ownerKey]: owner }))];
  const results = await client.transact(
    NB_DATABASE,
    tableNames.map((t) => selectOp(t, owned, ["_uuid"])),
  );
  return Object.fromEntries(tableNames.map((t, i) => [t, results[i]?.rows?.length ?? 0]));
}

interface PassResult {
  ms: number;
  /** OvnSync's own measure of the pass (status().lastFullSyncMs). */
  passMs: number;
  transactions: number;
  operations: number;
  repairedRows: number;
  /** CPU time (user + system) of this process and of the NB ovsdb-server during the pass. */
  benchCpuMs: number;
  nbCpuMs: number;
}

interface Clock {
  t: number;
  cpu: NodeJS.CpuUsage;
  nbCpuMs: number;
}

/** CPU time of a process from /proc/<pid>/stat (utime + stime, USER_HZ = 100). */
function pidCpuMs(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return (Number(fields[11]) + Number(fields[12])) * 10;
  } catch {
    return Number.NaN;
  }
}

function clock(nbPid: number): Clock {
  return { t: now(), cpu: process.cpuUsage(), nbCpuMs: pidCpuMs(nbPid) };
}

function delta(
  before: OvnSyncStatus,
  after: OvnSyncStatus,
  start: Clock,
  nbPid: number,
): PassResult {
  const cpu = process.cpuUsage(start.cpu);
  return {
    ms: now() - start.t,
    benchCpuMs: (cpu.user + cpu.system) / 1000,
    nbCpuMs: pidCpuMs(nbPid) - start.nbCpuMs,
    passMs: after.lastFullSyncMs,
    transactions: after.transactions - before.transactions,
    operations: after.operations - before.operations,
    repairedRows: after.repairedRows - before.repairedRows,
  };
}

interface ResyncResult {
  state: StateCounts;
  stateHeapBytes: number;
  snapshotMs: number;
  initial: PassResult & { rows: number; rowsByTable: Record<string, number> };
  noChange: PassResult;
  repair: PassResult & { deletedLsps: number; recreatedLsps: number };
  /** A fresh OvnSync (new leader) against the populated NB: snapshot + first full pass. */
  failover: PassResult & { snapshotMs: number };
  memoryAfterLoad: ReturnType<typeof memory>;
  memoryEnd: ReturnType<typeof memory>;
  nbServerRssBytes: number | undefined;
}

async function benchResync(dir: string): Promise<ResyncResult> {
  const heap0 = process.memoryUsage().heapUsed;
  const { sm, applied, counts } = buildState();
  global.gc?.();
  const stateHeapBytes = process.memoryUsage().heapUsed - heap0;
  console.log(
    `state: ${counts.vpcs} VPCs, ${counts.subnets} subnets, ${counts.ports} ports, ${counts.securityGroups} groups (${counts.rules} extra rules), ${counts.snats} SNAT, ${counts.dnats} DNAT — ${counts.commands} commands applied in ${counts.buildMs.toFixed(0)} ms`,
  );
  const nbServer = await startNb(join(dir, "nb"));
  const clusterId = "bench";
  const newSync = () => {
    const o = new OvnSync({
      clusterId,
      nbRemotes: [nbServer.remote],
      external,
      state: () => sm,
      logger: log.child({ component: "ovn-sync" }),
      fullSyncIntervalMs: 3_600_000,
    });
    onCleanup(() => o.close());
    return o;
  };
  const sync = newSync();

  // The NB snapshot first (empty NB), then leadership: the load is the first full pass.
  const t = now();
  sync.start();
  await until("NB snapshot", () => sync.status().connected, waitMs);
  const snapshotMs = now() - t;
  progress(`initial load of ${counts.ports} ports into an empty NB`);
  const s0 = sync.status();
  const c0 = clock(nbServer.pid);
  sync.becomeLeader(1, applied);
  await until(
    `in-sync at ${applied}`,
    () => {
      const s = sync.status();
      return s.phase === "in-sync" && s.syncedIndex === applied;
    },
    waitMs,
  );
  const s1 = sync.status();
  const initial = delta(s0, s1, c0, nbServer.pid);
  progressDone();
  const memoryAfterLoad = memory();
  if (s1.failedTransactions > 0) throw new Error(`failed transactions: ${s1.lastError}`);

  const check = new OvsdbClient({ remotes: [nbServer.remote] });
  onCleanup(() => check.close());
  check.start();
  await check.whenConnected(waitMs);
  const rowsByTable = await ownedRowCounts(check, clusterId);
  const rows = Object.values(rowsByTable).reduce((x, y) => x + y, 0);
  const lsps = rowsByTable.Logical_Switch_Port ?? 0;
  if (lsps < counts.ports) throw new Error(`only ${lsps} LSPs in NB for ${counts.ports} ports`);

  // A full pass with nothing to change.
  progress("full pass, nothing changed");
  const c1 = clock(nbServer.pid);
  sync.applied(applied, { kind: "all" });
  await until("no-change full pass", () => sync.status().fullSyncs > s1.fullSyncs, waitMs, 1);
  const s2 = sync.status();
  const noChange = delta(s1, s2, c1, nbServer.pid);
  progressDone();

  // Delete LSPs of `deleteN` ports by hand (unlink from their switch; OVSDB collects them).
  const [lsRes, lspRes] = await check.transact(NB_DATABASE, [
    selectOp("Logical_Switch", [], ["_uuid", "ports"]),
    selectOp("Logical_Switch_Port", [], ["_uuid", "name"]),
  ]);
  const lspName = new Map<string, string>();
  for (const r of (lspRes as OperationResult).rows ?? []) {
    lspName.set(uuidOf(r._uuid), String(r.name));
  }
  const victims = new Map<string, string[]>(); // LS uuid → LSP uuids
  const victimNames: string[] = [];
  for (const r of (lsRes as OperationResult).rows ?? []) {
    const ls = uuidOf(r._uuid);
    for (const p of setOf(r.ports)) {
      if (victimNames.length >= deleteN) break;
      const name = lspName.get(p);
      if (name === undefined || !/^00000000-0000-4000-8000-/.test(name)) continue;
      victimNames.push(name);
      victims.set(ls, [...(victims.get(ls) ?? []), p]);
    }
  }
  await check.transact(
    NB_DATABASE,
    [...victims].map(([ls, ps]) =>
      mutateOp(
        "Logical_Switch",
        [cond("_uuid", "==", uuid(ls))],
        [setDelete("ports", ps.map(uuid))],
      ),
    ),
  );
  // OvnSync's own monitor has seen the deletions before the pass starts.
  await until(
    "OvnSync saw the deletions",
    () => victimNames.every((n) => sync.portStatus(n) === undefined),
    waitMs,
    1,
  );
  progress(`repair pass after deleting ${victimNames.length} LSPs`);
  const c2 = clock(nbServer.pid);
  sync.applied(applied, { kind: "all" });
  await until("repair full pass", () => sync.status().fullSyncs > s2.fullSyncs, waitMs, 1);
  const s3 = sync.status();
  const repair = delta(s2, s3, c2, nbServer.pid);
  progressDone();
  const recreatedLsps = victimNames.filter((n) => sync.portStatus(n) !== undefined).length;
  const after = await ownedRowCounts(check, clusterId);
  if ((after.Logical_Switch_Port ?? 0) !== lsps) {
    throw new Error(`after repair: ${after.Logical_Switch_Port} LSPs, expected ${lsps}`);
  }
  const memoryEnd = memory();

  // Failover: this sync goes away, a fresh one (a new leader, term 2) starts against the full NB.
  await sync.close();
  progress("new leader against the populated NB");
  const next = newSync();
  const f0 = clock(nbServer.pid);
  next.start();
  await until("NB snapshot (populated)", () => next.status().connected, waitMs, 1);
  const failoverSnapshotMs = now() - f0.t;
  const n0 = next.status();
  next.becomeLeader(2, applied);
  await until(
    `new leader in-sync at ${applied}`,
    () => {
      const s = next.status();
      return s.phase === "in-sync" && s.syncedIndex === applied;
    },
    waitMs,
    1,
  );
  const failover = delta(n0, next.status(), f0, nbServer.pid);
  progressDone();
  await next.close();
  return {
    state: counts,
    stateHeapBytes,
    snapshotMs,
    initial: { ...initial, rows, rowsByTable },
    noChange,
    repair: {
      ...repair,
      deletedLsps: victimNames.length,
      recreatedLsps,
    },
    failover: { ...failover, snapshotMs: failoverSnapshotMs },
    memoryAfterLoad,
    memoryEnd,
    nbServerRssBytes: pidRssBytes(nbServer.pid),
  };
}

function uuidOf(v: unknown): string {
  if (Array.isArray(v) && v[0] === "uuid") return String(v[1]);
  throw new Error(`not a uuid: ${JSON.stringify(v)}`);
}

/** A uuid set as sent on the wire: ["set", [["uuid", u], …]] or a single ["uuid", u]. */
function setOf(v: unknown): string[] {
  if (Array.isArray(v) && v[0] === "set") return (v[1] as unknown[]).map(uuidOf);
  if (Array.isArray(v) && v[0] === "uuid") return [String(v[1])];
  return [];
}

function printResync(r: ResyncResult): void {
  const row = (label: string, p: PassResult, extra: string) =>
    console.log(
      `${label.padEnd(34)} | ${p.ms.toFixed(0).padStart(7)} | ${p.passMs.toFixed(0).padStart(7)} | ${p.benchCpuMs.toFixed(0).padStart(7)} | ${p.nbCpuMs.toFixed(0).padStart(6)} | ${String(p.transactions).padStart(4)} | ${String(p.operations).padStart(7)} | ${extra}`,
    );
  console.log(
    `\nFull resync, ${r.state.ports.toLocaleString("en-US")} ports (in-process OvnSync, standalone NB ovsdb-server)`,
  );
  console.log(
    `${"pass".padEnd(34)} |   ms    | pass ms | cpu ms  | NB cpu | txns |   ops   | rows`,
  );
  row("initial load (empty NB)", r.initial, `${r.initial.rows} rows written`);
  row("full pass, nothing to change", r.noChange, `${r.noChange.repairedRows} rows repaired`);
  row(
    `repair after ${r.repair.deletedLsps} LSPs deleted`,
    r.repair,
    `${r.repair.repairedRows} rows repaired, ${r.repair.recreatedLsps} LSPs back`,
  );
  row(
    "new leader: snapshot + full pass",
    r.failover,
    `snapshot of the populated NB ${r.failover.snapshotMs.toFixed(0)} ms`,
  );
  console.log(
    `NB rows by table: ${Object.entries(r.initial.rowsByTable)
      .filter(([, n]) => n > 0)
      .map(([t, n]) => `${t} ${n}`)
      .join(", ")}`,
  );
  console.log(
    `memory: state machine heap ≈ ${mib(r.stateHeapBytes)}; after the load RSS ${mib(r.memoryAfterLoad.rssBytes)}, heap ${mib(r.memoryAfterLoad.heapUsedBytes)}; peak RSS ${mib(r.memoryEnd.maxRssBytes)}; NB ovsdb-server RSS ${r.nbServerRssBytes !== undefined ? mib(r.nbServerRssBytes) : "?"}; NB snapshot (empty) ${r.snapshotMs.toFixed(0)} ms`,
  );
}

// ---- main ------------------------------------------------------------------------------------

const dir = mkdtempSync(join(tmpdir(), "nvbos-"));
onCleanup(() => rmSync(dir, { recursive: true, force: true }));
let exitCode = 0;
try {
  const load = () => loadavg().map((x) => x.toFixed(2));
  const loadStart = load();
  console.log(
    `OVN sync benchmark — node ${process.version}, ${cpus().length} CPUs, load average ${loadStart.join(" ")}, ${new Date().toISOString()}`,
  );
  let e2e: E2eResult | undefined;
  let resync: ResyncResult | undefined;
  if (only !== "resync") {
    e2e = await benchE2e(join(dir, "e2e"));
    printPercentiles(
      `Commit → NB Logical_Switch_Port, ${e2e.ports} ports created one at a time (3 replicas, fsync on)`,
      [
        ["CreatePort call → ack", e2e.callToAckMs],
        ["ack → LSP in NB", e2e.ackToNbMs],
        ["call → LSP in NB", e2e.callToNbMs],
      ],
    );
    console.log(`(LSP in NB before the client had the ack: ${e2e.nbBeforeAck} of ${e2e.ports})`);
    if (e2e.upPorts > 0) {
      printPercentiles(
        `Commit → port up, ${e2e.upPorts} ports plugged as VMs right after the ack`,
        [
          ["ack → LSP in NB", e2e.upAckToNbMs],
          ["ack → plugged (vsctl add-port done)", e2e.plugMs],
          ["plugged → LSP.up = true", e2e.plugToUpMs],
          ["ack → LSP.up = true", e2e.ackToUpMs],
          ["ack → VM netns ready (MAC, link up)", e2e.vmReadyMs],
        ],
      );
    }
    // The e2e processes are stopped before the in-process part measures memory and time.
    await cleanupAll();
    onCleanup(() => rmSync(dir, { recursive: true, force: true }));
  }
  if (only !== "e2e") {
    resync = await benchResync(join(dir, "resync"));
    printResync(resync);
  }
  const resultsDir = join(projectRoot, "bench/results");
  mkdirSync(resultsDir, { recursive: true });
  const file = join(resultsDir, "ovn-sync.json");
  writeFileSync(
    file,
    `${JSON.stringify({ date: new Date().toISOString(), cpus: cpus().length, loadStart, loadEnd: load(), e2e, resync }, null, 2)}\n`,
  );
  console.log(`\nload average at the end: ${load().join(" ")}\nresults saved to ${file}`);
} catch (err) {
  console.error(`\nbench failed: ${(err as Error).stack ?? String(err)}`);
  exitCode = 1;
} finally {
  await cleanupAll();
}
process.exit(exitCode);
