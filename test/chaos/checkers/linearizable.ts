// Linearizability of single-port histories: a WGL checker (Wing & Gong, with Lowe's memoisation
// of (linearized set, state)), run per port id (P-compositionality: a history is linearizable
// iff each per-key subhistory is, for a model whose operations touch one key).
//
// Model: a port register, absent → present {ip, mac, vm} → deleted.
//   CreatePort  absent → present (the value's ip/mac/vm_id).
//   AttachPort  present with vm null or the same vm → vm := arg (AttachPort is idempotent).
//   DetachPort  present with vm null, no vm arg, or the same vm → vm := null.
//   DeletePort  present → deleted.
//   GetPort     ok: present with equal ip, mac, vm; fail NOT_FOUND: absent or deleted.
// Outcomes: `fail` ops are dropped (certainly no effect); `info` ops may take effect at any time
// after their invoke or never — they get a return at +∞, and since a refused write has no effect
// an info write whose precondition does not hold leaves the state unchanged. Reads whose
// consistency is not linearizable (STALE) are ignored; so are failed reads other than NOT_FOUND,
// ListPorts (multi-key, paged) and DeleteVpc. A CreatePort that ended info (no id) is tied to its
// port through its mac_address when a read or the final state shows that port.
// Keys whose history has no create, more than `maxOpsPerKey` ops, or exhaust `maxSteps` search
// steps are NOT passed silently: they are listed in `unchecked` for the caller to print.

import { field, linearizableRead, type Operation, operations, str } from "../history/ops.js";
import type { HistoryEvent } from "../history/types.js";
import type { PortRecord } from "./model.js";
import { asPort } from "./unique-ips.js";

export interface LinearizableOptions {
  /** Keys with more operations are skipped (listed in `unchecked`). Default 200. */
  maxOpsPerKey?: number;
  /** Search steps per key before giving up (listed in `unchecked`). Default 300_000 (the memo cache grows with it). */
  maxSteps?: number;
  /** Ports known from elsewhere (e.g. final states), to tie info creates to ids by MAC. */
  knownPorts?: readonly PortRecord[];
}

export interface LinearizableResult {
  ok: boolean;
  violations: string[];
  /** Keys not checked, with the reason; the caller must print them. */
  unchecked: string[];
  /** Keys checked and found linearizable. */
  checked: number;
}

type Kind = "create" | "attach" | "detach" | "delete" | "read";

interface KeyOp {
  source: Operation;
  kind: Kind;
  info: boolean;
  /** create: the port; read: the port or null (NOT_FOUND). */
  port?: { ip: string; mac: string | undefined; vm: string | null } | null;
  vm?: string | undefined;
  invoke: number;
  complete: number;
}

const absent = "A";
const deleted = "D";

function present(ip: string, mac: string | undefined, vm: string | null): string {
  return JSON.stringify([ip, mac ?? "", vm]);
}

function parsePresent(s: string): [string, string, string | null] | undefined {
  if (s === absent || s === deleted) return undefined;
  return JSON.parse(s) as [string, string, string | null];
}

function vmOf(v: unknown): string | null {
  return str(field(v, "vm_id")) ?? str(field(v, "vmId")) ?? null;
}

/** The next state, or null when the op cannot take effect (ok ops) here. */
function step(state: string, o: KeyOp): string | null {
  const p = parsePresent(state);
  let next: string | null = null;
  switch (o.kind) {
    case "create":
      if (state === absent && o.port) next = present(o.port.ip, o.port.mac, o.port.vm);
      break;
    case "attach":
      if (p && (p[2] === null || p[2] === o.vm)) next = present(p[0], p[1], o.vm ?? null);
      break;
    case "detach":
      if (p && (p[2] === null || o.vm === undefined || p[2] === o.vm))
        next = present(p[0], p[1], null);
      break;
    case "delete":
      if (p) next = deleted;
      break;
    case "read":
      if (o.port === null || o.port === undefined) return p ? null : state;
      if (!p || p[0] !== o.port.ip || p[2] !== o.port.vm) return null;
      if (o.port.mac !== undefined && p[1] !== "" && p[1] !== o.port.mac) return null;
      return state;
  }
  if (next === null && o.info) return state; // refused: no effect
  return next;
}

