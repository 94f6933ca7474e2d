// seedStore: data dirs of a new cluster that starts from a snapshot (a restored backup). The
// members elect a leader without bootstrap entries, restore the snapshot, continue the log at
// index 2, and a learner added later gets the snapshot from the leader.
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { pino } from "pino";
import { afterEach, describe, expect, it } from "vitest";
import { freePort } from "../../cluster/lib/replica-processes.js";
import { RaftNode } from "../../src/raft/node/raft-node.js";
import { LevelStorage } from "../../src/raft/storage/level-storage.js";
import { SeedError, seedStore } from "../../src/raft/storage/seed.js";
import { BareStateMachine } from "../../src/server/bare/bare-state-machine.js";

const dirs: string[] = [];
const running: RaftNode[] = [];
const logger = pino({ level: "silent" });

afterEach(async () => {
  await Promise.all(running.splice(0).map((n) => n.stop()));
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), "novanet-seed-"));
  dirs.push(d);
  return d;
}

/** A bare state machine that applied 40 entries: what a backup of it holds. */
function backupData(): { data: Uint8Array; digest: string } {
  const sm = new BareStateMachine();
  for (let i = 1; i <= 40; i++) sm.apply({ index: i, term: 3, data: new Uint8Array([i]) });
  return { data: sm.snapshot(), digest: sm.digest };
}

async function until<T>(what: string, fn: () => T | undefined, ms = 10_000): Promise<T> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    const v = fn();
    if (v !== undefined) return v;
    await sleep(10);
  }
  throw new Error(`timed out waiting for ${what}`);
}

describe("seedStore", () => {
  it("writes a store that loads as snapshot 1/1 with every member a voter", async () => {
    const dir = join(tempDir(), "n1");
    const { data } = backupData();
    const members = { n2: "127.0.0.1:2", n1: "127.0.0.1:1" };
    const res = await seedStore({ dir, clusterId: "restored", members, data });
    expect(res.confState.voters).toEqual(["n1", "n2"]);
    const storage = await LevelStorage.open(dir);
    try {
      const loaded = await storage.load();
      expect(loaded?.clusterId).toBe("restored");
      expect(loaded?.snapshot.meta).toEqual({
        index: 1,
        term: 1,
        confState: { voters: ["n1", "n2"], learners: [], addresses: members },
      });
      expect(Buffer.from(loaded!.snapshot.data)).toEqual(Buffer.from(data));
      expect(loaded?.hardState).toEqual({ term: 1, vote: "", commit: 1 });
      expect(loaded?.entries).toEqual([]);
      expect(storage.firstIndex()).toBe(2);
    } finally {
      await storage.close();
    }
  });

  it("refuses a non-empty dir and bad input, writing nothing", async () => {
    const root = tempDir();
    const full = join(root, "full");
    mkdirSync(full);
    writeFileSync(join(full, "keep.txt"), "x");
    const { data } = backupData();
    const members = { n1: "127.0.0.1:1" };
    await expect(seedStore({ dir: full, clusterId: "c", members, data })).rejects.toThrow(
      /not empty \(keep\.txt\)/,
    );
    expect(readdirSync(full)).toEqual(["keep.txt"]);
    const empty = join(root, "empty");
    await expect(seedStore({ dir: empty, clusterId: "c", members: {}, data })).rejects.toThrow(
      SeedError,
    );
    await expect(
      seedStore({ dir: empty, clusterId: "c", members, data: new Uint8Array(0) }),
    ).rejects.toThrow(/empty/);
    expect(readdirSync(root).sort()).toEqual(["full"]);
  });

  it("starts a cluster: no bootstrap entries, state restored, log continues at 2; a learner gets the snapshot", async () => {
    const root = tempDir();
    const { data, digest } = backupData();
    const ids = ["n1", "n2", "n3"];
    const ports = await Promise.all(ids.map(() => freePort()));
    const members = Object.fromEntries(ids.map((id, i) => [id, `127.0.0.1:${ports[i]}`]));
    for (const id of ids)
      await seedStore({ dir: join(root, id), clusterId: "restored", members, data });
    const start = async (id: string, port: number, join_?: Record<string, string>) => {
      const sm = new BareStateMachine();
      const node = await RaftNode.start({
        id,
        clusterId: "restored",
        dataDir: join(root, id),
        peerListen: `127.0.0.1:${port}`,
        // The same initial_cluster as for a fresh cluster: ignored, the store is not untouched.
        ...(join_ ? { joinPeers: join_ } : { initialMembers: members }),
        stateMachine: sm,
        logger,
        tickMs: 20,
      });
      running.push(node);
      return { node, sm };
    };
    const nodes = await Promise.all(ids.map((id, i) => start(id, ports[i]!)));
    for (const n of nodes) {
      expect(n.sm.digest).toBe(digest);
      expect(n.sm.count).toBe(40);
    }
    const leader = await until("a leader", () =>
      nodes.find((n) => n.node.status().role === "leader"),
    );
    const out = await leader.node.propose(new Uint8Array([99]));
    // Index 2 is the new leader's empty entry; nothing else (no conf entries) came before.
    expect(out.index).toBe(3);
    expect(leader.sm.count).toBe(41);
    expect(leader.node.status().confState.voters).toEqual(ids);

    const port = await freePort();
    const joiner = await start("n4", port, leader.node.confState().addresses);
    await leader.node.proposeConfChange({
      type: "add-learner",
      nodeId: "n4",
      address: `127.0.0.1:${port}`,
    });
    await joiner.node.waitApplied(leader.node.appliedIndex());
    expect(joiner.node.status().counters.snapshotsRestored).toBeGreaterThan(0);
    expect(joiner.sm.count).toBe(leader.sm.count);
    expect(joiner.sm.digest).toBe(leader.sm.digest);
  }, 30_000);
});
