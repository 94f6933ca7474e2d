#!/usr/bin/env bash
# Generates typed messages, grpc-js service definitions and clients from proto/ into src/api/gen/
# (committed; CI checks that it is up to date). Needs protoc (Debian: protobuf-compiler).
set -euo pipefail
cd "$(dirname "$0")/.."
command -v protoc >/dev/null 2>&1 || { echo "gen-proto: protoc missing (apt-get install protobuf-compiler)" >&2; exit 1; }
out=${1:-src/api/gen}
rm -rf "$out"
mkdir -p "$out"
protoc \
  --plugin=protoc-gen-ts_proto=node_modules/.bin/protoc-gen-ts_proto \
  --ts_proto_out="$out" \
  --ts_proto_opt=outputServices=grpc-js,esModuleInterop=true,importSuffix=.js,forceLong=number,useOptionals=none,env=node,useExactTypes=false,oneof=unions \
  -I proto proto/novanet/v1/network.proto proto/novanet/v1/cluster.proto
