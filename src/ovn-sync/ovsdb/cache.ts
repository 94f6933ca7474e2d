/**
 * In-memory replica of monitored tables: Map<table, Map<uuid, row>>.
 * Rows are decoded by column type (see values.ts) and carry `_uuid`.
 * Applies RFC 7047 `update` (old/new) and ovsdb-server `update2`
 * (initial/insert/modify/delete, modify = diff) notifications.
 */

import type { DatabaseSchema, TableSchema } from "./schema.js";
import {
  applyDiff,
  type DecodedRow,
  type DecodedValue,
  decodeValue,
  defaultValue,
} from "./values.js";

export class OvsdbCacheError extends Error {
  override readonly name = "OvsdbCacheError";
}

export type RowChangeKind = "initial" | "insert" | "modify" | "delete";

export interface RowChange<Row = DecodedRow> {
  readonly table: string;
  readonly uuid: string;
  readonly kind: RowChangeKind;
  /** Row before the change (modify, delete). */
  readonly old?: Row;
  /** Row after the change (initial, insert, modify). */
  readonly new?: Row;
}

export interface CacheOptions {
  /** Refuse to hold more rows than this in total (across tables). */
  readonly rowsMax?: number;
}

type CachedRow = DecodedRow & { _uuid: string };

/**
 * `Rows` maps table name to the row type; use NbRows for OVN_Northbound.
 * The typed view is only truthful for tables monitored with all the
 * interface's columns (see NB_MONITOR_COLUMNS).
 */
export class OvsdbCache<Rows extends object = Record<string, DecodedRow>> {
  private readonly tables = new Map<string, Map<string, CachedRow>>();
  /** Columns monitored per table (undefined = all). */
  private readonly columns = new Map<string, readonly string[] | undefined>();
  private schema: DatabaseSchema | undefined;
  private readonly rowsMax: number;
  private rowCount = 0;

  constructor(options: CacheOptions = {}) {
    this.rowsMax = options.rowsMax ?? 5_000_000;
  }

  setSchema(schema: DatabaseSchema): void {
    this.schema = schema;
  }

  get size(): number {
    return this.rowCount;
  }

  /** Rows of a table (empty map if not monitored). Do not mutate. */
  table<T extends keyof Rows & string>(name: T): ReadonlyMap<string, Rows[T]>;
  table(name: string): ReadonlyMap<string, DecodedRow>;
  table(name: string): ReadonlyMap<string, unknown> {
    return this.tables.get(name) ?? new Map();
  }

  get<T extends keyof Rows & string>(table: T, uuid: string): Rows[T] | undefined;
  get(table: string, uuid: string): DecodedRow | undefined;
  get(table: string, uuid: string): unknown {
    return this.tables.get(table)?.get(uuid);
  }

  /** Linear scan; fine for occasional lookups, index yourself for hot paths. */
  find<T extends keyof Rows & string>(
    table: T,
    pred: (row: Rows[T]) => boolean,
  ): Rows[T] | undefined {
    for (const row of this.table(table).values()) if (pred(row)) return row;
    return undefined;
  }

  tableNames(): string[] {
    return [...this.tables.keys()];
  }

  /** Forget tables and start them empty (used before applying a full snapshot). */
  reset(tables: Readonly<Record<string, readonly string[] | undefined>>): void {
    for (const [t, cols] of Object.entries(tables)) {
      this.rowCount -= this.tables.get(t)?.size ?? 0;
      this.tables.set(t, new Map());
      this.columns.set(t, cols);
    }
  }

  drop(tables: Iterable<string>): void {
    for (const t of tables) {
      this.rowCount -= this.tables.get(t)?.size ?? 0;
      this.tables.delete(t);
      this.columns.delete(t);
    }
  }

