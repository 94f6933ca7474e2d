// loadConfig: defaults < TOML file < environment < command-line flags, validated as a whole.
//
// Every problem is collected and reported at once, each with where the bad value came from
// (file:line, env VAR, flag --x, default). Nothing here starts anything or opens a socket; it
// only reads the config file (and checks that the key/cert files it names are readable).
//
// Precedence within a layer:
//   environment  NOVANET_<SECTION>_<KEY> wins over the spec's OVERLAY_NETWORK_* name of the same
//                key (a warning says so when both are set and differ). An empty variable counts
//                as unset.
//   flags        the last occurrence wins (--listen-addr and --server.listen_addr are one key).
import { accessSync, constants, readFileSync, statSync } from "node:fs";
import { dirname, isAbsolute, resolve } from "node:path";
import { parse, TomlDate, TomlError } from "smol-toml";
import { resolveConfig } from "../statemachine/config.js";
import {
  checkDialAddr,
  checkId,
  checkListenAddr,
  checkOvsdbEndpoint,
  contains,
  type HostPort,
  type Ipv4Range,
  isLoopback,
  isWildcard,
  overlaps,
  parseHostPort,
  parseIpv4Cidr,
  parseIpv4Range,
  parseMembers,
} from "./checks.js";
import { toNetworkConfig } from "./network.js";
import {
  CONFIG_ENV,
  freezeDeep,
  ignoredSpecSettings,
  type KeyEntry,
  type KeyPath,
  type Kind,
  keyByPath,
  keys,
  type NovanetConfig,
  type Section,
  sections,
} from "./schema.js";
import { closest, didYouMean } from "./suggest.js";

export type ConfigSource = "default" | "file" | "env" | "flag";

export interface ConfigProblem {
  /** The key ("server.listen_addr"), or the unknown name as written. */
  readonly key: string;
  readonly source: ConfigSource;
  /** Where: "novanet.toml:12", "env NOVANET_SERVER_LISTEN_ADDR", "flag --listen-addr", "default". */
  readonly origin: string;
  readonly message: string;
}

export class ConfigError extends Error {
  override name = "ConfigError";
  constructor(readonly problems: readonly ConfigProblem[]) {
    super(
      `invalid configuration (${problems.length} problem${problems.length === 1 ? "" : "s"}):\n` +
        problems.map((p) => `  - ${p.origin}: ${p.message}`).join("\n"),
    );
  }
}

export interface LoadConfigOptions {
  /** Command-line arguments without node and the script (process.argv.slice(2)). */
  readonly argv: readonly string[];
  readonly env: Readonly<Record<string, string | undefined>>;
  /** Reads the config file (default: fs.readFileSync utf8). */
  readonly readFile?: (path: string) => string;
  /**
   * Why a key/cert/secret file named by the config cannot be read, or undefined when it can
   * (default: it exists, is not a directory, and is readable).
   */
  readonly checkFile?: (path: string) => string | undefined;
}

export interface LoadedConfig {
  readonly config: NovanetConfig;
  /** Where each key's value came from. */
  readonly sources: Readonly<Record<KeyPath, ConfigSource>>;
  /** The config file read (from --config or NOVANET_CONFIG), if any. */
  readonly configFile: string | undefined;
  /** Settings that are accepted but ignored or risky; log them at start. */
  readonly warnings: readonly string[];
}

interface Setting {
  readonly value: unknown;
  readonly source: ConfigSource;
  readonly origin: string;
}

type Layer = Map<KeyPath, Setting>;

class Problems {
  readonly list: ConfigProblem[] = [];
  /**
   * Keys with a bad value (in force, or refused in some layer): later checks skip them, so that
   * one mistake gives one message.
   */
  constructor(readonly bad = new Set<string>()) {}
  add(key: string, source: ConfigSource, origin: string, message: string): void {
    this.list.push({ key, source, origin, message });
    this.bad.add(key);
  }
  at(key: KeyPath, setting: Setting, message: string): void {
    this.add(key, setting.source, setting.origin, message);
  }
}

// ---------------------------------------------------------------------------------------------
// Value conversion

type Converted = { ok: true; value: unknown } | { ok: false; message: string };

function describeToml(value: unknown): string {
  if (typeof value === "string") return `the string ${JSON.stringify(value)}`;
  if (typeof value === "bigint") return `the integer ${value}`;
  if (typeof value === "number") return `the number ${value}`;
  if (typeof value === "boolean") return `the boolean ${value}`;
  if (value instanceof TomlDate) return `the date ${value.toISOString()}`;
  if (Array.isArray(value)) return "an array";
  return "a table";
}

function kindName(kind: Kind): string {
  switch (kind.type) {
    case "string":
      return "a string";
    case "int":
      return "an integer";
    case "bool":
      return "a boolean (true or false)";
    case "enum":
      return `one of ${kind.values.map((v) => JSON.stringify(v)).join(", ")}`;
    case "list":
      return 'an array of strings, e.g. ["a", "b"]';
    case "members":
      return 'a string "id=host:port,…" or a table { id = "host:port" }';
  }
}

