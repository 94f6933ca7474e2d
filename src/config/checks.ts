// Value checks of the configuration: addresses, OVSDB endpoints, CIDRs, address ranges, ids.
// Each returns undefined when the value is fine, or a message saying what is wrong.
import ipaddr from "ipaddr.js";

export interface HostPort {
  readonly host: string;
  readonly port: number;
  /** "ipv4" | "ipv6" | "name". */
  readonly hostKind: "ipv4" | "ipv6" | "name";
}

const HOSTNAME =
  /^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/;

/** "host:port", "[v6]:port"; the port in minPort..65535. */
export function parseHostPort(text: string, minPort: 0 | 1): HostPort | string {
  let host: string;
  let portText: string;
  if (text.startsWith("[")) {
    const close = text.indexOf("]");
    if (close < 0 || text[close + 1] !== ":") return `"${text}" is not [IPv6]:port`;
    host = text.slice(1, close);
    portText = text.slice(close + 2);
    if (!ipaddr.IPv6.isValid(host)) return `"${host}" in "${text}" is not an IPv6 address`;
  } else {
    const colon = text.lastIndexOf(":");
    if (colon < 0) return `"${text}" has no port (expected host:port)`;
    host = text.slice(0, colon);
    portText = text.slice(colon + 1);
    if (host.includes(":"))
      return `"${text}": write an IPv6 address in brackets, [${host}]:${portText}`;
  }
  if (!/^\d{1,5}$/.test(portText)) return `"${text}": port "${portText}" is not a number`;
  const port = Number(portText);
  if (port < minPort || port > 65_535) {
    return `"${text}": port ${port} is out of range ${minPort}..65535`;
  }
  let hostKind: HostPort["hostKind"];
  if (text.startsWith("[")) hostKind = "ipv6";
  else if (ipaddr.IPv4.isValidFourPartDecimal(host)) hostKind = "ipv4";
  else if (/^[\d.]+$/.test(host)) return `"${host}" in "${text}" is not a valid IPv4 address`;
  else if (HOSTNAME.test(host)) hostKind = "name";
  else return `"${host}" in "${text}" is not a valid host name or address`;
  return { host, port, hostKind };
}

export function checkListenAddr(text: string): string | undefined {
  const r = parseHostPort(text, 0);
  return typeof r === "string" ? r : undefined;
}

export function checkDialAddr(text: string): string | undefined {
  const r = parseHostPort(text, 1);
  return typeof r === "string" ? r : undefined;
}

/** 0.0.0.0, :: and the empty host listen on every interface: not an address others can dial. */
export function isWildcard(hp: HostPort): boolean {
  if (hp.hostKind === "ipv4") return hp.host === "0.0.0.0";
  if (hp.hostKind === "ipv6")
    return ipaddr.IPv6.parse(hp.host).toNormalizedString() === "0:0:0:0:0:0:0:0";
  return false;
}

export function isLoopback(hp: HostPort): boolean {
  if (hp.hostKind === "name") return hp.host === "localhost";
  return ipaddr.parse(hp.host).range() === "loopback";
}

/** OVSDB active connection methods: tcp:HOST:PORT, ssl:HOST:PORT, unix:PATH; comma-separated. */
export function checkOvsdbEndpoint(text: string): string | undefined {
  const parts = text.split(",").map((p) => p.trim());
  for (const part of parts) {
    if (part === "") return `"${text}" has an empty entry`;
    const m = /^(tcp|ssl|unix):(.+)$/.exec(part);
    if (m === null) {
      return `"${part}" is not an OVSDB endpoint (tcp:HOST:PORT, ssl:HOST:PORT or unix:PATH)`;
    }
    if (m[1] === "unix") continue;
    const hp = parseHostPort(m[2]!, 1);
    if (typeof hp === "string") return `"${part}": ${hp}`;
    if (hp.hostKind === "name") {
      return `"${part}": OVSDB endpoints take an IP address, not a host name`;
    }
  }
  return undefined;
}

export interface Ipv4Range {
  readonly first: number;
  readonly last: number;
  readonly text: string;
}

function ipv4ToNumber(text: string): number | undefined {
  if (!ipaddr.IPv4.isValidFourPartDecimal(text)) return undefined;
  const b = ipaddr.IPv4.parse(text).octets;
  return ((b[0]! << 24) >>> 0) + (b[1]! << 16) + (b[2]! << 8) + b[3]!;
}

/** An IPv4 CIDR in canonical form (host bits zero). */
export function parseIpv4Cidr(text: string): Ipv4Range | string {
  const slash = text.indexOf("/");
  if (slash < 0) return `"${text}" is not a CIDR (expected a.b.c.d/len)`;
  const addrText = text.slice(0, slash);
  const lenText = text.slice(slash + 1);
  if (!ipaddr.IPv4.isValidFourPartDecimal(addrText)) {
    return ipaddr.IPv6.isValid(addrText)
      ? `"${text}" is IPv6; an IPv4 CIDR is needed`
      : `"${text}" is not a CIDR: "${addrText}" is not an IPv4 address`;
  }
  if (!/^\d{1,2}$/.test(lenText) || Number(lenText) > 32) {
    return `"${text}": prefix length "${lenText}" is not in 0..32`;
  }
  const len = Number(lenText);
  const network = ipaddr.IPv4.networkAddressFromCIDR(`${addrText}/${len}`).toString();
  if (network !== addrText) {
    return `"${text}" has host bits set; did you mean "${network}/${len}"?`;
  }
  const first = ipv4ToNumber(addrText)!;
  const size = 2 ** (32 - len);
  return { first, last: first + size - 1, text };
}

/** An IPv4 CIDR or "a.b.c.d-e.f.g.h". */
export function parseIpv4Range(text: string): Ipv4Range | string {
  const dash = text.indexOf("-");
  if (dash < 0) return parseIpv4Cidr(text);
  const a = text.slice(0, dash).trim();
  const b = text.slice(dash + 1).trim();
  const first = ipv4ToNumber(a);
  const last = ipv4ToNumber(b);
  if (first === undefined || last === undefined) {
    return `"${text}" is not a range of IPv4 addresses (a.b.c.d-e.f.g.h)`;
  }
  if (first > last) return `"${text}": the range ends before it starts`;
  return { first, last, text };
}

export function overlaps(a: Ipv4Range, b: Ipv4Range): boolean {
  return a.first <= b.last && b.first <= a.last;
}

export function contains(outer: Ipv4Range, inner: Ipv4Range): boolean {
  return outer.first <= inner.first && inner.last <= outer.last;
}

/** Replica and cluster ids: also used in "id=addr,…" lists and in metrics labels. */
export function checkId(text: string): string | undefined {
  if (text === "") return "must not be empty";
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/.test(text)) {
    return `"${text}" is not a valid id (letters, digits, '.', '_', '-'; starts with a letter or digit; up to 64)`;
  }
  return undefined;
}

/** "id=host:port,id=host:port" → entries; "" → none. */
export function parseMembers(text: string): Record<string, string> | string {
  const out: Record<string, string> = {};
  if (text.trim() === "") return out;
  for (const raw of text.split(",")) {
    const part = raw.trim();
    const eq = part.indexOf("=");
    if (eq <= 0 || eq === part.length - 1) {
      return `"${part}" is not id=host:port (in "${text}")`;
    }
    const id = part.slice(0, eq).trim();
    const addr = part.slice(eq + 1).trim();
    if (Object.hasOwn(out, id)) return `id "${id}" appears twice`;
    out[id] = addr;
  }
  return out;
}
