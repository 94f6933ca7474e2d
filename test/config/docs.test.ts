// docs/configuration.md stays in step with the key table, and its example error is real.
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { ConfigError, keys, type NovanetConfig, sections } from "../../src/config/index.js";
import type { AuthConfig, ClientApiTlsConfig, PeerTlsConfig } from "../../src/rpc/auth/index.js";
import { load } from "./helpers.js";

const doc = readFileSync(resolve(import.meta.dirname, "../../docs/configuration.md"), "utf8");

function sectionText(section: string): string {
  const start = doc.indexOf(`### [${section}]`);
  expect(start, `docs/configuration.md has ### [${section}]`).toBeGreaterThan(0);
  const ends = [doc.indexOf("\n### ", start + 1), doc.indexOf("\n## ", start + 1)].filter(
    (i) => i > 0,
  );
  return doc.slice(start, ends.length === 0 ? undefined : Math.min(...ends));
}

describe("docs/configuration.md", () => {
  it.each(keys.map((k) => [k.path, k] as const))("documents %s", (_path, k) => {
    const text = sectionText(k.section);
    const row = text.split("\n").find((line) => line.startsWith(`| \`${k.key}\` |`));
    expect(row, `a row for ${k.path}`).toBeDefined();
    expect(row).toContain(`\`${k.env}\``);
    expect(row).toContain(`\`${k.flag}\``);
    if (k.spec.specEnv !== undefined) expect(row).toContain(`\`${k.spec.specEnv}\``);
    if (k.spec.specFlag !== undefined) expect(row).toContain(`\`--${k.spec.specFlag}\``);
    const d = k.spec.default;
    if (typeof d === "number" || typeof d === "boolean") expect(row).toContain(`\`${d}\``);
    if (typeof d === "string" && d !== "") expect(row).toContain(`\`"${d}"\``);
  });

  it("documents every section and no other", () => {
    const documented = [...doc.matchAll(/^### \[([a-z_]+)\]/gm)].map((m) => m[1]);
    expect(documented).toEqual(sections);
  });

  it("shows a real error report", () => {
    const block = /```text\n(invalid configuration[\s\S]*?)```/.exec(doc)?.[1];
    expect(block).toBeDefined();
    let message = "";
    try {
      load({
        file: `[server]\nlisten_addr = 8081\n\n[network]\ndefault_subnet_size = 24\ncidr = "10.0.0.0/8"\n\n[replica]\nid = "n1"\ninitial_cluster = "n1=127.0.0.1:8082"\n\n[auth]\nmode = "none"\n`,
        env: { NOVANET_REPLICA_TICK_MS: "fast" },
        argv: ["--network.cidr_pool=10.0.0.1/8"],
      });
    } catch (err) {
      expect(err).toBeInstanceOf(ConfigError);
      message = (err as ConfigError).message;
    }
    expect(`${message}\n`).toBe(block);
  });

  it("config sections can be handed to the auth and TLS builders as they are", () => {
    // Compile-time: the [auth], [tls] and [peer_tls] types fit the builders' parameters.
    const fits = (c: NovanetConfig): [AuthConfig, ClientApiTlsConfig, PeerTlsConfig] => [
      c.auth,
      c.tls,
      c.peer_tls,
    ];
    expect(
      fits(
        load({
          file: `[replica]\nid = "n1"\ndata_dir = "/d"\ninitial_cluster = "n1=127.0.0.1:1"\n[auth]\nmode = "none"\n`,
        }).config,
      ),
    ).toHaveLength(3);
  });
});
