// The on-disk layout of a LevelStorage directory, in one place so that the store and the tests that
// corrupt it on purpose agree on it.
//
//   <dir>/db/                         LevelDB
//     "c"                             cluster meta   { clusterId }
//     "h"                             hard state     { term, vote, commit }
//     "m"                             conf state     (last persisted membership)
//     "s"                             snapshot meta  { index, term, confState, file: { seq, length, crc } }
//     "e" + u64 big-endian index      entry
//   <dir>/snapshots/snapshot-<seq as 16 hex digits>.bin   snapshot data, raw bytes
//
// Every LevelDB value is a 4-byte big-endian CRC32 of the codec envelope, followed by the envelope.
import { join } from "node:path";
import { crc32 } from "node:zlib";
import { CodecError, decode, type EnvelopeKind, encode } from "../codec.js";
import type { SnapshotMeta } from "../core/types.js";

/** Raised by load() when what is on disk is not what was written; the store is never repaired. */
export class StorageCorruptionError extends Error {
  override name = "StorageCorruptionError";
}

export const keyPrefix = {
  clusterMeta: 0x63, // "c"
  hardState: 0x68, // "h"
  confState: 0x6d, // "m"
  snapshotMeta: 0x73, // "s"
  entry: 0x65, // "e"
} as const;

export const clusterMetaKey = Uint8Array.of(keyPrefix.clusterMeta);
export const hardStateKey = Uint8Array.of(keyPrefix.hardState);
export const confStateKey = Uint8Array.of(keyPrefix.confState);
export const snapshotMetaKey = Uint8Array.of(keyPrefix.snapshotMeta);

const entryKeyBytes = 9;

/** prefix + 8-byte big-endian index, so that LevelDB's byte order is index order. */
export function entryKey(index: number): Uint8Array {
  if (!Number.isSafeInteger(index) || index < 0) throw new RangeError(`bad entry index ${index}`);
  const key = new Uint8Array(entryKeyBytes);
  const view = new DataView(key.buffer);
  key[0] = keyPrefix.entry;
  view.setUint32(1, Math.floor(index / 2 ** 32));
  view.setUint32(5, index >>> 0);
  return key;
}

/** Every entry key sorts below this one. */
export const entryKeyEnd = Uint8Array.of(keyPrefix.entry + 1);

export function entryIndexOfKey(key: Uint8Array): number {
  const view = new DataView(key.buffer, key.byteOffset, key.byteLength);
  const index = key.length === entryKeyBytes ? view.getUint32(1) * 2 ** 32 + view.getUint32(5) : -1;
  if (key[0] !== keyPrefix.entry || !Number.isSafeInteger(index) || index < 0) {
    throw new StorageCorruptionError(`malformed entry key ${hex(key)}`);
  }
  return index;
}

const singletonNames: Record<number, string> = {
  [keyPrefix.clusterMeta]: "cluster-meta",
  [keyPrefix.hardState]: "hard-state",
  [keyPrefix.confState]: "conf-state",
  [keyPrefix.snapshotMeta]: "snapshot-meta",
};

/** "entry 42 (key 65000000000000002a)", "hard-state (key 68)": what corruption messages name. */
export function describeKey(key: Uint8Array): string {
  const what =
    key[0] === keyPrefix.entry && key.length === entryKeyBytes
      ? `entry ${entryIndexOfKey(key)}`
      : (singletonNames[key[0] ?? -1] ?? "unknown key");
  return `${what} (key ${hex(key)})`;
}

function hex(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("hex");
}

const crcBytes = 4;

/** A stored value: CRC32 of the envelope, then the envelope. */
export function frame(kind: EnvelopeKind, payload: unknown): Uint8Array {
  const envelope = encode(kind, payload);
  const value = new Uint8Array(crcBytes + envelope.length);
  new DataView(value.buffer).setUint32(0, crc32(envelope));
  value.set(envelope, crcBytes);
  return value;
}

/** Verifies and decodes a value read from `key`; any mismatch names the key. */
export function unframe<T>(
  kind: EnvelopeKind,
  key: Uint8Array,
  value: Uint8Array,
  isValid: (payload: unknown) => payload is T,
): T {
  const where = describeKey(key);
  if (value.length < crcBytes) {
    throw new StorageCorruptionError(`${where}: value of ${value.length} bytes is too short`);
  }
  const stored = new DataView(value.buffer, value.byteOffset, value.byteLength).getUint32(0);
  const envelope = value.subarray(crcBytes);
  const actual = crc32(envelope);
  if (stored !== actual) {
    throw new StorageCorruptionError(
      `${where}: checksum mismatch, stored ${stored.toString(16)}, computed ${actual.toString(16)}`,
    );
  }
  let payload: unknown;
  try {
    payload = decode<unknown>(kind, envelope);
  } catch (err) {
    if (!(err instanceof CodecError)) throw err;
    throw new StorageCorruptionError(`${where}: ${err.message}`);
  }
  if (!isValid(payload)) {
    throw new StorageCorruptionError(`${where}: decoded ${kind} has the wrong shape`);
  }
  return payload;
}

/** The snapshot meta as stored: the Raft meta plus where its data lives and how to verify it. */
export interface StoredSnapshotMeta extends SnapshotMeta {
  /** seq names the data file; it grows with every snapshot so that a new file never replaces the live one. */
  file: { seq: number; length: number; crc: number };
}

export function dbDir(dir: string): string {
  return join(dir, "db");
}

export function snapshotDir(dir: string): string {
  return join(dir, "snapshots");
}

export function snapshotFileName(seq: number): string {
  return `snapshot-${seq.toString(16).padStart(16, "0")}.bin`;
}

/** Data files and their temp names; anything matching this in snapshotDir belongs to the store. */
export const snapshotFilePattern = /^snapshot-[0-9a-f]{16}\.bin(\.tmp)?$/;
