// loadConfig: layering (flags > env > file > defaults), the parsing of each source, the config
// file's location, and the example files.
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { describe, expect, it } from "vitest";
import {
  defaultConfig,
  keys,
  loadConfig,
  redactConfig,
  toNetworkConfig,
} from "../../src/config/index.js";
import { CONFIG_PATH, load, MINIMAL, oneProblem, problemsOf } from "./helpers.js";

describe("defaults", () => {
  it("the minimal file loads; every other key has its default", () => {
    const { config, sources, warnings, configFile } = load({ file: MINIMAL });
    expect(configFile).toBe(CONFIG_PATH);
    expect(config.replica.id).toBe("n1");
    expect(config.server).toEqual(defaultConfig.server);
    expect(config.network).toEqual(defaultConfig.network);
    expect(config.tls).toEqual(defaultConfig.tls);
    expect(config.log.level).toBe("info");
    const fromFile = [
      "replica.id",
      "replica.data_dir",
      "replica.peer_listen_addr",
      "replica.initial_cluster",
      "auth.mode",
    ];
    for (const k of keys) {
      expect(sources[k.path], k.path).toBe(fromFile.includes(k.path) ? "file" : "default");
    }
    // Derived from this replica's initial_cluster entry.
    expect(config.replica.peer_advertise_addr).toBe("10.1.1.1:8082");
    // A lone founder needs no API address for others.
    expect(config.replica.api_advertise_addr).toBe("");
    expect(warnings).toEqual([]);
  });

  it("documents the spec's defaults", () => {
    expect(defaultConfig.server.listen_addr).toBe("0.0.0.0:8081");
    expect(defaultConfig.network).toMatchObject({
      ovn_northbound_endpoint: "tcp:127.0.0.1:6641",
      ovn_southbound_endpoint: "tcp:127.0.0.1:6642",
      cidr_pool: "10.0.0.0/8",
      default_subnet_size: 24,
      vpc_prefix_length: 16,
    });
  });

  it("returns a deeply frozen config", () => {
    const { config } = load({ file: MINIMAL });
    expect(Object.isFrozen(config)).toBe(true);
    expect(Object.isFrozen(config.replica.initial_cluster)).toBe(true);
    expect(Object.isFrozen(config.network.external_ip_pool)).toBe(true);
    expect(Object.isFrozen(defaultConfig.network)).toBe(true);
  });

  it("loads without any file from flags and environment alone", () => {
    const { config, sources, configFile } = load({
      env: { NOVANET_REPLICA_ID: "n1", NOVANET_AUTH_MODE: "none" },
      argv: ["--replica.data_dir=/d", "--replica.initial_cluster=n1=10.1.1.1:8082"],
    });
    expect(configFile).toBeUndefined();
    expect(config.replica.data_dir).toBe("/d");
    expect(sources["replica.id"]).toBe("env");
    expect(sources["replica.data_dir"]).toBe("flag");
  });
});

