#!/usr/bin/env bash
# Stops the local cluster started by cluster/up.sh (its data stays in .cluster/local).
set -euo pipefail
cd "$(dirname "$0")/.."
exec npx tsx cluster/local.ts down "$@"
