/**
 * OVSDB value encoding (RFC 7047 §5.1), both directions.
 *
 * Wire form: atoms are JSON strings/numbers/booleans, ["uuid", u] or
 * ["named-uuid", n]; sets are ["set", [atom...]] (a one-element set may be a
 * bare atom); maps are ["map", [[k, v]...]].
 *
 * Decoded form (used by the cache and typed rows): uuids become plain strings,
 * sets become arrays, maps become Record<string, Atom> (keys stringified),
 * scalar columns (min 1, max 1) become a bare atom.
 */

import type { ColumnType } from "./schema.js";

export type OvsUuid = readonly ["uuid", string];
export type OvsNamedUuid = readonly ["named-uuid", string];
export type OvsAtom = string | number | boolean | OvsUuid | OvsNamedUuid;
export type OvsSet = readonly ["set", readonly OvsAtom[]];
export type OvsMap = readonly ["map", readonly (readonly [OvsAtom, OvsAtom])[]];
export type OvsValue = OvsAtom | OvsSet | OvsMap;
export type OvsRow = Record<string, OvsValue>;

/** Decoded atom: uuids are plain strings. */
export type Atom = string | number | boolean;
export type DecodedValue = Atom | Atom[] | Record<string, Atom>;
export type DecodedRow = Record<string, DecodedValue>;

export class OvsdbValueError extends Error {
  override readonly name = "OvsdbValueError";
}

export const ZERO_UUID = "00000000-0000-0000-0000-000000000000";

// ---------- builders (JS -> wire) ----------

export function uuid(u: string): OvsUuid {
  return ["uuid", u];
}

export function namedUuid(name: string): OvsNamedUuid {
  return ["named-uuid", name];
}

export function ovsSet(atoms: Iterable<OvsAtom>): OvsSet {
  return ["set", [...atoms]];
}

export function uuidSet(uuids: Iterable<string>): OvsSet {
  return ["set", [...uuids].map(uuid)];
}

/** Map from a record or entries; string keys/values stay strings. */
export function ovsMap(
  m: Readonly<Record<string, OvsAtom>> | Iterable<readonly [OvsAtom, OvsAtom]>,
): OvsMap {
  const entries: (readonly [OvsAtom, OvsAtom])[] = [];
  if (isIterable(m)) {
    for (const [k, v] of m) entries.push([k, v]);
  } else {
    for (const [k, v] of Object.entries(m)) entries.push([k, v]);
  }
  return ["map", entries];
}

/** Optional (min 0, max 1) column value: the atom, or the empty set. */
export function ovsOptional(a: OvsAtom | undefined): OvsValue {
  return a === undefined ? ["set", []] : a;
}

function isIterable(x: unknown): x is Iterable<readonly [OvsAtom, OvsAtom]> {
  return typeof x === "object" && x !== null && Symbol.iterator in x;
}

// ---------- predicates (wire) ----------

export function isUuidAtom(v: unknown): v is OvsUuid {
  return Array.isArray(v) && v.length === 2 && v[0] === "uuid" && typeof v[1] === "string";
}

export function isNamedUuidAtom(v: unknown): v is OvsNamedUuid {
  return Array.isArray(v) && v.length === 2 && v[0] === "named-uuid" && typeof v[1] === "string";
}

export function isAtom(v: unknown): v is OvsAtom {
  const t = typeof v;
  return t === "string" || t === "number" || t === "boolean" || isUuidAtom(v) || isNamedUuidAtom(v);
}

function isSetValue(v: unknown): v is OvsSet {
  return Array.isArray(v) && v.length === 2 && v[0] === "set" && Array.isArray(v[1]);
}

function isMapValue(v: unknown): v is OvsMap {
  return Array.isArray(v) && v.length === 2 && v[0] === "map" && Array.isArray(v[1]);
}

// ---------- decoding (wire -> JS) ----------

export function decodeAtom(v: unknown): Atom {
  if (typeof v === "string" || typeof v === "number" || typeof v === "boolean") return v;
  if (isUuidAtom(v) || isNamedUuidAtom(v)) return v[1];
  throw new OvsdbValueError(`not an OVSDB atom: ${JSON.stringify(v)}`);
}

/** Elements of a set value; a bare atom is a one-element set. */
export function decodeSet(v: unknown): Atom[] {
  if (isSetValue(v)) return v[1].map(decodeAtom);
  return [decodeAtom(v)];
}

export function decodeMap(v: unknown): Record<string, Atom> {
  if (!isMapValue(v)) throw new OvsdbValueError(`not an OVSDB map: ${JSON.stringify(v)}`);
  const out: Record<string, Atom> = {};
  for (const pair of v[1]) {
    if (!Array.isArray(pair) || pair.length !== 2) {
      throw new OvsdbValueError(`bad map pair: ${JSON.stringify(pair)}`);
    }
    out[String(decodeAtom(pair[0]))] = decodeAtom(pair[1]);
  }
  return out;
}

export function isScalarType(t: ColumnType): boolean {
  return t.min === 1 && t.max === 1 && t.value === undefined;
}

/** Decode a wire value according to its column type. */
export function decodeValue(v: unknown, t: ColumnType): DecodedValue {
  if (t.value !== undefined) return decodeMap(v);
  if (isScalarType(t)) {
    // A scalar may still arrive as a one-element set.
    if (isSetValue(v)) {
      const a = v[1];
      if (a.length !== 1) throw new OvsdbValueError(`scalar column got ${a.length} elements`);
      return decodeAtom(a[0]);
    }
    return decodeAtom(v);
  }
  return decodeSet(v);
}

/** Default value of a column (what an omitted column means in update2 "initial"/"insert"). */
export function defaultValue(t: ColumnType): DecodedValue {
  if (t.value !== undefined) return {};
  if (!isScalarType(t)) return [];
  switch (t.key.type) {
    case "integer":
    case "real":
      return 0;
    case "boolean":
      return false;
    case "uuid":
      return ZERO_UUID;
    default:
      return "";
  }
}

// ---------- update2 "modify" diff application ----------

function atomKey(a: Atom): string {
  return `${typeof a}:${String(a)}`;
}

/**
 * Apply an update2 "modify" diff for one column (ovsdb-server.7 §4.1.14,
 * ovsdb_datum_apply_diff):
 * - columns with max 1 (scalars, and optional min 0/max 1 columns): the
 *   "diff" is the new value (an empty set clears an optional column; verified
 *   against ovsdb-server 3.1);
 * - sets (max > 1): the diff is the symmetric difference of old and new, so
 *   each element is toggled;
 * - map: a key absent from old is added; a key present with the same value is
 *   removed; a key present with a different value gets the new value.
 */
export function applyDiff(old: DecodedValue, diff: unknown, t: ColumnType): DecodedValue {
  if (t.value !== undefined) {
    const base = (old ?? {}) as Record<string, Atom>;
    const out: Record<string, Atom> = { ...base };
    for (const [k, v] of Object.entries(decodeMap(diff))) {
      if (!Object.hasOwn(out, k)) out[k] = v;
      else if (out[k] === v) delete out[k];
      else out[k] = v;
    }
    return out;
  }
  if (t.max === 1) return decodeValue(diff, t);
  const current = new Map<string, Atom>();
  for (const a of Array.isArray(old) ? old : []) current.set(atomKey(a), a);
  for (const a of decodeSet(diff)) {
    const k = atomKey(a);
    if (current.has(k)) current.delete(k);
    else current.set(k, a);
  }
  return [...current.values()];
}
