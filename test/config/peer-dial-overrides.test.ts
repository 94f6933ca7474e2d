// replica.peer_dial_overrides: per-replica dial addresses for peers (proxies/NAT, chaos tests).
import { describe, expect, it } from "vitest";
import { load, MINIMAL, oneProblem } from "./helpers.js";

describe("replica.peer_dial_overrides", () => {
  it("is empty by default and takes a flag, an environment variable or a TOML table", () => {
    expect(load({ file: MINIMAL }).config.replica.peer_dial_overrides).toEqual({});
    const flag = load({
      file: MINIMAL,
      argv: ["--replica.peer_dial_overrides=n2=127.0.0.1:60012,n3=127.0.0.1:60013"],
    });
    expect(flag.config.replica.peer_dial_overrides).toEqual({
      n2: "127.0.0.1:60012",
      n3: "127.0.0.1:60013",
    });
    // The membership is not touched.
    expect(flag.config.replica.initial_cluster).toEqual({ n1: "10.1.1.1:8082" });
    const env = load({
      file: MINIMAL,
      env: { NOVANET_REPLICA_PEER_DIAL_OVERRIDES: "n2=127.0.0.1:60012" },
    });
    expect(env.config.replica.peer_dial_overrides).toEqual({ n2: "127.0.0.1:60012" });
    const table = load({
      file: `${MINIMAL}\n[replica.peer_dial_overrides]\nn2 = "10.9.9.9:1234"\n`,
    });
    expect(table.config.replica.peer_dial_overrides).toEqual({ n2: "10.9.9.9:1234" });
  });

  it("rejects bad ids, undialable addresses and this replica's own id", () => {
    const flag = (v: string) => ({ file: MINIMAL, argv: [`--replica.peer_dial_overrides=${v}`] });
    expect(oneProblem(flag("n 2=127.0.0.1:1"))).toMatch(/replica\.peer_dial_overrides.*member id/);
    expect(oneProblem(flag("n2=0.0.0.0:8082"))).toMatch(/replica\.peer_dial_overrides: member n2/);
    expect(oneProblem(flag("n2=127.0.0.1:0"))).toMatch(/replica\.peer_dial_overrides: member n2/);
    expect(oneProblem(flag("n1=127.0.0.1:9"))).toMatch(
      /replica\.peer_dial_overrides names this replica \("n1"\)/,
    );
  });
});
