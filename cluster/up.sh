#!/usr/bin/env bash
# Starts a local 3-replica NovaNET cluster (OS processes on loopback, LevelDB under .cluster/)
# and keeps it running until Ctrl-C. Installs what it needs first.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec npx tsx cluster/local.ts --replicas "${REPLICAS:-3}" "$@"
