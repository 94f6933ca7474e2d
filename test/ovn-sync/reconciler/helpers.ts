// Shared pieces of the reconciler tests: a real NB (ovsdb-server), OvnSync instances over a real
// NetworkStateMachine, an independent observer client, and a checker that compares the owned NB
// rows with desiredNorthbound column by column (uuids resolved to NovaNET keys).

import { pino } from "pino";
import { expect } from "vitest";
import { OvnSync, scopeOfCommand } from "../../../src/ovn-sync/index.js";
import {
  columns,
  type DesiredNb,
  desiredNorthbound,
  type ExternalNetwork,
  keyKey,
  type MappingOptions,
  ownerKey,
  type TableName,
  tableNames,
} from "../../../src/ovn-sync/mapping/index.js";
import {
  NB_DATABASE,
  NB_MONITOR_COLUMNS,
  type NbRows,
  type Operation,
  OvsdbClient,
} from "../../../src/ovn-sync/ovsdb/index.js";
import type { Atom, DecodedValue } from "../../../src/ovn-sync/ovsdb/values.js";
import type { Command, CommandValues, Result } from "../../../src/statemachine/index.js";
import { Harness } from "../../statemachine/harness.js";

export const clusterId = "test-cluster";
export const external: ExternalNetwork = {
  cidr: "203.0.113.0/24",
  gateway: "203.0.113.254",
  physicalNetwork: "physnet1",
  gatewayChassis: ["chassis-a", "chassis-b"],
};
export const mapping: MappingOptions = { clusterId, external };

/** The rule most tests give a "web" group: TCP 80 from anywhere. */
export const httpFromAnywhere = {
  id: "http",
  protocol: "TCP",
  port_range: { min: 80, max: 80 },
  source_type: "CIDR",
  source: "0.0.0.0/0",
} as const;

export const silent = pino({ level: process.env.OVN_TEST_LOG ?? "silent" });

export interface SyncOpts {
  readonly txnOpsMax?: number;
  readonly fullSyncIntervalMs?: number;
  readonly clusterId?: string;
  readonly fenceRecheckMs?: number;
  readonly adoptOwners?: readonly string[];
}

export function newSync(remotes: readonly string[], harness: Harness, o: SyncOpts = {}): OvnSync {
  return new OvnSync({
    clusterId: o.clusterId ?? clusterId,
    nbRemotes: remotes,
    external,
    state: () => harness.sm,
    logger: silent,
    fullSyncIntervalMs: o.fullSyncIntervalMs ?? 3_600_000,
    ...(o.txnOpsMax !== undefined ? { txnOpsMax: o.txnOpsMax } : {}),
    ...(o.adoptOwners !== undefined ? { adoptOwners: o.adoptOwners } : {}),
    fenceRecheckMs: o.fenceRecheckMs ?? 200,
    retryDelayMaxMs: 300,
    reconnectBackoffMaxMs: 200,
  });
}

export async function observer(remotes: readonly string[]): Promise<OvsdbClient<NbRows>> {
  const c = new OvsdbClient<NbRows>({ remotes, backoffInitialMs: 20, backoffMaxMs: 200 });
  c.start();
  await c.whenConnected();
  await c.monitor(NB_MONITOR_COLUMNS);
  return c;
}

export async function transact(c: OvsdbClient<NbRows>, ops: Operation[]): Promise<void> {
  await c.transact(NB_DATABASE, ops);
}

type Row = Readonly<Record<string, DecodedValue>>;

function ownedRows(c: OvsdbClient<NbRows>, table: TableName, owner: string): Row[] {
  const out: Row[] = [];
  for (const row of (c.cache.table(table) as unknown as ReadonlyMap<string, Row>).values()) {
    const ids = row.external_ids as Record<string, Atom> | undefined;
    if (ids?.[ownerKey] === owner) out.push(row);
  }
  return out;
}

function arr(v: DecodedValue | undefined): Atom[] {
  if (v === undefined) return [];
  if (Array.isArray(v)) return v;
  if (typeof v === "object") return [];
  return [v];
}

/**
 * Differences between the owned NB rows and `desired` (empty when NB matches): missing, extra
 * and duplicate rows, and every managed column that differs. References compare as keys.
 */
