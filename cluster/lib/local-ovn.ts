// A real, local OVN as OS processes under one directory: the Northbound and Southbound
// ovsdb-servers, ovn-northd and, with `chassis: true`, a hypervisor (an Open_vSwitch ovsdb-server,
// ovs-vswitchd on the userspace "netdev" datapath, br-int, a provider bridge br-ex and
// ovn-controller as chassis "chassis1", which is also the gateway chassis). Used by
// cluster/local.ts and the data-plane tests (test/dataplane/).
//
// Layout of `dir` (every daemon's pid file, log and control socket):
//   nb.{db,sock,pid,log,ctl}  sb.{…}  northd.{pid,log,ctl}
//   conf.db ovs.{sock,pid,log,ctl}  vswitchd.{pid,log,ctl}  controller.{pid,log}  br-*.mgmt
//   local-ovn.json (ports, namespaces, external network), netns.list (namespaces to delete on stop)
//
// Why ovs-vswitchd runs inside its own network namespace (`nvovn-<hash of dir>`): on the netdev
// datapath every bridge and internal port is a kernel tap device named like the port (br-int,
// br-ex, ovs-netdev, …). Two instances in the root namespace would fight over those names; in
// their own namespace they do not. A "VM" is an internal port whose tap device is moved from
// there into the VM's namespace (see plugInternalPort). ovn-controller finds br-int's
// management socket through OVS_RUNDIR (it defaults to /var/run/openvswitch), so every daemon
// and client gets OVS_RUNDIR/OVS_DBDIR/OVS_LOGDIR/OVN_* = dir.
//
// External network (SNAT/DNAT): br-ex (netdev) is mapped with
// external_ids:ovn-bridge-mappings=physnet1:br-ex; a namespace `nvext-<hash>` is attached to
// br-ex through an internal port and holds the upstream gateway address of a TEST-ONLY
// documentation range (198.51.100.0/24 by default). It exists only inside namespaces and is
// never routed anywhere.
import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import {
  accessSync,
  appendFileSync,
  constants,
  existsSync,
  mkdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { createServer } from "node:net";
import { delimiter, join, resolve } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";

/** The provider network that NovaNET's [ovn] external_* settings describe. */
export interface ExternalNetwork {
  /** IPv4 CIDR of the provider network (TEST-ONLY documentation range by default). */
  cidr: string;
  /** The upstream router: held by the external namespace, next hop of every VPC router. */
  gateway: string;
  /** Addresses NovaNET may hand out for SNAT/DNAT (network.external_ip_pool): inside cidr, not the gateway. */
  ipPool: string;
  /** The ovn-bridge-mappings name of br-ex (a localnet port's network_name). */
  physicalNetwork: string;
  /** Chassis names that host gateway router ports. */
  gatewayChassis: string[];
}

export interface LocalOvnOptions {
  /** Directory for databases, sockets, pid files and logs (created). */
  dir: string;
  /** TCP port of the NB ovsdb-server on 127.0.0.1 (default: a free one). */
  nbPort?: number;
  /** TCP port of the SB ovsdb-server on 127.0.0.1 (default: a free one). */
  sbPort?: number;
  /** Also start a hypervisor: OVS (netdev), br-int, br-ex, ovn-controller. Needs root. */
  chassis?: boolean;
  /** External network (chassis only); default 198.51.100.0/24 via 198.51.100.1. */
  external?: { cidr: string; gateway: string; ipPool: string };
  /** Keep an existing nb.db in dir (default true); the SB and OVS databases always start empty. */
  keepNorthbound?: boolean;
  /** Bound of each step (a command, a daemon start, a wait), ms. Default 20 000. */
  timeoutMs?: number;
}

export interface LocalOvnDaemonStatus {
  name: string;
  pid: number | undefined;
  running: boolean;
  log: string;
}

export interface LocalOvnStatus {
  dir: string;
  nbRemote: string;
  sbRemote: string;
  nbSocket: string;
  running: boolean;
  daemons: LocalOvnDaemonStatus[];
  chassis: boolean;
  hypervisorNetns: string | undefined;
  externalNetns: string | undefined;
  externalNetwork: ExternalNetwork | undefined;
}

interface State {
  dir: string;
  nbPort: number;
  sbPort: number;
  chassis: boolean;
  hypervisorNetns?: string;
  externalNetns?: string;
  externalNetwork?: ExternalNetwork;
}

/** Package that ships each binary (Debian/Ubuntu), for the error message. */
const PACKAGE_OF: Record<string, string> = {
  "ovsdb-tool": "openvswitch-common (apt-get install openvswitch-switch)",
  "ovsdb-server": "openvswitch-switch",
  "ovs-vsctl": "openvswitch-switch",
  "ovs-vswitchd": "openvswitch-switch",
  "ovn-northd": "ovn-central",
  "ovn-nbctl": "ovn-common (apt-get install ovn-central)",
  "ovn-sbctl": "ovn-common (apt-get install ovn-central)",
  "ovn-controller": "ovn-host",
  ip: "iproute2",
};
const SCHEMAS = {
  nb: ["/usr/share/ovn/ovn-nb.ovsschema", "ovn-common (apt-get install ovn-central)"],
  sb: ["/usr/share/ovn/ovn-sb.ovsschema", "ovn-common (apt-get install ovn-central)"],
  ovs: ["/usr/share/openvswitch/vswitch.ovsschema", "openvswitch-common"],
} as const;
const CENTRAL_BINARIES = ["ovsdb-tool", "ovsdb-server", "ovn-northd", "ovn-nbctl", "ovn-sbctl"];
const CHASSIS_BINARIES = ["ovs-vsctl", "ovs-vswitchd", "ovn-controller", "ip"];

export const CHASSIS_NAME = "chassis1";
export const PHYSICAL_NETWORK = "physnet1";
/** TEST-NET-2 (RFC 5737): documentation addresses, only ever inside namespaces. */
export const DEFAULT_EXTERNAL = {
  cidr: "198.51.100.0/24",
  gateway: "198.51.100.1",
  ipPool: "198.51.100.16-198.51.100.250",
} as const;

const STATE_FILE = "local-ovn.json";
const NETNS_FILE = "netns.list";
/** Stop order: the hypervisor first, the databases last. */
const DAEMONS = ["controller", "vswitchd", "ovs", "northd", "sb", "nb"] as const;
type Daemon = (typeof DAEMONS)[number];

/** Absolute path of a binary from PATH (plus the sbin folders), or a loud error naming its package. */
export function requireBinary(name: string): string {
  const dirs = [
    ...(process.env.PATH ?? "").split(delimiter),
    "/usr/local/sbin",
    "/usr/sbin",
    "/sbin",
  ].filter(Boolean);
  for (const d of dirs) {
    const p = join(d, name);
    try {
      accessSync(p, constants.X_OK);
      return p;
    } catch {
      // Next folder.
    }
  }
  throw new Error(
    `local OVN: the binary "${name}" was not found (PATH and sbin folders); install the package ${PACKAGE_OF[name] ?? "that provides it"} (bash scripts/setup.sh installs ovn-central ovn-host openvswitch-switch)`,
  );
}

function requireFile(path: string, pkg: string): void {
  if (!existsSync(path)) throw new Error(`local OVN: ${path} is missing; install ${pkg}`);
}

/** The process exists and is not a zombie (a detached daemon's reaper may be slow to reap). */
function alive(pid: number | undefined): boolean {
  if (pid === undefined || pid <= 0) return false;
  try {
    process.kill(pid, 0);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "EPERM") return false;
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3) !== "Z";
  } catch {
    return true;
  }
}