  /** Apply `<table-updates2>` (monitor_cond initial reply and update2 notifications). */
  applyUpdate2(updates: unknown): RowChange[] {
    const changes: RowChange[] = [];
    for (const [tname, rows] of Object.entries(asObject(updates, "table-updates2"))) {
      const ts = this.tableSchema(tname);
      const table = this.liveTable(tname);
      for (const [id, ru] of Object.entries(asObject(rows, `${tname} updates`))) {
        const u = asObject(ru, `${tname}/${id}`);
        const old = table.get(id);
        if ("initial" in u || "insert" in u) {
          const kind: RowChangeKind = "initial" in u ? "initial" : "insert";
          const row = this.fullRow(tname, ts, id, asObject(u[kind], `${tname}/${id}`));
          this.put(table, id, row, old);
          changes.push({ table: tname, uuid: id, kind, new: row });
        } else if ("modify" in u) {
          if (!old) throw new OvsdbCacheError(`modify of unknown row ${tname}/${id}`);
          const row: CachedRow = { ...old };
          for (const [col, diff] of Object.entries(asObject(u.modify, `${tname}/${id}`))) {
            const cs = ts.columns[col];
            if (!cs) throw new OvsdbCacheError(`unknown column ${tname}.${col}`);
            const prev: DecodedValue = old[col] ?? defaultValue(cs.type);
            row[col] = applyDiff(prev, diff, cs.type);
          }
          table.set(id, row);
          changes.push({ table: tname, uuid: id, kind: "modify", old, new: row });
        } else if ("delete" in u) {
          if (old) {
            table.delete(id);
            this.rowCount--;
          }
          changes.push({ table: tname, uuid: id, kind: "delete", ...(old ? { old } : {}) });
        } else {
          throw new OvsdbCacheError(`bad row update for ${tname}/${id}`);
        }
      }
    }
    return changes;
  }

  /**
   * Apply RFC 7047 `<table-updates>` (monitor reply and update notifications):
   * "new" carries every monitored column; "old" only the changed ones.
   * `initial` marks rows of the monitor reply.
   */
  applyUpdate(updates: unknown, initial: boolean): RowChange[] {
    const changes: RowChange[] = [];
    for (const [tname, rows] of Object.entries(asObject(updates, "table-updates"))) {
      const ts = this.tableSchema(tname);
      const table = this.liveTable(tname);
      for (const [id, ru] of Object.entries(asObject(rows, `${tname} updates`))) {
        const u = asObject(ru, `${tname}/${id}`);
        const old = table.get(id);
        if (u.new !== undefined) {
          const row = this.fullRow(tname, ts, id, asObject(u.new, `${tname}/${id}`));
          this.put(table, id, row, old);
          const kind: RowChangeKind = initial ? "initial" : old ? "modify" : "insert";
          changes.push({ table: tname, uuid: id, kind, new: row, ...(old ? { old } : {}) });
        } else {
          if (old) {
            table.delete(id);
            this.rowCount--;
          }
          changes.push({ table: tname, uuid: id, kind: "delete", ...(old ? { old } : {}) });
        }
      }
    }
    return changes;
  }

  private put(
    table: Map<string, CachedRow>,
    id: string,
    row: CachedRow,
    old: CachedRow | undefined,
  ): void {
    if (!old) {
      if (this.rowCount >= this.rowsMax) {
        throw new OvsdbCacheError(`cache holds ${this.rowsMax} rows (rowsMax)`);
      }
      this.rowCount++;
    }
    table.set(id, row);
  }

  private tableSchema(name: string): TableSchema {
    const ts = this.schema?.tables[name];
    if (!ts) throw new OvsdbCacheError(`no schema for table ${name}`);
    return ts;
  }

  private liveTable(name: string): Map<string, CachedRow> {
    let t = this.tables.get(name);
    if (!t) {
      t = new Map();
      this.tables.set(name, t);
    }
    return t;
  }

  /** Decode a full row, filling omitted monitored columns with their defaults. */
  private fullRow(
    tname: string,
    ts: TableSchema,
    id: string,
    wire: Record<string, unknown>,
  ): CachedRow {
    const row: CachedRow = { _uuid: id };
    const cols = this.columns.get(tname) ?? Object.keys(ts.columns);
    for (const c of cols) {
      if (c === "_uuid" || c === "_version") continue;
      const cs = ts.columns[c];
      if (cs) row[c] = defaultValue(cs.type);
    }
    for (const [c, v] of Object.entries(wire)) {
      const cs = ts.columns[c];
      if (!cs) throw new OvsdbCacheError(`unknown column ${tname}.${c}`);
      if (c === "_uuid") continue;
      row[c] = decodeValue(v, cs.type);
    }
    return row;
  }
}

function asObject(v: unknown, what: string): Record<string, unknown> {
  if (typeof v !== "object" || v === null || Array.isArray(v)) {
    throw new OvsdbCacheError(`${what}: expected an object`);
  }
  return v as Record<string, unknown>;
}
