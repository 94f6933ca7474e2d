// The replicated state machine of the simulation: a register map (key -> last written value) plus a
// hash chain over every applied entry (index, term, content), so that two replicas at the same
// applied index can be compared by one value. Snapshots are a JSON encoding of the whole state.
import type { Entry } from "../../src/raft/core/types.js";

const textDecoder = new TextDecoder("utf-8", { fatal: false });
const textEncoder = new TextEncoder();

/** The canonical text of an entry: what "the same entry" means to the checkers. */
export function entryContent(e: Entry): string {
  if (e.kind === "conf") {
    const c = e.change;
    return c.type === "add-learner" || c.type === "add-voter"
      ? `cc:${c.type}:${c.nodeId}@${c.address}`
      : `cc:${c.type}:${c.nodeId}`;
  }
  if (e.data.byteLength === 0) return "noop";
  return textDecoder.decode(e.data);
}

/** A client write: "w|key|value". Values are unique per run, so a write is identified by it. */
export function encodeWrite(key: string, value: string): Uint8Array {
  return textEncoder.encode(`w|${key}|${value}`);
}

export function parseWrite(content: string): { key: string; value: string } | undefined {
  if (!content.startsWith("w|")) return undefined;
  const bar = content.indexOf("|", 2);
  if (bar < 0) return undefined;
  return { key: content.slice(2, bar), value: content.slice(bar + 1) };
}

/** Fold one applied entry into a 64-bit chain digest (two 32-bit lanes, hex). */
export function chainHash(prev: string, index: number, term: number, content: string): string {
  let h1 = Number.parseInt(prev.slice(0, 8), 16) | 0;
  let h2 = Number.parseInt(prev.slice(8, 16), 16) | 0;
  const s = `${index}:${term}:${content}`;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    h1 = Math.imul(h1 ^ c, 0x01000193);
    h2 = Math.imul(h2 ^ c, 0x5bd1e995) ^ (h2 >>> 15);
  }
  return (h1 >>> 0).toString(16).padStart(8, "0") + (h2 >>> 0).toString(16).padStart(8, "0");
}

export const genesisHash = "811c9dc56a09e667";

interface SnapshotBody {
  v: 1;
  index: number;
  term: number;
  hash: string;
  kv: [string, string][];
}

export class RegisterMachine {
  #kv = new Map<string, string>();
  #index = 0;
  #term = 0;
  #hash = genesisHash;

  get appliedIndex(): number {
    return this.#index;
  }
  get appliedTerm(): number {
    return this.#term;
  }
  get hash(): string {
    return this.#hash;
  }
  get(key: string): string | undefined {
    return this.#kv.get(key);
  }

  /** Apply the next entry; the caller has checked that e.index == appliedIndex + 1. */
  apply(e: Entry): string {
    const content = entryContent(e);
    const w = parseWrite(content);
    if (w !== undefined) this.#kv.set(w.key, w.value);
    this.#index = e.index;
    this.#term = e.term;
    this.#hash = chainHash(this.#hash, e.index, e.term, content);
    return content;
  }

  /** The state as snapshot bytes (keys sorted, so equal states give equal bytes). */
  snapshot(): Uint8Array {
    const kv = [...this.#kv.entries()].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
    const body: SnapshotBody = { v: 1, index: this.#index, term: this.#term, hash: this.#hash, kv };
    return textEncoder.encode(JSON.stringify(body));
  }

  /** Replace the state with a snapshot's; empty data is the empty (genesis) state at index 0. */
  restore(data: Uint8Array): void {
    if (data.byteLength === 0) {
      this.#kv = new Map();
      this.#index = 0;
      this.#term = 0;
      this.#hash = genesisHash;
      return;
    }
    const body = JSON.parse(textDecoder.decode(data)) as SnapshotBody;
    if (body.v !== 1) throw new Error(`state machine: unknown snapshot version ${String(body.v)}`);
    this.#kv = new Map(body.kv);
    this.#index = body.index;
    this.#term = body.term;
    this.#hash = body.hash;
  }

  /** Describe a snapshot's data without restoring it (for checks and traces). */
  static peek(data: Uint8Array): { index: number; term: number; hash: string } {
    if (data.byteLength === 0) return { index: 0, term: 0, hash: genesisHash };
    const body = JSON.parse(textDecoder.decode(data)) as SnapshotBody;
    return { index: body.index, term: body.term, hash: body.hash };
  }
}
