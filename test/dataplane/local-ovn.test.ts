// LocalOvn without a hypervisor (NB, SB, northd only) and its loud failures.
import { mkdtempSync, rmSync } from "node:fs";
import { createServer, type Server } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { LocalOvn, requireBinary, run } from "../../cluster/lib/local-ovn.js";

const dir = mkdtempSync(join(tmpdir(), "nvovn-"));
afterAll(async () => {
  await LocalOvn.attach(join(dir, "central"))?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe("LocalOvn", () => {
  it("names the package of a missing binary", () => {
    expect(() => requireBinary("ovn-no-such-binary")).toThrow(/"ovn-no-such-binary" was not found/);
    expect(requireBinary("ovn-northd")).toMatch(/\/ovn-northd$/);
  });

  it("starts NB/SB/northd, serves NB over tcp, attaches from its pid files and stops", async () => {
    const d = join(dir, "central");
    const ovn = await LocalOvn.start({ dir: d });
    expect(ovn.nbRemote).toMatch(/^tcp:127\.0\.0\.1:\d+$/);
    await ovn.nbctl("ls-add", "sw0");
    // The tcp remote (what NovaNET is given) serves the same DB.
    const viaTcp = await run(requireBinary("ovn-nbctl"), [`--db=${ovn.nbRemote}`, "ls-list"]);
    expect(viaTcp).toContain("sw0");
    // northd translates it into a Southbound datapath.
    await ovn.syncHypervisor();
    expect(
      await ovn.sbctl("--bare", "--columns=external_ids", "list", "Datapath_Binding"),
    ).toContain("sw0");
    const attached = LocalOvn.attach(d);
    expect(attached?.running()).toBe(true);
    expect(attached?.status().daemons.map((x) => x.name)).toEqual([
      "ovn-northd",
      "ovsdb-server (OVN_Southbound)",
      "ovsdb-server (OVN_Northbound)",
    ]);
    await expect(LocalOvn.start({ dir: d })).rejects.toThrow(/already running/);
    await attached!.stop();
    expect(ovn.running()).toBe(false);
    expect(ovn.pids()).toEqual([]);
  });

  it("refuses a port that is taken", async () => {
    const srv: Server = createServer();
    const port = await new Promise<number>((res) =>
      srv.listen(0, "127.0.0.1", () => res((srv.address() as { port: number }).port)),
    );
    try {
      await expect(LocalOvn.start({ dir: join(dir, "busy"), nbPort: port })).rejects.toThrow(
        `NB port 127.0.0.1:${port} is already in use`,
      );
    } finally {
      srv.close();
    }
  });
});
