// From the [network] section to the state machine's NetworkConfig (the Bootstrap command's
// payload). Keys the config file does not expose keep the state machine's defaults.
import { defaultNetworkConfig, type NetworkConfig } from "../statemachine/index.js";
import type { NovanetConfig } from "./schema.js";

export function toNetworkConfig(config: NovanetConfig): NetworkConfig {
  const n = config.network;
  return {
    ...defaultNetworkConfig,
    cidr_pool: n.cidr_pool,
    vpc_prefix_length: n.vpc_prefix_length,
    default_subnet_size: n.default_subnet_size,
    external_ip_pool: [...n.external_ip_pool],
    session_timeout_ms: n.session_timeout_s * 1000,
  };
}
