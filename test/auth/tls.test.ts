// TLS and mutual TLS with real certificates (made by the openssl CLI) and a real grpc-js server
// on 127.0.0.1 serving a trivial hand-defined service.
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import {
  type ChannelCredentials,
  Client,
  credentials,
  Server,
  type ServerCredentials,
  type ServerUnaryCall,
  type ServiceDefinition,
  type sendUnaryData,
} from "@grpc/grpc-js";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import {
  AuthConfigError,
  clientApiChannelCredentials,
  clientApiServerCredentials,
  peerCredentials,
} from "../../src/rpc/auth/index.js";
import { makePki, type Pki, tempDir } from "./helpers.js";

const PATH = "/novanet.test.Echo/Say";
const identity = (b: Buffer) => b;
const echoService: ServiceDefinition = {
  Say: {
    path: PATH,
    requestStream: false,
    responseStream: false,
    requestSerialize: identity,
    requestDeserialize: identity,
    responseSerialize: identity,
    responseDeserialize: identity,
  },
};

const servers: Server[] = [];
const clients: Client[] = [];
afterEach(() => {
  for (const c of clients.splice(0)) c.close();
  for (const s of servers.splice(0)) s.forceShutdown();
});

async function serve(creds: ServerCredentials): Promise<string> {
  const server = new Server();
  server.addService(echoService, {
    Say: (call: ServerUnaryCall<Buffer, Buffer>, cb: sendUnaryData<Buffer>) =>
      cb(null, Buffer.concat([Buffer.from("echo:"), call.request])),
  });
  servers.push(server);
  const port = await new Promise<number>((res, rej) =>
    server.bindAsync("127.0.0.1:0", creds, (err, p) => (err ? rej(err) : res(p))),
  );
  return `127.0.0.1:${port}`;
}

/**
 * A refusal: the call failed, but not because nothing listened (every refusal test also shows a
 * good client succeeding against the same server, so the refusal is the TLS handshake's).
 */
const REFUSED = /^error: (?!.*ECONNREFUSED)/;

/** One call; resolves to the reply text or to "error: <details>". */
function call(address: string, creds: ChannelCredentials): Promise<string> {
  const client = new Client(address, creds);
  clients.push(client);
  return new Promise((res) => {
    client.makeUnaryRequest(
      PATH,
      identity,
      identity,
      Buffer.from("hi"),
      { deadline: Date.now() + 5000 },
      (err, reply) => res(err ? `error: ${err.details}` : (reply as Buffer).toString()),
    );
  });
}

let pki: Pki;
const tmp = tempDir("novanet-tls-");
beforeAll(() => {
  pki = makePki(tmp.dir);
  pki.makeCa("ca");
  pki.makeCa("other-ca");
  pki.makeLeaf("server", "ca");
  pki.makeLeaf("client", "ca", "clientAuth");
  pki.makeLeaf("n1", "ca");
  pki.makeLeaf("n2", "ca");
  pki.makeLeaf("intruder", "other-ca");
  pki.makeLeaf("server-only", "ca", "serverAuth");
});
afterAll(() => tmp.cleanup());

describe("client API TLS", () => {
  it("plaintext when disabled or absent", async () => {
    for (const cfg of [
      undefined,
      { enabled: false, cert_file: "", key_file: "", client_auth: "none" as const },
    ]) {
      const address = await serve(clientApiServerCredentials(cfg));
      expect(await call(address, credentials.createInsecure())).toBe("echo:hi");
    }
  });

  it("a TLS client trusting the CA connects; a plaintext client does not", async () => {
    const address = await serve(
      clientApiServerCredentials({
        cert_file: pki.cert("server"),
        key_file: pki.key("server"),
        client_auth: "none",
      }),
    );
    expect(await call(address, clientApiChannelCredentials({ ca_file: pki.cert("ca") }))).toBe(
      "echo:hi",
    );
    expect(await call(address, credentials.createInsecure())).toMatch(REFUSED);
    // A client that does not trust the server's CA refuses the server.
    expect(
      await call(address, clientApiChannelCredentials({ ca_file: pki.cert("other-ca") })),
    ).toMatch(REFUSED);
  });

  it("server_name checks a name other than the dialed host", async () => {
    const address = await serve(
      clientApiServerCredentials({
        cert_file: pki.cert("server"),
        key_file: pki.key("server"),
        client_auth: "none",
      }),
    );
    const ok = clientApiChannelCredentials({ ca_file: pki.cert("ca"), server_name: "server" });
    expect(await call(address, ok)).toBe("echo:hi");
    const wrong = clientApiChannelCredentials({ ca_file: pki.cert("ca"), server_name: "n1" });
    expect(await call(address, wrong)).toMatch(REFUSED);
  });

  describe('client_auth = "require"', () => {
    let address: string;
    const good = () =>
      clientApiChannelCredentials({
        ca_file: pki.cert("ca"),
        cert_file: pki.cert("client"),
        key_file: pki.key("client"),
      });
    beforeEach(async () => {
      address = await serve(
        clientApiServerCredentials({
          cert_file: pki.cert("server"),
          key_file: pki.key("server"),
          ca_file: pki.cert("ca"),
          client_auth: "require",
        }),
      );
    });

    it("refuses a client without a certificate", async () => {
      expect(await call(address, clientApiChannelCredentials({ ca_file: pki.cert("ca") }))).toMatch(
        REFUSED,
      );
      expect(await call(address, good())).toBe("echo:hi");
    });

    it("accepts a client with a CA-signed certificate", async () => {
      expect(await call(address, good())).toBe("echo:hi");
    });

    it("refuses a client certificate from another CA", async () => {
      const creds = clientApiChannelCredentials({
        ca_file: pki.cert("ca"),
        cert_file: pki.cert("intruder"),
        key_file: pki.key("intruder"),
      });
      expect(await call(address, creds)).toMatch(REFUSED);
      expect(await call(address, good())).toBe("echo:hi");
    });
  });
});

