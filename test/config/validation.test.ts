// Every validation rule of loadConfig, each with where the bad value came from.
import { describe, expect, it } from "vitest";
import { ConfigError } from "../../src/config/index.js";
import { CONFIG_PATH, type LoadInput, load, MINIMAL, oneProblem, problemsOf } from "./helpers.js";

const F = CONFIG_PATH;

/** MINIMAL with extra TOML appended (new sections only; MINIMAL has [replica] and [auth]). */
const withToml = (extra: string) => `${MINIMAL}${extra}`;
/** MINIMAL with [replica] lines replaced/added. */
function replica(lines: Record<string, string>): string {
  const base: Record<string, string> = {
    id: '"n1"',
    data_dir: '"/var/lib/novanet"',
    peer_listen_addr: '"127.0.0.1:8082"',
    initial_cluster: '"n1=10.1.1.1:8082"',
    ...lines,
  };
  const body = Object.entries(base)
    .filter(([, v]) => v !== "")
    .map(([k, v]) => `${k} = ${v}`)
    .join("\n");
  return `[replica]\n${body}\n\n[auth]\nmode = "none"\n`;
}

function messages(input: LoadInput): string[] {
  return problemsOf(input).map((p) => `${p.origin}: ${p.message}`);
}

describe("types in the file", () => {
  it.each([
    [
      "[server]\nlisten_addr = 8081",
      `${F}:12: server.listen_addr: expected a string, got the integer 8081`,
    ],
    [
      '[network]\ndefault_subnet_size = "24"',
      `${F}:12: network.default_subnet_size: expected an integer, got the string "24" (remove the quotes)`,
    ],
    [
      "[network]\ndefault_subnet_size = 24.0",
      `${F}:12: network.default_subnet_size: expected an integer, got the number 24`,
    ],
    [
      '[tls]\nenabled = "true"',
      `${F}:12: tls.enabled: expected a boolean (true or false), got the string "true" (remove the quotes)`,
    ],
    [
      '[network]\nexternal_ip_pool = "198.51.100.0/24"',
      `${F}:12: network.external_ip_pool: expected an array of strings, e.g. ["a", "b"], got the string "198.51.100.0/24" (write ["198.51.100.0/24"])`,
    ],
    [
      "[network]\nexternal_ip_pool = [1, 2]",
      `${F}:12: network.external_ip_pool: expected an array of strings, e.g. ["a", "b"], got an array`,
    ],
    [
      "[log]\nlevel = 3",
      `${F}:12: log.level: expected one of "fatal", "error", "warn", "info", "debug", "trace", "silent", got the integer 3`,
    ],
    [
      "[metrics]\nlisten_addr = 1979-05-27",
      `${F}:12: metrics.listen_addr: expected a string, got the date 1979-05-27`,
    ],
    [
      "[network]\nsession_timeout_s = 9007199254740993",
      `${F}:12: network.session_timeout_s: 9007199254740993 is out of range 1..2592000`,
    ],
    [
      '[server.listen_addr]\nhost = "x"',
      `${F}:11: server.listen_addr: expected a string, got a table`,
    ],
  ])("%s", (toml, expected) => {
    expect(oneProblem({ file: withToml(`\n${toml}\n`) })).toBe(expected);
  });

  it("members: a table of strings only", () => {
    expect(
      oneProblem({ file: replica({ initial_cluster: '{ n1 = "10.1.1.1:8082", n2 = 7 }' }) }),
    ).toBe(`${F}:5: replica.initial_cluster: member "n2": expected "host:port", got the integer 7`);
    expect(oneProblem({ file: replica({ initial_cluster: '"n1"' }) })).toBe(
      `${F}:5: replica.initial_cluster: "n1" is not id=host:port (in "n1")`,
    );
  });

  it("a TOML syntax error gives line and column", () => {
    expect(messages({ file: '[server]\nlisten_addr = "x\n' })[0]).toMatch(
      new RegExp(`^${F}:2:\\d+: TOML syntax error: `),
    );
  });
});

