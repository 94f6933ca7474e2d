// The README's main command: cluster/local.ts up starts a local OVN (with a hypervisor) and the
// replicas in the background on fixed ports and returns; down stops them all.
import { execFile } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, describe, expect, it } from "vitest";
import { LocalOvn } from "../../cluster/lib/local-ovn.js";
import { projectRoot } from "../../cluster/lib/replica-processes.js";
import { NetworkClient } from "../../src/client/index.js";

const run = promisify(execFile);
const dir = mkdtempSync(join(tmpdir(), "novanet-local-"));
const basePort = 51_081;
const script = ["--import", "tsx", join(projectRoot, "cluster/local.ts")];

afterAll(async () => {
  await run(process.execPath, [...script, "down", `--dir=${dir}`], { cwd: projectRoot }).catch(
    () => {},
  );
  rmSync(dir, { recursive: true, force: true });
});

describe("cluster/local.ts", () => {
  it("starts a 3-replica cluster on fixed ports, serves it, and stops it", async () => {
    const upOut = await run(
      process.execPath,
      [...script, "up", `--dir=${dir}`, `--base-port=${basePort}`],
      {
        cwd: projectRoot,
        timeout: 60_000,
      },
    );
    const endpoints = [basePort, basePort + 1, basePort + 2].map((p) => `127.0.0.1:${p}`);
    expect(upOut.stdout).toContain(`endpoints: ${endpoints.join(",")}`);
    expect(upOut.stdout).toContain(`NB tcp:127.0.0.1:${basePort + 30}`);
    const ovn = LocalOvn.attach(join(dir, "ovn"));
    expect(ovn?.running()).toBe(true);
    const hvNetns = ovn!.hypervisorNetns;
    expect(await ovn!.netnsExists(hvNetns)).toBe(true);
    expect((await ovn!.sbctl("--bare", "--columns=name", "list", "Chassis")).trim()).toBe(
      "chassis1",
    );
    const statusUp = await run(process.execPath, [...script, "status", `--dir=${dir}`], {
      cwd: projectRoot,
    });
    expect(statusUp.stdout).toContain("ovn-controller");
    const client = NetworkClient.connect({ endpoints, orgId: "o", projectId: "p" });
    try {
      const vpc = await client.createVpc({ name: "main" });
      expect(vpc.id).toBe("o/p");
    } finally {
      client.close();
    }
    const downOut = await run(process.execPath, [...script, "down", `--dir=${dir}`], {
      cwd: projectRoot,
      timeout: 30_000,
    });
    expect(downOut.stdout).toContain("local cluster stopped");
    expect(downOut.stdout).toContain("local OVN stopped");
    expect(ovn!.pids()).toEqual([]);
    expect(await ovn!.netnsExists(hvNetns)).toBe(false);
    const status = await run(process.execPath, [...script, "status", `--dir=${dir}`], {
      cwd: projectRoot,
    }).then(
      () => 0,
      (e: { code?: number }) => e.code ?? -1,
    );
    expect(status).toBe(1);
  }, 120_000);
});
