// Every configuration key: its type, default, documentation, and the environment variables and
// flags that set it. The table is the single source of truth for loading (load.ts), for the
// "did you mean" hints, and for docs/configuration.md (a test keeps the doc in step).
//
// Spec §10 keys keep their spec names: [network] ovn_northbound_endpoint,
// ovn_southbound_endpoint, cidr_pool, default_subnet_size, [server] listen_addr, their
// OVERLAY_NETWORK_* variables and the flags --ovn-nb-endpoint, --ovn-sb-endpoint, --listen-addr.
// Everything else is a NovaNET addition (NovaNET runs its own Raft instead of ChainFire).

export type LogLevel = "fatal" | "error" | "warn" | "info" | "debug" | "trace" | "silent";

export interface NovanetConfig {
  readonly server: {
    /** gRPC client API (NetworkService, ClusterService). */
    readonly listen_addr: string;
  };
  readonly network: {
    readonly ovn_northbound_endpoint: string;
    readonly ovn_southbound_endpoint: string;
    readonly cidr_pool: string;
    readonly default_subnet_size: number;
    readonly vpc_prefix_length: number;
    readonly external_ip_pool: readonly string[];
    readonly reserved_ranges: readonly string[];
    readonly session_timeout_s: number;
  };
  readonly replica: {
    readonly id: string;
    readonly data_dir: string;
    readonly peer_listen_addr: string;
    readonly peer_advertise_addr: string;
    readonly api_advertise_addr: string;
    readonly cluster_id: string;
    /** id → peer address ("host:port"). */
    readonly initial_cluster: Readonly<Record<string, string>>;
    /** id → client API address ("host:port"). */
    readonly initial_cluster_api: Readonly<Record<string, string>>;
    /** id → address this replica dials for that peer instead of its membership address. */
    readonly peer_dial_overrides: Readonly<Record<string, string>>;
    readonly join: boolean;
    readonly tick_ms: number;
    readonly snapshot_entries: number;
  };
  readonly auth: {
    readonly mode: "none" | "jwt";
    readonly hs256_secret: string;
    readonly hs256_secret_file: string;
    readonly jwks_file: string;
    readonly jwks_reload_s: number;
    readonly issuer: string;
    readonly audience: string;
    readonly clock_tolerance_s: number;
  };
  readonly tls: {
    readonly enabled: boolean;
    readonly cert_file: string;
    readonly key_file: string;
    readonly ca_file: string;
    readonly client_auth: "none" | "require";
  };
  readonly peer_tls: {
    readonly enabled: boolean;
    readonly cert_file: string;
    readonly key_file: string;
    readonly ca_file: string;
    readonly server_name: string;
  };
  readonly ovn: {
    readonly sync_enabled: boolean;
    readonly external_cidr: string;
    readonly external_gateway: string;
    readonly physical_network: string;
    readonly gateway_chassis: readonly string[];
    readonly full_sync_interval_s: number;
    readonly txn_ops_max: number;
    readonly nb_message_bytes_max: number;
    readonly adopt_cluster_ids: readonly string[];
    readonly ca_file: string;
    readonly cert_file: string;
    readonly key_file: string;
  };
  readonly metrics: {
    /** HTTP for /metrics, /health, /ready; "" turns it off. */
    readonly listen_addr: string;
  };
  readonly log: {
    readonly level: LogLevel;
  };
}

export type Section = keyof NovanetConfig;
/** "section.key", e.g. "server.listen_addr". */
export type KeyPath = { [S in Section]: `${S}.${keyof NovanetConfig[S] & string}` }[Section];

/** How a value is written: in TOML it is the TOML type; in env/flags it is parsed from text. */
export type Kind =
  | { readonly type: "string" }
  | { readonly type: "int"; readonly min: number; readonly max: number }
  | { readonly type: "bool" }
  | { readonly type: "enum"; readonly values: readonly string[] }
  /** TOML array of strings; env/flag "a,b,c". */
  | { readonly type: "list" }
  /** "id=host:port,id=host:port" (also a TOML inline table { id = "host:port" }). */
  | { readonly type: "members" };