describe("precedence: flags > environment > file > defaults", () => {
  // Every combination of the three sources setting server.listen_addr.
  const combos = [0, 1, 2, 3, 4, 5, 6, 7].map((bits) => ({
    file: (bits & 1) !== 0,
    env: (bits & 2) !== 0,
    flag: (bits & 4) !== 0,
  }));
  it.each(combos)("file=$file env=$env flag=$flag", ({ file, env, flag }) => {
    const { config, sources } = load({
      file: MINIMAL + (file ? '\n[server]\nlisten_addr = "127.0.0.1:1001"\n' : ""),
      env: env ? { NOVANET_SERVER_LISTEN_ADDR: "127.0.0.1:1002" } : {},
      argv: flag ? ["--server.listen_addr=127.0.0.1:1003"] : [],
    });
    const [value, source] = flag
      ? ["127.0.0.1:1003", "flag"]
      : env
        ? ["127.0.0.1:1002", "env"]
        : file
          ? ["127.0.0.1:1001", "file"]
          : ["0.0.0.0:8081", "default"];
    expect(config.server.listen_addr).toBe(value);
    expect(sources["server.listen_addr"]).toBe(source);
  });

  it("the spec's names are layered the same way", () => {
    const { config, sources } = load({
      file: `${MINIMAL}\n[network]\novn_northbound_endpoint = "tcp:10.0.0.1:6641"\n`,
      env: { OVERLAY_NETWORK_OVN_NB_ENDPOINT: "tcp:10.0.0.2:6641" },
      argv: ["--ovn-sb-endpoint", "tcp:10.0.0.3:6642"],
    });
    expect(config.network.ovn_northbound_endpoint).toBe("tcp:10.0.0.2:6641");
    expect(sources["network.ovn_northbound_endpoint"]).toBe("env");
    expect(config.network.ovn_southbound_endpoint).toBe("tcp:10.0.0.3:6642");
    expect(sources["network.ovn_southbound_endpoint"]).toBe("flag");
  });

  it("NOVANET_* wins over OVERLAY_NETWORK_* for the same key, with a warning when they differ", () => {
    const both = load({
      file: MINIMAL,
      env: { OVERLAY_NETWORK_CIDR_POOL: "172.16.0.0/12", NOVANET_NETWORK_CIDR_POOL: "10.0.0.0/8" },
    });
    expect(both.config.network.cidr_pool).toBe("10.0.0.0/8");
    expect(both.warnings).toEqual([
      "env OVERLAY_NETWORK_CIDR_POOL and env NOVANET_NETWORK_CIDR_POOL are both set and differ; env NOVANET_NETWORK_CIDR_POOL wins (NOVANET_* names take precedence)",
    ]);
    const same = load({
      file: MINIMAL,
      env: { OVERLAY_NETWORK_CIDR_POOL: "10.0.0.0/8", NOVANET_NETWORK_CIDR_POOL: "10.0.0.0/8" },
    });
    expect(same.warnings).toEqual([]);
    const specOnly = load({ file: MINIMAL, env: { OVERLAY_NETWORK_CIDR_POOL: "172.16.0.0/12" } });
    expect(specOnly.config.network.cidr_pool).toBe("172.16.0.0/12");
    expect(specOnly.sources["network.cidr_pool"]).toBe("env");
  });

  it("all four spec environment variables and both spellings of a flag work", () => {
    const { config } = load({
      file: MINIMAL,
      env: {
        OVERLAY_NETWORK_OVN_NB_ENDPOINT: "tcp:10.0.0.1:6641",
        OVERLAY_NETWORK_OVN_SB_ENDPOINT: "tcp:10.0.0.1:6642",
        OVERLAY_NETWORK_CIDR_POOL: "100.64.0.0/10",
        OVERLAY_NETWORK_LISTEN_ADDR: "127.0.0.1:9001",
      },
    });
    expect(config.network.ovn_northbound_endpoint).toBe("tcp:10.0.0.1:6641");
    expect(config.network.ovn_southbound_endpoint).toBe("tcp:10.0.0.1:6642");
    expect(config.network.cidr_pool).toBe("100.64.0.0/10");
    expect(config.server.listen_addr).toBe("127.0.0.1:9001");
  });

  it("among flags the last occurrence wins, whatever its spelling", () => {
    const a = load({
      file: MINIMAL,
      argv: ["--listen-addr=127.0.0.1:1", "--server.listen_addr=127.0.0.1:2"],
    });
    expect(a.config.server.listen_addr).toBe("127.0.0.1:2");
    const b = load({
      file: MINIMAL,
      argv: ["--server.listen-addr=127.0.0.1:2", "--listen-addr", "127.0.0.1:1"],
    });
    expect(b.config.server.listen_addr).toBe("127.0.0.1:1");
  });
});

