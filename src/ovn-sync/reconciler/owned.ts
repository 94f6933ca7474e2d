// Index of the NB rows this cluster owns (external_ids novanet:owner == clusterId), kept in step
// with the client's cache from its update events, so that a scoped pass finds a VPC's rows in
// O(rows of that VPC) and portStatus finds an LSP by name in O(1).

import { clusterWideKinds } from "../mapping/desired.js";
import { keyKey, kindKey, ownerKey, type TableName, tableNames, vpcKey } from "../mapping/types.js";
import type { OvsdbCache, RowChange } from "../ovsdb/cache.js";
import type { DecodedRow } from "../ovsdb/values.js";

export interface OwnedEntry {
  readonly table: TableName;
  readonly uuid: string;
  /** novanet:key; "" when missing (such a row is never desired, so a full pass removes it). */
  readonly key: string;
  readonly kind: string;
  /** novanet:vpc, or undefined for cluster-wide (and untagged) rows. */
  readonly vpc: string | undefined;
  /** The row's name (Logical_Switch_Port only: portStatus looks ports up by name). */
  readonly name: string | undefined;
}

const managed: ReadonlySet<string> = new Set(tableNames);

function stringOf(value: unknown): string | undefined {
  return typeof value === "string" ? value : undefined;
}

export class OwnedIndex {
  readonly byUuid = new Map<string, OwnedEntry>();
  readonly #byKey = new Map<TableName, Map<string, Set<string>>>();
  readonly #byVpc = new Map<string, Set<string>>();
  /** Rows of the cluster-wide kinds: part of every scoped pass. */
  readonly clusterWide = new Set<string>();
  readonly #lspByName = new Map<string, string>();

  constructor(readonly clusterId: string) {}

  /** Rebuild the given tables from the cache (after a monitor reset). */
  rebuild(cache: OvsdbCache, tables: readonly string[]): void {
    for (const table of tables) {
      if (!managed.has(table)) continue;
      const keys = this.#byKey.get(table as TableName);
      for (const set of [...(keys?.values() ?? [])])
        for (const uuid of [...set]) this.#remove(uuid);
      for (const row of cache.table(table).values()) this.#add(table as TableName, row);
    }
  }

  apply(changes: readonly RowChange[]): void {
    for (const change of changes) {
      if (!managed.has(change.table)) continue;
      this.#remove(change.uuid);
      if (change.new !== undefined) this.#add(change.table as TableName, change.new);
    }
  }

  uuidsWithKey(table: TableName, key: string): ReadonlySet<string> | undefined {
    return this.#byKey.get(table)?.get(key);
  }

  uuidsOfVpc(vpc: string): ReadonlySet<string> | undefined {
    return this.#byVpc.get(vpc);
  }

  lspByName(name: string): string | undefined {
    return this.#lspByName.get(name);
  }

  get size(): number {
    return this.byUuid.size;
  }

  #add(table: TableName, row: DecodedRow): void {
    const ids = row.external_ids;
    if (ids === undefined || typeof ids !== "object" || Array.isArray(ids)) return;
    if (ids[ownerKey] !== this.clusterId) return;
    const uuid = row._uuid;
    if (typeof uuid !== "string") return;
    const kind = stringOf(ids[kindKey]) ?? "";
    const vpc = stringOf(ids[vpcKey]);
    const name = table === "Logical_Switch_Port" ? stringOf(row.name) : undefined;
    const entry: OwnedEntry = { table, uuid, key: stringOf(ids[keyKey]) ?? "", kind, vpc, name };
    this.byUuid.set(uuid, entry);
    const keys = this.#byKey.get(table) ?? new Map<string, Set<string>>();
    this.#byKey.set(table, keys);
    const set = keys.get(entry.key) ?? new Set<string>();
    keys.set(entry.key, set);
    set.add(uuid);
    if (vpc !== undefined) {
      const vs = this.#byVpc.get(vpc) ?? new Set<string>();
      this.#byVpc.set(vpc, vs);
      vs.add(uuid);
    } else if (clusterWideKinds.has(kind)) {
      this.clusterWide.add(uuid);
    }
    if (name !== undefined) this.#lspByName.set(name, uuid);
  }

  #remove(uuid: string): void {
    const entry = this.byUuid.get(uuid);
    if (entry === undefined) return;
    this.byUuid.delete(uuid);
    const keys = this.#byKey.get(entry.table);
    const set = keys?.get(entry.key);
    set?.delete(uuid);
    if (set !== undefined && set.size === 0) keys?.delete(entry.key);
    if (entry.vpc !== undefined) {
      const vs = this.#byVpc.get(entry.vpc);
      vs?.delete(uuid);
      if (vs !== undefined && vs.size === 0) this.#byVpc.delete(entry.vpc);
    }
    this.clusterWide.delete(uuid);
    if (entry.name !== undefined && this.#lspByName.get(entry.name) === uuid)
      this.#lspByName.delete(entry.name);
  }
}