export interface KeySpec<T> {
  readonly kind: Kind;
  readonly default: T;
  readonly doc: string;
  /** A file path: relative paths in the config file are taken from the file's directory. */
  readonly path?: true;
  /** Never echoed in errors, warnings or redacted dumps. */
  readonly secret?: true;
  /** Spec §10 names for the key. */
  readonly specEnv?: string;
  readonly specFlag?: string;
  /** Shown instead of the default in the docs (e.g. "derived"). */
  readonly defaultDoc?: string;
}

type SchemaOf<C> = {
  readonly [S in keyof C]: { readonly [K in keyof C[S]]: KeySpec<C[S][K]> };
};

const str = (def: string, doc: string, extra: Partial<KeySpec<string>> = {}): KeySpec<string> => ({
  kind: { type: "string" },
  default: def,
  doc,
  ...extra,
});
const int = (
  def: number,
  min: number,
  max: number,
  doc: string,
  extra: Partial<KeySpec<number>> = {},
): KeySpec<number> => ({ kind: { type: "int", min, max }, default: def, doc, ...extra });
const bool = (def: boolean, doc: string): KeySpec<boolean> => ({
  kind: { type: "bool" },
  default: def,
  doc,
});
const oneOf = <T extends string>(values: readonly T[], def: T, doc: string): KeySpec<T> => ({
  kind: { type: "enum", values },
  default: def,
  doc,
});
const file = (doc: string): KeySpec<string> => str("", doc, { path: true });