function fromToml(kind: Kind, value: unknown, secret: boolean): Converted {
  const wrong = (hint = ""): Converted => ({
    ok: false,
    message: `expected ${kindName(kind)}, got ${secret ? "a value of another type" : describeToml(value)}${hint}`,
  });
  switch (kind.type) {
    case "string":
    case "enum":
      return typeof value === "string" ? { ok: true, value } : wrong();
    case "int":
      if (typeof value === "bigint") {
        return value >= BigInt(Number.MIN_SAFE_INTEGER) && value <= BigInt(Number.MAX_SAFE_INTEGER)
          ? { ok: true, value: Number(value) }
          : { ok: false, message: `${value} is out of range ${kind.min}..${kind.max}` };
      }
      return wrong(
        typeof value === "string" && /^-?\d+$/.test(value) ? " (remove the quotes)" : "",
      );
    case "bool":
      if (typeof value === "boolean") return { ok: true, value };
      return wrong(
        typeof value === "string" && /^(true|false)$/i.test(value) ? " (remove the quotes)" : "",
      );
    case "list":
      if (Array.isArray(value) && value.every((v) => typeof v === "string")) {
        return { ok: true, value: [...value] };
      }
      return wrong(typeof value === "string" ? ` (write [${JSON.stringify(value)}])` : "");
    case "members": {
      if (typeof value === "string") {
        const m = parseMembers(value);
        return typeof m === "string" ? { ok: false, message: m } : { ok: true, value: m };
      }
      if (
        typeof value === "object" &&
        value !== null &&
        !Array.isArray(value) &&
        !(value instanceof TomlDate)
      ) {
        const out: Record<string, string> = {};
        for (const [id, addr] of Object.entries(value)) {
          if (typeof addr !== "string") {
            return {
              ok: false,
              message: `member "${id}": expected "host:port", got ${describeToml(addr)}`,
            };
          }
          out[id] = addr;
        }
        return { ok: true, value: out };
      }
      return wrong();
    }
  }
}

const TRUE = new Set(["true", "1", "yes", "on"]);
const FALSE = new Set(["false", "0", "no", "off"]);

function fromText(kind: Kind, text: string, secret: boolean): Converted {
  const shown = secret ? "a value" : JSON.stringify(text);
  switch (kind.type) {
    case "string":
    case "enum":
      return { ok: true, value: text };
    case "int":
      if (!/^[+-]?\d+$/.test(text.trim())) {
        return { ok: false, message: `expected an integer, got ${shown}` };
      }
      return { ok: true, value: Number(text.trim()) };
    case "bool": {
      const t = text.trim().toLowerCase();
      if (TRUE.has(t)) return { ok: true, value: true };
      if (FALSE.has(t)) return { ok: true, value: false };
      return { ok: false, message: `expected true/false (or 1/0, yes/no, on/off), got ${shown}` };
    }
    case "list":
      return {
        ok: true,
        value: text
          .split(",")
          .map((s) => s.trim())
          .filter((s) => s !== ""),
      };
    case "members": {
      const m = parseMembers(text);
      return typeof m === "string" ? { ok: false, message: m } : { ok: true, value: m };
    }
  }
}

// ---------------------------------------------------------------------------------------------
// The file layer

function splitDotted(text: string): string[] {
  return [...text.matchAll(/"([^"]*)"|'([^']*)'|([A-Za-z0-9_-]+)/g)].map(
    (m) => m[1] ?? m[2] ?? m[3]!,
  );
}

