#!/usr/bin/env node
// `novanet`: one NovaNET replica. Configuration: a TOML file (--config), NOVANET_* /
// OVERLAY_NETWORK_* environment variables and --section.key=value flags (docs/configuration.md).
import { readFileSync } from "node:fs";
import { pino } from "pino";
import {
  ConfigError,
  loadConfig,
  type NovanetConfig,
  redactConfig,
  toNetworkConfig,
} from "../config/index.js";
import {
  AuthConfigError,
  clientApiServerCredentials,
  createAuthenticator,
  peerCredentials,
} from "../rpc/auth/index.js";
import { callAuth } from "../rpc/call-auth.js";
import { NovanetServer, type OvnOptions } from "./novanet-server.js";
import { restoreCommand } from "./restore.js";

/** [ovn] and network.ovn_northbound_endpoint as the server takes them; undefined: no OVN. */
function ovnOptions(c: NovanetConfig): OvnOptions | undefined {
  if (!c.ovn.sync_enabled) return undefined;
  const nbRemotes = c.network.ovn_northbound_endpoint
    .split(",")
    .map((r) => r.trim())
    .filter((r) => r !== "");
  const o = c.ovn;
  const tls =
    o.ca_file !== "" || o.cert_file !== "" || o.key_file !== ""
      ? {
          ...(o.ca_file ? { ca: readFileSync(o.ca_file) } : {}),
          ...(o.cert_file ? { cert: readFileSync(o.cert_file) } : {}),
          ...(o.key_file ? { key: readFileSync(o.key_file) } : {}),
        }
      : undefined;
  return {
    nbRemotes,
    ...(tls ? { tls } : {}),
    ...(o.external_cidr !== ""
      ? {
          external: {
            cidr: o.external_cidr,
            gateway: o.external_gateway,
            ...(o.physical_network ? { physicalNetwork: o.physical_network } : {}),
            ...(o.gateway_chassis.length > 0 ? { gatewayChassis: [...o.gateway_chassis] } : {}),
          },
        }
      : {}),
    fullSyncIntervalMs: o.full_sync_interval_s * 1000,
    txnOpsMax: o.txn_ops_max,
    nbMessageBytesMax: o.nb_message_bytes_max,
    ...(o.adopt_cluster_ids.length > 0 ? { adoptOwners: [...o.adopt_cluster_ids] } : {}),
  };
}

const usage = `usage: novanet [--config FILE] [--section.key=value …]
       novanet restore --backup FILE …   (a new cluster's data dir from a backup; restore --help)
  e.g. novanet --config novanet.toml --replica.id=n1
  every setting, its environment variable and default: docs/configuration.md`;

async function main(argv: string[]): Promise<number> {
  if (argv[0] === "restore") return restoreCommand(argv.slice(1));
  if (argv.includes("--help") || argv.includes("-h")) {
    console.log(usage);
    return 0;
  }
  let loaded: ReturnType<typeof loadConfig>;
  try {
    loaded = loadConfig({ argv, env: process.env });
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    console.error(`novanet: invalid configuration:\n${err.message}\n${usage}`);
    return 2;
  }
  const c = loaded.config;
  const logger = pino({ level: c.log.level, base: { replica: c.replica.id } });
  for (const w of loaded.warnings) logger.warn(w);
  logger.info({ config: redactConfig(c), file: loaded.configFile }, "configuration loaded");

  let server: NovanetServer;
  try {
    const peer = c.peer_tls.enabled ? peerCredentials(c.peer_tls) : undefined;
    const ovn = ovnOptions(c);
    server = await NovanetServer.start({
      id: c.replica.id,
      clusterId: c.replica.cluster_id,
      dataDir: c.replica.data_dir,
      peerListen: c.replica.peer_listen_addr,
      ...(c.replica.peer_advertise_addr ? { peerAdvertise: c.replica.peer_advertise_addr } : {}),
      apiListen: c.server.listen_addr,
      ...(c.replica.api_advertise_addr ? { apiAdvertise: c.replica.api_advertise_addr } : {}),
      ...(c.replica.join
        ? { joinPeers: { ...c.replica.initial_cluster } }
        : { initialMembers: { ...c.replica.initial_cluster } }),
      apiAddresses: { ...c.replica.initial_cluster_api },
      ...(Object.keys(c.replica.peer_dial_overrides).length > 0
        ? { peerDialOverrides: { ...c.replica.peer_dial_overrides } }
        : {}),
      network: toNetworkConfig(c),
      auth: callAuth(createAuthenticator(c.auth, logger)),
      logger,
      tickMs: c.replica.tick_ms,
      snapshotEntries: c.replica.snapshot_entries,
      ...(c.tls.enabled ? { apiCredentials: clientApiServerCredentials(c.tls) } : {}),
      ...(peer ? { peerServerCredentials: peer.server, peerChannelCredentials: peer.channel } : {}),
      ...(c.metrics.listen_addr ? { metricsListen: c.metrics.listen_addr } : {}),
      ...(ovn ? { ovn } : {}),
    });
  } catch (err) {
    if (err instanceof AuthConfigError) {
      console.error(`novanet: ${err.message}`);
      return 2;
    }
    logger.fatal({ err }, "replica failed to start");
    return 1;
  }

  await new Promise<void>((resolve) => {
    let stopping = false;
    const stop = (signal: string) => {
      if (stopping) return;
      stopping = true;
      logger.info({ signal }, "stopping");
      server.stop().then(resolve, (err: unknown) => {
        logger.error({ err }, "stop failed");
        resolve();
      });
    };
    process.on("SIGTERM", () => stop("SIGTERM"));
    process.on("SIGINT", () => stop("SIGINT"));
  });
  return 0;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(`novanet: ${(err as Error).stack ?? String(err)}`);
    process.exit(1);
  },
);
