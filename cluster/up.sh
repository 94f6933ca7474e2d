#!/usr/bin/env bash
# Starts a local OVN (NB/SB, northd, an OVS netdev hypervisor with ovn-controller; under
# .cluster/local/ovn, NB on 127.0.0.1:50111) and a local 3-replica NovaNET cluster in sync with it,
# in the background (OS processes on loopback, LevelDB under .cluster/local, client API on
# 127.0.0.1:50081-50083), prints the endpoints and returns. Needs root for the hypervisor
# (--no-chassis: without it). Installs what it needs first. Stop it with: bash cluster/down.sh
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec npx tsx cluster/local.ts up "$@"
