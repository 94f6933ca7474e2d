// The authenticator against real tokens minted with jose: HS256 with a secret file, RS256 and
// EdDSA through a JWKS file (with rotation), and mode none.
import { renameSync, utimesSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { Metadata } from "@grpc/grpc-js";
import {
  exportJWK,
  type GenerateKeyPairResult,
  generateKeyPair,
  type JWK,
  type JWTPayload,
  SignJWT,
  UnsecuredJWT,
} from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  AUTH_NONE_WARNING,
  AuthConfigError,
  AuthError,
  type Authenticator,
  createAuthenticator,
  type Principal,
} from "../../src/rpc/auth/index.js";
import { captureLogger, ERROR, tempDir, WARN } from "./helpers.js";

const SECRET = "correct horse battery staple, but longer than 32 bytes";
const now = () => Math.floor(Date.now() / 1000);

function md(authorization?: string | string[]): Metadata {
  const m = new Metadata();
  for (const v of typeof authorization === "string" ? [authorization] : (authorization ?? [])) {
    m.add("authorization", v);
  }
  return m;
}

const claims = { org_id: "org1", project_id: "proj1", sub: "alice", roles: ["viewer"] };

async function hs256(
  payload: JWTPayload = claims,
  opts: {
    secret?: string;
    alg?: string;
    exp?: number | null;
    nbf?: number;
    iss?: string;
    aud?: string;
  } = {},
): Promise<string> {
  let jwt = new SignJWT(payload).setProtectedHeader({ alg: opts.alg ?? "HS256" }).setIssuedAt();
  if (opts.exp !== null) jwt = jwt.setExpirationTime(opts.exp ?? now() + 300);
  if (opts.nbf !== undefined) jwt = jwt.setNotBefore(opts.nbf);
  if (opts.iss !== undefined) jwt = jwt.setIssuer(opts.iss);
  if (opts.aud !== undefined) jwt = jwt.setAudience(opts.aud);
  return jwt.sign(new TextEncoder().encode(opts.secret ?? SECRET));
}

async function rejection(auth: Authenticator, metadata: Metadata): Promise<AuthError> {
  try {
    await auth.authenticate(metadata);
  } catch (err) {
    expect(err).toBeInstanceOf(AuthError);
    return err as AuthError;
  }
  throw new Error("authenticate resolved; expected a rejection");
}

const tmp = tempDir("novanet-auth-");
afterAll(() => tmp.cleanup());

describe("mode none", () => {
  it("logs one warning at creation and lets every call through as anonymous", async () => {
    const { logger, lines } = captureLogger();
    const auth = createAuthenticator({ mode: "none" }, logger);
    expect(auth.mode).toBe("none");
    for (const m of [md(), md("Bearer garbage.token.here"), md("Basic Zm9vOmJhcg==")]) {
      expect(await auth.authenticate(m)).toEqual({ kind: "anonymous" });
    }
    const warnings = lines.filter((l) => l.level === WARN);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]!.msg).toBe(AUTH_NONE_WARNING);
    expect(AUTH_NONE_WARNING).toBe(
      "auth.mode = none: every caller may act on every tenant — local development only",
    );
    expect(lines.filter((l) => l.level >= WARN)).toHaveLength(1);
  });

  it("ignores jwt settings", async () => {
    const { logger } = captureLogger();
    const auth = createAuthenticator({ mode: "none", jwks_file: "/nonexistent" }, logger);
    expect(await auth.authenticate(md())).toEqual({ kind: "anonymous" });
  });
});