describe("environment parsing", () => {
  const base = { file: MINIMAL };
  it("lists are comma-separated, trimmed, empty items dropped", () => {
    const { config } = load({
      ...base,
      env: { NOVANET_NETWORK_EXTERNAL_IP_POOL: " 198.51.100.0/24 ,, 203.0.113.1-203.0.113.9 ," },
    });
    expect(config.network.external_ip_pool).toEqual(["198.51.100.0/24", "203.0.113.1-203.0.113.9"]);
  });

  it.each([
    ["true", true],
    ["TRUE", true],
    ["1", true],
    ["yes", true],
    ["on", true],
    ["false", false],
    ["0", false],
    ["No", false],
    ["off", false],
  ])("bool %s → %s", (text, value) => {
    const { config } = load({
      file: MINIMAL,
      env: {
        NOVANET_REPLICA_JOIN: text,
        NOVANET_REPLICA_INITIAL_CLUSTER: "n1=10.1.1.1:8082,n2=10.1.1.2:8082",
        NOVANET_REPLICA_API_ADVERTISE_ADDR: "10.1.1.1:8081",
      },
    });
    expect(config.replica.join).toBe(value);
  });

  it("ints allow a sign and surrounding blanks, nothing else", () => {
    expect(
      load({ ...base, env: { NOVANET_REPLICA_TICK_MS: " +100 " } }).config.replica.tick_ms,
    ).toBe(100);
    for (const bad of ["1e3", "100ms", "0x10", "1.5", "ten"]) {
      expect(oneProblem({ ...base, env: { NOVANET_REPLICA_TICK_MS: bad } })).toBe(
        `env NOVANET_REPLICA_TICK_MS: replica.tick_ms: expected an integer, got ${JSON.stringify(bad)}`,
      );
    }
  });

  it("member lists", () => {
    const { config } = load({
      ...base,
      env: {
        NOVANET_REPLICA_INITIAL_CLUSTER: "n1=10.1.1.1:8082, n2=10.1.1.2:8082",
        NOVANET_REPLICA_INITIAL_CLUSTER_API: "n1=10.1.1.1:8081,n2=10.1.1.2:8081",
      },
    });
    expect(config.replica.initial_cluster).toEqual({ n1: "10.1.1.1:8082", n2: "10.1.1.2:8082" });
    expect(config.replica.api_advertise_addr).toBe("10.1.1.1:8081");
  });

  it("an empty variable counts as unset", () => {
    const { config, sources } = load({ ...base, env: { NOVANET_SERVER_LISTEN_ADDR: "" } });
    expect(config.server.listen_addr).toBe("0.0.0.0:8081");
    expect(sources["server.listen_addr"]).toBe("default");
  });

  it("unknown variables: errors under NOVANET_<SECTION>_ and for near misses, others ignored", () => {
    expect(oneProblem({ ...base, env: { NOVANET_SERVER_PORT: "1" } })).toBe(
      "env NOVANET_SERVER_PORT: unknown environment variable NOVANET_SERVER_PORT",
    );
    expect(oneProblem({ ...base, env: { NOVANET_REPLICA_DATADIR: "/x" } })).toBe(
      "env NOVANET_REPLICA_DATADIR: unknown environment variable NOVANET_REPLICA_DATADIR (did you mean NOVANET_REPLICA_DATA_DIR?)",
    );
    expect(oneProblem({ ...base, env: { OVERLAY_NETWORK_LISTEN_ADR: "x" } })).toMatch(
      /did you mean OVERLAY_NETWORK_LISTEN_ADDR\?/,
    );
    expect(
      load({ ...base, env: { NOVANET_SIM_SEEDS: "1-10", PATH: "/bin", HOME: "/root" } }).warnings,
    ).toEqual([]);
  });
});

describe("flag parsing", () => {
  it("--key=value, --key value, bare booleans, dashes for underscores", () => {
    const { config, sources } = load({
      file: MINIMAL,
      argv: [
        "--replica.tick-ms",
        "20",
        "--replica.snapshot_entries=500",
        "--peer-tls.server-name=peers.novanet",
        "--log.level=debug",
        "--replica.join",
        "--replica.initial_cluster=n1=10.1.1.1:8082,n2=10.1.1.2:8082",
        "--replica.api_advertise_addr=10.1.1.1:8081",
      ],
    });
    expect(config.replica).toMatchObject({ tick_ms: 20, snapshot_entries: 500, join: true });
    expect(config.peer_tls.server_name).toBe("peers.novanet");
    expect(config.log.level).toBe("debug");
    expect(sources["replica.join"]).toBe("flag");
  });

  it("a boolean takes =false; it never swallows the next argument", () => {
    expect(load({ file: MINIMAL, argv: ["--replica.join=false"] }).config.replica.join).toBe(false);
    expect(
      problemsOf({ file: MINIMAL, argv: ["--tls.enabled", "false"] }).map((p) => p.message),
    ).toContain("unexpected argument (settings are given as --section.key=value)");
  });

  it("a value that starts with -- must use =", () => {
    expect(
      problemsOf({ file: MINIMAL, argv: ["--auth.issuer", "--weird"] }).map(
        (p) => `${p.origin}: ${p.message}`,
      ),
    ).toEqual([
      "flag --auth.issuer: --auth.issuer needs a value (--auth.issuer=VALUE)",
      "flag --weird: unknown flag --weird",
    ]);
    expect(load({ file: MINIMAL, argv: ["--auth.issuer=--weird"] }).config.auth.issuer).toBe(
      "--weird",
    );
  });

  it("unknown flags and stray arguments are errors with hints", () => {
    const messages = problemsOf({
      file: MINIMAL,
      argv: ["--listen-adr=x", "--server.listen=1", "-c", "extra", "--", "more"],
    }).map((p) => `${p.origin}: ${p.message}`);
    expect(messages).toEqual([
      "flag --listen-adr: unknown flag --listen-adr (did you mean --listen-addr?)",
      "flag --server.listen: unknown flag --server.listen (did you mean --server.listen_addr?)",
      'argument "-c": unknown flag -c: flags start with --',
      'argument "extra": unexpected argument (settings are given as --section.key=value)',
      'argument "more": unexpected argument',
    ]);
  });
});

