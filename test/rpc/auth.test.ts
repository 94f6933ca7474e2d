// A replica with JWT auth: a token acts only on its own tenant, calls without a valid token are
// refused, and ClusterService needs the admin role. Real gRPC over loopback, through the client
// library.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { SignJWT } from "jose";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freePort } from "../../cluster/lib/replica-processes.js";
import { ClusterClient, NetworkClient, NovanetError } from "../../src/client/index.js";
import { createAuthenticator } from "../../src/rpc/auth/index.js";
import { callAuth } from "../../src/rpc/call-auth.js";
import { NovanetServer } from "../../src/server/novanet-server.js";
import { defaultNetworkConfig } from "../../src/statemachine/index.js";

const secret = "a-test-secret-that-is-long-enough-for-hs256!!";
const dir = mkdtempSync(join(tmpdir(), "novanet-auth-"));
let server: NovanetServer;

async function token(claims: Record<string, unknown>): Promise<string> {
  return new SignJWT(claims)
    .setProtectedHeader({ alg: "HS256" })
    .setSubject("tester")
    .setIssuedAt()
    .setExpirationTime("5m")
    .sign(new TextEncoder().encode(secret));
}

beforeAll(async () => {
  const peer = `127.0.0.1:${await freePort()}`;
  const logger = pino({ level: "silent" });
  server = await NovanetServer.start({
    id: "n1",
    clusterId: "auth-test",
    dataDir: join(dir, "n1"),
    peerListen: peer,
    apiListen: `127.0.0.1:${await freePort()}`,
    initialMembers: { n1: peer },
    apiAddresses: {},
    network: defaultNetworkConfig,
    auth: callAuth(createAuthenticator({ mode: "jwt", hs256_secret: secret }, logger)),
    logger,
    tickMs: 20,
  });
  const until = Date.now() + 10_000;
  while (Date.now() < until && !server.readiness().ready) await sleep(20);
  expect(server.readiness().ready).toBe(true);
}, 30_000);

afterAll(async () => {
  await server?.stop();
  rmSync(dir, { recursive: true, force: true });
});

async function refused(p: Promise<unknown>): Promise<NovanetError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(NovanetError);
  return err as NovanetError;
}

describe("JWT auth on the API", () => {
  it("lets a token act on its own tenant only", async () => {
    const client = NetworkClient.connect({
      endpoints: [server.apiAddress],
      token: await token({ org_id: "org1", project_id: "proj1" }),
      retry: { attemptsMax: 1 },
    });
    try {
      const vpc = await client.createVpc({ orgId: "org1", projectId: "proj1", name: "main" });
      expect(vpc.id).toBe("org1/proj1");
      const other = await refused(
        client.createVpc({ orgId: "org2", projectId: "proj1", name: "x" }),
      );
      expect(other.code).toBe("PERMISSION_DENIED");
      const read = await refused(client.getVpc({ orgId: "org1", projectId: "proj2" }));
      expect(read.code).toBe("PERMISSION_DENIED");
    } finally {
      client.close();
    }
  });

  it("refuses calls without a valid token", async () => {
    const none = NetworkClient.connect({
      endpoints: [server.apiAddress],
      retry: { attemptsMax: 1 },
    });
    const forged = NetworkClient.connect({
      endpoints: [server.apiAddress],
      token: "eyJhbGciOiJIUzI1NiJ9.eyJvcmdfaWQiOiJvcmcxIn0.bm90LWEtc2lnbmF0dXJl",
      retry: { attemptsMax: 1 },
    });
    try {
      expect((await refused(none.getVpc({ orgId: "org1", projectId: "proj1" }))).code).toBe(
        "UNAUTHENTICATED",
      );
      expect((await refused(forged.getVpc({ orgId: "org1", projectId: "proj1" }))).code).toBe(
        "UNAUTHENTICATED",
      );
    } finally {
      none.close();
      forged.close();
    }
  });

  it("requires the admin role for ClusterService", async () => {
    const tenant = ClusterClient.connect({
      endpoints: [server.apiAddress],
      token: await token({ org_id: "org1", project_id: "proj1" }),
      retry: { attemptsMax: 1 },
    });
    const admin = ClusterClient.connect({
      endpoints: [server.apiAddress],
      token: await token({ org_id: "ops", project_id: "ops", roles: ["admin"] }),
      retry: { attemptsMax: 1 },
    });
    try {
      expect((await refused(tenant.status())).code).toBe("PERMISSION_DENIED");
      const st = await admin.status();
      expect(st.role).toBe("leader");
      expect(st.voters).toEqual(["n1"]);
    } finally {
      tenant.close();
      admin.close();
    }
  });
});
