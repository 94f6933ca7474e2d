// One encoding for everything Raft writes to disk or the wire: msgpack with fixed options inside a
// versioned envelope. Records/structures are off so that an encoding never depends on what the
// encoder saw before (a replica restarted mid-stream must decode the same bytes the same way).
import { Packr } from "msgpackr";

const packr = new Packr({
  useRecords: false,
  structuredClone: false,
  moreTypes: false,
  variableMapSize: true,
  int64AsType: "number",
  mapsAsObjects: true,
  bundleStrings: false,
  useFloat32: 0,
  // Decoded bytes must not pin the whole received batch buffer in memory.
  copyBuffers: true,
});

/** Bumped when the shape of an encoded value changes incompatibly. */
export const codecVersion = 1;

/** What an envelope holds, so that a value written as one thing is never read as another. */
export type EnvelopeKind =
  | "entry"
  | "hard-state"
  | "conf-state"
  | "snapshot-meta"
  | "message-batch"
  | "cluster-meta";

export class CodecError extends Error {
  override name = "CodecError";
}

export function encode(kind: EnvelopeKind, payload: unknown): Uint8Array {
  return packr.pack([codecVersion, kind, payload]);
}

export function decode<T>(kind: EnvelopeKind, bytes: Uint8Array): T {
  let value: unknown;
  try {
    value = packr.unpack(bytes);
  } catch (err) {
    throw new CodecError(`cannot decode ${kind}: ${(err as Error).message}`);
  }
  if (!Array.isArray(value) || value.length !== 3) {
    throw new CodecError(`cannot decode ${kind}: not an envelope`);
  }
  const [version, k, payload] = value as [unknown, unknown, unknown];
  if (version !== codecVersion) {
    throw new CodecError(
      `cannot decode ${kind}: envelope version ${String(version)}, expected ${codecVersion}`,
    );
  }
  if (k !== kind) {
    throw new CodecError(`cannot decode ${kind}: envelope holds ${String(k)}`);
  }
  return payload as T;
}

/** msgpack decodes bin as Buffer; normalise so that deep equality and digests ignore the class. */
export function asBytes(b: Uint8Array): Uint8Array {
  return b instanceof Buffer ? new Uint8Array(b.buffer, b.byteOffset, b.byteLength) : b;
}