function portIsFree(port: number): Promise<boolean> {
  return new Promise((res) => {
    const srv = createServer();
    srv.once("error", () => res(false));
    srv.listen(port, "127.0.0.1", () => srv.close(() => res(true)));
  });
}

/** A free TCP port on 127.0.0.1 (bound and released; good enough on a test machine). */
export async function freePort(): Promise<number> {
  return new Promise((res, rej) => {
    const srv = createServer();
    srv.once("error", rej);
    srv.listen(0, "127.0.0.1", () => {
      const addr = srv.address();
      if (addr === null || typeof addr === "string") return rej(new Error("no port"));
      srv.close(() => res(addr.port));
    });
  });
}

export interface RunOptions {
  timeoutMs?: number;
  env?: NodeJS.ProcessEnv;
}

/** execFile with a bound; a failure names the command and carries its stderr. */
export function run(file: string, args: readonly string[], opts: RunOptions = {}): Promise<string> {
  const timeout = opts.timeoutMs ?? 20_000;
  return new Promise((res, rej) => {
    execFile(
      file,
      args,
      { timeout, killSignal: "SIGKILL", env: opts.env ?? process.env, maxBuffer: 16 << 20 },
      (err, stdout, stderr) => {
        if (err) {
          const e = err as NodeJS.ErrnoException & { killed?: boolean };
          const why = e.killed ? `timed out after ${timeout} ms` : e.message.split("\n")[0];
          rej(
            new Error(
              `${file} ${args.join(" ")}: ${why}${stderr.trim() ? `\n${stderr.trim()}` : ""}`,
            ),
          );
        } else {
          res(stdout);
        }
      },
    );
  });
}

