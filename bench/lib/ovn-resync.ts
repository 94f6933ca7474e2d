// The in-process half of the OVN sync suite: a NetworkStateMachine of a given size built by
// applying commands (no Raft), and an OvnSync over it against a fresh standalone NB ovsdb-server
// (no northd, which would compete for the cores). Measures the initial load into an empty NB, a
// full pass with nothing to change, a repair pass after LSPs were deleted by hand, and a new
// leader (fresh OvnSync, term 2) on the populated NB.
import { mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import type { Logger } from "pino";
import { requireBinary, run } from "../../cluster/lib/local-ovn.js";
import { OvnSync, type OvnSyncStatus } from "../../src/ovn-sync/index.js";
import type { ExternalNetwork } from "../../src/ovn-sync/mapping/desired.js";
import { ownerKey, tableNames } from "../../src/ovn-sync/mapping/index.js";
import {
  cond,
  mutateOp,
  NB_DATABASE,
  NB_MONITOR_COLUMNS,
  type OperationResult,
  OvsdbClient,
  ovsMap,
  selectOp,
  setDelete,
  uuid,
} from "../../src/ovn-sync/ovsdb/index.js";
import {
  type ApplyContext,
  type Command,
  defaultNetworkConfig,
  encodeCommand,
  NetworkStateMachine,
  type TenantCommand,
} from "../../src/statemachine/index.js";
import { type CleanupStack, type Progress, pidCpuMs, pidRssBytes } from "./report.js";

const now = () => performance.now();

/** A forced GC without --expose-gc (the flag set at run time, `gc` taken from a new context). */
function gc(): void {
  setFlagsFromString("--expose-gc");
  (runInNewContext("gc") as () => void)();
}

/** VPCs × subnets (/24 each) × ports per subnet; a /24 holds 253 ports, a VPC /16 256 subnets. */
export interface ResyncShape {
  vpcs: number;
  subnetsPerVpc: number;
  portsPerSubnet: number;
  /** LSPs deleted by hand before the repair pass. */
  deleteLsps: number;
}

export function shapeFor(ports: number): ResyncShape {
  // 10k: 50 × 2 × 100 (the shape of the earlier runs); 100k: 200 × 2 × 250 (the external pool
  // 198.51.100.16-250 gives one SNAT IP to each of at most 235 VPCs; VPC CIDRs are 10.t.0.0/16).
  const portsPerSubnet = ports >= 50_000 ? 250 : ports >= 5_000 ? 100 : 50;
  const vpcs = Math.ceil(ports / (2 * portsPerSubnet));
  if (vpcs > 235) throw new Error(`${ports} ports need ${vpcs} VPCs, more than the SNAT pool`);
  return { vpcs, subnetsPerVpc: 2, portsPerSubnet, deleteLsps: Math.ceil(ports / 10) };
}

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

export interface StateCounts {
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

const webRules = [
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
] as const;

/**
 * shape.vpcs projects, each: a VPC (10.t.0.0/16, its default subnet and group), /24 subnets with
 * portsPerSubnet ports, groups "web" (4 ingress rules, one from a group) and "db" (2 rules), ports
 * alternating default / default+web / db; SNAT on every VPC, 2 DNATs on every other one.
 */
export function buildState(
  shape: ResyncShape,
  progress: Progress,
): { sm: NetworkStateMachine; applied: number; counts: StateCounts } {
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
  const total = shape.vpcs * shape.subnetsPerVpc * shape.portsPerSubnet;
  progress.start("state machine: ports created", total);
  for (let t = 0; t < shape.vpcs; t++) {
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
        ingress_rules: [...webRules],
      } as TenantInput),
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
    for (let s = 0; s < shape.subnetsPerVpc; s++) {
      apply(
        cmd({ type: "CreateSubnet", vpc_id: vpcId, name: `s${s}`, cidr: `10.${t}.${s + 1}.0/24` }),
      );
      counts.subnets++;
      for (let i = 0; i < shape.portsPerSubnet; i++) {
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
      progress.update(counts.ports);
    }
    const snat = apply(cmd({ type: "CreateSnat", vpc_id: vpcId })) as { external_ip: string };
    counts.snats++;
    if (t % 2 === 0 && firstIp !== undefined) {
      for (const [k, proto] of (["TCP", "UDP"] as const).entries()) {
        apply(
          cmd({
            type: "CreateDnat",
            dnat_id: portUuid(1_000_000_000 + t * 10 + k),
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
  }
  progress.stop();
  counts.commands = index;
  counts.buildMs = now() - t0;
  return { sm, applied: index, counts };
}

/** Polls `pred` every `everyMs` (OvnSync's status has no events); `tick` feeds a progress bar. */
async function until(
  what: string,
  pred: () => boolean,
  timeoutMs: number,
  everyMs = 5,
  tick?: () => void,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!pred()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms: ${what}`);
    tick?.();
    await sleep(everyMs);
  }
}

/** A standalone NB ovsdb-server (no northd) in `dir`, on a unix socket. */
async function startNb(
  dir: string,
  cleanup: CleanupStack,
): Promise<{ remote: string; pid: number }> {
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
  cleanup.push(async () => {
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

export interface PassResult {
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

export interface Memory {
  rssBytes: number;
  heapUsedBytes: number;
  /** Peak RSS of this process so far (getrusage): includes earlier, smaller runs. */
  maxRssBytes: number;
}

function memory(): Memory {
  const m = process.memoryUsage();
  return {
    rssBytes: m.rss,
    heapUsedBytes: m.heapUsed,
    maxRssBytes: process.resourceUsage().maxRSS * 1024,
  };
}

export interface ResyncResult {
  shape: ResyncShape;
  state: StateCounts;
  /** Heap growth while building the state machine (forced GC before and after). */
  stateHeapBytes: number;
  /** Bound of every wait in this run, from the size. */
  waitMs: number;
  snapshotMs: number;
  initial: PassResult & { rows: number; rowsByTable: Record<string, number> };
  noChange: PassResult;
  repair: PassResult & { deletedLsps: number; recreatedLsps: number };
  /** A fresh OvnSync (new leader) against the populated NB: snapshot + first full pass. */
  failover: PassResult & { snapshotMs: number; error?: string; bigClientSnapshotMs?: number };
  memoryAfterLoad: Memory;
  memoryEnd: Memory;
  nbServerRssBytes: number;
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

/**
 * One resync run of `shape`; everything it starts is pushed on `cleanup`, which the caller runs
 * right after (so the next, larger run measures memory and CPU without this one's leftovers).
 */
export async function benchResync(
  dir: string,
  shape: ResyncShape,
  progress: Progress,
  cleanup: CleanupStack,
  log: Logger,
): Promise<ResyncResult> {
  gc();
  const heap0 = process.memoryUsage().heapUsed;
  const built = buildState(shape, progress);
  const { sm, applied, counts } = built;
  gc();
  const stateHeapBytes = process.memoryUsage().heapUsed - heap0;
  // 10k ports loaded in 2–6 s on this machine when shared: 2 ms a port (×4 headroom) + 60 s.
  const waitMs = 60_000 + counts.ports * 2;
  const nbServer = await startNb(join(dir, "nb"), cleanup);
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
    cleanup.push(() => o.close());
    return o;
  };
  const sync = newSync();

  // The NB snapshot first (empty NB), then leadership: the load is the first full pass.
  const t = now();
  sync.start();
  await until("NB snapshot", () => sync.status().connected, waitMs);
  const snapshotMs = now() - t;
  // About 1.4 NB operations per port (an insert, and the switch's reference per transaction).
  const opsEstimate = Math.round(counts.ports * 1.4);
  progress.start(`initial load, ${counts.ports} ports: NB operations`, opsEstimate);
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
    5,
    () => progress.update(sync.status().operations - s0.operations),
  );
  const s1 = sync.status();
  const initial = delta(s0, s1, c0, nbServer.pid);
  progress.update(s1.operations - s0.operations);
  progress.stop();
  const memoryAfterLoad = memory();
  if (s1.failedTransactions > 0) throw new Error(`failed transactions: ${s1.lastError}`);

  const check = new OvsdbClient({ remotes: [nbServer.remote] });
  cleanup.push(() => check.close());
  check.start();
  await check.whenConnected(waitMs);
  const rowsByTable = await ownedRowCounts(check, clusterId);
  const rows = Object.values(rowsByTable).reduce((x, y) => x + y, 0);
  const lsps = rowsByTable.Logical_Switch_Port ?? 0;
  if (lsps < counts.ports) throw new Error(`only ${lsps} LSPs in NB for ${counts.ports} ports`);

  // A full pass with nothing to change.
  progress.log(`  ${counts.ports} ports: full pass, nothing changed`);
  const c1 = clock(nbServer.pid);
  sync.applied(applied, { kind: "all" });
  await until("no-change full pass", () => sync.status().fullSyncs > s1.fullSyncs, waitMs, 1);
  const s2 = sync.status();
  const noChange = delta(s1, s2, c1, nbServer.pid);

  // Delete LSPs of `deleteLsps` ports by hand (unlink from their switch; OVSDB collects them).
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
      if (victimNames.length >= shape.deleteLsps) break;
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
  progress.log(`  ${counts.ports} ports: repair pass after deleting ${victimNames.length} LSPs`);
  const c2 = clock(nbServer.pid);
  sync.applied(applied, { kind: "all" });
  await until("repair full pass", () => sync.status().fullSyncs > s2.fullSyncs, waitMs, 1);
  const s3 = sync.status();
  const repair = delta(s2, s3, c2, nbServer.pid);
  const recreatedLsps = victimNames.filter((n) => sync.portStatus(n) !== undefined).length;
  const after = await ownedRowCounts(check, clusterId);
  if ((after.Logical_Switch_Port ?? 0) !== lsps) {
    throw new Error(`after repair: ${after.Logical_Switch_Port} LSPs, expected ${lsps}`);
  }
  const memoryEnd = memory();

  // Failover: this sync goes away, a fresh one (a new leader, term 2) starts against the full NB.
  await sync.close();
  progress.log(`  ${counts.ports} ports: new leader against the populated NB`);
  const next = newSync();
  const f0 = clock(nbServer.pid);
  let failover: ResyncResult["failover"];
  try {
    next.start();
    // A snapshot the client refuses (message size limit) fails every reconnect the same way:
    // report it instead of waiting out the bound.
    await until(
      "NB snapshot (populated)",
      () => {
        const s = next.status();
        if (!s.connected && s.lastError?.includes("larger than")) throw new Error(s.lastError);
        return s.connected;
      },
      waitMs,
      1,
    );
    const snapshotMs = now() - f0.t;
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
    failover = { ...delta(n0, next.status(), f0, nbServer.pid), snapshotMs };
  } catch (err) {
    const nan = Number.NaN;
    failover = {
      ...delta(next.status(), next.status(), f0, nbServer.pid),
      passMs: nan,
      transactions: nan,
      operations: nan,
      repairedRows: nan,
      snapshotMs: nan,
      // Without the temp socket path: "message larger than … bytes".
      error: `NB snapshot: ${(err as Error).message.replace(/^NB connect [^ ]+: /, "")}`,
    };
  }
  await next.close();
  if (failover.error?.includes("larger than")) {
    // How long the same monitor takes for a client that accepts the message (1 GiB limit).
    const big = new OvsdbClient({ remotes: [nbServer.remote], messageBytesMax: 1 << 30 });
    cleanup.push(() => big.close());
    const b0 = now();
    big.start();
    await big.whenConnected(waitMs);
    await big.monitor(NB_MONITOR_COLUMNS);
    failover.bigClientSnapshotMs = now() - b0;
    big.close();
  }
  return {
    shape,
    state: counts,
    stateHeapBytes,
    waitMs,
    snapshotMs,
    initial: { ...initial, rows, rowsByTable },
    noChange,
    repair: { ...repair, deletedLsps: victimNames.length, recreatedLsps },
    failover,
    memoryAfterLoad,
    memoryEnd,
    nbServerRssBytes: pidRssBytes(nbServer.pid),
  };
}
