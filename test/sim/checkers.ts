// The simulator's checkers. They observe plain facts (a leader in a term, an entry written to a log,
// an entry committed or applied, a durable hard state, a completed read) and throw a Violation the
// moment the facts contradict a Raft property. They know nothing of RawNode or the cluster, so the
// unit tests can feed them hand-made violating inputs and see each one fail.
import type { HardState, NodeId } from "../../src/raft/core/types.js";
import { chainHash, genesisHash, parseWrite } from "./statemachine.js";

export type CheckerName =
  | "election-safety"
  | "log-matching"
  | "leader-completeness"
  | "state-machine-safety"
  | "commit-monotonic"
  | "durable-state"
  | "linearizable-read"
  | "liveness"
  | "contract";

export class Violation extends Error {
  override name = "Violation";
  constructor(
    readonly checker: CheckerName,
    message: string,
  ) {
    super(`[${checker}] ${message}`);
  }
}

export function fail(checker: CheckerName, message: string): never {
  throw new Violation(checker, message);
}

/** What a log holds at an index, as seen by leader completeness. */
export type LogLookup = (
  index: number,
) => { term: number; content: string } | "compacted" | undefined;

interface LogRecord {
  content: string;
  prevTerm: number;
  node: NodeId;
}

interface CommittedRecord {
  term: number;
  content: string;
  node: NodeId;
  /**
   * An upper bound of the term in which the entry was committed: the smallest term of a replica
   * seen knowing it committed (a replica learns of a commit in the committing leader's term or
   * later). Not the entry's own term: an entry of term 6 may be committed by the leader of term 14.
   */
  commitTerm: number;
}

interface AppliedRecord {
  term: number;
  content: string;
  hash: string;
  node: NodeId;
}

interface KeyHistory {
  indexes: number[];
  values: string[];
}

export class Checkers {
  /** term -> the one leader of that term. */
  readonly #leaders = new Map<number, NodeId>();
  /** "index/term" -> the entry every log holding (index, term) must hold, and its predecessor's term. */
  readonly #logEntries = new Map<string, LogRecord>();
  /** index -> the committed entry (from any replica's hard state commit). */
  readonly #committed = new Map<number, CommittedRecord>();
  #committedMax = 0;
  /** index -> the applied entry and the state digest after it; indexes 1..appliedMax, dense. */
  readonly #applied: (AppliedRecord | undefined)[] = [undefined];
  #appliedMax = 0;
  readonly #keys = new Map<string, KeyHistory>();
  /** node -> the commit index last seen in its current incarnation. */
  readonly #commits = new Map<NodeId, { incarnation: number; commit: number }>();
  /** node -> its last durable hard state. */
  readonly #durable = new Map<NodeId, HardState>();
  /** The highest index of a write acknowledged to a client so far. */
  #ackedMax = 0;

  get committedMax(): number {
    return this.#committedMax;
  }
  get appliedMax(): number {
    return this.#appliedMax;
  }
  get ackedMax(): number {
    return this.#ackedMax;
  }
  leaderOf(term: number): NodeId | undefined {
    return this.#leaders.get(term);
  }
  committedAt(index: number): { term: number; content: string } | undefined {
    return this.#committed.get(index);
  }
  /** The entry every replica applied at index, if any has. */
  appliedAt(index: number): { term: number; content: string; hash: string } | undefined {
    return index >= 1 ? this.#applied[index] : undefined;
  }

  /** Election safety: at most one leader per term. `how` says what revealed the leadership. */
  observeLeader(node: NodeId, term: number, how: string): void {
    if (term < 1) fail("election-safety", `${node} is leader in term ${term} (${how})`);
    const prev = this.#leaders.get(term);
    if (prev === undefined) {
      this.#leaders.set(term, node);
      return;
    }
    if (prev !== node) {
      fail("election-safety", `two leaders in term ${term}: ${prev} and ${node} (${how})`);
    }
  }

  /**
   * Log matching, checked one written entry at a time: every log holding (index, term) holds the
   * same entry there and the same term at index-1. By induction, two logs that agree on (index,
   * term) agree on every entry up to index (down to the first index either log still holds).
   */
  observeLogEntry(
    node: NodeId,
    entry: { index: number; term: number; content: string },
    prevTerm: number,
  ): void {
    if (prevTerm > entry.term) {
      fail(
        "log-matching",
        `${node} log: entry ${entry.index} has term ${entry.term} below its predecessor's ${prevTerm}`,
      );
    }
    const key = `${entry.index}/${entry.term}`;
    const rec = this.#logEntries.get(key);
    if (rec === undefined) {
      this.#logEntries.set(key, { content: entry.content, prevTerm, node });
      return;
    }
    if (rec.content !== entry.content) {
      fail(
        "log-matching",
        `entry ${key} differs: ${rec.node} has ${JSON.stringify(rec.content)}, ${node} has ${JSON.stringify(entry.content)}`,
      );
    }
    if (rec.prevTerm !== prevTerm) {
      fail(
        "log-matching",
        `entry ${key} follows term ${rec.prevTerm} on ${rec.node} but term ${prevTerm} on ${node}`,
      );
    }
  }

