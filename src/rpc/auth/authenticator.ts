// Who is calling: the tenant identity from a bearer JWT in the `authorization` metadata.
//
//   mode "none"  every call is anonymous and may act on every tenant (local development only;
//                one warning is logged when the authenticator is created).
//   mode "jwt"   `authorization: Bearer <jwt>` is required. Keys: an HS256 shared secret
//                (hs256_secret or hs256_secret_file), or a JSON Web Key Set file of public RS256 /
//                EdDSA keys selected by the token's `kid` (jwks_file). The JWKS file is re-read
//                when it changes; its mtime is checked at most every jwks_reload_s seconds, and a
//                broken new file is logged and ignored (the previous keys stay in force).
//
// A token must be signed with an accepted algorithm, carry `exp` (tokens that never expire are
// refused), be inside its exp/nbf window (± clock_tolerance_s), match issuer / audience when they
// are configured, and carry non-empty string claims `org_id` and `project_id`. `sub` becomes the
// principal's subject ("" when absent), `roles` (array of strings, optional) its roles.
//
// All cryptography is jose's (jwtVerify, createLocalJWKSet); node:crypto only parses JWKs at
// load time so that a broken key set is refused before any token arrives.
import { createPublicKey, type JsonWebKey } from "node:crypto";
import { readFileSync, statSync } from "node:fs";
import { readFile, stat } from "node:fs/promises";
import type { Metadata } from "@grpc/grpc-js";
import {
  createLocalJWKSet,
  errors,
  type JSONWebKeySet,
  type JWK,
  type JWTPayload,
  type JWTVerifyOptions,
  jwtVerify,
} from "jose";
import type { Logger } from "pino";
import { AuthConfigError, AuthError } from "./errors.js";

export type AuthMode = "none" | "jwt";

/** The [auth] section (src/config); "" means "not set" for the optional strings. */
export interface AuthConfig {
  readonly mode: AuthMode;
  readonly hs256_secret?: string | undefined;
  readonly hs256_secret_file?: string | undefined;
  readonly jwks_file?: string | undefined;
  /** The JWKS file's mtime is checked at most once per this many seconds (default 10; 0: every call). */
  readonly jwks_reload_s?: number | undefined;
  readonly issuer?: string | undefined;
  readonly audience?: string | undefined;
  /** Leeway for exp / nbf, in seconds (default 30). */
  readonly clock_tolerance_s?: number | undefined;
}

export type Principal =
  | { readonly kind: "anonymous" }
  | {
      readonly kind: "token";
      readonly subject: string;
      readonly orgId: string;
      readonly projectId: string;
      readonly roles: readonly string[];
    };

export interface Authenticator {
  readonly mode: AuthMode;
  /** Resolves to the caller's principal; rejects with AuthError (code UNAUTHENTICATED). */
  authenticate(metadata: Metadata): Promise<Principal>;
}

export type AuthLogger = Pick<Logger, "warn" | "info" | "error">;

export interface AuthenticatorOptions {
  /** Milliseconds clock for the JWKS re-check interval (tests); default Date.now. */
  now?: () => number;
}

export const AUTH_NONE_WARNING =
  "auth.mode = none: every caller may act on every tenant — local development only";

export const AUTHORIZATION_METADATA = "authorization";
/** Bound: longest authorization header accepted (a JWT with a few claims is well under 2 KiB). */
export const AUTHORIZATION_BYTES_MAX = 16 << 10;
/** Bound: largest JWKS file read. */
export const JWKS_FILE_BYTES_MAX = 1 << 20;
/** Bound: keys in one JWKS file. */
export const JWKS_KEYS_MAX = 64;
/** RFC 7518 §3.2: an HS256 key must be at least as long as the hash output. */
export const HS256_SECRET_BYTES_MIN = 32;

export const DEFAULT_CLOCK_TOLERANCE_S = 30;
export const DEFAULT_JWKS_RELOAD_S = 10;

const HS256_ALGORITHMS = ["HS256"];
/** "Ed25519" is the fully-specified name (RFC 9864) for what "EdDSA" means with an Ed25519 key. */
const JWKS_ALGORITHMS = ["RS256", "EdDSA", "Ed25519"];