describe("mode jwt, HS256", () => {
  let auth: Authenticator;
  let secretFile: string;
  beforeAll(() => {
    secretFile = join(tmp.dir, "hs256.secret");
    writeFileSync(secretFile, `${SECRET}\n`);
    auth = createAuthenticator(
      { mode: "jwt", hs256_secret_file: secretFile, clock_tolerance_s: 30 },
      captureLogger().logger,
    );
  });

  it("accepts a valid token and returns the principal", async () => {
    const principal = await auth.authenticate(md(`Bearer ${await hs256()}`));
    expect(principal).toEqual<Principal>({
      kind: "token",
      subject: "alice",
      orgId: "org1",
      projectId: "proj1",
      roles: ["viewer"],
    });
  });

  it("accepts a lower-case scheme, no sub and no roles", async () => {
    const token = await hs256({ org_id: "o", project_id: "p" });
    expect(await auth.authenticate(md(`bearer ${token}`))).toEqual({
      kind: "token",
      subject: "",
      orgId: "o",
      projectId: "p",
      roles: [],
    });
  });

  it("accepts the inline secret like the file (without the file's trailing newline)", async () => {
    const inline = createAuthenticator(
      { mode: "jwt", hs256_secret: SECRET },
      captureLogger().logger,
    );
    expect((await inline.authenticate(md(`Bearer ${await hs256()}`))).kind).toBe("token");
  });

  it.each([
    [undefined, /no bearer token/],
    ["Basic Zm9vOmJhcg==", /scheme "Basic" is not supported/],
    ["Bearer", /expected 'Bearer <jwt>'/],
    ["Bearer a b", /expected 'Bearer <jwt>'/],
    ["Bearer not-a-jwt", /not a compact JWS/],
    ["Bearer a.b.c", /malformed token/],
    [`Bearer ${"a".repeat(20_000)}.b.c`, /longer than/],
  ])("refuses authorization %#: %s", async (header, message) => {
    const err = await rejection(auth, md(header));
    expect(err.code).toBe("UNAUTHENTICATED");
    expect(err.message).toMatch(message);
  });

  it("refuses two authorization headers and a binary one", async () => {
    const token = await hs256();
    expect((await rejection(auth, md([`Bearer ${token}`, `Bearer ${token}`]))).message).toMatch(
      /more than once/,
    );
    const bin = new Metadata();
    bin.add("authorization-bin", Buffer.from("x"));
    expect((await rejection(auth, bin)).message).toMatch(/no bearer token/);
  });

  it("refuses an expired token, but honours the clock tolerance", async () => {
    const err = await rejection(auth, md(`Bearer ${await hs256(claims, { exp: now() - 120 })}`));
    expect(err.code).toBe("UNAUTHENTICATED");
    expect(err.message).toMatch(/token expired at .* \(clock tolerance 30s\)/);
    // 10 s late is inside the 30 s tolerance.
    const late = await hs256(claims, { exp: now() - 10 });
    expect((await auth.authenticate(md(`Bearer ${late}`))).kind).toBe("token");
  });

  it("refuses a token that is not yet valid, but honours the clock tolerance", async () => {
    const err = await rejection(auth, md(`Bearer ${await hs256(claims, { nbf: now() + 600 })}`));
    expect(err.message).toMatch(/token not valid before/);
    const early = await hs256(claims, { nbf: now() + 10 });
    expect((await auth.authenticate(md(`Bearer ${early}`))).kind).toBe("token");
  });

  it("refuses a token without exp", async () => {
    const err = await rejection(auth, md(`Bearer ${await hs256(claims, { exp: null })}`));
    expect(err.message).toMatch(/no exp claim/);
  });

  it("refuses a wrong signature and a tampered payload", async () => {
    const other = await hs256(claims, { secret: "another secret that is also more than 32 bytes" });
    expect((await rejection(auth, md(`Bearer ${other}`))).message).toBe("bad token signature");
    const [h, , s] = (await hs256()).split(".");
    const forged = Buffer.from(
      JSON.stringify({ ...claims, org_id: "victim", exp: now() + 60 }),
    ).toString("base64url");
    expect((await rejection(auth, md(`Bearer ${h}.${forged}.${s}`))).message).toBe(
      "bad token signature",
    );
  });

  it("refuses other algorithms, including alg none", async () => {
    const hs384 = await hs256(claims, { alg: "HS384" });
    expect((await rejection(auth, md(`Bearer ${hs384}`))).message).toMatch(
      /algorithm not accepted \(accepted: HS256\)/,
    );
    const { privateKey } = await generateKeyPair("RS256");
    const rs = await new SignJWT(claims)
      .setProtectedHeader({ alg: "RS256" })
      .setExpirationTime("5m")
      .sign(privateKey);
    expect((await rejection(auth, md(`Bearer ${rs}`))).message).toMatch(/algorithm not accepted/);
    const unsecured = new UnsecuredJWT(claims).setExpirationTime("5m").encode();
    const err = await rejection(auth, md(`Bearer ${unsecured}`));
    expect(err.code).toBe("UNAUTHENTICATED");
  });

  it.each([
    [{ project_id: "p" }, "token has no org_id claim"],
    [{ org_id: "o" }, "token has no project_id claim"],
    [{ org_id: "", project_id: "p" }, "token org_id claim must be a non-empty string"],
    [{ org_id: "o", project_id: 7 }, "token project_id claim must be a non-empty string"],
    [
      { org_id: "o", project_id: "p", roles: "admin" },
      "token roles claim must be an array of strings",
    ],
    [{ org_id: "o", project_id: "p", roles: [1] }, "token roles claim must be an array of strings"],
    [{ org_id: "o", project_id: "p", sub: 5 }, "token sub claim must be a string"],
  ] as [JWTPayload, string][])("refuses claims %j", async (payload, message) => {
    const err = await rejection(auth, md(`Bearer ${await hs256(payload)}`));
    expect(err.code).toBe("UNAUTHENTICATED");
    expect(err.message).toBe(message);
  });

  it("checks issuer and audience when configured", async () => {
    const strict = createAuthenticator(
      { mode: "jwt", hs256_secret_file: secretFile, issuer: "https://idp", audience: "novanet" },
      captureLogger().logger,
    );
    const good = await hs256(claims, { iss: "https://idp", aud: "novanet" });
    expect((await strict.authenticate(md(`Bearer ${good}`))).kind).toBe("token");
    const cases: [Parameters<typeof hs256>[1], RegExp][] = [
      [
        { iss: "https://evil", aud: "novanet" },
        /wrong token issuer "https:\/\/evil"; expected "https:\/\/idp"/,
      ],
      [{ aud: "novanet" }, /no iss claim/],
      [{ iss: "https://idp", aud: "other" }, /wrong token audience "other"; expected "novanet"/],
      [{ iss: "https://idp" }, /no aud claim/],
    ];
    for (const [opts, message] of cases) {
      const err = await rejection(strict, md(`Bearer ${await hs256(claims, opts)}`));
      expect(err.code).toBe("UNAUTHENTICATED");
      expect(err.message).toMatch(message);
    }
    // Without issuer/audience configured, both claims are ignored.
    const anyIss = await hs256(claims, { iss: "https://evil", aud: "x" });
    expect((await auth.authenticate(md(`Bearer ${anyIss}`))).kind).toBe("token");
  });

  it("has gRPC status codes on its errors", async () => {
    const err = await rejection(auth, md());
    expect(err.grpcCode).toBe(16); // UNAUTHENTICATED
  });
});

