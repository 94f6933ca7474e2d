// Data-plane harness: "VMs" as network namespaces plugged into a LocalOvn hypervisor.
//
// A VM is an OVS internal port on br-int (a tap device under the netdev datapath) with
// external_ids:iface-id=<logical port name>, moved from the hypervisor namespace into its own
// namespace `nvvm-<name>`, with the MAC the logical port expects. The same as PlasmaVMC's
// AttachPort: OVN binds the Logical_Switch_Port whose name equals the iface-id.
// Traffic only ever goes to namespaces created here or by LocalOvn (never routed out).
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { type LocalOvn, requireBinary, run } from "../../cluster/lib/local-ovn.js";

export interface Vm {
  name: string;
  /** Its namespace: nvvm-<name>. */
  ns: string;
  /** The interface inside the namespace (named like the VM). */
  iface: string;
  portId: string;
  mac: string;
  ip: string | undefined;
}

export interface VmSpec {
  /** 1-15 of [a-z0-9-]: the OVS port and interface name; the namespace is nvvm-<name>. */
  name: string;
  /** The Logical_Switch_Port name (iface-id). */
  portId: string;
  mac: string;
  /** Static address (none: leave unconfigured, e.g. for DHCP). */
  ip?: string;
  prefix?: number;
  /** Default route via this address. */
  gateway?: string;
}

export interface ExecResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `cmd args` inside namespace `ns` (bounded); never throws for a non-zero exit. */
export function exec(
  ns: string,
  cmd: string,
  args: readonly string[],
  timeoutMs = 10_000,
): Promise<ExecResult> {
  return new Promise((resolve) => {
    const child = spawn(requireBinary("ip"), ["netns", "exec", ns, cmd, ...args], {
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => {
      stdout += d.toString();
    });
    child.stderr.on("data", (d: Buffer) => {
      stderr += d.toString();
    });
    const timer = setTimeout(() => {
      stderr += `\n(killed after ${timeoutMs} ms)`;
      child.kill("SIGKILL");
    }, timeoutMs);
    child.once("error", (err) => {
      clearTimeout(timer);
      resolve({ code: -1, stdout, stderr: `${stderr}${err.message}` });
    });
    child.once("close", (code) => {
      clearTimeout(timer);
      resolve({ code: code ?? -1, stdout, stderr });
    });
  });
}

export async function addVm(ovn: LocalOvn, spec: VmSpec): Promise<Vm> {
  if (!/^[a-z0-9-]{1,15}$/.test(spec.name)) {
    throw new Error(`VM name ${JSON.stringify(spec.name)}: 1-15 of [a-z0-9-]`);
  }
  const ns = `nvvm-${spec.name}`;
  if (await ovn.netnsExists(ns)) throw new Error(`namespace ${ns} already exists`);
  await ovn.plugInternalPort({
    bridge: "br-int",
    port: spec.name,
    netns: ns,
    ifaceId: spec.portId,
    mac: spec.mac,
  });
  if (spec.ip !== undefined) {
    await ovn.ip("-n", ns, "addr", "add", `${spec.ip}/${spec.prefix ?? 24}`, "dev", spec.name);
  }
  if (spec.gateway !== undefined) {
    await ovn.ip("-n", ns, "route", "add", "default", "via", spec.gateway);
  }
  return { name: spec.name, ns, iface: spec.name, portId: spec.portId, mac: spec.mac, ip: spec.ip };
}

/** Unplugs the VM (OVS port) and deletes its namespace. */
export async function removeVm(ovn: LocalOvn, vm: Vm): Promise<void> {
  await ovn.vsctl("--if-exists", "del-port", "br-int", vm.name);
  if (await ovn.netnsExists(vm.ns)) await ovn.ip("netns", "del", vm.ns);
  ovn.unregisterNetns(vm.ns);
}

/** True when `ip` answers ICMP echo from `fromNs` (count 2, 1 s per reply; bounded). */
export async function ping(
  fromNs: string,
  ip: string,
  opts: { count?: number; waitS?: number; source?: string } = {},
): Promise<boolean> {
  const count = opts.count ?? 2;
  const waitS = opts.waitS ?? 1;
  const args = ["-n", "-q", "-c", String(count), "-W", String(waitS), "-i", "0.2"];
  if (opts.source !== undefined) args.push("-I", opts.source);
  args.push(ip);
  const r = await exec(fromNs, requireBinary("ping"), args, (count * waitS + 3) * 1000);
  return r.code === 0;
}

/** Pings until it answers or `timeoutMs` passes (flows may need a moment after a change). */
export async function pingEventually(
  fromNs: string,
  ip: string,
  timeoutMs = 8000,
): Promise<boolean> {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    if (await ping(fromNs, ip, { count: 1 })) return true;
  }
  return false;
}

export interface DhcpLease {
  ip: string;
  mask: string | undefined;
  router: string | undefined;
  leaseS: number | undefined;
}

/**
 * Asks for a lease with busybox udhcpc (-n -q -t 3 -T 2) on `iface` in `ns` and returns it
 * (without configuring the interface), or undefined when no server answered.
 */
