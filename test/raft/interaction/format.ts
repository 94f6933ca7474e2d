// Transcript notation for the interaction env, etcd-io/raft style: entries as
// `term/index Kind data`, messages as `from->to MsgType Term:t ...`, events as `INFO id prose`.

import type { RaftEvent } from "../../../src/raft/core/config.js";
import type {
  ConfChange,
  ConfState,
  Entry,
  HardState,
  Message,
  NodeId,
} from "../../../src/raft/core/types.js";

const dec = new TextDecoder();

export const msgTypeNames: Record<Message["type"], string> = {
  app: "MsgApp",
  "app-resp": "MsgAppResp",
  vote: "MsgVote",
  "vote-resp": "MsgVoteResp",
  "pre-vote": "MsgPreVote",
  "pre-vote-resp": "MsgPreVoteResp",
  heartbeat: "MsgHeartbeat",
  "heartbeat-resp": "MsgHeartbeatResp",
  snap: "MsgSnap",
  "snap-resp": "MsgSnapResp",
  "read-index": "MsgReadIndex",
  "read-index-resp": "MsgReadIndexResp",
  "timeout-now": "MsgTimeoutNow",
  "transfer-leader": "MsgTransferLeader",
};

/** Accepts both the core's names (`app`) and etcd's (`MsgApp`). */
export function parseMsgType(s: string): Message["type"] {
  for (const [t, name] of Object.entries(msgTypeNames)) {
    if (s === t || s === name) return t as Message["type"];
  }
  throw new Error(`unknown message type ${s}`);
}

export function byId(a: NodeId, b: NodeId): number {
  const na = Number(a);
  const nb = Number(b);
  if (Number.isFinite(na) && Number.isFinite(nb)) return na - nb;
  return a < b ? -1 : a > b ? 1 : 0;
}

export function list(ids: readonly NodeId[]): string {
  return `(${[...ids].sort(byId).join(",")})`;
}

/** Contexts are opaque strings (the core may embed separators): escape what is not printable. */
export function ctx(s: string): string {
  return JSON.stringify(s).slice(1, -1);
}

export function formatData(data: Uint8Array): string {
  return JSON.stringify(dec.decode(data));
}

export function formatConfChange(cc: ConfChange): string {
  return `${cc.type} ${cc.nodeId}`;
}

export function formatEntry(e: Entry): string {
  if (e.kind === "normal") return `${e.term}/${e.index} EntryNormal ${formatData(e.data)}`;
  return `${e.term}/${e.index} EntryConfChange ${formatConfChange(e.change)}`;
}

export function formatConfState(cs: ConfState): string {
  return `Voters:${list(cs.voters)} Learners:${list(cs.learners)}`;
}

export function formatHardState(hs: HardState): string {
  return `HardState Term:${hs.term} Vote:${hs.vote === "" ? "-" : hs.vote} Commit:${hs.commit}`;
}

export function formatMessage(m: Message): string {
  const head = `${m.from}->${m.to} ${msgTypeNames[m.type]} Term:${m.term}`;
  switch (m.type) {
    case "app":
      return `${head} Log:${m.logTerm}/${m.index} Commit:${m.commit}${
        m.entries.length > 0 ? ` Entries:[${m.entries.map(formatEntry).join(", ")}]` : ""
      }`;
    case "app-resp":
      return m.reject
        ? `${head} Index:${m.index} Rejected (Hint:${m.rejectHint} HintTerm:${m.logTerm})`
        : `${head} Index:${m.index}`;
    case "vote":
    case "pre-vote":
      return `${head} Log:${m.logTerm}/${m.index}${m.transfer ? " Transfer" : ""}`;
    case "vote-resp":
    case "pre-vote-resp":
      return `${head}${m.reject ? " Rejected" : ""}`;
    case "heartbeat":
      return `${head} Commit:${m.commit}${m.context === "" ? "" : ` Context:${ctx(m.context)}`}`;
    case "heartbeat-resp":
      return `${head}${m.context === "" ? "" : ` Context:${ctx(m.context)}`}`;
    case "snap": {
      const c = m.chunk;
      return `${head} Snapshot:${c.meta.term}/${c.meta.index} ${formatConfState(c.meta.confState)} Chunk:[${c.offset},${c.offset + c.data.length})/${c.total}`;
    }
    case "snap-resp":
      return `${head} Snapshot:${m.snapTerm}/${m.snapIndex} Offset:${m.offset}`;
    case "read-index":
      return `${head} Context:${ctx(m.context)}`;
    case "read-index-resp":
      return `${head} Index:${m.index} Context:${ctx(m.context)}${m.reject ? " Rejected" : ""}`;
    case "timeout-now":
      return head;
    case "transfer-leader":
      return `${head} Target:${m.target}`;
    default:
      return assertNever(m);
  }
}

function assertNever(x: never): never {
  throw new Error(`unexpected value ${JSON.stringify(x)}`);
}

type Fields = Record<string, unknown>;

function show(v: unknown): string {
  if (typeof v === "string") return v === "" ? "-" : v;
  if (typeof v === "number" || typeof v === "boolean") return String(v);
  if (v !== null && typeof v === "object" && "type" in v && "nodeId" in v) {
    return formatConfChange(v as ConfChange);
  }
  if (v !== null && typeof v === "object" && "voters" in v && "learners" in v) {
    return formatConfState(v as ConfState);
  }
  return JSON.stringify(v);
}