describe("mode jwt, configuration errors", () => {
  const { logger } = captureLogger();
  it.each([
    [{ mode: "jwt" }, /needs a key: set auth.hs256_secret_file .* or auth.jwks_file/],
    [
      { mode: "jwt", hs256_secret: SECRET, jwks_file: "/x" },
      /exactly one of .*hs256_secret, jwks_file/,
    ],
    [{ mode: "jwt", hs256_secret: "short" }, /at least 32 bytes, got 5/],
    [
      { mode: "jwt", hs256_secret_file: "/nonexistent/secret" },
      /auth.hs256_secret_file: cannot read \/nonexistent\/secret/,
    ],
    [{ mode: "jwt", jwks_file: "/nonexistent/jwks.json" }, /auth.jwks_file: cannot read/],
    [
      { mode: "jwt", hs256_secret: SECRET, clock_tolerance_s: -1 },
      /clock_tolerance_s must be a non-negative/,
    ],
    [{ mode: "basic" }, /auth.mode must be "none" or "jwt"/],
  ] as const)("refuses %j", (cfg, message) => {
    expect(() => createAuthenticator(cfg as never, logger)).toThrow(AuthConfigError);
    expect(() => createAuthenticator(cfg as never, logger)).toThrow(message);
  });
});

describe("mode jwt, JWKS file (RS256, EdDSA)", () => {
  interface Signer {
    kid: string;
    alg: "RS256" | "EdDSA";
    privateKey: GenerateKeyPairResult["privateKey"];
    jwk: JWK;
  }
  async function signer(kid: string, alg: "RS256" | "EdDSA"): Promise<Signer> {
    const { publicKey, privateKey } = await generateKeyPair(alg, { extractable: true });
    const jwk = { ...(await exportJWK(publicKey)), kid, alg, use: "sig" };
    return { kid, alg, privateKey, jwk };
  }
  function sign(s: Signer, payload: JWTPayload = claims, kid: string | null = s.kid) {
    return new SignJWT(payload)
      .setProtectedHeader(kid === null ? { alg: s.alg } : { alg: s.alg, kid })
      .setExpirationTime(now() + 300)
      .sign(s.privateKey);
  }
  let jwksFile: string;
  let seq = 0;
  /** Replaces the JWKS file atomically, with an mtime that always differs from the last one. */
  function writeJwks(keys: unknown[] | string): void {
    const tmpFile = `${jwksFile}.tmp`;
    writeFileSync(tmpFile, typeof keys === "string" ? keys : JSON.stringify({ keys }));
    const t = new Date(Date.UTC(2030, 0, 1, 0, 0, ++seq));
    utimesSync(tmpFile, t, t);
    renameSync(tmpFile, jwksFile);
  }
  let rsa: Signer;
  let ed: Signer;
  let next: Signer;
  beforeAll(async () => {
    jwksFile = join(tmp.dir, "jwks.json");
    [rsa, ed, next] = await Promise.all([
      signer("rsa-1", "RS256"),
      signer("ed-1", "EdDSA"),
      signer("ed-2", "EdDSA"),
    ]);
  });

  it("accepts RS256 and EdDSA tokens selected by kid", async () => {
    writeJwks([rsa.jwk, ed.jwk]);
    const auth = createAuthenticator({ mode: "jwt", jwks_file: jwksFile }, captureLogger().logger);
    for (const s of [rsa, ed]) {
      const p = await auth.authenticate(md(`Bearer ${await sign(s)}`));
      expect(p).toMatchObject({ kind: "token", orgId: "org1", projectId: "proj1" });
    }
  });

  it("refuses an unknown kid, a missing kid, a kid/key mismatch and HS256", async () => {
    writeJwks([rsa.jwk, ed.jwk]);
    const auth = createAuthenticator({ mode: "jwt", jwks_file: jwksFile }, captureLogger().logger);
    expect((await rejection(auth, md(`Bearer ${await sign(next)}`))).message).toMatch(
      /no key in the JWKS matches/,
    );
    expect((await rejection(auth, md(`Bearer ${await sign(ed, claims, null)}`))).message).toMatch(
      /no kid/,
    );
    // Signed by ed-2's key but claiming ed-1's kid: the signature does not verify.
    expect((await rejection(auth, md(`Bearer ${await sign(next, claims, "ed-1")}`))).message).toBe(
      "bad token signature",
    );
    const hs = await hs256();
    expect((await rejection(auth, md(`Bearer ${hs}`))).message).toMatch(
      /algorithm not accepted \(accepted: RS256, EdDSA, Ed25519\)/,
    );
  });

  it("picks up a rotated file, checking its mtime at most every jwks_reload_s", async () => {
    writeJwks([ed.jwk]);
    let clock = 1_000_000;
    const { logger, lines } = captureLogger();
    const auth = createAuthenticator(
      { mode: "jwt", jwks_file: jwksFile, jwks_reload_s: 5 },
      logger,
      { now: () => clock },
    );
    const oldToken = await sign(ed);
    const newToken = await sign(next);
    expect((await auth.authenticate(md(`Bearer ${oldToken}`))).kind).toBe("token");
    expect((await rejection(auth, md(`Bearer ${newToken}`))).message).toMatch(/no key/);

    writeJwks([next.jwk]); // rotation: ed-1 retired, ed-2 in
    clock += 4_999; // not yet: the file is not looked at
    expect((await auth.authenticate(md(`Bearer ${oldToken}`))).kind).toBe("token");
    expect((await rejection(auth, md(`Bearer ${newToken}`))).message).toMatch(/no key/);
    clock += 1;
    expect((await auth.authenticate(md(`Bearer ${newToken}`))).kind).toBe("token");
    expect((await rejection(auth, md(`Bearer ${oldToken}`))).message).toMatch(/no key/);
    expect(lines.some((l) => l.msg === "auth: JWKS reloaded")).toBe(true);

    // A broken file is logged and ignored: the keys in force stay.
    writeJwks("{ not json");
    clock += 5_000;
    expect((await auth.authenticate(md(`Bearer ${newToken}`))).kind).toBe("token");
    const errors = lines.filter((l) => l.level === ERROR);
    expect(errors).toHaveLength(1);
    expect(errors[0]!.msg).toMatch(/cannot be used; keeping the previous keys/);
    expect(String(errors[0]!.err)).toMatch(/not JSON/);
    // … and retried at the next interval once fixed.
    writeJwks([ed.jwk, next.jwk]);
    clock += 5_000;
    expect((await auth.authenticate(md(`Bearer ${oldToken}`))).kind).toBe("token");
  });

  it("checks the file at every call with jwks_reload_s = 0", async () => {
    writeJwks([ed.jwk]);
    const auth = createAuthenticator(
      { mode: "jwt", jwks_file: jwksFile, jwks_reload_s: 0 },
      captureLogger().logger,
    );
    writeJwks([next.jwk]);
    expect((await auth.authenticate(md(`Bearer ${await sign(next)}`))).kind).toBe("token");
  });

  it.each([
    ["not json", /not JSON/],
    [JSON.stringify({ keys: [] }), /the key set is empty/],
    [JSON.stringify({ kty: "RSA" }), /expected a JSON Web Key Set/],
    [JSON.stringify({ keys: [{ kty: "OKP", crv: "Ed25519", x: "AAAA" }] }), /has no "kid"/],
    [
      JSON.stringify({ keys: [{ kty: "oct", k: "AAAA", kid: "s" }] }),
      /key type "oct" is not accepted/,
    ],
    [
      JSON.stringify({ keys: [{ kty: "OKP", crv: "Ed25519", x: "AAAA", kid: "a", alg: "ES256" }] }),
      /alg "ES256" is not accepted/,
    ],
    [
      JSON.stringify({ keys: [{ kty: "OKP", crv: "X25519", x: "AAAA", kid: "a" }] }),
      /curve "X25519"/,
    ],
    [
      JSON.stringify({ keys: [{ kty: "OKP", crv: "Ed25519", x: "AAAA", kid: "a" }] }),
      /not a valid key/,
    ],
  ])("refuses a bad JWKS file %#", (text, message) => {
    writeJwks(text);
    expect(() =>
      createAuthenticator({ mode: "jwt", jwks_file: jwksFile }, captureLogger().logger),
    ).toThrow(message);
  });

  it("refuses a JWKS holding a private key or duplicate kids", async () => {
    const { privateKey } = await generateKeyPair("EdDSA", { extractable: true });
    writeJwks([{ ...(await exportJWK(privateKey)), kid: "p" }]);
    expect(() =>
      createAuthenticator({ mode: "jwt", jwks_file: jwksFile }, captureLogger().logger),
    ).toThrow(/private key/);
    writeJwks([ed.jwk, { ...next.jwk, kid: ed.kid }]);
    expect(() =>
      createAuthenticator({ mode: "jwt", jwks_file: jwksFile }, captureLogger().logger),
    ).toThrow(/duplicate kid "ed-1"/);
  });
});
