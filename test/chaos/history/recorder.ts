// HistoryRecorder: appends events as JSONL with a bounded in-memory buffer (synchronous appends,
// so events stay in record order and memory stays bounded even when the disk is slow), and the
// reader that parses and validates such a file.

import { closeSync, openSync, readFileSync, writeSync } from "node:fs";
import {
  type ClassifyOptions,
  classifyError,
  type EventError,
  type EventType,
  eventErrorOf,
  type HistoryEvent,
  type OpName,
  opNames,
} from "./types.js";

export interface HistoryRecorderOptions {
  /** Events buffered before a write to the file (default 256). */
  bufferMax?: number;
  /** Clock in ns (default process.hrtime.bigint relative to construction). */
  now?: () => number;
}

function stripUndefined(o: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(o)) if (v !== undefined) out[k] = v;
  return out;
}

export class HistoryRecorder {
  private fd: number | undefined;
  private buffer: string[] = [];
  private nextIndex = 0;
  private readonly bufferMax: number;
  private readonly now: () => number;
  /** process → the op outstanding. */
  private readonly outstanding = new Map<string, OpName>();
  private readonly retired = new Set<string>();

  constructor(
    readonly path: string,
    opts: HistoryRecorderOptions = {},
  ) {
    this.bufferMax = Math.max(1, opts.bufferMax ?? 256);
    const start = process.hrtime.bigint();
    this.now = opts.now ?? (() => Number(process.hrtime.bigint() - start));
    this.fd = openSync(path, "w");
  }

  /** Events recorded so far. */
  get length(): number {
    return this.nextIndex;
  }

  /** Records an invoke; throws when the process has an operation outstanding or was retired. */
  invoke(proc: string, op: OpName, args: Record<string, unknown> = {}): number {
    if (this.outstanding.has(proc)) throw new Error(`process ${proc} already has an operation`);
    if (this.retired.has(proc)) throw new Error(`process ${proc} was retired after an info`);
    this.outstanding.set(proc, op);
    return this.append({ type: "invoke", process: proc, op, args });
  }

  ok(proc: string, value: unknown): number {
    return this.complete(proc, "ok", { value: value === undefined ? null : value });
  }

  fail(proc: string, error: EventError): number {
    return this.complete(proc, "fail", { error });
  }

  /** An indefinite outcome; the process is retired. */
  info(proc: string, error: EventError): number {
    return this.complete(proc, "info", { error });
  }

  /** Completes with `fail` or `info` as `classifyError` decides for this thrown error. */
  error(proc: string, thrown: unknown, opts: ClassifyOptions = {}): "fail" | "info" {
    const op = this.outstanding.get(proc);
    if (op === undefined) throw new Error(`process ${proc} has no operation outstanding`);
    const error = eventErrorOf(thrown);
    const type = classifyError(op, error, opts);
    this.complete(proc, type, { error });
    return type;
  }

  /** invoke, run, and complete: ok with the result, or fail/info for what it threw. */
  async run<T>(
    proc: string,
    op: OpName,
    args: Record<string, unknown>,
    fn: () => Promise<T>,
    classify: (e: unknown) => ClassifyOptions = () => ({}),
  ): Promise<{ type: "ok"; value: T } | { type: "fail" | "info"; error: unknown }> {
    this.invoke(proc, op, args);
    try {
      const value = await fn();
      this.ok(proc, value);
      return { type: "ok", value };
    } catch (e) {
      return { type: this.error(proc, e, classify(e)), error: e };
    }
  }

  /** Writes the buffered events. */
  flush(): void {
    if (this.buffer.length === 0 || this.fd === undefined) return;
    const text = this.buffer.join("");
    this.buffer = [];
    writeSync(this.fd, text);
  }

  /** Flushes and closes; operations still outstanding stay invoke-only (readers treat them as info). */
  close(): void {
    if (this.fd === undefined) return;
    this.flush();
    closeSync(this.fd);
    this.fd = undefined;
  }

  private complete(
    proc: string,
    type: Exclude<EventType, "invoke">,
    extra: { value?: unknown; error?: EventError },
  ): number {
    const op = this.outstanding.get(proc);
    if (op === undefined) throw new Error(`process ${proc} has no operation outstanding`);
    this.outstanding.delete(proc);
    if (type === "info") this.retired.add(proc);
    return this.append({ type, process: proc, op, ...extra });
  }

