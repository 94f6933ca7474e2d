// Test helper: builds histories by hand (index = position, time = index).

import { status as GrpcStatus } from "@grpc/grpc-js";
import type { HistoryEvent, OpName } from "../history/types.js";

export class HistoryBuilder {
  readonly events: HistoryEvent[] = [];
  private readonly open = new Map<string, OpName>();

  invoke(process: string, op: OpName, args: Record<string, unknown> = {}): this {
    this.open.set(process, op);
    return this.push({ type: "invoke", process, op, args });
  }

  ok(process: string, value: unknown = null): this {
    return this.push({ type: "ok", process, op: this.take(process), value });
  }

  fail(process: string, code = "NOT_FOUND", grpcCode = GrpcStatus.NOT_FOUND): this {
    return this.push({ type: "fail", process, op: this.take(process), error: { code, grpcCode } });
  }

  info(process: string, code = "TIMEOUT", grpcCode = GrpcStatus.DEADLINE_EXCEEDED): this {
    return this.push({ type: "info", process, op: this.take(process), error: { code, grpcCode } });
  }

  /** invoke immediately followed by ok. */
  call(process: string, op: OpName, args: Record<string, unknown>, value: unknown = null): this {
    return this.invoke(process, op, args).ok(process, value);
  }

  private take(process: string): OpName {
    const op = this.open.get(process);
    if (op === undefined) throw new Error(`no open op for ${process}`);
    this.open.delete(process);
    return op;
  }

  private push(e: Omit<HistoryEvent, "index" | "time">): this {
    const index = this.events.length;
    this.events.push({ index, time: index, ...e });
    return this;
  }
}

export const vpc = "org/proj";

export function port(id: string, ip: string, extra: Record<string, unknown> = {}) {
  return {
    id,
    vpc_id: vpc,
    ip_address: ip,
    mac_address: `02:00:00:00:00:${id.slice(-2).padStart(2, "0")}`,
    vm_id: "",
    ...extra,
  };
}