describe("unknown names in the file", () => {
  it.each([
    [
      '[netwrk]\ncidr_pool = "10.0.0.0/8"',
      `${F}:12: unknown section [netwrk] (did you mean [network]?)`,
    ],
    ['[ovsdb]\nendpoint = "x"', `${F}:12: unknown section [ovsdb]`],
    [
      '[network]\ncidr_poool = "10.0.0.0/8"',
      `${F}:13: unknown key network.cidr_poool (did you mean cidr_pool?)`,
    ],
    [
      '[network]\ncidr = "10.0.0.0/8"',
      `${F}:13: unknown key network.cidr (did you mean cidr_pool?)`,
    ],
    [
      '[network]\nlisten_addr = "0.0.0.0:1"',
      `${F}:13: unknown key network.listen_addr (listen_addr belongs in [server] or [metrics])`,
    ],
    [
      '[tls]\nca = "x"',
      `${F}:13: unknown key tls.ca; keys of [tls]: enabled, cert_file, key_file, ca_file, client_auth`,
    ],
    ['[log]\nformat = "json"', `${F}:13: unknown key log.format; keys of [log]: level`],
  ])("%s", (toml, expected) => {
    expect(oneProblem({ file: withToml(`\n\n${toml}\n`) })).toBe(expected);
  });

  it("top-level keys", () => {
    expect(oneProblem({ file: `server = 1\n${MINIMAL}` })).toBe(
      `${F}:1: server must be a table ([server])`,
    );
    expect(oneProblem({ file: `listen_addr = "0.0.0.0:1"\n${MINIMAL}` })).toBe(
      `${F}:1: listen_addr must be inside [server] or [metrics]`,
    );
    expect(oneProblem({ file: `verbose = true\n${MINIMAL}` })).toBe(
      `${F}:1: unknown top-level key verbose; settings go in sections such as [server]`,
    );
  });
});

