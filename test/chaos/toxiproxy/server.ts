/**
 * A Toxiproxy 2.x API-compatible server (HTTP API + TCP proxies) for NovaNET chaos tests.
 * The real Toxiproxy (Go) cannot be installed here; toxiproxy-node-client works against this.
 */
import http from "node:http";
import { type ProxyContext, type ProxyLimits, parseHostPort, ToxicProxy } from "./proxy.js";
import {
  ApiError,
  badRequestBody,
  createRng,
  parseToxicCreate,
  parseToxicUpdate,
  toxicToJson,
} from "./toxics.js";

export const TOXIPROXY_VERSION = "2.12.0";

/** Largest accepted request body. */
const REQUEST_BODY_BYTES_MAX = 1 << 20;
/** Proxies a server holds. */
const PROXIES_MAX = 1024;
/** Concurrent HTTP API connections. */
const HTTP_CONNECTIONS_MAX = 256;
/** Per-request deadline, as Toxiproxy's 25 s timeout middleware. */
const HTTP_REQUEST_TIMEOUT_MS = 25_000;
/** Toxics per proxy. */
const TOXICS_PER_PROXY_MAX = 64;

export interface ToxiproxyServerOptions {
  /** HTTP API host (default 127.0.0.1). */
  readonly host?: string;
  /** HTTP API port (default 8474; 0 = ephemeral). */
  readonly port?: number;
  /** Seed of the RNG behind toxicity, jitter and slicer sizes (default 0). */
  readonly seed?: number;
  readonly limits?: Partial<ProxyLimits>;
}

export interface ToxiproxyServer {
  /** Base URL of the HTTP API, e.g. http://127.0.0.1:8474 */
  readonly url: string;
  close(): Promise<void>;
}

const DEFAULT_LIMITS: ProxyLimits = {
  connectionsMax: 1024,
  linkBufferBytesMax: 1 << 20,
};

interface ProxyInput {
  name: string;
  listen: string;
  upstream: string;
  enabled: boolean;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function optString(body: Record<string, unknown>, key: string, fallback: string): string {
  const v = body[key];
  if (v === undefined) return fallback;
  if (typeof v !== "string") throw badRequestBody(`${key} must be a string`);
  return v;
}

function optBool(body: Record<string, unknown>, key: string, fallback: boolean): boolean {
  const v = body[key];
  if (v === undefined) return fallback;
  if (typeof v !== "boolean") throw badRequestBody(`${key} must be a boolean`);
  return v;
}

/** Go: ProxyCreate — name and upstream are required, listen defaults to "" and enabled to true. */
function parseProxyCreate(body: unknown): ProxyInput {
  if (!isRecord(body)) throw badRequestBody("expected a JSON object");
  const input: ProxyInput = {
    name: optString(body, "name", ""),
    listen: optString(body, "listen", ""),
    upstream: optString(body, "upstream", ""),
    enabled: optBool(body, "enabled", true),
  };
  if (input.name === "") throw new ApiError("missing required field: name", 400);
  if (input.upstream === "") throw new ApiError("missing required field: upstream", 400);
  if (input.listen === "") input.listen = "127.0.0.1:0";
  if (!parseHostPort(input.upstream)) {
    throw badRequestBody(`upstream ${input.upstream}: missing port in address`);
  }
  return input;
}

class ToxiproxyApi {
  private readonly proxies = new Map<string, ToxicProxy>();
  private readonly ctx: ProxyContext;
  /** Serialises mutations (listeners start/stop asynchronously). */
  private lock: Promise<unknown> = Promise.resolve();

  constructor(seed: number, limits: ProxyLimits) {
    this.ctx = { rng: createRng(seed), limits };
  }

  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.lock.then(fn, fn);
    this.lock = run.catch(() => undefined);
    return run;
  }

  hasProxy(name: string): boolean {
    return this.proxies.has(name);
  }

  private getProxy(name: string): ToxicProxy {
    const proxy = this.proxies.get(name);
    if (!proxy) throw new ApiError("proxy not found", 404);
    return proxy;
  }

  private async addProxy(input: ProxyInput): Promise<ToxicProxy> {
    if (this.proxies.has(input.name)) throw new ApiError("proxy already exists", 409);
    if (this.proxies.size >= PROXIES_MAX) throw new ApiError("too many proxies", 400);
    const proxy = new ToxicProxy(input.name, input.listen, input.upstream, input.enabled, this.ctx);
    if (input.enabled) await proxy.start();
    this.proxies.set(input.name, proxy);
    return proxy;
  }