export const schema = {
  server: {
    listen_addr: str("0.0.0.0:8081", "gRPC client API listen address (host:port).", {
      specEnv: "OVERLAY_NETWORK_LISTEN_ADDR",
      specFlag: "listen-addr",
    }),
  },
  network: {
    ovn_northbound_endpoint: str(
      "tcp:127.0.0.1:6641",
      "OVN Northbound DB: tcp:HOST:PORT, ssl:HOST:PORT or unix:PATH; a comma-separated list for a clustered DB.",
      { specEnv: "OVERLAY_NETWORK_OVN_NB_ENDPOINT", specFlag: "ovn-nb-endpoint" },
    ),
    ovn_southbound_endpoint: str(
      "tcp:127.0.0.1:6642",
      "OVN Southbound DB, same forms as the northbound endpoint.",
      { specEnv: "OVERLAY_NETWORK_OVN_SB_ENDPOINT", specFlag: "ovn-sb-endpoint" },
    ),
    cidr_pool: str("10.0.0.0/8", "IPv4 pool that VPC CIDRs are auto-allocated from.", {
      specEnv: "OVERLAY_NETWORK_CIDR_POOL",
    }),
    default_subnet_size: int(
      24,
      8,
      29,
      "Prefix length of the default subnet created with a VPC (vpc_prefix_length … 29).",
    ),
    vpc_prefix_length: int(
      16,
      8,
      24,
      "Prefix length of an auto-allocated VPC CIDR (spec §3.2: /16); at least the pool's prefix.",
    ),
    external_ip_pool: {
      kind: { type: "list" },
      default: [],
      doc: 'Public IPv4 addresses for SNAT/DNAT: CIDRs ("198.51.100.0/24") or ranges ("198.51.100.10-198.51.100.20"); no overlaps.',
    },
    reserved_ranges: {
      kind: { type: "list" },
      default: [],
      doc: "CIDRs or a-b ranges inside cidr_pool that are never allocated to a VPC (e.g. the underlay's own networks).",
    },
    session_timeout_s: int(
      86_400,
      1,
      30 * 86_400,
      "A client session (idempotency) idle this long in log time expires (1 s … 30 days).",
    ),
  },
  replica: {
    id: str("", "This replica's id (letters, digits, '.', '_', '-'; up to 64). Required."),
    data_dir: file("Directory of the Raft log and snapshots (LevelDB). Required."),
    peer_listen_addr: str("0.0.0.0:8082", "Raft peer transport listen address (host:port)."),
    peer_advertise_addr: str(
      "",
      "Address other replicas dial for this one. Empty: this replica's entry in initial_cluster, else peer_listen_addr when it is not a wildcard.",
      { defaultDoc: "derived" },
    ),
    api_advertise_addr: str(
      "",
      "Client API address given to clients that must be redirected to this replica (the leader). Empty: this replica's entry in initial_cluster_api, else server.listen_addr when it is not a wildcard.",
      { defaultDoc: "derived" },
    ),
    cluster_id: str(
      "novanet",
      "Name of the cluster; replicas refuse peers of another cluster (letters, digits, '.', '_', '-').",
    ),
    initial_cluster: {
      kind: { type: "members" },
      default: {},
      doc: 'Peer addresses "n1=host:port,n2=host:port,…" (or a TOML table). A new cluster: every founding member, this one included. With join = true: current members to contact.',
    },
    initial_cluster_api: {
      kind: { type: "members" },
      default: {},
      doc: 'Client API addresses "n1=host:port,…" of the members, so that a follower can name the leader\'s API. Ids must appear in initial_cluster.',
    },
    peer_dial_overrides: {
      kind: { type: "members" },
      default: {},
      doc: "Peer id → the address this replica dials for that peer instead of its address in the replicated membership, \"n2=host:port,n3=host:port\" (or a TOML table). For a proxy or NAT between replicas, where the address a replica must dial differs per dialer, and for the chaos tests, which put a fault-injecting proxy on every directed link i→j. Only this replica's dialing changes (Raft traffic and write forwarding); the membership, and what other replicas dial, stay as they are. Ids need not be members yet; not this replica's own id.",
    },
    join: bool(
      false,
      "Join an existing cluster (start empty and wait to be added) instead of founding one.",
    ),
    tick_ms: int(50, 1, 10_000, "Wall-clock length of one Raft tick, in milliseconds."),
    snapshot_entries: int(
      10_000,
      1,
      1_000_000_000,
      "Take a snapshot and compact the log after this many applied entries.",
    ),
  },
  auth: {
    mode: oneOf(
      ["none", "jwt"] as const,
      "jwt",
      'Client API authentication: "jwt" (bearer tokens) or "none" (local development only: every caller may act on every tenant).',
    ),
    hs256_secret: str(
      "",
      "HS256 shared secret (at least 32 bytes). Prefer hs256_secret_file: a flag is visible in ps.",
      { secret: true },
    ),
    hs256_secret_file: file(
      "File holding the HS256 shared secret (one trailing newline is ignored).",
    ),
    jwks_file: file(
      "JSON Web Key Set file of public RS256 / EdDSA (Ed25519) keys, each with a kid; re-read when it changes.",
    ),
    jwks_reload_s: int(
      10,
      0,
      3600,
      "Check the JWKS file for changes at most this often, in seconds (0: on every call).",
    ),
    issuer: str("", 'Required "iss" of tokens; empty: not checked.'),
    audience: str("", 'Required "aud" of tokens; empty: not checked.'),
    clock_tolerance_s: int(
      30,
      0,
      600,
      "Leeway for token exp / nbf against this replica's clock, in seconds.",
    ),
  },
  tls: {
    enabled: bool(false, "Serve the client API over TLS."),
    cert_file: file("PEM certificate chain of the client API server."),
    key_file: file("PEM private key of cert_file (unencrypted)."),
    ca_file: file(
      "PEM CA bundle that signs client certificates (needed by client_auth = require).",
    ),
    client_auth: oneOf(
      ["none", "require"] as const,
      "none",
      '"require": clients must present a certificate signed by ca_file (mutual TLS).',
    ),
  },
  peer_tls: {
    enabled: bool(false, "Mutual TLS between replicas (Raft transport)."),
    cert_file: file(
      "PEM certificate of this replica, signed by the cluster CA; used as server and as client (extendedKeyUsage serverAuth + clientAuth).",
    ),
    key_file: file("PEM private key of cert_file (unencrypted)."),
    ca_file: file("PEM cluster CA: peers must present certificates it signed."),
    server_name: str(
      "",
      "Name to verify in a peer's certificate instead of the host dialed (one shared name in every peer certificate).",
    ),
  },
  ovn: {
    sync_enabled: bool(
      true,
      "Keep OVN Northbound (network.ovn_northbound_endpoint) in step with the replicated state: the leader writes, every replica watches port status. false: no OVN connection at all (API-only test setups).",
    ),
    external_cidr: str(
      "",
      'IPv4 CIDR of the provider ("external") network that VPC routers reach through their gateway port; SNAT/DNAT addresses lie in it. Empty: no external network (SNAT/DNAT stay in the state but get no OVN rows).',
    ),
    external_gateway: str(
      "",
      "Upstream router on the external network: next hop of every VPC router's default route. Required with external_cidr.",
    ),
    physical_network: str(
      "",
      "network_name of the external network's localnet port (an ovn-bridge-mappings name such as physnet1). Empty: no localnet port.",
    ),
    gateway_chassis: {
      kind: { type: "list" },
      default: [],
      doc: "Chassis names (Open_vSwitch external_ids:system-id) that host VPC gateway ports, highest priority first.",
    },
    full_sync_interval_s: int(
      60,
      1,
      86_400,
      "While leading, compare all of OVN Northbound with the state this often and repair drift, in seconds.",
    ),
    txn_ops_max: int(
      1000,
      10,
      100_000,
      "Operations per OVN Northbound transaction; larger changes are split into several.",
    ),
    nb_message_bytes_max: int(
      500 * 1024 * 1024,
      1024 * 1024,
      500 * 1024 * 1024,
      "Largest single message accepted from OVN Northbound, in bytes. The first monitor reply holds every monitored row (over 64 MiB at 100k ports); the ceiling is the longest string Node can hold.",
    ),
    adopt_cluster_ids: {
      kind: { type: "list" },
      default: [],
      doc: "Cluster ids whose OVN Northbound rows this cluster takes over (after a restore from a backup: the backup's cluster id). The leader rewrites their owner to replica.cluster_id in place (same rows, same uuids) and removes those it does not need. Never list a cluster that still runs.",
    },
    ca_file: file("PEM CA certificate that signs the NB server's certificate (ssl: endpoints)."),
    cert_file: file("PEM client certificate for ssl: NB endpoints."),
    key_file: file("PEM private key of ovn.cert_file."),
  },
  metrics: {
    listen_addr: str(
      "0.0.0.0:8083",
      'HTTP listen address for /metrics, /health and /ready; "" turns it off.',
    ),
  },
  log: {
    level: oneOf(
      ["fatal", "error", "warn", "info", "debug", "trace", "silent"] as const,
      "info",
      "Log level (pino).",
    ),
  },
} as const satisfies SchemaOf<NovanetConfig>;

