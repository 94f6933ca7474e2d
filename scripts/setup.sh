#!/usr/bin/env bash
# Installs what the project needs on a fresh machine: Node packages (npm ci) and, when missing,
# the Debian packages the tests use. Safe to run again; it only installs what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

need_node_major=20
node_major=$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)
if [ "$node_major" -lt "$need_node_major" ]; then
  echo "setup: Node.js >= $need_node_major is required (found: $(node --version 2>/dev/null || echo none))" >&2
  exit 1
fi

if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  # The lock lists every platform's optional builds (biome, esbuild), so `npm ci` installs exactly
  # the locked tree on any machine.
  echo "setup: npm ci"
  npm ci --no-audit --no-fund
fi

# Debian packages, installed only when a command is missing: protoc checks that the generated API
# code is current; OVN (NB/SB ovsdb-servers, ovn-northd, ovn-controller) and Open vSwitch (userspace
# datapath) are the real components the OVN sync tests and the local cluster run against; ping and
# busybox (udhcpc) are what the data-plane test's VMs run.
apt_packages=()
for pair in "ip:iproute2" "protoc:protobuf-compiler" "openssl:openssl" \
  "ovsdb-server:openvswitch-switch" "ovs-vswitchd:openvswitch-switch" "ovn-northd:ovn-central" \
  "ovn-controller:ovn-host" "ping:iputils-ping" "busybox:busybox" "etcd:etcd-server"; do
  cmd=${pair%%:*}
  pkg=${pair#*:}
  command -v "$cmd" >/dev/null 2>&1 || apt_packages+=("$pkg")
done
if [ ${#apt_packages[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "setup: missing Debian packages ${apt_packages[*]} and not root to install them" >&2
    exit 1
  fi
  mapfile -t apt_packages < <(printf '%s\n' "${apt_packages[@]}" | sort -u)
  echo "setup: apt-get install ${apt_packages[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${apt_packages[@]}"
fi