export async function dhcpLease(ns: string, iface: string): Promise<DhcpLease | undefined> {
  const dir = mkdtempSync(join(tmpdir(), "nvdhcp-"));
  const script = join(dir, "udhcpc.sh");
  writeFileSync(
    script,
    '#!/bin/sh\n[ "$1" = bound ] && echo "NVLEASE ip=$ip mask=$mask router=$router lease=$lease"\nexit 0\n',
    { mode: 0o755 },
  );
  try {
    const r = await exec(
      ns,
      requireBinary("busybox"),
      ["udhcpc", "-i", iface, "-n", "-q", "-t", "3", "-T", "2", "-s", script],
      15_000,
    );
    const out = `${r.stdout}\n${r.stderr}`;
    const line = /NVLEASE ip=(\S*) mask=(\S*) router=(\S*) lease=(\S*)/.exec(out);
    const obtained = /lease of (\d+\.\d+\.\d+\.\d+) obtained/.exec(out);
    const ip = obtained?.[1] ?? line?.[1];
    if (!ip) return undefined;
    return {
      ip,
      mask: line?.[2] || undefined,
      router: line?.[3] || undefined,
      leaseS: line?.[4] ? Number(line[4]) : undefined,
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The leased IPv4 address, or undefined. */
export async function dhcp(ns: string, iface: string): Promise<string | undefined> {
  return (await dhcpLease(ns, iface))?.ip;
}

const LISTENER = `
const net = require("node:net");
const [port, reply, life] = process.argv.slice(1);
const s = net.createServer((c) => {
  console.log("peer " + String(c.remoteAddress).replace(/^::ffff:/, ""));
  c.end(reply + "\\n");
});
s.on("error", (e) => { console.error(e.message); process.exit(1); });
s.listen(Number(port), "0.0.0.0", () => console.log("listening"));
setTimeout(() => process.exit(0), Number(life)).unref();
`;

const CLIENT = `
const net = require("node:net");
const [host, port, ms] = process.argv.slice(1);
let buf = "";
const t = setTimeout(() => { process.exit(2); }, Number(ms));
const c = net.connect({ host, port: Number(port) });
c.on("data", (d) => { buf += d; });
c.on("end", () => { clearTimeout(t); process.stdout.write(buf); process.exit(0); });
c.on("error", (e) => { clearTimeout(t); process.stderr.write(e.message); process.exit(1); });
`;

export interface TcpListener {
  port: number;
  /** Source addresses of accepted connections, in order (what the listener saw). */
  peers: string[];
  close(): void;
}

/**
 * A TCP server on 0.0.0.0:`port` in `ns` (a node process under `ip netns exec`) that answers
 * every connection with `reply` and records the peer address; it exits by itself after
 * `lifetimeMs`.
 */
export async function tcpListen(
  ns: string,
  port: number,
  reply = ns,
  lifetimeMs = 120_000,
): Promise<TcpListener> {
  const child: ChildProcess = spawn(
    requireBinary("ip"),
    [
      "netns",
      "exec",
      ns,
      process.execPath,
      "-e",
      LISTENER,
      String(port),
      reply,
      String(lifetimeMs),
    ],
    { stdio: ["ignore", "pipe", "pipe"] },
  );
  const peers: string[] = [];
  let stderr = "";
  child.stderr?.on("data", (d: Buffer) => {
    stderr += d.toString();
  });
  const lines = createInterface({ input: child.stdout! });
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`tcpListen ${ns}:${port}: not listening within 10 s ${stderr}`));
    }, 10_000);
    child.once("exit", () => {
      clearTimeout(timer);
      reject(new Error(`tcpListen ${ns}:${port}: exited: ${stderr}`));
    });
    lines.on("line", (line) => {
      if (line === "listening") {
        clearTimeout(timer);
        resolve();
      } else if (line.startsWith("peer ")) {
        peers.push(line.slice(5));
      }
    });
  });
  return {
    port,
    peers,
    close: () => {
      child.kill("SIGKILL");
    },
  };
}

/** Connects from `ns` to ip:port; returns what the server sent, or undefined (refused, dropped, timeout). */
export async function tcpRequest(
  ns: string,
  ip: string,
  port: number,
  timeoutMs = 3000,
): Promise<string | undefined> {
  const r = await exec(
    ns,
    process.execPath,
    ["-e", CLIENT, ip, String(port), String(timeoutMs)],
    timeoutMs + 5000,
  );
  return r.code === 0 ? r.stdout.trim() : undefined;
}

export async function tcpConnect(
  ns: string,
  ip: string,
  port: number,
  timeoutMs = 3000,
): Promise<boolean> {
  return (await tcpRequest(ns, ip, port, timeoutMs)) !== undefined;
}

/**
 * Pings `target` from the VM with a source address the VM's logical port does not own
 * (added to the interface for the test, removed after). True if a reply came back, which
 * port security must prevent.
 */
export async function spoofedPing(vm: Vm, spoofIp: string, target: string): Promise<boolean> {
  await run(requireBinary("ip"), ["-n", vm.ns, "addr", "add", `${spoofIp}/32`, "dev", vm.iface]);
  try {
    return await ping(vm.ns, target, { source: spoofIp, count: 2 });
  } finally {
    await run(requireBinary("ip"), ["-n", vm.ns, "addr", "del", `${spoofIp}/32`, "dev", vm.iface]);
  }
}

/** The "external host": LocalOvn's namespace on br-ex that holds the external gateway address. */
export function externalHost(ovn: LocalOvn): { ns: string; ip: string } {
  const ext = ovn.externalNetwork;
  if (!ext) throw new Error("local OVN has no external network (start it with chassis: true)");
  return { ns: ovn.externalNetns, ip: ext.gateway };
}
