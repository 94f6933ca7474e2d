// Regression: an election timeout must measure time even while the event loop is kept busy.
//
// Found by the failover benchmark: 3 replicas, 16 writers, kill -9 the leader; twice in ~70
// trials the survivors elected no leader for 30–40 s and never even became pre-candidate. Their
// loops were busy with GetStatus calls (each an O(state) digest, hundreds of ms on a loaded
// host) polled every 10 ms, and the shell's ticker, a setInterval, ran once per turn of the loop
// and never made up the runs it missed: one tick per turn, so the 10–19 tick election timeout
// took 10–19 turns. Here all replicas share this process's loop; a hog keeps every turn at
// least HOG_MS long, and turns are counted, so the result does not depend on the host's load.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { pino } from "pino";
import { afterEach, describe, expect, it } from "vitest";
import { freePort } from "../../cluster/lib/replica-processes.js";
import { RaftNode } from "../../src/raft/node/raft-node.js";
import { BareStateMachine } from "../../src/server/bare/bare-state-machine.js";

const TICK_MS = 50;
const ELECTION_TICKS = 10;
/** Synchronous work per turn of the event loop while the hog runs (6 ticks' worth). */
const HOG_MS = 300;

const dirs: string[] = [];
const running: RaftNode[] = [];
const logger = pino({ level: "silent" });

afterEach(async () => {
  await Promise.all(running.splice(0).map((n) => n.stop()));
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

async function startCluster(n: number): Promise<RaftNode[]> {
  const dir = mkdtempSync(join(tmpdir(), "novanet-busy-"));
  dirs.push(dir);
  const ids = Array.from({ length: n }, (_, i) => `n${i + 1}`);
  const ports = await Promise.all(ids.map(() => freePort()));
  const initial = Object.fromEntries(ids.map((id, i) => [id, `127.0.0.1:${ports[i]}`]));
  const nodes = await Promise.all(
    ids.map((id, i) =>
      RaftNode.start({
        id,
        clusterId: "test",
        dataDir: join(dir, id),
        peerListen: `127.0.0.1:${ports[i]}`,
        initialMembers: initial,
        stateMachine: new BareStateMachine(),
        logger,
        tickMs: TICK_MS,
        raft: { electionTicks: ELECTION_TICKS, heartbeatTicks: 1 },
      }),
    ),
  );
  running.push(...nodes);
  return nodes;
}

async function stableLeader(nodes: RaftNode[]): Promise<RaftNode> {
  const end = Date.now() + 15_000;
  while (Date.now() < end) {
    const leader = nodes.find((n) => n.status().role === "leader");
    const term = leader?.status().term;
    if (leader && nodes.every((n) => n.status().leader === leader.id && n.status().term === term)) {
      // Every follower has heard this leader; let a few heartbeats settle.
      await sleep(5 * TICK_MS);
      if (leader.status().role === "leader" && leader.status().term === term) return leader;
    }
    await sleep(10);
  }
  throw new Error("no stable leader");
}

/**
 * Keeps every turn of the event loop busy for HOG_MS (a setImmediate chain busy-waits once per
 * turn) and calls `check` after each busy turn until it returns true or `turnsMax` turns passed.
 * Resolves with the number of busy turns (turnsMax + 1 when check never returned true).
 */
function hogUntil(turnsMax: number, check: () => boolean): Promise<number> {
  return new Promise((resolve) => {
    let turns = 0;
    const step = () => {
      const end = performance.now() + HOG_MS;
      while (performance.now() < end) {
        // Busy: the synchronous work of an expensive request.
      }
      turns++;
      if (check()) resolve(turns);
      else if (turns > turnsMax) resolve(turnsMax + 1);
      else setImmediate(step);
    };
    setImmediate(step);
  });
}

describe("election timeout on a busy event loop", () => {
  it("survivors of a dead leader campaign within a few busy turns, not one tick per turn", async () => {
    const nodes = await startCluster(3);
    const leader = await stableLeader(nodes);
    const survivors = nodes.filter((n) => n !== leader);
    const term = leader.status().term;
    const ticksBefore = survivors.map((n) => n.status().counters.ticks);

    // The leader goes silent at once (its ticker stops); its shutdown finishes during the hog.
    const stopped = leader.stop();
    const campaigned = () =>
      survivors.some((n) => n.status().role !== "follower" || n.status().term > term);
    const turnsToCampaign = await hogUntil(40, campaigned);
    const ticks = survivors.map((n, i) => n.status().counters.ticks - ticksBefore[i]!);
    // One tick per turn would need at least ELECTION_TICKS turns; counting the missed ticks
    // (about HOG_MS / TICK_MS per turn) needs at most ceil((2·ELECTION_TICKS − 1) / 6) = 4 turns,
    // plus a turn or two for the leader's last messages.
    expect(turnsToCampaign, `survivor ticks ${ticks.join(", ")}`).toBeLessThanOrEqual(7);
    expect(Math.max(...survivors.map((n) => n.status().counters.ticksCaughtUp))).toBeGreaterThan(0);

    // And the election completes while the loop stays busy: a pre-vote and a vote round, with
    // an fsync on each side, take a few turns. Both survivors time out in the same turn here (the
    // loop is shared); without the pre-candidate tie-break (raft.ts, handleVoteRequest) they
    // would grant each other's pre-vote, split the vote, and wait 10–19 more turns as candidates.
    const turnsToLeader = await hogUntil(30, () =>
      survivors.some((n) => n.status().role === "leader" && n.status().term > term),
    );
    expect(turnsToLeader).toBeLessThanOrEqual(15);
    await stopped;
  }, 60_000);

  it("followers of a live leader do not campaign when the whole loop is busy", async () => {
    const nodes = await startCluster(3);
    const leader = await stableLeader(nodes);
    const term = leader.status().term;
    // Ticks are missed on every turn, but the leader's heartbeats arrive on every turn too: a
    // follower that heard from its leader does not count the missed ticks.
    const turns = await hogUntil(15, () =>
      nodes.some((n) => n.status().term !== term || n.status().role === "pre-candidate"),
    );
    expect(turns).toBe(16);
    expect(leader.status().role).toBe("leader");
    expect(nodes.every((n) => n.status().leader === leader.id)).toBe(true);
  }, 60_000);
});
