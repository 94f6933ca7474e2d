import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { status as GrpcStatus } from "@grpc/grpc-js";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { NovanetError, OutcomeUnknownError } from "../../../src/client/index.js";
import { operations } from "./ops.js";
import { HistoryRecorder, parseHistory, readHistory } from "./recorder.js";
import { classifyError } from "./types.js";

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "novanet-history-"));
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

const err = (code: string, grpcCode: number, message = "x") =>
  new NovanetError({ code, grpcCode, message });

describe("classifyError", () => {
  it.each([
    ["IP_ALREADY_ALLOCATED", GrpcStatus.ALREADY_EXISTS, "fail"],
    ["NOT_FOUND", GrpcStatus.NOT_FOUND, "fail"],
    ["FAILED_PRECONDITION", GrpcStatus.FAILED_PRECONDITION, "fail"],
    ["INVALID_ARGUMENT", GrpcStatus.INVALID_ARGUMENT, "fail"],
    ["SUBNET_EXHAUSTED", GrpcStatus.RESOURCE_EXHAUSTED, "fail"],
    ["NO_LEADER", GrpcStatus.UNAVAILABLE, "info"],
    ["TIMEOUT", GrpcStatus.DEADLINE_EXCEEDED, "info"],
    ["DEADLINE_EXCEEDED", GrpcStatus.DEADLINE_EXCEEDED, "info"],
    ["OVERLOADED", GrpcStatus.RESOURCE_EXHAUSTED, "info"],
    ["INTERNAL", GrpcStatus.INTERNAL, "info"],
    ["SESSION_EXPIRED", GrpcStatus.FAILED_PRECONDITION, "info"],
    ["PERMISSION_DENIED", GrpcStatus.PERMISSION_DENIED, "info"],
  ])("%s → %s", (code, grpcCode, want) => {
    expect(classifyError("CreatePort", { code, grpcCode })).toBe(want);
  });

  it("outcome unknown is info even with a definite code; not-sent is fail; reads always fail", () => {
    expect(
      classifyError("CreatePort", { code: "NOT_FOUND", grpcCode: 5, outcomeUnknown: true }),
    ).toBe("info");
    expect(
      classifyError("CreatePort", { code: "NO_LEADER", grpcCode: 14 }, { notSent: true }),
    ).toBe("fail");
    expect(
      classifyError("CreatePort", {
        code: "UNAVAILABLE",
        grpcCode: GrpcStatus.UNAVAILABLE,
        message: "No connection established. Last error: ECONNREFUSED",
      }),
    ).toBe("fail");
    expect(
      classifyError("DeletePort", {
        code: "DEADLINE_EXCEEDED",
        grpcCode: GrpcStatus.DEADLINE_EXCEEDED,
        message: "not sent: 64 earlier writes of this client were still in flight at the deadline",
      }),
    ).toBe("fail");
    expect(classifyError("GetPort", { code: "NO_LEADER", grpcCode: 14 })).toBe("fail");
  });
});

describe("HistoryRecorder", () => {
  it("writes JSONL that reads back, flushing in bounded batches and on close", async () => {
    const path = join(dir, "h.jsonl");
    let t = 0;
    const rec = new HistoryRecorder(path, { bufferMax: 2, now: () => t++ });
    rec.invoke("c1", "CreatePort", { subnet_id: "s" });
    expect(readFileSync(path, "utf8")).toBe("");
    rec.ok("c1", { id: "p1" });
    expect(readFileSync(path, "utf8").split("\n")).toHaveLength(3); // two lines + ""
    await rec.run("c1", "DeletePort", { port_id: "p1" }, async () => {
      throw err("NOT_FOUND", GrpcStatus.NOT_FOUND);
    });
    const outcome = await rec.run("c2", "AttachPort", { port_id: "p1" }, async () => {
      throw new OutcomeUnknownError(err("NO_LEADER", GrpcStatus.UNAVAILABLE), "cid", 3, "gave up");
    });
    expect(outcome.type).toBe("info");
    rec.invoke("c3", "GetPort", { port_id: "p1" }); // left open: reads as info
    rec.close();
    const events = readHistory(path);
    expect(events.map((e) => `${e.index}:${e.type}:${e.process}:${e.op}`)).toEqual([
      "0:invoke:c1:CreatePort",
      "1:ok:c1:CreatePort",
      "2:invoke:c1:DeletePort",
      "3:fail:c1:DeletePort",
      "4:invoke:c2:AttachPort",
      "5:info:c2:AttachPort",
      "6:invoke:c3:GetPort",
    ]);
    expect(events[3]!.error).toEqual({ code: "NOT_FOUND", grpcCode: 5, message: "x" });
    expect(events[5]!.error).toMatchObject({ code: "NO_LEADER", outcomeUnknown: true });
    expect(events.map((e) => e.time)).toEqual([0, 1, 2, 3, 4, 5, 6]);
    const ops = operations(events);
    expect(ops.map((o) => [o.op, o.type, o.invoke, o.complete])).toEqual([
      ["CreatePort", "ok", 0, 1],
      ["DeletePort", "fail", 2, 3],
      ["AttachPort", "info", 4, Number.POSITIVE_INFINITY],
      ["GetPort", "info", 6, Number.POSITIVE_INFINITY],
    ]);
  });

  it("refuses a second op on a busy process and any op on a retired one", () => {
    const rec = new HistoryRecorder(join(dir, "h.jsonl"));
    rec.invoke("c1", "CreatePort");
    expect(() => rec.invoke("c1", "GetPort")).toThrow(/already/);
    rec.info("c1", { code: "TIMEOUT", grpcCode: 4 });
    expect(() => rec.invoke("c1", "GetPort")).toThrow(/retired/);
    expect(() => rec.ok("c9", null)).toThrow(/no operation/);
    rec.close();
    expect(() => rec.invoke("c2", "GetPort")).toThrow(/closed/);
  });
});

describe("parseHistory", () => {
  it("reports malformed and inconsistent lines", () => {
    const lines = [
      { index: 0, type: "invoke", process: "a", op: "CreatePort", time: 5 },
      { index: 1, type: "invoke", process: "a", op: "GetPort", time: 6 },
      { index: 2, type: "ok", process: "b", op: "GetPort", time: 4 },
      { index: 7, type: "info", process: "a", op: "CreatePort", time: 7 },
      { index: 4, type: "bogus", process: "a", op: "CreatePort", time: 8 },
      { index: 5, type: "invoke", process: "a", op: "Nope", time: 9 },
    ].map((l) => JSON.stringify(l));
    const { errors } = parseHistory(`${lines.join("\n")}\n{"trunc`);
    const text = errors.join("\n");
    expect(text).toMatch(/line 2: process a invokes while busy/);
    expect(text).toMatch(/line 3: time goes backwards/);
    expect(text).toMatch(/line 3: ok without invoke/);
    expect(text).toMatch(/line 4: index 7, expected 3/);
    expect(text).toMatch(/line 4: info without error/);
    expect(text).toMatch(/line 4: info GetPort|line 4: info CreatePort completes GetPort/);
    expect(text).toMatch(/line 5: bad type/);
    expect(text).toMatch(/line 6: bad op/);
    expect(text).toMatch(/line 7: not JSON/);
    const path = join(dir, "bad.jsonl");
    writeFileSync(path, lines.join("\n"));
    expect(() => readHistory(path)).toThrow(/invalid history/);
  });
});