/** Polls `probe` until it returns a value other than undefined, for at most `timeoutMs`. */
export async function waitFor<T>(
  what: string,
  probe: () => Promise<T | undefined>,
  timeoutMs: number,
  everyMs = 100,
): Promise<T> {
  const until = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await probe();
      if (v !== undefined) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() >= until) {
      throw new Error(
        `local OVN: ${what} not reached within ${timeoutMs} ms${last instanceof Error ? `: ${last.message}` : ""}`,
      );
    }
    await sleep(everyMs);
  }
}

export class LocalOvn {
  readonly dir: string;
  readonly timeoutMs: number;
  readonly env: NodeJS.ProcessEnv;

  private constructor(
    private readonly state: State,
    timeoutMs: number,
  ) {
    this.dir = state.dir;
    this.timeoutMs = timeoutMs;
    const d = state.dir;
    this.env = {
      ...process.env,
      OVS_RUNDIR: d,
      OVS_LOGDIR: d,
      OVS_DBDIR: d,
      OVN_RUNDIR: d,
      OVN_LOGDIR: d,
      OVN_DBDIR: d,
    };
  }

  /** "tcp:127.0.0.1:PORT" of the Northbound DB (what NovaNET's --ovn-nb-endpoint gets). */
  get nbRemote(): string {
    return `tcp:127.0.0.1:${this.state.nbPort}`;
  }
  get sbRemote(): string {
    return `tcp:127.0.0.1:${this.state.sbPort}`;
  }
  get nbSocket(): string {
    return join(this.dir, "nb.sock");
  }
  get sbSocket(): string {
    return join(this.dir, "sb.sock");
  }
  /** The Open_vSwitch DB of the hypervisor (ovs-vsctl --db=unix:…). */
  get ovsSocket(): string {
    return join(this.dir, "ovs.sock");
  }
  get hasChassis(): boolean {
    return this.state.chassis;
  }
  /** The namespace ovs-vswitchd runs in: new internal ports (tap devices) appear there. */
  get hypervisorNetns(): string {
    if (!this.state.hypervisorNetns) throw new Error("local OVN: started without a chassis");
    return this.state.hypervisorNetns;
  }
  /** The "external host" namespace on br-ex holding externalNetwork.gateway. */
  get externalNetns(): string {
    if (!this.state.externalNetns) throw new Error("local OVN: started without a chassis");
    return this.state.externalNetns;
  }
  /** What NovaNET's [ovn] external_* settings get; undefined without a chassis. */
  get externalNetwork(): ExternalNetwork | undefined {
    return this.state.externalNetwork;
  }