describe("peer mutual TLS", () => {
  const peer = (name: string, ca = "ca") => ({
    enabled: true,
    cert_file: pki.cert(name),
    key_file: pki.key(name),
    ca_file: pki.cert(ca),
  });

  it("two replicas with CA-signed certificates talk", async () => {
    const n1 = peerCredentials(peer("n1"));
    const n2 = peerCredentials(peer("n2"));
    const address = await serve(n1.server);
    expect(await call(address, n2.channel)).toBe("echo:hi");
  });

  it("the server refuses a client without a certificate", async () => {
    const address = await serve(peerCredentials(peer("n1")).server);
    expect(await call(address, clientApiChannelCredentials({ ca_file: pki.cert("ca") }))).toMatch(
      REFUSED,
    );
    expect(await call(address, credentials.createInsecure())).toMatch(REFUSED);
    expect(await call(address, peerCredentials(peer("n2")).channel)).toBe("echo:hi");
  });

  it("the server refuses a certificate from another CA", async () => {
    const address = await serve(peerCredentials(peer("n1")).server);
    // The intruder trusts our CA (so it would accept our server), but its own cert is foreign.
    const intruder = clientApiChannelCredentials({
      ca_file: pki.cert("ca"),
      cert_file: pki.cert("intruder"),
      key_file: pki.key("intruder"),
    });
    expect(await call(address, intruder)).toMatch(REFUSED);
    expect(await call(address, peerCredentials(peer("n2")).channel)).toBe("echo:hi");
  });

  it("the client refuses a server from another CA", async () => {
    // The foreign server even asks for client certs of our CA; our client must not trust it.
    const address = await serve(
      clientApiServerCredentials({
        cert_file: pki.cert("intruder"),
        key_file: pki.key("intruder"),
        ca_file: pki.cert("ca"),
        client_auth: "require",
      }),
    );
    expect(await call(address, peerCredentials(peer("n2")).channel)).toMatch(REFUSED);
    // Control: a client that trusts the other CA and has a client cert of ours gets through.
    const trusting = clientApiChannelCredentials({
      ca_file: pki.cert("other-ca"),
      cert_file: pki.cert("client"),
      key_file: pki.key("client"),
    });
    expect(await call(address, trusting)).toBe("echo:hi");
  });

  it("plaintext when disabled", async () => {
    const plain = peerCredentials(undefined);
    const address = await serve(plain.server);
    expect(await call(address, plain.channel)).toBe("echo:hi");
  });
});

describe("configuration errors", () => {
  const server = (over: Record<string, string>) => () =>
    clientApiServerCredentials({
      cert_file: pki.cert("server"),
      key_file: pki.key("server"),
      client_auth: "none",
      ...over,
    });

  it("names the setting and the file when a file is missing or unreadable", () => {
    expect(server({ cert_file: "/nonexistent/server.crt" })).toThrow(
      "tls.cert_file: cannot read /nonexistent/server.crt: no such file",
    );
    expect(server({ key_file: "/nonexistent/server.key" })).toThrow(
      "tls.key_file: cannot read /nonexistent/server.key: no such file",
    );
    expect(server({ key_file: tmp.dir })).toThrow(
      `tls.key_file: cannot read ${tmp.dir}: is a directory`,
    );
    expect(server({ cert_file: "" })).toThrow("tls.cert_file is required");
    expect(server({ cert_file: "" })).toThrow(AuthConfigError);
  });

  it("refuses files that are not PEM, a key of another certificate, and a CA-less client_auth", () => {
    const junk = join(tmp.dir, "junk.pem");
    writeFileSync(junk, "hello");
    expect(server({ cert_file: junk })).toThrow(`tls.cert_file: ${junk} is not a PEM file`);
    expect(server({ cert_file: pki.key("server") })).toThrow("holds no PEM certificate");
    expect(server({ key_file: pki.cert("server") })).toThrow("is not a usable private key");
    expect(server({ key_file: pki.key("n1") })).toThrow(
      /tls.key_file \(.*n1.key\) does not match the certificate in tls.cert_file/,
    );
    expect(server({ client_auth: "require" })).toThrow(
      'tls.client_auth = "require" needs tls.ca_file',
    );
    expect(server({ client_auth: "sometimes" })).toThrow(
      'tls.client_auth must be "none" or "require"',
    );
  });

  it("refuses an expired certificate", () => {
    const later = new Date(Date.now() + 3 * 86_400_000);
    expect(() =>
      clientApiServerCredentials(
        { cert_file: pki.cert("server"), key_file: pki.key("server"), client_auth: "none" },
        later,
      ),
    ).toThrow(/tls.cert_file: the certificate CN=server expired on/);
  });

  it("peer TLS needs the CA, a certificate signed by it, usable as server and client", () => {
    const peer = (name: string, ca: string) => () =>
      peerCredentials({
        enabled: true,
        cert_file: pki.cert(name),
        key_file: pki.key(name),
        ca_file: ca === "" ? "" : pki.cert(ca),
      });
    expect(peer("n1", "")).toThrow("peer_tls.ca_file is required");
    expect(peer("intruder", "ca")).toThrow(
      /peer_tls.cert_file: the certificate CN=intruder is not signed by the CA in peer_tls.ca_file/,
    );
    expect(peer("server-only", "ca")).toThrow(
      "peer_tls.cert_file: the certificate's extendedKeyUsage lacks clientAuth",
    );
    expect(peer("client", "ca")).toThrow("lacks serverAuth");
  });
});
