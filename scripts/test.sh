#!/usr/bin/env bash
# Runs every test: type check, lint, unit/scenario/property/process tests, and the Raft simulator
# over 1,000 seeds. Installs what it needs first. Exits non-zero on the first failing stage.
set -euo pipefail
cd "$(dirname "$0")/.."
# OVS/OVN daemons (ovsdb-server, ovs-vswitchd, ovn-northd, ovn-controller) live in /usr/sbin.
export PATH="$PATH:/usr/sbin:/sbin"
bash scripts/setup.sh

results=$(mktemp -d)
trap 'rm -rf "$results"' EXIT

echo "== generated API code is current"
bash scripts/gen-proto.sh "$results/gen"
diff -r "$results/gen" src/api/gen || { echo "src/api/gen is stale: run bash scripts/gen-proto.sh" >&2; exit 1; }
echo "== typecheck"
npm run --silent typecheck
echo "== build"
npm run --silent build
echo "== lint"
npx biome check .
echo "== vitest"
npx vitest run --reporter=default --reporter=json --outputFile="$results/vitest.json"
echo "== simulator (seeds ${SIM_SEEDS:-1-1000})"
npm run --silent sim -- --seeds "${SIM_SEEDS:-1-1000}"

node -e '
  const r = require(process.argv[1]);
  const failed = r.numFailedTests + (r.numRuntimeErrorCount ?? 0);
  console.log(`tests: ${r.numPassedTests} passed, ${failed} failed`);
  process.exit(failed === 0 && r.numPassedTests > 0 ? 0 : 1);
' "$results/vitest.json"