  async handle(method: string, parts: string[], body: unknown): Promise<[number, unknown]> {
    const [p0, p1, p2, p3, ...rest] = parts;
    if (rest.length > 0) throw new ApiError("not found", 404);
    const update = method === "POST" || method === "PATCH";
    if (p0 === "version" && p1 === undefined && method === "GET") {
      return [200, { version: TOXIPROXY_VERSION }];
    }
    if (p0 === "reset" && p1 === undefined && method === "POST") {
      return this.serial(async () => {
        for (const proxy of this.proxies.values()) {
          proxy.removeAllToxics();
          if (!proxy.enabled) {
            await proxy.start();
            proxy.enabled = true;
          }
        }
        return [204, undefined];
      });
    }
    if (p0 === "populate" && p1 === undefined && method === "POST") {
      return this.serial(() => this.populate(body));
    }
    if (p0 !== "proxies") throw new ApiError("not found", 404);
    if (p1 === undefined) {
      if (method === "GET") {
        const out: Record<string, unknown> = {};
        for (const [name, proxy] of this.proxies) out[name] = proxy.toJSON();
        return [200, out];
      }
      if (method === "POST") {
        const input = parseProxyCreate(body);
        return this.serial(async () => [201, (await this.addProxy(input)).toJSON()]);
      }
      throw new ApiError("method not allowed", 405);
    }
    if (p2 === undefined) {
      if (method === "GET") return [200, this.getProxy(p1).toJSON()];
      if (method === "DELETE") {
        return this.serial(async () => {
          const proxy = this.getProxy(p1);
          this.proxies.delete(p1);
          await proxy.stop();
          return [204, undefined];
        });
      }
      if (update) return this.serial(() => this.updateProxy(p1, body));
      throw new ApiError("method not allowed", 405);
    }
    if (p2 !== "toxics") throw new ApiError("not found", 404);
    if (p3 === undefined) {
      if (method === "GET") return [200, this.getProxy(p1).toJSON().toxics];
      if (method === "POST") {
        const proxy = this.getProxy(p1);
        const spec = parseToxicCreate(body);
        if (!proxy.toxics.has(spec.name) && proxy.toxics.size >= TOXICS_PER_PROXY_MAX) {
          throw new ApiError("too many toxics", 400);
        }
        proxy.addToxic(spec);
        return [200, toxicToJson(spec)];
      }
      throw new ApiError("method not allowed", 405);
    }
    const proxy = this.getProxy(p1);
    const existing = proxy.toxics.get(p3);
    if (!existing) throw new ApiError("toxic not found", 404);
    if (method === "GET") return [200, toxicToJson(existing)];
    if (method === "DELETE") {
      proxy.removeToxic(p3);
      return [204, undefined];
    }
    if (update) {
      const spec = parseToxicUpdate(existing, body);
      proxy.updateToxic(spec);
      return [200, toxicToJson(spec)];
    }
    throw new ApiError("method not allowed", 405);
  }

  /** Go: ToxicProxy.Update — listen/upstream changes restart the proxy; enabled starts/stops it. */
  private async updateProxy(name: string, body: unknown): Promise<[number, unknown]> {
    const proxy = this.getProxy(name);
    if (!isRecord(body)) throw badRequestBody("expected a JSON object");
    const listen = optString(body, "listen", proxy.listen);
    const upstream = optString(body, "upstream", proxy.upstream);
    const enabled = optBool(body, "enabled", proxy.enabled);
    if (!parseHostPort(upstream)) throw badRequestBody(`upstream ${upstream}: missing port`);
    if (listen !== proxy.listen || upstream !== proxy.upstream) {
      await proxy.stop();
      proxy.listen = listen;
      proxy.upstream = upstream;
      if (proxy.enabled) await proxy.start();
    }
    if (enabled !== proxy.enabled) {
      if (enabled) await proxy.start();
      else await proxy.stop();
      proxy.enabled = enabled;
    }
    return [200, proxy.toJSON()];
  }

