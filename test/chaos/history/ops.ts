// Operations: each invoke paired with its completion. Times are history indexes (see types.ts).

import type { EventError, HistoryEvent, OpName } from "./types.js";

export interface Operation {
  /** Sequence number (order of invokes). */
  id: number;
  process: string;
  op: OpName;
  args: Record<string, unknown>;
  /** `info` also for an invoke never completed (the history ended first). */
  type: "ok" | "fail" | "info";
  value?: unknown;
  error?: EventError;
  /** Index of the invoke event. */
  invoke: number;
  /** Index of the completion event; Infinity for info (it may take effect any time later). */
  complete: number;
}

/** Pairs events by process (a process has one operation outstanding at a time). */
export function operations(history: readonly HistoryEvent[]): Operation[] {
  const out: Operation[] = [];
  const open = new Map<string, Operation>();
  for (const e of history) {
    if (e.type === "invoke") {
      const o: Operation = {
        id: out.length,
        process: e.process,
        op: e.op,
        args: e.args ?? {},
        type: "info",
        invoke: e.index,
        complete: Number.POSITIVE_INFINITY,
      };
      open.set(e.process, o);
      out.push(o);
      continue;
    }
    const o = open.get(e.process);
    if (o === undefined) continue;
    open.delete(e.process);
    o.type = e.type;
    if (e.type !== "info") o.complete = e.index;
    if (e.value !== undefined) o.value = e.value;
    if (e.error !== undefined) o.error = e.error;
  }
  return out;
}

export function str(v: unknown): string | undefined {
  return typeof v === "string" && v !== "" ? v : undefined;
}

export function field(v: unknown, key: string): unknown {
  return typeof v === "object" && v !== null ? (v as Record<string, unknown>)[key] : undefined;
}

/** The VPC id of a request: vpc_id, else "org/project". */
export function vpcOfArgs(args: Record<string, unknown>): string | undefined {
  const explicit = str(args.vpc_id);
  if (explicit !== undefined) return explicit;
  const org = str(args.org_id);
  const project = str(args.project_id);
  return org !== undefined && project !== undefined ? `${org}/${project}` : undefined;
}

/** "TCP" | "UDP" | "ICMP" | "ALL" | "UNSPECIFIED" from the enum number or any of its names. */
export function protocolName(p: unknown): string {
  if (typeof p === "number") return ["UNSPECIFIED", "TCP", "UDP", "ICMP", "ALL"][p] ?? String(p);
  if (typeof p === "string") return p.replace(/^PROTOCOL_/, "");
  return "UNSPECIFIED";
}

/**
 * Whether a read was linearizable (consistency unset / UNSPECIFIED / LINEARIZABLE). A STALE read
 * shows some earlier state, not one inside its own [invoke, complete] window, so the checkers do
 * not use it as timed evidence.
 */
export function linearizableRead(args: Record<string, unknown>): boolean {
  const c = args.consistency;
  return (
    c === undefined ||
    c === 0 ||
    c === 1 ||
    c === "CONSISTENCY_UNSPECIFIED" ||
    c === "CONSISTENCY_LINEARIZABLE" ||
    c === "LINEARIZABLE"
  );
}

export interface CheckResult {
  ok: boolean;
  violations: string[];
}

export function result(violations: string[]): CheckResult {
  return { ok: violations.length === 0, violations };
}