interface Entry {
  op: number;
  call: boolean;
  time: number;
  prev: Entry | null;
  next: Entry | null;
  match: Entry | null;
}

type Outcome =
  | { kind: "ok" }
  | { kind: "fail"; stuck: KeyOp; prefix: KeyOp[] }
  | { kind: "budget" };

/** WGL search over one key's ops. */
export function wgl(ops: readonly KeyOp[], maxSteps: number): Outcome {
  const head: Entry = { op: -1, call: false, time: -1, prev: null, next: null, match: null };
  const entries: Entry[] = [];
  for (let i = 0; i < ops.length; i++) {
    const o = ops[i]!;
    const call: Entry = { op: i, call: true, time: o.invoke, prev: null, next: null, match: null };
    const ret: Entry = {
      op: i,
      call: false,
      time: o.complete,
      prev: null,
      next: null,
      match: null,
    };
    call.match = ret;
    entries.push(call, ret);
  }
  // By time; returns at +∞ (info) after everything, in invoke order; calls before returns on ties.
  entries.sort((a, b) =>
    a.time !== b.time
      ? a.time - b.time
      : a.call !== b.call
        ? a.call
          ? -1
          : 1
        : ops[a.op]!.invoke - ops[b.op]!.invoke,
  );
  let prev = head;
  for (const e of entries) {
    prev.next = e;
    e.prev = prev;
    prev = e;
  }
  const lift = (e: Entry) => {
    e.prev!.next = e.next;
    if (e.next) e.next.prev = e.prev;
    const m = e.match!;
    m.prev!.next = m.next;
    if (m.next) m.next.prev = m.prev;
  };
  const unlift = (e: Entry) => {
    const m = e.match!;
    m.prev!.next = m;
    if (m.next) m.next.prev = m;
    e.prev!.next = e;
    if (e.next) e.next.prev = e;
  };

  let state = absent;
  let linearized = 0n;
  const cache = new Set<string>();
  const stack: { entry: Entry; state: string }[] = [];
  let best: { depth: number; stuck: number; prefix: number[] } = {
    depth: -1,
    stuck: 0,
    prefix: [],
  };
  let entry = head.next;
  let steps = 0;
  while (head.next !== null && entry !== null) {
    if (++steps > maxSteps) return { kind: "budget" };
    if (entry.call) {
      const next = step(state, ops[entry.op]!);
      if (next !== null) {
        const bits = linearized | (1n << BigInt(entry.op));
        const key = `${bits.toString(36)}|${next}`;
        if (!cache.has(key)) {
          cache.add(key);
          stack.push({ entry, state });
          state = next;
          linearized = bits;
          lift(entry);
          entry = head.next;
          continue;
        }
      }
      entry = entry.next;
    } else {
      if (stack.length > best.depth) {
        best = { depth: stack.length, stuck: entry.op, prefix: stack.map((s) => s.entry.op) };
      }
      const top = stack.pop();
      if (top === undefined) {
        return {
          kind: "fail",
          stuck: ops[best.stuck]!,
          prefix: best.prefix.map((i) => ops[i]!),
        };
      }
      state = top.state;
      linearized &= ~(1n << BigInt(top.entry.op));
      unlift(top.entry);
      entry = top.entry.next;
    }
  }
  return { kind: "ok" };
}

function describe(o: KeyOp): string {
  const s = o.source;
  const what =
    o.kind === "read"
      ? `GetPort → ${o.port ? `${o.port.ip} vm=${o.port.vm ?? "none"}` : "NOT_FOUND"}`
      : o.kind === "attach" || o.kind === "detach"
        ? `${s.op}(${o.vm ?? ""})`
        : o.kind === "create" && o.port
          ? `CreatePort → ${o.port.ip} vm=${o.port.vm ?? "none"}`
          : s.op;
  return `${what} [${s.process} #${s.invoke}..${s.type === "info" ? "info" : `#${s.complete}`}]`;
}

