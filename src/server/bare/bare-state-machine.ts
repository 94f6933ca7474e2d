// The state machine of the bare Raft cluster: it counts applied entries and chains their hashes,
// so that replicas can be compared by digest at an applied index. The network state machine
// (src/statemachine) takes its place in the full server.
import { createHash } from "node:crypto";
import { Packr } from "msgpackr";
import type { SnapshotMeta } from "../../raft/core/types.js";
import type { StateMachine } from "../../raft/node/raft-node.js";

const packr = new Packr({ useRecords: false, structuredClone: false, moreTypes: false });

export interface BareApplyResult {
  count: number;
  digest: string;
}

export class BareStateMachine implements StateMachine<BareApplyResult> {
  count = 0;
  index = 0;
  digest = "0".repeat(64);

  apply(entry: { index: number; term: number; data: Uint8Array }): BareApplyResult {
    this.count++;
    this.index = entry.index;
    this.digest = createHash("sha256")
      .update(this.digest)
      .update(`${entry.index}/${entry.term}/`)
      .update(entry.data)
      .digest("hex");
    return { count: this.count, digest: this.digest };
  }

  snapshot(): Uint8Array {
    return packr.pack({ v: 1, count: this.count, index: this.index, digest: this.digest });
  }

  restore(data: Uint8Array, meta: SnapshotMeta): void {
    const s = packr.unpack(data) as { v: number; count: number; index: number; digest: string };
    if (s.v !== 1) throw new Error(`unknown bare snapshot version ${s.v} at ${meta.index}`);
    this.count = s.count;
    this.index = s.index;
    this.digest = s.digest;
  }
}
