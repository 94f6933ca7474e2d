// The env's built-in safety checks must fire when a core misbehaves; otherwise a blessed golden
// file could hide a broken Raft. Each test runs a healthy cluster and tampers with one Ready on
// its way out of RawNode.ready(), then expects the env to throw.
import { afterEach, describe, expect, it, vi } from "vitest";
import { RawNode } from "../../../src/raft/core/raw-node.js";
import type { Ready } from "../../../src/raft/core/types.js";
import { parseDataDriven } from "./datadriven.js";
import { InteractionEnv } from "./env.js";

function run(env: InteractionEnv, script: string): void {
  for (const b of parseDataDriven("script", script).blocks) env.handle(b.data);
}

/** A 3-node cluster with leader 1 at term 2 and everything committed (index 4). */
function cluster(): InteractionEnv {
  const env = new InteractionEnv();
  run(env, "add-nodes 3 voters=(1,2,3)\n\nstabilize\n\ncampaign 1\n\nstabilize\n");
  return env;
}

/** Lets `tamper` rewrite the next Ready of node `id` for which it returns true. */
function tamperNext(id: string, tamper: (rd: Ready) => boolean): void {
  const ready = RawNode.prototype.ready;
  let done = false;
  vi.spyOn(RawNode.prototype, "ready").mockImplementation(function (this: RawNode) {
    const rd = ready.call(this);
    if (!done && this.status().id === id) done = tamper(rd);
    return rd;
  });
}

afterEach(() => {
  vi.restoreAllMocks();
});

describe("InteractionEnv safety checks", () => {
  it("the healthy cluster passes", () => {
    const env = cluster();
    expect(() => run(env, "propose 1 x\n\nstabilize\n\ncheck commit=5 logs-match\n")).not.toThrow();
  });

  it("catches a vote changed within a term", () => {
    const env = cluster();
    tamperNext("2", (rd) => {
      rd.hardState = { term: 2, vote: "3", commit: 4 };
      return true;
    });
    run(env, "propose 1 x\n\nprocess-ready 1\n\ndeliver-msgs 2\n");
    expect(() => run(env, "process-ready 2\n")).toThrow("vote changes from 1 to 3 within term 2");
  });

  it("catches a durable commit going backwards", () => {
    const env = cluster();
    tamperNext("2", (rd) => {
      rd.hardState = { term: 2, vote: "1", commit: 3 };
      return true;
    });
    run(env, "propose 1 x\n\nprocess-ready 1\n\ndeliver-msgs 2\n");
    expect(() => run(env, "process-ready 2\n")).toThrow("durable commit goes back from 4 to 3");
  });

  it("catches an append response sent before the entries are persisted", () => {
    const env = cluster();
    tamperNext("2", (rd) => {
      rd.earlyMessages.push(...rd.messages.splice(0));
      return true;
    });
    run(env, "propose 1 x\n\nprocess-ready 1\n\ndeliver-msgs 2\n");
    expect(() => run(env, "process-ready 2\n")).toThrow("before persisting");
  });

  it("catches two nodes applying different entries at one index", () => {
    const env = cluster();
    tamperNext("2", (rd) => {
      const e = rd.committedEntries[0];
      if (e === undefined || e.kind !== "normal") return false;
      rd.committedEntries[0] = { ...e, data: new TextEncoder().encode("forged") };
      return true;
    });
    expect(() => run(env, "propose 1 x\n\nstabilize\n")).toThrow("state machine safety");
  });

  it("catches an entry applied out of order", () => {
    const env = cluster();
    tamperNext("1", (rd) => {
      if (rd.committedEntries.length === 0) return false;
      rd.committedEntries.shift();
      return true;
    });
    expect(() => run(env, "propose 1 x\n\npropose 1 y\n\nstabilize\n")).toThrow(
      "applies 6 after 4",
    );
  });

  it("catches a stale read", () => {
    const env = cluster();
    run(env, "propose 1 x\n\nstabilize\n");
    tamperNext("1", (rd) => {
      const r = rd.readStates[0];
      if (r === undefined) return false;
      r.index = 4;
      return true;
    });
    expect(() => run(env, "read-index 1 r\n\nstabilize\n")).toThrow("stale read");
  });
});
