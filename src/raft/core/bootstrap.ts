import type { RaftInitialState } from "./config.js";
import type { Entry, NodeId } from "./types.js";

/**
 * The starting state of every replica of a brand-new cluster. The initial membership is written
 * into the log as committed conf changes (entries 1..n of term 1), not into the index-0 snapshot:
 * a replica that joins later replays the log from index 1 and must learn the initial voters too.
 * Every initial replica must be given the same members.
 */
export function bootstrapState(members: Record<NodeId, string>): RaftInitialState {
  const ids = Object.keys(members).sort();
  const entries: Entry[] = ids.map((nodeId, i) => ({
    kind: "conf",
    index: i + 1,
    term: 1,
    change: { type: "add-voter", nodeId, address: members[nodeId]! },
  }));
  return {
    hardState: { term: 1, vote: "", commit: entries.length },
    snapshot: emptySnapshot(),
    entries,
  };
}

/** The starting state of a replica that joins a running cluster: it learns everything from the leader. */
export function joinState(): RaftInitialState {
  return { hardState: { term: 0, vote: "", commit: 0 }, snapshot: emptySnapshot(), entries: [] };
}

function emptySnapshot(): RaftInitialState["snapshot"] {
  return {
    meta: { index: 0, term: 0, confState: { voters: [], learners: [], addresses: {} } },
    data: new Uint8Array(0),
  };
}
