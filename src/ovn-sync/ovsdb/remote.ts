/** OVSDB remotes: "tcp:host:port", "ssl:host:port", "unix:/path" (active forms only). */

import net from "node:net";
import type { Duplex } from "node:stream";
import tls from "node:tls";

export type Remote =
  | { readonly kind: "tcp"; readonly host: string; readonly port: number }
  | { readonly kind: "ssl"; readonly host: string; readonly port: number }
  | { readonly kind: "unix"; readonly path: string };

export interface TlsOptions {
  /** PEM contents (not paths). */
  readonly ca?: string | Buffer;
  readonly cert?: string | Buffer;
  readonly key?: string | Buffer;
  /** Name checked against the server certificate; OVS certificates rarely carry one. */
  readonly servername?: string;
  /** OVS PKI certificates have no subjectAltName; default skips the hostname check (CA is still verified). */
  readonly checkServerIdentity?: boolean;
}

export class OvsdbRemoteError extends Error {
  override readonly name = "OvsdbRemoteError";
}

export function parseRemote(s: string): Remote {
  const colon = s.indexOf(":");
  const kind = colon > 0 ? s.slice(0, colon) : "";
  const rest = s.slice(colon + 1);
  if (kind === "unix") {
    if (rest.length === 0) throw new OvsdbRemoteError(`bad remote ${s}: empty path`);
    return { kind, path: rest };
  }
  if (kind === "tcp" || kind === "ssl") {
    // host:port, host may be an IPv6 literal in brackets.
    const m = /^(\[[^\]]+\]|[^:]+):(\d{1,5})$/.exec(rest);
    if (!m) throw new OvsdbRemoteError(`bad remote ${s}: expected ${kind}:host:port`);
    const port = Number(m[2]);
    if (port < 1 || port > 65535) throw new OvsdbRemoteError(`bad remote ${s}: port`);
    const host = m[1]!.replace(/^\[|\]$/g, "");
    return { kind, host, port };
  }
  throw new OvsdbRemoteError(`bad remote ${s}: expected tcp:, ssl: or unix:`);
}

export function formatRemote(r: Remote): string {
  if (r.kind === "unix") return `unix:${r.path}`;
  const host = r.host.includes(":") ? `[${r.host}]` : r.host;
  return `${r.kind}:${host}:${r.port}`;
}

/** Open a stream to the remote; resolves once connected (TLS: after the handshake). */
export function connectRemote(
  r: Remote,
  timeoutMs: number,
  tlsOptions?: TlsOptions,
): Promise<Duplex> {
  return new Promise<Duplex>((resolve, reject) => {
    let sock: net.Socket;
    const readyEvent = r.kind === "ssl" ? "secureConnect" : "connect";
    if (r.kind === "unix") sock = net.createConnection({ path: r.path });
    else if (r.kind === "tcp") sock = net.createConnection({ host: r.host, port: r.port });
    else {
      const o: tls.ConnectionOptions = { host: r.host, port: r.port };
      if (tlsOptions?.ca !== undefined) o.ca = tlsOptions.ca;
      if (tlsOptions?.cert !== undefined) o.cert = tlsOptions.cert;
      if (tlsOptions?.key !== undefined) o.key = tlsOptions.key;
      if (tlsOptions?.servername !== undefined) o.servername = tlsOptions.servername;
      if (tlsOptions?.checkServerIdentity !== true) o.checkServerIdentity = () => undefined;
      sock = tls.connect(o);
    }
    const timer = setTimeout(() => {
      sock.destroy();
      reject(new OvsdbRemoteError(`connect ${formatRemote(r)}: timed out after ${timeoutMs} ms`));
    }, timeoutMs);
    const onError = (err: Error) => {
      clearTimeout(timer);
      sock.destroy();
      reject(new OvsdbRemoteError(`connect ${formatRemote(r)}: ${err.message}`));
    };
    sock.once("error", onError);
    sock.once(readyEvent, () => {
      clearTimeout(timer);
      sock.off("error", onError);
      if (r.kind !== "unix") sock.setNoDelay(true);
      resolve(sock);
    });
  });
}