describe("values", () => {
  const flag = (...argv: string[]) => ({ file: MINIMAL, argv });
  it.each([
    [
      flag("--replica.tick_ms=0"),
      "flag --replica.tick_ms: replica.tick_ms: 0 is out of range 1..10000",
    ],
    [
      flag("--auth.clock_tolerance_s=601"),
      "flag --auth.clock_tolerance_s: auth.clock_tolerance_s: 601 is out of range 0..600",
    ],
    [
      flag("--network.default_subnet_size=30"),
      "flag --network.default_subnet_size: network.default_subnet_size: 30 is out of range 8..29",
    ],
    [
      flag("--network.session_timeout_s=0"),
      "flag --network.session_timeout_s: network.session_timeout_s: 0 is out of range 1..2592000",
    ],
    [
      flag("--log.level=warning"),
      'flag --log.level: log.level: "warning" is not one of "fatal", "error", "warn", "info", "debug", "trace", "silent" (did you mean warn?)',
    ],
    [
      flag("--tls.client_auth=optional"),
      'flag --tls.client_auth: tls.client_auth: "optional" is not one of "none", "require"',
    ],
    [
      flag("--auth.mode=JWT"),
      'flag --auth.mode: auth.mode: "JWT" is not one of "none", "jwt" (did you mean jwt?)',
    ],
    [
      flag("--listen-addr=0.0.0.0"),
      'flag --listen-addr: server.listen_addr: "0.0.0.0" has no port (expected host:port)',
    ],
    [
      flag("--replica.peer_listen_addr=0.0.0.0:99999"),
      'flag --replica.peer_listen_addr: replica.peer_listen_addr: "0.0.0.0:99999": port 99999 is out of range 0..65535',
    ],
    [
      flag("--metrics.listen_addr=metrics"),
      'flag --metrics.listen_addr: metrics.listen_addr: "metrics" has no port (expected host:port)',
    ],
    [
      flag("--replica.peer_advertise_addr=0.0.0.0:8082"),
      'flag --replica.peer_advertise_addr: replica.peer_advertise_addr: "0.0.0.0:8082" is a wildcard address; give one that others can dial',
    ],
    [
      flag("--replica.api_advertise_addr=10.1.1.1:0"),
      'flag --replica.api_advertise_addr: replica.api_advertise_addr: "10.1.1.1:0": port 0 is out of range 1..65535',
    ],
    [
      flag("--ovn-nb-endpoint=127.0.0.1:6641"),
      'flag --ovn-nb-endpoint: network.ovn_northbound_endpoint: "127.0.0.1:6641" is not an OVSDB endpoint (tcp:HOST:PORT, ssl:HOST:PORT or unix:PATH)',
    ],
    [
      flag("--ovn-sb-endpoint=tcp:ovn:6642"),
      'flag --ovn-sb-endpoint: network.ovn_southbound_endpoint: "tcp:ovn:6642": OVSDB endpoints take an IP address, not a host name',
    ],
    [
      flag("--network.cidr_pool=10.0.0.1/8"),
      'flag --network.cidr_pool: network.cidr_pool: "10.0.0.1/8" has host bits set; did you mean "10.0.0.0/8"?',
    ],
    [
      flag("--network.cidr_pool=fd00::/8"),
      'flag --network.cidr_pool: network.cidr_pool: "fd00::/8" is IPv6; an IPv4 CIDR is needed',
    ],
    [
      flag("--network.external_ip_pool=198.51.100.0/24,198.51.100.128/25"),
      'flag --network.external_ip_pool: network.external_ip_pool: "198.51.100.128/25" overlaps "198.51.100.0/24"',
    ],
    [
      flag("--network.external_ip_pool=198.51.100.9-198.51.100.1"),
      'flag --network.external_ip_pool: network.external_ip_pool: "198.51.100.9-198.51.100.1": the range ends before it starts',
    ],
    [
      flag("--network.external_ip_pool=10.9.0.0/24"),
      'flag --network.external_ip_pool: network.external_ip_pool: "10.9.0.0/24" overlaps network.cidr_pool 10.0.0.0/8 (external addresses must not be VPC addresses)',
    ],
    [
      flag("--network.reserved_ranges=172.16.0.0/16"),
      'flag --network.reserved_ranges: network.reserved_ranges: "172.16.0.0/16" is not inside network.cidr_pool 10.0.0.0/8',
    ],
    [
      flag("--network.reserved_ranges=10.0.0.0/33"),
      'flag --network.reserved_ranges: network.reserved_ranges: "10.0.0.0/33": prefix length "33" is not in 0..32',
    ],
    [
      flag("--network.cidr_pool=172.16.0.0/12", "--network.vpc_prefix_length=8"),
      "flag --network.vpc_prefix_length: network.vpc_prefix_length /8 is larger than network.cidr_pool 172.16.0.0/12",
    ],
    [
      flag("--network.vpc_prefix_length=20", "--network.default_subnet_size=16"),
      "flag --network.default_subnet_size: network.default_subnet_size /16 does not fit in a VPC of network.vpc_prefix_length /20",
    ],
    [
      flag("--network.cidr_pool=127.0.0.0/8"),
      "[network]: the state machine refuses [network]: cidr_pool: address range not allowed",
    ],
    [
      flag("--replica.cluster_id=my cluster"),
      `flag --replica.cluster_id: replica.cluster_id: "my cluster" is not a valid id (letters, digits, '.', '_', '-'; starts with a letter or digit; up to 64)`,
    ],
    [
      flag("--peer_tls.server_name=bad name"),
      'flag --peer_tls.server_name: peer_tls.server_name: "bad name" is not a host name',
    ],
  ])("%j", (input, expected) => {
    expect(oneProblem(input)).toBe(expected);
  });
});