const anonymous: Principal = Object.freeze({ kind: "anonymous" });

function unauthenticated(message: string): AuthError {
  return new AuthError("UNAUTHENTICATED", message);
}

function set(value: string | undefined): value is string {
  return value !== undefined && value !== "";
}

function nonNegative(name: string, value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (!Number.isFinite(value) || value < 0) {
    throw new AuthConfigError(`auth.${name} must be a non-negative number, got ${value}`);
  }
  return value;
}

function readConfigFile(key: string, path: string): Buffer {
  try {
    const size = statSync(path).size;
    if (size > JWKS_FILE_BYTES_MAX) {
      throw new AuthConfigError(`auth.${key}: ${path} is larger than ${JWKS_FILE_BYTES_MAX} bytes`);
    }
    return readFileSync(path);
  } catch (err) {
    if (err instanceof AuthConfigError) throw err;
    throw new AuthConfigError(`auth.${key}: cannot read ${path}: ${(err as Error).message}`);
  }
}

function loadHs256Secret(cfg: AuthConfig): Uint8Array {
  let secret: Buffer;
  let what: string;
  if (set(cfg.hs256_secret)) {
    secret = Buffer.from(cfg.hs256_secret, "utf8");
    what = "auth.hs256_secret";
  } else {
    const path = cfg.hs256_secret_file as string;
    // A trailing newline (echo … > file) is not part of the secret.
    secret = Buffer.from(
      readConfigFile("hs256_secret_file", path)
        .toString("utf8")
        .replace(/\r?\n$/, ""),
    );
    what = `auth.hs256_secret_file (${path})`;
  }
  if (secret.length < HS256_SECRET_BYTES_MIN) {
    throw new AuthConfigError(
      `${what}: an HS256 secret needs at least ${HS256_SECRET_BYTES_MIN} bytes, got ${secret.length} ` +
        "(generate one with: openssl rand -base64 48)",
    );
  }
  return new Uint8Array(secret);
}

interface LoadedJwks {
  readonly keySet: ReturnType<typeof createLocalJWKSet>;
  readonly kids: readonly string[];
}

/** Parses and checks a JWKS document; throws AuthConfigError naming the first problem. */
export function parseJwks(text: string, origin: string): LoadedJwks {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    throw new AuthConfigError(`${origin}: not JSON: ${(err as Error).message}`);
  }
  if (typeof doc !== "object" || doc === null || !Array.isArray((doc as { keys?: unknown }).keys)) {
    throw new AuthConfigError(`${origin}: expected a JSON Web Key Set {"keys": [...]}`);
  }
  const keys = (doc as { keys: unknown[] }).keys;
  if (keys.length === 0) throw new AuthConfigError(`${origin}: the key set is empty`);
  if (keys.length > JWKS_KEYS_MAX) {
    throw new AuthConfigError(`${origin}: more than ${JWKS_KEYS_MAX} keys`);
  }
  const kids = new Set<string>();
  keys.forEach((key, i) => {
    const where = `${origin}: keys[${i}]`;
    if (typeof key !== "object" || key === null)
      throw new AuthConfigError(`${where} is not an object`);
    const jwk = key as JWK;
    if (typeof jwk.kid !== "string" || jwk.kid === "") {
      throw new AuthConfigError(`${where} has no "kid" (keys are selected by the token's kid)`);
    }
    if (kids.has(jwk.kid)) throw new AuthConfigError(`${where}: duplicate kid "${jwk.kid}"`);
    kids.add(jwk.kid);
    const label = `${where} (kid "${jwk.kid}")`;
    if (jwk.kty === "RSA") {
      if (jwk.alg !== undefined && jwk.alg !== "RS256") {
        throw new AuthConfigError(`${label}: alg "${jwk.alg}" is not accepted (RS256 only)`);
      }
    } else if (jwk.kty === "OKP") {
      if (jwk.crv !== "Ed25519") {
        throw new AuthConfigError(`${label}: curve "${jwk.crv}" is not accepted (Ed25519 only)`);
      }
      if (jwk.alg !== undefined && jwk.alg !== "EdDSA" && jwk.alg !== "Ed25519") {
        throw new AuthConfigError(`${label}: alg "${jwk.alg}" is not accepted (EdDSA only)`);
      }
    } else {
      throw new AuthConfigError(
        `${label}: key type "${String(jwk.kty)}" is not accepted (RSA for RS256, OKP/Ed25519 for EdDSA)`,
      );
    }
    if (jwk.d !== undefined) {
      throw new AuthConfigError(
        `${label} is a private key; the JWKS file must hold public keys only`,
      );
    }
    if (jwk.use !== undefined && jwk.use !== "sig") {
      throw new AuthConfigError(`${label}: "use" is "${jwk.use}", expected "sig"`);
    }
    try {
      createPublicKey({
        key: jwk as JsonWebKey,
        format: "jwk",
      });
    } catch (err) {
      throw new AuthConfigError(`${label} is not a valid key: ${(err as Error).message}`);
    }
  });
  return { keySet: createLocalJWKSet(doc as JSONWebKeySet), kids: [...kids] };
}

