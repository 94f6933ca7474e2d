/** Transaction operation builders (RFC 7047 §5.2) and the transact error type. */

import type { OvsAtom, OvsRow, OvsValue } from "./values.js";
import { ovsMap, ovsSet, uuid } from "./values.js";

export type ConditionFunction = "==" | "!=" | "<" | "<=" | ">" | ">=" | "includes" | "excludes";
export type Condition = readonly [column: string, fn: ConditionFunction, value: OvsValue];
export type Mutator = "+=" | "-=" | "*=" | "/=" | "%=" | "insert" | "delete";
export type Mutation = readonly [column: string, mutator: Mutator, value: OvsValue];

export type Operation =
  | { op: "insert"; table: string; row: OvsRow; "uuid-name"?: string; uuid?: string }
  | { op: "select"; table: string; where: readonly Condition[]; columns?: readonly string[] }
  | { op: "update"; table: string; where: readonly Condition[]; row: OvsRow }
  | { op: "mutate"; table: string; where: readonly Condition[]; mutations: readonly Mutation[] }
  | { op: "delete"; table: string; where: readonly Condition[] }
  | {
      op: "wait";
      table: string;
      where: readonly Condition[];
      columns: readonly string[];
      until: "==" | "!=";
      rows: readonly OvsRow[];
      timeout?: number;
    }
  | { op: "commit"; durable: boolean }
  | { op: "abort" }
  | { op: "comment"; comment: string }
  | { op: "assert"; lock: string };

/** One element of a transact reply. `null` follows the first failed operation. */
export interface OperationResult {
  readonly uuid?: readonly ["uuid", string];
  readonly rows?: readonly Record<string, unknown>[];
  readonly count?: number;
  readonly error?: string;
  readonly details?: string;
}

/** A transaction the server refused: names the failing operation and the server's error/details. */
export class OvsdbTransactionError extends Error {
  override readonly name = "OvsdbTransactionError";
  constructor(
    /** Index of the failing operation; ops.length for a commit-time error (e.g. constraint violation). */
    readonly opIndex: number,
    readonly op: Operation | undefined,
    readonly error: string,
    readonly details: string | undefined,
    readonly results: readonly (OperationResult | null)[],
  ) {
    const where = op ? `op ${opIndex} (${op.op}${"table" in op ? ` ${op.table}` : ""})` : "commit";
    super(`transaction failed at ${where}: ${error}${details ? `: ${details}` : ""}`);
  }
}

/** The first error in a transact reply, or undefined if every operation succeeded. */
export function findTransactionError(
  ops: readonly Operation[],
  results: readonly (OperationResult | null)[],
): OvsdbTransactionError | undefined {
  for (let i = 0; i < results.length; i++) {
    const r = results[i];
    if (r && typeof r.error === "string") {
      return new OvsdbTransactionError(i, ops[i], r.error, r.details, results);
    }
  }
  if (results.length < ops.length) {
    return new OvsdbTransactionError(
      results.length,
      ops[results.length],
      "short reply",
      `${results.length} results for ${ops.length} operations`,
      results,
    );
  }
  return undefined;
}

// ---------- conditions ----------

export function cond(column: string, fn: ConditionFunction, value: OvsValue): Condition {
  return [column, fn, value];
}

export function whereUuid(u: string): Condition[] {
  return [["_uuid", "==", uuid(u)]];
}

export function whereName(name: string): Condition[] {
  return [["name", "==", name]];
}

// ---------- operations ----------

export function insertOp(
  table: string,
  row: OvsRow,
  opts: { uuidName?: string; uuid?: string } = {},
): Operation {
  const op: Operation = { op: "insert", table, row };
  if (opts.uuidName !== undefined) op["uuid-name"] = opts.uuidName;
  if (opts.uuid !== undefined) op.uuid = opts.uuid;
  return op;
}

export function selectOp(
  table: string,
  where: readonly Condition[] = [],
  columns?: readonly string[],
): Operation {
  return columns ? { op: "select", table, where, columns } : { op: "select", table, where };
}

export function updateOp(table: string, where: readonly Condition[], row: OvsRow): Operation {
  return { op: "update", table, where, row };
}

export function deleteOp(table: string, where: readonly Condition[]): Operation {
  return { op: "delete", table, where };
}

export function mutateOp(
  table: string,
  where: readonly Condition[],
  mutations: readonly Mutation[],
): Operation {
  return { op: "mutate", table, where, mutations };
}

/** Add elements to a set column (e.g. Logical_Switch.ports). */
export function setInsert(column: string, atoms: Iterable<OvsAtom>): Mutation {
  return [column, "insert", ovsSet(atoms)];
}

/** Remove elements from a set column. */
export function setDelete(column: string, atoms: Iterable<OvsAtom>): Mutation {
  return [column, "delete", ovsSet(atoms)];
}

/** Add key/value pairs to a map column; existing keys are left unchanged (RFC 7047 §5.1). */
export function mapInsert(column: string, entries: Readonly<Record<string, OvsAtom>>): Mutation {
  return [column, "insert", ovsMap(entries)];
}

/** Remove keys (whatever their value) from a map column. */
export function mapDeleteKeys(column: string, keys: Iterable<OvsAtom>): Mutation {
  return [column, "delete", ovsSet(keys)];
}

/** Set map keys to values regardless of their previous values: delete, then insert. */
export function mapPut(column: string, entries: Readonly<Record<string, OvsAtom>>): Mutation[] {
  return [mapDeleteKeys(column, Object.keys(entries)), mapInsert(column, entries)];
}

/**
 * wait: with timeout 0 (default) a compare-and-swap prerequisite; the transaction fails
 * with "timed out" unless the rows selected by `where` (projected to `columns`)
 * are (until "==") or are not (until "!=") exactly `rows`.
 */
export function waitOp(
  table: string,
  where: readonly Condition[],
  columns: readonly string[],
  until: "==" | "!=",
  rows: readonly OvsRow[],
  timeoutMs = 0,
): Operation {
  return { op: "wait", table, where, columns, until, rows, timeout: timeoutMs };
}

/** Fail the transaction if a row with this `name` already exists (for tables without a name index). */
export function failIfNameExists(table: string, name: string): Operation {
  return waitOp(table, whereName(name), ["name"], "!=", [{ name }]);
}

export function commentOp(comment: string): Operation {
  return { op: "comment", comment };
}