describe("[replica]", () => {
  it("id and data_dir are required", () => {
    expect(messages({ file: replica({ id: "", data_dir: "" }) })).toEqual([
      "not set: replica.id is required (this replica's id, e.g. n1)",
      "not set: replica.data_dir is required (where the Raft log is kept)",
    ]);
    expect(oneProblem({ file: replica({ id: '""' }) })).toBe(
      `${F}:2: replica.id: is required (this replica's id, e.g. n1)`,
    );
  });

  it("founding a cluster: initial_cluster is required and lists this replica", () => {
    expect(oneProblem({ file: replica({ initial_cluster: "" }) })).toBe(
      'default: replica.initial_cluster is required to found a cluster ("n1=host:port,n2=host:port,n3=host:port"); set replica.join = true to join an existing one',
    );
    expect(
      oneProblem({ file: replica({ initial_cluster: '"n2=10.1.1.2:8082,n3=10.1.1.3:8082"' }) }),
    ).toBe(
      `${F}:5: replica.initial_cluster must list this replica (id "n1") among the founding members`,
    );
  });

  it("joining: initial_cluster must name a member to contact", () => {
    expect(oneProblem({ file: replica({ join: "true", initial_cluster: "" }) })).toBe(
      "default: replica.join = true needs replica.initial_cluster to name at least one current member to contact",
    );
    expect(oneProblem({ file: replica({ join: "true" }) })).toBe(
      `${F}:5: replica.join = true needs replica.initial_cluster to name at least one current member to contact`,
    );
    // A joining replica may list itself among others; it then advertises its own entry.
    const { config } = load({
      file: replica({
        join: "true",
        initial_cluster: '"n1=10.1.1.1:8082,n2=10.1.1.2:8082"',
        api_advertise_addr: '"10.1.1.1:8081"',
      }),
    });
    expect(config.replica.peer_advertise_addr).toBe("10.1.1.1:8082");
  });

  it("member ids and addresses are checked", () => {
    expect(
      messages({
        file: replica({
          initial_cluster: '"n1=10.1.1.1:8082,-x=10.1.1.2:8082,n3=0.0.0.0:8082,n4=host"',
        }),
      }),
    ).toEqual([
      `${F}:5: replica.initial_cluster: member id "-x" is not a valid id (letters, digits, '.', '_', '-'; starts with a letter or digit; up to 64)`,
      `${F}:5: replica.initial_cluster: member n3: "0.0.0.0:8082" is a wildcard address; give one that others can dial`,
      `${F}:5: replica.initial_cluster: member n4: "host" has no port (expected host:port)`,
    ]);
  });

  it("initial_cluster_api names only members of initial_cluster", () => {
    expect(
      oneProblem({ file: replica({ initial_cluster_api: '"n1=10.1.1.1:8081,n9=10.1.1.9:8081"' }) }),
    ).toBe(`${F}:6: replica.initial_cluster_api names n9, not in replica.initial_cluster`);
  });

  it("peer_advertise_addr: derived, or consistent with initial_cluster, or required", () => {
    expect(load({ file: replica({}) }).config.replica.peer_advertise_addr).toBe("10.1.1.1:8082");
    expect(oneProblem({ file: replica({ peer_advertise_addr: '"10.1.1.9:8082"' }) })).toBe(
      `${F}:6: replica.peer_advertise_addr "10.1.1.9:8082" differs from this replica's entry in replica.initial_cluster ("10.1.1.1:8082")`,
    );
    // Joining, not listed, listening on a wildcard: nothing to derive it from.
    expect(
      oneProblem({
        file: replica({
          join: "true",
          peer_listen_addr: '"0.0.0.0:8082"',
          initial_cluster: '"n2=10.1.1.2:8082"',
          api_advertise_addr: '"10.1.1.1:8081"',
        }),
      }),
    ).toBe(
      `default: replica.peer_advertise_addr is required: replica.peer_listen_addr "0.0.0.0:8082" is not an address others can dial and replica.initial_cluster has no entry for "n1"`,
    );
    // … but a specific listen address is one.
    const joined = load({
      file: replica({
        join: "true",
        peer_listen_addr: '"10.1.1.1:8082"',
        initial_cluster: '"n2=10.1.1.2:8082"',
        api_advertise_addr: '"10.1.1.1:8081"',
      }),
    });
    expect(joined.config.replica.peer_advertise_addr).toBe("10.1.1.1:8082");
    expect(joined.sources["replica.peer_advertise_addr"]).toBe("default");
  });

  it("api_advertise_addr: required by a multi-member cluster unless derivable", () => {
    const three = '"n1=10.1.1.1:8082,n2=10.1.1.2:8082,n3=10.1.1.3:8082"';
    expect(oneProblem({ file: replica({ initial_cluster: three }) })).toBe(
      `default: replica.api_advertise_addr is required: server.listen_addr "0.0.0.0:8081" is not an address others can dial and replica.initial_cluster_api has no entry for "n1"`,
    );
    const viaListen = load({
      file: replica({ initial_cluster: three }),
      argv: ["--listen-addr=10.1.1.1:8081"],
    });
    expect(viaListen.config.replica.api_advertise_addr).toBe("10.1.1.1:8081");
    const viaTable = load({
      file: replica({ initial_cluster: three, initial_cluster_api: '"n1=10.1.1.1:9000"' }),
    });
    expect(viaTable.config.replica.api_advertise_addr).toBe("10.1.1.1:9000");
    expect(
      oneProblem({
        file: replica({
          initial_cluster: three,
          initial_cluster_api: '"n1=10.1.1.1:9000"',
          api_advertise_addr: '"10.1.1.1:9001"',
        }),
      }),
    ).toMatch(
      /replica.api_advertise_addr "10.1.1.1:9001" differs from this replica's entry in replica.initial_cluster_api \("10.1.1.1:9000"\)/,
    );
  });

  it("listen addresses must not share a port", () => {
    expect(oneProblem({ file: MINIMAL, argv: ["--listen-addr=127.0.0.1:8082"] })).toBe(
      `${F}:5: replica.peer_listen_addr "127.0.0.1:8082" uses the same port as server.listen_addr "127.0.0.1:8082"`,
    );
    expect(oneProblem({ file: MINIMAL, argv: ["--metrics.listen_addr=10.0.0.1:8081"] })).toBe(
      'flag --metrics.listen_addr: metrics.listen_addr "10.0.0.1:8081" uses the same port as server.listen_addr "0.0.0.0:8081"',
    );
    // Same port on two specific hosts, port 0, or metrics off: fine.
    load({ file: MINIMAL, argv: ["--listen-addr=127.0.0.2:8082"] });
    load({
      file: MINIMAL,
      argv: ["--listen-addr=127.0.0.1:0", "--replica.peer_listen_addr=127.0.0.1:0"],
    });
    load({ file: MINIMAL, argv: ["--metrics.listen_addr=", "--listen-addr=0.0.0.0:8083"] });
  });
});