export interface KeyEntry {
  readonly path: KeyPath;
  readonly section: Section;
  readonly key: string;
  readonly spec: KeySpec<unknown>;
  /** NOVANET_<SECTION>_<KEY>. */
  readonly env: string;
  /** --<section>.<key> (dashes are accepted for underscores). */
  readonly flag: string;
}

export const sections = Object.keys(schema) as Section[];

export const keys: readonly KeyEntry[] = sections.flatMap((section) =>
  Object.entries(schema[section] as Record<string, KeySpec<unknown>>).map(([key, spec]) => ({
    path: `${section}.${key}` as KeyPath,
    section,
    key,
    spec,
    env: `NOVANET_${section}_${key}`.toUpperCase(),
    flag: `--${section}.${key}`,
  })),
);

export const keyByPath: ReadonlyMap<string, KeyEntry> = new Map(keys.map((k) => [k.path, k]));

/** The spec's ChainFire settings: accepted for compatibility, ignored with a warning. */
export const ignoredSpecSettings = {
  file: "storage.chainfire_endpoint",
  env: "OVERLAY_NETWORK_CHAINFIRE_ENDPOINT",
  flag: "chainfire-endpoint",
} as const;

/** Environment variable naming the config file when --config is not given (NovaNET). */
export const CONFIG_ENV = "NOVANET_CONFIG";

function freezeDeep<T>(value: T): T {
  if (typeof value === "object" && value !== null) {
    for (const v of Object.values(value)) freezeDeep(v);
    Object.freeze(value);
  }
  return value;
}

/** The defaults of every key (replica.id and replica.data_dir have none: they are required). */
export const defaultConfig: NovanetConfig = freezeDeep(
  Object.fromEntries(
    sections.map((section) => [
      section,
      Object.fromEntries(
        Object.entries(schema[section] as Record<string, KeySpec<unknown>>).map(([k, spec]) => [
          k,
          structuredClone(spec.default),
        ]),
      ),
    ]),
  ) as unknown as NovanetConfig,
);

export { freezeDeep };
