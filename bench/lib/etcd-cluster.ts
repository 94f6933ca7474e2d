// A 3-member etcd cluster on loopback from Debian's etcd-server, for side-by-side baselines.
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { Etcd3 } from "etcd3";
import { freePort } from "../../cluster/lib/replica-processes.js";

/** Installs etcd-server with apt-get when the etcd binary is missing (the benchmark runs as root). */
export function ensureEtcdInstalled(): string {
  try {
    return execFileSync("sh", ["-c", "command -v etcd"], { encoding: "utf8" }).trim();
  } catch {
    console.log("installing Debian's etcd-server …");
    execFileSync("apt-get", ["update", "-qq"], { stdio: "inherit" });
    execFileSync("apt-get", ["install", "-y", "-qq", "etcd-server"], {
      stdio: "inherit",
      env: { ...process.env, DEBIAN_FRONTEND: "noninteractive" },
    });
    return execFileSync("sh", ["-c", "command -v etcd"], { encoding: "utf8" }).trim();
  }
}

export class EtcdCluster {
  private constructor(
    readonly children: ChildProcess[],
    readonly clientUrls: string[],
  ) {}

  static async start(dir: string, members = 3): Promise<EtcdCluster> {
    const bin = ensureEtcdInstalled();
    const specs = [];
    for (let i = 1; i <= members; i++) {
      specs.push({ name: `e${i}`, peer: await freePort(), client: await freePort() });
    }
    const initial = specs.map((s) => `${s.name}=http://127.0.0.1:${s.peer}`).join(",");
    const children = specs.map((s) => {
      const data = join(dir, s.name);
      mkdirSync(data, { recursive: true });
      return spawn(
        bin,
        [
          `--name=${s.name}`,
          `--data-dir=${data}`,
          `--listen-peer-urls=http://127.0.0.1:${s.peer}`,
          `--initial-advertise-peer-urls=http://127.0.0.1:${s.peer}`,
          `--listen-client-urls=http://127.0.0.1:${s.client}`,
          `--advertise-client-urls=http://127.0.0.1:${s.client}`,
          `--initial-cluster=${initial}`,
          "--initial-cluster-state=new",
          "--initial-cluster-token=novanet-bench",
          "--log-level=error",
          "--quota-backend-bytes=8589934592",
        ],
        { stdio: "ignore" },
      );
    });
    const cluster = new EtcdCluster(
      children,
      specs.map((s) => `127.0.0.1:${s.client}`),
    );
    await cluster.waitHealthy();
    return cluster;
  }

  client(): Etcd3 {
    return new Etcd3({ hosts: this.clientUrls.map((u) => `http://${u}`) });
  }

  private async waitHealthy(deadlineMs = 30_000): Promise<void> {
    const until = Date.now() + deadlineMs;
    const client = this.client();
    try {
      while (Date.now() < until) {
        try {
          await client.put("novanet-bench-health").value("ok");
          return;
        } catch {
          await sleep(200);
        }
      }
    } finally {
      client.close();
    }
    throw new Error("etcd cluster did not become healthy");
  }

  async stop(): Promise<void> {
    await Promise.all(
      this.children.map(
        (c) =>
          new Promise<void>((res) => {
            if (c.exitCode !== null || c.signalCode !== null) return res();
            c.once("exit", () => res());
            c.kill("SIGTERM");
          }),
      ),
    );
  }
}