describe("[auth]", () => {
  const jwt = (extra: Record<string, string> = {}, existing: string[] = []) => ({
    file: MINIMAL.replace('mode = "none"', 'mode = "jwt"'),
    argv: [
      "--tls.enabled",
      "--tls.cert_file=/c",
      "--tls.key_file=/k",
      ...Object.entries(extra).map(([k, v]) => `--auth.${k}=${v}`),
    ],
    existing: ["/c", "/k", ...existing],
  });

  it("jwt (the default) needs exactly one key source", () => {
    expect(oneProblem(jwt())).toBe(
      `${F}:9: auth.mode = "jwt" needs a key: set auth.hs256_secret_file (HS256) or auth.jwks_file (RS256/EdDSA), or use auth.mode = "none" for local development`,
    );
    expect(oneProblem(jwt({ hs256_secret_file: "/s", jwks_file: "/j" }, ["/s", "/j"]))).toBe(
      'flag --auth.jwks_file: set only one of auth.hs256_secret_file, auth.jwks_file (auth.mode = "jwt" uses exactly one key source)',
    );
    expect(load(jwt({ jwks_file: "/j" }, ["/j"])).config.auth.jwks_file).toBe("/j");
  });

  it("the key files must be readable", () => {
    expect(oneProblem(jwt({ jwks_file: "/missing.json" }))).toBe(
      "flag --auth.jwks_file: auth.jwks_file: cannot read /missing.json: no such file",
    );
    expect(oneProblem(jwt({ hs256_secret_file: "/missing" }))).toBe(
      "flag --auth.hs256_secret_file: auth.hs256_secret_file: cannot read /missing: no such file",
    );
  });

  it("never echoes the secret", () => {
    const secret = "short-secret";
    const err = (() => {
      try {
        load({ ...jwt(), env: { NOVANET_AUTH_HS256_SECRET: secret } });
      } catch (e) {
        return e as ConfigError;
      }
      throw new Error("loaded");
    })();
    expect(err.message).toContain(
      "env NOVANET_AUTH_HS256_SECRET: auth.hs256_secret: an HS256 secret needs at least 32 bytes, got 12",
    );
    expect(err.message).not.toContain(secret);
    const typed = problemsOf({
      file: withToml("\n[tls]\nenabled = false\n").replace(
        'mode = "none"',
        'hs256_secret = 1234567\nmode = "none"',
      ),
    });
    expect(typed.map((p) => p.message)).toEqual([
      "auth.hs256_secret: expected a string, got a value of another type",
    ]);
  });

  it("warns when jwt runs without TLS and when none ignores jwt settings", () => {
    const plain = load({
      file: MINIMAL.replace('mode = "none"', 'mode = "jwt"\nhs256_secret_file = "/s"'),
      existing: ["/s"],
    });
    expect(plain.warnings).toContain(
      'auth.mode = "jwt" with tls.enabled = false: bearer tokens cross the network in clear text',
    );
    const none = load({ file: MINIMAL, argv: ["--auth.jwks_file=/j", "--auth.issuer=x"] });
    expect(none.warnings).toEqual(['auth.mode = "none": auth.jwks_file, auth.issuer ignored']);
  });
});

