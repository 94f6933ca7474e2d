// Regression: a follower whose log already holds a snapshot's last entry ("fast-forward", no
// restore) must not tell the leader that the rest of its log matches too.
//
// Found by the simulator (seed 69 of `npm run sim`, once the pre-candidate tie-break changed how
// its elections went): the follower answered the snapshot with its last index; its entries after
// the snapshot were a deposed leader's, the leader took them for replicated, and the follower
// committed them on the next heartbeat — a state-machine safety violation.
import { describe, expect, it } from "vitest";
import { makeRaftConfig } from "../../src/raft/core/config.js";
import { RawNode } from "../../src/raft/core/raw-node.js";
import type { ConfState, Entry, Message } from "../../src/raft/core/types.js";

const confState: ConfState = {
  voters: ["n1", "n2", "n3"],
  learners: [],
  addresses: { n1: "n1:1", n2: "n2:1", n3: "n3:1" },
};
const text = (s: string) => new TextEncoder().encode(s);

describe("snapshot fast-forward", () => {
  it("answers with the snapshot's index, not a divergent tail beyond it", () => {
    // n2: the bootstrap conf changes 1–3 (term 1, committed), "a" at 4 (term 2, matches the new
    // leader's log) and "x", "y" at 5–6 that a leader of term 2 wrote but never committed.
    const entries: Entry[] = [
      ...confState.voters.map(
        (nodeId, i): Entry => ({
          kind: "conf",
          index: i + 1,
          term: 1,
          change: { type: "add-voter", nodeId, address: `${nodeId}:1` },
        }),
      ),
      { kind: "normal", index: 4, term: 2, data: text("a") },
      { kind: "normal", index: 5, term: 2, data: text("x") },
      { kind: "normal", index: 6, term: 2, data: text("y") },
    ];
    const node = new RawNode(makeRaftConfig({ id: "n2", rng: () => 0.5 }), {
      hardState: { term: 2, vote: "", commit: 3 },
      snapshot: {
        meta: { index: 0, term: 0, confState: { voters: [], learners: [], addresses: {} } },
        data: new Uint8Array(0),
      },
      entries,
    });
    // n1, leader of term 3, compacted its log at 4 (its 5 and 6 are of term 3) and sends the
    // snapshot in one chunk.
    const data = text("state at 4");
    const snap: Message = {
      type: "snap",
      from: "n1",
      to: "n2",
      term: 3,
      chunk: { meta: { index: 4, term: 2, confState }, offset: 0, total: data.length, data },
    };
    node.step(snap);
    const rd = node.ready();
    const resp = rd.messages.find((m) => m.type === "app-resp" && m.to === "n1");
    expect(resp).toMatchObject({ type: "app-resp", reject: false, index: 4 });
    expect(rd.hardState?.commit).toBe(4);
    node.advance();
    expect(node.status().lastIndex).toBe(6); // kept until the leader's appends overwrite them
  });
});
