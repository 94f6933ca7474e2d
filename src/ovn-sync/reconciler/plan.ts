// One planning step of a pass: compare desired rows with the owned rows in the cache and emit
// self-contained units of OVSDB operations. A pass calls planStep, runs the units, and calls it
// again on the updated cache until nothing is left: each step only uses uuids that exist now, or
// named-uuids of rows inserted in the same unit, so no step depends on another step's results.
//
// - "remove" steps come first: delete owned root rows that are not desired (or are duplicates of
//   a key), and remove references to such owned rows from the sets of desired parents. Non-root
//   rows go away through OVSDB garbage collection once no parent references them. References to
//   rows we do not own, or (scoped passes) to rows outside the scope, are never removed.
// - "write" steps insert missing rows (parents first; a non-root row in the same unit as the
//   mutation of its parent's set, with as many of its own new children as fit), and update
//   managed columns of existing rows. A reference to a row that does not exist yet is left for a
//   later step (sets) or the row waits for it (single references such as LSP → DHCP_Options).

import {
  columns,
  type DesiredNb,
  keyKey,
  ownerKey,
  rootTables,
  type TableName,
} from "../mapping/types.js";
import type { OvsdbCache } from "../ovsdb/cache.js";
import { type Condition, type Mutation, type Operation, whereUuid } from "../ovsdb/ops.js";
import {
  type Atom,
  type DecodedValue,
  namedUuid,
  type OvsAtom,
  type OvsRow,
  ovsMap,
  ovsSet,
  uuid as uuidAtom,
} from "../ovsdb/values.js";
import type { OwnedEntry, OwnedIndex } from "./owned.js";

export interface Unit {
  readonly ops: Operation[];
  /** Rows this unit inserts, updates or deletes (references removed count one each). */
  readonly rows: number;
}

export interface Step {
  readonly kind: "remove" | "write";
  readonly units: readonly Unit[];
}

export interface PlanInput {
  readonly desired: DesiredNb;
  readonly cache: OvsdbCache;
  readonly owned: OwnedIndex;
  /** The owned rows this pass may delete or unlink. */
  readonly universe: () => Iterable<OwnedEntry>;
  readonly inUniverse: (entry: OwnedEntry) => boolean;
  /** Operations one unit may hold (txnOpsMax less the fence). */
  readonly unitOpsMax: number;
}

/** Strong reference sets: the parent → child relation OVSDB garbage collection follows. */
const strongSets: { readonly [T in TableName]?: readonly string[] } = {
  Logical_Router: ["ports", "static_routes", "nat"],
  Logical_Router_Port: ["gateway_chassis"],
  Logical_Switch: ["ports"],
  Port_Group: ["acls"],
};

/** Tables without a unique index: inserts carry a wait that fails on a concurrent duplicate. */
const unindexed: ReadonlySet<TableName> = new Set<TableName>([
  "Logical_Switch",
  "Logical_Router",
  "ACL",
  "NAT",
  "DHCP_Options",
  "Load_Balancer",
  "Logical_Router_Static_Route",
]);

/** Insert order: roots first, then children by depth. */
const insertOrder: readonly TableName[] = [
  "DHCP_Options",
  "Load_Balancer",
  "Logical_Router",
  "Logical_Switch",
  "Port_Group",
  "Logical_Router_Port",
  "Logical_Router_Static_Route",
  "Logical_Switch_Port",
  "ACL",
  "Gateway_Chassis",
  "NAT",
];

type ColumnSpec =
  | { readonly kind: "atom" | "set" | "map" }
  | { readonly kind: "ref" | "ref?" | "refs"; readonly target: TableName };

const specs = new Map<TableName, readonly (readonly [string, ColumnSpec])[]>();
for (const table of insertOrder) {
  const out: (readonly [string, ColumnSpec])[] = [];
  for (const [column, kind] of Object.entries(columns[table] as Readonly<Record<string, string>>)) {
    if (kind === "atom" || kind === "set" || kind === "map") out.push([column, { kind }]);
    else {
      const [mode, target] = kind.split(":") as ["ref" | "ref?" | "refs", TableName];
      out.push([column, { kind: mode, target }]);
    }
  }
  specs.set(table, out);
}

