/**
 * Toxic model for the Toxiproxy-compatible server: types, attribute validation and the
 * JSON shapes Toxiproxy 2.x returns (see ../shared/research/ipam_chaos.md §B1).
 */

export type ToxicType =
  | "latency"
  | "bandwidth"
  | "slow_close"
  | "timeout"
  | "reset_peer"
  | "slicer"
  | "limit_data"
  | "noop";

export type StreamDirection = "upstream" | "downstream";

/** Attribute names per toxic type, as the Go structs serialise them (missing ones default to 0). */
export const TOXIC_ATTRIBUTES: Readonly<Record<ToxicType, readonly string[]>> = {
  latency: ["latency", "jitter"],
  bandwidth: ["rate"],
  slow_close: ["delay"],
  timeout: ["timeout"],
  reset_peer: ["timeout"],
  slicer: ["average_size", "size_variation", "delay"],
  limit_data: ["bytes"],
  noop: [],
};

export interface ToxicSpec {
  readonly name: string;
  readonly type: ToxicType;
  readonly stream: StreamDirection;
  readonly toxicity: number;
  readonly attributes: Readonly<Record<string, number>>;
}

export interface ToxicJson {
  attributes: Record<string, number>;
  name: string;
  type: ToxicType;
  stream: StreamDirection;
  toxicity: number;
}

/** An error the HTTP API reports as `{"error": message, "status": status}`. */
export class ApiError extends Error {
  constructor(
    message: string,
    readonly status: number,
    /** Extra fields of the error body (Go's /populate adds "proxies"). */
    readonly extra: Readonly<Record<string, unknown>> = {},
  ) {
    super(message);
    this.name = "ApiError";
  }
}

export const badRequestBody = (detail: string): ApiError =>
  new ApiError(`bad request body: ${detail}`, 400);

export function isToxicType(value: unknown): value is ToxicType {
  return typeof value === "string" && Object.hasOwn(TOXIC_ATTRIBUTES, value);
}

export function attr(spec: ToxicSpec, key: string): number {
  return spec.attributes[key] ?? 0;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function parseToxicity(value: unknown, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== "number" || !Number.isFinite(value) || value < 0 || value > 1) {
    throw badRequestBody("toxicity must be a number in [0, 1]");
  }
  return value;
}

function parseAttributes(
  type: ToxicType,
  raw: unknown,
  base: Readonly<Record<string, number>>,
): Record<string, number> {
  const out: Record<string, number> = {};
  for (const key of TOXIC_ATTRIBUTES[type]) out[key] = base[key] ?? 0;
  if (raw === undefined || raw === null) return out;
  if (!isRecord(raw)) throw badRequestBody("attributes must be an object");
  for (const key of TOXIC_ATTRIBUTES[type]) {
    const v = raw[key];
    if (v === undefined) continue;
    // Go decodes these into int64 fields: non-integers are a decode error.
    if (typeof v !== "number" || !Number.isSafeInteger(v) || v < 0) {
      throw badRequestBody(`attribute ${key} must be a non-negative integer`);
    }
    out[key] = v;
  }
  return out;
}

/** Parses a POST /proxies/{p}/toxics body (Go: ToxicCollection.AddToxicJson). */
export function parseToxicCreate(body: unknown): ToxicSpec {
  if (!isRecord(body)) throw badRequestBody("expected a JSON object");
  const rawStream = body.stream ?? "downstream";
  if (typeof rawStream !== "string") throw badRequestBody("stream must be a string");
  const stream = rawStream.toLowerCase();
  if (stream !== "upstream" && stream !== "downstream") {
    throw new ApiError("stream was invalid, can be either upstream or downstream", 400);
  }
  if (!isToxicType(body.type)) throw new ApiError("invalid toxic type", 400);
  const type = body.type;
  if (body.name !== undefined && typeof body.name !== "string") {
    throw badRequestBody("name must be a string");
  }
  const name = body.name === undefined || body.name === "" ? `${type}_${stream}` : body.name;
  return {
    name,
    type,
    stream,
    toxicity: parseToxicity(body.toxicity, 1),
    attributes: parseAttributes(type, body.attributes, {}),
  };
}

/** Applies a POST/PATCH /proxies/{p}/toxics/{t} body: only attributes and toxicity change. */
export function parseToxicUpdate(existing: ToxicSpec, body: unknown): ToxicSpec {
  if (!isRecord(body)) throw badRequestBody("expected a JSON object");
  return {
    ...existing,
    toxicity: parseToxicity(body.toxicity, existing.toxicity),
    attributes: parseAttributes(existing.type, body.attributes, existing.attributes),
  };
}

export function toxicToJson(spec: ToxicSpec): ToxicJson {
  return {
    attributes: { ...spec.attributes },
    name: spec.name,
    type: spec.type,
    stream: spec.stream,
    toxicity: spec.toxicity,
  };
}

/** mulberry32: a small seeded PRNG returning floats in [0, 1). */
export function createRng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
