// Loading a configuration from in-memory files, environment and flags.
import { expect } from "vitest";
import {
  ConfigError,
  type ConfigProblem,
  type LoadedConfig,
  loadConfig,
} from "../../src/config/index.js";

export const CONFIG_PATH = "/etc/novanet/novanet.toml";

/** The smallest valid configuration: one founding replica, auth off. */
export const MINIMAL = `
[replica]
id = "n1"
data_dir = "/var/lib/novanet"
peer_listen_addr = "127.0.0.1:8082"
initial_cluster = "n1=10.1.1.1:8082"

[auth]
mode = "none"
`;

export interface LoadInput {
  file?: string;
  env?: Record<string, string>;
  argv?: string[];
  /** Files other than the config file that exist (for the readability checks). */
  existing?: string[];
}

export function load(input: LoadInput = {}): LoadedConfig {
  const argv =
    input.file === undefined
      ? [...(input.argv ?? [])]
      : ["--config", CONFIG_PATH, ...(input.argv ?? [])];
  const existing = new Set(input.existing ?? []);
  return loadConfig({
    argv,
    env: input.env ?? {},
    readFile: (path) => {
      if (path === CONFIG_PATH && input.file !== undefined) return input.file;
      throw Object.assign(new Error(`ENOENT: no such file or directory, open '${path}'`), {
        code: "ENOENT",
      });
    },
    checkFile: (path) => (existing.has(path) ? undefined : "no such file"),
  });
}

/** The problems loadConfig reports (fails the test if it loads). */
export function problemsOf(input: LoadInput): ConfigProblem[] {
  try {
    load(input);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return [...(err as ConfigError).problems];
  }
  throw new Error("the configuration loaded; expected problems");
}

/** Exactly one problem; returns "<origin>: <message>". */
export function oneProblem(input: LoadInput): string {
  const problems = problemsOf(input);
  expect(problems.map((p) => `${p.origin}: ${p.message}`)).toHaveLength(1);
  return `${problems[0]!.origin}: ${problems[0]!.message}`;
}
