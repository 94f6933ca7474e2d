// The network state machine as the Raft node sees it. A log entry carries the leader's wall-clock
// timestamp next to the encoded command, so that every replica applies the same command at the
// same log time (replicas never read their own clock inside apply).
import { Packr } from "msgpackr";
import type { SnapshotMeta } from "../raft/core/types.js";
import type { StateMachine } from "../raft/node/raft-node.js";
import {
  type Command,
  type CommandResult,
  decodeCommand,
  NetworkStateMachine,
} from "../statemachine/index.js";

/** Told of every command that changed the state (ok results), and of every snapshot restore. */
export interface AppliedListener {
  applied(index: number, command: Command): void;
  restored(index: number): void;
}

/** msgpack with fixed options for what the RPC layer writes into entries and onto the peer port. */
export const packr = new Packr({
  useRecords: false,
  structuredClone: false,
  moreTypes: false,
  mapsAsObjects: true,
  bundleStrings: false,
  copyBuffers: true,
});

const entryVersion = 1;

export interface EntryPayload {
  /** The proposing leader's wall clock (ms). */
  timestampMs: number;
  /** encodeCommand(...) bytes. */
  command: Uint8Array;
}

export function encodeEntry(p: EntryPayload): Uint8Array {
  return packr.pack([entryVersion, p.timestampMs, p.command]);
}

export function decodeEntry(bytes: Uint8Array): EntryPayload | undefined {
  try {
    const v = packr.unpack(bytes) as unknown;
    if (!Array.isArray(v) || v.length !== 3 || v[0] !== entryVersion) return undefined;
    const [, ts, command] = v as [number, unknown, unknown];
    if (typeof ts !== "number" || !Number.isSafeInteger(ts) || !(command instanceof Uint8Array)) {
      return undefined;
    }
    return { timestampMs: ts, command };
  } catch {
    return undefined;
  }
}

export class ReplicatedNetwork implements StateMachine<CommandResult> {
  #sm = new NetworkStateMachine();
  #lastTimestampMs = 0;
  #listener: AppliedListener | undefined;

  /** One listener (the OVN sync); it runs inside apply, so it must be quick and never throw. */
  setListener(listener: AppliedListener | undefined): void {
    this.#listener = listener;
  }

  /** The live state machine; replaced on restore, so never hold on to it across awaits. */
  get sm(): NetworkStateMachine {
    return this.#sm;
  }

  apply(entry: { index: number; term: number; data: Uint8Array }): CommandResult {
    const p = decodeEntry(entry.data);
    if (p === undefined) {
      // A malformed entry is a rejected command, identically on every replica.
      return {
        ok: false,
        code: "INVALID_COMMAND",
        message: `entry ${entry.index} is not a command`,
      };
    }
    this.#lastTimestampMs = Math.max(this.#lastTimestampMs, p.timestampMs);
    const result = this.#sm.apply(p.command, {
      index: entry.index,
      term: entry.term,
      timestampMs: p.timestampMs,
    });
    // A refused command changed nothing, so only accepted ones are worth decoding again.
    if (result.ok && this.#listener !== undefined) {
      const command = decodeCommand(p.command);
      if (command.ok) this.#listener.applied(entry.index, command.value);
    }
    return result;
  }

  snapshot(): Uint8Array {
    return this.#sm.snapshot();
  }

  restore(data: Uint8Array, meta: SnapshotMeta): void {
    this.#sm = NetworkStateMachine.restore(data);
    this.#listener?.restored(meta.index);
  }

  /** A timestamp for the next proposal: the leader's clock, never behind what was applied. */
  nextTimestamp(nowMs: number): number {
    return Math.max(nowMs, this.#lastTimestampMs, this.#sm.logTimeMs);
  }
}