export function differences(c: OvsdbClient<NbRows>, desired: DesiredNb): string[] {
  const owner = desired.clusterId;
  const keyOf = new Map<string, string>();
  const byTable = new Map<TableName, Map<string, Row[]>>();
  for (const table of tableNames) {
    const m = new Map<string, Row[]>();
    for (const row of ownedRows(c, table, owner)) {
      const key = String((row.external_ids as Record<string, Atom>)[keyKey]);
      keyOf.set(String(row._uuid), key);
      m.set(key, [...(m.get(key) ?? []), row]);
    }
    byTable.set(table, m);
  }
  const out: string[] = [];
  for (const table of tableNames) {
    const have = byTable.get(table)!;
    const want = desired.tables[table] as unknown as ReadonlyMap<
      string,
      Readonly<Record<string, unknown>>
    >;
    for (const key of have.keys()) if (!want.has(key)) out.push(`extra ${table} ${key}`);
    for (const [key, row] of want) {
      const rows = have.get(key) ?? [];
      if (rows.length === 0) {
        out.push(`missing ${table} ${key}`);
        continue;
      }
      if (rows.length > 1) out.push(`duplicate ${table} ${key} ×${rows.length}`);
      const cur = rows[0]!;
      for (const [column, kind] of Object.entries(
        columns[table] as Readonly<Record<string, string>>,
      )) {
        const w = row[column];
        const h = cur[column];
        let same: boolean;
        if (kind === "atom") same = Array.isArray(h) ? h.length === 1 && h[0] === w : h === w;
        else if (kind === "set")
          same =
            JSON.stringify(arr(h).map(String).sort()) ===
            JSON.stringify([...(w as string[])].sort());
        else if (kind === "map")
          same =
            JSON.stringify(Object.entries((h ?? {}) as object).sort()) ===
            JSON.stringify(Object.entries(w as object).sort());
        else if (kind.startsWith("ref?:") || kind.startsWith("ref:"))
          same =
            JSON.stringify(arr(h).map((u) => keyOf.get(String(u)))) ===
            JSON.stringify(w === null ? [] : [w]);
        else {
          // Owned references only: foreign members of our sets are allowed to stay.
          const keys = arr(h)
            .map((u) => keyOf.get(String(u)))
            .filter((k): k is string => k !== undefined)
            .sort();
          same = JSON.stringify(keys) === JSON.stringify([...(w as string[])].sort());
        }
        if (!same)
          out.push(
            `${table} ${key}.${column}: have ${JSON.stringify(h)} want ${JSON.stringify(w)}`,
          );
      }
    }
  }
  return out;
}

export function desiredOf(harness: Harness, id = clusterId): DesiredNb {
  return desiredNorthbound(harness.sm, { ...mapping, clusterId: id });
}

export async function until(pred: () => boolean, what: () => string, timeoutMs = 20_000) {
  const deadline = Date.now() + timeoutMs;
  while (!pred()) {
    if (Date.now() > deadline) throw new Error(`timed out: ${what()}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Wait until the sync reports the harness's index synced and the observer sees desired rows. */
export async function converged(
  sync: OvnSync,
  obs: OvsdbClient<NbRows>,
  harness: Harness,
  timeoutMs = 20_000,
): Promise<void> {
  const desired = desiredOf(harness);
  let diff: string[] = [];
  await until(
    () => {
      const s = sync.status();
      if (s.syncedIndex < harness.index || s.phase !== "in-sync") return false;
      diff = differences(obs, desired);
      return diff.length === 0;
    },
    () => `status ${JSON.stringify(sync.status())} diff ${diff.slice(0, 10).join("; ")}`,
    timeoutMs,
  );
  expect(differences(obs, desired)).toEqual([]);
}

/** A harness that tells its OvnSync instances of every entry applied ok, as the server does. */
export class TrackedHarness extends Harness {
  readonly syncs: OvnSync[] = [];
  override apply<C extends Command>(command: C, stepMs = 10): Result<CommandValues[C["type"]]> {
    const result = super.apply(command, stepMs);
    if (result.ok) for (const s of this.syncs) s.applied(this.index, scopeOfCommand(command));
    return result;
  }
}