function specsOf(table: TableName): readonly (readonly [string, ColumnSpec])[] {
  const s = specs.get(table);
  if (s === undefined) throw new Error(`no column specs for ${table}`);
  return s;
}

type Values = Readonly<Record<string, unknown>>;

function asArray(value: DecodedValue | undefined): readonly Atom[] {
  if (value === undefined) return [];
  if (Array.isArray(value)) return value;
  if (typeof value === "object") return [];
  return [value];
}

function atomEqual(cur: DecodedValue | undefined, want: unknown): boolean {
  // Optional columns (min 0, max 1) come decoded as arrays.
  if (Array.isArray(cur)) return cur.length === 1 && cur[0] === want;
  return cur === want;
}

function setEqual(cur: DecodedValue | undefined, want: readonly string[]): boolean {
  const have = asArray(cur);
  if (have.length !== want.length) return false;
  const set = new Set<Atom>(have);
  return want.every((w) => set.has(w));
}

function mapEqual(cur: DecodedValue | undefined, want: Readonly<Record<string, string>>): boolean {
  if (cur === undefined || typeof cur !== "object" || Array.isArray(cur))
    return Object.keys(want).length === 0;
  const keys = Object.keys(cur);
  if (keys.length !== Object.keys(want).length) return false;
  return keys.every((k) => want[k] !== undefined && String(cur[k]) === want[k]);
}

const setMemo = new WeakMap<readonly Atom[], ReadonlySet<Atom>>();

/** Membership set of a cached set column; memoised per array (the cache replaces, never edits). */
function membership(value: DecodedValue | undefined): ReadonlySet<Atom> {
  const array = asArray(value);
  let set = setMemo.get(array);
  if (set === undefined) {
    set = new Set(array);
    if (Array.isArray(value)) setMemo.set(array, set);
  }
  return set;
}

function where(uuid: string): Condition[] {
  return whereUuid(uuid);
}

/** wait: no row of `table` carries this owner and key (fails on a concurrent duplicate). */
function guardOp(table: TableName, owner: string, key: string): Operation {
  return {
    op: "wait",
    table,
    where: [["external_ids", "includes", ovsMap({ [ownerKey]: owner, [keyKey]: key })]],
    columns: [],
    until: "==",
    rows: [],
    timeout: 0,
  };
}

class Planner {
  readonly #in: PlanInput;
  readonly #desired: DesiredNb;
  /** Desired key → the uuid of the row kept for it. */
  readonly #chosen = new Map<string, string>();
  /** Non-root desired key → its parent (table, key). */
  readonly #parentOf = new Map<string, { table: TableName; key: string; column: string }>();
  #named = 0;

  constructor(input: PlanInput) {
    this.#in = input;
    this.#desired = input.desired;
    for (const table of insertOrder) {
      for (const [key, row] of this.#desired.tables[table]) {
        const uuid = this.#choose(table, key);
        if (uuid !== undefined) this.#chosen.set(key, uuid);
        for (const column of strongSets[table] ?? []) {
          for (const child of (row as unknown as Values)[column] as readonly string[])
            this.#parentOf.set(child, { table, key, column });
        }
      }
    }
  }

