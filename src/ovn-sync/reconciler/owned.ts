// Index of the NB rows this cluster owns (external_ids novanet:owner == clusterId, or one of the
// adopted owners: rows of the cluster this one was restored from), kept in step with the client's
// cache from its update events, so that a scoped pass finds a VPC's rows in O(rows of that VPC)
// and portStatus finds an LSP by name in O(1).

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
  /** Owned by an adopted cluster id: a full pass rewrites its owner (or removes it). */
  readonly adopted: boolean;
}

const managed: ReadonlySet<string> = new Set(tableNames);

function stringOf(value: unknown): string | undefined {
  return typeof value === "string" ? value : undefined;
}

/**
 * The keys of the cluster-wide rows name their cluster ("external-switch:<id>"): an adopted one is
 * indexed under our key, so that the row is kept and rewritten in place (its uuid, and the
 * references to it, stay) rather than deleted and created anew.
 */
function adoptedKey(key: string, kind: string, owner: string, clusterId: string): string {
  if (owner === clusterId || !clusterWideKinds.has(kind)) return key;
  const prefix = `${kind}:${owner}`;
  if (key === prefix || key.startsWith(`${prefix}:`)) {
    return `${kind}:${clusterId}${key.slice(prefix.length)}`;
  }
  return key;
}

export class OwnedIndex {
  readonly byUuid = new Map<string, OwnedEntry>();
  readonly #byKey = new Map<TableName, Map<string, Set<string>>>();
  readonly #byVpc = new Map<string, Set<string>>();
  /** Rows of the cluster-wide kinds: part of every scoped pass. */
  readonly clusterWide = new Set<string>();
  readonly #lspByName = new Map<string, string>();
  readonly #adopt: ReadonlySet<string>;
  /** Rows still carrying an adopted owner. */
  adoptedRows = 0;

  constructor(
    readonly clusterId: string,
    adopt: readonly string[] = [],
  ) {
    this.#adopt = new Set(adopt);
  }

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
    const owner = ids[ownerKey];
    const adopted = owner !== this.clusterId;
    if (adopted && (typeof owner !== "string" || !this.#adopt.has(owner))) return;
    const uuid = row._uuid;
    if (typeof uuid !== "string") return;
    const kind = stringOf(ids[kindKey]) ?? "";
    const vpc = stringOf(ids[vpcKey]);
    const name = table === "Logical_Switch_Port" ? stringOf(row.name) : undefined;
    const key = adoptedKey(stringOf(ids[keyKey]) ?? "", kind, owner as string, this.clusterId);
    const entry: OwnedEntry = { table, uuid, key, kind, vpc, name, adopted };
    this.byUuid.set(uuid, entry);
    if (adopted) this.adoptedRows++;
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
    if (entry.adopted) this.adoptedRows--;
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
