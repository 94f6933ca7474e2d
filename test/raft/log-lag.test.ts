// RaftLog.bytesAfter: what ClusterStatus reports as a member's lag_bytes.
import { describe, expect, it } from "vitest";
import { entryBytes, RaftLog } from "../../src/raft/core/log.js";
import type { Entry } from "../../src/raft/core/types.js";

const confState = { voters: ["n1"], learners: [], addresses: { n1: "a:1" } };
const entry = (index: number, size: number): Entry => ({
  kind: "normal",
  index,
  term: 2,
  data: new Uint8Array(size),
});

describe("RaftLog.bytesAfter", () => {
  const entries = [
    entry(11, 100),
    entry(12, 0),
    { kind: "conf", index: 13, term: 2, change: { type: "promote", nodeId: "n2" } } as Entry,
  ];
  const log = new RaftLog(
    { meta: { index: 10, term: 2, confState }, data: new Uint8Array(5000) },
    entries,
    13,
  );

  it("counts the entries after the match", () => {
    expect(log.bytesAfter(13)).toBe(0);
    expect(log.bytesAfter(12)).toBe(entryBytes(entries[2]!));
    expect(log.bytesAfter(10)).toBe(116 + 16 + 64);
  });

  it("adds the snapshot when the match is behind the first index", () => {
    expect(log.bytesAfter(0)).toBe(5000 + 116 + 16 + 64);
    expect(log.bytesAfter(9)).toBe(5000 + 116 + 16 + 64);
  });
});