  /** Starts every daemon; throws (after stopping what it started) if any step fails. */
  static async start(opts: LocalOvnOptions): Promise<LocalOvn> {
    const dir = resolve(opts.dir);
    const timeoutMs = opts.timeoutMs ?? 20_000;
    const chassis = opts.chassis === true;
    for (const b of [...CENTRAL_BINARIES, ...(chassis ? CHASSIS_BINARIES : [])]) requireBinary(b);
    requireFile(...SCHEMAS.nb);
    requireFile(...SCHEMAS.sb);
    if (chassis) {
      requireFile(...SCHEMAS.ovs);
      if (process.getuid?.() !== 0) {
        throw new Error(
          "local OVN: a chassis (ovs-vswitchd, network namespaces) needs root; run as root or start without a chassis",
        );
      }
    }
    // Unix socket paths are limited to 107 bytes (br-int.snoop is the longest name used).
    if (Buffer.byteLength(join(dir, "br-int.snoop")) > 100) {
      throw new Error(`local OVN: directory path too long for unix sockets: ${dir}`);
    }
    const prior = LocalOvn.attach(dir, timeoutMs);
    if (prior?.running()) {
      throw new Error(
        `local OVN: already running in ${dir} (pids ${prior.pids().join(", ")}); stop it first`,
      );
    }
    if (prior) await prior.stop();
    mkdirSync(dir, { recursive: true });

    const nbPort = opts.nbPort ?? (await freePort());
    const sbPort = opts.sbPort ?? (await freePort());
    for (const [what, port] of [
      ["NB", nbPort],
      ["SB", sbPort],
    ] as const) {
      if (!(await portIsFree(port))) {
        throw new Error(`local OVN: ${what} port 127.0.0.1:${port} is already in use`);
      }
    }
    const tag = createHash("sha256").update(dir).digest("hex").slice(0, 8);
    const state: State = { dir, nbPort, sbPort, chassis };
    if (chassis) {
      const ext = opts.external ?? DEFAULT_EXTERNAL;
      state.hypervisorNetns = `nvovn-${tag}`;
      state.externalNetns = `nvext-${tag}`;
      state.externalNetwork = {
        cidr: ext.cidr,
        gateway: ext.gateway,
        ipPool: ext.ipPool,
        physicalNetwork: PHYSICAL_NETWORK,
        gatewayChassis: [CHASSIS_NAME],
      };
    }
    const ovn = new LocalOvn(state, timeoutMs);
    ovn.#saveState();
    try {
      await ovn.#startCentral(opts.keepNorthbound !== false);
      if (chassis) await ovn.#startChassis();
    } catch (err) {
      await ovn.stop().catch(() => {});
      throw err;
    }
    return ovn;
  }

  /** The instance recorded in dir (running or not), or undefined when there is none. */
  static attach(dir: string, timeoutMs = 20_000): LocalOvn | undefined {
    const file = join(resolve(dir), STATE_FILE);
    if (!existsSync(file)) return undefined;
    const state = JSON.parse(readFileSync(file, "utf8")) as State;
    return new LocalOvn(state, timeoutMs);
  }