function fileStamp(st: { mtimeMs: number; size: number; ino: number }): string {
  return `${st.mtimeMs}:${st.size}:${st.ino}`;
}

/** The JWKS file, re-read when its stamp (mtime, size, inode) changes; checked at most every interval. */
class JwksFile {
  #current: LoadedJwks;
  #stamp: string;
  #lastCheckMs: number;
  #inflight: Promise<void> | undefined;

  constructor(
    private readonly path: string,
    private readonly intervalMs: number,
    private readonly now: () => number,
    private readonly logger: AuthLogger,
  ) {
    const st = (() => {
      try {
        return statSync(path);
      } catch (err) {
        throw new AuthConfigError(`auth.jwks_file: cannot read ${path}: ${(err as Error).message}`);
      }
    })();
    this.#current = parseJwks(
      readConfigFile("jwks_file", path).toString("utf8"),
      `auth.jwks_file ${path}`,
    );
    this.#stamp = fileStamp(st);
    this.#lastCheckMs = now();
    logger.info({ jwksFile: path, kids: this.#current.kids }, "auth: JWKS loaded");
  }

  async keySet(): Promise<LoadedJwks["keySet"]> {
    const now = this.now();
    if (this.#inflight === undefined && now - this.#lastCheckMs >= this.intervalMs) {
      this.#lastCheckMs = now;
      this.#inflight = this.#check().finally(() => {
        this.#inflight = undefined;
      });
    }
    if (this.#inflight !== undefined) await this.#inflight;
    return this.#current.keySet;
  }

  async #check(): Promise<void> {
    try {
      const st = await stat(this.path);
      const stamp = fileStamp(st);
      if (stamp === this.#stamp) return;
      if (st.size > JWKS_FILE_BYTES_MAX) {
        throw new AuthConfigError(`larger than ${JWKS_FILE_BYTES_MAX} bytes`);
      }
      const next = parseJwks(await readFile(this.path, "utf8"), `auth.jwks_file ${this.path}`);
      this.#current = next;
      this.#stamp = stamp;
      this.logger.info({ jwksFile: this.path, kids: next.kids }, "auth: JWKS reloaded");
    } catch (err) {
      // Keep the keys in force; the stamp is unchanged, so the next interval tries again.
      this.logger.error(
        { jwksFile: this.path, err: (err as Error).message },
        "auth: JWKS file changed but cannot be used; keeping the previous keys",
      );
    }
  }
}