/** Line (1-based) of each "table.key" and "table" in a TOML text, found by a light scan. */
export function tomlKeyLines(text: string): Map<string, number> {
  const out = new Map<string, number>();
  let table: string[] = [];
  let multiline: string | undefined;
  const bare = `(?:[A-Za-z0-9_-]+|"[^"]*"|'[^']*')`;
  const keyRe = new RegExp(String.raw`^\s*(${bare}(?:\s*\.\s*${bare})*)\s*=(.*)$`);
  text.split(/\r?\n/).forEach((line, i) => {
    if (multiline !== undefined) {
      if (line.includes(multiline)) multiline = undefined;
      return;
    }
    if (/^\s*\[\[/.test(line)) {
      table = ["[[]]"];
      return;
    }
    const header = /^\s*\[([^[\]]+)\]\s*(?:#.*)?$/.exec(line);
    if (header !== null) {
      table = splitDotted(header[1]!);
      const name = table.join(".");
      if (!out.has(name)) out.set(name, i + 1);
      return;
    }
    const kv = keyRe.exec(line);
    if (kv === null) return;
    const path = [...table, ...splitDotted(kv[1]!)].join(".");
    if (!out.has(path)) out.set(path, i + 1);
    const rest = kv[2]!;
    for (const q of ['"""', "'''"]) {
      if (rest.split(q).length % 2 === 0) multiline = q;
    }
  });
  return out;
}

const sectionsOfKey = new Map<string, Section[]>();
for (const k of keys) sectionsOfKey.set(k.key, [...(sectionsOfKey.get(k.key) ?? []), k.section]);

function unknownKeyHint(section: string, key: string): string {
  const elsewhere = sectionsOfKey.get(key);
  if (elsewhere !== undefined) {
    return ` (${key} belongs in ${elsewhere.map((s) => `[${s}]`).join(" or ")})`;
  }
  const own = keys.filter((k) => k.section === section).map((k) => k.key);
  const near = closest(key, own);
  if (near !== undefined) return ` (did you mean ${near}?)`;
  return `; keys of [${section}]: ${own.join(", ")}`;
}

function sectionHint(name: string): string {
  const near = closest(name, sections);
  return near === undefined ? "" : ` (did you mean [${near}]?)`;
}

function fileLayer(path: string, text: string, problems: Problems, warnings: string[]): Layer {
  const layer: Layer = new Map();
  let doc: Record<string, unknown>;
  try {
    doc = parse(text, { integersAsBigInt: true }) as Record<string, unknown>;
  } catch (err) {
    if (err instanceof TomlError) {
      const first = err.message.split("\n")[0]!.replace(/^Invalid TOML document: /, "");
      problems.add("", "file", `${path}:${err.line}:${err.column}`, `TOML syntax error: ${first}`);
    } else {
      problems.add("", "file", path, `cannot parse: ${(err as Error).message}`);
    }
    return layer;
  }
  const lines = tomlKeyLines(text);
  const where = (name: string): string => {
    const line = lines.get(name) ?? lines.get(name.split(".")[0]!);
    return line === undefined ? path : `${path}:${line}`;
  };
  const baseDir = dirname(path);
  for (const [section, table] of Object.entries(doc)) {
    const isTable =
      typeof table === "object" &&
      table !== null &&
      !Array.isArray(table) &&
      !(table instanceof TomlDate);
    if (section === "storage" && isTable) {
      for (const key of Object.keys(table)) {
        if (`storage.${key}` === ignoredSpecSettings.file) {
          warnings.push(
            `${where(ignoredSpecSettings.file)}: storage.chainfire_endpoint is ignored: NovaNET keeps its state in its own Raft log ([replica])`,
          );
        } else {
          problems.add(
            `storage.${key}`,
            "file",
            where(`storage.${key}`),
            `unknown key storage.${key}`,
          );
        }
      }
      continue;
    }
    if (!(sections as string[]).includes(section)) {
      if (isTable) {
        problems.add(
          section,
          "file",
          where(section),
          `unknown section [${section}]${sectionHint(section)}`,
        );
      } else {
        const owners = sectionsOfKey.get(section);
        problems.add(
          section,
          "file",
          where(section),
          owners === undefined
            ? `unknown top-level key ${section}${sectionHint(section)}; settings go in sections such as [server]`
            : `${section} must be inside ${owners.map((s) => `[${s}]`).join(" or ")}`,
        );
      }
      continue;
    }
    if (!isTable) {
      problems.add(section, "file", where(section), `${section} must be a table ([${section}])`);
      continue;
    }
    for (const [key, raw] of Object.entries(table as Record<string, unknown>)) {
      const entry = keyByPath.get(`${section}.${key}`);
      const origin = where(`${section}.${key}`);
      if (entry === undefined) {
        problems.add(
          `${section}.${key}`,
          "file",
          origin,
          `unknown key ${section}.${key}${unknownKeyHint(section, key)}`,
        );
        continue;
      }
      const converted = fromToml(entry.spec.kind, raw, entry.spec.secret === true);
      if (!converted.ok) {
        problems.add(entry.path, "file", origin, `${entry.path}: ${converted.message}`);
        continue;
      }
      let value = converted.value;
      if (entry.spec.path && typeof value === "string" && value !== "" && !isAbsolute(value)) {
        value = resolve(baseDir, value);
      }
      layer.set(entry.path, { value, source: "file", origin });
    }
  }
  return layer;
}

// ---------------------------------------------------------------------------------------------
// The environment layer

const envToKey = new Map(keys.map((k) => [k.env, k]));
const specEnvToKey = new Map(
  keys.flatMap((k) => (k.spec.specEnv === undefined ? [] : [[k.spec.specEnv, k] as const])),
);
const allEnvNames = [...envToKey.keys(), ...specEnvToKey.keys(), CONFIG_ENV];
const sectionEnvPrefixes = sections.map((s) => `NOVANET_${s.toUpperCase()}_`);

function envLayer(
  env: Readonly<Record<string, string | undefined>>,
  problems: Problems,
  warnings: string[],
): Layer {
  const spec: Layer = new Map();
  const own: Layer = new Map();
  for (const name of Object.keys(env).sort()) {
    const text = env[name];
    if (text === undefined || text === "" || name === CONFIG_ENV) continue;
    const entry = envToKey.get(name) ?? specEnvToKey.get(name);
    const isOwn = envToKey.has(name);
    if (entry === undefined) {
      if (name === ignoredSpecSettings.env) {
        warnings.push(
          `env ${name} is ignored: NovaNET keeps its state in its own Raft log ([replica])`,
        );
        continue;
      }
      if (!name.startsWith("NOVANET_") && !name.startsWith("OVERLAY_NETWORK_")) continue;
      const near = closest(name, allEnvNames);
      // A variable under a known section must be a known key; elsewhere only near-misses are
      // errors (other tools may use the NOVANET_ prefix for their own settings).
      if (sectionEnvPrefixes.some((p) => name.startsWith(p)) || near !== undefined) {
        problems.add(
          name,
          "env",
          `env ${name}`,
          `unknown environment variable ${name}${near === undefined ? "" : ` (did you mean ${near}?)`}`,
        );
      }
      continue;
    }
    const origin = `env ${name}`;
    const converted = fromText(entry.spec.kind, text, entry.spec.secret === true);
    if (!converted.ok) {
      problems.add(entry.path, "env", origin, `${entry.path}: ${converted.message}`);
      continue;
    }
    (isOwn ? own : spec).set(entry.path, { value: converted.value, source: "env", origin });
  }
  for (const [path, s] of spec) {
    const o = own.get(path);
    if (o !== undefined && JSON.stringify(o.value) !== JSON.stringify(s.value)) {
      warnings.push(
        `${s.origin} and ${o.origin} are both set and differ; ${o.origin} wins (NOVANET_* names take precedence)`,
      );
    }
  }
  return new Map([...spec, ...own]);
}

// ---------------------------------------------------------------------------------------------
// The flag layer

const specFlagToKey = new Map(
  keys.flatMap((k) => (k.spec.specFlag === undefined ? [] : [[k.spec.specFlag, k] as const])),
);
const allFlagNames = [
  "--config",
  ...[...specFlagToKey.keys()].map((f) => `--${f}`),
  ...keys.map((k) => k.flag),
];

function flagEntry(name: string): KeyEntry | undefined {
  const spec = specFlagToKey.get(name);
  if (spec !== undefined) return spec;
  const dot = name.indexOf(".");
  if (dot < 0) return undefined;
  const normalized = `${name.slice(0, dot)}.${name.slice(dot + 1)}`.replaceAll("-", "_");
  return keyByPath.get(normalized);
}

function flagLayer(
  argv: readonly string[],
  problems: Problems,
  warnings: string[],
): { layer: Layer; configPath: string | undefined } {
  const layer: Layer = new Map();
  let configPath: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === "--") {
      for (const rest of argv.slice(i + 1)) {
        problems.add(rest, "flag", `argument ${JSON.stringify(rest)}`, "unexpected argument");
      }
      break;
    }
    if (!arg.startsWith("--")) {
      problems.add(
        arg,
        "flag",
        `argument ${JSON.stringify(arg)}`,
        arg.startsWith("-")
          ? `unknown flag ${arg}: flags start with --${didYouMean(`-${arg}`, allFlagNames)}`
          : "unexpected argument (settings are given as --section.key=value)",
      );
      continue;
    }
    const eq = arg.indexOf("=");
    const name = eq < 0 ? arg.slice(2) : arg.slice(2, eq);
    const inline = eq < 0 ? undefined : arg.slice(eq + 1);
    const origin = `flag --${name}`;
    const entry = flagEntry(name);
    const isBool = entry?.spec.kind.type === "bool";
    let value = inline;
    if (value === undefined && !isBool) {
      const next = argv[i + 1];
      if (next !== undefined && !next.startsWith("--")) {
        value = next;
        i++;
      }
    }
    if (name === "config") {
      if (value === undefined || value === "") {
        problems.add("config", "flag", origin, "--config needs a file path");
      } else {
        configPath = value;
      }
      continue;
    }
    if (name === ignoredSpecSettings.flag) {
      warnings.push(
        `${origin} is ignored: NovaNET keeps its state in its own Raft log ([replica])`,
      );
      continue;
    }
    if (entry === undefined) {
      problems.add(
        name,
        "flag",
        origin,
        `unknown flag --${name}${didYouMean(`--${name}`, allFlagNames)}`,
      );
      continue;
    }
    if (value === undefined) {
      if (!isBool) {
        problems.add(entry.path, "flag", origin, `--${name} needs a value (--${name}=VALUE)`);
        continue;
      }
      value = "true";
    }
    const converted = fromText(entry.spec.kind, value, entry.spec.secret === true);
    if (!converted.ok) {
      problems.add(entry.path, "flag", origin, `${entry.path}: ${converted.message}`);
      continue;
    }
    layer.set(entry.path, { value: converted.value, source: "flag", origin });
  }
  return { layer, configPath };
}

// ---------------------------------------------------------------------------------------------
// Checks of the effective values

function defaultCheckFile(path: string): string | undefined {
  try {
    if (statSync(path).isDirectory()) return "is a directory";
    accessSync(path, constants.R_OK);
    return undefined;
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    return e.code === "ENOENT"
      ? "no such file"
      : e.code === "EACCES"
        ? "permission denied"
        : e.message;
  }
}

type Values = Map<KeyPath, Setting>;

function hostPort(text: string): HostPort | undefined {
  const r = parseHostPort(text, 0);
  return typeof r === "string" ? undefined : r;
}

function checkKeys(values: Values, problems: Problems): void {
  for (const entry of keys) {
    const setting = values.get(entry.path)!;
    const v = setting.value;
    const fail = (message: string) => problems.at(entry.path, setting, `${entry.path}: ${message}`);
    const kind = entry.spec.kind;
    if (problems.bad.has(entry.path)) continue;
    if (kind.type === "int") {
      const n = v as number;
      if (!Number.isSafeInteger(n) || n < kind.min || n > kind.max) {
        fail(`${n} is out of range ${kind.min}..${kind.max}`);
      }
    } else if (kind.type === "enum" && !kind.values.includes(v as string)) {
      fail(
        `${JSON.stringify(v)} is not one of ${kind.values.map((x) => JSON.stringify(x)).join(", ")}${didYouMean(v as string, kind.values)}`,
      );
    }
  }
  const check = (path: KeyPath, fn: (value: string) => string | undefined) => {
    if (problems.bad.has(path)) return;
    const setting = values.get(path)!;
    const message = fn(setting.value as string);
    if (message === undefined) return;
    if (setting.source === "default" && setting.value === "") {
      problems.add(path, "default", "not set", `${path} ${message}`);
    } else {
      problems.at(path, setting, `${path}: ${message}`);
    }
  };
  const dialable = (text: string) => {
    const msg = checkDialAddr(text);
    if (msg !== undefined) return msg;
    return isWildcard(hostPort(text)!)
      ? `"${text}" is a wildcard address; give one that others can dial`
      : undefined;
  };
  check("server.listen_addr", checkListenAddr);
  check("replica.peer_listen_addr", checkListenAddr);
  check("metrics.listen_addr", (t) => (t === "" ? undefined : checkListenAddr(t)));
  check("replica.peer_advertise_addr", (t) => (t === "" ? undefined : dialable(t)));
  check("replica.api_advertise_addr", (t) => (t === "" ? undefined : dialable(t)));
  check("network.ovn_northbound_endpoint", checkOvsdbEndpoint);
  check("network.ovn_southbound_endpoint", checkOvsdbEndpoint);
  check("network.cidr_pool", (t) => {
    const r = parseIpv4Cidr(t);
    return typeof r === "string" ? r : undefined;
  });
  check("replica.id", (t) => (t === "" ? "is required (this replica's id, e.g. n1)" : checkId(t)));
  check("replica.cluster_id", checkId);
  check("replica.data_dir", (t) =>
    t === "" ? "is required (where the Raft log is kept)" : undefined,
  );
  check("peer_tls.server_name", (t) =>
    t === "" || /^[A-Za-z0-9*]([A-Za-z0-9.-]*[A-Za-z0-9])?$/.test(t)
      ? undefined
      : `"${t}" is not a host name`,
  );
  {
    const setting = values.get("auth.hs256_secret")!;
    const secret = setting.value as string;
    if (!problems.bad.has("auth.hs256_secret") && secret !== "" && Buffer.byteLength(secret) < 32) {
      problems.at(
        "auth.hs256_secret",
        setting,
        `auth.hs256_secret: an HS256 secret needs at least 32 bytes, got ${Buffer.byteLength(secret)}`,
      );
    }
  }
  for (const path of ["network.external_ip_pool", "network.reserved_ranges"] as const) {
    if (problems.bad.has(path)) continue;
    const setting = values.get(path)!;
    const ranges: Ipv4Range[] = [];
    for (const text of setting.value as string[]) {
      const r = parseIpv4Range(text);
      if (typeof r === "string") {
        problems.at(path, setting, `${path}: ${r}`);
        continue;
      }
      const clash = ranges.find((o) => overlaps(o, r));
      if (clash !== undefined) {
        problems.at(path, setting, `${path}: "${r.text}" overlaps "${clash.text}"`);
      }
      ranges.push(r);
    }
  }
  if (!problems.bad.has("ovn.adopt_cluster_ids")) {
    const setting = values.get("ovn.adopt_cluster_ids")!;
    const own = values.get("replica.cluster_id")!.value as string;
    for (const adopted of setting.value as string[]) {
      const p = checkId(adopted);
      if (p !== undefined)
        problems.at("ovn.adopt_cluster_ids", setting, `ovn.adopt_cluster_ids: ${p}`);
      else if (adopted === own) {
        problems.at(
          "ovn.adopt_cluster_ids",
          setting,
          `ovn.adopt_cluster_ids: "${adopted}" is this cluster's own id (replica.cluster_id); list the ids of the clusters whose rows to take over`,
        );
      }
    }
  }
  for (const path of [
    "replica.initial_cluster",
    "replica.initial_cluster_api",
    "replica.peer_dial_overrides",
  ] as const) {
    if (problems.bad.has(path)) continue;
    const setting = values.get(path)!;
    for (const [id, addr] of Object.entries(setting.value as Record<string, string>)) {
      const idProblem = checkId(id);
      if (idProblem !== undefined) problems.at(path, setting, `${path}: member id ${idProblem}`);
      const addrProblem = dialable(addr);
      if (addrProblem !== undefined) {
        problems.at(path, setting, `${path}: member ${id}: ${addrProblem}`);
      }
    }
  }
}

interface CrossContext {
  values: Values;
  problems: Problems;
  warnings: string[];
  checkFile: (path: string) => string | undefined;
}

function crossChecks({ values, problems, warnings, checkFile }: CrossContext): void {
  const get = <T>(p: KeyPath) => values.get(p)!.value as T;
  const setting = (p: KeyPath) => values.get(p)!;
  const ok = (...paths: KeyPath[]) => paths.every((p) => !problems.bad.has(p));
  const fail = (p: KeyPath, message: string) => problems.at(p, setting(p), message);
  const isSet = (p: KeyPath) => get<string>(p) !== "";
  const readable = (p: KeyPath) => {
    const path = get<string>(p);
    if (path === "" || !ok(p)) return;
    const why = checkFile(path);
    if (why !== undefined) fail(p, `${p}: cannot read ${path}: ${why}`);
  };

  // [auth]
  const mode = get<string>("auth.mode");
  const keySources = (
    ["auth.hs256_secret", "auth.hs256_secret_file", "auth.jwks_file"] as const
  ).filter(isSet);
  if (mode === "jwt" && ok("auth.mode")) {
    if (keySources.length === 0) {
      fail(
        "auth.mode",
        'auth.mode = "jwt" needs a key: set auth.hs256_secret_file (HS256) or auth.jwks_file (RS256/EdDSA), or use auth.mode = "none" for local development',
      );
    } else if (keySources.length > 1) {
      const [, second] = keySources;
      fail(
        second!,
        `set only one of ${keySources.join(", ")} (auth.mode = "jwt" uses exactly one key source)`,
      );
    }
    readable("auth.hs256_secret_file");
    readable("auth.jwks_file");
    if (!get<boolean>("tls.enabled")) {
      warnings.push(
        'auth.mode = "jwt" with tls.enabled = false: bearer tokens cross the network in clear text',
      );
    }
  } else if (mode === "none") {
    const ignored = [...keySources, ...(["auth.issuer", "auth.audience"] as const).filter(isSet)];
    if (ignored.length > 0) warnings.push(`auth.mode = "none": ${ignored.join(", ")} ignored`);
  }

  // [tls]
  if (get<boolean>("tls.enabled")) {
    for (const p of ["tls.cert_file", "tls.key_file"] as const) {
      if (!isSet(p)) fail(p, `${p} is required when tls.enabled = true`);
    }
    if (get<string>("tls.client_auth") === "require" && !isSet("tls.ca_file")) {
      fail(
        "tls.ca_file",
        'tls.ca_file is required when tls.client_auth = "require" (the CA that signs client certificates)',
      );
    }
    for (const p of ["tls.cert_file", "tls.key_file", "tls.ca_file"] as const) readable(p);
  } else {
    const set: KeyPath[] = (["tls.cert_file", "tls.key_file", "tls.ca_file"] as const).filter(
      isSet,
    );
    if (get<string>("tls.client_auth") !== "none") set.push("tls.client_auth");
    if (set.length > 0 && ok("tls.enabled")) {
      warnings.push(`tls.enabled = false: the client API is plaintext; ${set.join(", ")} ignored`);
    }
  }

  // [ovn]: the external network, and client TLS for ssl: NB endpoints
  if (ok("ovn.external_cidr", "ovn.external_gateway")) {
    const cidrText = get<string>("ovn.external_cidr");
    const gwText = get<string>("ovn.external_gateway");
    if (cidrText === "" && gwText !== "") {
      fail("ovn.external_gateway", "ovn.external_cidr is required with ovn.external_gateway");
    } else if (cidrText !== "") {
      const cidr = parseIpv4Cidr(cidrText);
      if (typeof cidr === "string") {
        fail("ovn.external_cidr", `ovn.external_cidr: ${cidr}`);
      } else {
        const gw = /^[0-9.]+$/.test(gwText) ? parseIpv4Range(`${gwText}-${gwText}`) : "bad";
        if (gwText === "") {
          fail("ovn.external_cidr", "ovn.external_gateway is required with ovn.external_cidr");
        } else if (typeof gw === "string" || !contains(cidr, gw)) {
          fail(
            "ovn.external_gateway",
            `ovn.external_gateway: "${gwText}" is not an IPv4 address inside ${cidrText}`,
          );
        }
        if (ok("network.external_ip_pool")) {
          for (const text of get<string[]>("network.external_ip_pool")) {
            const r = parseIpv4Range(text);
            if (typeof r !== "string" && !contains(cidr, r)) {
              fail(
                "network.external_ip_pool",
                `network.external_ip_pool: "${text}" is outside ovn.external_cidr ${cidrText}`,
              );
            }
          }
        }
      }
    }
  }
  {
    const nbTls = get<string>("network.ovn_northbound_endpoint")
      .split(",")
      .some((r) => r.trim().startsWith("ssl:"));
    if (nbTls && get<boolean>("ovn.sync_enabled")) {
      for (const p of ["ovn.ca_file", "ovn.cert_file", "ovn.key_file"] as const) {
        if (!isSet(p)) fail(p, `${p} is required for an ssl: network.ovn_northbound_endpoint`);
      }
    }
    for (const p of ["ovn.ca_file", "ovn.cert_file", "ovn.key_file"] as const) readable(p);
  }

  // [peer_tls]
  if (get<boolean>("peer_tls.enabled")) {
    for (const p of ["peer_tls.cert_file", "peer_tls.key_file", "peer_tls.ca_file"] as const) {
      if (!isSet(p)) {
        fail(
          p,
          `${p} is required when peer_tls.enabled = true (mutual TLS needs this replica's certificate, key and the cluster CA)`,
        );
      }
      readable(p);
    }
  } else {
    const set = (["peer_tls.cert_file", "peer_tls.key_file", "peer_tls.ca_file"] as const).filter(
      isSet,
    );
    if (set.length > 0 && ok("peer_tls.enabled")) {
      warnings.push(`peer_tls.enabled = false: ${set.join(", ")} ignored`);
    }
    const peer = hostPort(get<string>("replica.peer_listen_addr"));
    if (peer !== undefined && !isLoopback(peer) && ok("peer_tls.enabled")) {
      warnings.push(
        "peer_tls.enabled = false and replica.peer_listen_addr is not a loopback address: Raft traffic between replicas is neither encrypted nor authenticated",
      );
    }
  }

  // [replica]: membership and advertised addresses
  const id = get<string>("replica.id");
  const join = get<boolean>("replica.join");
  const members = get<Record<string, string>>("replica.initial_cluster");
  const apiMembers = get<Record<string, string>>("replica.initial_cluster_api");
  const idOk = ok("replica.id") && id !== "";
  if (ok("replica.initial_cluster", "replica.join")) {
    const count = Object.keys(members).length;
    if (!join) {
      if (count === 0) {
        fail(
          "replica.initial_cluster",
          'replica.initial_cluster is required to found a cluster ("n1=host:port,n2=host:port,n3=host:port"); set replica.join = true to join an existing one',
        );
      } else if (idOk && !Object.hasOwn(members, id)) {
        fail(
          "replica.initial_cluster",
          `replica.initial_cluster must list this replica (id "${id}") among the founding members`,
        );
      }
    } else if (count === 0 || (idOk && count === 1 && Object.hasOwn(members, id))) {
      fail(
        "replica.initial_cluster",
        "replica.join = true needs replica.initial_cluster to name at least one current member to contact",
      );
    }
  }
  if (ok("replica.initial_cluster", "replica.initial_cluster_api")) {
    const extra = Object.keys(apiMembers).filter((m) => !Object.hasOwn(members, m));
    if (extra.length > 0) {
      fail(
        "replica.initial_cluster_api",
        `replica.initial_cluster_api names ${extra.join(", ")}, not in replica.initial_cluster`,
      );
    }
  }
  if (ok("replica.peer_dial_overrides") && idOk) {
    const overrides = get<Record<string, string>>("replica.peer_dial_overrides");
    if (Object.hasOwn(overrides, id)) {
      fail(
        "replica.peer_dial_overrides",
        `replica.peer_dial_overrides names this replica ("${id}"); a replica never dials itself`,
      );
    }
  }
  const advertise = (
    path: "replica.peer_advertise_addr" | "replica.api_advertise_addr",
    table: Record<string, string>,
    tablePath: KeyPath,
    listenPath: KeyPath,
  ) => {
    if (!ok(path, tablePath, listenPath, "replica.initial_cluster", "replica.join") || !idOk)
      return;
    const explicit = get<string>(path);
    const listed = table[id];
    if (explicit !== "") {
      if (listed !== undefined && listed !== explicit) {
        fail(
          path,
          `${path} "${explicit}" differs from this replica's entry in ${tablePath} ("${listed}")`,
        );
      }
      return;
    }
    if (listed !== undefined) {
      values.set(path, { value: listed, source: "default", origin: `derived from ${tablePath}` });
      return;
    }
    const listen = get<string>(listenPath);
    const hp = hostPort(listen);
    if (hp !== undefined && !isWildcard(hp) && hp.port !== 0) {
      values.set(path, { value: listen, source: "default", origin: `derived from ${listenPath}` });
      return;
    }
    // A lone founding member is never dialed nor named to clients: the address may stay unknown.
    if (!join && Object.keys(members).length === 1) return;
    fail(
      path,
      `${path} is required: ${listenPath} "${listen}" is not an address others can dial and ${tablePath} has no entry for "${id}"`,
    );
  };
  advertise(
    "replica.peer_advertise_addr",
    members,
    "replica.initial_cluster",
    "replica.peer_listen_addr",
  );
  advertise(
    "replica.api_advertise_addr",
    apiMembers,
    "replica.initial_cluster_api",
    "server.listen_addr",
  );

  // Listen addresses must not collide.
  const listens = (
    ["server.listen_addr", "replica.peer_listen_addr", "metrics.listen_addr"] as const
  )
    .filter((p) => ok(p) && get<string>(p) !== "")
    .map((p) => ({ p, hp: hostPort(get<string>(p))! }));
  for (let i = 0; i < listens.length; i++) {
    for (let j = i + 1; j < listens.length; j++) {
      const a = listens[i]!;
      const b = listens[j]!;
      const sameHost = a.hp.host === b.hp.host || isWildcard(a.hp) || isWildcard(b.hp);
      if (a.hp.port !== 0 && a.hp.port === b.hp.port && sameHost) {
        fail(
          b.p,
          `${b.p} "${get<string>(b.p)}" uses the same port as ${a.p} "${get<string>(a.p)}"`,
        );
      }
    }
  }

  // [network]
  const pool = ok("network.cidr_pool")
    ? parseIpv4Cidr(get<string>("network.cidr_pool"))
    : undefined;
  if (pool !== undefined && typeof pool !== "string") {
    const poolLen = Number(get<string>("network.cidr_pool").split("/")[1]);
    const vpcLen = get<number>("network.vpc_prefix_length");
    if (ok("network.vpc_prefix_length") && vpcLen < poolLen) {
      fail(
        "network.vpc_prefix_length",
        `network.vpc_prefix_length /${vpcLen} is larger than network.cidr_pool ${get<string>("network.cidr_pool")}`,
      );
    }
    if (ok("network.reserved_ranges")) {
      for (const text of get<string[]>("network.reserved_ranges")) {
        const r = parseIpv4Range(text);
        if (typeof r !== "string" && !contains(pool, r)) {
          fail(
            "network.reserved_ranges",
            `network.reserved_ranges: "${text}" is not inside network.cidr_pool ${pool.text}`,
          );
        }
      }
    }
    if (ok("network.external_ip_pool")) {
      for (const text of get<string[]>("network.external_ip_pool")) {
        const r = parseIpv4Range(text);
        if (typeof r !== "string" && overlaps(pool, r)) {
          fail(
            "network.external_ip_pool",
            `network.external_ip_pool: "${text}" overlaps network.cidr_pool ${pool.text} (external addresses must not be VPC addresses)`,
          );
        }
      }
    }
  }
  if (ok("network.default_subnet_size", "network.vpc_prefix_length")) {
    const vpcLen = get<number>("network.vpc_prefix_length");
    const subnet = get<number>("network.default_subnet_size");
    if (subnet < vpcLen) {
      fail(
        "network.default_subnet_size",
        `network.default_subnet_size /${subnet} does not fit in a VPC of network.vpc_prefix_length /${vpcLen}`,
      );
    }
  }
}

// ---------------------------------------------------------------------------------------------

function buildConfig(values: Values): NovanetConfig {
  const out: Record<string, Record<string, unknown>> = {};
  for (const entry of keys) {
    out[entry.section] ??= {};
    out[entry.section]![entry.key] = structuredClone(values.get(entry.path)!.value);
  }
  return freezeDeep(out as unknown as NovanetConfig);
}

/**
 * Loads the configuration: defaults, then the TOML file named by --config (or NOVANET_CONFIG),
 * then environment variables, then flags. Throws ConfigError listing every problem.
 */
export function loadConfig(options: LoadConfigOptions): LoadedConfig {
  const problems = new Problems();
  // Problems of each source, reported file first, then environment, then flags, then the rest.
  const fileProblems = new Problems();
  const envProblems = new Problems();
  const flagProblems = new Problems();
  const readFile = options.readFile ?? ((p: string) => readFileSyncUtf8(p));
  const checkFile = options.checkFile ?? defaultCheckFile;

  const fileWarnings: string[] = [];
  const envWarnings: string[] = [];
  const flagWarnings: string[] = [];
  const flags = flagLayer(options.argv, flagProblems, flagWarnings);
  const env = envLayer(options.env, envProblems, envWarnings);
  const envConfig = options.env[CONFIG_ENV];
  const configFile =
    flags.configPath ?? (envConfig !== undefined && envConfig !== "" ? envConfig : undefined);
  let file: Layer = new Map();
  if (configFile !== undefined) {
    let text: string | undefined;
    try {
      text = readFile(configFile);
    } catch (err) {
      const e = err as NodeJS.ErrnoException;
      const why =
        e.code === "ENOENT" ? "no such file" : e.code === "EISDIR" ? "is a directory" : e.message;
      const origin = flags.configPath !== undefined ? "flag --config" : `env ${CONFIG_ENV}`;
      fileProblems.add(
        "config",
        flags.configPath !== undefined ? "flag" : "env",
        origin,
        `cannot read config file ${configFile}: ${why}`,
      );
    }
    if (text !== undefined) file = fileLayer(configFile, text, fileProblems, fileWarnings);
  }

  const warnings = [...fileWarnings, ...envWarnings, ...flagWarnings];
  const values: Values = new Map();
  for (const entry of keys) {
    values.set(
      entry.path,
      flags.layer.get(entry.path) ??
        env.get(entry.path) ??
        file.get(entry.path) ?? { value: entry.spec.default, source: "default", origin: "default" },
    );
  }
  // Type errors in any layer already stand; the checks below look at the values in force. A key
  // whose value was refused in a layer above the one in force is not checked further: the value
  // in force is a fallback the operator did not mean.
  const rank: Record<ConfigSource, number> = { default: 0, file: 1, env: 2, flag: 3 };
  for (const [layerProblems, source] of [
    [fileProblems, "file"],
    [envProblems, "env"],
    [flagProblems, "flag"],
  ] as const) {
    for (const key of layerProblems.bad) {
      const inForce = values.get(key as KeyPath);
      if (inForce !== undefined && rank[inForce.source] < rank[source]) problems.bad.add(key);
    }
  }
  checkKeys(values, problems);
  crossChecks({ values, problems, warnings, checkFile });

  // Last, the state machine's own acceptance of [network] (it re-checks at bootstrap).
  const networkKeys = keys.filter((k) => k.section === "network").map((k) => k.path);
  if (networkKeys.every((p) => !problems.bad.has(p))) {
    const resolved = resolveConfig(toNetworkConfig(buildConfig(values)));
    if (!resolved.ok) {
      problems.add(
        "network",
        "default",
        "[network]",
        `the state machine refuses [network]: ${resolved.message}`,
      );
    }
  }

  const all = [...fileProblems.list, ...envProblems.list, ...flagProblems.list, ...problems.list];
  if (all.length > 0) throw new ConfigError(all);
  const sources = Object.fromEntries(
    keys.map((k) => [k.path, values.get(k.path)!.source]),
  ) as Record<KeyPath, ConfigSource>;
  return Object.freeze({
    config: buildConfig(values),
    sources: Object.freeze(sources),
    configFile,
    warnings: Object.freeze(warnings),
  });
}

function readFileSyncUtf8(path: string): string {
  return readFileSync(path, "utf8");
}

/** A copy of the config safe to log: secrets replaced by "<redacted>". */
export function redactConfig(config: NovanetConfig): NovanetConfig {
  const copy = structuredClone(config) as unknown as Record<string, Record<string, unknown>>;
  for (const entry of keys) {
    if (entry.spec.secret && copy[entry.section]![entry.key] !== "") {
      copy[entry.section]![entry.key] = "<redacted>";
    }
  }
  return freezeDeep(copy as unknown as NovanetConfig);
}
