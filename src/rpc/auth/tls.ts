// Transport security from the [tls] (client API) and [peer_tls] (replica ↔ replica) settings.
//
// Client API: optional TLS. With client_auth = "require" the server also asks every client for a
//   certificate signed by ca_file (mutual TLS for the client API).
// Peers: mutual TLS. Every replica presents cert_file (signed by the cluster CA, ca_file) both as a
//   server and as a client, and accepts only certificates signed by that CA. The server name a
//   replica checks is the host it dials, unless server_name overrides it (one shared name in all
//   peer certificates instead of one per host).
//
// Files are read and checked now, with errors naming the setting and the file: unreadable, not
// PEM, key not matching the certificate, certificate expired, certificate not issued by the CA,
// certificate whose extended key usage forbids the role it is used in. Certificates are read
// once; rotating them needs a restart.
import { createPrivateKey, type KeyObject, X509Certificate } from "node:crypto";
import { readFileSync } from "node:fs";
import { checkServerIdentity, type PeerCertificate } from "node:tls";
import { type ChannelCredentials, credentials, ServerCredentials } from "@grpc/grpc-js";
import { AuthConfigError } from "./errors.js";

export type ClientAuth = "none" | "require";

/** [tls]: TLS for the client API. `enabled: false` (or absent files with enabled false) is plaintext. */
export interface ClientApiTlsConfig {
  readonly enabled?: boolean | undefined;
  readonly cert_file: string;
  readonly key_file: string;
  /** CA that signs client certificates; required with client_auth = "require". */
  readonly ca_file?: string | undefined;
  readonly client_auth: ClientAuth;
}

/** [peer_tls]: mutual TLS between replicas. */
export interface PeerTlsConfig {
  readonly enabled?: boolean | undefined;
  readonly cert_file: string;
  readonly key_file: string;
  /** The cluster CA: signs every replica's certificate. */
  readonly ca_file: string;
  /** Name to verify in the other replica's certificate instead of the dialed host. */
  readonly server_name?: string | undefined;
}

/** What a client of the client API needs (tests, tools, a follower forwarding to the leader). */
export interface ChannelTlsOptions {
  /** CA that signed the server's certificate; absent: the system's trusted roots. */
  readonly ca_file?: string | undefined;
  /** Client certificate and key, for a server with client_auth = "require". */
  readonly cert_file?: string | undefined;
  readonly key_file?: string | undefined;
  /** Name to verify in the server's certificate instead of the dialed host. */
  readonly server_name?: string | undefined;
}

export interface PeerCredentials {
  readonly server: ServerCredentials;
  readonly channel: ChannelCredentials;
}

const EKU_SERVER_AUTH = "1.3.6.1.5.5.7.3.1";
const EKU_CLIENT_AUTH = "1.3.6.1.5.5.7.3.2";
const EKU_ANY = "2.5.29.37.0";
/** Bound: largest PEM file read. */
export const PEM_FILE_BYTES_MAX = 1 << 20;

function given(value: string | undefined): value is string {
  return value !== undefined && value !== "";
}

function readPem(setting: string, path: string | undefined): Buffer {
  if (!given(path)) throw new AuthConfigError(`${setting} is required`);
  let data: Buffer;
  try {
    data = readFileSync(path);
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    const why =
      e.code === "ENOENT"
        ? "no such file"
        : e.code === "EACCES"
          ? "permission denied"
          : e.code === "EISDIR"
            ? "is a directory"
            : e.message;
    throw new AuthConfigError(`${setting}: cannot read ${path}: ${why}`);
  }
  if (data.length > PEM_FILE_BYTES_MAX) {
    throw new AuthConfigError(`${setting}: ${path} is larger than ${PEM_FILE_BYTES_MAX} bytes`);
  }
  if (!data.includes("-----BEGIN ")) {
    throw new AuthConfigError(`${setting}: ${path} is not a PEM file (no "-----BEGIN" line)`);
  }
  return data;
}