/** Per-port ops from the history. */
export function portSubhistories(
  history: readonly HistoryEvent[],
  knownPorts: readonly PortRecord[] = [],
): Map<string, KeyOp[]> {
  const ops = operations(history);
  const byKey = new Map<string, KeyOp[]>();
  const add = (id: string, k: KeyOp) => {
    const l = byKey.get(id);
    if (l === undefined) byKey.set(id, [k]);
    else l.push(k);
  };
  // MAC → port id, from every port the history or the caller shows.
  const idByMac = new Map<string, PortRecord>();
  const learn = (p: PortRecord | undefined) => {
    if (p?.mac_address !== undefined) idByMac.set(p.mac_address.toLowerCase(), p);
  };
  for (const p of knownPorts) learn(p);
  for (const o of ops) {
    if (o.type !== "ok") continue;
    if (o.op === "CreatePort" || o.op === "GetPort" || o.op === "AttachPort")
      learn(asPort(o.value));
    if (o.op === "ListPorts") {
      const l = field(o.value, "ports");
      if (Array.isArray(l)) for (const p of l) learn(asPort(p));
    }
  }
  for (const o of ops) {
    if (o.type === "fail" && !(o.op === "GetPort" && o.error?.code === "NOT_FOUND")) continue;
    const base = { source: o, info: o.type === "info", invoke: o.invoke, complete: o.complete };
    const portId = str(o.args.port_id);
    switch (o.op) {
      case "CreatePort": {
        if (o.type === "ok") {
          const p = asPort(o.value);
          if (p === undefined) break;
          add(p.id, {
            ...base,
            kind: "create",
            port: { ip: p.ip_address, mac: p.mac_address, vm: vmOf(o.value) },
          });
        } else {
          const mac = str(o.args.mac_address);
          const p = mac === undefined ? undefined : idByMac.get(mac.toLowerCase());
          if (p === undefined) break; // never seen: no op on a known key depends on it
          add(p.id, {
            ...base,
            kind: "create",
            port: { ip: p.ip_address, mac: p.mac_address, vm: str(o.args.vm_id) ?? null },
          });
        }
        break;
      }
      case "AttachPort":
      case "DetachPort":
        if (portId !== undefined)
          add(portId, {
            ...base,
            kind: o.op === "AttachPort" ? "attach" : "detach",
            vm: str(o.args.vm_id),
          });
        break;
      case "DeletePort":
        if (portId !== undefined) add(portId, { ...base, kind: "delete" });
        break;
      case "GetPort": {
        if (portId === undefined || o.type === "info" || !linearizableRead(o.args)) break;
        if (o.type === "fail") {
          add(portId, { ...base, kind: "read", port: null });
          break;
        }
        const p = asPort(o.value);
        if (p !== undefined)
          add(portId, {
            ...base,
            kind: "read",
            port: { ip: p.ip_address, mac: p.mac_address, vm: vmOf(o.value) },
          });
        break;
      }
      default:
        break;
    }
  }
  return byKey;
}

export function linearizablePorts(
  history: readonly HistoryEvent[],
  opts: LinearizableOptions = {},
): LinearizableResult {
  const maxOps = opts.maxOpsPerKey ?? 200;
  const maxSteps = opts.maxSteps ?? 300_000;
  const violations: string[] = [];
  const unchecked: string[] = [];
  let checked = 0;
  for (const [id, ops] of portSubhistories(history, opts.knownPorts)) {
    if (!ops.some((o) => o.kind === "create")) {
      // Only reads of a port never created (NOT_FOUND) are trivially fine.
      if (ops.every((o) => o.kind === "read" && o.port === null)) checked++;
      else unchecked.push(`port ${id}: no CreatePort in the history (${ops.length} ops)`);
      continue;
    }
    if (ops.length > maxOps) {
      unchecked.push(`port ${id}: ${ops.length} ops > ${maxOps}, too long, skipped`);
      continue;
    }
    const r = wgl(ops, maxSteps);
    if (r.kind === "budget")
      unchecked.push(`port ${id}: search budget of ${maxSteps} steps exhausted`);
    else if (r.kind === "fail") {
      violations.push(
        `port ${id}: not linearizable; no order admits ${describe(r.stuck)}; longest valid prefix: ${r.prefix.map(describe).join(", ") || "(none)"}`,
      );
    } else checked++;
  }
  return { ok: violations.length === 0, violations, unchecked, checked };
}

export type { KeyOp };