  /**
   * An entry a replica holds at or below its commit index, `knownInTerm` being the replica's term
   * when it knew: once committed, an index never changes.
   */
  observeCommitted(
    node: NodeId,
    entry: { index: number; term: number; content: string },
    knownInTerm: number,
  ): void {
    const rec = this.#committed.get(entry.index);
    if (rec === undefined) {
      this.#committed.set(entry.index, {
        term: entry.term,
        content: entry.content,
        node,
        commitTerm: Math.max(entry.term, knownInTerm),
      });
      if (entry.index > this.#committedMax) this.#committedMax = entry.index;
      return;
    }
    if (knownInTerm < rec.commitTerm) rec.commitTerm = Math.max(entry.term, knownInTerm);
    if (rec.term !== entry.term || rec.content !== entry.content) {
      fail(
        "state-machine-safety",
        `committed entry ${entry.index} differs: ${rec.node} committed ${rec.term}:${JSON.stringify(rec.content)}, ${node} committed ${entry.term}:${JSON.stringify(entry.content)}`,
      );
    }
  }

  /**
   * Leader completeness: a leader of `term` holds every entry committed in a term up to its own
   * (an entry committed in `term` was committed by this very leader). Checks committed indexes from
   * `from` on and returns where to resume (a leader's log only grows while it leads, so an index
   * checked once stays checked). It stops at the first entry that may have been committed later.
   */
  checkLeaderCompleteness(node: NodeId, term: number, from: number, log: LogLookup): number {
    let i = from;
    for (; i <= this.#committedMax; i++) {
      const c = this.#committed.get(i);
      if (c === undefined) break;
      if (c.commitTerm > term) break;
      const have = log(i);
      if (have === "compacted") continue;
      if (have === undefined) {
        fail(
          "leader-completeness",
          `${node}, leader of term ${term}, lacks entry ${i} (term ${c.term}, ${JSON.stringify(c.content)}), which ${c.node} knew committed by term ${c.commitTerm}`,
        );
      }
      if (have.term !== c.term || have.content !== c.content) {
        fail(
          "leader-completeness",
          `${node}, leader of term ${term}, holds ${have.term}:${JSON.stringify(have.content)} at ${i} where ${c.term}:${JSON.stringify(c.content)} was committed by term ${c.commitTerm} (${c.node} knew)`,
        );
      }
    }
    return i;
  }

  /** State machine safety: every replica applies the same entry at an index and reaches the same state. */
  observeApplied(
    node: NodeId,
    entry: { index: number; term: number; content: string },
    hashAfter: string,
  ): void {
    const i = entry.index;
    if (i <= this.#appliedMax) {
      const rec = this.#applied[i] as AppliedRecord;
      if (rec.term !== entry.term || rec.content !== entry.content) {
        fail(
          "state-machine-safety",
          `applied entry ${i} differs: ${rec.node} applied ${rec.term}:${JSON.stringify(rec.content)}, ${node} applied ${entry.term}:${JSON.stringify(entry.content)}`,
        );
      }
      if (rec.hash !== hashAfter) {
        fail(
          "state-machine-safety",
          `state after applying ${i} differs: ${rec.node} has ${rec.hash}, ${node} has ${hashAfter}`,
        );
      }
      return;
    }
    if (i !== this.#appliedMax + 1) {
      fail(
        "state-machine-safety",
        `${node} applied entry ${i} but no replica has applied ${this.#appliedMax + 1} yet`,
      );
    }
    const prevHash = i === 1 ? genesisHash : (this.#applied[i - 1] as AppliedRecord).hash;
    const expected = chainHash(prevHash, i, entry.term, entry.content);
    if (expected !== hashAfter) {
      fail(
        "state-machine-safety",
        `${node} reached state ${hashAfter} after applying ${i}, the entries applied so far give ${expected}`,
      );
    }
    this.#applied.push({ term: entry.term, content: entry.content, hash: hashAfter, node });
    this.#appliedMax = i;
    const w = parseWrite(entry.content);
    if (w !== undefined) {
      let h = this.#keys.get(w.key);
      if (h === undefined) {
        h = { indexes: [], values: [] };
        this.#keys.set(w.key, h);
      }
      h.indexes.push(i);
      h.values.push(w.value);
    }
  }

  /** A replica restored a snapshot: its state must be the state every replica had at that index. */
  observeRestore(node: NodeId, index: number, hash: string): void {
    if (index === 0) {
      if (hash !== genesisHash)
        fail("state-machine-safety", `${node} restored a non-empty state at 0`);
      return;
    }
    const rec = this.#applied[index];
    if (rec === undefined) {
      fail(
        "state-machine-safety",
        `${node} restored a snapshot at ${index}, which no replica has applied`,
      );
    }
    if (rec.hash !== hash) {
      fail(
        "state-machine-safety",
        `${node} restored a snapshot at ${index} with state ${hash}; ${rec.node} had ${rec.hash} there`,
      );
    }
  }

  /** The value of `key` after applying every entry up to `index` (canonical history). */
  valueAt(key: string, index: number): string | undefined {
    const h = this.#keys.get(key);
    if (h === undefined) return undefined;
    let lo = 0;
    let hi = h.indexes.length - 1;
    let found = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if ((h.indexes[mid] as number) <= index) {
        found = mid;
        lo = mid + 1;
      } else {
        hi = mid - 1;
      }
    }
    return found < 0 ? undefined : h.values[found];
  }

  /**
   * The commit index a replica reports never goes down while it runs. After a crash it restarts
   * from its durable state, whose commit may trail the lost in-memory one; `observeRestart` checks
   * it against the durable floor instead.
   */
  observeCommit(node: NodeId, incarnation: number, commit: number): void {
    const prev = this.#commits.get(node);
    if (prev !== undefined && prev.incarnation === incarnation && commit < prev.commit) {
      fail(
        "commit-monotonic",
        `${node} commit went from ${prev.commit} to ${commit} without a crash`,
      );
    }
    this.#commits.set(node, { incarnation, commit });
  }

  /** A restarted replica starts at least at the commit it had made durable. */
  observeRestart(node: NodeId, incarnation: number, commit: number): void {
    const durable = this.#durable.get(node);
    if (durable !== undefined && commit < durable.commit) {
      fail(
        "commit-monotonic",
        `${node} restarted with commit ${commit} below its durable commit ${durable.commit}`,
      );
    }
    this.#commits.set(node, { incarnation, commit });
  }

  /**
   * A hard state became durable. Durable term and commit never go down, and a durable vote never
   * changes within a term (a replica votes at most once per term, even across crashes).
   */
  observeDurableHardState(node: NodeId, hs: HardState): void {
    const prev = this.#durable.get(node);
    if (prev !== undefined) {
      if (hs.term < prev.term)
        fail("durable-state", `${node} durable term went from ${prev.term} to ${hs.term}`);
      if (hs.commit < prev.commit) {
        fail("durable-state", `${node} durable commit went from ${prev.commit} to ${hs.commit}`);
      }
      if (hs.term === prev.term && prev.vote !== "" && hs.vote !== prev.vote) {
        fail(
          "durable-state",
          `${node} voted twice in term ${hs.term}: ${prev.vote} then ${JSON.stringify(hs.vote)}`,
        );
      }
    }
    this.#durable.set(node, { ...hs });
  }

  /** A client write was acknowledged (applied on the replica that accepted it). */
  observeWriteAcked(index: number): void {
    if (index > this.#ackedMax) this.#ackedMax = index;
  }

  /**
   * A ReadIndex read completed. `ackedAtIssue` is the highest acknowledged write index when the
   * read was issued; the read point must cover it (else a client could miss its own write), and
   * the value served must be the canonical value at the applied index it was served at.
   */
  observeRead(read: {
    node: NodeId;
    context: string;
    key: string;
    ackedAtIssue: number;
    readIndex: number;
    appliedIndex: number;
    value: string | undefined;
  }): void {
    const r = read;
    if (r.readIndex < r.ackedAtIssue) {
      fail(
        "linearizable-read",
        `read ${r.context} on ${r.node} got read index ${r.readIndex}, but write ${r.ackedAtIssue} was acknowledged before the read was issued`,
      );
    }
    if (r.appliedIndex < r.readIndex) {
      fail(
        "linearizable-read",
        `read ${r.context} on ${r.node} served at ${r.appliedIndex} < read index ${r.readIndex}`,
      );
    }
    const expected = this.valueAt(r.key, r.appliedIndex);
    if (expected !== r.value) {
      fail(
        "linearizable-read",
        `read ${r.context} of ${r.key} on ${r.node} at applied ${r.appliedIndex} returned ${JSON.stringify(r.value)}, the state there holds ${JSON.stringify(expected)}`,
      );
    }
  }
}