  #saveState(): void {
    writeFileSync(join(this.dir, STATE_FILE), `${JSON.stringify(this.state, null, 2)}\n`);
  }

  #pidFile(d: Daemon): string {
    return join(this.dir, `${d}.pid`);
  }

  /**
   * The daemon's pid from its pid file, only if that process is still the daemon started here
   * (its command line names the pid file), so a reused pid is never signalled.
   */
  #pid(d: Daemon): number | undefined {
    try {
      const n = Number(readFileSync(this.#pidFile(d), "utf8").trim());
      if (!Number.isInteger(n) || n <= 0) return undefined;
      const cmdline = readFileSync(`/proc/${n}/cmdline`, "utf8");
      return cmdline.includes(`--pidfile=${this.#pidFile(d)}`) ? n : undefined;
    } catch {
      return undefined;
    }
  }

  #daemonsExpected(): Daemon[] {
    return DAEMONS.filter(
      (d) => this.state.chassis || (d !== "controller" && d !== "vswitchd" && d !== "ovs"),
    );
  }

  pids(): number[] {
    return this.#daemonsExpected()
      .map((d) => this.#pid(d))
      .filter((p): p is number => alive(p));
  }

  /** True when every daemon of this instance is alive. */
  running(): boolean {
    return this.#daemonsExpected().every((d) => alive(this.#pid(d)));
  }

  status(): LocalOvnStatus {
    return {
      dir: this.dir,
      nbRemote: this.nbRemote,
      sbRemote: this.sbRemote,
      nbSocket: this.nbSocket,
      running: this.running(),
      daemons: this.#daemonsExpected().map((d) => {
        const pid = this.#pid(d);
        return { name: DAEMON_NAMES[d], pid, running: alive(pid), log: join(this.dir, `${d}.log`) };
      }),
      chassis: this.state.chassis,
      hypervisorNetns: this.state.hypervisorNetns,
      externalNetns: this.state.externalNetns,
      externalNetwork: this.state.externalNetwork,
    };
  }

  // ---- clients --------------------------------------------------------------------------------

  nbctl(...args: string[]): Promise<string> {
    const t = String(Math.ceil(this.timeoutMs / 1000));
    return run(
      requireBinary("ovn-nbctl"),
      [`--db=unix:${this.nbSocket}`, `--timeout=${t}`, ...args],
      {
        timeoutMs: this.timeoutMs + 2000,
        env: this.env,
      },
    );
  }

  sbctl(...args: string[]): Promise<string> {
    const t = String(Math.ceil(this.timeoutMs / 1000));
    return run(
      requireBinary("ovn-sbctl"),
      [`--db=unix:${this.sbSocket}`, `--timeout=${t}`, ...args],
      {
        timeoutMs: this.timeoutMs + 2000,
        env: this.env,
      },
    );
  }

  vsctl(...args: string[]): Promise<string> {
    if (!this.state.chassis) throw new Error("local OVN: started without a chassis (no OVS)");
    const t = String(Math.ceil(this.timeoutMs / 1000));
    return run(
      requireBinary("ovs-vsctl"),
      [`--db=unix:${this.ovsSocket}`, `--timeout=${t}`, ...args],
      {
        timeoutMs: this.timeoutMs + 2000,
        env: this.env,
      },
    );
  }

  /** `ip …` (bounded). */
  ip(...args: string[]): Promise<string> {
    return run(requireBinary("ip"), args, { timeoutMs: this.timeoutMs });
  }

  /** Waits until ovn-controller has put every NB change into OVS flows (`nbctl --wait=hv sync`). */
  async syncHypervisor(): Promise<void> {
    await this.nbctl(this.state.chassis ? "--wait=hv" : "--wait=sb", "sync");
  }

  // ---- namespaces and ports -------------------------------------------------------------------

  /** Records a namespace to delete on stop() (also after attach()). */
  registerNetns(name: string): void {
    if (this.#registeredNetns().includes(name)) return;
    appendFileSync(join(this.dir, NETNS_FILE), `${name}\n`);
  }

  unregisterNetns(name: string): void {
    const rest = this.#registeredNetns().filter((n) => n !== name);
    writeFileSync(join(this.dir, NETNS_FILE), rest.map((n) => `${n}\n`).join(""));
  }

  #registeredNetns(): string[] {
    try {
      return readFileSync(join(this.dir, NETNS_FILE), "utf8").split("\n").filter(Boolean);
    } catch {
      return [];
    }
  }

  /**
   * Adds an OVS internal port `port` to `bridge`, waits for its tap device in the hypervisor
   * namespace and moves it into namespace `netns` (created and registered if missing), with
   * `mac` set and the link up. `ifaceId` sets external_ids:iface-id (the logical port it binds to).
   */
  async plugInternalPort(p: {
    bridge: "br-int" | "br-ex";
    port: string;
    netns: string;
    ifaceId?: string;
    mac?: string;
  }): Promise<void> {
    if (!/^[A-Za-z0-9_.-]{1,15}$/.test(p.port)) {
      throw new Error(
        `local OVN: bad interface name ${JSON.stringify(p.port)} (1-15 of [A-Za-z0-9_.-])`,
      );
    }
    const hv = this.hypervisorNetns;
    const set = [`type=internal`];
    if (p.ifaceId !== undefined) set.push(`external_ids:iface-id=${p.ifaceId}`);
    await this.vsctl("add-port", p.bridge, p.port, "--", "set", "interface", p.port, ...set);
    await waitFor(
      `tap device ${p.port} in ${hv}`,
      async () => ((await this.ip("-n", hv, "link", "show", p.port)) ? true : undefined),
      this.timeoutMs,
      50,
    );
    if (!(await this.netnsExists(p.netns))) {
      await this.ip("netns", "add", p.netns);
    }
    this.registerNetns(p.netns);
    await this.ip("-n", p.netns, "link", "set", "lo", "up");
    await this.ip("-n", hv, "link", "set", p.port, "netns", p.netns);
    if (p.mac !== undefined) await this.ip("-n", p.netns, "link", "set", p.port, "address", p.mac);
    await this.ip("-n", p.netns, "link", "set", p.port, "up");
  }

  async netnsExists(name: string): Promise<boolean> {
    const out = await this.ip("netns", "list");
    return out.split("\n").some((l) => l.split(" ")[0] === name);
  }

  // ---- start and stop -------------------------------------------------------------------------

  async #startCentral(keepNorthbound: boolean): Promise<void> {
    const d = this.dir;
    const tool = requireBinary("ovsdb-tool");
    const nbDb = join(d, "nb.db");
    if (!keepNorthbound || !existsSync(nbDb)) {
      rmSync(nbDb, { force: true });
      await run(tool, ["create", nbDb, SCHEMAS.nb[0]], { timeoutMs: this.timeoutMs });
    }
    rmSync(join(d, "sb.db"), { force: true });
    await run(tool, ["create", join(d, "sb.db"), SCHEMAS.sb[0]], { timeoutMs: this.timeoutMs });
    await this.#ovsdbServer("nb", this.state.nbPort);
    await this.#ovsdbServer("sb", this.state.sbPort);
    await this.#daemon("northd", requireBinary("ovn-northd"), [
      `--ovnnb-db=unix:${this.nbSocket}`,
      `--ovnsb-db=unix:${this.sbSocket}`,
      `--unixctl=${join(d, "northd.ctl")}`,
    ]);
    // northd answers (nb_cfg reaches SB) within the bound.
    await this.nbctl("--wait=sb", "sync");
  }

  async #ovsdbServer(name: "nb" | "sb" | "ovs", tcpPort?: number): Promise<void> {
    const d = this.dir;
    const db = name === "ovs" ? join(d, "conf.db") : join(d, `${name}.db`);
    await this.#daemon(name, requireBinary("ovsdb-server"), [
      `--remote=punix:${join(d, `${name}.sock`)}`,
      ...(tcpPort !== undefined ? [`--remote=ptcp:${tcpPort}:127.0.0.1`] : []),
      `--unixctl=${join(d, `${name}.ctl`)}`,
      db,
    ]);
  }

  /** Starts a daemon with --detach (returns once it is ready) and checks its pid file. */
  async #daemon(name: Daemon, bin: string, args: string[], netns?: string): Promise<void> {
    const common = [
      "--detach",
      "--no-chdir",
      `--pidfile=${this.#pidFile(name)}`,
      `--log-file=${join(this.dir, `${name}.log`)}`,
    ];
    const [file, argv] =
      netns === undefined
        ? [bin, [...common, ...args]]
        : [requireBinary("ip"), ["netns", "exec", netns, bin, ...common, ...args]];
    try {
      await run(file, argv, { timeoutMs: this.timeoutMs, env: this.env });
    } catch (err) {
      throw new Error(
        `local OVN: ${DAEMON_NAMES[name]} did not start (log: ${join(this.dir, `${name}.log`)}): ${(err as Error).message}`,
      );
    }
    if (!alive(this.#pid(name))) {
      throw new Error(
        `local OVN: ${DAEMON_NAMES[name]} exited right after start; see ${join(this.dir, `${name}.log`)}`,
      );
    }
  }

  async #startChassis(): Promise<void> {
    const d = this.dir;
    const hv = this.hypervisorNetns;
    const ext = this.state.externalNetwork!;
    rmSync(join(d, "conf.db"), { force: true });
    await run(requireBinary("ovsdb-tool"), ["create", join(d, "conf.db"), SCHEMAS.ovs[0]], {
      timeoutMs: this.timeoutMs,
    });
    await this.#ovsdbServer("ovs");
    await this.vsctl("--no-wait", "init");
    if (await this.netnsExists(hv)) await this.ip("netns", "del", hv);
    await this.ip("netns", "add", hv);
    await this.ip("-n", hv, "link", "set", "lo", "up");
    await this.#daemon(
      "vswitchd",
      requireBinary("ovs-vswitchd"),
      [`--unixctl=${join(d, "vswitchd.ctl")}`, `unix:${this.ovsSocket}`],
      hv,
    );
    // The kernel has no openvswitch module: both bridges use the userspace datapath.
    await this.vsctl(
      "add-br",
      "br-int",
      "--",
      "set",
      "bridge",
      "br-int",
      "datapath_type=netdev",
      "fail-mode=secure",
    );
    await this.vsctl("add-br", "br-ex", "--", "set", "bridge", "br-ex", "datapath_type=netdev");
    await this.vsctl(
      "set",
      "open_vswitch",
      ".",
      `external_ids:system-id=${CHASSIS_NAME}`,
      `external_ids:ovn-remote=unix:${this.sbSocket}`,
      "external_ids:ovn-encap-type=geneve",
      "external_ids:ovn-encap-ip=127.0.0.1",
      // Bridges ovn-controller creates (patch peers) use the userspace datapath too.
      "external_ids:ovn-bridge-datapath-type=netdev",
      // A localnet port with network_name=physnet1 gets a patch port pair br-int <-> br-ex.
      `external_ids:ovn-bridge-mappings=${PHYSICAL_NETWORK}:br-ex`,
    );
    await this.#daemon("controller", requireBinary("ovn-controller"), [`unix:${this.ovsSocket}`]);
    await waitFor(
      `chassis ${CHASSIS_NAME} registered in the Southbound DB`,
      async () =>
        (
          await this.sbctl("--bare", "--columns=name", "find", "Chassis", `name=${CHASSIS_NAME}`)
        ).trim() === CHASSIS_NAME
          ? true
          : undefined,
      this.timeoutMs,
    );
    // The upstream gateway of the external network: a namespace on br-ex.
    const prefix = ext.cidr.split("/")[1] ?? "24";
    await this.plugInternalPort({ bridge: "br-ex", port: "exgw0", netns: this.externalNetns });
    await this.ip(
      "-n",
      this.externalNetns,
      "addr",
      "add",
      `${ext.gateway}/${prefix}`,
      "dev",
      "exgw0",
    );
    await this.syncHypervisor();
  }

  /** Kills every daemon (SIGTERM, then SIGKILL after the bound), waits, deletes the namespaces. */
  async stop(): Promise<void> {
    for (const d of DAEMONS) {
      const pid = this.#pid(d);
      if (!alive(pid)) continue;
      try {
        process.kill(pid!, "SIGTERM");
      } catch {
        continue;
      }
      const until = Date.now() + Math.min(this.timeoutMs, 5000);
      while (alive(pid) && Date.now() < until) await sleep(50);
      if (alive(pid)) {
        process.kill(pid!, "SIGKILL");
        const hard = Date.now() + 2000;
        while (alive(pid) && Date.now() < hard) await sleep(50);
      }
    }
    const namespaces = new Set([
      ...this.#registeredNetns(),
      ...(this.state.externalNetns ? [this.state.externalNetns] : []),
      ...(this.state.hypervisorNetns ? [this.state.hypervisorNetns] : []),
    ]);
    const failures: string[] = [];
    if (namespaces.size > 0) {
      const ip = requireBinary("ip");
      const existing = (await run(ip, ["netns", "list"], { timeoutMs: this.timeoutMs }))
        .split("\n")
        .map((l) => l.split(" ")[0]);
      for (const ns of namespaces) {
        if (!existing.includes(ns)) continue;
        await run(ip, ["netns", "del", ns], { timeoutMs: this.timeoutMs }).catch((err: Error) =>
          failures.push(err.message),
        );
      }
      rmSync(join(this.dir, NETNS_FILE), { force: true });
    }
    const left = DAEMONS.filter((d) => alive(this.#pid(d)));
    if (left.length > 0)
      failures.push(`still running: ${left.map((d) => DAEMON_NAMES[d]).join(", ")}`);
    else for (const d of DAEMONS) rmSync(this.#pidFile(d), { force: true });
    if (failures.length > 0) throw new Error(`local OVN: stop: ${failures.join("; ")}`);
  }
}

const DAEMON_NAMES: Record<Daemon, string> = {
  nb: "ovsdb-server (OVN_Northbound)",
  sb: "ovsdb-server (OVN_Southbound)",
  northd: "ovn-northd",
  ovs: "ovsdb-server (Open_vSwitch)",
  vswitchd: "ovs-vswitchd",
  controller: "ovn-controller",
};