/** The raw JWT from the call's metadata; throws UNAUTHENTICATED when absent or malformed. */
export function bearerToken(metadata: Metadata): string {
  const values = metadata.get(AUTHORIZATION_METADATA);
  if (values.length === 0) {
    throw unauthenticated("no bearer token: send metadata 'authorization: Bearer <jwt>'");
  }
  if (values.length > 1)
    throw unauthenticated("malformed authorization header: sent more than once");
  const value = values[0];
  if (typeof value !== "string")
    throw unauthenticated("malformed authorization header: binary value");
  if (value.length > AUTHORIZATION_BYTES_MAX) {
    throw unauthenticated(
      `malformed authorization header: longer than ${AUTHORIZATION_BYTES_MAX} bytes`,
    );
  }
  const m = /^(\S+)[ \t]+(\S+)[ \t]*$/.exec(value);
  if (m === null) {
    throw unauthenticated("malformed authorization header: expected 'Bearer <jwt>'");
  }
  if (m[1]!.toLowerCase() !== "bearer") {
    throw unauthenticated(
      `malformed authorization header: scheme "${m[1]}" is not supported, use Bearer`,
    );
  }
  const token = m[2]!;
  if (!/^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/.test(token)) {
    throw unauthenticated("malformed bearer token: not a compact JWS (header.payload.signature)");
  }
  return token;
}

function isoTime(seconds: unknown): string {
  return typeof seconds === "number" && Number.isFinite(seconds)
    ? new Date(seconds * 1000).toISOString()
    : String(seconds);
}

function verifyError(
  err: unknown,
  cfg: AuthConfig,
  toleranceS: number,
  algorithms: string[],
): AuthError {
  if (err instanceof AuthError) return err;
  if (err instanceof errors.JWTExpired) {
    return unauthenticated(
      `token expired at ${isoTime(err.payload.exp)} (clock tolerance ${toleranceS}s)`,
    );
  }
  if (err instanceof errors.JWTClaimValidationFailed) {
    const p = err.payload;
    switch (err.claim) {
      case "nbf":
        return unauthenticated(
          `token not valid before ${isoTime(p.nbf)} (clock tolerance ${toleranceS}s)`,
        );
      case "exp":
        return unauthenticated(
          err.reason === "missing"
            ? "token has no exp claim; tokens must expire"
            : `token exp claim is invalid: ${err.message}`,
        );
      case "iss":
        return unauthenticated(
          err.reason === "missing"
            ? `token has no iss claim; expected issuer "${cfg.issuer}"`
            : `wrong token issuer ${JSON.stringify(p.iss)}; expected "${cfg.issuer}"`,
        );
      case "aud":
        return unauthenticated(
          err.reason === "missing"
            ? `token has no aud claim; expected audience "${cfg.audience}"`
            : `wrong token audience ${JSON.stringify(p.aud)}; expected "${cfg.audience}"`,
        );
      default:
        return unauthenticated(`token claim ${err.claim} rejected: ${err.message}`);
    }
  }
  if (err instanceof errors.JWSSignatureVerificationFailed) {
    return unauthenticated("bad token signature");
  }
  if (err instanceof errors.JOSEAlgNotAllowed) {
    return unauthenticated(`token algorithm not accepted (accepted: ${algorithms.join(", ")})`);
  }
  if (err instanceof errors.JWKSNoMatchingKey) {
    return unauthenticated("no key in the JWKS matches the token's kid and algorithm");
  }
  if (err instanceof errors.JWKSMultipleMatchingKeys) {
    return unauthenticated("several JWKS keys match the token; it must carry a kid");
  }
  if (err instanceof errors.JOSENotSupported) {
    return unauthenticated(`token not supported: ${err.message}`);
  }
  if (err instanceof errors.JWSInvalid || err instanceof errors.JWTInvalid) {
    return unauthenticated(`malformed token: ${err.message}`);
  }
  if (err instanceof errors.JOSEError) return unauthenticated(`token rejected: ${err.message}`);
  // jose throws TypeError for some malformed inputs (e.g. an undecodable header).
  return unauthenticated(`malformed token: ${(err as Error).message ?? String(err)}`);
}