describe("[tls] and [peer_tls]", () => {
  it("tls.enabled needs cert_file and key_file; client_auth = require needs ca_file", () => {
    expect(messages({ file: MINIMAL, argv: ["--tls.enabled"] })).toEqual([
      "default: tls.cert_file is required when tls.enabled = true",
      "default: tls.key_file is required when tls.enabled = true",
    ]);
    expect(
      oneProblem({
        file: MINIMAL,
        argv: [
          "--tls.enabled",
          "--tls.cert_file=/c",
          "--tls.key_file=/k",
          "--tls.client_auth=require",
        ],
        existing: ["/c", "/k"],
      }),
    ).toBe(
      'default: tls.ca_file is required when tls.client_auth = "require" (the CA that signs client certificates)',
    );
  });

  it("the files must be readable", () => {
    expect(
      messages({
        file: withToml('\n[tls]\nenabled = true\ncert_file = "tls/api.crt"\nkey_file = "/k"\n'),
      }),
    ).toEqual([
      `${F}:13: tls.cert_file: cannot read /etc/novanet/tls/api.crt: no such file`,
      `${F}:14: tls.key_file: cannot read /k: no such file`,
    ]);
  });

  it("peer_tls.enabled needs cert_file, key_file and ca_file", () => {
    expect(
      messages({
        file: MINIMAL,
        argv: ["--peer_tls.enabled", "--peer_tls.cert_file=/c"],
        existing: ["/c"],
      }),
    ).toEqual([
      "default: peer_tls.key_file is required when peer_tls.enabled = true (mutual TLS needs this replica's certificate, key and the cluster CA)",
      "default: peer_tls.ca_file is required when peer_tls.enabled = true (mutual TLS needs this replica's certificate, key and the cluster CA)",
    ]);
    expect(
      oneProblem({
        file: MINIMAL,
        argv: [
          "--peer_tls.enabled",
          "--peer_tls.cert_file=/c",
          "--peer_tls.key_file=/k",
          "--peer_tls.ca_file=/ca",
        ],
        existing: ["/c", "/k"],
      }),
    ).toBe("flag --peer_tls.ca_file: peer_tls.ca_file: cannot read /ca: no such file");
  });

  it("warns about files given to a disabled TLS, and about plaintext Raft off loopback", () => {
    const { warnings } = load({
      file: MINIMAL,
      argv: [
        "--tls.cert_file=/c",
        "--peer_tls.ca_file=/ca",
        "--replica.peer_listen_addr=10.1.1.1:8082",
      ],
    });
    expect(warnings).toEqual([
      "tls.enabled = false: the client API is plaintext; tls.cert_file ignored",
      "peer_tls.enabled = false: peer_tls.ca_file ignored",
      "peer_tls.enabled = false and replica.peer_listen_addr is not a loopback address: Raft traffic between replicas is neither encrypted nor authenticated",
    ]);
  });
});

