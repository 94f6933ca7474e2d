/** OVSDB schema types (RFC 7047 §3.2), normalised for value decoding. */

export type AtomicType = "integer" | "real" | "boolean" | "string" | "uuid";

export interface BaseType {
  readonly type: AtomicType;
  readonly refTable?: string;
  readonly refType?: "strong" | "weak";
}

export interface ColumnType {
  readonly key: BaseType;
  readonly value?: BaseType;
  readonly min: number;
  /** Number.POSITIVE_INFINITY for "unlimited". */
  readonly max: number;
}

export interface ColumnSchema {
  readonly type: ColumnType;
  readonly ephemeral?: boolean;
  readonly mutable?: boolean;
}

export interface TableSchema {
  readonly columns: Readonly<Record<string, ColumnSchema>>;
  readonly isRoot: boolean;
  readonly indexes: readonly (readonly string[])[];
}

export interface DatabaseSchema {
  readonly name: string;
  readonly version: string;
  readonly tables: Readonly<Record<string, TableSchema>>;
  /** The schema exactly as the server sent it. */
  readonly raw: unknown;
}

export class OvsdbSchemaError extends Error {
  override readonly name = "OvsdbSchemaError";
}

const ATOMIC = new Set(["integer", "real", "boolean", "string", "uuid"]);

function obj(v: unknown, what: string): Record<string, unknown> {
  if (typeof v !== "object" || v === null || Array.isArray(v)) {
    throw new OvsdbSchemaError(`${what}: expected an object`);
  }
  return v as Record<string, unknown>;
}

function parseBase(v: unknown, what: string): BaseType {
  if (typeof v === "string") {
    if (!ATOMIC.has(v)) throw new OvsdbSchemaError(`${what}: unknown type ${v}`);
    return { type: v as AtomicType };
  }
  const o = obj(v, what);
  const type = o.type;
  if (typeof type !== "string" || !ATOMIC.has(type)) {
    throw new OvsdbSchemaError(`${what}: unknown type ${String(type)}`);
  }
  const base: { type: AtomicType; refTable?: string; refType?: "strong" | "weak" } = {
    type: type as AtomicType,
  };
  if (typeof o.refTable === "string") {
    base.refTable = o.refTable;
    base.refType = o.refType === "weak" ? "weak" : "strong";
  }
  return base;
}

export function parseColumnType(v: unknown, what = "column"): ColumnType {
  if (typeof v === "string") return { key: parseBase(v, what), min: 1, max: 1 };
  const o = obj(v, what);
  const key = parseBase(o.key, `${what}.key`);
  const min = o.min === undefined ? 1 : o.min;
  const max = o.max === undefined ? 1 : o.max === "unlimited" ? Number.POSITIVE_INFINITY : o.max;
  if (typeof min !== "number" || typeof max !== "number") {
    throw new OvsdbSchemaError(`${what}: bad min/max`);
  }
  if (o.value !== undefined) return { key, value: parseBase(o.value, `${what}.value`), min, max };
  return { key, min, max };
}

export function parseSchema(raw: unknown): DatabaseSchema {
  const o = obj(raw, "schema");
  if (typeof o.name !== "string") throw new OvsdbSchemaError("schema: missing name");
  const tables: Record<string, TableSchema> = {};
  for (const [tname, tv] of Object.entries(obj(o.tables, "schema.tables"))) {
    const t = obj(tv, tname);
    const columns: Record<string, ColumnSchema> = {};
    for (const [cname, cv] of Object.entries(obj(t.columns, `${tname}.columns`))) {
      const c = obj(cv, `${tname}.${cname}`);
      columns[cname] = {
        type: parseColumnType(c.type, `${tname}.${cname}`),
        ephemeral: c.ephemeral === true,
        mutable: c.mutable !== false,
      };
    }
    // Implicit columns (RFC 7047 §3.1).
    columns._uuid = { type: { key: { type: "uuid" }, min: 1, max: 1 } };
    columns._version = { type: { key: { type: "uuid" }, min: 1, max: 1 } };
    const indexes = Array.isArray(t.indexes)
      ? (t.indexes as unknown[]).filter((i): i is string[] => Array.isArray(i))
      : [];
    tables[tname] = { columns, isRoot: t.isRoot === true, indexes };
  }
  return { name: o.name, version: typeof o.version === "string" ? o.version : "", tables, raw };
}