function principalOf(payload: JWTPayload): Principal {
  const claim = (name: "org_id" | "project_id"): string => {
    const value = payload[name];
    if (value === undefined) throw unauthenticated(`token has no ${name} claim`);
    if (typeof value !== "string" || value === "") {
      throw unauthenticated(`token ${name} claim must be a non-empty string`);
    }
    return value;
  };
  const orgId = claim("org_id");
  const projectId = claim("project_id");
  const sub = payload.sub;
  if (sub !== undefined && typeof sub !== "string") {
    throw unauthenticated("token sub claim must be a string");
  }
  const roles = payload.roles;
  if (roles !== undefined && !(Array.isArray(roles) && roles.every((r) => typeof r === "string"))) {
    throw unauthenticated("token roles claim must be an array of strings");
  }
  return Object.freeze({
    kind: "token",
    subject: sub ?? "",
    orgId,
    projectId,
    roles: Object.freeze([...((roles as string[] | undefined) ?? [])]),
  });
}

/**
 * Builds the authenticator for the client API. Reads the secret / JWKS file now (synchronously:
 * this runs at start-up) and throws AuthConfigError when they are missing or unusable.
 */
export function createAuthenticator(
  cfg: AuthConfig,
  logger: AuthLogger,
  options: AuthenticatorOptions = {},
): Authenticator {
  if (cfg.mode === "none") {
    logger.warn({ authMode: "none" }, AUTH_NONE_WARNING);
    return Object.freeze({ mode: "none", authenticate: () => Promise.resolve(anonymous) });
  }
  if (cfg.mode !== "jwt") {
    throw new AuthConfigError(`auth.mode must be "none" or "jwt", got ${JSON.stringify(cfg.mode)}`);
  }
  const toleranceS = nonNegative(
    "clock_tolerance_s",
    cfg.clock_tolerance_s,
    DEFAULT_CLOCK_TOLERANCE_S,
  );
  const reloadS = nonNegative("jwks_reload_s", cfg.jwks_reload_s, DEFAULT_JWKS_RELOAD_S);
  const sources = [
    set(cfg.hs256_secret) && "hs256_secret",
    set(cfg.hs256_secret_file) && "hs256_secret_file",
    set(cfg.jwks_file) && "jwks_file",
  ].filter((s): s is string => s !== false);
  if (sources.length !== 1) {
    throw new AuthConfigError(
      sources.length === 0
        ? "auth.mode = jwt needs a key: set auth.hs256_secret_file (HS256) or auth.jwks_file (RS256/EdDSA)"
        : `auth: set exactly one of hs256_secret, hs256_secret_file, jwks_file (got ${sources.join(", ")})`,
    );
  }
  const verifyOptions: JWTVerifyOptions = {
    clockTolerance: toleranceS,
    requiredClaims: ["exp"],
    ...(set(cfg.issuer) ? { issuer: cfg.issuer } : {}),
    ...(set(cfg.audience) ? { audience: cfg.audience } : {}),
  };

  let verify: (token: string) => Promise<JWTPayload>;
  let algorithms: string[];
  if (set(cfg.jwks_file)) {
    algorithms = JWKS_ALGORITHMS;
    const jwks = new JwksFile(cfg.jwks_file, reloadS * 1000, options.now ?? Date.now, logger);
    verify = async (token) => {
      const keySet = await jwks.keySet();
      const { payload } = await jwtVerify(
        token,
        (header, input) => {
          if (typeof header.kid !== "string" || header.kid === "") {
            throw unauthenticated("token header has no kid; it is needed to pick the JWKS key");
          }
          return keySet(header, input);
        },
        { ...verifyOptions, algorithms },
      );
      return payload;
    };
  } else {
    algorithms = HS256_ALGORITHMS;
    const secret = loadHs256Secret(cfg);
    verify = async (token) =>
      (await jwtVerify(token, secret, { ...verifyOptions, algorithms })).payload;
  }
  logger.info(
    {
      authMode: "jwt",
      keys: sources[0],
      issuer: cfg.issuer || undefined,
      audience: cfg.audience || undefined,
    },
    "auth: bearer JWTs required",
  );

  return Object.freeze({
    mode: "jwt" as const,
    async authenticate(metadata: Metadata): Promise<Principal> {
      const token = bearerToken(metadata);
      let payload: JWTPayload;
      try {
        payload = await verify(token);
      } catch (err) {
        throw verifyError(err, cfg, toleranceS, algorithms);
      }
      return principalOf(payload);
    },
  });
}