describe("the config file", () => {
  it("is named by --config or NOVANET_CONFIG; --config wins", () => {
    const viaEnv = loadConfig({
      argv: [],
      env: { NOVANET_CONFIG: "/a.toml" },
      readFile: (p) => (p === "/a.toml" ? MINIMAL : '[log]\nlevel = "debug"\n' + MINIMAL),
    });
    expect(viaEnv.configFile).toBe("/a.toml");
    expect(viaEnv.config.log.level).toBe("info");
    const viaFlag = loadConfig({
      argv: ["--config=/b.toml"],
      env: { NOVANET_CONFIG: "/a.toml" },
      readFile: (p) => (p === "/a.toml" ? MINIMAL : `[log]\nlevel = "debug"\n${MINIMAL}`),
    });
    expect(viaFlag.configFile).toBe("/b.toml");
    expect(viaFlag.config.log.level).toBe("debug");
  });

  it("a missing file is an error naming where its path came from", () => {
    const [first] = problemsOf({ argv: ["--config", "/nope.toml", "--auth.mode=none"] });
    expect(`${first!.origin}: ${first!.message}`).toBe(
      "flag --config: cannot read config file /nope.toml: no such file",
    );
    expect(() =>
      loadConfig({ argv: ["--auth.mode=none"], env: { NOVANET_CONFIG: "/nope.toml" } }),
    ).toThrow("env NOVANET_CONFIG: cannot read config file /nope.toml: no such file");
    expect(problemsOf({ argv: ["--config"] })[0]!.message).toBe("--config needs a file path");
  });

  it("relative paths in the file are taken from the file's directory; from env/flags as given", () => {
    const { config } = load({
      file: `${MINIMAL}\n[tls]\nenabled = true\ncert_file = "tls/api.crt"\nkey_file = "/abs/api.key"\n`,
      env: { NOVANET_PEER_TLS_CA_FILE: "rel/ca.crt" },
      existing: ["/etc/novanet/tls/api.crt", "/abs/api.key"],
    });
    expect(config.tls.cert_file).toBe("/etc/novanet/tls/api.crt");
    expect(config.tls.key_file).toBe("/abs/api.key");
    expect(config.peer_tls.ca_file).toBe("rel/ca.crt");
  });

  it("takes members as a string or a table, dotted keys, and inline tables", () => {
    const { config } = load({
      file: `
auth = { mode = "none" }
[replica]
id = "n1"
data_dir = "/d"
initial_cluster.n1 = "10.1.1.1:8082"
initial_cluster."n2" = "10.1.1.2:8082"
[replica.initial_cluster_api]
n1 = "10.1.1.1:8081"
`,
    });
    expect(config.replica.initial_cluster).toEqual({ n1: "10.1.1.1:8082", n2: "10.1.1.2:8082" });
    expect(config.replica.initial_cluster_api).toEqual({ n1: "10.1.1.1:8081" });
    expect(config.replica.api_advertise_addr).toBe("10.1.1.1:8081");
    expect(config.auth.mode).toBe("none");
  });

  it("the spec §10.1 example loads (its ChainFire setting ignored with a warning)", () => {
    const spec = `
[network]
ovn_northbound_endpoint = "tcp:127.0.0.1:6641"
ovn_southbound_endpoint = "tcp:127.0.0.1:6642"
cidr_pool = "10.0.0.0/8"
default_subnet_size = 24

[storage]
chainfire_endpoint = "http://127.0.0.1:50051"

[server]
listen_addr = "0.0.0.0:8081"
`;
    const { config, warnings } = load({
      file: spec,
      argv: [
        "--replica.id=n1",
        "--replica.data_dir=/d",
        "--replica.initial_cluster=n1=127.0.0.1:8082",
        "--auth.mode=none",
        "--chainfire-endpoint=http://127.0.0.1:50051",
      ],
      env: { OVERLAY_NETWORK_CHAINFIRE_ENDPOINT: "http://127.0.0.1:50051" },
    });
    expect(config.network.cidr_pool).toBe("10.0.0.0/8");
    expect(warnings).toEqual([
      `${CONFIG_PATH}:9: storage.chainfire_endpoint is ignored: NovaNET keeps its state in its own Raft log ([replica])`,
      "env OVERLAY_NETWORK_CHAINFIRE_ENDPOINT is ignored: NovaNET keeps its state in its own Raft log ([replica])",
      "flag --chainfire-endpoint is ignored: NovaNET keeps its state in its own Raft log ([replica])",
      "peer_tls.enabled = false and replica.peer_listen_addr is not a loopback address: Raft traffic between replicas is neither encrypted nor authenticated",
    ]);
    expect(oneProblem({ file: `${MINIMAL}\n[storage]\nendpoint = "x"\n` })).toBe(
      `${CONFIG_PATH}:12: unknown key storage.endpoint`,
    );
  });

  it("src/config/novanet.example.toml loads, sets every key, and agrees with the docs' defaults", () => {
    const path = resolve(import.meta.dirname, "../../src/config/novanet.example.toml");
    const { config, sources, warnings } = loadConfig({
      argv: ["--config", path],
      env: {},
      checkFile: () => undefined,
    });
    expect(warnings).toEqual([]);
    const notSet = keys.filter((k) => sources[k.path] !== "file").map((k) => k.path);
    // The two alternatives to jwks_file are shown commented out.
    expect(notSet).toEqual(["auth.hs256_secret", "auth.hs256_secret_file"]);
    expect(config.replica.initial_cluster).toEqual({
      n1: "10.10.0.11:8082",
      n2: "10.10.0.12:8082",
      n3: "10.10.0.13:8082",
    });
    expect(config.network.external_ip_pool).toEqual([
      "198.51.100.0/24",
      "203.0.113.10-203.0.113.99",
    ]);
    expect(readFileSync(path, "utf8")).toContain("[peer_tls]");
  });
});