  /** Go: PopulateJson — proxies with unchanged listen/upstream are kept, others replaced. */
  private async populate(body: unknown): Promise<[number, unknown]> {
    if (!Array.isArray(body)) throw badRequestBody("expected a JSON array of proxies");
    if (body.length > PROXIES_MAX) throw badRequestBody("too many proxies");
    const result: ToxicProxy[] = [];
    const withProxies = (err: unknown): ApiError => {
      const e = err instanceof ApiError ? err : new ApiError(String(err), 500);
      return new ApiError(e.message, e.status, { proxies: result.map((p) => p.toJSON()) });
    };
    let inputs: ProxyInput[];
    try {
      inputs = body.map(parseProxyCreate);
    } catch (err) {
      throw withProxies(err);
    }
    for (const input of inputs) {
      const existing = this.proxies.get(input.name);
      if (existing && existing.listen === input.listen && existing.upstream === input.upstream) {
        result.push(existing);
        continue;
      }
      try {
        if (existing) {
          this.proxies.delete(input.name);
          await existing.stop();
        }
        result.push(await this.addProxy(input));
      } catch (err) {
        throw withProxies(err);
      }
    }
    return [201, { proxies: result.map((p) => p.toJSON()) }];
  }

  async closeAll(): Promise<void> {
    await this.serial(async () => {
      await Promise.all([...this.proxies.values()].map((p) => p.stop()));
      this.proxies.clear();
    });
  }
}

function readBody(req: http.IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on("data", (chunk: Buffer) => {
      size += chunk.length;
      if (size > REQUEST_BODY_BYTES_MAX) {
        reject(badRequestBody("request body too large"));
        req.destroy();
        return;
      }
      chunks.push(chunk);
    });
    req.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
    req.on("error", reject);
  });
}

function send(res: http.ServerResponse, status: number, payload: unknown): void {
  if (payload === undefined) {
    res.writeHead(status);
    res.end();
    return;
  }
  const text = JSON.stringify(payload);
  res.writeHead(status, {
    "Content-Type": "application/json",
    "Content-Length": Buffer.byteLength(text),
  });
  res.end(text);
}

async function route(api: ToxiproxyApi, req: http.IncomingMessage): Promise<[number, unknown]> {
  if ((req.headers["user-agent"] ?? "").startsWith("Mozilla/")) {
    throw new ApiError("User agent not allowed", 403);
  }
  const method = req.method ?? "GET";
  const url = new URL(req.url ?? "/", "http://toxiproxy");
  const parts = url.pathname
    .split("/")
    .filter((p) => p !== "")
    .map((p) => decodeURIComponent(p));
  let body: unknown;
  if (method === "POST" || method === "PATCH") {
    const text = await readBody(req);
    if (text.trim() !== "") {
      try {
        body = JSON.parse(text);
      } catch (err) {
        // Go looks the proxy up before decoding the body: unknown proxies win over bad JSON.
        const proxyName = parts[0] === "proxies" ? parts[1] : undefined;
        if (proxyName !== undefined && !api.hasProxy(proxyName)) {
          throw new ApiError("proxy not found", 404);
        }
        throw badRequestBody(err instanceof Error ? err.message : String(err));
      }
    } else if (!(parts[0] === "reset" && parts.length === 1)) {
      throw badRequestBody("EOF");
    }
  }
  return api.handle(method, parts, body);
}

export async function startToxiproxyServer(
  options: ToxiproxyServerOptions = {},
): Promise<ToxiproxyServer> {
  const host = options.host ?? "127.0.0.1";
  const limits: ProxyLimits = { ...DEFAULT_LIMITS, ...options.limits };
  const api = new ToxiproxyApi(options.seed ?? 0, limits);
  const server = http.createServer((req, res) => {
    route(api, req).then(
      ([status, payload]) => send(res, status, payload),
      (err: unknown) => {
        const e = err instanceof ApiError ? err : new ApiError(String(err), 500);
        send(res, e.status, { error: e.message, status: e.status, ...e.extra });
      },
    );
  });
  server.maxConnections = HTTP_CONNECTIONS_MAX;
  server.requestTimeout = HTTP_REQUEST_TIMEOUT_MS;
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen({ host, port: options.port ?? 8474 }, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const addr = server.address();
  const port = addr && typeof addr === "object" ? addr.port : (options.port ?? 8474);
  const urlHost = host.includes(":") ? `[${host}]` : host;
  let closing: Promise<void> | null = null;
  return {
    url: `http://${urlHost}:${port}`,
    close(): Promise<void> {
      closing ??= (async () => {
        await api.closeAll();
        server.closeAllConnections();
        await new Promise<void>((resolve) => server.close(() => resolve()));
      })();
      return closing;
    },
  };
}
