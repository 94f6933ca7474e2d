// seedStore: writes the data dir of one member of a NEW cluster that starts from a snapshot (a
// restored backup, as `etcdutl snapshot restore` does). The snapshot data is opaque here.
//
// The store holds the cluster id, the snapshot at { index, term } whose membership is every
// founding member as a voter, and hard state { term, commit: index }; no entries. A replica that
// starts on it finds a store that is not untouched, so it writes no bootstrap entries: it restores
// its state machine from the snapshot and elects a leader among the members. The log continues at
// index + 1; a member added later gets the snapshot from the leader.
import { readdir, rm } from "node:fs/promises";
import { join } from "node:path";
import type { ConfState, NodeId } from "../core/types.js";
import { LevelStorage } from "./level-storage.js";

/** A refused seed: nothing was written. */
export class SeedError extends Error {
  override name = "SeedError";
}

export interface SeedOptions {
  dir: string;
  clusterId: string;
  /** Founding members: id → peer address. Every member is seeded with the same map. */
  members: Readonly<Record<NodeId, string>>;
  /** The state-machine snapshot, already at `index`/`term`. */
  data: Uint8Array;
  /** Log position of the snapshot (default 1 / 1: the new log starts at 2). */
  index?: number;
  term?: number;
}

export interface SeedResult {
  index: number;
  term: number;
  confState: ConfState;
}

/** Refuses a dir that holds anything; on a failure part-way, removes what it wrote. */
export async function seedStore(o: SeedOptions): Promise<SeedResult> {
  const index = o.index ?? 1;
  const term = o.term ?? 1;
  const ids = Object.keys(o.members).sort();
  if (ids.length === 0) throw new SeedError("no members: the new cluster needs at least one voter");
  if (o.clusterId === "") throw new SeedError("the cluster id is empty");
  if (o.data.length === 0) throw new SeedError("the snapshot data is empty");
  let existing: string[] | undefined;
  try {
    existing = await readdir(o.dir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
  }
  if (existing !== undefined && existing.length > 0) {
    throw new SeedError(
      `data dir ${o.dir} is not empty (${existing.slice(0, 3).join(", ")}${existing.length > 3 ? ", …" : ""}): restore only into an empty or missing directory`,
    );
  }
  const confState: ConfState = { voters: ids, learners: [], addresses: { ...o.members } };
  try {
    const storage = await LevelStorage.open(o.dir);
    try {
      await storage.seed({
        clusterId: o.clusterId,
        snapshot: { meta: { index, term, confState }, data: o.data },
      });
    } finally {
      await storage.close();
    }
    // Read it back the way a starting replica will.
    const check = await LevelStorage.open(o.dir);
    try {
      const loaded = await check.load();
      if (
        loaded === null ||
        loaded.clusterId !== o.clusterId ||
        loaded.snapshot.meta.index !== index ||
        loaded.snapshot.data.length !== o.data.length
      ) {
        throw new Error(`data dir ${o.dir} does not read back as written`);
      }
    } finally {
      await check.close();
    }
  } catch (err) {
    // The dir was empty or missing before: leave it so (a half-written store must never start).
    if (existing === undefined) await rm(o.dir, { recursive: true, force: true });
    else
      for (const name of await readdir(o.dir))
        await rm(join(o.dir, name), { recursive: true, force: true });
    throw err;
  }
  return { index, term, confState };
}