describe("helpers", () => {
  it("redactConfig hides the HS256 secret", () => {
    const secret = "s".repeat(40);
    const { config } = load({
      file: MINIMAL.replace('mode = "none"', 'mode = "jwt"'),
      env: { NOVANET_AUTH_HS256_SECRET: secret },
      argv: ["--tls.enabled", "--tls.cert_file=/c", "--tls.key_file=/k"],
      existing: ["/c", "/k"],
    });
    expect(config.auth.hs256_secret).toBe(secret);
    const safe = redactConfig(config);
    expect(safe.auth.hs256_secret).toBe("<redacted>");
    expect(JSON.stringify(safe)).not.toContain(secret);
    expect(redactConfig(load({ file: MINIMAL }).config).auth.hs256_secret).toBe("");
  });

  it("toNetworkConfig gives the state machine its [network]", () => {
    const { config } = load({
      file: `${MINIMAL}\n[network]\ncidr_pool = "172.16.0.0/12"\nvpc_prefix_length = 20\ndefault_subnet_size = 26\nexternal_ip_pool = ["198.51.100.0/28"]\nsession_timeout_s = 60\n`,
    });
    expect(toNetworkConfig(config)).toMatchObject({
      cidr_pool: "172.16.0.0/12",
      vpc_prefix_length: 20,
      default_subnet_size: 26,
      external_ip_pool: ["198.51.100.0/28"],
      session_timeout_ms: 60_000,
    });
  });
});
