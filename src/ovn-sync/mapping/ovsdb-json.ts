// Desired rows → OVSDB JSON (RFC 7047 §5.1), driven by the column kinds in types.ts. The
// reconciler supplies how a key becomes a uuid: ["named-uuid", n] for a row inserted in the same
// transaction, ["uuid", u] for a row already in the database.

import { columns, type DesiredNb, type RowTypes, type TableName, tableNames } from "./types.js";

export type OvsdbUuid = readonly ["uuid", string] | readonly ["named-uuid", string];
export type OvsdbValue =
  | string
  | number
  | boolean
  | OvsdbUuid
  | readonly ["set", readonly (string | number | OvsdbUuid)[]]
  | readonly ["map", readonly (readonly [string, string])[]];

export type OvsdbRow = Readonly<Record<string, OvsdbValue>>;

export interface InsertOperation {
  readonly op: "insert";
  readonly table: TableName;
  readonly "uuid-name": string;
  readonly row: OvsdbRow;
}

/** Encode one desired row; `uuidOf` resolves a referenced row's key. */
export function ovsdbRow<T extends TableName>(
  table: T,
  row: RowTypes[T],
  uuidOf: (table: TableName, key: string) => OvsdbUuid,
): OvsdbRow {
  const out: Record<string, OvsdbValue> = {};
  const kinds = columns[table] as Readonly<Record<string, string>>;
  const values = row as unknown as Readonly<Record<string, unknown>>;
  for (const [column, kind] of Object.entries(kinds)) {
    const value = values[column];
    if (kind === "atom") {
      out[column] = value as string | number;
    } else if (kind === "set") {
      out[column] = ["set", [...(value as readonly string[])]];
    } else if (kind === "map") {
      const entries = Object.entries(value as Readonly<Record<string, string>>).sort(([a], [b]) =>
        a < b ? -1 : a > b ? 1 : 0,
      );
      out[column] = ["map", entries];
    } else {
      const [mode, target] = kind.split(":") as [string, TableName];
      if (mode === "ref") out[column] = uuidOf(target, value as string);
      else if (mode === "ref?")
        out[column] = value === null ? ["set", []] : ["set", [uuidOf(target, value as string)]];
      else out[column] = ["set", (value as readonly string[]).map((key) => uuidOf(target, key))];
    }
  }
  return out;
}

/**
 * Insert operations for every desired row, children first, referencing each other by
 * named-uuid: what the reconciler sends to an empty Northbound database (and what the tests
 * send to a real ovsdb-server to check the rows against the schema).
 */
export function insertAllOperations(desired: DesiredNb): InsertOperation[] {
  const uuidNames = new Map<string, string>();
  for (const table of tableNames)
    for (const key of desired.tables[table].keys()) uuidNames.set(key, `row${uuidNames.size}`);
  const uuidOf = (table: TableName, key: string): OvsdbUuid => {
    const name = uuidNames.get(key);
    if (name === undefined || !desired.tables[table].has(key))
      throw new Error(`reference to ${table} ${key}, which is not desired`);
    return ["named-uuid", name];
  };
  const ops: InsertOperation[] = [];
  for (const table of tableNames) {
    const rows = desired.tables[table] as ReadonlyMap<string, RowTypes[typeof table]>;
    for (const [key, row] of rows) {
      ops.push({
        op: "insert",
        table,
        "uuid-name": uuidNames.get(key)!,
        row: ovsdbRow(table, row, uuidOf),
      });
    }
  }
  return ops;
}