  /** Of several owned rows with one key keep the one with the most references (fewest rebuilt). */
  #choose(table: TableName, key: string): string | undefined {
    const uuids = this.#in.owned.uuidsWithKey(table, key);
    if (uuids === undefined || uuids.size === 0) return undefined;
    if (uuids.size === 1) return uuids.values().next().value;
    let best: string | undefined;
    let bestScore = -1;
    for (const uuid of [...uuids].sort()) {
      const row = this.#in.cache.get(table, uuid);
      if (row === undefined) continue;
      let score = 0;
      for (const column of strongSets[table] ?? []) score += asArray(row[column]).length;
      if (score > bestScore) {
        best = uuid;
        bestScore = score;
      }
    }
    return best;
  }

  #isKept(entry: OwnedEntry): boolean {
    return (
      this.#chosen.get(entry.key) === entry.uuid && this.#desired.tables[entry.table].has(entry.key)
    );
  }

  removals(): Unit[] {
    const units: Unit[] = [];
    for (const entry of this.#in.universe()) {
      if (this.#isKept(entry) || !rootTables.has(entry.table)) continue;
      units.push({
        ops: [{ op: "delete", table: entry.table, where: where(entry.uuid) }],
        rows: 1,
      });
    }
    for (const table of insertOrder) {
      const refSets = specsOf(table).filter(([, s]) => s.kind === "refs");
      if (refSets.length === 0) continue;
      for (const [key, row] of this.#desired.tables[table]) {
        const uuid = this.#chosen.get(key);
        if (uuid === undefined) continue;
        const cached = this.#in.cache.get(table, uuid);
        if (cached === undefined) continue;
        const mutations: Mutation[] = [];
        let removed = 0;
        for (const [column] of refSets) {
          const want = new Set<string>();
          for (const k of (row as unknown as Values)[column] as readonly string[]) {
            const u = this.#chosen.get(k);
            if (u !== undefined) want.add(u);
          }
          const drop: OvsAtom[] = [];
          for (const u of asArray(cached[column])) {
            if (typeof u !== "string" || want.has(u)) continue;
            const target = this.#in.owned.byUuid.get(u);
            // Foreign references, and owned ones outside this pass's scope, stay.
            if (target !== undefined && this.#in.inUniverse(target)) drop.push(uuidAtom(u));
          }
          if (drop.length > 0) {
            mutations.push([column, "delete", ovsSet(drop)]);
            removed += drop.length;
          }
        }
        if (mutations.length > 0)
          units.push({
            ops: [{ op: "mutate", table, where: where(uuid), mutations }],
            rows: removed,
          });
      }
    }
    return units;
  }

  writes(): Unit[] {
    const units: Unit[] = [];
    const planned = new Set<string>();
    for (const table of insertOrder) {
      for (const [key, row] of this.#desired.tables[table]) {
        if (this.#chosen.has(key) || planned.has(key)) continue;
        let parent: { table: TableName; key: string; column: string; uuid: string } | undefined;
        if (!rootTables.has(table)) {
          const p = this.#parentOf.get(key);
          if (p === undefined) throw new Error(`desired non-root row ${key} has no parent`);
          const uuid = this.#chosen.get(p.key);
          if (uuid === undefined) continue; // the parent comes first
          parent = { ...p, uuid };
        }
        const unit = new UnitBuilder(this, this.#in.unitOpsMax - (parent === undefined ? 0 : 1));
        const named = unit.insert(table, key, row as unknown as Values, planned);
        if (named === undefined) continue; // waits for a referenced row
        if (parent !== undefined) {
          unit.ops.push({
            op: "mutate",
            table: parent.table,
            where: where(parent.uuid),
            mutations: [[parent.column, "insert", ovsSet([namedUuid(named)])]],
          });
        }
        units.push({ ops: unit.ops, rows: unit.rows });
      }
    }
    for (const table of insertOrder) {
      for (const [key, row] of this.#desired.tables[table]) {
        const uuid = this.#chosen.get(key);
        if (uuid === undefined) continue;
        const cached = this.#in.cache.get(table, uuid);
        if (cached === undefined) continue;
        const unit = this.#update(table, uuid, row as unknown as Values, cached, planned);
        if (unit !== undefined) units.push(unit);
      }
    }
    return units;
  }

  #update(
    table: TableName,
    uuid: string,
    row: Values,
    cached: Readonly<Record<string, DecodedValue>>,
    planned: ReadonlySet<string>,
  ): Unit | undefined {
    const changed: OvsRow = {};
    let changes = 0;
    const mutations: Mutation[] = [];
    for (const [column, spec] of specsOf(table)) {
      const want = row[column];
      const cur = cached[column];
      switch (spec.kind) {
        case "atom":
          if (!atomEqual(cur, want)) {
            changed[column] = want as string | number;
            changes++;
          }
          break;
        case "set":
          if (!setEqual(cur, want as readonly string[])) {
            changed[column] = ovsSet(want as readonly string[]);
            changes++;
          }
          break;
        case "map":
          if (!mapEqual(cur, want as Readonly<Record<string, string>>)) {
            changed[column] = ovsMap(want as Readonly<Record<string, string>>);
            changes++;
          }
          break;
        case "ref":
        case "ref?": {
          const key = want as string | null;
          if (key !== null && planned.has(key)) break; // next step, once it exists
          const target = key === null ? undefined : this.#chosen.get(key);
          if (key !== null && target === undefined) break;
          const have = asArray(cur);
          const same =
            target === undefined ? have.length === 0 : have.length === 1 && have[0] === target;
          if (!same) {
            changed[column] =
              spec.kind === "ref" ? uuidAtom(target!) : ovsSet(target ? [uuidAtom(target)] : []);
            changes++;
          }
          break;
        }
        case "refs": {
          const have = membership(cur);
          const add: OvsAtom[] = [];
          for (const k of want as readonly string[]) {
            const u = this.#chosen.get(k);
            if (u !== undefined && !have.has(u)) add.push(uuidAtom(u));
          }
          if (add.length > 0) mutations.push([column, "insert", ovsSet(add)]);
          break;
        }
        default:
          return assertNever(spec);
      }
    }
    const ops: Operation[] = [];
    if (changes > 0) ops.push({ op: "update", table, where: where(uuid), row: changed });
    if (mutations.length > 0) ops.push({ op: "mutate", table, where: where(uuid), mutations });
    return ops.length === 0 ? undefined : { ops, rows: 1 };
  }

  // --- for UnitBuilder ---

  chosen(key: string): string | undefined {
    return this.#chosen.get(key);
  }

  nextName(): string {
    return `n${this.#named++}`;
  }

  get owner(): string {
    return this.#desired.clusterId;
  }

  desiredRow(table: TableName, key: string): Values | undefined {
    return this.#desired.tables[table].get(key) as unknown as Values | undefined;
  }
}

function assertNever(x: never): never {
  throw new Error(`unexpected ${JSON.stringify(x)}`);
}

/** Builds one insert unit: a row, its guard, and as many of its new children as fit. */
class UnitBuilder {
  readonly ops: Operation[] = [];
  rows = 0;
  readonly #named = new Map<string, string>();

  constructor(
    readonly planner: Planner,
    readonly budget: number,
  ) {}

  #cost(table: TableName): number {
    return unindexed.has(table) ? 2 : 1;
  }

  /** Whether every single reference of the row resolves now (else the row waits a step). */
  #ready(table: TableName, row: Values, planned: ReadonlySet<string>): boolean {
    for (const [column, spec] of specsOf(table)) {
      if (spec.kind !== "ref" && spec.kind !== "ref?") continue;
      const key = row[column] as string | null;
      if (key === null) continue;
      if (planned.has(key) || this.planner.chosen(key) === undefined) return false;
    }
    return true;
  }

  /** Adds the insert (and children); returns its uuid-name, or undefined if it must wait. */
  insert(table: TableName, key: string, row: Values, planned: Set<string>): string | undefined {
    if (!this.#ready(table, row, planned)) return undefined;
    if (this.ops.length + this.#cost(table) > this.budget) return undefined;
    const name = this.planner.nextName();
    this.#named.set(key, name);
    planned.add(key);
    const guard = unindexed.has(table) ? [guardOp(table, this.planner.owner, key)] : [];
    const insertAt = this.ops.length + guard.length;
    this.ops.push(...guard);
    this.ops.push({ op: "insert", table, row: {}, "uuid-name": name }); // filled below
    this.rows++;
    // New strong children ride along while they fit; the rest join later by mutate.
    for (const column of strongSets[table] ?? []) {
      const target = specsOf(table).find(([c]) => c === column)?.[1];
      if (target === undefined || target.kind !== "refs") continue;
      for (const child of row[column] as readonly string[]) {
        if (this.planner.chosen(child) !== undefined || planned.has(child)) continue;
        const childRow = this.planner.desiredRow(target.target, child);
        if (childRow === undefined) continue;
        this.insert(target.target, child, childRow, planned);
      }
    }
    this.ops[insertAt] = { op: "insert", table, row: this.#encode(table, row), "uuid-name": name };
    return name;
  }

  #resolve(key: string): OvsAtom | undefined {
    const named = this.#named.get(key);
    if (named !== undefined) return namedUuid(named);
    const uuid = this.planner.chosen(key);
    return uuid === undefined ? undefined : uuidAtom(uuid);
  }

  #encode(table: TableName, row: Values): OvsRow {
    const out: OvsRow = {};
    for (const [column, spec] of specsOf(table)) {
      const value = row[column];
      switch (spec.kind) {
        case "atom":
          out[column] = value as string | number;
          break;
        case "set":
          out[column] = ovsSet(value as readonly string[]);
          break;
        case "map":
          out[column] = ovsMap(value as Readonly<Record<string, string>>);
          break;
        case "ref":
        case "ref?": {
          const target = value === null ? undefined : this.#resolve(value as string);
          if (spec.kind === "ref") {
            if (target === undefined) throw new Error(`${table}.${column}: unresolved reference`);
            out[column] = target;
          } else out[column] = ovsSet(target === undefined ? [] : [target]);
          break;
        }
        case "refs": {
          const atoms: OvsAtom[] = [];
          for (const k of value as readonly string[]) {
            const a = this.#resolve(k);
            if (a !== undefined) atoms.push(a);
          }
          out[column] = ovsSet(atoms);
          break;
        }
        default:
          return assertNever(spec);
      }
    }
    return out;
  }
}

/** The next step of a pass: removals first, then inserts and updates; empty when converged. */
export function planStep(input: PlanInput): Step {
  const planner = new Planner(input);
  const removals = planner.removals();
  if (removals.length > 0) return { kind: "remove", units: removals };
  return { kind: "write", units: planner.writes() };
}

/**
 * Fold the set-insert mutations of one transaction that target the same row and column into a
 * single mutate (placed where the last of them was): hundreds of ports joining one switch cost
 * the server one set update instead of hundreds. Everything else keeps its order.
 */
export function mergeSetInserts(ops: readonly Operation[]): Operation[] {
  const groupOf = (op: Operation): string | undefined => {
    if (op.op !== "mutate" || op.where.length !== 1 || op.mutations.length !== 1) return undefined;
    const [column, fn, value] = op.where[0]!;
    const [mColumn, mutator, mValue] = op.mutations[0]!;
    if (column !== "_uuid" || fn !== "==" || mutator !== "insert") return undefined;
    if (!Array.isArray(mValue) || mValue[0] !== "set") return undefined;
    return `${op.table}\u0000${JSON.stringify(value)}\u0000${mColumn}`;
  };
  const members = new Map<string, OvsAtom[]>();
  const last = new Map<string, number>();
  ops.forEach((op, i) => {
    const g = groupOf(op);
    if (g === undefined || op.op !== "mutate") return;
    const atoms = (op.mutations[0]![2] as readonly ["set", readonly OvsAtom[]])[1];
    members.set(g, [...(members.get(g) ?? []), ...atoms]);
    last.set(g, i);
  });
  const out: Operation[] = [];
  ops.forEach((op, i) => {
    const g = groupOf(op);
    if (g === undefined || op.op !== "mutate") {
      out.push(op);
    } else if (last.get(g) === i) {
      const column = op.mutations[0]![0];
      out.push({ ...op, mutations: [[column, "insert", ovsSet(members.get(g) ?? [])]] });
    }
  });
  return out;
}