/**
 * Prose for the core's events, etcd-style. Each renderer names the fields it used; any other field
 * (one the core adds later) is appended as `k=v`, so the transcript never silently hides data.
 */
const eventProse: Record<string, (f: Fields) => [string, string[]]> = {
  "became-follower": (f) => [
    `became follower at term ${show(f.term)}${f.leader ? ` (leader ${show(f.leader)})` : ""}`,
    ["leader", "previousTerm"],
  ],
  "became-pre-candidate": (f) => [`became pre-candidate at term ${show(f.term)}`, []],
  "became-candidate": (f) => [`became candidate at term ${show(f.term)}`, []],
  "became-leader": (f) => [`became leader at term ${show(f.term)}`, []],
  "pre-vote-granted": (f) => [
    `[term ${show(f.term)}] cast MsgPreVote for ${show(f.candidate)} at term ${show(f.candidateTerm)}`,
    ["candidate", "candidateTerm"],
  ],
  "vote-granted": (f) => [
    `[term ${show(f.term)}] cast MsgVote for ${show(f.candidate)} at term ${show(f.candidateTerm)}`,
    ["candidate", "candidateTerm"],
  ],
  "pre-vote-rejected": (f) => [
    `[term ${show(f.term)}] rejected MsgPreVote from ${show(f.candidate)} at term ${show(f.candidateTerm)}${f.why ? `: ${show(f.why)}` : ""}`,
    ["candidate", "candidateTerm", "why"],
  ],
  "vote-rejected": (f) => [
    `[term ${show(f.term)}] rejected MsgVote from ${show(f.candidate)} at term ${show(f.candidateTerm)}`,
    ["candidate", "candidateTerm"],
  ],
  "vote-ignored-in-lease": (f) => [
    `[term ${show(f.term)}] ignored a vote request from ${show(f.candidate)} at term ${show(f.candidateTerm)}: leader lease`,
    ["candidate", "candidateTerm"],
  ],
  "check-quorum-step-down": (f) => [
    `stepped down at term ${show(f.term)}: quorum not active (check-quorum)`,
    [],
  ],
  "campaign-skipped": (f) => [`did not campaign at term ${show(f.term)}: ${show(f.why)}`, ["why"]],
  "timeout-now-received": (f) => [
    `received MsgTimeoutNow from ${show(f.from)} at term ${show(f.term)}: campaigning`,
    ["from"],
  ],
  "transfer-leadership-started": (f) => [
    `started leadership transfer to ${show(f.target)} at term ${show(f.term)}`,
    ["target"],
  ],
  "transfer-leadership-aborted": (f) => [
    `aborted leadership transfer to ${show(f.target)} at term ${show(f.term)}: ${show(f.why)}`,
    ["target", "why"],
  ],
  "conf-change-proposed": (f) => [
    `proposed conf change ${show(f.change)} at index ${show(f.index)}`,
    ["change", "index", "term"],
  ],
  "conf-change-applied": (f) => [
    `applied conf change ${show(f.change)} at index ${show(f.index)}: ${show(f.after)}`,
    ["change", "index", "term", "before", "after"],
  ],
  "leader-removed-stepping-down": (f) => [
    `removed from the configuration at index ${show(f.index)}: stepping down at term ${show(f.term)}`,
    ["index"],
  ],
  "snapshot-send-started": (f) => [
    `sending snapshot at index ${show(f.index)} (${show(f.bytes)} bytes) to ${show(f.to)}`,
    ["index", "bytes", "to", "term"],
  ],
  "snapshot-receive-started": (f) => [
    `receiving snapshot ${show(f.snapTerm)}/${show(f.index)} (${show(f.bytes)} bytes)`,
    ["index", "snapTerm", "bytes", "term"],
  ],
  "snapshot-restored": (f) => [
    `restored snapshot ${show(f.snapTerm)}/${show(f.index)} (${show(f.bytes)} bytes)`,
    ["index", "snapTerm", "bytes", "term"],
  ],
  "snapshot-fast-forward": (f) => [
    `snapshot at index ${show(f.index)} matches the log: commit fast-forwarded`,
    ["index", "term"],
  ],
  "snapshot-compacted": (f) => [
    `compacted the log into snapshot ${show(f.snapTerm)}/${show(f.index)} (${show(f.bytes)} bytes)`,
    ["index", "snapTerm", "bytes", "term"],
  ],
};

/** Renders a core event as one log line: `INFO <id> <prose> [extra=fields]`. */
export function formatEvent(id: NodeId, e: RaftEvent): string {
  const { event, ...fields } = e;
  const prose = eventProse[event];
  const [text, used] = prose === undefined ? [event, []] : prose(fields);
  const extra = Object.entries(fields)
    .filter(([k]) => k !== "id" && k !== "term" && !used.includes(k))
    .map(([k, v]) => `${k}=${show(v)}`);
  // Events that do not print the term themselves keep it as a field.
  if (prose === undefined && fields.term !== undefined) extra.unshift(`term=${show(fields.term)}`);
  return `INFO ${id} ${text}${extra.length > 0 ? ` ${extra.join(" ")}` : ""}`;
}