  private append(e: Omit<HistoryEvent, "index" | "time">): number {
    if (this.fd === undefined) throw new Error("history recorder is closed");
    const index = this.nextIndex++;
    const event = stripUndefined({ index, ...e, time: this.now() });
    this.buffer.push(`${JSON.stringify(event)}\n`);
    if (this.buffer.length >= this.bufferMax) this.flush();
    return index;
  }
}

const eventTypes: ReadonlySet<string> = new Set(["invoke", "ok", "fail", "info"]);
const opNameSet: ReadonlySet<string> = new Set(opNames);

export interface ParseResult {
  events: HistoryEvent[];
  /** Problems found, "line N: …"; empty when the history is well-formed. */
  errors: string[];
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/**
 * Parses JSONL text and validates it: field types, index = line position, nondecreasing time,
 * completions match the process's outstanding invoke (same op), no invoke while one is
 * outstanding, no operation from a process retired by an info. A truncated last line (a crash
 * while writing) is reported as an error too.
 */
export function parseHistory(text: string): ParseResult {
  const events: HistoryEvent[] = [];
  const errors: string[] = [];
  const outstanding = new Map<string, OpName>();
  const retired = new Set<string>();
  const lines = text.split("\n");
  if (lines.at(-1) === "") lines.pop();
  let lastTime = Number.NEGATIVE_INFINITY;
  for (let i = 0; i < lines.length; i++) {
    const where = `line ${i + 1}`;
    let raw: unknown;
    try {
      raw = JSON.parse(lines[i] ?? "");
    } catch {
      errors.push(`${where}: not JSON`);
      continue;
    }
    if (!isRecord(raw)) {
      errors.push(`${where}: not an object`);
      continue;
    }
    const { index, type, process: proc, op, args, error, time } = raw;
    if (typeof index !== "number" || index !== events.length) {
      errors.push(`${where}: index ${String(index)}, expected ${events.length}`);
    }
    if (typeof type !== "string" || !eventTypes.has(type)) {
      errors.push(`${where}: bad type ${String(type)}`);
      continue;
    }
    if (typeof proc !== "string" || proc === "") {
      errors.push(`${where}: bad process`);
      continue;
    }
    if (typeof op !== "string" || !opNameSet.has(op)) {
      errors.push(`${where}: bad op ${String(op)}`);
      continue;
    }
    if (typeof time !== "number" || !Number.isFinite(time)) {
      errors.push(`${where}: bad time`);
    } else {
      if (time < lastTime) errors.push(`${where}: time goes backwards`);
      lastTime = time;
    }
    if (args !== undefined && !isRecord(args)) errors.push(`${where}: args is not an object`);
    if (error !== undefined) {
      if (!isRecord(error) || typeof error.code !== "string" || typeof error.grpcCode !== "number")
        errors.push(`${where}: bad error`);
    }
    if ((type === "fail" || type === "info") && error === undefined)
      errors.push(`${where}: ${type} without error`);
    const opName = op as OpName;
    if (retired.has(proc)) errors.push(`${where}: process ${proc} retired after an info`);
    if (type === "invoke") {
      if (outstanding.has(proc)) errors.push(`${where}: process ${proc} invokes while busy`);
      outstanding.set(proc, opName);
    } else {
      const pending = outstanding.get(proc);
      if (pending === undefined) errors.push(`${where}: ${type} without invoke (${proc})`);
      else if (pending !== opName) errors.push(`${where}: ${type} ${op} completes ${pending}`);
      outstanding.delete(proc);
      if (type === "info") retired.add(proc);
    }
    events.push({ ...(raw as unknown as HistoryEvent), index: events.length });
  }
  return { events, errors };
}

/** Reads and validates a history file; throws listing (up to 20) problems. */
export function readHistory(path: string): HistoryEvent[] {
  const { events, errors } = parseHistory(readFileSync(path, "utf8"));
  if (errors.length > 0) {
    const shown = errors.slice(0, 20).join("\n");
    throw new Error(`invalid history ${path} (${errors.length} problems):\n${shown}`);
  }
  return events;
}