function certificates(setting: string, path: string, pem: Buffer): X509Certificate[] {
  const blocks =
    pem.toString("utf8").match(/-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g) ??
    [];
  if (blocks.length === 0) {
    throw new AuthConfigError(`${setting}: ${path} holds no PEM certificate`);
  }
  return blocks.map((block, i) => {
    try {
      return new X509Certificate(block);
    } catch (err) {
      throw new AuthConfigError(
        `${setting}: ${path}: certificate #${i + 1} cannot be parsed: ${(err as Error).message}`,
      );
    }
  });
}

function privateKey(setting: string, path: string, pem: Buffer): KeyObject {
  try {
    return createPrivateKey({ key: pem, format: "pem" });
  } catch (err) {
    const msg = (err as Error).message;
    const hint = /passphrase/i.test(msg)
      ? "encrypted keys are not supported; decrypt it with: openssl pkey -in KEY -out KEY.plain"
      : msg;
    throw new AuthConfigError(`${setting}: ${path} is not a usable private key: ${hint}`);
  }
}

interface Identity {
  readonly certChain: Buffer;
  readonly key: Buffer;
  readonly leaf: X509Certificate;
}

type Role = "server" | "client" | "server+client";

function identity(
  section: string,
  files: { cert_file?: string | undefined; key_file?: string | undefined },
  role: Role,
  now: Date,
): Identity {
  const certChain = readPem(`${section}.cert_file`, files.cert_file);
  const key = readPem(`${section}.key_file`, files.key_file);
  const chain = certificates(`${section}.cert_file`, files.cert_file!, certChain);
  const leaf = chain[0]!;
  const keyObject = privateKey(`${section}.key_file`, files.key_file!, key);
  if (!leaf.checkPrivateKey(keyObject)) {
    throw new AuthConfigError(
      `${section}.key_file (${files.key_file}) does not match the certificate in ` +
        `${section}.cert_file (${files.cert_file})`,
    );
  }
  if (new Date(leaf.validTo).getTime() < now.getTime()) {
    throw new AuthConfigError(
      `${section}.cert_file: the certificate ${leaf.subject.replaceAll("\n", ", ")} expired on ${leaf.validTo}`,
    );
  }
  // Extended key usage, when present, must allow the role (OpenSSL refuses the handshake with an
  // obscure "unsuitable certificate purpose" otherwise).
  const eku = leaf.keyUsage as string[] | undefined;
  if (eku !== undefined && eku.length > 0 && !eku.includes(EKU_ANY)) {
    const needed =
      role === "server"
        ? [EKU_SERVER_AUTH]
        : role === "client"
          ? [EKU_CLIENT_AUTH]
          : [EKU_SERVER_AUTH, EKU_CLIENT_AUTH];
    const missing = needed.filter((oid) => !eku.includes(oid));
    if (missing.length > 0) {
      const names = missing.map((oid) => (oid === EKU_SERVER_AUTH ? "serverAuth" : "clientAuth"));
      throw new AuthConfigError(
        `${section}.cert_file: the certificate's extendedKeyUsage lacks ${names.join(" and ")} ` +
          `(needed to act as ${role.replace("+", " and ")})`,
      );
    }
  }
  return { certChain, key, leaf };
}

function caBundle(
  setting: string,
  path: string | undefined,
): { pem: Buffer; certs: X509Certificate[] } {
  const pem = readPem(setting, path);
  return { pem, certs: certificates(setting, path!, pem) };
}

/** The identity's chain must end at a certificate of the CA bundle (or be issued by one). */
function checkIssuedBy(section: string, id: Identity, ca: X509Certificate[], caPath: string): void {
  const chain = certificates(`${section}.cert_file`, "", id.certChain);
  const top = chain[chain.length - 1]!;
  const ok = ca.some(
    (root) =>
      top.fingerprint256 === root.fingerprint256 ||
      (top.checkIssued(root) && top.verify(root.publicKey)),
  );
  if (!ok) {
    throw new AuthConfigError(
      `${section}.cert_file: the certificate ${id.leaf.subject.replaceAll("\n", ", ")} is not ` +
        `signed by the CA in ${section}.ca_file (${caPath})`,
    );
  }
}

