// The shell (RaftNode) over real gRPC on loopback and real LevelDB in temp dirs: group commit,
// proposal redirection, follower ReadIndex, leadership transfer, and membership changes.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { pino } from "pino";
import { afterEach, describe, expect, it } from "vitest";
import { freePort } from "../../cluster/lib/replica-processes.js";
import { RaftNode, RaftNodeError } from "../../src/raft/node/raft-node.js";
import { BareStateMachine } from "../../src/server/bare/bare-state-machine.js";

interface Member {
  node: RaftNode;
  sm: BareStateMachine;
}

const dirs: string[] = [];
const running: RaftNode[] = [];
const logger = pino({ level: "silent" });

afterEach(async () => {
  await Promise.all(running.splice(0).map((n) => n.stop()));
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

async function startMember(
  id: string,
  dir: string,
  port: number,
  initialMembers: Record<string, string> | undefined,
  joinPeers?: Record<string, string>,
): Promise<Member> {
  const sm = new BareStateMachine();
  const node = await RaftNode.start({
    id,
    clusterId: "test",
    dataDir: join(dir, id),
    peerListen: `127.0.0.1:${port}`,
    ...(initialMembers ? { initialMembers } : {}),
    ...(joinPeers ? { joinPeers } : {}),
    stateMachine: sm,
    logger,
    tickMs: 20,
    snapshotEntries: 100,
  });
  running.push(node);
  return { node, sm };
}

async function startCluster(n: number): Promise<{ members: Member[]; dir: string }> {
  const dir = mkdtempSync(join(tmpdir(), "novanet-node-"));
  dirs.push(dir);
  const ids = Array.from({ length: n }, (_, i) => `n${i + 1}`);
  const ports = await Promise.all(ids.map(() => freePort()));
  const initial = Object.fromEntries(ids.map((id, i) => [id, `127.0.0.1:${ports[i]}`]));
  const members = await Promise.all(ids.map((id, i) => startMember(id, dir, ports[i]!, initial)));
  return { members, dir };
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

const leaderOf = (members: Member[]) =>
  until("a leader", () => members.find((m) => m.node.status().role === "leader"));

describe("RaftNode", () => {
  it("group-commits concurrent proposals: fewer fsyncs than proposals, all applied in order", async () => {
    const { members } = await startCluster(3);
    const leader = await leaderOf(members);
    const before = leader.node.status().counters;
    const n = 300;
    const outcomes = await Promise.all(
      Array.from({ length: n }, (_, i) => leader.node.propose(new TextEncoder().encode(`p${i}`))),
    );
    const indexes = outcomes.map((o) => o.index);
    expect(new Set(indexes).size).toBe(n);
    const after = leader.node.status().counters;
    expect(after.proposals - before.proposals).toBe(n);
    expect(after.syncedWrites - before.syncedWrites).toBeLessThan(n / 2);
    const last = Math.max(...indexes);
    await Promise.all(members.map((m) => m.node.waitApplied(last)));
    expect(new Set(members.map((m) => m.sm.count))).toEqual(new Set([leader.sm.count]));
  });

  it("refuses proposals on a follower and names the leader", async () => {
    const { members } = await startCluster(3);
    const leader = await leaderOf(members);
    const follower = members.find((m) => m !== leader)!;
    await until("the follower to know the leader", () =>
      follower.node.status().leader !== "" ? true : undefined,
    );
    const err = await follower.node.propose(new Uint8Array([1])).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RaftNodeError);
    expect((err as RaftNodeError).code).toBe("not-leader");
    expect((err as RaftNodeError).leader).toBe(leader.node.id);
    expect((err as RaftNodeError).leaderAddress).toBe(leader.node.peerAddress());
  });

  it("serves a linearizable read on a follower after a write on the leader", async () => {
    const { members } = await startCluster(3);
    const leader = await leaderOf(members);
    const follower = members.find((m) => m !== leader)!;
    for (let round = 0; round < 20; round++) {
      const w = await leader.node.propose(new TextEncoder().encode(`w${round}`));
      const readIndex = await follower.node.readIndex();
      expect(readIndex).toBeGreaterThanOrEqual(w.index);
      expect(follower.node.appliedIndex()).toBeGreaterThanOrEqual(w.index);
      expect(follower.sm.count).toBeGreaterThanOrEqual(round + 1);
    }
  });

  it("transfers leadership to a chosen follower", async () => {
    const { members } = await startCluster(3);
    const leader = await leaderOf(members);
    await leader.node.propose(new Uint8Array([7]));
    const target = members.find((m) => m !== leader)!;
    leader.node.transferLeadership(target.node.id);
    await until("the target to lead", () =>
      target.node.status().role === "leader" ? true : undefined,
    );
    expect(leader.node.status().role).toBe("follower");
    const out = await target.node.propose(new Uint8Array([8]));
    expect(out.term).toBeGreaterThan(1);
  });

  it("adds a learner that catches up by snapshot, promotes it, then removes the old leader", async () => {
    const { members, dir } = await startCluster(3);
    const leader = await leaderOf(members);
    for (let i = 0; i < 250; i++) await leader.node.propose(new TextEncoder().encode(`x${i}`));
    expect(leader.node.status().snapshotIndex).toBeGreaterThan(0);

    const port = await freePort();
    const joiner = await startMember("n4", dir, port, undefined, leader.node.confState().addresses);
    const added = await leader.node.proposeConfChange({
      type: "add-learner",
      nodeId: "n4",
      address: `127.0.0.1:${port}`,
    });
    expect(added.result.learners).toEqual(["n4"]);
    await joiner.node.waitApplied(leader.node.appliedIndex());
    expect(joiner.node.status().counters.snapshotsRestored).toBeGreaterThan(0);
    expect(joiner.sm.count).toBeGreaterThanOrEqual(250);

    // Promotion is refused until the leader has seen the learner catch up; operators retry.
    let promoted: Awaited<ReturnType<RaftNode["proposeConfChange"]>> | undefined;
    for (let i = 0; i < 100 && promoted === undefined; i++) {
      promoted = await leader.node
        .proposeConfChange({ type: "promote", nodeId: "n4" })
        .catch((e) => {
          expect((e as RaftNodeError).code).toBe("learner-not-caught-up");
          return sleep(20).then(() => undefined);
        });
    }
    expect(promoted?.result.voters).toEqual(["n1", "n2", "n3", "n4"]);

    const removed = await leader.node.proposeConfChange({ type: "remove", nodeId: leader.node.id });
    expect(removed.result.voters).not.toContain(leader.node.id);
    const rest = [...members.filter((m) => m !== leader), joiner];
    const next = await leaderOf(rest);
    const w = await next.node.propose(new Uint8Array([1]));
    await Promise.all(rest.map((m) => m.node.waitApplied(w.index)));
    expect(new Set(rest.map((m) => m.sm.digest)).size).toBe(1);
  });
});
