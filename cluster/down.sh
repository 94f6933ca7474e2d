#!/usr/bin/env bash
# Stops the local cluster and the local OVN started by cluster/up.sh (data and the Northbound DB
# stay in .cluster/local).
set -euo pipefail
cd "$(dirname "$0")/.."
exec npx tsx cluster/local.ts down "$@"