/**
 * Server credentials for the client API. Plaintext when `cfg` is undefined or `enabled` is
 * false; TLS otherwise, asking clients for a certificate signed by ca_file when
 * client_auth = "require".
 */
export function clientApiServerCredentials(
  cfg: ClientApiTlsConfig | undefined,
  now: Date = new Date(),
): ServerCredentials {
  if (cfg === undefined || cfg.enabled === false) return ServerCredentials.createInsecure();
  if (cfg.client_auth !== "none" && cfg.client_auth !== "require") {
    throw new AuthConfigError(
      `tls.client_auth must be "none" or "require", got ${JSON.stringify(cfg.client_auth)}`,
    );
  }
  const id = identity("tls", cfg, "server", now);
  if (cfg.client_auth === "require") {
    if (!given(cfg.ca_file)) {
      throw new AuthConfigError(
        'tls.client_auth = "require" needs tls.ca_file (the CA that signs client certificates)',
      );
    }
    const ca = caBundle("tls.ca_file", cfg.ca_file);
    return ServerCredentials.createSsl(
      ca.pem,
      [{ cert_chain: id.certChain, private_key: id.key }],
      true,
    );
  }
  const ca = given(cfg.ca_file) ? caBundle("tls.ca_file", cfg.ca_file).pem : null;
  return ServerCredentials.createSsl(
    ca,
    [{ cert_chain: id.certChain, private_key: id.key }],
    false,
  );
}

function verifyName(serverName: string | undefined) {
  if (!given(serverName)) return {};
  return {
    checkServerIdentity: (_host: string, cert: PeerCertificate) =>
      checkServerIdentity(serverName, cert),
  };
}

/** Channel credentials for a client of a TLS client API (optionally presenting a certificate). */
export function clientApiChannelCredentials(
  opts: ChannelTlsOptions = {},
  now: Date = new Date(),
): ChannelCredentials {
  const ca = given(opts.ca_file) ? caBundle("ca_file", opts.ca_file).pem : null;
  if (given(opts.cert_file) !== given(opts.key_file)) {
    throw new AuthConfigError("a client certificate needs both cert_file and key_file");
  }
  if (given(opts.cert_file)) {
    const id = identity("client", opts, "client", now);
    return credentials.createSsl(ca, id.key, id.certChain, verifyName(opts.server_name));
  }
  return credentials.createSsl(ca, null, null, verifyName(opts.server_name));
}

/**
 * Credentials for the Raft peer transport. Plaintext when `cfg` is undefined or `enabled` is
 * false; otherwise mutual TLS: the server requires a client certificate signed by the cluster CA
 * (checkClientCertificate), and the client presents the same certificate and trusts only the CA.
 */
export function peerCredentials(
  cfg: PeerTlsConfig | undefined,
  now: Date = new Date(),
): PeerCredentials {
  if (cfg === undefined || cfg.enabled === false) {
    return { server: ServerCredentials.createInsecure(), channel: credentials.createInsecure() };
  }
  if (!given(cfg.ca_file)) {
    throw new AuthConfigError(
      "peer_tls.ca_file is required: mutual TLS checks peers against the cluster CA",
    );
  }
  const ca = caBundle("peer_tls.ca_file", cfg.ca_file);
  const id = identity("peer_tls", cfg, "server+client", now);
  checkIssuedBy("peer_tls", id, ca.certs, cfg.ca_file);
  return {
    server: ServerCredentials.createSsl(
      ca.pem,
      [{ cert_chain: id.certChain, private_key: id.key }],
      true,
    ),
    channel: credentials.createSsl(ca.pem, id.key, id.certChain, verifyName(cfg.server_name)),
  };
}