describe("every problem at once", () => {
  it("lists the problems of all sources together, file first, each with its origin", () => {
    let error: ConfigError | undefined;
    try {
      load({
        file: `[server]\nlisten_addr = 1\n[replica]\nid = "n 1"\ntick_ms = 0\n[netwrk]\n`,
        env: { NOVANET_LOG_LEVEL: "loud", NOVANET_REPLICA_JOIN: "maybe" },
        argv: ["--network.cidr_pool=10.0.0.1/8", "--bogus"],
      });
    } catch (e) {
      error = e as ConfigError;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect(error!.problems.map((p) => [p.source, p.key])).toEqual([
      ["file", "server.listen_addr"],
      ["file", "netwrk"],
      ["env", "replica.join"],
      ["flag", "bogus"],
      // Then the values in force: ranges and choices, addresses, ids, cross-field rules.
      ["file", "replica.tick_ms"],
      ["env", "log.level"],
      ["flag", "network.cidr_pool"],
      ["file", "replica.id"],
      ["default", "replica.data_dir"],
      ["default", "auth.mode"],
    ]);
    expect(error!.message.split("\n")[0]).toBe("invalid configuration (10 problems):");
    expect(error!.message).toContain(`  - ${F}:4: replica.id: "n 1" is not a valid id`);
    expect(error!.message).toContain(`  - ${F}:5: replica.tick_ms: 0 is out of range 1..10000`);
    expect(error!.message).toContain('  - env NOVANET_LOG_LEVEL: log.level: "loud" is not one of');
  });

  it("a value refused in a higher layer is not checked again in a lower one", () => {
    // The env value is refused; the file's "n1" is not what the operator meant, so no extra noise.
    expect(messages({ file: MINIMAL, env: { NOVANET_REPLICA_TICK_MS: "fast" } })).toEqual([
      'env NOVANET_REPLICA_TICK_MS: replica.tick_ms: expected an integer, got "fast"',
    ]);
    // A flag overriding a bad file value is still checked.
    expect(
      messages({ file: withToml("\n[server]\nlisten_addr = 1\n"), argv: ["--listen-addr=x"] }),
    ).toEqual([
      `${F}:12: server.listen_addr: expected a string, got the integer 1`,
      'flag --listen-addr: server.listen_addr: "x" has no port (expected host:port)',
    ]);
  });
});

describe("[ovn]", () => {
  const flag = (...argv: string[]) => ({ file: MINIMAL, argv });
  it.each([
    [
      flag("--ovn.external_gateway=198.51.100.1"),
      "flag --ovn.external_gateway: ovn.external_cidr is required with ovn.external_gateway",
    ],
    [
      flag("--ovn.external_cidr=198.51.100.0/24"),
      "flag --ovn.external_cidr: ovn.external_gateway is required with ovn.external_cidr",
    ],
    [
      flag("--ovn.external_cidr=198.51.100.1/24", "--ovn.external_gateway=198.51.100.1"),
      'flag --ovn.external_cidr: ovn.external_cidr: "198.51.100.1/24" has host bits set; did you mean "198.51.100.0/24"?',
    ],
    [
      flag("--ovn.external_cidr=198.51.100.0/24", "--ovn.external_gateway=203.0.113.1"),
      'flag --ovn.external_gateway: ovn.external_gateway: "203.0.113.1" is not an IPv4 address inside 198.51.100.0/24',
    ],
    [
      flag(
        "--ovn.external_cidr=198.51.100.0/24",
        "--ovn.external_gateway=198.51.100.1",
        "--network.external_ip_pool=198.51.100.10-198.51.100.20,203.0.113.0/28",
      ),
      'flag --network.external_ip_pool: network.external_ip_pool: "203.0.113.0/28" is outside ovn.external_cidr 198.51.100.0/24',
    ],
    [
      flag("--network.ovn_northbound_endpoint=ssl:127.0.0.1:6641"),
      "default: ovn.ca_file is required for an ssl: network.ovn_northbound_endpoint",
    ],
  ])("%j", (input, expected) => {
    expect(messages(input)[0]).toBe(expected);
  });

  it("accepts a consistent external network", () => {
    const c = load(
      flag(
        "--ovn.external_cidr=198.51.100.0/24",
        "--ovn.external_gateway=198.51.100.1",
        "--ovn.gateway_chassis=gw1,gw2",
        "--network.external_ip_pool=198.51.100.10-198.51.100.20",
      ),
    ).config;
    expect(c.ovn.gateway_chassis).toEqual(["gw1", "gw2"]);
    expect(c.ovn.sync_enabled).toBe(true);
  });
});
